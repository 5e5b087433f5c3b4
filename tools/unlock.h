/* SPDX-License-Identifier: MIT */
/*
 * unlock.h - the "unlock options" shared by every subcommand that opens a
 * volume: passphrase, key file or passphrase command (secret.h), PKCS#11
 * token or key command (keysrc.h), and the exit status an unlock failure
 * maps to.  The unlocking itself is keysrc_unlock().
 *
 * Nothing here prints except what keysrc_opt() prints for a bad value.
 */
#ifndef TOOLS_UNLOCK_H
#define TOOLS_UNLOCK_H

#include "keysrc.h"
#include "secret.h"

/* getopt_long rows for all unlock options; handled by unlock_opt(). */
#define UNLOCK_LONGOPTS		SECRET_LONGOPTS, KEYSRC_LONGOPTS

/* The environment variable naming a passphrase file for a volume. */
#define UNLOCK_ENV_PASSFILE	"PHIVAULT_PASSPHRASE_FILE"

/*
 * Store opt in so or ko when it is one of SECRET_LONGOPTS or
 * KEYSRC_LONGOPTS.  Returns 1 when stored, else 0: opt belongs to the
 * caller, or it was an unlock option with a bad value (already reported
 * by keysrc_opt()), which no caller accepts, so it ends in usage.
 */
int unlock_opt(struct secret_opts *so, struct keysrc_opts *ko, int opt,
	       const char *arg);

/*
 * The exit status for a keysrc_unlock() result (or any result where a
 * wrong key is the one failure with its own status): EXIT_OK for 0,
 * EXIT_BADKEY for -PHV_EBADKEY, EXIT_FAIL for anything else.
 */
int unlock_exit(int r);

#endif /* TOOLS_UNLOCK_H */
