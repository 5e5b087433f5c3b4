/* SPDX-License-Identifier: MIT */
/*
 * secret.h - obtain the secret that unlocks a key slot, for every
 * subcommand that unlocks something (a volume or a backup repository).
 *
 * Sources, in order of precedence: a key file (--keyfile, refused when
 * group or others can read it), a passphrase file (--passphrase-file, or
 * the environment variable the caller names), a passphrase command
 * (--passphrase-command: its standard output, run by /bin/sh with a
 * time-out), and last the terminal with echo off.  Never the command line.
 * A trailing newline is stripped from passphrase files and commands.
 * Errors are printed to stderr with the offending file or command named,
 * and with the secret named ("repository passphrase", "volume
 * passphrase") so a cron mail tells which of several secrets is missing.
 * A passphrase file that group or others can read is used, with a
 * warning that names it and the chmod that fixes it.
 */
#ifndef TOOLS_SECRET_H
#define TOOLS_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keyslot.h"

struct secret_opts {
	const char *keyfile;
	const char *passphrase_file;
	const char *passphrase_command;
	const char *env_file;	/* variable naming a passphrase file */
	/*
	 * For messages; NULL picks them from env_file
	 * (PHIVAULT_PASSPHRASE_FILE: the volume passphrase,
	 * PHIVAULT_REPO_PASSPHRASE_FILE: the repository passphrase).
	 */
	const char *what;	/* "volume passphrase", "token PIN" */
	const char *hint;	/* the options and variables that supply it */
};

struct secret {
	uint8_t *data;			/* secmem; not NUL-terminated */
	size_t len;
	enum keyslot_type type;		/* KEYSLOT_PASSPHRASE or _KEYFILE */
};

/* A new passphrase shorter than this (in characters) gets a warning. */
#define SECRET_WEAK_LEN	12

/*
 * Fill *s from the first configured source.  prompt is shown on the
 * terminal.  confirm means a new secret is being set (init, repo init,
 * key add): the terminal asks twice and compares, and a passphrase
 * shorter than SECRET_WEAK_LEN characters gets a warning (an empty one
 * is refused from every source).
 * Returns 0 or a negative code (message already printed).
 */
int secret_get(const struct secret_opts *o, const char *prompt, int confirm,
	       struct secret *s);

/* Wipe and free; safe on a zeroed or already released secret. */
void secret_release(struct secret *s);

/* getopt_long helpers: the shared option names and their handler. */
#define SECRET_LONGOPTS							\
	{ "keyfile", required_argument, NULL, 0x1001 },			\
	{ "passphrase-file", required_argument, NULL, 0x1002 },		\
	{ "passphrase-command", required_argument, NULL, 0x1003 }

/* Returns 1 when opt was one of SECRET_LONGOPTS (and stores it). */
int secret_opt(struct secret_opts *o, int opt, const char *arg);

#endif /* TOOLS_SECRET_H */
