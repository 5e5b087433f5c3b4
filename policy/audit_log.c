// SPDX-License-Identifier: MIT
/*
 * audit_log.c - append to the chained, signed audit log (audit.h).
 *
 * Invariants, all under l->lock: l->seq is the last record written, l->mac
 * its HMAC and l->chain the SHA-256 chain through it.  A record is built
 * in full, then written with one write(2) on an O_APPEND descriptor; if
 * that fails the log goes into a sticky failed state rather than leave a
 * gap that verify would report as tampering.  Checkpoints and rotation
 * happen inside audit_emit() (or audit_tick()) while the lock is held, so
 * no record can slip between a checkpoint and what it covers.
 *
 * More than one process may append to the same log: the mount, and CLI
 * commands (key actions, policy set) that write directly when no mount
 * answers on a control socket, possibly while a mount is attaching its
 * guard.  So every change to the file also happens under flock(2) on the
 * active segment, after file_lock() has caught up with whatever others
 * appended since our last record (their lines advance seq, mac and chain
 * exactly as ours do) or, when another process rotated, moved on to the
 * new segment.  A rotation renames the segment while holding its lock and
 * takes the lock of the new one before letting go of the old, so a waiter
 * that wakes on the old inode sees that the name has moved on.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "crypto/kdf.h"
#include "crypto/secmem.h"
#include "audit.h"
#include "audit_i.h"
#include "sealed.h"

#define LINE_MAX_BYTES	(JBUF_MAX + 512)
#define CATCHUP_CHUNK	(1U << 20)	/* bytes read at a time to catch up */

struct audit_log {
	pthread_mutex_t lock;
	int fd;				/* guarded by lock */
	char *path;
	char *state_path;
	char *volume;
	struct audit_opts o;		/* strings point at the copies above */
	struct audit_keys *keys;	/* secmem */
	EVP_PKEY *signer;
	char pub64[AUDIT_PUB_B64_LEN + 1];
	unsigned long long seq;		/* guarded by lock */
	uint8_t mac[32];		/* guarded by lock */
	uint8_t chain[32];		/* guarded by lock */
	unsigned long long segment;	/* guarded by lock */
	unsigned long long size;	/* guarded by lock: bytes of the active
					 * segment we have accounted for */
	time_t seg_start;		/* guarded by lock */
	unsigned int since_cp;		/* guarded by lock */
	time_t last_cp;			/* guarded by lock */
	int failed;			/* guarded by lock */
};

int audit_keys_derive(const uint8_t key[32], struct audit_keys *k)
{
	static const char hinfo[] = "phivault v1 audit hmac";
	static const char sinfo[] = "phivault v1 audit checkpoint ed25519";
	int r;

	r = kdf_hkdf(key, 32, NULL, 0, hinfo, sizeof(hinfo) - 1, k->hmac,
		     sizeof(k->hmac));
	if (!r)
		r = kdf_hkdf(key, 32, NULL, 0, sinfo, sizeof(sinfo) - 1,
			     k->seed, sizeof(k->seed));
	return r;
}

EVP_PKEY *audit_signer(const uint8_t seed[32])
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

int audit_record_mac(const uint8_t hmac[32], const uint8_t prev[32],
		     const char *prefix, size_t len, uint8_t mac[32])
{
	struct sealed_piece p[2] = { { prev, 32 }, { prefix, len } };

	return sealed_hmac(hmac, 32, p, 2, mac);
}

int audit_chain_step(uint8_t chain[32], const char *line, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, chain, 32) == 1 &&
	     EVP_DigestUpdate(ctx, line, len) == 1 &&
	     EVP_DigestFinal_ex(ctx, chain, &n) == 1 && n == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -PHV_ECRYPTO;
}

size_t audit_cp_message(unsigned long long seq, const uint8_t chain[32],
			uint8_t *msg)
{
	static const char dom[] = "phivault v1 checkpoint";
	size_t n = sizeof(dom);
	int i;

	memcpy(msg, dom, n);
	for (i = 7; i >= 0; i--)
		msg[n++] = (uint8_t)(seq >> (i * 8));
	memcpy(msg + n, chain, 32);
	return n + 32;
}

int audit_b64_exact(const char *s, void *out, size_t n)
{
	uint8_t buf[128];
	size_t len = strlen(s);

	if (len != B64_ENCLEN(n) || n > sizeof(buf) - 2)
		return -1;
	if (b64_decode(s, len, buf) != (long)n)
		return -1;
	memcpy(out, buf, n);
	return 0;
}

static int pubkey_b64(EVP_PKEY *pk, char *out)
{
	uint8_t pub[32];
	size_t len = sizeof(pub);

	if (EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1 || len != 32)
		return -PHV_ECRYPTO;
	b64_encode(pub, 32, out);
	return 0;
}

int audit_pubkey(const uint8_t key[static AUDIT_KEY_LEN], char *out)
{
	struct audit_keys *k = secmem_alloc(sizeof(*k));
	EVP_PKEY *pk = NULL;
	int r = -ENOMEM;

	if (!k)
		goto out;
	r = audit_keys_derive(key, k);
	if (r)
		goto out;
	r = -PHV_ECRYPTO;
	pk = audit_signer(k->seed);
	if (pk)
		r = pubkey_b64(pk, out);
out:
	EVP_PKEY_free(pk);
	secmem_free(k, sizeof(*k));
	return r;
}

static void format_ts(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* build, chain and write one record; caller holds the lock */
static int emit_locked(struct audit_log *l, enum audit_level level,
		       const char *body)
{
	char line[LINE_MAX_BYTES], ts[96], mac64[B64_ENCLEN(32) + 1];
	uint8_t mac[32];
	int n, m, r;

	if (l->failed)
		return l->failed;
	format_ts(ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "{\"seq\":%llu,\"ts\":\"%s\",%s",
		     l->seq + 1, ts, body);
	if (n < 0 || (size_t)n + 64 >= sizeof(line))
		return -E2BIG;
	r = audit_record_mac(l->keys->hmac, l->mac, line, n, mac);
	if (r)
		return r;
	b64_encode(mac, 32, mac64);
	m = snprintf(line + n, sizeof(line) - n, AUDIT_MAC_FIELD "%s\"}",
		     mac64);
	n += m;
	r = audit_chain_step(l->chain, line, n);
	if (r)
		return r;
	line[n++] = '\n';
	r = fd_write_all(l->fd, line, (size_t)n);
	if (!r && level >= AUDIT_NOTICE && fdatasync(l->fd))
		r = -errno;
	if (r) {
		l->failed = r;
		log_err_r(r, "audit log %s: write failed; refusing further "
			  "records", l->path);
		return r;
	}
	if (l->o.use_syslog)
		syslog(LOG_AUTHPRIV | (level == AUDIT_ALERT ? LOG_ALERT :
				       LOG_INFO), "%.*s", n - 1, line);
	l->seq++;
	memcpy(l->mac, mac, 32);
	l->size += n;
	l->since_cp++;
	return 0;
}

static int write_state(struct audit_log *l)
{
	char body[256], mac64[B64_ENCLEN(32) + 1], ch64[B64_ENCLEN(32) + 1];
	int n;

	if (!l->state_path)
		return 0;
	b64_encode(l->mac, 32, mac64);
	b64_encode(l->chain, 32, ch64);
	n = snprintf(body, sizeof(body), "seq %llu\nmac %s\nchain %s\n"
		     "segment %llu\n", l->seq, mac64, ch64, l->segment);
	return sealed_write(l->state_path, "audit-state", l->keys->hmac,
			    body, n);
}

static int checkpoint_locked(struct audit_log *l)
{
	uint8_t msg[AUDIT_CP_MSG_MAX], sig[64];
	char sig64[B64_ENCLEN(64) + 1], ch64[B64_ENCLEN(32) + 1];
	EVP_MD_CTX *ctx = NULL;
	size_t mlen, slen = sizeof(sig);
	struct jbuf *j = NULL;
	int r = -PHV_ECRYPTO;

	mlen = audit_cp_message(l->seq + 1, l->chain, msg);
	ctx = EVP_MD_CTX_new();
	j = malloc(sizeof(*j));
	if (!ctx || !j) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, l->signer) != 1 ||
	    EVP_DigestSign(ctx, sig, &slen, msg, mlen) != 1 || slen != 64)
		goto out;
	b64_encode(sig, 64, sig64);
	b64_encode(l->chain, 32, ch64);
	jbuf_init(j);
	jbuf_str(j, "type", "checkpoint");
	jbuf_str(j, "chain", ch64);
	jbuf_str(j, "sig", sig64);
	r = emit_locked(l, AUDIT_NOTICE, j->b);
	if (r)
		goto out;
	l->since_cp = 0;
	l->last_cp = time(NULL);
	r = write_state(l);
	if (r)
		log_warn_r(r, "audit state %s", l->state_path);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(j);
	return r;
}

static int header_locked(struct audit_log *l)
{
	char mac64[B64_ENCLEN(32) + 1], ch64[B64_ENCLEN(32) + 1];
	struct jbuf *j = malloc(sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	b64_encode(l->mac, 32, mac64);
	b64_encode(l->chain, 32, ch64);
	jbuf_init(j);
	jbuf_str(j, "type", "segment");
	jbuf_int(j, "format", AUDIT_FORMAT);
	jbuf_str(j, "volume", l->volume);
	jbuf_int(j, "segment", (long long)l->segment);
	jbuf_str(j, "pubkey", l->pub64);
	jbuf_str(j, "prev_mac", mac64);
	jbuf_str(j, "prev_chain", ch64);
	r = emit_locked(l, AUDIT_NOTICE, j->b);
	free(j);
	l->seg_start = time(NULL);
	return r;
}

static int open_active(struct audit_log *l)
{
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		     O_NOFOLLOW, 0600);
	return l->fd < 0 ? -errno : 0;
}

static int rotate_locked(struct audit_log *l)
{
	char old[4096];
	int r, fd;

	r = checkpoint_locked(l);
	if (r)
		return r;
	snprintf(old, sizeof(old), "%s.%06llu", l->path, l->segment);
	if (fsync(l->fd) || rename(l->path, old))
		return -errno;
	/* hold the new segment's lock before the old one's goes */
	fd = l->fd;
	r = open_active(l);
	if (!r && flock(l->fd, LOCK_EX) < 0)
		r = -errno;
	close(fd);
	if (r)
		return r;
	l->size = 0;
	l->segment++;
	return header_locked(l);
}

/*
 * Fold lines [0, len) of buf, read at offset off of the active segment,
 * into seq, mac and chain; *goodp is the length of the complete lines.
 * The first line of a segment (off 0) is its header and sets the segment
 * number and the chain carried over from the previous one.
 */
static int fold_lines(struct audit_log *l, const char *buf, size_t len,
		      unsigned long long off, size_t *goodp)
{
	const char *p = buf, *nl, *mf;
	char mac64[64], pub[AUDIT_PUB_B64_LEN + 8];
	long long v;
	size_t n;

	*goodp = 0;
	while ((nl = memchr(p, '\n', len - (p - buf)))) {
		n = nl - p;
		if (jsonl_get_ll(p, n, "seq", &v) || v <= 0 ||
		    jsonl_get(p, n, "mac", mac64, sizeof(mac64)) != 1 ||
		    audit_b64_exact(mac64, l->mac, 32))
			return -PHV_EFORMAT;
		mf = strstr(p, AUDIT_MAC_FIELD);
		if (!mf || mf > nl)
			return -PHV_EFORMAT;
		l->seq = v;
		if (off == 0 && p == buf) {
			/* a log another volume signs: never chain onto it */
			if (jsonl_get(p, n, "pubkey", pub, sizeof(pub)) != 1 ||
			    strcmp(pub, l->pub64)) {
				log_err("audit log %s belongs to another volume "
					"(its header names another signing "
					"key); give this volume its own log "
					"(--audit-log, or a distinct "
					"--volume-name)", l->path);
				return -PHV_EAUTH;
			}
			if (jsonl_get_ll(p, n, "segment", &v) ||
			    jsonl_get(p, n, "prev_chain", mac64,
				      sizeof(mac64)) != 1 ||
			    audit_b64_exact(mac64, l->chain, 32))
				return -PHV_EFORMAT;
			l->segment = v;
		}
		audit_chain_step(l->chain, p, n);
		p = nl + 1;
	}
	*goodp = p - buf;
	return 0;
}

/*
 * Read what the active segment holds beyond l->size (from 0: all of it)
 * and fold it in.  A last line without its newline is what a writer that
 * died mid-write left: it is cut off and a "recovered" record says how
 * many bytes went.  Caller holds both locks.
 */
static int catch_up(struct audit_log *l, unsigned long long end)
{
	char *buf = malloc(CATCHUP_CHUNK + LINE_MAX_BYTES);
	size_t have = 0, good;
	unsigned long long off = l->size;
	struct jbuf j;
	ssize_t got;
	int rfd, r = 0;

	if (!buf)
		return -ENOMEM;
	rfd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rfd < 0) {
		free(buf);
		return -errno;
	}
	while (off + have < end) {
		got = pread(rfd, buf + have, CATCHUP_CHUNK, off + have);
		if (got <= 0) {
			r = got < 0 ? -errno : 0;
			break;
		}
		have += got;
		r = fold_lines(l, buf, have, off, &good);
		if (r)
			break;
		if (!good && have >= LINE_MAX_BYTES) {
			r = -PHV_EFORMAT;	/* no line is that long */
			break;
		}
		memmove(buf, buf + good, have - good);
		have -= good;
		off += good;
	}
	close(rfd);
	free(buf);
	if (r)
		return r;
	l->size = off;
	if (off < end) {
		if (ftruncate(l->fd, off))
			return -errno;
		jbuf_init(&j);
		jbuf_str(&j, "type", "recovered");
		jbuf_int(&j, "torn_bytes", (long long)(end - off));
		return emit_locked(l, AUDIT_NOTICE, j.b);
	}
	return 0;
}

/*
 * Take the inter-process lock of the active segment and bring seq, mac
 * and chain up to date with it; a new, empty segment gets its header.
 * Caller holds l->lock; file_unlock() undoes.
 */
static int file_lock(struct audit_log *l)
{
	struct stat fst, pst;
	int r;

	for (;;) {
		if (l->fd < 0) {
			r = open_active(l);
			if (r)
				return r;
			l->size = 0;	/* a segment we have not read yet */
			l->seg_start = time(NULL);
		}
		if (flock(l->fd, LOCK_EX) < 0 || fstat(l->fd, &fst) < 0)
			return -errno;
		if (!stat(l->path, &pst) && pst.st_ino == fst.st_ino &&
		    pst.st_dev == fst.st_dev)
			break;
		/* another process rotated (or the file was removed) */
		close(l->fd);
		l->fd = -1;
	}
	if ((unsigned long long)fst.st_size < l->size)
		l->size = 0;	/* cut short behind our back: re-read */
	if (l->size == 0 && fst.st_size > 0) {
		l->seq = 0;	/* the header restores mac and chain */
		memset(l->mac, 0, sizeof(l->mac));
	}
	if ((unsigned long long)fst.st_size > l->size)
		r = catch_up(l, (unsigned long long)fst.st_size);
	else
		r = 0;
	if (!r && l->size == 0)
		r = header_locked(l);
	return r;
}

static void file_unlock(struct audit_log *l)
{
	if (l->fd >= 0)
		flock(l->fd, LOCK_UN);
}

/* is a checkpoint or a rotation due? caller holds l->lock */
static int is_due(const struct audit_log *l, time_t now)
{
	return (l->since_cp && (l->since_cp >= l->o.checkpoint_records ||
				now - l->last_cp >=
				(time_t)l->o.checkpoint_secs)) ||
	       (l->o.rotate_bytes && l->size >= l->o.rotate_bytes) ||
	       (l->o.rotate_secs &&
		now - l->seg_start >= (time_t)l->o.rotate_secs);
}

static int due_locked(struct audit_log *l, time_t now)
{
	int r = 0;

	if (l->since_cp && (l->since_cp >= l->o.checkpoint_records ||
			    now - l->last_cp >= (time_t)l->o.checkpoint_secs))
		r = checkpoint_locked(l);
	if (!r && ((l->o.rotate_bytes && l->size >= l->o.rotate_bytes) ||
		   (l->o.rotate_secs &&
		    now - l->seg_start >= (time_t)l->o.rotate_secs)))
		r = rotate_locked(l);
	return r;
}

int audit_emit(struct audit_log *l, enum audit_level level,
	       const struct jbuf *body)
{
	int r;

	pthread_mutex_lock(&l->lock);
	r = l->failed ? l->failed : file_lock(l);
	if (!r)
		r = emit_locked(l, level, body->b);
	if (!r)
		r = due_locked(l, time(NULL));
	file_unlock(l);
	pthread_mutex_unlock(&l->lock);
	return r;
}

int audit_checkpoint(struct audit_log *l)
{
	int r = 0;

	pthread_mutex_lock(&l->lock);
	if (l->since_cp && !(r = l->failed ? l->failed : file_lock(l)))
		r = checkpoint_locked(l);
	file_unlock(l);
	pthread_mutex_unlock(&l->lock);
	return r;
}

void audit_tick(struct audit_log *l)
{
	time_t now = time(NULL);

	pthread_mutex_lock(&l->lock);
	if (!l->failed && is_due(l, now) && !file_lock(l))
		due_locked(l, now);
	file_unlock(l);
	pthread_mutex_unlock(&l->lock);
}

int audit_rotate(struct audit_log *l)
{
	int r;

	pthread_mutex_lock(&l->lock);
	r = l->failed ? l->failed : file_lock(l);
	if (!r)
		r = rotate_locked(l);
	file_unlock(l);
	pthread_mutex_unlock(&l->lock);
	return r;
}

int audit_failed(struct audit_log *l)
{
	int r;

	pthread_mutex_lock(&l->lock);
	r = l->failed;
	pthread_mutex_unlock(&l->lock);
	return r;
}

static int audit_init(struct audit_log *l, const struct audit_opts *o,
		      const uint8_t *key)
{
	int r;

	l->o = *o;
	l->path = strdup(o->path);
	l->volume = strdup(o->volume ? o->volume : "");
	l->state_path = o->state_path ? strdup(o->state_path) : NULL;
	l->keys = secmem_alloc(sizeof(*l->keys));
	if (!l->path || !l->volume || !l->keys ||
	    (o->state_path && !l->state_path))
		return -ENOMEM;
	if (!l->o.checkpoint_records)
		l->o.checkpoint_records = 256;
	if (!l->o.checkpoint_secs)
		l->o.checkpoint_secs = 60;
	r = audit_keys_derive(key, l->keys);
	if (r)
		return r;
	l->signer = audit_signer(l->keys->seed);
	if (!l->signer)
		return -PHV_ECRYPTO;
	r = pubkey_b64(l->signer, l->pub64);
	if (r)
		return r;
	l->segment = 1;
	l->last_cp = time(NULL);
	r = file_lock(l);	/* reads what is there, or writes a header */
	file_unlock(l);
	return r;
}

int audit_open(const struct audit_opts *o,
	       const uint8_t key[static AUDIT_KEY_LEN],
	       struct audit_log **lp)
{
	struct audit_log *l;
	int r;

	*lp = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->fd = -1;
	r = audit_init(l, o, key);
	if (r) {
		l->since_cp = 0;	/* nothing to checkpoint on the way out */
		audit_close(l);
		return r;
	}
	*lp = l;
	return 0;
}

void audit_close(struct audit_log *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	if (l->fd >= 0 && !l->failed && l->since_cp && !file_lock(l))
		checkpoint_locked(l);
	file_unlock(l);
	if (l->fd >= 0) {
		fdatasync(l->fd);
		close(l->fd);
	}
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_destroy(&l->lock);
	EVP_PKEY_free(l->signer);
	secmem_free(l->keys, sizeof(*l->keys));
	free(l->path);
	free(l->volume);
	free(l->state_path);
	free(l);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int audit_segments(const char *path, char ***filesp, int *np)
{
	char pat[4200], **files = NULL;
	glob_t g = { 0 };
	size_t i;
	int n = 0, r = -ENOMEM;

	*filesp = NULL;
	*np = 0;
	snprintf(pat, sizeof(pat), "%s.[0-9][0-9][0-9][0-9][0-9][0-9]",
		 path);
	if (glob(pat, 0, NULL, &g) != 0)
		g.gl_pathc = 0;
	files = calloc(g.gl_pathc + 1, sizeof(*files));
	if (!files)
		goto out;
	for (i = 0; i < g.gl_pathc; i++) {
		files[n] = strdup(g.gl_pathv[i]);
		if (!files[n])
			goto out;
		n++;
	}
	qsort(files, n, sizeof(*files), cmp_str);
	files[n] = strdup(path);
	if (!files[n])
		goto out;
	n++;
	*filesp = files;
	*np = n;
	files = NULL;
	r = 0;
out:
	if (files)
		audit_segments_free(files, n);
	if (g.gl_pathc)
		globfree(&g);
	return r;
}

void audit_segments_free(char **files, int n)
{
	int i;

	if (!files)
		return;
	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
}
