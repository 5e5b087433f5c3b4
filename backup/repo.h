/* SPDX-License-Identifier: MIT */
/*
 * repo.h - a backup repository: its configuration, keys, lock, pack
 * index and snapshots, on top of a store (store.h).
 *
 * Key hierarchy (docs/REPOSITORY.md): one random 32-byte master key,
 * sealed in key slots (crypto/keyslot.h) stored as keys/<slot>.  HKDF
 * with the repository id as salt derives from it the chunk-id key (HMAC-
 * SHA-256), the chunker's gear table, the key-wrap key, the index key
 * and the config MAC key.  Every snapshot gets a fresh random data key,
 * wrapped under the key-wrap key; the packs written by that snapshot and
 * its manifest are sealed with it.
 *
 * Reads of repository objects take the oldest version of each key (the
 * one Object Lock protects); newer versions and delete markers that
 * someone else put on top are ignored.
 *
 * Commands coordinate through lock objects under locks/ (repo_lock()):
 * shared for reading and appending, exclusive for deleting.  The lock
 * is advisory: it keeps phivault processes apart, while Object Lock is
 * what keeps data from being deleted.
 *
 * Nothing here prints; failures are logged through common/log.h at the
 * point where the detail is known, and returned as negative codes.
 */
#ifndef BACKUP_REPO_H
#define BACKUP_REPO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cache.h"
#include "chunker.h"
#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "manifest.h"
#include "store.h"

#define REPO_KEY_LEN		32
#define REPO_CLOCK_SKEW_MAX	300	/* seconds */
#define REPO_PACK_HDR_LEN	(8 + 2 * MF_ID_LEN + MF_WRAP_LEN)
#define REPO_BLOB_OVERHEAD	(AEAD_NONCE_LEN + AEAD_TAG_LEN)
#define REPO_LOCK_STALE		1800	/* seconds without refresh */
#define REPO_LOCK_REFRESH	60	/* seconds between refreshes */
/* Longest retention: retain-until dates stay far before 2106, where
 * some servers wrap a 32-bit date. */
#define REPO_RETENTION_MAX	(30LL * 365 * 86400)

struct repo_keys {
	uint8_t master[REPO_KEY_LEN];
	uint8_t chunk_id[REPO_KEY_LEN];
	uint8_t wrap[REPO_KEY_LEN];
	uint8_t index[REPO_KEY_LEN];
	uint8_t mac[REPO_KEY_LEN];
	uint8_t gear[CHUNKER_GEAR_BYTES];
};

struct repo {
	struct store *st;		/* borrowed */
	uint8_t id[MF_ID_LEN];
	enum store_lock_mode mode;
	int64_t retention;		/* seconds */
	size_t cmin, cavg, cmax;
	struct repo_keys *k;		/* secmem */
	struct chunker ch;
	struct repo_lock *lock;		/* held lock (repo.c); NULL: none */
	struct cache *cache;		/* cache.h; NULL: none */
	int64_t clock_offset;		/* PHIVAULT_TEST_CLOCK_OFFSET */
};

/* One entry of the in-memory pack index. */
struct repo_blob {
	uint8_t id[MF_CHUNK_ID_LEN];
	uint32_t pack;			/* into repo_index.packs, plus one
					 * (0 marks a free table slot) */
	uint32_t flags;
	uint32_t blob_len;
	uint32_t raw_len;
	uint64_t blob_off;
};

struct repo_index {
	struct mf_pack *packs;		/* version_id owned */
	size_t npacks, packs_cap;
	struct repo_blob *tab;		/* open addressing, id[0..8) hash */
	size_t ntab, used;
	unsigned long dropped_packs;	/* indexed but missing in the store */
	unsigned long recovered_packs;	/* found without an index object */
};

struct repo_init_opts {
	enum store_lock_mode mode;
	int64_t retention;		/* seconds, > 0 with a lock mode */
	struct kdf_argon2_params argon;	/* for passphrase slots */
};

/* Local clock in Unix seconds, shifted by PHIVAULT_TEST_CLOCK_OFFSET. */
time_t repo_local_time(void);

/*
 * Compare the local clock with the store's and fail with -PHV_ECLOCK
 * when they differ by more than REPO_CLOCK_SKEW_MAX; *msg then says which
 * one is ahead.  *server_nowp gets the server's time.
 */
int repo_clock_check(struct store *st, time_t *server_nowp, char *msg,
		     size_t msgsize);

/*
 * Create a repository in st: the container (bucket with Object Lock),
 * one key slot for the secret (type KEYSLOT_PASSPHRASE or _KEYFILE) and
 * the config.  Refuses (-EEXIST) when a config is already there, and
 * (-PHV_ECONFIG) a lock mode on a bucket without Object Lock.
 */
int repo_init(struct store *st, const struct repo_init_opts *o,
	      int secret_type, const void *secret, size_t secretlen,
	      time_t server_now);

/*
 * Open the repository in st with secret: read the config and key slots
 * (oldest versions), unlock the master key and derive the subkeys.
 * Returns 0, -PHV_ENOTFOUND (no repository there), -PHV_EBADKEY (no slot
 * opens with the secret), -PHV_EFORMAT, or a store error.  The repo
 * borrows st; free with repo_free() before the store.
 */
int repo_open(struct store *st, const void *secret, size_t secretlen,
	      struct repo **repop);
void repo_free(struct repo *r);

/*
 * Stop using the local cache (cache.h) for this handle: every object is
 * read from the store again (check does this).  repo_open() opens the
 * cache of S3 repositories; directory repositories never use one.
 */
void repo_cache_off(struct repo *r);

/* Retain-until date for objects written now (server_now + retention). */
time_t repo_retain_until(const struct repo *r, time_t server_now);

/*
 * The repository lock (docs/REPOSITORY.md, "The repository lock").
 * Shared: work that only reads or adds objects (backup, restore, drill,
 * check); any number may run together.  Exclusive: work that deletes or
 * rewrites (forget, prune, and any command that would change the config
 * or the key slots); it runs alone.  A lock object without a mode (older
 * versions) counts as exclusive.
 */
enum repo_lock_type {
	REPO_LOCK_SHARED = 0,
	REPO_LOCK_EXCLUSIVE,
};

/*
 * Take the repository lock: write locks/<random> (host, pid, times,
 * what, type, scope), then list locks/.  Locks not refreshed for
 * REPO_LOCK_STALE seconds, or left by a dead process on this host, are
 * removed on the way.  A conflict is another live lock that is
 * exclusive, or any other live lock when we want exclusive, or a shared
 * lock with the same what and the same non-NULL scope (one backup per
 * source at a time).  On a conflict our object is removed again.  When
 * the conflicting object was written (server clock) within a couple of
 * seconds of ours, the locks are listed once more after a short random
 * back-off: a conflicting lock still there refuses; none means a
 * process that started at the same moment stepped back too, and we try
 * again, at most REPO_LOCK_TRIES times in all.  Never waits for a
 * holder.
 *
 * Returns 0, -PHV_EBUSY with msg naming the holder (host, pid, command,
 * type, age) and what to do, or a store error with msg saying so.
 * While held, a thread with its own store handle rewrites the object
 * every REPO_LOCK_REFRESH seconds, so long restores and drills stay
 * locked; when no second handle can be had, repo_lock_refresh() does it
 * from the caller's thread (call it now and then; otherwise a no-op
 * that returns the last refresh failure).  repo_unlock() stops the
 * thread and removes every version of the object; repo_free() does it
 * too.  Not thread-safe against itself: one lock per repo handle.
 */
#define REPO_LOCK_TRIES		4
int repo_lock(struct repo *r, enum repo_lock_type type, const char *what,
	      const char *scope, char *msg, size_t msgsize);
int repo_lock_refresh(struct repo *r);
void repo_unlock(struct repo *r);

/* Chunk id: HMAC-SHA-256 under the chunk-id key. */
int repo_chunk_id(const struct repo *r, const void *p, size_t len,
		  uint8_t id[static MF_CHUNK_ID_LEN]);

/* Wrap / unwrap a data key for key_id (AAD: repository id, key_id). */
int repo_wrap_key(const struct repo *r, const uint8_t key_id[MF_ID_LEN],
		  const uint8_t dk[REPO_KEY_LEN],
		  uint8_t wrapped[MF_WRAP_LEN]);
int repo_unwrap_key(const struct repo *r, const uint8_t key_id[MF_ID_LEN],
		    const uint8_t wrapped[MF_WRAP_LEN],
		    uint8_t dk[REPO_KEY_LEN]);

/*
 * Seal a chunk into a blob: out gets nonce, ciphertext, tag
 * (len + REPO_BLOB_OVERHEAD bytes).  The AAD binds the pack id, the
 * chunk id and the flags.  blob_open() reverses it (-PHV_EAUTH on any
 * change); out holds blen - REPO_BLOB_OVERHEAD bytes.
 */
int repo_blob_seal(const uint8_t dk[REPO_KEY_LEN],
		   const uint8_t pack_id[MF_ID_LEN],
		   const uint8_t chunk_id[MF_CHUNK_ID_LEN], uint32_t flags,
		   const void *pt, size_t len, uint8_t *out);
int repo_blob_open(const uint8_t dk[REPO_KEY_LEN],
		   const uint8_t pack_id[MF_ID_LEN],
		   const uint8_t chunk_id[MF_CHUNK_ID_LEN], uint32_t flags,
		   const uint8_t *blob, size_t blen, uint8_t *out);

/*
 * A blob's plaintext: open, decompress (flags & MF_ZSTD), check the
 * chunk id.  *outp is malloc'ed with raw_max room; *lenp its length.
 */
int repo_blob_decode(const struct repo *r, const uint8_t dk[REPO_KEY_LEN],
		     const uint8_t pack_id[MF_ID_LEN],
		     const uint8_t chunk_id[MF_CHUNK_ID_LEN], uint32_t flags,
		     const uint8_t *blob, size_t blen, size_t raw_max,
		     uint8_t **outp, size_t *lenp);

/*
 * Encrypt a pack's index record (also the pack's trailer): pack id, key
 * id, wrapped key and the blobs n of pack p.  *outp is malloc'ed.
 */
int repo_index_seal(const struct repo *r, const struct mf_pack *p,
		    const struct repo_blob *blobs, size_t n, uint8_t **outp,
		    size_t *lenp);

/*
 * Build the index of what the store holds: every pack present (oldest
 * version) with its index object, or with its trailer when the index
 * object is missing (then the index object is written again).  Indexes
 * naming packs that are gone are dropped (counted in dropped_packs), so
 * their data is uploaded again.  server_now dates rewritten indexes.
 */
int repo_index_load(struct repo *r, struct repo_index *ix, time_t until);
void repo_index_release(struct repo_index *ix);

/* Look a chunk up; NULL when absent. */
const struct repo_blob *repo_index_find(const struct repo_index *ix,
					const uint8_t id[MF_CHUNK_ID_LEN]);

/* Add blobs of a new pack; the pack's version_id is copied. */
int repo_index_add(struct repo_index *ix, const struct mf_pack *p,
		   const struct repo_blob *blobs, size_t n);

/* A pack's REPO_PACK_HDR_LEN-byte header (magic, ids, wrapped key). */
void repo_pack_header(const struct mf_pack *p, uint8_t *out);

/* The 12 bytes that end a pack: trailer length (LE32) and end magic. */
void repo_pack_end(uint32_t trailer_len, uint8_t out[12]);

/* Add one blob of ix pack number pack (0-based); a known id is kept. */
int repo_index_add_blob(struct repo_index *ix, uint32_t pack,
			const struct repo_blob *blob);

/* Hex of an id (2 * MF_ID_LEN + 1 bytes). */
void repo_hex(const uint8_t id[MF_ID_LEN], char *out);
int repo_unhex(const char *s, uint8_t id[MF_ID_LEN]);

/*
 * Write the snapshot m (sealed with its data key dk, wrapped in the
 * object) as snapshots/<id>, locked until m->retain_until.
 */
int repo_snapshot_save(struct repo *r, const struct manifest *m,
		       const uint8_t dk[REPO_KEY_LEN], uint64_t *bytesp);

/* One stored snapshot, as listed. */
struct repo_snap {
	uint8_t id[MF_ID_LEN];
	char *version_id;
	struct manifest m;		/* decoded, when loaded */
	int loaded;
	int err;			/* load failure */
	unsigned int depth;		/* ancestors in the same second */
};

/*
 * List the snapshots (oldest version of each), load their manifests
 * and sort them by time.  Snapshots that fail to load are kept with
 * ->err set.  Release with repo_snaps_free().
 */
int repo_snaps_load(struct repo *r, struct repo_snap **snapsp, size_t *np);
void repo_snaps_free(struct repo_snap *s, size_t n);

/*
 * Resolve spec (full id, unique id prefix, "latest", or a local time
 * "YYYY-MM-DD[ HH:MM[:SS]]" meaning the newest snapshot before it).
 * "latest" and times consider only loaded snapshots of host and source
 * (NULL: any); a caller that means one source must pass it, and
 * should ask repo_snap_sources() whether "any" is one source at all.
 * Returns the index into snaps, -PHV_ENOTFOUND or -EINVAL (ambiguous).
 * repo_snap_find() is repo_snap_find_in() with no scope.
 */
int repo_snap_find_in(const struct repo_snap *snaps, size_t n,
		      const char *spec, const char *host, const char *source);
int repo_snap_find(const struct repo_snap *snaps, size_t n,
		   const char *spec);

/*
 * Index of the newest loaded snapshot of host and source (NULL: any),
 * or -PHV_ENOTFOUND.  The per-source view for "latest", the parent of
 * a backup and a recovery-point check.
 */
int repo_snap_latest(const struct repo_snap *snaps, size_t n,
		     const char *host, const char *source);

/*
 * How many distinct host + source pairs the loaded snapshots matching
 * host and source (NULL: any) hold; *first (may be NULL) gets the index
 * of a snapshot of the oldest-listed pair.
 */
size_t repo_snap_sources(const struct repo_snap *snaps, size_t n,
			 const char *host, const char *source,
			 size_t *first);

/* Parse a local time "YYYY-MM-DD[ HH:MM[:SS]]" (or with 'T'); -EINVAL
 * for anything else, including dates that do not exist. */
int repo_parse_time(const char *spec, time_t *tp);

/*
 * Call fn for the oldest stored version of each key under prefix
 * (ignoring delete markers and versions written on top).
 */
typedef int (*repo_oldest_fn)(const char *key, const char *version_id,
			      uint64_t size, void *arg);
int repo_list_oldest(struct repo *r, const char *prefix, repo_oldest_fn fn,
		     void *arg);

/*
 * Parse "90d", "12h", "30m", "45s", "4w", "1y" (a bare number is days)
 * into seconds: duration_parse() with no limit but int64_t.  0 or -EINVAL.
 */
int repo_parse_duration(const char *s, int64_t *secsp);

#endif /* BACKUP_REPO_H */
