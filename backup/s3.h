/* SPDX-License-Identifier: MIT */
/*
 * s3.h - a small S3 client on libcurl for the backup engine.
 *
 * Covers exactly what encrypted backups under S3 Object Lock need:
 * bucket creation with Object Lock, single-request PUT with lock mode and
 * retain-until date, whole and ranged GET, HEAD, retention read and
 * extension, ListObjectsV2, ListObjectVersions, DELETE (optionally of one
 * version, optionally bypassing GOVERNANCE retention) and the server's
 * clock.  Addressing is path-style (http(s)://endpoint/bucket/key), which
 * every S3-compatible server accepts.
 *
 * Every call goes through one request path: build, sign (AWS Signature
 * Version 4, computed here with OpenSSL), perform, and on 5xx, 429,
 * connection failures or time-outs retry with capped exponential back-off
 * (a random wait between half and all of the current cap; a Retry-After
 * header lengthens it, up to backoff_max_ms).  Other 4xx answers are
 * final.  Each attempt is signed afresh, so retries never reuse a stale
 * date.
 *
 * There is no multipart upload: packs are at most a few tens of MiB, and
 * one PUT carries up to S3's 5 GiB single-object limit.  s3_put() refuses
 * bodies over S3_PUT_MAX.
 *
 * Threads: a struct s3_client owns one curl easy handle (and so its
 * connection cache) and its last-error text.  Use one client from one
 * thread at a time; make one client per worker thread (s3_client_dup())
 * for parallel uploads.  Different clients are independent.
 *
 * Errors are negative codes (common/err.h).  After any failure
 * s3_last_error() holds one line naming the operation, bucket, key, the
 * HTTP status and the server's XML error Code and Message, for the caller
 * to log (HEAD answers carry no body, so their errors have no Code).  The
 * client never logs request headers, signatures or keys; it logs retries
 * at debug level only.  Common results:
 *   -PHV_ENOTFOUND	404: no such bucket, key, version or configuration
 *   -PHV_ELOCKED	the server refused because of Object Lock retention
 *			or legal hold (see s3_delete(), s3_put_retention())
 *   -PHV_EBADKEY	InvalidAccessKeyId or SignatureDoesNotMatch
 *   -PHV_ECLOCK		RequestTimeTooSkewed: fix the local clock
 *   -PHV_ES3		any other error answer from the server
 *   -PHV_ENET		transport failures, 5xx or 429 after all retries
 *   -PHV_ECONFIG	missing endpoint or credentials, bad endpoint URL
 *   -ENOMEM, -EINVAL, -EFBIG
 */
#ifndef BACKUP_S3_H
#define BACKUP_S3_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define S3_PUT_MAX		(5ULL << 30)
#define S3_VERSION_ID_MAX	1024	/* S3's limit, without the NUL */
#define S3_ETAG_MAX		128

struct s3_client;

struct s3_config {
	const char *endpoint;	/* "http(s)://host[:port][/prefix]"; NULL:
				 * AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL */
	const char *region;	/* NULL: AWS_REGION, AWS_DEFAULT_REGION, the
				 * profile's region, else "us-east-1" */
	const char *profile;	/* NULL: AWS_PROFILE, else "default"; when
				 * set here, the profile's keys win over
				 * AWS_ACCESS_KEY_ID (as aws --profile) */
	const char *access_key;	/* with secret_key; NULL: environment,
				 * then the shared credentials file */
	const char *secret_key;
	const char *session_token;	/* optional */
	const char *ca_file;	/* PEM bundle; NULL: the system's store */
	unsigned int attempts;	/* tries per request; 0: S3_ATTEMPTS */
	unsigned int backoff_ms;	/* first back-off cap; 0: 200 */
	unsigned int backoff_max_ms;	/* largest back-off cap; 0: 20000 */
	unsigned int connect_timeout_s;	/* 0: 10, or the stall time-out
					 * when shorter */
	unsigned int stall_timeout_s;	/* abort below S3_LOW_SPEED bytes/s
					 * for this long; 0:
					 * PHIVAULT_S3_TIMEOUT, else
					 * S3_STALL_TIMEOUT */
};

/*
 * Time-outs.  A request (with its retries) gets no new attempt once
 * S3_BUDGET_STALLS stall time-outs have passed since it began: 5 min by
 * default, so a hung server fails a backup in minutes, not hours.
 */
#define S3_ATTEMPTS		5
#define S3_STALL_TIMEOUT	30	/* seconds */
#define S3_LOW_SPEED		1024	/* bytes per second */
#define S3_BUDGET_STALLS	10

/*
 * Also send each retry notice ("retrying PUT bucket/key at host: no
 * answer for 30s (attempt 2/5)") to fn, e.g. to print it on stderr; the
 * notice is logged at warning level either way.  Process-wide; NULL
 * stops it.  fn may be called from any thread.
 */
void s3_set_notify(void (*fn)(const char *line));

enum s3_lock_mode {
	S3_LOCK_NONE = 0,
	S3_LOCK_GOVERNANCE,
	S3_LOCK_COMPLIANCE,
};

enum s3_flags {
	S3_BYPASS_GOVERNANCE = 1U << 0, /* x-amz-bypass-governance-retention */
};

/* What HEAD tells about one object version. */
struct s3_object_info {
	uint64_t size;
	time_t last_modified;
	enum s3_lock_mode lock_mode;
	time_t retain_until;		/* 0 when there is none */
	int legal_hold;			/* 1 when a legal hold is ON */
	char version_id[S3_VERSION_ID_MAX + 1];	/* "" if unversioned */
	char etag[S3_ETAG_MAX + 1];	/* without the quotes */
};

struct s3_lock_config {
	int enabled;			/* ObjectLockEnabled is "Enabled" */
	enum s3_lock_mode default_mode;	/* S3_LOCK_NONE: no default */
	unsigned int default_days;
	unsigned int default_years;
};

/* One key (s3_list) or one version or delete marker (s3_list_versions). */
struct s3_entry {
	char *key;
	char *version_id;		/* NULL from s3_list() */
	char *etag;			/* NULL for delete markers */
	uint64_t size;
	time_t last_modified;
	int is_latest;
	int is_delete_marker;
};

/*
 * One page of a listing.  Pass the same struct back to get the next page
 * while ->truncated is set: the markers it holds are the continuation.
 * Initialise with S3_LISTING_INIT; release with s3_listing_release().
 */
struct s3_listing {
	struct s3_entry *entries;
	size_t n;
	int truncated;
	char *next_token;		/* ListObjectsV2 continuation */
	char *next_key_marker;		/* ListObjectVersions */
	char *next_version_marker;
};
#define S3_LISTING_INIT { 0 }

/*
 * Create a client.  Settings left NULL or 0 in cfg (which may be NULL)
 * come from the environment and ~/.aws/{credentials,config} (or
 * AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE), as the AWS CLI reads
 * them.  The client copies everything it keeps.  TLS peers are always
 * verified.  Returns 0, -PHV_ECONFIG (no endpoint, no credentials, bad
 * URL; s3_config_error() says which), -ENOMEM.  *clientp is NULL on
 * failure.
 */
int s3_client_new(const struct s3_config *cfg, struct s3_client **clientp);

/* Text of the last s3_client_new() failure in this thread. */
const char *s3_config_error(void);

/*
 * A second client with the same settings and its own connection, for
 * another thread.  Returns 0 or -ENOMEM.
 */
int s3_client_dup(const struct s3_client *c, struct s3_client **clientp);

/* Close the connection and wipe the credentials.  NULL is fine. */
void s3_client_free(struct s3_client *c);

/*
 * The last error of this client as one line (never NULL, "" after a
 * success), valid until the next call on the client.
 */
const char *s3_last_error(const struct s3_client *c);

/* HTTP status of the last response, 0 if none arrived. */
int s3_last_status(const struct s3_client *c);

/* The server's Date header of the last response, 0 if none. */
time_t s3_last_server_date(const struct s3_client *c);

/* Requests retried since the client was made (for tests and stats). */
unsigned long s3_retry_count(const struct s3_client *c);

/*
 * Create bucket with Object Lock enabled (which also enables versioning).
 * A bucket we already own is an error from the server
 * (BucketAlreadyOwnedByYou on AWS, success on some others): check with
 * s3_get_lock_config() afterwards.
 */
int s3_create_bucket_locked(struct s3_client *c, const char *bucket);

/*
 * Read the bucket's Object Lock configuration into *cfg.  A bucket without
 * one gives -PHV_ENOTFOUND.
 */
int s3_get_lock_config(struct s3_client *c, const char *bucket,
		       struct s3_lock_config *cfg);

/*
 * Store len bytes at bucket/key in one PUT, with Content-MD5,
 * x-amz-checksum-sha256 and a signed payload hash.  With mode other than
 * S3_LOCK_NONE the version is locked until retain_until (UTC, must be in
 * the future).  On success *version_idp (if not NULL) is a malloc'ed copy
 * of the new version id, or NULL when the bucket is not versioned.
 */
int s3_put(struct s3_client *c, const char *bucket, const char *key,
	   const void *buf, size_t len, enum s3_lock_mode mode,
	   time_t retain_until, char **version_idp);

/*
 * Read an object (the latest version, or version_id) into a malloc'ed
 * buffer.  With range_len > 0 only bytes [offset, offset + range_len) are
 * asked for; the server may return fewer at the end of the object.  More
 * than max bytes gives -EFBIG.  On success *bufp and *lenp own the data (the
 * buffer has a NUL after the data); on failure *bufp is NULL.
 */
int s3_get(struct s3_client *c, const char *bucket, const char *key,
	   const char *version_id, uint64_t offset, uint64_t range_len,
	   size_t max, void **bufp, size_t *lenp);

/* HEAD an object (latest or version_id) into *info. */
int s3_head(struct s3_client *c, const char *bucket, const char *key,
	    const char *version_id, struct s3_object_info *info);

/*
 * Read a version's retention.  A version without retention gives 0 with
 * *modep = S3_LOCK_NONE and *untilp = 0.
 */
int s3_get_retention(struct s3_client *c, const char *bucket,
		     const char *key, const char *version_id,
		     enum s3_lock_mode *modep, time_t *untilp);

/*
 * Set a version's retention: this is how retention is extended.
 * Shortening it, or changing COMPLIANCE to GOVERNANCE, is refused by the
 * server (-PHV_ELOCKED) unless the version is in GOVERNANCE mode and
 * flags has S3_BYPASS_GOVERNANCE.
 */
int s3_put_retention(struct s3_client *c, const char *bucket,
		     const char *key, const char *version_id,
		     enum s3_lock_mode mode, time_t retain_until,
		     unsigned int flags);

/*
 * Delete bucket/key.  Without version_id this adds a delete marker on a
 * versioned bucket (and the locked versions stay); *marker_idp then gets
 * the marker's version id (malloc'ed, may be NULL).  With version_id that
 * version is removed for good, which Object Lock refuses with
 * -PHV_ELOCKED while it is retained, unless it is in GOVERNANCE mode and
 * flags has S3_BYPASS_GOVERNANCE.  Deleting a key that does not exist
 * succeeds, as in S3.
 */
int s3_delete(struct s3_client *c, const char *bucket, const char *key,
	      const char *version_id, unsigned int flags, char **marker_idp);

/*
 * List keys under prefix (may be NULL), one page of up to max_keys
 * (0: the server's default, 1000).  See struct s3_listing for paging.
 */
int s3_list(struct s3_client *c, const char *bucket, const char *prefix,
	    unsigned int max_keys, struct s3_listing *page);

/* Same for every version and delete marker, newest first per key. */
int s3_list_versions(struct s3_client *c, const char *bucket,
		     const char *prefix, unsigned int max_keys,
		     struct s3_listing *page);

/* Free what a listing holds and reset it to S3_LISTING_INIT. */
void s3_listing_release(struct s3_listing *page);

/*
 * Ask the server for its clock with a cheap signed request (HEAD bucket,
 * or GET / when bucket is NULL) and return its Date header in *nowp.
 * Any answer with a Date counts, even an error such as
 * RequestTimeTooSkewed, so this also works when our own clock is far off.
 * Returns 0, -PHV_ENET, or -PHV_ES3 when the answer had no Date.
 */
int s3_server_time(struct s3_client *c, const char *bucket, time_t *nowp);

/* "GOVERNANCE", "COMPLIANCE" or "" */
const char *s3_lock_mode_name(enum s3_lock_mode mode);

/* Parse "GOVERNANCE"/"COMPLIANCE" (any case); -EINVAL otherwise. */
int s3_lock_mode_parse(const char *s, enum s3_lock_mode *modep);

#endif /* BACKUP_S3_H */
