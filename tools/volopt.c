// SPDX-License-Identifier: MIT
/*
 * volopt.c - `phivault --volume NAME COMMAND ...` (volopt.h).
 *
 * The rules below are the only place that knows which subcommand takes
 * which setting as an option or positional argument; the subcommands
 * themselves only read their options and the environment.  A rule
 * matches a command and, for commands with verbs, the verb ("" matches
 * "no verb given", as `drill` alone means `drill run`).  Settings the
 * file does not set are simply not inserted; a positional the command
 * cannot do without is an error naming the file and the setting.
 *
 * Positionals go at the end, unless the command takes more operands
 * after the ones the file supplies (`key retire CIPHERDIR VERSION`,
 * `shred CIPHERDIR PATH...`): then they go before the user's arguments,
 * and getopt_long, which moves options ahead of operands in order, sees
 * them first.  With POSIXLY_CORRECT set getopt_long would stop at the
 * cipherdir and read the user's options as operands (`shred --dry-run
 * x` would shred "--dry-run" and "x"), so such rules are refused then.
 *
 * Unlock options (--keyfile, --passphrase-command, token labels) are
 * inserted only when the command line names no unlock source itself,
 * because the secret sources have a fixed precedence (tools/secret.h)
 * and a key file from the file would otherwise beat a --passphrase-file
 * typed by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "cmd.h"
#include "volopt.h"

#define VOL_NAME	((enum conf_key)-1)	/* the volume's own name */
#define MAX_OPTS	4
#define MAX_POS		2

enum vrule_flags {
	V_SECRET = 1U << 0,	/* takes SECRET_LONGOPTS */
	V_KEYSRC = 1U << 1,	/* takes KEYSRC_LONGOPTS */
	V_POSFIRST = 1U << 2,	/* positionals before the user's arguments */
};

struct vopt {
	enum conf_key key;
	const char *opt;	/* NULL ends the list */
};

struct vrule {
	const char *cmd;
	const char *verb;	/* NULL: the command has no verbs */
	unsigned int flags;
	struct vopt opts[MAX_OPTS + 1];
	enum conf_key pos[MAX_POS];
	int npos;
};

static const struct vrule rules[] = {
	{ "init", NULL, V_SECRET, { { 0 } }, { CONF_CIPHERDIR }, 1 },
	{ "mount", NULL, V_SECRET,
	  { { CONF_MOUNT_OPTIONS, "-o" } },
	  { CONF_CIPHERDIR, CONF_MOUNTPOINT }, 2 },
	{ "fsck", NULL, V_SECRET, { { 0 } }, { CONF_CIPHERDIR }, 1 },
	{ "info", NULL, 0, { { 0 } }, { CONF_CIPHERDIR }, 1 },
	{ "key", "list", 0, { { 0 } }, { CONF_CIPHERDIR }, 1 },
	{ "key", "add", V_SECRET | V_KEYSRC, { { 0 } }, { CONF_CIPHERDIR }, 1 },
	{ "key", "remove", V_SECRET | V_KEYSRC, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "key", "rotate", V_SECRET | V_KEYSRC, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "key", "rewrap", V_SECRET | V_KEYSRC, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "key", "retire", V_SECRET | V_KEYSRC | V_POSFIRST, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "shred", NULL, V_SECRET | V_KEYSRC | V_POSFIRST, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "retention", "list", V_SECRET | V_KEYSRC, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "retention", "apply", V_SECRET | V_KEYSRC, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "retention", "set", V_SECRET | V_KEYSRC | V_POSFIRST, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "retention", "remove", V_SECRET | V_KEYSRC | V_POSFIRST, { { 0 } },
	  { CONF_CIPHERDIR }, 1 },
	{ "repo", "init", 0,
	  { { CONF_LOCK_MODE, "--lock-mode" },
	    { CONF_RETENTION, "--retention" } }, { 0 }, 0 },
	{ "backup", NULL, V_SECRET, { { 0 } }, { CONF_BACKUP_SOURCE }, 1 },
	{ "forget", NULL, 0,
	  { { CONF_KEEP_LAST, "--keep-last" },
	    { CONF_KEEP_DAILY, "--keep-daily" },
	    { CONF_KEEP_WEEKLY, "--keep-weekly" },
	    { CONF_KEEP_MONTHLY, "--keep-monthly" } }, { 0 }, 0 },
	{ "drill", "", 0,
	  { { CONF_RPO, "--rpo-target" }, { CONF_RTO, "--rto-target" },
	    { CONF_DRILL_SAMPLE, "--sample" },
	    { CONF_ALERT_HOOK, "--alert-hook" } }, { 0 }, 0 },
	{ "drill", "run", 0,
	  { { CONF_RPO, "--rpo-target" }, { CONF_RTO, "--rto-target" },
	    { CONF_DRILL_SAMPLE, "--sample" },
	    { CONF_ALERT_HOOK, "--alert-hook" } }, { 0 }, 0 },
	{ "policy", "check", 0, { { 0 } }, { CONF_POLICY }, 1 },
	{ "policy", "set", V_SECRET, { { 0 } },
	  { CONF_CIPHERDIR, CONF_POLICY }, 2 },
	{ "audit", "verify", V_SECRET,
	  { { CONF_CIPHERDIR, "--volume" },
	    { CONF_AUDIT_PUBKEY, "--pubkey" } }, { CONF_AUDIT_LOG }, 1 },
	{ "audit", "report", 0, { { 0 } }, { CONF_AUDIT_LOG }, 1 },
	{ "doctor", NULL, 0, { { 0 } }, { VOL_NAME }, 1 },
};

#define NRULES	(sizeof(rules) / sizeof(rules[0]))

/* Settings inserted as unlock options, and the option names that mean
 * "the user chose an unlock source". */
static const struct vopt secret_opts[] = {
	{ CONF_KEYFILE, "--keyfile" },
	{ CONF_PASSPHRASE_COMMAND, "--passphrase-command" },
	{ 0, NULL },
};
static const struct vopt keysrc_opts[] = {
	{ CONF_TOKEN_LABEL, "--token-label" },
	{ CONF_KEY_LABEL, "--key-label" },
	{ CONF_PIN_FILE, "--pin-file" },
	{ CONF_PIN_COMMAND, "--pin-command" },
	{ 0, NULL },
};
static const char *const unlock_words[] = {
	"--keyfile", "--passphrase-file", "--passphrase-command",
	"--token-label", "--key-command",
};

static const char *vol_name;

const char *volopt_name(void)
{
	return vol_name;
}

static const struct vrule *rule_find(int argc, char **argv)
{
	const char *verb = argc > 2 && argv[2][0] != '-' ? argv[2] : "";
	size_t i;

	for (i = 0; i < NRULES; i++) {
		if (strcmp(rules[i].cmd, argv[1]))
			continue;
		if (!rules[i].verb || !strcmp(rules[i].verb, verb))
			return &rules[i];
	}
	return NULL;
}

static int user_chose_unlock(int argc, char **argv)
{
	size_t j, n;
	int i;

	for (i = 2; i < argc && strcmp(argv[i], "--"); i++) {
		for (j = 0; j < sizeof(unlock_words) / sizeof(*unlock_words);
		     j++) {
			n = strlen(unlock_words[j]);
			if (!strncmp(argv[i], unlock_words[j], n) &&
			    (argv[i][n] == '\0' || argv[i][n] == '='))
				return 1;
		}
	}
	return 0;
}

/* Append "opt value" for every set setting of list. */
static void add_opts(const struct conf *c, const struct vopt *list,
		     char **out, int *n)
{
	const char *v;

	for (; list->opt; list++) {
		v = conf_get(c, list->key);
		if (!v)
			continue;
		out[(*n)++] = (char *)list->opt;
		out[(*n)++] = (char *)v;
	}
}

/* Append the positionals of rule ru; returns 0 or an exit status. */
static int add_pos(const struct conf *c, const struct vrule *ru, char **out,
		   int *n)
{
	const char *v;
	int i;

	for (i = 0; i < ru->npos; i++) {
		if (ru->pos[i] == VOL_NAME) {
			out[(*n)++] = (char *)conf_name(c);
			continue;
		}
		v = conf_get_def(c, ru->pos[i]);
		if (!v) {
			fprintf(stderr, "phivault: %s sets no '%s', which "
				"'%s' needs\n", conf_file(c),
				conf_key_info(ru->pos[i])->name, ru->cmd);
			return EXIT_USAGE;
		}
		out[(*n)++] = (char *)v;
	}
	return 0;
}

/* Build the new argv for rule ru; returns 0 or an exit status. */
static int rewrite(const struct conf *c, const struct vrule *ru, int *argcp,
		   char ***argvp)
{
	int argc = *argcp, n = 0, i, at, r = 0;
	char **argv = *argvp, **out;

	/* every option list holds at most 4 pairs; three lists at most */
	out = calloc((size_t)argc + 3 * 2 * MAX_OPTS + MAX_POS + 1,
		     sizeof(*out));
	if (!out) {
		fprintf(stderr, "phivault: out of memory\n");
		return EXIT_FAIL;
	}
	at = ru->verb && ru->verb[0] ? 3 : 2;
	for (i = 0; i < at; i++)
		out[n++] = argv[i];
	add_opts(c, ru->opts, out, &n);
	if (!user_chose_unlock(argc, argv)) {
		if (ru->flags & V_SECRET)
			add_opts(c, secret_opts, out, &n);
		if (ru->flags & V_KEYSRC)
			add_opts(c, keysrc_opts, out, &n);
	}
	if (ru->flags & V_POSFIRST && getenv("POSIXLY_CORRECT")) {
		fprintf(stderr, "phivault: --volume cannot insert the "
			"cipherdir for '%s' while POSIXLY_CORRECT is set\n",
			ru->cmd);
		r = EXIT_USAGE;
	} else if (ru->flags & V_POSFIRST) {
		r = add_pos(c, ru, out, &n);
	}
	for (i = at; !r && i < argc; i++)
		out[n++] = argv[i];
	if (!r && !(ru->flags & V_POSFIRST))
		r = add_pos(c, ru, out, &n);
	if (r) {
		free(out);
		return r;
	}
	out[n] = NULL;
	*argcp = n;
	*argvp = out;
	return 0;
}

/* "--volume NAME", "--volume=NAME", "-V NAME", "-VNAME"; 0 when not one. */
static int take_volume(int argc, char **argv, const char **namep)
{
	const char *a = argv[1];

	if (!strncmp(a, "--volume=", 9)) {
		*namep = a + 9;
		return 1;
	}
	if (!strncmp(a, "-V", 2) && a[2]) {
		*namep = a + 2;
		return 1;
	}
	if (strcmp(a, "--volume") && strcmp(a, "-V"))
		return 0;
	if (argc < 3) {
		fprintf(stderr, "phivault: %s needs a volume name\n", a);
		return -1;
	}
	*namep = argv[2];
	return 2;
}

int volopt_apply(int *argcp, char ***argvp)
{
	struct conf *c = NULL;
	const struct vrule *ru;
	const char *name = NULL;
	char msg[768];
	int argc = *argcp, used, r;
	char **argv = *argvp;

	if (argc < 2)
		return 0;
	used = take_volume(argc, argv, &name);
	if (used < 0)
		return EXIT_USAGE;
	if (!used)
		return 0;
	/* drop the global option, keep argv[0] */
	argv[used] = argv[0];
	argv += used;
	argc -= used;
	*argcp = argc;
	*argvp = argv;

	r = conf_load(name, &c, msg, sizeof(msg));
	if (r) {
		fprintf(stderr, "phivault: %s\n", msg);
		return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	/* c lives until exit: argv and the environment point into it */
	vol_name = conf_name(c);
	if (conf_export_env(c)) {
		fprintf(stderr, "phivault: cannot set the environment\n");
		return EXIT_FAIL;
	}
	if (argc < 2)
		return 0;
	ru = rule_find(argc, argv);
	return ru ? rewrite(c, ru, argcp, argvp) : 0;
}
