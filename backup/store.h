/* SPDX-License-Identifier: MIT */
/*
 * store.h - the object store under a backup repository, as a vtable.
 *
 * A repository is a flat namespace of keys ("config", "packs/<id>", ...)
 * relative to the repository's prefix.  Two backends implement it:
 * store_s3.c (an S3 bucket under Object Lock) and store_dir.c (a local
 * directory, with no immutability, for tests and restore drills).  The
 * repository code above never sees HTTP, lock headers or paths: it says
 * "this object is repository-critical" (STORE_LOCKED) and the backend
 * alone decides how that is expressed (Object Lock mode and retain-until
 * headers on S3, nothing on a directory).
 *
 * Versions: on S3 every PUT makes a new version and the backend returns
 * its id; reads and deletes can name a version.  Backends without
 * versions return and accept NULL ids.  store_list() reports every
 * version (and delete marker) so callers can pick the oldest version of
 * each key: the one an attacker with our credentials cannot have replaced.
 *
 * Threads: a store handle is used by one thread at a time; workers get
 * their own handle from ->dup() (its own connection).
 *
 * Every hook returns 0 or a negative code (common/err.h):
 * -PHV_ENOTFOUND for a missing key or version, -PHV_ELOCKED when retention
 * refuses a delete or a shorter date, -PHV_ENET / -PHV_ES3 for transport or
 * server errors (already retried), -EIO / -errno from the directory.
 * store_error() gives one line of detail for the last failure.
 */
#ifndef BACKUP_STORE_H
#define BACKUP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum store_lock_mode {
	STORE_LOCK_NONE = 0,
	STORE_LOCK_GOVERNANCE,
	STORE_LOCK_COMPLIANCE,
};

/* Object classes: what the repository code says about an object. */
enum store_class {
	STORE_UNLOCKED = 0,	/* locks/: may be deleted at any time */
	STORE_LOCKED = 1,	/* repository-critical: lock until a date */
};

enum store_del_flags {
	STORE_DEL_BYPASS = 1U << 0,	/* bypass GOVERNANCE (tests, admin) */
};

struct store_info {
	uint64_t size;
	time_t mtime;
	enum store_lock_mode mode;
	time_t retain_until;		/* 0: none */
};

/* One version of a key, as listed. */
struct store_entry {
	const char *key;		/* relative to the repository prefix */
	const char *version_id;		/* NULL on unversioned backends */
	uint64_t size;
	time_t mtime;
	int is_latest;
	int is_delete_marker;
};

/* Listing callback; a nonzero return stops the listing and is returned. */
typedef int (*store_list_fn)(const struct store_entry *e, void *arg);

struct store;

struct store_ops {
	/*
	 * Store len bytes at key.  With cls STORE_LOCKED the backend locks
	 * the new version until retain_until (a server-clock date) and,
	 * on S3, confirms the lock with a HEAD before returning.
	 * *version_idp (may be NULL) receives a malloc'ed version id or
	 * NULL.  An existing key gets a new version (S3) or is replaced
	 * atomically (directory).
	 */
	int (*put)(struct store *st, const char *key, const void *buf,
		   size_t len, enum store_class cls, time_t retain_until,
		   char **version_idp);

	/*
	 * Read key (latest, or version_id), bytes [off, off + len) when
	 * len > 0, else all of it; more than max bytes is -EFBIG.
	 * *bufp is malloc'ed (with a NUL after the data).
	 */
	int (*get)(struct store *st, const char *key, const char *version_id,
		   uint64_t off, uint64_t len, size_t max, void **bufp,
		   size_t *lenp);

	/* Size, date and lock of key (latest, or version_id). */
	int (*head)(struct store *st, const char *key,
		    const char *version_id, struct store_info *info);

	/*
	 * Call fn for every version of every key under prefix ("" for
	 * all), per key newest first.  Directory backends report one
	 * version per key.
	 */
	int (*list)(struct store *st, const char *prefix, store_list_fn fn,
		    void *arg);

	/*
	 * Remove one version for good (version_id), or the key (NULL:
	 * on S3 that only adds a delete marker).  Retained versions give
	 * -PHV_ELOCKED unless flags allow a GOVERNANCE bypass.
	 */
	int (*del)(struct store *st, const char *key, const char *version_id,
		   unsigned int flags);

	/*
	 * Make a locked version retained at least until retain_until.
	 * Never shortens: a date already later is left alone (returns 0).
	 * A no-op on backends without locking.
	 */
	int (*extend)(struct store *st, const char *key,
		      const char *version_id, time_t retain_until);

	/* The server's clock (S3: its Date header; directory: time()). */
	int (*server_time)(struct store *st, time_t *nowp);

	/* Create the container (bucket with Object Lock, or directory). */
	int (*create)(struct store *st);

	/*
	 * Check the container can hold a repository: the bucket exists
	 * and has Object Lock enabled.  *lockedp: 1 if it does.
	 */
	int (*check)(struct store *st, int *lockedp);

	/* A second handle with its own connection, for another thread. */
	int (*dup)(struct store *st, struct store **stp);

	/* Free the handle; NULL-safe through store_free(). */
	void (*destroy)(struct store *st);
};

struct store {
	const struct store_ops *ops;
	enum store_lock_mode mode;	/* what STORE_LOCKED means here */
	int immutable;			/* 1: the backend enforces locks */
	char err[512];			/* last failure, one line */
};

/*
 * Open a store from a repository URL: "s3://bucket/prefix" (endpoint and
 * credentials from the environment, see backup/s3.h; endpoint may be
 * given) or a directory path (optionally "dir:" or "file://").  Does no
 * I/O.  Returns 0, -PHV_ECONFIG (bad URL; msg says why) or -ENOMEM.
 */
int store_open(const char *url, const char *endpoint, struct store **stp,
	       char *msg, size_t msgsize);

/* Backend constructors used by store_open(). */
int store_dir_open(const char *path, struct store **stp);
int store_s3_open(const char *bucket, const char *prefix,
		  const char *endpoint, struct store **stp, char *msg,
		  size_t msgsize);

/* NULL-safe destructor. */
void store_free(struct store *st);

/* The last failure's detail, "" if none. */
const char *store_error(const struct store *st);

/* Set the detail line (backends use this). */
void store_set_error(struct store *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Test-only fault injection for the directory backend, read once from
 * PHIVAULT_TEST_DIR_FAULTS: "put-fail-after=N,delay-ms=M".  After N
 * successful puts every put fails with -EIO; every call sleeps M ms.
 */

#endif /* BACKUP_STORE_H */
