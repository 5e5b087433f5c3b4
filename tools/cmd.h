/* SPDX-License-Identifier: MIT */
/*
 * cmd.h - the subcommands of the phivault binary.
 *
 * Every subcommand is a function `int cmd_NAME(int argc, char **argv)`
 * that receives argv[0] == "NAME", parses its own options with getopt_long
 * and returns an exit status (see EXIT_* below and `phivault help`).
 * To add one: define it in tools/cmd_<subsystem>.c, declare it here and
 * add one row to the table in tools/phivault.c.
 */
#ifndef TOOLS_CMD_H
#define TOOLS_CMD_H

#include <stddef.h>

/* Exit statuses shared by every subcommand (documented in `help`). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the operation failed */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_PARTIAL = 3,	/* done, but some items failed (listed) */
	EXIT_DAMAGED = 4,	/* fsck/check/verify found damage */
	EXIT_BADKEY = 5,	/* wrong passphrase, key file or token */
	EXIT_CREDS = 6,		/* S3 refused the AWS credentials */
};

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;	/* one line of synopsis */
	const char *help;	/* a paragraph shown by `phivault help NAME` */
};

/* Print `phivault help NAME` to stdout; used by every --help. */
int cmd_usage(const char *name, int status);

/* One row of a subcommand's own table (`key add`, `audit verify`). */
struct cmd_sub {
	const char *name;
	int (*fn)(int argc, char **argv);
};

/* The row of tab[0..n) named by argv[1], or NULL when there is none or
 * argc < 2.  The caller runs row->fn(argc - 1, argv + 1). */
const struct cmd_sub *cmd_sub_find(const struct cmd_sub *tab, size_t n,
				   int argc, char **argv);

/* Print "phivault: <message>\n" to stderr, always (cron mails it). */
void cmd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* fs/: the encrypted volume */
int cmd_init(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* tools/cmd_key.c: key slots, token keys, recovery keys */
int cmd_key(int argc, char **argv);

/* tools/cmd_shred.c: destroy files for good; retention rules */
int cmd_shred(int argc, char **argv);
int cmd_retention(int argc, char **argv);

/* tools/cmd_backup.c: encrypted backups to S3 under Object Lock */
int cmd_repo(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_snapshots(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_restore(int argc, char **argv);

/* tools/cmd_drill.c: restore drills and their signed reports */
int cmd_drill(int argc, char **argv);

/* tools/cmd_policy.c: access policy, grants, break-glass, audit log */
int cmd_policy(int argc, char **argv);
int cmd_grant(int argc, char **argv);
int cmd_grants(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_break_glass(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/* tools/cmd_doctor.c: one health check of a configured volume */
int cmd_doctor(int argc, char **argv);

#endif /* TOOLS_CMD_H */
