/* SPDX-License-Identifier: MIT */
/*
 * audit.h - the tamper-evident audit log: one JSON object per line,
 * chained with HMAC-SHA-256 and signed at checkpoints with Ed25519.
 * Record schema, chain and guarantees: docs/AUDIT.md.
 *
 * Keys: both come from the 32-byte audit key, which the mount obtains as
 * vol_derive_key(vol, "phivault v1 audit").  HKDF gives the HMAC key and
 * the Ed25519 seed; no key is stored anywhere and none is ever written to
 * the log (only the Ed25519 public key, in each segment header).
 *
 * Writing: audit_emit() is thread-safe; one mutex covers formatting the
 * chained fields, one write(2) of the line and, for important records, an
 * fdatasync.  Several processes may hold the same log open: each append
 * also takes flock(2) on LOG.lock and first takes in (after checking)
 * what the others appended, so the chain stays one (audit_log.c).
 * Ordinary records (open, close, denial) reach the kernel at once but
 * the disk only at the next important record or checkpoint:
 * a power cut can lose up to checkpoint_secs of them; a crash of the mount
 * process loses none.  Nothing here logs through log.h except write
 * failures, which are also made sticky (audit_failed()) until
 * audit_usable() finds the log writable again.
 */
#ifndef POLICY_AUDIT_H
#define POLICY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "jsonl.h"

#define AUDIT_KEY_LEN		32
#define AUDIT_PUB_B64_LEN	43	/* 32 bytes, base64url, unpadded */

struct audit_log;

struct audit_opts {
	const char *path;		/* active segment, created 0600 */
	const char *volume;		/* name recorded in segment headers */
	const char *state_path;		/* sealed trusted tail, or NULL */
	unsigned int checkpoint_records; /* 0: 256 */
	unsigned int checkpoint_secs;	/* 0: 60 */
	unsigned long long rotate_bytes; /* 0: no size rotation */
	unsigned int rotate_secs;	/* 0: no time rotation */
	int use_syslog;			/* copy each line to LOG_AUTHPRIV */
};

enum audit_level {
	AUDIT_INFO,	/* open, close, denial: written, not synced */
	AUDIT_NOTICE,	/* mount, policy, grant, key actions: synced */
	AUDIT_ALERT,	/* break-glass, alerts: synced, syslog LOG_ALERT */
};

/*
 * Open (or create) the log at o->path and continue its chain: the
 * existing active segment is read to find the last record; a torn last
 * line (crash mid-write) is cut and noted in a "recovered" record.  A
 * new log starts with a segment header.  Returns 0 with *lp set, or a
 * negative code (-errno, -PHV_ECRYPTO, -PHV_EFORMAT when the existing
 * file is not an audit log).  Free with audit_close().
 */
int audit_open(const struct audit_opts *o,
	       const uint8_t key[static AUDIT_KEY_LEN],
	       struct audit_log **lp);

/*
 * Append one record: body holds the fields after seq and ts (at least
 * "type").  Rotates and checkpoints when due.  Returns 0 or a negative
 * code; after a write failure every later call fails the same way.
 */
int audit_emit(struct audit_log *l, enum audit_level level,
	       const struct jbuf *body);

/* Emit a checkpoint now if records were written since the last one. */
int audit_checkpoint(struct audit_log *l);

/* Call about once a second: time-based checkpoint and rotation. */
void audit_tick(struct audit_log *l);

/* Force a rotation now (tests, `kill -HUP`). */
int audit_rotate(struct audit_log *l);

/* Sticky write error, or 0. */
int audit_failed(struct audit_log *l);

/*
 * 0 when records can be written; otherwise the write error.  After a
 * failure it retries at most once a second (cutting back what the failed
 * write left and writing an "audit-resumed" record at alert level), so
 * the caller can refuse audited work while the log is down and carry on
 * by itself once it is back.
 */
int audit_usable(struct audit_log *l);

/* Checkpoint, write the trusted state, close; NULL-safe. */
void audit_close(struct audit_log *l);

/* Ed25519 public key for key, base64url into out (44 bytes). */
int audit_pubkey(const uint8_t key[static AUDIT_KEY_LEN], char *out);

/* The rotated segments of path, oldest first, then path itself. */
int audit_segments(const char *path, char ***filesp, int *np);
void audit_segments_free(char **files, int n);

struct audit_verify_opts {
	const uint8_t *key;		/* audit key, or NULL: public only */
	const char *pubkey;		/* pinned base64url key, or NULL */
	const char *state_path;		/* trusted tail (needs key), or NULL */
	int allow_partial;		/* older segments may be missing */
};

struct audit_verify_result {
	int damaged;			/* 1: see file, line, why */
	char file[1024];
	long line;			/* 1-based within file */
	unsigned long long seq;		/* of the first bad record, or 0 */
	char why[256];
	unsigned long long records;	/* records checked */
	unsigned long long checkpoints;	/* signatures verified */
	unsigned long long unsigned_tail; /* records after last checkpoint */
	int clean_end;			/* last record is an unmount */
};

/*
 * Verify files[0..n) as consecutive segments of one log.  With a key
 * every record's HMAC is checked; without one only the chain hash and
 * the checkpoint signatures are, so records after the last checkpoint
 * stay unverified (counted in unsigned_tail).  Returns 0 when intact,
 * -PHV_EAUTH when damage was found (details in *res), or another
 * negative code when a file could not be read.
 */
int audit_verify(char *const *files, int n,
		 const struct audit_verify_opts *o,
		 struct audit_verify_result *res);

#endif /* POLICY_AUDIT_H */
