/* SPDX-License-Identifier: MIT */
/*
 * cliaudit.h - audit records for what the CLI changes without a mount:
 * key rotate, rewrap, retire, add and remove, shred, retention, and
 * `policy remove`.
 *
 * When a mount of the volume answers on its control socket, the record
 * is sent there ("event TYPE DETAIL") and the mount writes it under the
 * caller's kernel-given identity.  Otherwise the log is opened with the volume's
 * audit key (vol_derive_key "audit"), continued, checkpointed and closed,
 * which also updates the trusted tail in CIPHERDIR.
 *
 * Paths follow the mount's rules (tools/mount_guard.h): PHIVAULT_AUDIT_LOG,
 * PHIVAULT_SOCKET, PHIVAULT_VOLUME_NAME or --volume, then the defaults.
 * A volume that has never been audited (no log file and no policy file)
 * gets no record.
 */
#ifndef TOOLS_CLIAUDIT_H
#define TOOLS_CLIAUDIT_H

struct vol;

/*
 * Record event type (one of the names the mount accepts, see
 * guard.c's cli_events) with a free-text detail (may be NULL) for the
 * volume at cipherdir, unlocked as vol.  Returns 0 (also when the volume
 * is not audited) or a negative code after printing a warning; the
 * caller's action has happened either way.
 */
int cliaudit_event(struct vol *vol, const char *cipherdir, const char *type,
		   const char *detail);

#endif /* TOOLS_CLIAUDIT_H */
