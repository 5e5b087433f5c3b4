/* SPDX-License-Identifier: MIT */
/*
 * volopt.h - the global `--volume NAME` (`-V NAME`) option of phivault:
 * run any subcommand with the settings of /etc/phivault/NAME.conf.
 *
 * How the settings reach a subcommand, without the subcommand knowing
 * (docs/CONFIG.md, "How commands use the file"):
 *
 *  1. Every setting that has an environment variable is exported as that
 *     variable (PHIVAULT_REPOSITORY, PHIVAULT_PASSPHRASE_FILE,
 *     AWS_ENDPOINT_URL, ...) unless the variable is already set: the
 *     caller's environment wins over the file.
 *  2. For the subcommands listed in volopt.c, the options and positional
 *     arguments the file can supply are inserted into argv: options right
 *     after the subcommand (and its verb: "key add", "repo init"), so the
 *     user's own options, which come later, win; positionals (CIPHERDIR,
 *     MOUNTPOINT, SOURCE, the policy file, the audit log) at the end,
 *     except for commands that take more arguments after CIPHERDIR (key
 *     retire, shred, retention set|remove), where CIPHERDIR goes before
 *     what the user typed.  With --volume those positionals are
 *     therefore never typed.
 */
#ifndef TOOLS_VOLOPT_H
#define TOOLS_VOLOPT_H

/*
 * Strip leading global options from *argcp and *argvp (argv[0] is the
 * program).  When a volume is named, load its file, export it and insert
 * arguments as above; the new argv is malloc'ed and lives until exit.
 * Returns 0, or an exit status (EXIT_USAGE, EXIT_FAIL) with the reason
 * printed naming the file.
 */
int volopt_apply(int *argcp, char ***argvp);

/* The volume named by --volume, or NULL. */
const char *volopt_name(void);

#endif /* TOOLS_VOLOPT_H */
