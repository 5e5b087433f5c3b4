/* SPDX-License-Identifier: MIT */
/*
 * testhook.h - the PHIVAULT_TEST_* environment hooks the test suite uses
 * to stand in for a skewed clock, a failing store or a server that does
 * not enforce Object Lock.  They are compiled into the shipped binary,
 * so a stray variable in a cron or systemd environment must never change
 * a safety check silently: every time a hook takes effect it says so on
 * stderr and, when stderr is not a terminal, in syslog.
 *
 * Hooks that weaken a safety control (TESTHOOK_GUARDED) take effect only
 * when PHIVAULT_TEST_HOOKS=1 is set as well; otherwise they are ignored,
 * with a warning.
 */
#ifndef BACKUP_TESTHOOK_H
#define BACKUP_TESTHOOK_H

#include <stddef.h>

enum testhook_flags {
	TESTHOOK_GUARDED = 1U << 0,	/* needs PHIVAULT_TEST_HOOKS=1 */
};

/*
 * The value of the test hook variable name when it is set, non-empty
 * and (for TESTHOOK_GUARDED) enabled; then a warning naming the hook is
 * printed.  NULL otherwise.  The string belongs to the environment.
 */
const char *testhook_get(const char *name, unsigned int flags);

/*
 * Write the names of the PHIVAULT_TEST_* hooks set in the environment,
 * comma-separated, into buf (PHIVAULT_TEST_HOOKS and
 * PHIVAULT_TEST_CHROOT, which change nothing by themselves, are left
 * out).  Returns how many there are.
 */
size_t testhook_list(char *buf, size_t size);

#endif /* BACKUP_TESTHOOK_H */
