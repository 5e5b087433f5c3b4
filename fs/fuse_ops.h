/* SPDX-License-Identifier: MIT */
/*
 * fuse_ops.h - serve an unlocked volume through the FUSE low-level API.
 *
 * Three steps so that every error is reported before the caller detaches:
 * vol_fuse_new() parses options, creates the session and mounts (the mount
 * is live when it returns 0); vol_fuse_run() serves requests on a
 * multi-threaded loop until unmount or SIGTERM/SIGINT/SIGHUP;
 * vol_fuse_free() unmounts and frees (not the volume, which stays the
 * caller's and must outlive the session).
 */
#ifndef FS_FUSE_OPS_H
#define FS_FUSE_OPS_H

struct guard;
struct vol;
struct vol_fuse;

/*
 * Mount vol at mountpoint.  fuse_opts is a comma-separated -o string or
 * NULL; shared adds allow_other (default_permissions is always on).
 * Returns 0 with *fp set, or a negative code (message logged).
 */
int vol_fuse_new(struct vol *vol, const char *mountpoint,
		 const char *fuse_opts, int shared, int debug,
		 struct vol_fuse **fp);

/* Serve until unmounted or signalled; returns 0 or a negative code. */
int vol_fuse_run(struct vol_fuse *f);

/*
 * Enforce and audit the access policy of g (policy/guard.h) from now on:
 * every op asks g before it acts and reports what it changed.  Call at
 * most once, before or while vol_fuse_run() serves; g must outlive the
 * session (guard_stop() only after vol_fuse_run() returned).  Without
 * it the mount applies mode bits only.
 */
void vol_fuse_set_guard(struct vol_fuse *f, struct guard *g);

/* Unmount (if still mounted) and free; NULL-safe. */
void vol_fuse_free(struct vol_fuse *f);

#endif /* FS_FUSE_OPS_H */
