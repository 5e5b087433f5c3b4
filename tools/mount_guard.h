/* SPDX-License-Identifier: MIT */
/*
 * mount_guard.h - what `phivault mount` does about the access policy:
 * find the volume's name, audit log, control socket and alert hook,
 * derive the policy and audit keys, refuse to mount when the installed
 * policy was edited, and run policy/guard.h beside the FUSE session.
 *
 * A volume with a policy installed (CIPHERDIR/.phivault.policy) is always
 * enforced; there is no option to turn that off.  A volume without one
 * is served as before (mode bits only), and a watcher attaches the guard
 * within a second once `policy set` installs one.
 *
 * Two steps because the mount detaches with fork(): mount_guard_prepare()
 * runs in the foreground, before the FUSE mount, so every refusal is an
 * error message and a non-zero exit; mount_guard_start() runs in the
 * process that serves (threads do not survive fork()).
 */
#ifndef TOOLS_MOUNT_GUARD_H
#define TOOLS_MOUNT_GUARD_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct vol;
struct vol_fuse;
struct mount_guard;

#define MOUNT_GUARD_LOG_DIR	"/var/log/phivault"
#define MOUNT_GUARD_RUN_DIR	"/run/phivault"

struct mount_guard_opts {
	const char *volume_name;	/* NULL: env, --volume, basename */
	const char *audit_log;		/* NULL: env or the default */
	const char *socket;		/* NULL: env or the default */
	const char *alert_hook;		/* NULL: env or none */
	const char *rotate_size;	/* NULL: env or MOUNT_GUARD_ROTATE_SIZE */
	const char *rotate_age;		/* NULL: env or MOUNT_GUARD_ROTATE_AGE */
	const char *syslog;		/* "yes"/"no"; NULL: env or "no" */
	int require;			/* --policy: no policy is an error */
};

/* Audit rotation defaults (docs/CONFIG.md): a day of a busy ward is a few
 * MiB, so most segments close by age and are one day each. */
#define MOUNT_GUARD_ROTATE_SIZE	"64M"
#define MOUNT_GUARD_ROTATE_AGE	"1d"

/*
 * Check the audit rotation and syslog settings of o (option, then
 * PHIVAULT_AUDIT_ROTATE_SIZE, PHIVAULT_AUDIT_ROTATE_AGE,
 * PHIVAULT_AUDIT_SYSLOG, then the defaults) without touching anything,
 * so a typo is refused before the secret is asked for.  Returns 0, or
 * -EINVAL after printing which setting is wrong and what it must be.
 */
int mount_guard_check_opts(const struct mount_guard_opts *o);

/*
 * Can a user other than uid and root get into cipherdir without going
 * through the mount?  Only when no directory from cipherdir up to "/"
 * is owned by uid or root and closed to group and others (no search
 * bit for either), or when one that is not closed belongs to another
 * user (who may chmod or rename it).  Returns 0 when closed, 1 when
 * open with why (one clause; it names a directory only when that
 * belongs to another user) filled in, or a
 * negative code when a directory could not be examined.
 */
int mount_guard_exposed(const char *cipherdir, uid_t uid, char *why,
			size_t size);

/* Where a mount of a volume keeps things (the same rules as below). */
struct mount_guard_where {
	char cipherdir[PATH_MAX];	/* absolute */
	char name[64];
	char audit_path[PATH_MAX];
	char socket[PATH_MAX];
	char state_path[PATH_MAX + 32];
	char policy_path[PATH_MAX + 32];
};

/* Resolve o's settings for cipherdir as a mount would, for the CLI.
 * Returns 0 or a negative code (a bad volume name is printed). */
int mount_guard_paths(const char *cipherdir,
		      const struct mount_guard_opts *o,
		      struct mount_guard_where *w);

/*
 * Resolve the settings (option, then PHIVAULT_VOLUME_NAME,
 * PHIVAULT_AUDIT_LOG, PHIVAULT_SOCKET, PHIVAULT_ALERT_HOOK, then the
 * defaults in docs/POLICY.md), derive the keys from vol and check the
 * installed policy and grants: when either fails authentication or does
 * not parse, the refusal is written to the audit log and an error is
 * printed.  A grants file older than the volume's record of it (or
 * missing while one is recorded) is a warning on stderr only: the guard
 * then starts without grants and audits it (policy/guard.h).  Also
 * checks that the audit log opens.  Returns 0 with *mgp
 * set (also when no policy is installed), or a negative code after
 * printing why.  vol must outlive *mgp.
 */
int mount_guard_prepare(struct vol *vol, const char *cipherdir,
			const struct mount_guard_opts *o,
			struct mount_guard **mgp);

/*
 * In the serving process, before vol_fuse_run(): start the guard and
 * attach it to fu when a policy is installed, else start the watcher.
 * Returns 0 or a negative code (logged); on error nothing was attached
 * and the caller must not serve.
 */
int mount_guard_start(struct mount_guard *mg, struct vol_fuse *fu);

/* After vol_fuse_run() returned: stop the watcher and the guard (the
 * unmount record), wipe the keys, free; NULL-safe. */
void mount_guard_stop(struct mount_guard *mg);

#endif /* TOOLS_MOUNT_GUARD_H */
