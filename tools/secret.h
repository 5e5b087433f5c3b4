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
 * Errors are printed to stderr with the offending file or command named.
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
};

struct secret {
	uint8_t *data;			/* secmem; not NUL-terminated */
	size_t len;
	enum keyslot_type type;		/* KEYSLOT_PASSPHRASE or _KEYFILE */
};

/*
 * Fill *s from the first configured source.  prompt is shown on the
 * terminal; with confirm set the terminal asks twice and compares.
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
