// SPDX-License-Identifier: MIT
/*
 * repo.c - repository configuration, keys, lock, index and snapshots
 * (see repo.h; the formats are in docs/REPOSITORY.md).
 *
 * Objects:
 *   config            text: format, id, lock mode, retention, chunker
 *                     sizes, and a MAC under the master key
 *   keys/<slot>       one key slot line (crypto/keyslot.h)
 *   packs/<id>        header, blobs, sealed index trailer
 *   index/<id>        the same sealed index record, for a cheap listing
 *   snapshots/<id>    wrapped data key + sealed, compressed manifest
 *   locks/<id>        unlocked: who runs what, since when, shared or
 *                     exclusive; kept fresh by a thread (see "lock")
 *
 * Every read of a locked object takes the oldest stored version of its
 * key; see repo_list_oldest().
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "common/b64.h"
#include "common/duration.h"
#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/keyslot.h"
#include "crypto/secmem.h"
#include "repo.h"
#include "testhook.h"
#include "wire.h"

#define CONFIG_MAX	(64U << 10)
#define INDEX_MAX	(256U << 20)
#define SNAP_MAX	(2ULL << 30)
#define FETCH_THREADS	8	/* parallel GETs of index and snapshots */

static const uint8_t pack_magic[8] = "PHVPK1\0";
static const uint8_t pend_magic[8] = "PHVPKEND";
static const uint8_t index_magic[8] = "PHVIX1\0";
static const uint8_t snap_magic[8] = "PHVSN1\0";

/* ---- small helpers ---------------------------------------------------- */

void repo_hex(const uint8_t id[MF_ID_LEN], char *out)
{
	hex_encode(id, MF_ID_LEN, out);
}

/* Object names are written in lower case; another spelling is not ours. */
int repo_unhex(const char *s, uint8_t id[MF_ID_LEN])
{
	if (strlen(s) != HEX_ENCLEN(MF_ID_LEN) ||
	    hex_decode(s, HEX_ENCLEN(MF_ID_LEN), id, 0) < 0)
		return -EINVAL;
	return 0;
}

static pthread_once_t repo_clock_once = PTHREAD_ONCE_INIT;
static time_t repo_clock_offset;

/* Test-only skew, guarded: it could hide a real clock problem. */
static void repo_clock_setup(void)
{
	const char *off = testhook_get("PHIVAULT_TEST_CLOCK_OFFSET",
				       TESTHOOK_GUARDED);

	if (off)
		repo_clock_offset = (time_t)strtoll(off, NULL, 10);
}

time_t repo_local_time(void)
{
	pthread_once(&repo_clock_once, repo_clock_setup);
	return time(NULL) + repo_clock_offset;
}

int repo_parse_duration(const char *s, int64_t *secsp)
{
	return duration_parse(s, DURATION_BARE_DAYS, INT64_MAX, secsp);
}

int repo_clock_check(struct store *st, time_t *server_nowp, char *msg,
		     size_t msgsize)
{
	time_t server, local;
	long long d;
	int r;

	r = st->ops->server_time(st, &server);
	if (r) {
		snprintf(msg, msgsize, "cannot read the server's clock: %s",
			 store_error(st));
		return r;
	}
	local = repo_local_time();
	*server_nowp = server;
	d = (long long)local - (long long)server;
	if (d > REPO_CLOCK_SKEW_MAX || d < -REPO_CLOCK_SKEW_MAX) {
		snprintf(msg, msgsize, "this machine's clock is %lld seconds "
			 "%s the storage server's (more than %d allowed); "
			 "retention dates would be wrong: fix the clock of "
			 "%s (check NTP)", d > 0 ? d : -d,
			 d > 0 ? "ahead of" : "behind", REPO_CLOCK_SKEW_MAX,
			 "the machine that is off");
		return -PHV_ECLOCK;
	}
	return 0;
}

time_t repo_retain_until(const struct repo *r, time_t server_now)
{
	return r->mode == STORE_LOCK_NONE ? 0 :
		server_now + (time_t)r->retention;
}

/* ---- oldest versions -------------------------------------------------- */

struct oldest_item {
	char *key;
	char *vid;
	uint64_t size;
	int have;
};

struct oldest_acc {
	struct oldest_item *it;
	size_t n, cap;
};

static int oldest_cb(const struct store_entry *e, void *arg)
{
	struct oldest_acc *a = arg;
	struct oldest_item *it;

	if (!a->n || strcmp(a->it[a->n - 1].key, e->key)) {
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 64;

			it = realloc(a->it, cap * sizeof(*it));
			if (!it)
				return -ENOMEM;
			a->it = it;
			a->cap = cap;
		}
		it = &a->it[a->n++];
		memset(it, 0, sizeof(*it));
		it->key = strdup(e->key);
		if (!it->key)
			return -ENOMEM;
	}
	it = &a->it[a->n - 1];
	if (e->is_delete_marker)
		return 0;
	/* versions come newest first: the last one seen is the oldest */
	free(it->vid);
	it->vid = NULL;
	if (e->version_id) {
		it->vid = strdup(e->version_id);
		if (!it->vid)
			return -ENOMEM;
	}
	it->size = e->size;
	it->have = 1;
	return 0;
}

int repo_list_oldest(struct repo *r, const char *prefix, repo_oldest_fn fn,
		     void *arg)
{
	struct store *st = r->st;
	struct oldest_acc a = { 0 };
	size_t i;
	int ret;

	ret = st->ops->list(st, prefix, oldest_cb, &a);
	for (i = 0; !ret && i < a.n; i++)
		if (a.it[i].have)
			ret = fn(a.it[i].key, a.it[i].vid, a.it[i].size, arg);
	for (i = 0; i < a.n; i++) {
		free(a.it[i].key);
		free(a.it[i].vid);
	}
	free(a.it);
	return ret;
}

struct one_key {
	const char *want;
	char *vid;
	int found;
};

static int one_key_cb(const char *key, const char *vid, uint64_t size,
		      void *arg)
{
	struct one_key *o = arg;

	if (strcmp(key, o->want))
		return 0;
	o->found = 1;
	o->vid = vid ? strdup(vid) : NULL;
	return vid && !o->vid ? -ENOMEM : 0;
}

/* GET the oldest version of key. */
static int get_oldest(struct repo *r, const char *key, size_t max,
		      void **bufp, size_t *lenp)
{
	struct one_key o = { .want = key };
	int ret;

	*bufp = NULL;
	ret = repo_list_oldest(r, key, one_key_cb, &o);
	if (!ret && !o.found)
		ret = -PHV_ENOTFOUND;
	if (!ret)
		ret = r->st->ops->get(r->st, key, o.vid, 0, 0, max, bufp,
				      lenp);
	free(o.vid);
	return ret;
}

/* ---- keys ------------------------------------------------------------- */

static int derive(const struct repo *r, const char *info, void *out,
		  size_t len)
{
	return kdf_hkdf(r->k->master, REPO_KEY_LEN, r->id, MF_ID_LEN, info,
			strlen(info), out, len);
}

static int derive_all(struct repo *r)
{
	int ret;

	ret = derive(r, "phivault backup chunk-id", r->k->chunk_id,
		     REPO_KEY_LEN);
	if (!ret)
		ret = derive(r, "phivault backup key-wrap", r->k->wrap,
			     REPO_KEY_LEN);
	if (!ret)
		ret = derive(r, "phivault backup index", r->k->index,
			     REPO_KEY_LEN);
	if (!ret)
		ret = derive(r, "phivault backup config-mac", r->k->mac,
			     REPO_KEY_LEN);
	if (!ret)
		ret = derive(r, "phivault backup chunker gear", r->k->gear,
			     CHUNKER_GEAR_BYTES);
	if (!ret)
		ret = chunker_init(&r->ch, r->k->gear, r->cmin, r->cavg,
				   r->cmax);
	return ret;
}

static int hmac(const uint8_t key[REPO_KEY_LEN], const void *p, size_t len,
		uint8_t out[32])
{
	size_t outlen = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, REPO_KEY_LEN,
		       p, len, out, 32, &outlen) || outlen != 32)
		return -PHV_ECRYPTO;
	return 0;
}

int repo_chunk_id(const struct repo *r, const void *p, size_t len,
		  uint8_t id[static MF_CHUNK_ID_LEN])
{
	return hmac(r->k->chunk_id, p, len, id);
}

int repo_wrap_key(const struct repo *r, const uint8_t key_id[MF_ID_LEN],
		  const uint8_t dk[REPO_KEY_LEN],
		  uint8_t wrapped[MF_WRAP_LEN])
{
	struct aead_ad ad[2] = {
		{ r->id, MF_ID_LEN }, { key_id, MF_ID_LEN },
	};
	int ret;

	ret = secmem_random(wrapped, AEAD_NONCE_LEN);
	if (ret)
		return ret;
	return aead_seal(r->k->wrap, wrapped, ad, 2, dk, REPO_KEY_LEN,
			 wrapped + AEAD_NONCE_LEN,
			 wrapped + AEAD_NONCE_LEN + REPO_KEY_LEN);
}

int repo_unwrap_key(const struct repo *r, const uint8_t key_id[MF_ID_LEN],
		    const uint8_t wrapped[MF_WRAP_LEN],
		    uint8_t dk[REPO_KEY_LEN])
{
	struct aead_ad ad[2] = {
		{ r->id, MF_ID_LEN }, { key_id, MF_ID_LEN },
	};

	return aead_open(r->k->wrap, wrapped, ad, 2, wrapped + AEAD_NONCE_LEN,
			 REPO_KEY_LEN, dk,
			 wrapped + AEAD_NONCE_LEN + REPO_KEY_LEN);
}

int repo_blob_seal(const uint8_t dk[REPO_KEY_LEN],
		   const uint8_t pack_id[MF_ID_LEN],
		   const uint8_t chunk_id[MF_CHUNK_ID_LEN], uint32_t flags,
		   const void *pt, size_t len, uint8_t *out)
{
	uint8_t fl = (uint8_t)flags;
	struct aead_ad ad[3] = {
		{ pack_id, MF_ID_LEN }, { chunk_id, MF_CHUNK_ID_LEN },
		{ &fl, 1 },
	};
	int ret;

	ret = secmem_random(out, AEAD_NONCE_LEN);
	if (ret)
		return ret;
	return aead_seal(dk, out, ad, 3, pt, len, out + AEAD_NONCE_LEN,
			 out + AEAD_NONCE_LEN + len);
}

int repo_blob_open(const uint8_t dk[REPO_KEY_LEN],
		   const uint8_t pack_id[MF_ID_LEN],
		   const uint8_t chunk_id[MF_CHUNK_ID_LEN], uint32_t flags,
		   const uint8_t *blob, size_t blen, uint8_t *out)
{
	uint8_t fl = (uint8_t)flags;
	struct aead_ad ad[3] = {
		{ pack_id, MF_ID_LEN }, { chunk_id, MF_CHUNK_ID_LEN },
		{ &fl, 1 },
	};
	size_t len;

	if (blen < REPO_BLOB_OVERHEAD)
		return -PHV_EFORMAT;
	len = blen - REPO_BLOB_OVERHEAD;
	return aead_open(dk, blob, ad, 3, blob + AEAD_NONCE_LEN, len, out,
			 blob + AEAD_NONCE_LEN + len);
}

int repo_blob_decode(const struct repo *r, const uint8_t dk[REPO_KEY_LEN],
		     const uint8_t pack_id[MF_ID_LEN],
		     const uint8_t chunk_id[MF_CHUNK_ID_LEN], uint32_t flags,
		     const uint8_t *blob, size_t blen, size_t raw_max,
		     uint8_t **outp, size_t *lenp)
{
	uint8_t *pt = NULL, *raw = NULL, id[MF_CHUNK_ID_LEN];
	size_t plen, rlen;
	int ret = -PHV_EFORMAT;

	*outp = NULL;
	*lenp = 0;
	if (blen < REPO_BLOB_OVERHEAD)
		return -PHV_EFORMAT;
	plen = blen - REPO_BLOB_OVERHEAD;
	pt = malloc(plen ? plen : 1);
	if (!pt)
		return -ENOMEM;
	ret = repo_blob_open(dk, pack_id, chunk_id, flags, blob, blen, pt);
	if (ret)
		goto out;
	if (flags & MF_ZSTD) {
		ret = -ENOMEM;
		raw = malloc(raw_max ? raw_max : 1);
		if (!raw)
			goto out;
		rlen = ZSTD_decompress(raw, raw_max, pt, plen);
		ret = -PHV_EFORMAT;
		if (ZSTD_isError(rlen))
			goto out;
		free(pt);
		pt = raw;
		raw = NULL;
		plen = rlen;
	}
	ret = repo_chunk_id(r, pt, plen, id);
	if (ret)
		goto out;
	ret = -PHV_EAUTH;
	if (secmem_cmp(id, chunk_id, MF_CHUNK_ID_LEN))
		goto out;
	*outp = pt;
	*lenp = plen;
	pt = NULL;
	ret = 0;
out:
	free(pt);
	free(raw);
	return ret;
}

/* ---- config and key slots ---------------------------------------------- */

static const char *mode_name(enum store_lock_mode m)
{
	return m == STORE_LOCK_COMPLIANCE ? "compliance" :
		m == STORE_LOCK_GOVERNANCE ? "governance" : "none";
}

static int config_text(const struct repo *r, int64_t created, char *buf,
		       size_t size)
{
	char id[B64_ENCLEN(MF_ID_LEN) + 1];
	int n;

	b64_encode(r->id, MF_ID_LEN, id);
	n = snprintf(buf, size, "phivault-repository 1\nid %s\n"
		     "created %" PRId64 "\nlock-mode %s\n"
		     "retention %" PRId64 "\nchunker %zu %zu %zu\n"
		     "compression zstd\n", id, created, mode_name(r->mode),
		     r->retention, r->cmin, r->cavg, r->cmax);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

static int config_mac_line(const struct repo *r, const char *text,
			   size_t len, char *out)
{
	uint8_t mac[32];
	int ret;

	ret = hmac(r->k->mac, text, len, mac);
	if (!ret)
		b64_encode(mac, sizeof(mac), out);
	return ret;
}

static int config_parse(struct repo *r, const char *text)
{
	char id[64], mode[32];
	const char *p;
	long long ret;

	if (strncmp(text, "phivault-repository 1\n", 22))
		return -PHV_EFORMAT;
	p = strstr(text, "\nid ");
	if (!p || sscanf(p, "\nid %63s", id) != 1 ||
	    b64_decode(id, strlen(id), r->id) != MF_ID_LEN)
		return -PHV_EFORMAT;
	p = strstr(text, "\nlock-mode ");
	if (!p || sscanf(p, "\nlock-mode %31s", mode) != 1)
		return -PHV_EFORMAT;
	r->mode = !strcmp(mode, "compliance") ? STORE_LOCK_COMPLIANCE :
		!strcmp(mode, "governance") ? STORE_LOCK_GOVERNANCE :
		STORE_LOCK_NONE;
	p = strstr(text, "\nretention ");
	if (!p || sscanf(p, "\nretention %lld", &ret) != 1 || ret < 0)
		return -PHV_EFORMAT;
	r->retention = ret;
	p = strstr(text, "\nchunker ");
	if (!p || sscanf(p, "\nchunker %zu %zu %zu", &r->cmin, &r->cavg,
			 &r->cmax) != 3)
		return -PHV_EFORMAT;
	return 0;
}

static struct repo *repo_alloc(struct store *st)
{
	struct repo *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->k = secmem_alloc(sizeof(*r->k));
	if (!r->k) {
		free(r);
		return NULL;
	}
	r->st = st;
	return r;
}

void repo_free(struct repo *r)
{
	if (!r)
		return;
	repo_unlock(r);
	cache_free(r->cache);
	secmem_free(r->k, sizeof(*r->k));
	free(r);
}

void repo_cache_off(struct repo *r)
{
	cache_free(r->cache);
	r->cache = NULL;
}

int repo_init(struct store *st, const struct repo_init_opts *o,
	      int secret_type, const void *secret, size_t secretlen,
	      time_t server_now)
{
	struct repo *r = repo_alloc(st);
	struct keyslot ks;
	char text[1024], mac[B64_ENCLEN(32) + 1], line[KEYSLOT_LINE_MAX];
	void *old = NULL;
	size_t oldlen;
	time_t until;
	int ret, n, locked = 0;

	if (!r)
		return -ENOMEM;
	ret = -EINVAL;
	if (o->retention < 0 || o->retention > REPO_RETENTION_MAX) {
		store_set_error(st, "the retention must be at most 30 years");
		goto out;
	}
	ret = st->ops->create(st);
	if (!ret)
		ret = st->ops->check(st, &locked);
	if (ret)
		goto out;
	if (o->mode != STORE_LOCK_NONE && !locked) {
		store_set_error(st, "the bucket has no Object Lock; it must "
				"be created with Object Lock enabled");
		ret = -PHV_ECONFIG;
		goto out;
	}
	ret = get_oldest(r, "config", CONFIG_MAX, &old, &oldlen);
	if (ret != -PHV_ENOTFOUND) {
		if (!ret) {
			store_set_error(st, "a repository already exists "
					"there");
			ret = -EEXIST;
		}
		goto out;
	}

	r->mode = o->mode;
	st->mode = o->mode;
	r->retention = o->retention;
	r->cmin = CHUNKER_MIN;
	r->cavg = CHUNKER_AVG;
	r->cmax = CHUNKER_MAX;
	ret = secmem_random(r->id, MF_ID_LEN);
	if (!ret)
		ret = secmem_random(r->k->master, REPO_KEY_LEN);
	if (!ret)
		ret = derive_all(r);
	if (ret)
		goto out;
	until = repo_retain_until(r, server_now);

	/* the key slot first: a config without a key would be useless */
	memset(&ks, 0, sizeof(ks));
	ks.id = 1;
	ks.type = (enum keyslot_type)secret_type;
	ks.argon = o->argon;
	snprintf(ks.label, sizeof(ks.label), "repository passphrase");
	ret = keyslot_seal(&ks, r->id, secret, secretlen, r->k->master);
	if (ret)
		goto out;
	n = keyslot_format(&ks, line, sizeof(line) - 1);
	if (n < 0) {
		ret = n;
		goto out;
	}
	line[n++] = '\n';
	ret = st->ops->put(st, "keys/00000001", line, (size_t)n,
			   STORE_LOCKED, until, NULL);
	if (ret)
		goto out;

	n = config_text(r, server_now, text, sizeof(text) - 64);
	if (n < 0) {
		ret = n;
		goto out;
	}
	ret = config_mac_line(r, text, (size_t)n, mac);
	if (ret)
		goto out;
	n += snprintf(text + n, sizeof(text) - (size_t)n, "mac %s\n", mac);
	ret = st->ops->put(st, "config", text, (size_t)n, STORE_LOCKED,
			   until, NULL);
out:
	free(old);
	repo_free(r);
	return ret;
}

struct slot_try {
	struct repo *r;
	const void *secret;
	size_t secretlen;
	int opened;
	int err;
};

static int slot_try_cb(const char *key, const char *vid, uint64_t size,
		       void *arg)
{
	struct slot_try *t = arg;
	struct store *st = t->r->st;
	struct keyslot ks;
	void *buf = NULL;
	size_t len;
	int ret;

	if (t->opened)
		return 0;
	ret = st->ops->get(st, key, vid, 0, 0, KEYSLOT_LINE_MAX, &buf, &len);
	if (ret) {
		t->err = ret;
		return 0;
	}
	((char *)buf)[strcspn(buf, "\n")] = '\0';
	ret = keyslot_parse(buf, &ks);
	free(buf);
	if (ret) {
		log_warn("repository key slot %s is malformed", key);
		return 0;
	}
	ret = keyslot_open(&ks, t->r->id, t->secret, t->secretlen,
			   t->r->k->master);
	if (!ret)
		t->opened = 1;
	else if (ret != -PHV_EBADKEY)
		t->err = ret;
	return 0;
}

int repo_open(struct store *st, const void *secret, size_t secretlen,
	      struct repo **repop)
{
	struct repo *r = repo_alloc(st);
	struct slot_try t = { 0 };
	char mac[B64_ENCLEN(32) + 1], *text = NULL, *ml;
	size_t len;
	int ret;

	*repop = NULL;
	if (!r)
		return -ENOMEM;
	ret = get_oldest(r, "config", CONFIG_MAX, (void **)&text, &len);
	if (ret)
		goto out;
	ret = config_parse(r, text);
	if (ret)
		goto out;
	st->mode = r->mode;

	t.r = r;
	t.secret = secret;
	t.secretlen = secretlen;
	ret = repo_list_oldest(r, "keys/", slot_try_cb, &t);
	if (ret)
		goto out;
	if (!t.opened) {
		ret = t.err ? t.err : -PHV_EBADKEY;
		goto out;
	}
	ret = derive_all(r);
	if (ret)
		goto out;

	/* the config must carry our MAC: nobody else wrote it */
	ret = -PHV_EFORMAT;
	ml = strstr(text, "\nmac ");
	if (!ml)
		goto out;
	ret = config_mac_line(r, text, (size_t)(ml - text) + 1, mac);
	if (ret)
		goto out;
	ret = -PHV_EAUTH;
	if (strncmp(ml + 5, mac, strlen(mac)))
		goto out;
	/* metadata cache for S3 only: a directory is local already */
	if (st->immutable) {
		ret = cache_open(r->id, &r->cache);
		if (ret)
			goto out;
	}
	*repop = r;
	r = NULL;
	ret = 0;
out:
	free(text);
	repo_free(r);
	return ret;
}

/* ---- lock ------------------------------------------------------------- */

/*
 * A lock object is text, one "name value" per line:
 *
 *   phivault-lock 1
 *   host H        gethostname(): a dead pid is only judged on this host
 *   pid N
 *   time T        local Unix time of the last write (staleness)
 *   since T0      local Unix time the lock was taken (its age)
 *   what CMD      the command, e.g. backup
 *   mode M        shared or exclusive; missing (older versions) or
 *                 anything else counts as exclusive
 *   scope S       optional; shared locks with the same what and scope
 *                 conflict (a backup's host and source; hashed when
 *                 long, lock_scope())
 *
 * Values are escaped (lock_escape()), so each is one word.  Lock objects
 * are written without retention (STORE_UNLOCKED) and removed by version
 * id, which Object Lock allows for versions that carry no retention.
 */

#define LOCK_BODY_MAX	4096
#define LOCK_SCOPE_MAX	512	/* longer scopes are stored hashed */
#define LOCK_RACE_S	2	/* written this close to ours: maybe a racer */

struct repo_lock {
	struct store *st;		/* the keeper's handle, or the repo's */
	int own_st;			/* st came from dup() */
	char *key;			/* locks/<16 hex> */
	char *what;			/* escaped */
	char *scope;			/* escaped; NULL: none */
	enum repo_lock_type type;
	time_t since;
	char **vids;			/* versions written, not yet removed */
	size_t nvids;
	int untracked;			/* a write whose version we lost */
	int kept;			/* a version the store kept */
	unsigned int interval;		/* seconds between refreshes */
	pthread_mutex_t mu;		/* guards the fields below */
	pthread_cond_t cv;
	time_t refreshed;		/* time() of the last write attempt */
	int err;			/* last refresh failure */
	int stop;
	int keeper_on;
	pthread_t keeper;
};

/* One lock object, as read back. */
struct lock_info {
	char host[256];
	char what[64];
	char scope[LOCK_SCOPE_MAX + 1];
	int pid;
	int exclusive;
	long long time, since;
};

struct lock_scan {
	struct repo_lock *lk;
	char host[256];			/* ours */
	struct lock_info holder;	/* the first conflict */
	char holder_key[64];
	time_t mine;			/* server mtime of our object */
	time_t newest;			/* of the conflicting objects */
	int busy;
};

static const char *lock_type_name(enum repo_lock_type t)
{
	return t == REPO_LOCK_SHARED ? "shared" : "exclusive";
}

/* Copy s into a new string with bytes <= ' ', DEL and '\\' as \xNN. */
static char *lock_escape(const char *s)
{
	size_t i, n = 0;
	char *out;

	out = malloc(4 * strlen(s) + 1);
	if (!out)
		return NULL;
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == '\\')
			n += (size_t)sprintf(out + n, "\\x%02x", c);
		else
			out[n++] = (char)c;
	}
	out[n] = '\0';
	return out;
}

/*
 * A scope as stored: escaped, or "sha256:<hex>" of it when that would
 * be long (a deep source path), so it always fits a lock_info.
 */
static char *lock_scope(const char *scope)
{
	uint8_t md[32];
	char hex[2 * sizeof(md) + 1], *esc, *out = NULL;
	int ok;

	esc = lock_escape(scope);
	if (!esc || strlen(esc) < LOCK_SCOPE_MAX)
		return esc;
	ok = EVP_Digest(scope, strlen(scope), md, NULL, EVP_sha256(), NULL);
	if (ok == 1) {
		hex_encode(md, sizeof(md), hex);
		if (asprintf(&out, "sha256:%s", hex) < 0)
			out = NULL;
	}
	free(esc);
	return out;
}

static void lock_vids_free(struct repo_lock *lk)
{
	size_t i;

	for (i = 0; i < lk->nvids; i++)
		free(lk->vids[i]);
	free(lk->vids);
	lk->vids = NULL;
	lk->nvids = 0;
}

static void lock_free(struct repo_lock *lk)
{
	if (!lk)
		return;
	lock_vids_free(lk);
	if (lk->own_st)
		store_free(lk->st);
	pthread_mutex_destroy(&lk->mu);
	pthread_cond_destroy(&lk->cv);
	free(lk->key);
	free(lk->what);
	free(lk->scope);
	free(lk);
}

/*
 * Write a new version of our lock object, then remove the versions we
 * wrote before it, so a long run leaves one version, not one a minute.
 * Called by one thread at a time: the keeper, or the owner of lk->st.
 */
static int lock_write(struct repo_lock *lk)
{
	char host[256] = "", body[LOCK_BODY_MAX], *vid = NULL, **v;
	size_t i;
	int n, ret;

	gethostname(host, sizeof(host) - 1);
	n = snprintf(body, sizeof(body), "phivault-lock 1\nhost %s\npid %d\n"
		     "time %lld\nsince %lld\nwhat %s\nmode %s\n%s%s%s",
		     host, (int)getpid(), (long long)repo_local_time(),
		     (long long)lk->since, lk->what,
		     lock_type_name(lk->type), lk->scope ? "scope " : "",
		     lk->scope ? lk->scope : "", lk->scope ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		return -ENAMETOOLONG;
	ret = lk->st->ops->put(lk->st, lk->key, body, (size_t)n,
			       STORE_UNLOCKED, 0, &vid);
	if (ret)
		return ret;
	if (!vid) {
		/* unversioned store, or a version id we did not get */
		lk->untracked = 1;
		return 0;
	}
	for (i = 0; i < lk->nvids; i++) {
		if (lk->st->ops->del(lk->st, lk->key, lk->vids[i], 0))
			lk->untracked = 1;
		free(lk->vids[i]);
	}
	lk->nvids = 0;
	v = realloc(lk->vids, sizeof(*v));
	if (!v) {
		free(vid);
		lk->untracked = 1;	/* repo_unlock() lists instead */
		return 0;
	}
	lk->vids = v;
	lk->vids[lk->nvids++] = vid;
	return 0;
}

/* Rewrite the lock every lk->interval seconds until told to stop. */
static void *lock_keeper(void *arg)
{
	struct repo_lock *lk = arg;
	struct timespec ts = { 0 };
	int ret;

	pthread_mutex_lock(&lk->mu);
	while (!lk->stop) {
		ts.tv_sec = lk->refreshed + (time_t)lk->interval;
		pthread_cond_timedwait(&lk->cv, &lk->mu, &ts);
		if (lk->stop || time(NULL) < ts.tv_sec)
			continue;
		pthread_mutex_unlock(&lk->mu);
		ret = lock_write(lk);
		if (ret)
			log_warn("cannot refresh the repository lock %s: %s",
				 lk->key, phv_strerror(ret));
		pthread_mutex_lock(&lk->mu);
		lk->refreshed = time(NULL);
		lk->err = ret;
	}
	pthread_mutex_unlock(&lk->mu);
	return NULL;
}

/* Parse the lock object in buf (NUL-terminated). */
static void lock_parse(const char *buf, struct lock_info *li)
{
	char mode[32] = "";
	const char *p;

	memset(li, 0, sizeof(*li));
	snprintf(li->what, sizeof(li->what), "?");
	p = strstr(buf, "\nhost ");
	if (p)
		sscanf(p, "\nhost %255s", li->host);
	p = strstr(buf, "\npid ");
	if (p)
		sscanf(p, "\npid %d", &li->pid);
	p = strstr(buf, "\ntime ");
	if (p)
		sscanf(p, "\ntime %lld", &li->time);
	p = strstr(buf, "\nsince ");
	if (!p || sscanf(p, "\nsince %lld", &li->since) != 1)
		li->since = li->time;
	p = strstr(buf, "\nwhat ");
	if (p)
		sscanf(p, "\nwhat %63s", li->what);
	p = strstr(buf, "\nscope ");
	if (p)
		sscanf(p, "\nscope %512s", li->scope);
	p = strstr(buf, "\nmode ");
	if (p)
		sscanf(p, "\nmode %31s", mode);
	li->exclusive = strcmp(mode, "shared") != 0;
}

/* Does a live lock li keep us (lk) from holding ours? */
static int lock_conflicts(const struct repo_lock *lk,
			  const struct lock_info *li)
{
	if (lk->type == REPO_LOCK_EXCLUSIVE || li->exclusive)
		return 1;
	return lk->scope && li->scope[0] && !strcmp(li->scope, lk->scope) &&
		!strcmp(li->what, lk->what);
}

static int lock_scan_cb(const struct store_entry *e, void *arg)
{
	struct lock_scan *ls = arg;
	struct store *st = ls->lk->st;
	struct lock_info li;
	long long now = (long long)repo_local_time();
	void *buf = NULL;
	size_t len;
	int stale;

	if (e->is_delete_marker)
		return 0;
	if (!strcmp(e->key, ls->lk->key)) {
		if (e->is_latest)
			ls->mine = e->mtime;
		return 0;
	}
	if (!e->is_latest) {
		/* an older version of a refreshed lock: not needed */
		st->ops->del(st, e->key, e->version_id, 0);
		return 0;
	}
	/*
	 * Read the key's current version, not the listed one: its owner
	 * may have refreshed it and removed the listed version meanwhile.
	 */
	if (st->ops->get(st, e->key, NULL, 0, 0, LOCK_BODY_MAX, &buf, &len))
		return 0;	/* unlocked meanwhile */
	lock_parse(buf, &li);
	free(buf);

	stale = now - li.time > REPO_LOCK_STALE;
	if (!stale && !strcmp(li.host, ls->host) && li.pid > 0 &&
	    kill(li.pid, 0) && errno == ESRCH)
		stale = 1;
	if (stale) {
		log_notice("removing stale repository lock %s ('%s' on %s, "
			   "pid %d, %s, last refreshed %lld s ago)", e->key,
			   li.what, li.host, li.pid, li.exclusive ?
			   "exclusive" : "shared", now - li.time);
		st->ops->del(st, e->key, e->version_id, 0);
		return 0;
	}
	if (!lock_conflicts(ls->lk, &li))
		return 0;
	if (e->mtime > ls->newest)
		ls->newest = e->mtime;
	if (!ls->busy) {
		ls->holder = li;
		snprintf(ls->holder_key, sizeof(ls->holder_key), "%s",
			 e->key);
	}
	ls->busy = 1;
	return 0;
}

/* The refusal: who holds the repository, and what to do about it. */
static void lock_refusal(const struct lock_scan *ls, char *msg,
			 size_t msgsize)
{
	const struct repo_lock *lk = ls->lk;
	const struct lock_info *h = &ls->holder;
	long long now = (long long)repo_local_time();
	int same = !h->exclusive && lk->type == REPO_LOCK_SHARED;

	snprintf(msg, msgsize, "cannot take %s lock for '%s': %s"
		 "the repository is locked by '%s' on %s (pid %d, %s lock, "
		 "taken %lld s ago, last refreshed %lld s ago; %s).  Wait "
		 "for it to end and run again.  If that process is gone, "
		 "its lock is removed by the next command %d min after its "
		 "last refresh (at once by a command on %s), or delete %s "
		 "from the repository", lk->type == REPO_LOCK_SHARED ?
		 "a shared" : "an exclusive", lk->what,
		 same ? "another run of the same source is under way; " : "",
		 h->what, h->host, h->pid, h->exclusive ? "exclusive" :
		 "shared", now - h->since, now - h->time, ls->holder_key,
		 REPO_LOCK_STALE / 60, h->host, ls->holder_key);
}

/* Remove every version of our lock object; lk->st must be idle. */
static int unlock_cb(const struct store_entry *e, void *arg)
{
	struct repo_lock *lk = arg;

	if (strcmp(e->key, lk->key))
		return 0;
	if (lk->st->ops->del(lk->st, e->key, e->version_id, 0))
		lk->kept = 1;
	return 0;
}

static void lock_remove(struct repo_lock *lk)
{
	size_t i;

	/*
	 * By the version ids we wrote, or from a listing when we do not
	 * know them all (unversioned store, a version id we lost, a
	 * delete that failed): a plain delete would only add a marker.
	 */
	lk->kept = 0;
	for (i = 0; i < lk->nvids; i++)
		if (lk->st->ops->del(lk->st, lk->key, lk->vids[i], 0))
			lk->untracked = 1;
	if (lk->untracked || !lk->nvids)
		lk->st->ops->list(lk->st, lk->key, unlock_cb, lk);
	/*
	 * A version that cannot go (a default retention rule on the
	 * bucket locked it): a delete marker on top ends the lock, since
	 * lock scans skip keys whose newest version is a marker.
	 */
	if (lk->kept)
		lk->st->ops->del(lk->st, lk->key, NULL, 0);
	lock_vids_free(lk);
	lk->untracked = 0;
}

/* A random back-off before looking again: 50 to 50 + 150·try ms. */
static void lock_backoff(unsigned int try)
{
	uint32_t rnd = 0;
	struct timespec ts;
	long ms;

	secmem_random(&rnd, sizeof(rnd));
	ms = 50 + (long)(rnd % (150U * try + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static int lock_new(struct repo *r, enum repo_lock_type type,
		    const char *what, const char *scope,
		    struct repo_lock **lkp)
{
	struct repo_lock *lk;
	const char *t;
	uint8_t rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	int ret;

	*lkp = NULL;
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return -ENOMEM;
	pthread_mutex_init(&lk->mu, NULL);
	pthread_cond_init(&lk->cv, NULL);
	lk->st = r->st;
	lk->type = type;
	lk->interval = REPO_LOCK_REFRESH;
	t = testhook_get("PHIVAULT_TEST_LOCK_REFRESH", 0);
	if (t && atoi(t) > 0)
		lk->interval = (unsigned int)atoi(t);
	ret = secmem_random(rnd, sizeof(rnd));
	if (ret)
		goto out;
	hex_encode(rnd, sizeof(rnd), hex);
	ret = -ENOMEM;
	if (asprintf(&lk->key, "locks/%s", hex) < 0) {
		lk->key = NULL;
		goto out;
	}
	lk->what = lock_escape(what ? what : "-");
	if (scope)
		lk->scope = lock_scope(scope);
	if (!lk->what || (scope && !lk->scope))
		goto out;
	*lkp = lk;
	lk = NULL;
	ret = 0;
out:
	lock_free(lk);
	return ret;
}

/* List the other locks into ls: stale ones go, the first conflict stays. */
static int lock_scan(struct repo_lock *lk, struct lock_scan *ls, char *msg,
		     size_t msgsize)
{
	int ret;

	ls->busy = 0;
	ls->mine = ls->newest = 0;
	ret = lk->st->ops->list(lk->st, "locks/", lock_scan_cb, ls);
	if (ret)
		snprintf(msg, msgsize, "cannot list the locks: %s",
			 store_error(lk->st)[0] ? store_error(lk->st) :
			 phv_strerror(ret));
	else if (ls->busy)
		ret = -PHV_EBUSY;
	return ret;
}

/* One attempt: write ours, list the others; on a conflict remove ours. */
static int lock_try(struct repo_lock *lk, struct lock_scan *ls, char *msg,
		    size_t msgsize)
{
	int ret;

	lk->since = repo_local_time();
	ret = lock_write(lk);
	if (ret) {
		snprintf(msg, msgsize, "cannot write the lock %s: %s", lk->key,
			 store_error(lk->st)[0] ? store_error(lk->st) :
			 phv_strerror(ret));
		return ret;
	}
	ret = lock_scan(lk, ls, msg, msgsize);
	if (ret)
		lock_remove(lk);
	return ret;
}

/* Give the lock a thread and a store handle of its own, if we can. */
static void lock_start_keeper(struct repo_lock *lk)
{
	struct store *st = NULL, *mine = lk->st;

	if (lk->st->ops->dup(lk->st, &st))
		return;		/* repo_lock_refresh() does the work */
	lk->st = st;
	lk->own_st = 1;
	lk->refreshed = time(NULL);
	if (!pthread_create(&lk->keeper, NULL, lock_keeper, lk)) {
		lk->keeper_on = 1;
		return;
	}
	lk->st = mine;
	lk->own_st = 0;
	store_free(st);
}

int repo_lock(struct repo *r, enum repo_lock_type type, const char *what,
	      const char *scope, char *msg, size_t msgsize)
{
	struct repo_lock *lk = NULL;
	struct lock_scan ls;
	unsigned int try;
	int ret;

	msg[0] = '\0';
	if (r->lock)
		return -EINVAL;
	ret = lock_new(r, type, what, scope, &lk);
	if (ret)
		return ret;
	memset(&ls, 0, sizeof(ls));
	ls.lk = lk;
	gethostname(ls.host, sizeof(ls.host) - 1);
	/*
	 * Two processes that start together may each see the other and
	 * both step back.  So after a conflict with a lock written about
	 * when ours was, wait a random moment and look again without a
	 * lock of our own: a conflicting lock still there is a real holder
	 * (refuse); none means it was such a racer and has stepped back
	 * too (try again).
	 */
	for (try = 1;; try++) {
		ret = lock_try(lk, &ls, msg, msgsize);
		if (ret != -PHV_EBUSY || try >= REPO_LOCK_TRIES)
			break;
		/* written (server clock) well before ours: a holder */
		if (ls.mine && ls.newest + LOCK_RACE_S < ls.mine)
			break;
		lock_backoff(try);
		ret = lock_scan(lk, &ls, msg, msgsize);
		if (ret)
			break;
		log_info("the repository lock was contended; trying again");
	}
	if (ret == -PHV_EBUSY)
		lock_refusal(&ls, msg, msgsize);
	if (ret) {
		lock_free(lk);
		return ret;
	}
	lk->refreshed = time(NULL);
	lock_start_keeper(lk);
	r->lock = lk;
	return 0;
}

int repo_lock_refresh(struct repo *r)
{
	struct repo_lock *lk = r->lock;
	int ret;

	if (!lk)
		return 0;
	if (lk->keeper_on) {
		pthread_mutex_lock(&lk->mu);
		ret = lk->err;
		pthread_mutex_unlock(&lk->mu);
		return ret;
	}
	if (time(NULL) - lk->refreshed < (time_t)lk->interval)
		return 0;
	lk->refreshed = time(NULL);
	return lock_write(lk);
}

void repo_unlock(struct repo *r)
{
	struct repo_lock *lk = r->lock;

	if (!lk)
		return;
	r->lock = NULL;
	if (lk->keeper_on) {
		pthread_mutex_lock(&lk->mu);
		lk->stop = 1;
		pthread_cond_signal(&lk->cv);
		pthread_mutex_unlock(&lk->mu);
		pthread_join(lk->keeper, NULL);
	}
	lock_remove(lk);
	lock_free(lk);
}

/* ---- index ------------------------------------------------------------ */

static uint64_t id_hash(const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return h;
}

static int ix_rehash(struct repo_index *ix)
{
	size_t n = ix->ntab ? ix->ntab * 2 : 4096, i, j;
	struct repo_blob *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < ix->ntab; i++) {
		if (ix->tab[i].pack == 0)
			continue;
		j = id_hash(ix->tab[i].id) & (n - 1);
		while (t[j].pack)
			j = (j + 1) & (n - 1);
		t[j] = ix->tab[i];
	}
	free(ix->tab);
	ix->tab = t;
	ix->ntab = n;
	return 0;
}

/* In the table pack is stored + 1 so that 0 means an empty slot. */
const struct repo_blob *repo_index_find(const struct repo_index *ix,
					const uint8_t id[MF_CHUNK_ID_LEN])
{
	size_t j;

	if (!ix->ntab)
		return NULL;
	j = id_hash(id) & (ix->ntab - 1);
	while (ix->tab[j].pack) {
		if (!memcmp(ix->tab[j].id, id, MF_CHUNK_ID_LEN))
			return &ix->tab[j];
		j = (j + 1) & (ix->ntab - 1);
	}
	return NULL;
}

int repo_index_add_blob(struct repo_index *ix, uint32_t pack,
			const struct repo_blob *blob)
{
	size_t j;
	int ret;

	if (repo_index_find(ix, blob->id))
		return 0;
	if ((ix->used + 1) * 2 > ix->ntab) {
		ret = ix_rehash(ix);
		if (ret)
			return ret;
	}
	j = id_hash(blob->id) & (ix->ntab - 1);
	while (ix->tab[j].pack)
		j = (j + 1) & (ix->ntab - 1);
	ix->tab[j] = *blob;
	ix->tab[j].pack = pack + 1;
	ix->used++;
	return 0;
}

int repo_index_add(struct repo_index *ix, const struct mf_pack *p,
		   const struct repo_blob *blobs, size_t n)
{
	struct mf_pack *np;
	size_t i;
	int ret;

	if (ix->npacks == ix->packs_cap) {
		size_t cap = ix->packs_cap ? ix->packs_cap * 2 : 64;

		np = realloc(ix->packs, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		ix->packs = np;
		ix->packs_cap = cap;
	}
	np = &ix->packs[ix->npacks];
	*np = *p;
	np->version_id = p->version_id ? strdup(p->version_id) : NULL;
	if (p->version_id && !np->version_id)
		return -ENOMEM;
	ix->npacks++;
	for (i = 0; i < n; i++) {
		ret = repo_index_add_blob(ix, (uint32_t)(ix->npacks - 1),
					  &blobs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

void repo_index_release(struct repo_index *ix)
{
	size_t i;

	for (i = 0; i < ix->npacks; i++)
		free(ix->packs[i].version_id);
	free(ix->packs);
	free(ix->tab);
	memset(ix, 0, sizeof(*ix));
}

int repo_index_seal(const struct repo *r, const struct mf_pack *p,
		    const struct repo_blob *blobs, size_t n, uint8_t **outp,
		    size_t *lenp)
{
	struct aead_ad ad[2] = { { r->id, MF_ID_LEN }, { p->id, MF_ID_LEN } };
	struct wbuf w = { 0 };
	uint8_t *out = NULL;
	size_t i;
	int ret;

	*outp = NULL;
	wbuf_bytes(&w, index_magic, 8);
	wbuf_bytes(&w, p->id, MF_ID_LEN);
	wbuf_bytes(&w, p->key_id, MF_ID_LEN);
	wbuf_bytes(&w, p->wrapped, MF_WRAP_LEN);
	wbuf_var(&w, n);
	for (i = 0; i < n; i++) {
		wbuf_bytes(&w, blobs[i].id, MF_CHUNK_ID_LEN);
		wbuf_var(&w, blobs[i].blob_off);
		wbuf_var(&w, blobs[i].blob_len);
		wbuf_var(&w, blobs[i].raw_len);
		wbuf_var(&w, blobs[i].flags);
	}
	ret = w.err;
	if (ret)
		goto out;
	ret = -ENOMEM;
	out = malloc(w.len + REPO_BLOB_OVERHEAD);
	if (!out)
		goto out;
	ret = secmem_random(out, AEAD_NONCE_LEN);
	if (!ret)
		ret = aead_seal(r->k->index, out, ad, 2, w.p, w.len,
				out + AEAD_NONCE_LEN,
				out + AEAD_NONCE_LEN + w.len);
	if (ret)
		goto out;
	*outp = out;
	*lenp = w.len + REPO_BLOB_OVERHEAD;
	out = NULL;
out:
	free(out);
	wbuf_release(&w);
	return ret;
}

void repo_pack_header(const struct mf_pack *p, uint8_t *out)
{
	memcpy(out, pack_magic, 8);
	memcpy(out + 8, p->id, MF_ID_LEN);
	memcpy(out + 8 + MF_ID_LEN, p->key_id, MF_ID_LEN);
	memcpy(out + 8 + 2 * MF_ID_LEN, p->wrapped, MF_WRAP_LEN);
}

void repo_pack_end(uint32_t trailer_len, uint8_t out[12])
{
	int i;

	for (i = 0; i < 4; i++)
		out[i] = (uint8_t)(trailer_len >> (8 * i));
	memcpy(out + 4, pend_magic, 8);
}

/* Open an index record of pack id and add it to ix. */
static int index_open_add(struct repo *r, struct repo_index *ix,
			  const uint8_t id[MF_ID_LEN], const char *vid,
			  const uint8_t *rec, size_t len)
{
	struct aead_ad ad[2] = { { r->id, MF_ID_LEN }, { id, MF_ID_LEN } };
	struct repo_blob *blobs = NULL;
	uint8_t magic[8], *pt = NULL;
	struct mf_pack p;
	struct rbuf rb;
	uint64_t n, i;
	size_t plen;
	int ret = -PHV_EFORMAT;

	if (len < REPO_BLOB_OVERHEAD)
		return -PHV_EFORMAT;
	plen = len - REPO_BLOB_OVERHEAD;
	pt = malloc(plen + 1);
	if (!pt)
		return -ENOMEM;
	ret = aead_open(r->k->index, rec, ad, 2, rec + AEAD_NONCE_LEN, plen,
			pt, rec + AEAD_NONCE_LEN + plen);
	if (ret)
		goto out;
	memset(&p, 0, sizeof(p));
	rbuf_init(&rb, pt, plen);
	rbuf_bytes(&rb, magic, 8);
	rbuf_bytes(&rb, p.id, MF_ID_LEN);
	rbuf_bytes(&rb, p.key_id, MF_ID_LEN);
	rbuf_bytes(&rb, p.wrapped, MF_WRAP_LEN);
	n = rbuf_var(&rb);
	ret = -PHV_EFORMAT;
	if (rb.err || memcmp(magic, index_magic, 8) ||
	    memcmp(p.id, id, MF_ID_LEN) || n > plen / MF_CHUNK_ID_LEN)
		goto out;
	ret = -ENOMEM;
	blobs = calloc(n ? n : 1, sizeof(*blobs));
	if (!blobs)
		goto out;
	for (i = 0; i < n; i++) {
		rbuf_bytes(&rb, blobs[i].id, MF_CHUNK_ID_LEN);
		blobs[i].blob_off = rbuf_var(&rb);
		blobs[i].blob_len = (uint32_t)rbuf_var(&rb);
		blobs[i].raw_len = (uint32_t)rbuf_var(&rb);
		blobs[i].flags = (uint32_t)rbuf_var(&rb);
	}
	ret = -PHV_EFORMAT;
	if (rb.err)
		goto out;
	p.version_id = (char *)vid;
	ret = repo_index_add(ix, &p, blobs, (size_t)n);
out:
	free(blobs);
	free(pt);
	return ret;
}

struct pack_seen {
	uint8_t id[MF_ID_LEN];
	char *vid;
	uint64_t size;
	int indexed;
};

/* ---- fetching many small objects at once ------------------------------ */

/*
 * Whole-object GETs of many keys, on up to FETCH_THREADS connections:
 * each request is a round trip, and a repository holds hundreds of index
 * objects and snapshots.  Results land in each item; nothing else is
 * shared but the next-item counter.
 */
struct fetch_item {
	char key[64];
	const char *vid;
	size_t max;
	void *buf;
	size_t len;
	int err;
	int cached;			/* buf came from the local cache */
	char detail[160];
};

struct fetch_run {
	struct store *st;
	struct fetch_item *it;
	size_t n, next;
	pthread_mutex_t mu;
};

static void fetch_one(struct store *st, struct fetch_item *f)
{
	f->err = st->ops->get(st, f->key, f->vid, 0, 0, f->max, &f->buf,
			      &f->len);
	if (f->err)
		snprintf(f->detail, sizeof(f->detail), "%s",
			 store_error(st));
}

static void *fetch_worker(void *arg)
{
	struct fetch_run *fr = arg;
	struct store *st = NULL;
	size_t i;

	if (fr->st->ops->dup(fr->st, &st))
		st = NULL;
	for (;;) {
		pthread_mutex_lock(&fr->mu);
		i = fr->next < fr->n ? fr->next++ : SIZE_MAX;
		pthread_mutex_unlock(&fr->mu);
		if (i == SIZE_MAX)
			break;
		if (st)
			fetch_one(st, &fr->it[i]);
		else
			fr->it[i].err = -ENOMEM;
	}
	store_free(st);
	return NULL;
}

static void fetch_store(struct store *st, struct fetch_item *it, size_t n)
{
	struct fetch_run fr = { .st = st, .it = it, .n = n };
	pthread_t th[FETCH_THREADS];
	size_t i, nth = 0, want;

	if (n <= 2) {
		for (i = 0; i < n; i++)
			fetch_one(st, &it[i]);
		return;
	}
	pthread_mutex_init(&fr.mu, NULL);
	want = n < FETCH_THREADS ? n : FETCH_THREADS;
	for (i = 0; i < want; i++)
		if (!pthread_create(&th[nth], NULL, fetch_worker, &fr))
			nth++;
	if (!nth)
		fetch_worker(&fr);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&fr.mu);
}

/*
 * Fetch items, from the local cache when it has them (marked ->cached)
 * and from the store otherwise.  Items from the cache are not trusted:
 * the caller opens them and calls fetch_again() when that fails.
 */
static int fetch_many(struct repo *r, struct fetch_item *it, size_t n)
{
	struct fetch_item *miss;
	size_t i, nm = 0;

	miss = calloc(n + 1, sizeof(*miss));
	if (!miss)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		it[i].cached = !cache_get(r->cache, it[i].key, it[i].vid,
					  it[i].max, &it[i].buf, &it[i].len);
		if (!it[i].cached)
			miss[nm++] = it[i];
	}
	fetch_store(r->st, miss, nm);
	for (i = 0, nm = 0; i < n; i++)
		if (!it[i].cached)
			it[i] = miss[nm++];
	free(miss);
	return 0;
}

/* A cached copy failed to open: forget it and download the object. */
static void fetch_again(struct repo *r, struct fetch_item *f)
{
	log_info("cache: %s failed authentication; downloading it again",
		 f->key);
	cache_drop(r->cache, f->key, f->vid);
	free(f->buf);
	f->buf = NULL;
	f->len = 0;
	f->cached = 0;
	fetch_one(r->st, f);
}

/* Keep a verified download in the cache. */
static void fetch_keep(struct repo *r, const struct fetch_item *f)
{
	if (!f->cached && !f->err)
		cache_put(r->cache, f->key, f->vid, f->buf, f->len);
}

/* Drop cache entries under dir that are not among the n items. */
static void fetch_sweep(struct repo *r, const char *dir,
			const struct fetch_item *it, size_t n)
{
	const char **keys, **vids;
	size_t i;

	if (!r->cache)
		return;
	keys = calloc(n + 1, sizeof(*keys));
	vids = calloc(n + 1, sizeof(*vids));
	if (keys && vids) {
		for (i = 0; i < n; i++) {
			keys[i] = it[i].key;
			vids[i] = it[i].vid;
		}
		cache_sweep(r->cache, dir, keys, vids, n);
	}
	free(keys);
	free(vids);
}

struct ix_pending {
	uint8_t id[MF_ID_LEN];
	char *vid;
};

struct ix_load {
	struct repo *r;
	struct ix_pending *pend;	/* index objects to fetch */
	size_t npend, pend_cap;
	struct repo_index *ix;
	struct pack_seen *packs;
	size_t n, cap;
	time_t until;
};

static int pack_seen_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MF_ID_LEN);
}

static int packs_cb(const char *key, const char *vid, uint64_t size,
		    void *arg)
{
	struct ix_load *l = arg;
	struct pack_seen *p;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;

		p = realloc(l->packs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->packs = p;
		l->cap = cap;
	}
	p = &l->packs[l->n];
	memset(p, 0, sizeof(*p));
	if (repo_unhex(key + 6, p->id))
		return 0;	/* not ours */
	p->vid = vid ? strdup(vid) : NULL;
	p->size = size;
	l->n++;
	return 0;
}

static struct pack_seen *pack_lookup(struct ix_load *l,
				     const uint8_t id[MF_ID_LEN])
{
	return bsearch(id, l->packs, l->n, sizeof(*l->packs), pack_seen_cmp);
}

static int index_cb(const char *key, const char *vid, uint64_t size,
		    void *arg)
{
	struct ix_load *l = arg;
	struct ix_pending *n;
	uint8_t id[MF_ID_LEN];

	(void)size;
	if (repo_unhex(key + 6, id))
		return 0;
	if (!pack_lookup(l, id)) {
		log_warn("index %s names a pack that is not in the "
			 "repository; its data will be uploaded again", key);
		l->ix->dropped_packs++;
		return 0;
	}
	if (l->npend == l->pend_cap) {
		size_t cap = l->pend_cap ? l->pend_cap * 2 : 64;

		n = realloc(l->pend, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		l->pend = n;
		l->pend_cap = cap;
	}
	n = &l->pend[l->npend];
	memcpy(n->id, id, MF_ID_LEN);
	n->vid = vid ? strdup(vid) : NULL;
	if (vid && !n->vid)
		return -ENOMEM;
	l->npend++;
	return 0;
}

/* Fetch the index objects listed by index_cb() and add them. */
static int index_fetch(struct ix_load *l)
{
	struct fetch_item *it;
	struct pack_seen *p;
	char hex[2 * MF_ID_LEN + 1];
	size_t i;
	int ret = 0, r;

	it = calloc(l->npend + 1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	for (i = 0; i < l->npend; i++) {
		repo_hex(l->pend[i].id, hex);
		snprintf(it[i].key, sizeof(it[i].key), "index/%s", hex);
		it[i].vid = l->pend[i].vid;
		it[i].max = INDEX_MAX;
	}
	ret = fetch_many(l->r, it, l->npend);
	for (i = 0; !ret && i < l->npend; i++) {
		p = pack_lookup(l, l->pend[i].id);
		r = it[i].err ? it[i].err :
			index_open_add(l->r, l->ix, l->pend[i].id, p->vid,
				       it[i].buf, it[i].len);
		if (r && r != -ENOMEM && it[i].cached) {
			fetch_again(l->r, &it[i]);
			r = it[i].err ? it[i].err :
				index_open_add(l->r, l->ix, l->pend[i].id,
					       p->vid, it[i].buf, it[i].len);
		}
		if (it[i].err) {
			log_warn("cannot read %s: %s", it[i].key,
				 it[i].detail);
			continue;
		}
		if (!r)
			fetch_keep(l->r, &it[i]);
		if (r == -ENOMEM)
			ret = r;
		else if (r)
			log_warn_r(r, "index %s is damaged; falling back to "
				   "the pack's trailer", it[i].key);
		else
			p->indexed = 1;
	}
	if (!ret)
		fetch_sweep(l->r, "index", it, l->npend);
	for (i = 0; i < l->npend; i++)
		free(it[i].buf);
	free(it);
	return ret;
}

/* A pack without a usable index: read its trailer and rewrite the index. */
static int pack_recover(struct ix_load *l, struct pack_seen *p)
{
	struct store *st = l->r->st;
	char key[64], hex[2 * MF_ID_LEN + 1];
	uint8_t *tail = NULL, *rec = NULL;
	size_t len, rlen;
	uint32_t tlen;
	int ret = -PHV_EFORMAT;

	repo_hex(p->id, hex);
	snprintf(key, sizeof(key), "packs/%s", hex);
	if (p->size < REPO_PACK_HDR_LEN + 12)
		goto out;
	ret = st->ops->get(st, key, p->vid, p->size - 12, 12, 12,
			   (void **)&tail, &len);
	if (ret)
		goto out;
	ret = -PHV_EFORMAT;
	if (len != 12 || memcmp(tail + 4, pend_magic, 8))
		goto out;
	tlen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 |
		(uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
	if (tlen > p->size - 12 - REPO_PACK_HDR_LEN)
		goto out;
	ret = st->ops->get(st, key, p->vid, p->size - 12 - tlen, tlen,
			   tlen, (void **)&rec, &rlen);
	if (ret)
		goto out;
	ret = index_open_add(l->r, l->ix, p->id, p->vid, rec, rlen);
	if (ret)
		goto out;
	p->indexed = 1;
	l->ix->recovered_packs++;
	snprintf(key, sizeof(key), "index/%s", hex);
	ret = st->ops->put(st, key, rec, rlen, STORE_LOCKED, l->until, NULL);
out:
	if (ret && ret != -ENOMEM)
		log_warn_r(ret, "pack %s has no readable index", hex);
	free(tail);
	free(rec);
	return ret == -ENOMEM ? ret : 0;
}

int repo_index_load(struct repo *r, struct repo_index *ix, time_t until)
{
	struct ix_load l = { .r = r, .ix = ix, .until = until };
	size_t i;
	int ret;

	memset(ix, 0, sizeof(*ix));
	ret = repo_list_oldest(r, "packs/", packs_cb, &l);
	if (ret)
		goto out;
	qsort(l.packs, l.n, sizeof(*l.packs), pack_seen_cmp);
	ret = repo_list_oldest(r, "index/", index_cb, &l);
	if (!ret)
		ret = index_fetch(&l);
	for (i = 0; !ret && i < l.n; i++)
		if (!l.packs[i].indexed)
			ret = pack_recover(&l, &l.packs[i]);
out:
	for (i = 0; i < l.n; i++)
		free(l.packs[i].vid);
	free(l.packs);
	for (i = 0; i < l.npend; i++)
		free(l.pend[i].vid);
	free(l.pend);
	if (ret)
		repo_index_release(ix);
	return ret;
}

/* ---- snapshots -------------------------------------------------------- */

int repo_snapshot_save(struct repo *r, const struct manifest *m,
		       const uint8_t dk[REPO_KEY_LEN], uint64_t *bytesp)
{
	static const char label[] = "phivault snapshot v1";
	struct aead_ad ad[3] = {
		{ label, sizeof(label) - 1 }, { r->id, MF_ID_LEN },
		{ m->id, MF_ID_LEN },
	};
	uint8_t *enc = NULL, *obj = NULL, *z;
	size_t elen, zmax, zlen, hdr = 8 + MF_ID_LEN + MF_WRAP_LEN;
	char key[64], hex[2 * MF_ID_LEN + 1], *vid = NULL;
	int ret;

	ret = manifest_encode(m, &enc, &elen);
	if (ret)
		return ret;
	zmax = ZSTD_compressBound(elen);
	ret = -ENOMEM;
	obj = malloc(hdr + AEAD_NONCE_LEN + zmax + AEAD_TAG_LEN);
	if (!obj)
		goto out;
	z = obj + hdr + AEAD_NONCE_LEN;
	zlen = ZSTD_compress(z, zmax, enc, elen, 6);
	ret = -PHV_EFORMAT;
	if (ZSTD_isError(zlen))
		goto out;
	memcpy(obj, snap_magic, 8);
	memcpy(obj + 8, m->id, MF_ID_LEN);
	ret = repo_wrap_key(r, m->id, dk, obj + 8 + MF_ID_LEN);
	if (!ret)
		ret = secmem_random(obj + hdr, AEAD_NONCE_LEN);
	if (!ret)
		ret = aead_seal(dk, obj + hdr, ad, 3, z, zlen, z, z + zlen);
	if (ret)
		goto out;
	repo_hex(m->id, hex);
	snprintf(key, sizeof(key), "snapshots/%s", hex);
	elen = hdr + AEAD_NONCE_LEN + zlen + AEAD_TAG_LEN;
	ret = r->st->ops->put(r->st, key, obj, elen, STORE_LOCKED,
			      (time_t)m->retain_until, &vid);
	if (!ret && bytesp)
		*bytesp += elen;
	/* the next run reads it from the cache */
	if (!ret && vid)
		cache_put(r->cache, key, vid, obj, elen);
	free(vid);
out:
	free(enc);
	free(obj);
	return ret;
}

static int snapshot_open(struct repo *r, const uint8_t id[MF_ID_LEN],
			 const uint8_t *obj, size_t len, struct manifest *m)
{
	static const char label[] = "phivault snapshot v1";
	struct aead_ad ad[3] = {
		{ label, sizeof(label) - 1 }, { r->id, MF_ID_LEN },
		{ id, MF_ID_LEN },
	};
	size_t hdr = 8 + MF_ID_LEN + MF_WRAP_LEN, zlen, rlen;
	unsigned long long full;
	uint8_t *dk = NULL, *z = NULL, *raw = NULL;
	int ret = -PHV_EFORMAT;

	if (len < hdr + REPO_BLOB_OVERHEAD || memcmp(obj, snap_magic, 8) ||
	    memcmp(obj + 8, id, MF_ID_LEN))
		return -PHV_EFORMAT;
	dk = secmem_alloc(REPO_KEY_LEN);
	zlen = len - hdr - REPO_BLOB_OVERHEAD;
	z = malloc(zlen + 1);
	ret = -ENOMEM;
	if (!dk || !z)
		goto out;
	ret = repo_unwrap_key(r, id, obj + 8 + MF_ID_LEN, dk);
	if (!ret)
		ret = aead_open(dk, obj + hdr, ad, 3,
				obj + hdr + AEAD_NONCE_LEN, zlen, z,
				obj + hdr + AEAD_NONCE_LEN + zlen);
	if (ret)
		goto out;
	full = ZSTD_getFrameContentSize(z, zlen);
	ret = -PHV_EFORMAT;
	if (full == ZSTD_CONTENTSIZE_ERROR ||
	    full == ZSTD_CONTENTSIZE_UNKNOWN || full > SNAP_MAX)
		goto out;
	ret = -ENOMEM;
	raw = malloc(full ? full : 1);
	if (!raw)
		goto out;
	rlen = ZSTD_decompress(raw, full, z, zlen);
	ret = -PHV_EFORMAT;
	if (ZSTD_isError(rlen))
		goto out;
	ret = manifest_decode(raw, rlen, m);
	if (!ret && memcmp(m->id, id, MF_ID_LEN)) {
		manifest_release(m);
		ret = -PHV_EFORMAT;
	}
out:
	secmem_free(dk, REPO_KEY_LEN);
	free(z);
	free(raw);
	return ret;
}

struct snaps_acc {
	struct repo_snap *s;
	size_t n, cap;
};

static int snaps_cb(const char *key, const char *vid, uint64_t size,
		    void *arg)
{
	struct snaps_acc *a = arg;
	struct repo_snap *s;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;

		s = realloc(a->s, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		a->s = s;
		a->cap = cap;
	}
	s = &a->s[a->n];
	memset(s, 0, sizeof(*s));
	if (repo_unhex(key + 10, s->id))
		return 0;
	s->version_id = vid ? strdup(vid) : NULL;
	a->n++;
	return 0;
}

static int snap_cmp(const void *a, const void *b)
{
	const struct repo_snap *x = a, *y = b;

	if (x->m.time != y->m.time)
		return x->m.time < y->m.time ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return memcmp(x->id, y->id, MF_ID_LEN);
}

/*
 * Manifests keep whole seconds, so several snapshots can share one.
 * Within such a run, order by ancestry: a snapshot's depth is how many of
 * its ancestors share its second.  Sorting by (time, depth, id) is then a
 * total order that puts every parent before its child.
 */
static void snaps_order(struct repo_snap *s, size_t n)
{
	size_t i, j, k, end;

	for (i = 0; i < n; i++)
		s[i].depth = 0;
	qsort(s, n, sizeof(*s), snap_cmp);
	for (i = 0; i < n; i = end) {
		for (end = i + 1; end < n && s[end].m.time == s[i].m.time; end++)
			;
		for (j = i; end - i > 1 && j < end; j++) {
			const struct repo_snap *cur = &s[j];
			unsigned int d = 0;

			/* walk up while the parent is in this run; bounded */
			while (cur->m.has_parent && d < end - i) {
				for (k = i; k < end; k++)
					if (!memcmp(s[k].id, cur->m.parent,
						    MF_ID_LEN))
						break;
				if (k == end)
					break;
				cur = &s[k];
				d++;
			}
			s[j].depth = d;
		}
	}
	qsort(s, n, sizeof(*s), snap_cmp);
}

int repo_snaps_load(struct repo *r, struct repo_snap **snapsp, size_t *np)
{
	struct snaps_acc a = { 0 };
	struct fetch_item *it = NULL;
	char hex[2 * MF_ID_LEN + 1];
	size_t i;
	int ret;

	*snapsp = NULL;
	*np = 0;
	ret = repo_list_oldest(r, "snapshots/", snaps_cb, &a);
	if (!ret) {
		it = calloc(a.n + 1, sizeof(*it));
		if (!it)
			ret = -ENOMEM;
	}
	for (i = 0; !ret && i < a.n; i++) {
		repo_hex(a.s[i].id, hex);
		snprintf(it[i].key, sizeof(it[i].key), "snapshots/%s", hex);
		it[i].vid = a.s[i].version_id;
		it[i].max = SNAP_MAX;
	}
	if (!ret)
		ret = fetch_many(r, it, a.n);
	for (i = 0; !ret && i < a.n; i++) {
		struct repo_snap *s = &a.s[i];

		repo_hex(s->id, hex);
		s->err = it[i].err ? it[i].err :
			snapshot_open(r, s->id, it[i].buf, it[i].len, &s->m);
		if (s->err && s->err != -ENOMEM && it[i].cached) {
			fetch_again(r, &it[i]);
			s->err = it[i].err ? it[i].err :
				snapshot_open(r, s->id, it[i].buf, it[i].len,
					      &s->m);
		}
		if (it[i].err) {
			log_err("cannot read snapshot %.8s: %s", hex,
				it[i].detail);
			continue;
		}
		if (!s->err)
			fetch_keep(r, &it[i]);
		free(it[i].buf);
		it[i].buf = NULL;
		if (s->err)
			log_err_r(s->err, "snapshot %.8s is damaged", hex);
		else
			s->loaded = 1;
	}
	if (!ret)
		fetch_sweep(r, "snapshots", it, a.n);
	for (i = 0; it && i < a.n; i++)
		free(it[i].buf);
	free(it);
	if (ret) {
		repo_snaps_free(a.s, a.n);
		return ret;
	}
	snaps_order(a.s, a.n);
	*snapsp = a.s;
	*np = a.n;
	return 0;
}

void repo_snaps_free(struct repo_snap *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(s[i].version_id);
		manifest_release(&s[i].m);
	}
	free(s);
}

int repo_parse_time(const char *spec, time_t *tp)
{
	static const char *fmts[] = {
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S",
		"%Y-%m-%dT%H:%M", "%Y-%m-%d",
	};
	struct tm tm, want;
	const char *end;
	size_t i;

	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(spec, fmts[i], &tm);
		if (!end || *end)
			continue;
		tm.tm_isdst = -1;
		want = tm;
		*tp = mktime(&tm);
		/* mktime() moves 2026-02-30 to March: not a date */
		if (*tp == (time_t)-1 || tm.tm_mday != want.tm_mday ||
		    tm.tm_mon != want.tm_mon || tm.tm_year != want.tm_year)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

static int str_same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static int snap_in_scope(const struct repo_snap *s, const char *host,
			 const char *source)
{
	if (!s->loaded)
		return 0;
	if (host && (!s->m.host || strcmp(s->m.host, host)))
		return 0;
	if (source && (!s->m.source || strcmp(s->m.source, source)))
		return 0;
	return 1;
}

int repo_snap_latest(const struct repo_snap *snaps, size_t n,
		     const char *host, const char *source)
{
	size_t i;

	for (i = n; i > 0; i--)
		if (snap_in_scope(&snaps[i - 1], host, source))
			return (int)(i - 1);
	return -PHV_ENOTFOUND;
}

size_t repo_snap_sources(const struct repo_snap *snaps, size_t n,
			 const char *host, const char *source,
			 size_t *first)
{
	size_t i, j, count = 0;

	for (i = 0; i < n; i++) {
		if (!snap_in_scope(&snaps[i], host, source))
			continue;
		for (j = 0; j < i; j++)
			if (snap_in_scope(&snaps[j], host, source) &&
			    str_same(snaps[j].m.host, snaps[i].m.host) &&
			    str_same(snaps[j].m.source, snaps[i].m.source))
				break;
		if (j < i)
			continue;
		if (first && count < 1)
			*first = i;
		count++;
	}
	return count;
}

int repo_snap_find_in(const struct repo_snap *snaps, size_t n,
		      const char *spec, const char *host, const char *source)
{
	char hex[2 * MF_ID_LEN + 1];
	size_t i, len = strlen(spec);
	int found = -PHV_ENOTFOUND;
	time_t when;

	if (!strcmp(spec, "latest"))
		return repo_snap_latest(snaps, n, host, source);
	if (!repo_parse_time(spec, &when)) {
		for (i = n; i > 0; i--)
			if (snap_in_scope(&snaps[i - 1], host, source) &&
			    snaps[i - 1].m.time <= when)
				return (int)(i - 1);
		return -PHV_ENOTFOUND;
	}
	if (!len || len > 2 * MF_ID_LEN)
		return -PHV_ENOTFOUND;
	for (i = 0; i < n; i++) {
		repo_hex(snaps[i].id, hex);
		if (strncmp(hex, spec, len))
			continue;
		if (found >= 0)
			return -EINVAL;
		found = (int)i;
	}
	return found;
}

int repo_snap_find(const struct repo_snap *snaps, size_t n,
		   const char *spec)
{
	return repo_snap_find_in(snaps, n, spec, NULL, NULL);
}
