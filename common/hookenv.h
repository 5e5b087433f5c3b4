/* SPDX-License-Identifier: MIT */
/*
 * hookenv.h - the environment handed to alert hooks and other commands
 * that phivault runs on an operator's behalf.
 *
 * A hook is a site-specific script (pager, ticketing, SIEM); it needs the
 * locale, PATH and the PHIVAULT_ALERT_* variables an administrator set
 * for it, never the S3 keys, passphrase files or tokens that the process
 * running it holds.  The environment is an allow-list, minus anything
 * named like a secret even when it is on the list.
 */
#ifndef COMMON_HOOKENV_H
#define COMMON_HOOKENV_H

#include <stddef.h>

/* 1 when the environment entry "NAME=value" may reach a hook. */
int hookenv_ok(const char *entry);

/*
 * Fill envp[0..max-1] with pointers into environ for the entries that
 * hookenv_ok() accepts, leaving room for `spare` more and a NULL.
 * Returns the count; envp[count] is NULL.  Borrowed strings: build it
 * right before spawning.
 */
size_t hookenv_build(const char **envp, size_t max, size_t spare);

#endif /* COMMON_HOOKENV_H */
