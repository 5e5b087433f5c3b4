// SPDX-License-Identifier: MIT
/*
 * phivault.c - entry point: dispatch argv[1] through the subcommand table.
 *
 * The table is the single list of what the binary can do; `phivault help`
 * prints it, `phivault help CMD` and `CMD --help` print one row in full.
 * Nothing here knows what a subcommand does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/log.h"
#include "crypto/secmem.h"
#include "cmd.h"
#include "volopt.h"

#define PHIVAULT_VERSION "0.1.0"

static const struct cmd cmds[] = {
	{ "init", cmd_init,
	  "init [--passphrase-file F | --passphrase-command CMD | --keyfile F "
	  "| --token-label T ... | --key-command CMD] [--recovery-key "
	  "[--shares N --threshold M]] [--label L] [--block-size N] "
	  "[--argon2 T:M:P] CIPHERDIR",
	  "Create a new encrypted volume in the empty directory CIPHERDIR.\n"
	  "The passphrase is read from the terminal unless a file or command\n"
	  "gives it; it is never taken from the command line." },
	{ "mount", cmd_mount,
	  "mount [-f] [-o OPTS] [--passphrase-file F | ...] [--policy] "
	  "[--audit-log F] [--audit-rotate-size SIZE] "
	  "[--audit-rotate-age AGE] [--audit-syslog] [--control-socket S] "
	  "[--alert-hook CMD] [--volume-name N] CIPHERDIR MOUNTPOINT",
	  "Unlock CIPHERDIR and mount its plaintext view at MOUNTPOINT.\n"
	  "Runs in the background unless -f is given.  As root the mount is\n"
	  "shared (allow_other, default_permissions).  Unmount with\n"
	  "`fusermount3 -u MOUNTPOINT`; SIGTERM also shuts down cleanly.\n"
	  "An access policy installed with `policy set` is always enforced\n"
	  "and audited (docs/POLICY.md); --policy refuses to mount a volume\n"
	  "without one.  Without a policy only mode bits protect the files.\n"
	  "Audit log (default /var/log/phivault/NAME.audit.jsonl), control\n"
	  "socket (default /run/phivault/NAME.sock) and alert hook also come\n"
	  "from PHIVAULT_AUDIT_LOG, PHIVAULT_SOCKET, PHIVAULT_ALERT_HOOK; NAME\n"
	  "is --volume-name, PHIVAULT_VOLUME_NAME, --volume or CIPHERDIR's\n"
	  "base name." },
	{ "fsck", cmd_fsck,
	  "fsck [--passphrase-file F | ...] CIPHERDIR",
	  "Check every name, header and block of an unmounted volume and list\n"
	  "each damaged file and block.  Exit status 4 when anything is damaged." },
	{ "info", cmd_info,
	  "info CIPHERDIR",
	  "Show a volume's format, block size, key slots and key versions,\n"
	  "without unlocking it and without printing any secret." },
	{ "key", cmd_key,
	  "key list|add|remove|rotate|rewrap|retire|recovery|token-keygen "
	  "... [CIPHERDIR]",
	  "Manage how a volume can be unlocked (docs/KEYS.md):\n"
	  "  key list CIPHERDIR          slots with type, creation time, label\n"
	  "  key add [unlock opts] [--new-keyfile F | --new-passphrase-file F\n"
	  "          | --new-token | --new-key-command CMD] [--label L] DIR\n"
	  "  key remove --slot N [unlock opts] DIR   (never the last slot)\n"
	  "  key recovery new | split --shares N --threshold M | combine\n"
	  "          | keyfile OUT       recovery keys and their shares (stdin)\n"
	  "  key token-keygen --pkcs11-module P --token-label T --key-label K\n"
	  "Token slots: --pkcs11-module, --token-label, --key-label, PIN from\n"
	  "--pin-file, --pin-command or the terminal.  Key service slots:\n"
	  "--key-command CMD (run as CMD wrap|unwrap, base64 on stdin/stdout).\n"
	  "  key rotate DIR              new KEK version, current at once\n"
	  "  key rewrap DIR              move every file to the current KEK\n"
	  "  key retire DIR VERSION      destroy an unused KEK version" },
	{ "shred", cmd_shred,
	  "shred [--yes] [--dry-run] [--mountpoint MNT] [unlock options] "
	  "CIPHERDIR PATH...",
	  "Destroy files for good: each file's data key is overwritten on\n"
	  "disk, then the file is removed; directories are shredded\n"
	  "recursively.  PATHs are paths inside the volume, or with\n"
	  "--mountpoint, paths under that mount of CIPHERDIR.  Asks for 'yes'\n"
	  "on a terminal unless --yes.  Older copies of the backing directory\n"
	  "and backup snapshots keep the file: see docs/KEYS.md." },
	{ "retention", cmd_retention,
	  "retention list|set|remove|apply [--dry-run] [unlock options] "
	  "CIPHERDIR [PATH [AGE]]",
	  "Rules that shred old files (docs/KEYS.md, \"Retention rules\"):\n"
	  "  retention set DIR PATH AGE   files under PATH older than AGE\n"
	  "                               (by mtime; 30d, 26w, 7y) are shredded\n"
	  "  retention remove DIR PATH    drop the rule for PATH\n"
	  "  retention list DIR           show the rules\n"
	  "  retention apply [--dry-run] DIR   shred what the rules say, and\n"
	  "                               list it (for cron; no questions)\n"
	  "The rules are kept in the volume config, sealed." },
	{ "repo", cmd_repo,
	  "repo init [--lock-mode governance|compliance] [--retention 90d]",
	  "Create a backup repository: --repo s3://bucket/prefix (bucket made\n"
	  "with Object Lock) or a local directory (no immutability).  The\n"
	  "repository and its passphrase come from --repo URL and\n"
	  "--repo-passphrase-file F, or PHIVAULT_REPOSITORY and\n"
	  "PHIVAULT_REPO_PASSPHRASE_FILE; --endpoint or AWS_ENDPOINT_URL." },
	{ "backup", cmd_backup,
	  "backup [--json] [--workers N] [--retention-step DUR] [--host H] "
	  "SOURCE",
	  "Store an encrypted, deduplicated snapshot of SOURCE (a volume's\n"
	  "CIPHERDIR, read directly with --passphrase-file F or\n"
	  "PHIVAULT_PASSPHRASE_FILE, or a plain directory).  The snapshot\n"
	  "records SOURCE's absolute path and the host (--host H, default\n"
	  "this machine's name); the newest snapshot of the same host and\n"
	  "source is the parent.  --workers N: 1 to 32 upload threads.\n"
	  "Exit 3 when some files could not be read (they are listed); 6\n"
	  "when S3 refuses the AWS credentials.  Objects are locked a\n"
	  "retention step (default retention/8, at most 7d; 0 for none)\n"
	  "beyond the retention, so the next backups need not extend them." },
	{ "snapshots", cmd_snapshots,
	  "snapshots [--source PATH] [--host H] [--json]",
	  "List the snapshots in the repository with their host and source,\n"
	  "or only those of --source PATH and --host H." },
	{ "forget", cmd_forget,
	  "forget [--keep-last N] [--keep-daily N] [--keep-weekly N] "
	  "[--keep-monthly N] [--dry-run]",
	  "Delete snapshots outside the policy whose Object Lock expired;\n"
	  "report those still locked.  Exit 3 when some are still locked." },
	{ "prune", cmd_prune, "prune",
	  "Delete packs no snapshot needs once their retention expired." },
	{ "check", cmd_check, "check [--read-data]",
	  "Check every snapshot's packs exist; --read-data decrypts and\n"
	  "verifies every chunk.  Exit 4 when damage is found." },
	{ "restore", cmd_restore,
	  "restore SNAPSHOT [PATH...] (--target DIR | --into CIPHERDIR "
	  "[--passphrase-file F]) [--source PATH] [--host H] "
	  "[--overwrite never|if-changed|always] [--workers N] [--json]",
	  "Restore a snapshot (ID, unique ID prefix, 'latest', or a time\n"
	  "\"2026-11-30 08:00\" meaning the newest one before it), or only\n"
	  "PATHs of it, into DIR, or re-encrypted into the phivault volume\n"
	  "CIPHERDIR (its passphrase from --passphrase-file or\n"
	  "PHIVAULT_PASSPHRASE_FILE); every file is verified.  'latest' and\n"
	  "times mean the newest snapshot of one source: --source PATH (as\n"
	  "'phivault snapshots' shows it) and --host H, or with --into the\n"
	  "volume's own; with several sources and none named, restore\n"
	  "refuses and lists them.  DIR must not be inside a volume.  Exit 3\n"
	  "when some files failed (listed), 4 when a damaged snapshot may be\n"
	  "the newest, 6 when S3 refuses the AWS credentials." },
	{ "drill", cmd_drill,
	  "drill [run|verify REPORT...|history] [--snapshot ID | --random] "
	  "[--sample 10%] [--rpo-target 26h] [--rto-target 4h] "
	  "[--report-dir DIR] [--alert-hook CMD] [--scratch DIR] "
	  "[--keep-scratch] [--no-lock-check] [--no-delete-probe] "
	  "[--no-store] [-q|--quiet] [--json]",
	  "Restore a snapshot (or a random --sample of its files) into a\n"
	  "scratch directory, verify every byte, check the Object Lock of\n"
	  "every object it needs (and that a locked version cannot be\n"
	  "deleted), look for deleted or overwritten objects, measure RPO\n"
	  "(per source) and RTO against the targets, and write a signed\n"
	  "JSON, text and HTML report (docs/DRILLS.md).  Exit 1 when any\n"
	  "check fails, after running --alert-hook.  --scratch DIR: restore\n"
	  "under DIR (default a private 0700 directory in $TMPDIR or\n"
	  "/var/tmp); --keep-scratch leaves the PLAINTEXT restore there;\n"
	  "--no-lock-check, --no-delete-probe: skip those checks; --no-store:\n"
	  "keep no copy in the repository; -q: no text summary; --json: the\n"
	  "JSON report instead.  'verify' checks a report's signature (exit\n"
	  "4 when it was edited); 'history' lists the drills kept in the\n"
	  "repository (exit 4 when one does not verify)." },
	{ "policy", cmd_policy,
	  "policy check FILE | policy set [--passphrase-file F | ...] "
	  "CIPHERDIR FILE | policy remove [--passphrase-file F | ...] "
	  "CIPHERDIR | policy explain [-p FILE | -S SOCK] USER PATH OPS",
	  "check lints a draft policy (errors and warnings with line numbers;\n"
	  "exit 3 when there are warnings).  set unlocks CIPHERDIR, seals the\n"
	  "policy into it, records it in the volume's config (from then on a\n"
	  "mount refuses a missing or older policy file) and asks the running\n"
	  "mount to reload.  remove lifts that requirement and deletes the\n"
	  "file (audited).  explain says which rule decides, against a draft\n"
	  "(-p) or the live mount.  Format: docs/POLICY.md." },
	{ "grant", cmd_grant,
	  "grant [-S SOCK] USER ROLE PATH --for DUR --ticket T --reason R",
	  "Give USER the ROLE below PATH for DUR (at most the role's\n"
	  "max-grant) in the running mount.  Needs admin on PATH." },
	{ "grants", cmd_grants, "grants [-S SOCK]",
	  "List the live grants you hold or may manage." },
	{ "revoke", cmd_revoke, "revoke [-S SOCK] ID", "End a grant now." },
	{ "break-glass", cmd_break_glass,
	  "break-glass [-S SOCK] --reason R",
	  "Take the policy's emergency role for its fixed time, if the policy\n"
	  "names you as eligible.  Logged at alert level; runs the alert hook." },
	{ "audit", cmd_audit,
	  "audit verify [--volume CIPHERDIR | --pubkey K] [--state F] "
	  "[--partial] LOG | audit report [--user U] [--path GLOB] "
	  "[--since T] [--until T] [--op OP] [--json] [--break-glass] LOG",
	  "verify checks the chain, MACs (with --volume) and checkpoint\n"
	  "signatures of LOG and its rotated segments; exit 4 names the first\n"
	  "bad record.  report filters records.  Schema: docs/AUDIT.md." },
	{ "doctor", cmd_doctor, "doctor NAME",
	  "Check the volume configured in /etc/phivault/NAME.conf: the key\n"
	  "source unlocks it, the mount answers, the audit chain verifies,\n"
	  "the repository is reachable under Object Lock in the expected\n"
	  "mode, the clocks agree, and the last backup and drill are recent\n"
	  "enough.  Prints PASS, FAIL or SKIP per check and what to do;\n"
	  "exit 1 when any check fails.  Never prompts and never writes." },
	{ "help", cmd_help, "help [CMD]", "Show the commands, or one in full." },
	{ "version", cmd_version, "version", "Print the version." },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char exit_text[] =
	"Exit status: 0 success, 1 failure, 2 usage error, 3 partial success\n"
	"(some items failed and are listed), 4 damage found, 5 wrong key,\n"
	"6 S3 refused the AWS credentials.\n";

static const struct cmd *cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

int cmd_usage(const char *name, int status)
{
	const struct cmd *c = cmd_find(name);
	FILE *f = status ? stderr : stdout;

	if (!c)
		return EXIT_USAGE;
	fprintf(f, "usage: phivault %s\n\n%s\n\n%s", c->usage, c->help,
		exit_text);
	return status;
}

const struct cmd_sub *cmd_sub_find(const struct cmd_sub *tab, size_t n,
				   int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return NULL;
	for (i = 0; i < n; i++)
		if (!strcmp(argv[1], tab[i].name))
			return &tab[i];
	return NULL;
}

void cmd_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "phivault: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int cmd_help(int argc, char **argv)
{
	size_t i;

	if (argc > 1) {
		if (!cmd_find(argv[1])) {
			fprintf(stderr, "phivault: unknown command '%s'; "
				"see 'phivault help'\n", argv[1]);
			return EXIT_USAGE;
		}
		return cmd_usage(argv[1], EXIT_OK);
	}
	printf("usage: phivault [--volume NAME] COMMAND [ARGS]\n\n"
	       "phivault keeps protected health information in an encrypted\n"
	       "volume, controls and audits access to it, and backs it up to\n"
	       "S3 under Object Lock.\n\nCommands:\n");
	for (i = 0; i < NCMDS; i++)
		printf("  %s\n", cmds[i].usage);
	printf("\n--volume NAME (-V NAME) takes settings and arguments from\n"
	       "/etc/phivault/NAME.conf (docs/CONFIG.md).\n"
	       "'phivault help CMD' or 'phivault CMD --help' explains one.\n"
	       "%s", exit_text);
	return EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
	printf("phivault %s\n", PHIVAULT_VERSION);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	int i;

	/* no core dumps and no ptrace by other users: we hold keys */
	prctl(PR_SET_DUMPABLE, 0);
	secmem_init();
	log_set_ident("phivault");

	/* --volume NAME: settings from /etc/phivault/NAME.conf (volopt.h) */
	i = volopt_apply(&argc, &argv);
	if (i)
		return i;

	if (argc < 2)
		return cmd_help(1, argv);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv);
	c = cmd_find(argv[1]);
	if (!c) {
		fprintf(stderr, "phivault: unknown command '%s'; "
			"see 'phivault help'\n", argv[1]);
		return EXIT_USAGE;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return cmd_usage(c->name, EXIT_OK);
	}
	return c->fn(argc - 1, argv + 1);
}
