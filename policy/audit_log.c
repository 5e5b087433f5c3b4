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
 * guard.  So every change to the file also happens under flock(2) on a
 * lock file beside it (LOG.lock, 0600: whoever may read the log for a
 * shipper cannot stall the mount), after file_lock() has taken in what
 * others appended since our last record, or followed a rotation they
 * made.  Lines we did not write are not trusted: each must carry the
 * next seq and a valid HMAC over our predecessor, and a new segment's
 * header must name our last mac and chain.  At open, the active segment
 * is checked the same way from its header and against the trusted state
 * (the seq and mac at our last checkpoint, sealed in CIPHERDIR).
 *
 * A file that fails those checks was edited, cut short, replaced or
 * removed behind our back.  It is never written to again: it is renamed
 * out of the way as the segment it claimed to be (audit verify then names
 * its first bad record), and a new segment continues the chain from the
 * last record we can vouch for, opening with an "audit-tampered" record
 * at alert level.
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
#include <openssl/crypto.h>
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
#define CP_TYPE		"\"type\":\"checkpoint\""

struct audit_log {
	pthread_mutex_t lock;
	int fd;				/* guarded by lock */
	int lockfd;			/* LOG.lock, for flock(2) */
	char *lock_path;
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
	time_t failed_since;		/* guarded by lock */
	time_t last_retry;		/* guarded by lock */
	time_t rotate_blocked;		/* no rotation before; guarded */
	int saw_cp;			/* a checkpoint in what we read */
	dev_t dev;			/* the active segment we hold */
	ino_t ino;
};

/* What file_lock() found wrong with the active segment. */
struct tamper {
	const char *why;
	unsigned long long at;		/* seq of the first bad line */
	unsigned long long seg;		/* the segment the file claimed */
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
	uint8_t mac[32], chain[32];
	int n, m, r;

	if (l->failed)
		return l->failed;
	format_ts(ts, sizeof(ts));
	/* alert-level records say so, for whoever filters the log */
	n = snprintf(line, sizeof(line), "{\"seq\":%llu,\"ts\":\"%s\",%s%s",
		     l->seq + 1, ts, body,
		     level == AUDIT_ALERT && !strstr(body, "\"level\":") ?
		     ",\"level\":\"alert\"" : "");
	if (n < 0 || (size_t)n + 64 >= sizeof(line))
		return -E2BIG;
	r = audit_record_mac(l->keys->hmac, l->mac, line, n, mac);
	if (r)
		return r;
	b64_encode(mac, 32, mac64);
	m = snprintf(line + n, sizeof(line) - n, AUDIT_MAC_FIELD "%s\"}",
		     mac64);
	n += m;
	/* seq, mac, chain and size move only once the line is written:
	 * a failed write is cut back off and the chain goes on from here */
	memcpy(chain, l->chain, 32);
	r = audit_chain_step(chain, line, n);
	if (r)
		return r;
	line[n++] = '\n';
	r = fd_write_all(l->fd, line, (size_t)n);
	if (!r && level >= AUDIT_NOTICE && fdatasync(l->fd))
		r = -errno;
	if (r) {
		__atomic_store_n(&l->failed, r, __ATOMIC_RELAXED);
		l->failed_since = time(NULL);
		log_err_r(r, "audit log %s: write failed; audited operations "
			  "are refused until it can be written again", l->path);
		return r;
	}
	if (l->o.use_syslog)
		syslog(LOG_AUTHPRIV | (level == AUDIT_ALERT ? LOG_ALERT :
				       LOG_INFO), "%.*s", n - 1, line);
	l->seq++;
	memcpy(l->mac, mac, 32);
	memcpy(l->chain, chain, 32);
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
	struct stat st;

	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		     O_NOFOLLOW, 0600);
	if (l->fd < 0)
		return -errno;
	if (fstat(l->fd, &st)) {
		close(l->fd);
		l->fd = -1;
		return -errno;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->size = 0;		/* nothing of it accounted for yet */
	l->seg_start = time(NULL);
	return 0;
}

/* Start segment l->segment + 1 after the current one, now renamed. */
static int next_segment(struct audit_log *l)
{
	close(l->fd);
	l->fd = -1;
	l->segment++;
	return open_active(l) ?: header_locked(l);
}

static int rotate_locked(struct audit_log *l)
{
	char old[4096];
	int r;

	r = checkpoint_locked(l);
	if (r)
		return r;
	snprintf(old, sizeof(old), "%s.%06llu", l->path, l->segment);
	/* never over anything already under that name */
	if (fsync(l->fd) || renameat2(AT_FDCWD, l->path, AT_FDCWD, old,
				      RENAME_NOREPLACE)) {
		r = -errno;
		l->rotate_blocked = time(NULL) + 60;
		log_err_r(r, "audit log %s: cannot rotate to %s; trying again "
			  "in a minute", l->path, old);
		return r;
	}
	return next_segment(l);
}

/*
 * Check and fold lines [0, len) of buf, read at offset off of the active
 * segment, into seq, mac and chain; *goodp is the length of the complete
 * lines taken.  The first line of a segment (off 0) is its header: with
 * a predecessor (have_prev) it must continue it, without one it sets it.
 * Every line must carry the next seq and a valid HMAC.  A line that does
 * not fills *t and stops the fold (what came before it stays taken).
 */
static int fold_lines(struct audit_log *l, const char *buf, size_t len,
		      unsigned long long off, int have_prev, size_t *goodp,
		      struct tamper *t)
{
	const char *p = buf, *nl, *mf;
	char mac64[64], pub[AUDIT_PUB_B64_LEN + 8];
	uint8_t mac[32], want[32], prev[32];
	long long v, seg;
	size_t n;

	*goodp = 0;
	while ((nl = memchr(p, '\n', len - (p - buf)))) {
		n = nl - p;
		mf = memmem(p, n, AUDIT_MAC_FIELD, sizeof(AUDIT_MAC_FIELD) - 1);
		if (jsonl_get_ll(p, n, "seq", &v) || v <= 0 || !mf ||
		    jsonl_get(p, n, "mac", mac64, sizeof(mac64)) != 1 ||
		    audit_b64_exact(mac64, mac, 32)) {
			t->why = "a line that is not an audit record";
			t->at = l->seq + 1;
			return 0;
		}
		if (off == 0 && p == buf) {
			/* a log another volume signs: never chain onto it */
			if (jsonl_get(p, n, "pubkey", pub, sizeof(pub)) != 1 ||
			    strcmp(pub, l->pub64)) {
				log_err("audit log %s belongs to another "
					"volume (its header names another "
					"signing key); give this volume its "
					"own log (--audit-log, or a distinct "
					"--volume-name)", l->path);
				return -PHV_EAUTH;
			}
			if (jsonl_get_ll(p, n, "segment", &seg) || seg <= 0 ||
			    jsonl_get(p, n, "prev_mac", mac64,
				      sizeof(mac64)) != 1 ||
			    audit_b64_exact(mac64, prev, 32) ||
			    jsonl_get(p, n, "prev_chain", mac64,
				      sizeof(mac64)) != 1) {
				t->why = "a damaged segment header";
				t->at = (unsigned long long)v;
				return 0;
			}
			if (have_prev) {
				uint8_t ch[32];

				if (audit_b64_exact(mac64, ch, 32) ||
				    memcmp(ch, l->chain, 32) ||
				    memcmp(prev, l->mac, 32) ||
				    (unsigned long long)v != l->seq + 1) {
					t->why = "a segment that does not "
						 "continue the chain";
					t->at = (unsigned long long)v;
					return 0;
				}
			} else {
				if (audit_b64_exact(mac64, l->chain, 32)) {
					t->why = "a damaged segment header";
					t->at = (unsigned long long)v;
					return 0;
				}
				memcpy(l->mac, prev, 32);
				l->seq = (unsigned long long)v - 1;
			}
			l->segment = (unsigned long long)seg;
		} else if ((unsigned long long)v != l->seq + 1) {
			t->why = "a gap or a repeat in the sequence";
			t->at = l->seq + 1;
			return 0;
		}
		if (audit_record_mac(l->keys->hmac, l->mac, p, mf - p, want))
			return -PHV_ECRYPTO;
		if (CRYPTO_memcmp(want, mac, 32)) {
			t->why = "a record whose HMAC does not verify";
			t->at = (unsigned long long)v;
			return 0;
		}
		l->seq = (unsigned long long)v;
		memcpy(l->mac, mac, 32);
		audit_chain_step(l->chain, p, n);
		if (memmem(p, n, CP_TYPE, sizeof(CP_TYPE) - 1))
			l->saw_cp = 1;
		p = nl + 1;
		*goodp = p - buf;
	}
	return 0;
}

/*
 * Read what path holds beyond l->size (from 0: all of it) and fold it in.
 * In the active segment, a last line without its newline is what a
 * writer that died mid-write left: it is cut off and a "recovered"
 * record says how many bytes went; a rotated segment (path another name)
 * must end with a whole line.  Caller holds both locks.
 */
static int catch_up(struct audit_log *l, const char *path,
		    unsigned long long end, int have_prev, struct tamper *t)
{
	char *buf = malloc(CATCHUP_CHUNK + LINE_MAX_BYTES);
	size_t have = 0, good;
	unsigned long long off = l->size;
	struct jbuf j;
	ssize_t got;
	int rfd, r = 0;

	if (!buf)
		return -ENOMEM;
	rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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
		r = fold_lines(l, buf, have, off, have_prev || off > 0, &good,
			       t);
		off += good;
		if (r || t->why)
			break;
		if (!good && have >= LINE_MAX_BYTES) {
			t->why = "a line longer than any record";
			t->at = l->seq + 1;
			break;
		}
		memmove(buf, buf + good, have - good);
		have -= good;
	}
	close(rfd);
	free(buf);
	l->size = off;
	if (r || t->why)
		return r;
	if (off < end && strcmp(path, l->path)) {
		t->why = "a rotated segment that ends in the middle of a line";
		t->at = l->seq + 1;
		return 0;
	}
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
 * Check, at open, the active segment against the trusted state (seq,
 * mac and chain at our last checkpoint, and its segment): a state that
 * names a later segment or a record we did not find means records were
 * cut off or an older file put back; the same seq with another mac means
 * a replaced file.  Then the chain continues from what the state vouches
 * for, after quarantine().
 */
static void check_state(struct audit_log *l, struct tamper *t)
{
	unsigned long long seq, seg;
	char *body = NULL, mac64[64], ch64[64];
	uint8_t mac[32], chain[32];
	size_t len;
	int r;

	if (!l->state_path)
		goto out;
	r = sealed_read(l->state_path, "audit-state", l->keys->hmac, &body,
			&len);
	if (r == -ENOENT && l->saw_cp) {
		/* written at every checkpoint: removed, to hide a cut */
		t->why = "the trusted state file is missing, though the log "
			 "has checkpoints";
		t->at = l->seq + 1;
		t->seg = l->segment;
		goto out;
	}
	if (r)
		goto out;	/* no state yet, or none we can trust */
	if (sscanf(body, "seq %llu\nmac %63s\nchain %63s\nsegment %llu",
		   &seq, mac64, ch64, &seg) != 4 ||
	    audit_b64_exact(mac64, mac, 32) ||
	    audit_b64_exact(ch64, chain, 32))
		goto out;
	if (seg > l->segment || (seg == l->segment && seq > l->seq))
		t->why = "records the trusted state saw are missing";
	else if (seg == l->segment && seq == l->seq &&
		 CRYPTO_memcmp(mac, l->mac, 32))
		t->why = "its last record differs from the trusted state";
	else
		goto out;
	t->at = l->seq + 1;
	t->seg = l->segment;
	l->seq = seq;
	memcpy(l->mac, mac, 32);
	memcpy(l->chain, chain, 32);
	l->segment = seg;
out:
	free(body);
}

/*
 * The active segment failed a check: rename it out of the way as the
 * segment it is, start a new one that continues from the last record we
 * vouch for, and say what happened there.
 */
static int quarantine(struct audit_log *l, const struct tamper *t)
{
	char old[4200];
	struct jbuf j;
	int r;

	snprintf(old, sizeof(old), "%s.%06llu", l->path, t->seg);
	if (renameat2(AT_FDCWD, l->path, AT_FDCWD, old, RENAME_NOREPLACE)) {
		snprintf(old, sizeof(old), "%s.%06llu.tampered-%lld", l->path,
			 t->seg, (long long)time(NULL));
		if (rename(l->path, old)) {
			if (errno != ENOENT)
				return -errno;
			snprintf(old, sizeof(old), "(nothing: it was gone)");
		}
	}
	log_err("audit log %s was changed behind the mount's back (%s, at "
		"record %llu); kept as %s, continuing in a new segment",
		l->path, t->why, t->at, old);
	r = next_segment(l);
	if (r)
		return r;
	jbuf_init(&j);
	jbuf_str(&j, "type", "audit-tampered");
	jbuf_str(&j, "level", "alert");
	jbuf_str(&j, "reason", t->why);
	jbuf_int(&j, "at_seq", (long long)t->at);
	jbuf_str(&j, "kept_as", old);
	return emit_locked(l, AUDIT_ALERT, j.b);
}

/*
 * The name no longer leads to our segment.  Another writer's rotation
 * left it under its segment name: take in what was added to it, then
 * every segment rotated after it, and open the active one (the caller
 * takes that in).  Anything else is tampering.
 */
static int follow(struct audit_log *l, struct tamper *t)
{
	char seg[4200];
	struct stat st;
	int r;

	snprintf(seg, sizeof(seg), "%s.%06llu", l->path, l->segment);
	if (stat(seg, &st) || st.st_dev != l->dev || st.st_ino != l->ino ||
	    (unsigned long long)st.st_size < l->size) {
		t->why = "the active segment was removed or replaced";
		t->at = l->seq + 1;
		return 0;
	}
	if ((unsigned long long)st.st_size > l->size) {
		r = catch_up(l, seg, (unsigned long long)st.st_size, 1, t);
		if (r || t->why)
			return r;
	}
	close(l->fd);
	l->fd = -1;
	for (;;) {
		snprintf(seg, sizeof(seg), "%s.%06llu", l->path,
			 l->segment + 1);
		if (stat(seg, &st))
			break;
		l->size = 0;
		r = catch_up(l, seg, (unsigned long long)st.st_size, 1, t);
		if (r || t->why)
			return r;
	}
	r = open_active(l);
	/* no active segment yet (rotated by hand, say): the next number,
	 * never again the one just rotated */
	if (!r && !fstat(l->fd, &st) && st.st_size == 0)
		l->segment++;
	return r;
}

/*
 * Take the inter-process lock and bring seq, mac and chain up to date
 * with the active segment (see the top of this file); a new, empty
 * segment gets its header.  Caller holds l->lock; file_unlock() undoes.
 */
static int file_lock(struct audit_log *l)
{
	struct tamper t = { NULL, 0 };
	int fresh = l->fd < 0, r;
	struct stat st;

	if (flock(l->lockfd, LOCK_EX) < 0)
		return -errno;
	if (!fresh && (stat(l->path, &st) || st.st_dev != l->dev ||
		       st.st_ino != l->ino)) {
		r = follow(l, &t);
		if (r)
			return r;
		if (t.why)
			goto tampered;
	} else if (fresh) {
		r = open_active(l);
		if (r)
			return r;
	}
	if (fstat(l->fd, &st))
		return -errno;
	if ((unsigned long long)st.st_size < l->size) {
		t.why = "the active segment was cut short";
		t.at = l->seq + 1;
		goto tampered;
	}
	if ((unsigned long long)st.st_size > l->size) {
		r = catch_up(l, l->path, (unsigned long long)st.st_size,
			     l->size > 0 || !fresh, &t);
		if (r)
			return r;
		if (t.why)
			goto tampered;
	}
	if (fresh)
		check_state(l, &t);
	if (t.why)
		goto tampered;
	if (l->size == 0)
		return header_locked(l);
	return 0;
tampered:
	if (!t.seg)
		t.seg = l->segment;
	return quarantine(l, &t);
}

static void file_unlock(struct audit_log *l)
{
	flock(l->lockfd, LOCK_UN);
}

/* is a checkpoint or a rotation due? caller holds l->lock */
static int is_due(const struct audit_log *l, time_t now)
{
	return (l->since_cp && (l->since_cp >= l->o.checkpoint_records ||
				now - l->last_cp >=
				(time_t)l->o.checkpoint_secs)) ||
	       (now >= l->rotate_blocked &&
		((l->o.rotate_bytes && l->size >= l->o.rotate_bytes) ||
		 (l->o.rotate_secs &&
		  now - l->seg_start >= (time_t)l->o.rotate_secs)));
}

static int due_locked(struct audit_log *l, time_t now)
{
	int r = 0;

	if (l->since_cp && (l->since_cp >= l->o.checkpoint_records ||
			    now - l->last_cp >= (time_t)l->o.checkpoint_secs))
		r = checkpoint_locked(l);
	if (!r && now >= l->rotate_blocked &&
	    ((l->o.rotate_bytes && l->size >= l->o.rotate_bytes) ||
	     (l->o.rotate_secs &&
	      now - l->seg_start >= (time_t)l->o.rotate_secs)))
		rotate_locked(l);	/* a failure is logged and retried
					 * later; records go on regardless */
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

int audit_usable(struct audit_log *l)
{
	time_t now = time(NULL);
	char since[32];
	struct jbuf j;
	int r, was;

	/* the common case, on every policed request: no lock */
	if (!__atomic_load_n(&l->failed, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&l->lock);
	r = was = l->failed;
	if (r && now != l->last_retry) {
		/* at most once a second: drop what a failed write left
		 * behind, then see whether a record goes through */
		l->last_retry = now;
		if (l->fd < 0 || !ftruncate(l->fd, (off_t)l->size)) {
			__atomic_store_n(&l->failed, 0, __ATOMIC_RELAXED);
			r = file_lock(l);
			if (!r) {
				snprintf(since, sizeof(since), "%lld",
					 (long long)l->failed_since);
				jbuf_init(&j);
				jbuf_str(&j, "type", "audit-resumed");
				jbuf_str(&j, "reason", phv_strerror(was));
				jbuf_str(&j, "failed_since_epoch", since);
				r = emit_locked(l, AUDIT_ALERT, j.b);
			}
			file_unlock(l);
			if (r && !l->failed) {
				__atomic_store_n(&l->failed, r,
						 __ATOMIC_RELAXED);
				l->failed_since = now;
			}
		}
	}
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
	if (asprintf(&l->lock_path, "%s.lock", o->path) < 0) {
		l->lock_path = NULL;
		return -ENOMEM;
	}
	l->lockfd = open(l->lock_path, O_RDWR | O_CREAT | O_CLOEXEC |
			 O_NOFOLLOW, 0600);
	if (l->lockfd < 0)
		return -errno;
	r = file_lock(l);	/* checks what is there, or writes a header */
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
	l->lockfd = -1;
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
	if (l->fd >= 0 && l->lockfd >= 0 && !l->failed && l->since_cp &&
	    !file_lock(l)) {
		checkpoint_locked(l);
		file_unlock(l);
	}
	if (l->fd >= 0) {
		fdatasync(l->fd);
		close(l->fd);
	}
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_destroy(&l->lock);
	EVP_PKEY_free(l->signer);
	secmem_free(l->keys, sizeof(*l->keys));
	if (l->lockfd >= 0)
		close(l->lockfd);
	free(l->lock_path);
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
