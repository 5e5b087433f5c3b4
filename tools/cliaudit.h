/* SPDX-License-Identifier: MIT */
/*
 * cliaudit.h - audit records for what the CLI changes without a mount:
 * key rotate, rewrap, retire, add and remove, shred, retention, and
 * `policy remove`.
 *
 * When the volume is mounted (a mount holds the cipherdir's flock), the
 * record is sent to that mount's control socket ("event TYPE DETAIL")
 * and the mount writes it under the caller's kernel-given identity; the
 * socket and log are those the mount published in CIPHERDIR/
 * CLIAUDIT_MOUNT_FILE (else PHIVAULT_SOCKET, PHIVAULT_VOLUME_NAME or
 * --volume, then the defaults).  A mount without a socket (no policy)
 * has its published log extended directly.  A mounted volume whose mount
 * cannot be reached and did not publish gets no record, with a warning:
 * writing to a guessed log could fork the trail.
 *
 * When it is not mounted, the log is opened with the volume's audit key
 * (vol_derive_key "audit"), continued, checkpointed and closed, which
 * also updates the trusted tail in CIPHERDIR.  Paths follow the mount's
 * rules (tools/mount_guard.h): PHIVAULT_AUDIT_LOG, PHIVAULT_VOLUME_NAME
 * or --volume, then the defaults.
 *
 * The CLI never creates a log: with no log file at the path, a volume
 * with a policy gets a warning and no record, and a volume that has never
 * been audited (no log file and no policy file) gets neither.
 */
#ifndef TOOLS_CLIAUDIT_H
#define TOOLS_CLIAUDIT_H

#define CLIAUDIT_MOUNT_FILE	".phivault.mount"

struct vol;
struct mount_guard_where;

/*
 * Record event type (one of the names the mount accepts, see
 * guard.c's cli_events) with a free-text detail (may be NULL) for the
 * volume at cipherdir, unlocked as vol.  Returns 0 (also when the volume
 * is not audited) or a negative code after printing a warning; the
 * caller's action has happened either way.
 */
int cliaudit_event(struct vol *vol, const char *cipherdir, const char *type,
		   const char *detail);

/*
 * In the mount's serving process, before it starts serving: publish w's
 * socket and audit log, with this process's pid, in
 * w->cipherdir/CLIAUDIT_MOUNT_FILE (0600, sealed under the volume's
 * "mount-info" key; docs/FORMAT.md).  The caller holds the cipherdir
 * lock.  Returns 0 or a negative code; the mount works without it.
 */
int cliaudit_publish(struct vol *vol, const struct mount_guard_where *w);

/* At unmount, while still holding the lock: remove the file. */
void cliaudit_unpublish(const struct mount_guard_where *w);

#endif /* TOOLS_CLIAUDIT_H */
