/* SPDX-License-Identifier: MIT */
/*
 * guard.h - what the mount calls: one decision per FUSE operation, the
 * audit records that go with it, live grants and break-glass, policy
 * reload without remount, and the control socket.
 *
 * Concurrency: the live policy and grant table form one immutable
 * snapshot.  Readers (every guard_check) pin it with two atomic
 * increments and never wait; a writer (reload, grant, revoke) builds a
 * new snapshot, publishes it with one atomic exchange and waits until no
 * reader still holds the old one before freeing it.  Writers are
 * serialised by a mutex that readers never touch.  Audit writes take the
 * audit log's own mutex (audit.h).
 *
 * Identity: the caller is what the kernel says - the FUSE request's
 * uid, gid, pid and fuse_req_getgroups() list, or SO_PEERCRED and
 * SO_PEERGROUPS on the control socket.
 *
 * Files in CIPHERDIR: .phivault.policy and .phivault.grants (sealed with
 * the policy key, sealed.h) and .phivault.audit.state (the audit log's
 * trusted tail, sealed with a key derived from the audit key).  Sealing
 * proves a file genuine, not current: the volume's config pins the policy
 * (guard_pin_fn) and the grants file's generation (guard_gen_fn), so an
 * older sealed file put back is noticed.  This library never touches the
 * volume itself; the mount passes those callbacks in.
 */
#ifndef POLICY_GUARD_H
#define POLICY_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "audit.h"
#include "policy.h"

#define GUARD_KEY_LEN		32
#define GUARD_POLICY_FILE	".phivault.policy"
#define GUARD_GRANTS_FILE	".phivault.grants"
#define GUARD_STATE_FILE	".phivault.audit.state"

struct guard;

#define GUARD_PIN_LEN		32	/* SHA-256 of a policy body */

/* What the volume says about its policy (guard_pin_fn, guard_pin_check). */
enum guard_pin {
	GUARD_PIN_UNKNOWN,	/* nothing recorded: any authentic policy */
	GUARD_PIN_REQUIRED,	/* exactly the policy whose body hashes so */
	GUARD_PIN_NONE,		/* removed on purpose: no policy file */
};

/* Fill want and return an enum guard_pin, or a negative code. */
typedef int guard_pin_fn(void *ctx, uint8_t want[static GUARD_PIN_LEN]);

/*
 * The grants file's generation as the volume records it (the mount gives
 * vol_grants_gen() and vol_grants_gen_set()).  The file's body starts
 * with "generation N"; a save records N = max(recorded, loaded) + 1 in
 * the volume first and writes the file second, so every interrupted or
 * failed save leaves a file at most as new as the record.  A file below
 * the record is an older one put back (or a save cut short by a crash):
 * its grants are not loaded, and the start says so in the audit log
 * ("grants-rollback", alert level) and the log; a missing file while the
 * record is above 0 likewise ("grants-missing").  The mount still starts.
 * get fills *genp; both return 0 or a negative code.
 */
typedef int guard_gen_get_fn(void *ctx, uint64_t *genp);
typedef int guard_gen_set_fn(void *ctx, uint64_t gen);

struct guard_config {
	const char *volume;		/* name for records and the socket */
	const char *cipherdir;		/* backing directory */
	const uint8_t *policy_key;	/* vol_derive_key("phivault v1 policy") */
	const uint8_t *audit_key;	/* vol_derive_key("phivault v1 audit") */
	struct audit_opts audit;	/* .path required; state_path may be
					 * NULL: CIPHERDIR/.phivault.audit.state */
	const char *socket_path;	/* NULL: no control socket */
	const char *alert_hook;		/* NULL: alerts are only audited */
	time_t (*clock)(void);		/* NULL: time(); tests inject one */
	int no_thread;			/* tests: no tick thread, no socket */
	guard_pin_fn *pin;		/* NULL: any authentic policy file */
	void *pin_ctx;
	guard_gen_get_fn *grants_gen;	/* NULL: no rollback check, and */
	guard_gen_set_fn *grants_gen_set; /* nothing recorded */
	void *grants_gen_ctx;
};

/*
 * The generation a grants file body declares: its first line
 * "generation N" (a body without one, written before generations existed,
 * is generation 0).  *offp receives where the grant lines start.
 * Returns 0 or -PHV_EFORMAT (a malformed generation line).
 */
int guard_grants_generation(const char *body, size_t len, uint64_t *genp,
			    size_t *offp);

/*
 * Is what sealed_read() gave for the policy file (r: 0 with body, or
 * -ENOENT) the policy the volume requires (state and want from a
 * guard_pin_fn)?  Returns r when it is (0, or -ENOENT when no policy is
 * expected), -PHV_EPOLICY when the file is missing, another (older)
 * policy, or present after `policy remove`; other codes pass through.
 */
int guard_pin_check(int state, const uint8_t want[static GUARD_PIN_LEN],
		    int r, const char *body, size_t len);

/* SHA-256 of a policy body, the pin `policy set` records. */
int guard_pin_of(const char *body, size_t len,
		 uint8_t out[static GUARD_PIN_LEN]);

/*
 * Load the sealed policy (none installed: deny everything, and say so in
 * the log; with cfg->pin, only the policy the volume requires) and live
 * grants (with cfg->grants_gen, none from a file older than the volume
 * records, see guard_gen_fn), open the audit log, write the mount record,
 * start the alert worker, the tick thread (once a second: checkpoints,
 * grant expiry, reload when the policy file changed) and the control
 * socket.  The keys are copied.  Returns 0 with *gp set, -PHV_EAUTH when
 * the policy or grants file was edited, -PHV_EPOLICY when the policy is
 * missing or not the required one (the mount must refuse to start), or
 * another negative code.  Later, a policy file that disappears is audited
 * once ("policy-missing") and the loaded policy stays in force; a changed
 * one is reloaded only when it passes the same checks.
 */
int guard_start(const struct guard_config *cfg, struct guard **gp);

/* Write the unmount record, stop threads and the socket, free; NULL-safe. */
void guard_stop(struct guard *g);

/*
 * Re-read and verify CIPHERDIR/.phivault.policy (and its pin) and swap it
 * in.  On any error, a missing file included, the old policy stays in
 * force.  by is the uid that asked (for the
 * record).  Returns 0 or a negative code.
 */
int guard_reload(struct guard *g, uid_t by);

/* What a FUSE operation is, for guard_check() and guard_done(). */
enum guard_op {
	GUARD_LOOKUP,	/* lookup, getattr, access: traverse on path */
	GUARD_READDIR,	/* opendir/readdir: list on the directory */
	GUARD_READLINK,	/* read */
	GUARD_MKDIR,	/* create on the new path */
	GUARD_MKNOD,	/* create */
	GUARD_SYMLINK,	/* create on the new link */
	GUARD_LINK,	/* read and write on path, create on path2 (the
			 * new name) */
	GUARD_UNLINK,	/* delete */
	GUARD_RMDIR,	/* delete */
	GUARD_RENAME,	/* delete on path, create on path2, and delete on
			 * path2 when arg != 0 (the target exists) */
	GUARD_SETATTR,	/* arg = FUSE_SET_ATTR_* bits: size and times need
			 * write, mode/uid/gid need admin */
	GUARD_GETXATTR,	/* getxattr, listxattr: read */
	GUARD_SETXATTR,	/* setxattr, removexattr: write */
	GUARD_OPEN,	/* guard_file_open() only */
	GUARD_CREATE,	/* guard_file_open() with O_CREAT only */
	GUARD_NOPS
};

/*
 * The decision for op on path (and path2) by caller.  Plaintext paths,
 * absolute, as the mount resolved them.  Returns 0 when allowed or
 * -PHV_EDENIED (reply phv_errno(r), i.e. EACCES).  Every denial is
 * audited and counted for alerts.  Lock-free, allocation-free on allow;
 * cost: a few pattern matches (see bench/policy_bench.c).
 */
int guard_check(struct guard *g, const struct policy_caller *caller,
		enum guard_op op, const char *path, const char *path2,
		int arg);

/*
 * Record the outcome of a mutating or listing op after the mount ran it:
 * MKDIR, MKNOD, SYMLINK, LINK, UNLINK, RMDIR, RENAME, SETATTR, SETXATTR
 * and READDIR (once per opendir).  result is 0 or -errno.  Lookups,
 * reads of attributes and xattrs are not recorded on success.
 */
void guard_done(struct guard *g, const struct policy_caller *caller,
		enum guard_op op, const char *path, const char *path2,
		int arg, int result);

/* Per-open state, owned by the mount's file handle. */
struct guard_file;

/*
 * open/create: decide by flags (O_RDONLY read, O_WRONLY write, O_RDWR
 * both, O_TRUNC write, O_CREAT create).  On 0, *gfp is set: call
 * guard_file_opened() with the open's result, and on success keep gf in
 * the file handle until release.  On -PHV_EDENIED nothing is to be freed.
 */
int guard_file_open(struct guard *g, const struct policy_caller *caller,
		    const char *path, int flags, struct guard_file **gfp);

/* Audit the open (result 0 or -errno); on failure gf is freed. */
void guard_file_opened(struct guard *g, struct guard_file *gf, int result);

/* Count bytes in read/write; lock-free (atomic adds). */
void guard_file_io(struct guard_file *gf, size_t read, size_t written);

/*
 * release: audit one close record with the byte counts (the mount may
 * pass its own totals, or 0 and 0 when it used guard_file_io), feed
 * the bulk-export thresholds and free gf.  NULL-safe.
 */
void guard_file_release(struct guard *g, struct guard_file *gf,
			unsigned long long read, unsigned long long written);

/*
 * Grants and break-glass, for the control socket and for tests.  by is
 * the requester.  Granting needs admin on path; the duration may not
 * exceed the role's max-grant.  Break-glass needs eligibility.  On
 * success the new grant's id is copied to idbuf (at least 16 bytes).
 * Returns 0, -PHV_EDENIED, -EINVAL (bad user, role, duration, missing
 * ticket or reason), or an I/O error persisting the grants (recording
 * the new generation in the volume, or writing the file): the change is
 * then not in force.  Revoke and expiry save the same way.
 */
int guard_grant(struct guard *g, const struct policy_caller *by,
		const char *user, const char *role, const char *path,
		long secs, const char *ticket, const char *reason,
		char *idbuf);
int guard_break_glass(struct guard *g, const struct policy_caller *by,
		      const char *reason, char *idbuf, time_t *untilp);
/* Revoke: the grantee, or whoever has admin on the grant's path. */
int guard_revoke(struct guard *g, const struct policy_caller *by,
		 const char *id);
/* Print the live grants by may see (own, or admin on the path). */
int guard_list_grants(struct guard *g, const struct policy_caller *by,
		      FILE *out);

/* Explain a decision for (uid, path, op) on the live state into out. */
int guard_explain(struct guard *g, uid_t uid, const char *path,
		  unsigned int need, FILE *out);

/* Record a key action or other volume event (type, detail may be NULL). */
void guard_event(struct guard *g, const struct policy_caller *caller,
		 const char *type, const char *detail);

/* The audit log (tests, and the mount's own key-action records). */
struct audit_log *guard_audit(struct guard *g);

/* Run the periodic work now (tests drive this with an injected clock). */
void guard_tick(struct guard *g);

/*
 * The caller's supplementary groups for a policy_caller, into list (max
 * entries); returns the count (0 on failure: missing groups only deny).
 * Reads /proc only when the live policy names groups, and then at most
 * once a second per (pid, uid, gid): a process that drops a group is
 * decided with it for up to a second longer.  g may be NULL (0).
 */
struct fuse_req;
int guard_groups(struct guard *g, struct fuse_req *req, gid_t *list,
		 int max);

/* Map a FUSE op to the policy bits it needs on path (and on path2). */
unsigned int guard_need(enum guard_op op, int arg, unsigned int *need2);

#endif /* POLICY_GUARD_H */
