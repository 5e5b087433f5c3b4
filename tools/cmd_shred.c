// SPDX-License-Identifier: MIT
/*
 * cmd_shred.c - `phivault shred`: destroy files of a volume for good by
 * destroying their data keys (vol_file_shred), recursively for
 * directories.
 *
 * Interface: the volume is always named by its backing directory, and
 * the paths are either plaintext paths inside the volume ("/a/b" or
 * "a/b"), or, with --mountpoint MNT, ordinary paths to files under the
 * volume's mount point, which are mapped to volume paths by their prefix.
 * Nothing is guessed from the mount table.  With a mount point, names
 * are removed through the mount, so the kernel forgets them and their
 * cached pages at once (and the mount's policy and audit see it); the
 * headers are destroyed through the backing directory first.  The
 * volume root is refused.
 * On a terminal the paths are listed and "yes" is asked for, unless
 * --yes; without a terminal --yes is required.  What shredding can and
 * cannot do: docs/KEYS.md, "Shred".
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/err.h"
#include "fs/vol.h"
#include "cliaudit.h"
#include "cmd.h"
#include "keysrc.h"
#include "keytree.h"
#include "secret.h"
#include "unlock.h"

struct shred {
	unsigned long files, dirs, links, failed;
	int dry_run;
	const char *mnt;	/* remove names through this mount */
	const char *cur;	/* the volume path being removed */
};

/* Remove a name through the mount, so the kernel drops its dentry and
 * cached pages at once (the daemon unlinks the backing file). */
static int mount_remove(void *ctx)
{
	struct shred *sh = ctx;
	char p[PATH_MAX * 2];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", sh->mnt, sh->cur);
	if (lstat(p, &st))
		return -errno;
	if (S_ISDIR(st.st_mode) ? rmdir(p) : unlink(p))
		return -errno;
	return 0;
}

/* Remove a symlink or an empty directory, through the mount if any. */
static int name_remove(struct vol *vol, const char *path, struct shred *sh)
{
	if (!sh->mnt)
		return vol_remove(vol, path);
	sh->cur = path;
	return mount_remove(sh);
}

static void shred_fail(struct shred *sh, const char *path, int r)
{
	sh->failed++;
	if (r == -EMLINK)
		fprintf(stderr, "phivault shred: '/%s' has other hard links; "
			"remove them first (they share its key)\n", path);
	else
		fprintf(stderr, "phivault shred: '/%s': %s\n", path,
			phv_strerror(r));
}

static int shred_leaf(struct vol *vol, const char *path,
		      const struct stat *st, void *ctx)
{
	struct shred *sh = ctx;
	int r;

	if (sh->dry_run) {
		printf("would shred /%s\n", path);
		return 0;
	}
	sh->cur = path;
	if (S_ISREG(st->st_mode))
		r = vol_file_shred(vol, path,
				   sh->mnt ? mount_remove : NULL, sh);
	else
		r = name_remove(vol, path, sh);	/* no file data */
	if (r && r != -ENOENT) {
		shred_fail(sh, path, r);
		return 0;
	}
	if (S_ISREG(st->st_mode))
		sh->files++;
	else
		sh->links++;
	return 0;
}

static int shred_post(struct vol *vol, const char *path,
		      const struct stat *st, void *ctx)
{
	struct shred *sh = ctx;
	int r;

	if (sh->dry_run)
		return 0;
	r = name_remove(vol, path, sh);
	if (r == -ENOTEMPTY)
		return 0;	/* something inside failed and was reported */
	if (r && r != -ENOENT)
		shred_fail(sh, path, r);
	else
		sh->dirs++;
	return 0;
}

/* Shred one volume path, a file or a whole directory. */
static int shred_path(struct vol *vol, const char *path,
		      struct shred *sh)
{
	struct stat st;
	int r;

	r = vol_stat(vol, path, &st);
	if (r) {
		shred_fail(sh, path, r);
		return r;
	}
	if (!S_ISDIR(st.st_mode))
		return shred_leaf(vol, path, &st, sh);
	r = keytree_walk(vol, path, shred_leaf, shred_post, sh);
	if (!r)
		r = shred_post(vol, path, &st, sh);
	return r;
}

/*
 * Turn an argument into a volume path (no leading '/') in out.  With a
 * mount point, arg is a file system path that must lie below it.
 * Returns 0, or -EINVAL for the root or a path outside the mount.
 */
static int map_path(const char *arg, const char *mnt, char *out,
		    size_t size)
{
	char cwd[PATH_MAX], abs[PATH_MAX * 2];
	const char *p = arg;
	size_t n;

	if (mnt) {
		if (arg[0] != '/' && !getcwd(cwd, sizeof(cwd)))
			return -errno;
		snprintf(abs, sizeof(abs), "%s%s%s", arg[0] == '/' ? "" : cwd,
			 arg[0] == '/' ? "" : "/", arg);
		n = strlen(mnt);
		if (strncmp(abs, mnt, n) || (abs[n] && abs[n] != '/'))
			return -EXDEV;
		p = abs + n;
	}
	while (*p == '/')
		p++;
	if (!*p || strlen(p) >= size)
		return -EINVAL;
	snprintf(out, size, "%s", p);
	/* drop trailing slashes; refuse "." and ".." components */
	n = strlen(out);
	while (n && out[n - 1] == '/')
		out[--n] = '\0';
	if (!strcmp(out, ".") || !strcmp(out, "..") ||
	    strstr(out, "/./") || strstr(out, "/../") ||
	    !strncmp(out, "./", 2) || !strncmp(out, "../", 3) ||
	    (n >= 2 && !strcmp(out + n - 2, "/.")) ||
	    (n >= 3 && !strcmp(out + n - 3, "/..")))
		return -EINVAL;
	return 0;
}

static int confirm(char **paths, int n)
{
	char line[16];
	int i;

	fprintf(stderr, "These will be destroyed for good (no undo, no "
		"recovery from this volume):\n");
	for (i = 0; i < n; i++)
		fprintf(stderr, "  /%s\n", paths[i]);
	fprintf(stderr, "Type 'yes' to shred them: ");
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return !strcmp(line, "yes\n");
}

/* One audit record per shred: the counts and the paths asked for. */
static void shred_audit(struct vol *vol, const char *dir, char **paths,
			int n, const struct shred *sh)
{
	char detail[1024];
	size_t pos;
	int i, k;

	k = snprintf(detail, sizeof(detail), "%lu file(s) destroyed, %lu "
		     "failed:", sh->files, sh->failed);
	pos = k < 0 ? 0 : (size_t)k;
	for (i = 0; i < n && pos < sizeof(detail) - 1; i++) {
		k = snprintf(detail + pos, sizeof(detail) - pos, " /%s",
			     paths[i]);
		pos += k < 0 ? 0 : (size_t)k;
	}
	cliaudit_event(vol, dir, "shred", detail);
}

int cmd_shred(int argc, char **argv)
{
	static const struct option lo[] = {
		UNLOCK_LONGOPTS,
		{ "yes", no_argument, NULL, 'y' },
		{ "mountpoint", required_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct shred sh = { 0 };
	struct vol *vol = NULL;
	char mnt[PATH_MAX], **paths = NULL;
	const char *mp = NULL;
	int c, r, i, n, yes = 0, st = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (unlock_opt(&so, &ko, c, optarg))
			continue;
		if (c == 'y')
			yes = 1;
		else if (c == 'n')
			sh.dry_run = 1;
		else if (c == 'm')
			mp = optarg;
		else
			return cmd_usage("shred", EXIT_USAGE);
	}
	n = argc - optind - 1;
	if (n < 1)
		return cmd_usage("shred", EXIT_USAGE);
	if (mp && !realpath(mp, mnt)) {
		fprintf(stderr, "phivault shred: %s: %s\n", mp,
			strerror(errno));
		return EXIT_USAGE;
	}
	paths = calloc((size_t)n, sizeof(*paths));
	for (i = 0; paths && i < n; i++) {
		paths[i] = malloc(PATH_MAX);
		r = paths[i] ? map_path(argv[optind + 1 + i], mp ? mnt : NULL,
					paths[i], PATH_MAX) : -ENOMEM;
		if (r == -EXDEV)
			fprintf(stderr, "phivault shred: '%s' is not under the "
				"mount point %s\n", argv[optind + 1 + i], mnt);
		else if (r)
			fprintf(stderr, "phivault shred: '%s': refused (the "
				"volume root, '.' or '..')\n",
				argv[optind + 1 + i]);
		if (r) {
			st = EXIT_USAGE;
			goto out;
		}
	}
	if (!paths)
		goto out;
	if (!yes && !sh.dry_run) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "phivault shred: not a terminal: give "
				"--yes to shred without asking\n");
			st = EXIT_USAGE;
			goto out;
		}
		if (!confirm(paths, n)) {
			fprintf(stderr, "phivault shred: nothing shredded\n");
			goto out;
		}
	}
	r = keysrc_unlock(argv[optind], &so, &ko, &vol);
	if (r) {
		st = unlock_exit(r);
		goto out;
	}
	sh.mnt = mp ? mnt : NULL;
	for (i = 0; i < n; i++)
		shred_path(vol, paths[i], &sh);
	if (!sh.dry_run)
		printf("shred: %lu file(s) destroyed, %lu symlink(s) and %lu "
		       "director%s removed, %lu failed\n", sh.files, sh.links,
		       sh.dirs, sh.dirs == 1 ? "y" : "ies", sh.failed);
	if (!sh.dry_run)
		shred_audit(vol, argv[optind], paths, n, &sh);
	st = sh.failed ? EXIT_PARTIAL : EXIT_OK;
out:
	for (i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
	vol_close(vol);
	return st;
}

/* ---- retention ---------------------------------------------------------- */

#define RULES_MAX	(64 * 1024)

struct retain {
	time_t cutoff;
	struct shred sh;
};

static int retain_leaf(struct vol *vol, const char *path,
		       const struct stat *st, void *ctx)
{
	struct retain *rt = ctx;
	int r;

	if (!S_ISREG(st->st_mode) || st->st_mtime >= rt->cutoff)
		return 0;
	if (rt->sh.dry_run) {
		printf("would shred /%s\n", path);
		rt->sh.files++;
		return 0;
	}
	r = vol_file_shred(vol, path, NULL, NULL);
	if (r && r != -ENOENT) {
		shred_fail(&rt->sh, path, r);
		return 0;
	}
	printf("shredded /%s\n", path);
	rt->sh.files++;
	return 0;
}

/* Parse "AGE PATH" into seconds and a volume path (pointer into line). */
static int rule_parse(char *line, int64_t *agep, char **pathp)
{
	char *sp = strchr(line, ' ');

	if (!sp)
		return -EINVAL;
	*sp = '\0';
	if (conf_parse_duration(line, agep) || *agep <= 0) {
		*sp = ' ';
		return -EINVAL;
	}
	*sp = ' ';
	*pathp = sp + 1;
	while (**pathp == '/')
		(*pathp)++;
	return 0;
}

static int retention_apply(struct vol *vol, const char *dir, char *rules,
			   int dry_run)
{
	struct retain rt = { .sh = { .dry_run = dry_run } };
	char *line, *save = NULL, *path, detail[96];
	struct stat st;
	int64_t age;
	int r;

	for (line = strtok_r(rules, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (rule_parse(line, &age, &path)) {
			fprintf(stderr, "phivault retention: bad rule '%s' "
				"skipped\n", line);
			rt.sh.failed++;
			continue;
		}
		rt.cutoff = time(NULL) - (time_t)age;
		r = vol_stat(vol, path, &st);
		if (r == -ENOENT)
			continue;
		if (!r && S_ISDIR(st.st_mode))
			r = keytree_walk(vol, path, retain_leaf, NULL, &rt);
		else if (!r)
			r = retain_leaf(vol, path, &st, &rt);
		if (r) {
			fprintf(stderr, "phivault retention: '/%s': %s\n",
				path, phv_strerror(r));
			rt.sh.failed++;
		}
	}
	printf("retention: %lu file(s) %s, %lu failed\n", rt.sh.files,
	       dry_run ? "would be shredded" : "shredded", rt.sh.failed);
	if (!dry_run) {
		snprintf(detail, sizeof(detail), "%lu file(s) shredded, %lu "
			 "failed", rt.sh.files, rt.sh.failed);
		cliaudit_event(vol, dir, "retention-apply", detail);
	}
	return rt.sh.failed ? EXIT_PARTIAL : EXIT_OK;
}

/* Rules without the one for path (volume path); its count removed. */
static int rules_drop(char *rules, const char *path)
{
	char *line = rules, *nl, *p;
	int64_t age;
	int n = 0;

	while (*line) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (!rule_parse(line, &age, &p) && !strcmp(p, path)) {
			memmove(line, nl + 1, strlen(nl + 1) + 1);
			n++;
			continue;
		}
		*nl = '\n';
		line = nl + 1;
	}
	return n;
}

static int retention_edit(struct vol *vol, char *rules, const char *verb,
			  char **args, int nargs)
{
	char path[PATH_MAX], *p;
	int64_t age;
	size_t len;
	int r;

	if (nargs != (strcmp(verb, "set") ? 1 : 2) ||
	    map_path(args[0], NULL, path, sizeof(path))) {
		fprintf(stderr, "usage: phivault retention set DIR PATH AGE | "
			"remove DIR PATH  (PATH inside the volume, not the "
			"root)\n");
		return EXIT_USAGE;
	}
	r = rules_drop(rules, path);
	if (!strcmp(verb, "remove") && !r) {
		fprintf(stderr, "phivault retention: no rule for '/%s'\n",
			path);
		return EXIT_FAIL;
	}
	if (!strcmp(verb, "set")) {
		if (conf_parse_duration(args[1], &age) || age <= 0 ||
		    strchr(args[1], ' ')) {
			fprintf(stderr, "phivault retention: AGE like 30d, 26w "
				"or 7y, not '%s'\n", args[1]);
			return EXIT_USAGE;
		}
		len = strlen(rules);
		p = rules + len;
		if (len + strlen(args[1]) + strlen(path) + 3 > RULES_MAX)
			return EXIT_FAIL;
		sprintf(p, "%s %s\n", args[1], path);
	}
	r = vol_retention_set(vol, rules);
	if (r) {
		fprintf(stderr, "phivault retention: saving the rules: %s\n",
			phv_strerror(r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cmd_retention(int argc, char **argv)
{
	static const struct option lo[] = {
		UNLOCK_LONGOPTS,
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct vol *vol = NULL;
	char *rules = NULL, *line, *save = NULL;
	const char *verb;
	int c, r, dry = 0, st = EXIT_FAIL;

	if (argc < 2)
		return cmd_usage("retention", EXIT_USAGE);
	verb = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (unlock_opt(&so, &ko, c, optarg))
			continue;
		if (c != 'n')
			return cmd_usage("retention", EXIT_USAGE);
		dry = 1;
	}
	if (optind >= argc || (strcmp(verb, "list") && strcmp(verb, "apply") &&
			       strcmp(verb, "set") && strcmp(verb, "remove")))
		return cmd_usage("retention", EXIT_USAGE);
	rules = calloc(1, RULES_MAX);
	r = rules ? keysrc_unlock(argv[optind], &so, &ko, &vol) : -ENOMEM;
	if (r) {
		st = unlock_exit(r);
		goto out;
	}
	r = vol_retention_get(vol, rules, RULES_MAX - PATH_MAX - 64);
	if (r) {
		fprintf(stderr, "phivault retention: reading the rules: %s\n",
			phv_strerror(r));
		goto out;
	}
	if (!strcmp(verb, "list")) {
		for (line = strtok_r(rules, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			printf("%s\n", line);
		st = EXIT_OK;
	} else if (!strcmp(verb, "apply")) {
		st = retention_apply(vol, argv[optind], rules, dry);
	} else {
		st = retention_edit(vol, rules, verb, argv + optind + 1,
				    argc - optind - 1);
		if (st == EXIT_OK)
			cliaudit_event(vol, argv[optind], "retention-set",
				       verb);
	}
out:
	free(rules);
	vol_close(vol);
	return st;
}
