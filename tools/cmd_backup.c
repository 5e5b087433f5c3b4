// SPDX-License-Identifier: MIT
/*
 * cmd_backup.c - `phivault repo init`, `backup`, `snapshots`, `forget`,
 * `prune`, `check` and `restore`: the command-line face of backup/.
 *
 * Every command finds its repository the same way (--repo or
 * PHIVAULT_REPOSITORY; passphrase from --repo-passphrase-file,
 * PHIVAULT_REPO_PASSPHRASE_FILE or the terminal), so a cron line is
 * `phivault backup /srv/phi` with two environment variables.  Progress
 * goes to stderr on a terminal; without one, diagnostics go to syslog.
 * Results: one summary line on stdout, or one JSON object with --json.
 *
 * Locking (backup/repo.h): backup, restore and check take the
 * repository lock shared (backups of one host and source exclude each
 * other); forget and prune take it exclusive (forget --dry-run shared).
 * repo init and snapshots take none: there is nothing to lock yet, and
 * a listing only reads.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "backup/maint.h"
#include "backup/progress.h"
#include "backup/repo.h"
#include "backup/restore.h"
#include "backup/s3.h"
#include "backup/source.h"
#include "backup/store.h"
#include "common/err.h"
#include "common/log.h"
#include "fs/vol.h"
#include "cmd.h"
#include "repoopt.h"
#include "secret.h"
#include "unlock.h"

enum {
	OPT_REPO = 0x2001, OPT_REPO_PASS, OPT_ENDPOINT, OPT_JSON,
	OPT_LOCK_MODE, OPT_RETENTION, OPT_ARGON, OPT_TARGET, OPT_OVERWRITE,
	OPT_KEEP_LAST, OPT_KEEP_DAILY, OPT_KEEP_WEEKLY, OPT_KEEP_MONTHLY,
	OPT_READ_DATA, OPT_HOST, OPT_WORKERS, OPT_DRY_RUN, OPT_INTO, OPT_STEP,
	OPT_SOURCE,
	OPT_SECRETS,		/* stands for SECRET_LONGOPTS in a list */
};

#define WORKERS_MAX	32

struct bopts {
	const char *repo;
	const char *repo_pass;
	const char *endpoint;
	const char *lock_mode;
	const char *retention;
	const char *argon;
	const char *target;
	const char *into;
	const char *step;
	const char *overwrite;
	const char *host;
	const char *source;
	int json, read_data, dry_run;
	unsigned int workers;
	struct forget_policy keep;
	struct secret_opts vol;		/* the volume's passphrase */
};

static const struct option long_opts[] = {
	{ "repo", required_argument, NULL, OPT_REPO },
	{ "repo-passphrase-file", required_argument, NULL, OPT_REPO_PASS },
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "lock-mode", required_argument, NULL, OPT_LOCK_MODE },
	{ "retention", required_argument, NULL, OPT_RETENTION },
	{ "argon2", required_argument, NULL, OPT_ARGON },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "into", required_argument, NULL, OPT_INTO },
	{ "retention-step", required_argument, NULL, OPT_STEP },
	{ "overwrite", required_argument, NULL, OPT_OVERWRITE },
	{ "keep-last", required_argument, NULL, OPT_KEEP_LAST },
	{ "keep-daily", required_argument, NULL, OPT_KEEP_DAILY },
	{ "keep-weekly", required_argument, NULL, OPT_KEEP_WEEKLY },
	{ "keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY },
	{ "read-data", no_argument, NULL, OPT_READ_DATA },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	SECRET_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

#define NOPTS	(sizeof(long_opts) / sizeof(long_opts[0]))

/*
 * The options of each command, besides --repo, --repo-passphrase-file
 * and --endpoint, which all of them take.  Anything else is a usage
 * error: an ignored --dry-run would do the real thing.
 */
static const int opts_repo_init[] = {
	OPT_LOCK_MODE, OPT_RETENTION, OPT_ARGON, 0 };
static const int opts_backup[] = {
	OPT_JSON, OPT_WORKERS, OPT_STEP, OPT_HOST, OPT_SECRETS, 0 };
static const int opts_snapshots[] = { OPT_JSON, OPT_HOST, OPT_SOURCE, 0 };
static const int opts_forget[] = {
	OPT_KEEP_LAST, OPT_KEEP_DAILY, OPT_KEEP_WEEKLY, OPT_KEEP_MONTHLY,
	OPT_DRY_RUN, 0 };
static const int opts_prune[] = { 0 };
static const int opts_check[] = { OPT_READ_DATA, 0 };
static const int opts_restore[] = {
	OPT_JSON, OPT_TARGET, OPT_INTO, OPT_OVERWRITE, OPT_WORKERS,
	OPT_HOST, OPT_SOURCE, OPT_SECRETS, 0 };

static int opt_allowed(const int *allowed, int val)
{
	if (val == OPT_REPO || val == OPT_REPO_PASS || val == OPT_ENDPOINT)
		return 1;
	for (; *allowed; allowed++)
		if (*allowed == val ||
		    (*allowed == OPT_SECRETS && val >= 0x1001 && val <= 0x1003))
			return 1;
	return 0;
}

/* A count for --keep-*: a whole number from 0 to 100000. */
static int parse_count(const char *name, const char *arg, int *vp)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (end == arg || *end || errno || v < 0 || v > 100000) {
		fprintf(stderr, "phivault: --%s: '%s' is not a number from 0 "
			"to 100000\n", name, arg);
		return -EINVAL;
	}
	*vp = (int)v;
	return 0;
}

static int parse_workers(const char *arg, unsigned int *vp)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (end == arg || *end || errno || v < 1 || v > WORKERS_MAX) {
		fprintf(stderr, "phivault: --workers: '%s' is not a number "
			"from 1 to %d\n", arg, WORKERS_MAX);
		return -EINVAL;
	}
	*vp = (unsigned int)v;
	return 0;
}

static int parse_opt(struct bopts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_REPO: o->repo = arg; break;
	case OPT_REPO_PASS: o->repo_pass = arg; break;
	case OPT_ENDPOINT: o->endpoint = arg; break;
	case OPT_JSON: o->json = 1; break;
	case OPT_LOCK_MODE: o->lock_mode = arg; break;
	case OPT_RETENTION: o->retention = arg; break;
	case OPT_ARGON: o->argon = arg; break;
	case OPT_TARGET: o->target = arg; break;
	case OPT_INTO: o->into = arg; break;
	case OPT_STEP: o->step = arg; break;
	case OPT_OVERWRITE: o->overwrite = arg; break;
	case OPT_KEEP_LAST: return parse_count("keep-last", arg, &o->keep.last);
	case OPT_KEEP_DAILY:
		return parse_count("keep-daily", arg, &o->keep.daily);
	case OPT_KEEP_WEEKLY:
		return parse_count("keep-weekly", arg, &o->keep.weekly);
	case OPT_KEEP_MONTHLY:
		return parse_count("keep-monthly", arg, &o->keep.monthly);
	case OPT_READ_DATA: o->read_data = 1; break;
	case OPT_HOST: o->host = arg; break;
	case OPT_SOURCE: o->source = arg; break;
	case OPT_WORKERS: return parse_workers(arg, &o->workers);
	case OPT_DRY_RUN: o->dry_run = 1; break;
	default: return -EINVAL;
	}
	return 0;
}

/*
 * Parse argv with the options of one command (allowed, 0-terminated).
 * getopt_long() names an option the command does not take.
 */
static int parse_opts(int argc, char **argv, const int *allowed,
		      struct bopts *o)
{
	struct option tab[NOPTS];
	size_t i, n = 0;
	int c;

	memset(o, 0, sizeof(*o));
	o->repo = getenv(REPOOPT_ENV_REPO);
	o->vol.env_file = UNLOCK_ENV_PASSFILE;
	for (i = 0; long_opts[i].name; i++)
		if (opt_allowed(allowed, long_opts[i].val))
			tab[n++] = long_opts[i];
	memset(&tab[n], 0, sizeof(tab[n]));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", tab, NULL)) != -1) {
		if (c != '?' && secret_opt(&o->vol, c, optarg))
			continue;
		if (c == '?' || parse_opt(o, c, optarg))
			return -EINVAL;
	}
	return 0;
}

/* S3 retries are shown as they happen: a hung server is not silent. */
static void s3_notice(const char *line)
{
	fprintf(stderr, "phivault: warning: %s\n", line);
}

static void setup_logging(void)
{
	if (!isatty(2))
		log_use_syslog(1);
	s3_set_notify(s3_notice);
}

/*
 * S3 refusing the access key or the signature (-EKEYREJECTED from the
 * store) is EXIT_CREDS: the AWS credentials are wrong, not the
 * repository passphrase (docs/REPOSITORY.md).
 */
static int exit_for(int r)
{
	if (r == -EKEYREJECTED)
		return EXIT_CREDS;
	if (r == -EINVAL)
		return EXIT_USAGE;
	return r == -PHV_EBADKEY ? EXIT_BADKEY : EXIT_FAIL;
}

/* Explain a store failure; S3 credential errors name what to check. */
static void fail_store(struct store *st, const char *what, int r)
{
	const char *e = st ? store_error(st) : "";
	const char *code = strstr(e, "InvalidAccessKeyId") ?
		"InvalidAccessKeyId" : strstr(e, "SignatureDoesNotMatch") ?
		"SignatureDoesNotMatch" : "access key or signature rejected";

	if (r == -EKEYREJECTED) {
		cmd_fail("S3 refused the credentials (%s): check "
			 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
			 "AWS_PROFILE and its credentials file; the repository "
			 "passphrase was not tried", code);
		return;
	}
	cmd_fail("%s: %s%s%s", what, phv_strerror(r), e[0] ? ": " : "", e);
}

/* Text for a name on stderr or stdout: control characters escaped. */
static const char *esc(const char *s, char *buf, size_t size)
{
	return backup_esc(s ? s : "", buf, size);
}

static int open_store(struct bopts *o, struct store **stp)
{
	char msg[256] = "";
	int r;

	r = store_open(o->repo, o->endpoint, stp, msg, sizeof(msg));
	if (r)
		cmd_fail("%s", msg[0] ? msg : phv_strerror(r));
	return r;
}

static int get_repo_secret(struct bopts *o, int confirm, struct secret *s)
{
	const char *env = getenv(REPOOPT_ENV_PASSFILE);

	if (!o->repo_pass && !(env && *env) && !isatty(0)) {
		cmd_fail("no repository passphrase: no terminal to ask for it; "
			 "use --repo-passphrase-file F or "
			 "PHIVAULT_REPO_PASSPHRASE_FILE");
		return -PHV_ECONFIG;
	}

	return repoopt_secret(o->repo_pass, confirm, s);
}

/* Check the server's clock, then read the repository passphrase: the
 * steps between opening the store and opening (or creating) the
 * repository.  Prints why it failed. */
static int clock_and_secret(struct bopts *o, struct store *st,
			    time_t *server_nowp, int confirm,
			    struct secret *s)
{
	char msg[512];
	int r;

	r = repo_clock_check(st, server_nowp, msg, sizeof(msg));
	if (r) {
		cmd_fail("%s", msg);
		return r;
	}
	return get_repo_secret(o, confirm, s);
}

/* Open store and repository, check the clock; the common preamble. */
static int open_repo(struct bopts *o, struct store **stp, struct repo **rp,
		     time_t *server_nowp)
{
	struct secret sec = { 0 };
	int r;

	*rp = NULL;
	r = open_store(o, stp);
	if (r)
		return r;
	if (!(*stp)->immutable)
		fprintf(stderr, "phivault: warning: %s is a local directory "
			"repository: it has no immutability (no Object "
			"Lock)\n", o->repo);
	r = clock_and_secret(o, *stp, server_nowp, 0, &sec);
	if (r)
		return r;
	r = repo_open(*stp, sec.data, sec.len, rp);
	secret_release(&sec);
	if (r == -EKEYREJECTED)
		fail_store(*stp, o->repo, r);
	else if (r == -PHV_EBADKEY)
		cmd_fail("wrong repository passphrase: no key slot of %s opens "
			 "with it", o->repo);
	else if (r == -PHV_ENOTFOUND)
		cmd_fail("%s: no repository there (run 'phivault repo init')",
			 o->repo);
	else if (r)
		cmd_fail("cannot open repository %s: %s%s%s", o->repo,
			 phv_strerror(r), store_error(*stp)[0] ? ": " : "",
			 store_error(*stp));
	return r;
}

/*
 * Take the repository lock (backup/repo.h): shared for work that reads
 * or adds, exclusive for work that deletes.  scope (may be NULL) keeps
 * two shared runs of the same kind and scope apart.
 */
static int take_lock(struct repo *r, enum repo_lock_type type,
		     const char *what, const char *scope)
{
	char msg[1024] = "";
	int ret;

	ret = repo_lock(r, type, what, scope, msg, sizeof(msg));
	if (ret)
		cmd_fail("%s", msg[0] ? msg : phv_strerror(ret));
	return ret;
}

/* A backup's lock scope: the host and source its snapshot records. */
static char *backup_scope(const char *host, const char *source)
{
	char name[256] = "", *scope;

	if (!host) {
		gethostname(name, sizeof(name) - 1);
		host = name;
	}
	if (asprintf(&scope, "%s:%s", host, source) < 0)
		return NULL;
	return scope;
}

/* ---- repo init -------------------------------------------------------- */

/* Check the options of repo init before anything is written. */
static int repo_init_opts(const struct bopts *o, struct repo_init_opts *io)
{
	if (o->lock_mode) {
		if (!strcmp(o->lock_mode, "compliance"))
			io->mode = STORE_LOCK_COMPLIANCE;
		else if (!strcmp(o->lock_mode, "governance"))
			io->mode = STORE_LOCK_GOVERNANCE;
		else if (!strcmp(o->lock_mode, "none"))
			io->mode = STORE_LOCK_NONE;
		else {
			cmd_fail("--lock-mode: '%s' is not governance, "
				 "compliance or none", o->lock_mode);
			return -EINVAL;
		}
	}
	if (o->retention && (repo_parse_duration(o->retention,
						 &io->retention) ||
			     io->retention > REPO_RETENTION_MAX)) {
		cmd_fail("--retention: '%s' is not a duration from 1s to %dy "
			 "like 90d", o->retention,
			 (int)(REPO_RETENTION_MAX / (365 * 86400)));
		return -EINVAL;
	}
	if (o->argon && sscanf(o->argon, "%u:%u:%u", &io->argon.t_cost,
			       &io->argon.m_cost, &io->argon.lanes) != 3) {
		cmd_fail("--argon2: '%s' is not T:M:P", o->argon);
		return -EINVAL;
	}
	return 0;
}

static int repo_init_cmd(struct bopts *o)
{
	struct repo_init_opts io = { .argon = keyslot_default_argon };
	struct store *st = NULL;
	struct secret sec = { 0 };
	time_t now;
	int r;

	io.mode = STORE_LOCK_GOVERNANCE;
	io.retention = 90 * 86400;
	if (repo_init_opts(o, &io))
		return EXIT_USAGE;
	r = open_store(o, &st);
	if (r)
		return EXIT_FAIL;
	if (!st->immutable) {
		io.mode = STORE_LOCK_NONE;
		if (!o->retention)
			io.retention = 0;
		fprintf(stderr, "phivault: warning: %s is a local directory: "
			"backups there have no immutability\n", o->repo);
	}
	r = clock_and_secret(o, st, &now, 1, &sec);
	if (r)
		goto out;
	r = repo_init(st, &io, sec.type, sec.data, sec.len, now);
	secret_release(&sec);
	if (r)
		fail_store(st, "cannot create the repository", r);
	else
		printf("created repository %s (lock mode %s, retention %llds)\n",
		       o->repo, io.mode == STORE_LOCK_COMPLIANCE ? "compliance"
		       : io.mode == STORE_LOCK_GOVERNANCE ? "governance" :
		       "none", (long long)io.retention);
out:
	store_free(st);
	return r ? exit_for(r) : EXIT_OK;
}

int cmd_repo(int argc, char **argv)
{
	struct bopts o;

	if (argc < 2 || strcmp(argv[1], "init"))
		return cmd_usage("repo", EXIT_USAGE);
	if (parse_opts(argc - 1, argv + 1, opts_repo_init, &o) ||
	    optind != argc - 1)
		return cmd_usage("repo", EXIT_USAGE);
	setup_logging();
	return repo_init_cmd(&o);
}

/* ---- backup ----------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void backup_report(const struct bopts *o, const struct backup_stats *s,
			  int ok)
{
	char b1[32], b2[32], e[1024];
	size_t i;

	if (o->json) {
		printf("{\"ok\":%s,\"snapshot\":\"%s\",\"parent\":\"%s\","
		       "\"files\":%llu,\"dirs\":%llu,\"files_unchanged\":%llu,"
		       "\"bytes_total\":%llu,\"bytes_read\":%llu,"
		       "\"bytes_new\":%llu,\"bytes_uploaded\":%llu,"
		       "\"packs_uploaded\":%llu,\"chunks_new\":%llu,"
		       "\"chunks_dedup\":%llu,\"retention_extended\":%llu,"
		       "\"retention_known\":%llu,"
		       "\"changed_during_backup\":%llu,\"dropped_packs\":%lu,"
		       "\"retain_until\":%lld,\"seconds\":%.3f,"
		       "\"unreadable\":[", ok ? "true" : "false",
		       ok ? s->snapshot : "", s->parent,
		       (unsigned long long)s->files,
		       (unsigned long long)s->dirs,
		       (unsigned long long)s->files_unchanged,
		       (unsigned long long)s->bytes_total,
		       (unsigned long long)s->bytes_read,
		       (unsigned long long)s->bytes_new,
		       (unsigned long long)s->bytes_uploaded,
		       (unsigned long long)s->packs_uploaded,
		       (unsigned long long)s->chunks_new,
		       (unsigned long long)s->chunks_dedup,
		       (unsigned long long)s->retention_extended,
		       (unsigned long long)s->retention_known,
		       (unsigned long long)s->changed_during,
		       s->dropped_packs, (long long)s->retain_until,
		       s->seconds);
		for (i = 0; i < s->nunreadable; i++) {
			if (i)
				putchar(',');
			json_str(stdout, s->unreadable[i]);
		}
		printf("]}\n");
		return;
	}
	for (i = 0; i < s->nunreadable; i++)
		fprintf(stderr, "phivault: unreadable: %s\n",
			esc(s->unreadable[i], e, sizeof(e)));
	if (ok)
		printf("snapshot %.8s: %llu files, %s read, %s uploaded, "
		       "%.1fs\n", s->snapshot, (unsigned long long)s->files,
		       progress_bytes(s->bytes_read, b1, sizeof(b1)),
		       progress_bytes(s->bytes_uploaded, b2, sizeof(b2)),
		       s->seconds);
}

int cmd_backup(int argc, char **argv)
{
	struct backup_opts bo = { 0 };
	struct backup_stats s = { 0 };
	struct store *st = NULL;
	struct source *src = NULL;
	struct repo *r = NULL;
	struct secret vs = { 0 };
	struct bopts o;
	char *abs = NULL, *scope = NULL;
	time_t now;
	int ret, code = EXIT_FAIL;

	if (parse_opts(argc, argv, opts_backup, &o) || optind != argc - 1)
		return cmd_usage("backup", EXIT_USAGE);
	bo.step = BACKUP_STEP_AUTO;
	if (o.step && strcmp(o.step, "0") &&
	    repo_parse_duration(o.step, &bo.step)) {
		cmd_fail("--retention-step: '%s' is not a duration like 1d",
			 o.step);
		return EXIT_USAGE;
	}
	if (o.step && !strcmp(o.step, "0"))
		bo.step = 0;
	setup_logging();
	abs = realpath(argv[optind], NULL);
	if (!abs) {
		cmd_fail("%s: %s", argv[optind], strerror(errno));
		return EXIT_FAIL;
	}
	if (source_is_volume(abs)) {
		ret = secret_get(&o.vol, "Volume passphrase: ", 0, &vs);
		if (ret)
			goto out;
	}
	ret = source_open(abs, vs.type, vs.data, vs.len, &src);
	secret_release(&vs);
	if (ret) {
		cmd_fail("cannot read %s: %s", abs, ret == -PHV_EBADKEY ?
			 "wrong volume passphrase or key file" :
			 phv_strerror(ret));
		code = exit_for(ret);
		goto out;
	}
	ret = open_repo(&o, &st, &r, &now);
	if (ret) {
		code = exit_for(ret);
		goto out;
	}
	/* shared: backups of other sources run beside it, one per source */
	scope = backup_scope(o.host, abs);
	if (!scope) {
		cmd_fail("%s", phv_strerror(-ENOMEM));
		goto out;
	}
	ret = take_lock(r, REPO_LOCK_SHARED, "backup", scope);
	if (ret)
		goto out;
	bo.src = src;
	bo.source_name = abs;
	bo.host = o.host;
	bo.workers = o.workers;
	bo.progress = isatty(2) && !o.json;
	bo.server_now = now;
	ret = backup_run(r, &bo, &s);
	repo_unlock(r);
	if (ret == -EKEYREJECTED)
		fail_store(st, "backup failed", ret);
	else if (ret == -PHV_ENET || ret == -PHV_ES3 || ret == -PHV_ELOCKED)
		cmd_fail("backup failed, no snapshot written: %s%s%s",
			 phv_strerror(ret), store_error(st)[0] ? ": " : "",
			 store_error(st));
	else if (ret)
		cmd_fail("backup failed, no snapshot written: %s",
			 phv_strerror(ret));
	else
		log_notice("snapshot %s of %s: %llu files, %llu bytes "
			   "uploaded", s.snapshot, abs,
			   (unsigned long long)s.files,
			   (unsigned long long)s.bytes_uploaded);
	backup_report(&o, &s, !ret);
	code = ret ? exit_for(ret) : s.nunreadable ? EXIT_PARTIAL : EXIT_OK;
out:
	backup_stats_release(&s);
	repo_free(r);
	store_free(st);
	source_free(src);
	free(abs);
	free(scope);
	return code;
}

/* ---- snapshots, forget, prune, check ------------------------------------ */

static void fmt_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/* A source named on the command line: without trailing slashes. */
static char *source_arg(const char *s)
{
	char *p = strdup(s), *e;

	if (!p)
		return NULL;
	for (e = p + strlen(p); e > p + 1 && e[-1] == '/'; e--)
		e[-1] = '\0';
	return p;
}

/* Is s a snapshot of --host and --source (as given)? Damaged: no. */
static int snap_matches(const struct repo_snap *s, const struct bopts *o)
{
	char *want;
	int ok;

	if (!s->loaded)
		return !o->host && !o->source;
	if (o->host && (!s->m.host || strcmp(s->m.host, o->host)))
		return 0;
	if (!o->source)
		return 1;
	want = source_arg(o->source);
	ok = want && s->m.source && !strcmp(s->m.source, want);
	free(want);
	return ok;
}

int cmd_snapshots(int argc, char **argv)
{
	struct repo_snap *s = NULL;
	struct store *st = NULL;
	struct repo *r = NULL;
	char hex[2 * MF_ID_LEN + 1], when[32], e1[512], e2[1024];
	struct bopts o;
	size_t n = 0, i, shown;
	time_t now;
	int ret, code = EXIT_FAIL;

	if (parse_opts(argc, argv, opts_snapshots, &o) || optind != argc)
		return cmd_usage("snapshots", EXIT_USAGE);
	setup_logging();
	ret = open_repo(&o, &st, &r, &now);
	if (ret) {
		code = exit_for(ret);
		goto out;
	}
	ret = repo_snaps_load(r, &s, &n);
	if (ret) {
		cmd_fail("cannot list snapshots: %s", phv_strerror(ret));
		goto out;
	}
	if (o.json)
		putchar('[');
	for (i = 0, shown = 0; i < n; i++) {
		if ((o.host || o.source) && !snap_matches(&s[i], &o))
			continue;
		repo_hex(s[i].id, hex);
		fmt_time(s[i].m.time, when, sizeof(when));
		if (o.json) {
			printf("%s{\"id\":\"%s\",\"ok\":%s", shown++ ? "," : "",
			       hex, s[i].loaded ? "true" : "false");
			if (s[i].loaded) {
				printf(",\"time\":%lld,\"host\":",
				       (long long)s[i].m.time);
				json_str(stdout, s[i].m.host ? s[i].m.host : "");
				printf(",\"source\":");
				json_str(stdout, s[i].m.source ?
					 s[i].m.source : "");
				printf(",\"files\":%llu,\"bytes\":%llu,"
				       "\"retain_until\":%lld",
				       (unsigned long long)s[i].m.files,
				       (unsigned long long)s[i].m.bytes,
				       (long long)s[i].m.retain_until);
			}
			putchar('}');
		} else if (s[i].loaded) {
			printf("%.8s  %s  host %-12s source %s  (%llu files)\n",
			       hex, when, esc(s[i].m.host, e1, sizeof(e1)),
			       esc(s[i].m.source, e2, sizeof(e2)),
			       (unsigned long long)s[i].m.files);
		} else {
			printf("%.8s  DAMAGED: %s\n", hex,
			       phv_strerror(s[i].err));
		}
	}
	if (o.json)
		printf("]\n");
	code = EXIT_OK;
out:
	repo_snaps_free(s, n);
	repo_free(r);
	store_free(st);
	return code;
}

/* forget, prune and check: open, take the lock of type lock, run. */
static int maint_cmd(int argc, char **argv, const char *name,
		     enum repo_lock_type lock)
{
	const int *allowed = !strcmp(name, "forget") ? opts_forget :
		!strcmp(name, "prune") ? opts_prune : opts_check;
	struct store *st = NULL;
	struct repo *r = NULL;
	struct bopts o;
	time_t now;
	int ret, code = EXIT_FAIL;

	/* XXX: prune has no dry run yet; getopt refuses --dry-run */
	if (parse_opts(argc, argv, allowed, &o) || optind != argc)
		return cmd_usage(name, EXIT_USAGE);
	setup_logging();
	ret = open_repo(&o, &st, &r, &now);
	if (ret) {
		code = exit_for(ret);
		goto out;
	}
	/* a dry run deletes nothing: it may run beside backups */
	if (o.dry_run)
		lock = REPO_LOCK_SHARED;
	if (take_lock(r, lock, name, NULL))
		goto out;
	/* check reads what the bucket holds, not the local cache */
	if (!strcmp(name, "check"))
		repo_cache_off(r);
	if (!strcmp(name, "forget"))
		ret = maint_forget(r, &o.keep, o.dry_run, stdout);
	else if (!strcmp(name, "prune"))
		ret = maint_prune(r, stdout);
	else
		ret = maint_check(r, o.read_data, stdout);
	repo_unlock(r);
	if (ret == -PHV_ELOCKED)
		code = EXIT_PARTIAL;
	else if (ret == -PHV_EAUTH || ret == -PHV_ENOTFOUND)
		code = EXIT_DAMAGED;
	else if (ret)
		cmd_fail("%s failed: %s", name, phv_strerror(ret));
	else
		code = EXIT_OK;
out:
	repo_free(r);
	store_free(st);
	return code;
}

int cmd_forget(int argc, char **argv)
{
	return maint_cmd(argc, argv, "forget", REPO_LOCK_EXCLUSIVE);
}

int cmd_prune(int argc, char **argv)
{
	return maint_cmd(argc, argv, "prune", REPO_LOCK_EXCLUSIVE);
}

int cmd_check(int argc, char **argv)
{
	return maint_cmd(argc, argv, "check", REPO_LOCK_SHARED);
}

/* ---- restore ---------------------------------------------------------- */

static void restore_report(const struct bopts *o, const char *id,
			   const struct restore_result *res)
{
	char b1[32], b2[32];
	size_t i;

	if (!o->json) {
		printf("restored %.8s: %llu files, %llu skipped, %llu failed, "
		       "%s written, %s downloaded, %.1fs\n", id,
		       (unsigned long long)res->restored,
		       (unsigned long long)res->skipped,
		       (unsigned long long)res->failed,
		       progress_bytes(res->bytes_written, b1, sizeof(b1)),
		       progress_bytes(res->bytes_downloaded, b2, sizeof(b2)),
		       res->seconds);
		return;
	}
	printf("{\"snapshot\":\"%s\",\"restored\":%llu,\"skipped\":%llu,"
	       "\"failed\":%llu,\"dirs\":%llu,\"warnings\":%llu,"
	       "\"bytes_written\":%llu,\"bytes_downloaded\":%llu,"
	       "\"seconds\":%.3f,\"files\":[", id,
	       (unsigned long long)res->restored,
	       (unsigned long long)res->skipped,
	       (unsigned long long)res->failed,
	       (unsigned long long)res->dirs,
	       (unsigned long long)res->warnings,
	       (unsigned long long)res->bytes_written,
	       (unsigned long long)res->bytes_downloaded, res->seconds);
	for (i = 0; i < res->nfiles; i++) {
		const struct restore_file *f = &res->files[i];

		printf("%s{\"path\":", i ? "," : "");
		json_str(stdout, f->path);
		printf(",\"status\":\"%s\",\"bytes\":%llu",
		       f->status == RESTORE_OK ? "ok" :
		       f->status == RESTORE_SKIPPED ? "skipped" : "failed",
		       (unsigned long long)f->bytes);
		if (f->status == RESTORE_FAILED) {
			printf(",\"error\":");
			json_str(stdout, f->detail[0] ? f->detail :
				 phv_strerror(f->err));
		}
		putchar('}');
	}
	printf("]}\n");
}

/* Unlock the volume named by --into with the volume's secret. */
static int open_volume(struct bopts *o, struct vol **volp)
{
	struct secret vs = { 0 };
	int r;

	*volp = NULL;
	if (!source_is_volume(o->into)) {
		cmd_fail("%s: not a phivault volume (no %s)", o->into,
			 VOL_CONF_NAME);
		return -PHV_ECONFIG;
	}
	r = secret_get(&o->vol, "Volume passphrase: ", 0, &vs);
	if (r)
		return r;
	r = vol_open(o->into, vs.type, vs.data, vs.len, volp);
	secret_release(&vs);
	if (r == -PHV_EBADKEY)
		cmd_fail("%s: wrong volume passphrase or key file", o->into);
	else if (r)
		cmd_fail("cannot open volume %s: %s", o->into, phv_strerror(r));
	return r;
}

/*
 * The volume or its backing directory around path: the nearest existing
 * directory at or above path (made absolute), and its parents, checked
 * for VOL_CONF_NAME.  *volp gets the volume's directory.
 */
static int in_volume(const char *path, char **volp)
{
	char *p = strdup(path), *real = NULL, *slash, *conf = NULL;
	int found = 0;

	*volp = NULL;
	while (p && !(real = realpath(*p ? p : "/", NULL))) {
		slash = strrchr(p, '/');
		if (!slash) {
			strcpy(p, ".");
			real = realpath(".", NULL);
			break;
		}
		*slash = '\0';
	}
	free(p);
	while (real && !found) {
		if (asprintf(&conf, "%s/%s", strcmp(real, "/") ? real : "",
			     VOL_CONF_NAME) < 0)
			break;
		found = !access(conf, F_OK);
		free(conf);
		if (found || !strcmp(real, "/"))
			break;
		slash = strrchr(real, '/');
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if (found)
		*volp = real;
	else
		free(real);
	return found;
}

/* Refuse targets that would put plaintext where it must not be. */
static int check_target(const char *target)
{
	char *vol = NULL, *dir, *slash, e[1024], e2[1024];
	struct stat sb;
	int r = 0;

	if (in_volume(target, &vol)) {
		cmd_fail("%s is inside the phivault volume %s: --target writes "
			 "plaintext; use --into %s to restore encrypted into "
			 "the volume", esc(target, e, sizeof(e)),
			 esc(vol, e2, sizeof(e2)), esc(vol, e2, sizeof(e2)));
		free(vol);
		return -EPERM;
	}
	if (!lstat(target, &sb) || errno != ENOENT)
		return 0;
	dir = strdup(target);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
			cmd_fail("cannot create target %s: %s does not "
				 "exist or is not a directory",
				 esc(target, e, sizeof(e)),
				 esc(dir, e2, sizeof(e2)));
			r = -ENOENT;
		}
	}
	free(dir);
	return r;
}

static int all_hex(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr("0123456789abcdefABCDEF", *s))
			return 0;
	return 1;
}

/* The host and source "latest" means, for --into a volume. */
static void infer_scope(const struct bopts *o, const struct repo_snap *s,
			size_t n, char **hostp, char **sourcep)
{
	char host[256] = "", *real;

	if (!o->into || o->host || o->source)
		return;
	real = realpath(o->into, NULL);
	if (!real)
		return;
	gethostname(host, sizeof(host) - 1);
	if (repo_snap_latest(s, n, host, real) >= 0)
		*hostp = strdup(host);
	if (repo_snap_latest(s, n, NULL, real) >= 0)
		*sourcep = real;
	else
		free(real);
}

static void list_sources(const struct repo_snap *s, size_t n,
			 const char *host, const char *source)
{
	char hex[2 * MF_ID_LEN + 1], when[32], e1[512], e2[1024];
	size_t i, j;

	for (i = n; i > 0; i--) {
		const struct repo_snap *a = &s[i - 1];

		if (!a->loaded || (host && strcmp(a->m.host, host)) ||
		    (source && strcmp(a->m.source, source)))
			continue;
		for (j = i; j < n; j++)
			if (s[j].loaded && !strcmp(s[j].m.host, a->m.host) &&
			    !strcmp(s[j].m.source, a->m.source))
				break;
		if (j < n)
			continue;	/* a newer one of it was listed */
		repo_hex(a->id, hex);
		fmt_time(a->m.time, when, sizeof(when));
		fprintf(stderr, "  --host %s --source %s   (newest %.8s, "
			"%s)\n", esc(a->m.host, e1, sizeof(e1)),
			esc(a->m.source, e2, sizeof(e2)), hex, when);
	}
}

/*
 * Resolve spec for restore.  IDs are taken as they are; "latest" and
 * times are scoped to one host and source (--host, --source, or the
 * volume of --into), and refused when the scope holds several sources
 * or a damaged snapshot could be the newer one.  Returns the index, or
 * -1 with *codep set and the reason printed.
 */
static int pick_snapshot(const struct bopts *o, const struct repo_snap *s,
			 size_t n, const char *spec, int *codep)
{
	char *host = NULL, *source = NULL, hex[2 * MF_ID_LEN + 1];
	char e[1024], when[32];
	int idx = -1, is_time;
	time_t t;
	size_t i, ns;

	*codep = EXIT_FAIL;
	is_time = !repo_parse_time(spec, &t);
	if (strcmp(spec, "latest") && !is_time) {
		if (!all_hex(spec)) {
			cmd_fail("'%s' is neither a snapshot ID, 'latest' "
				 "nor a valid time like '2026-11-30 08:00'",
				 esc(spec, e, sizeof(e)));
			*codep = EXIT_USAGE;
			return -1;
		}
		/* IDs are printed in lower case; accept what was retyped */
		snprintf(hex, sizeof(hex), "%s", spec);
		for (i = 0; hex[i]; i++)
			hex[i] = (char)tolower((unsigned char)hex[i]);
		idx = strlen(spec) < sizeof(hex) ? repo_snap_find(s, n, hex) :
		      -ENOENT;
		if (idx < 0)
			cmd_fail("%s: %s", spec, idx == -EINVAL ?
				 "ambiguous snapshot id prefix" :
				 "no such snapshot");
		return idx < 0 ? -1 : idx;
	}
	host = o->host ? strdup(o->host) : NULL;
	source = o->source ? source_arg(o->source) : NULL;
	infer_scope(o, s, n, &host, &source);
	ns = repo_snap_sources(s, n, host, source, NULL);
	if (ns > 1) {
		cmd_fail("the repository holds snapshots of %zu sources; say "
			 "which one '%s' means with --source PATH (and --host "
			 "H):", ns, esc(spec, e, sizeof(e)));
		list_sources(s, n, host, source);
		*codep = EXIT_USAGE;
		goto out;
	}
	idx = repo_snap_find_in(s, n, spec, host, source);
	if (idx < 0) {
		if (is_time)
			cmd_fail("no snapshot%s%s at or before %s",
				 source ? " of " : "",
				 source ? esc(source, e, sizeof(e)) : "", spec);
		else
			cmd_fail("no snapshot%s%s%s%s in the repository",
				 source ? " of " : "",
				 source ? esc(source, e, sizeof(e)) : "",
				 host ? " on host " : "", host ? host : "");
		idx = -1;
		goto out;
	}
	/* a damaged snapshot has no readable time or source */
	for (i = 0; i < n; i++) {
		if (s[i].loaded)
			continue;
		repo_hex(s[i].id, hex);
		cmd_fail("snapshot %.8s is damaged (%s) and may be the newest; "
			 "not restoring an older one in its place", hex,
			 phv_strerror(s[i].err));
		repo_hex(s[idx].id, hex);
		fmt_time(s[idx].m.time, when, sizeof(when));
		fprintf(stderr, "phivault: the newest intact snapshot of %s "
			"is %.8s (%s): restore it by that ID if it is what "
			"you want\n", esc(s[idx].m.source, e, sizeof(e)),
			hex, when);
		*codep = EXIT_DAMAGED;
		idx = -1;
		break;
	}
out:
	free(host);
	free(source);
	return idx;
}

/* Text mode: name every file that failed, and why. */
static void list_failed(const struct restore_result *res)
{
	char e[1024];
	size_t i;

	for (i = 0; i < res->nfiles; i++) {
		const struct restore_file *f = &res->files[i];

		if (f->status != RESTORE_FAILED)
			continue;
		fprintf(stderr, "phivault: failed: %s: %s\n",
			esc(f->path, e, sizeof(e)), f->detail[0] ?
			f->detail : phv_strerror(f->err));
	}
}

static int parse_overwrite(const char *s, enum restore_overwrite *op)
{
	*op = RESTORE_NEVER;
	if (!s || !strcmp(s, "never"))
		return 0;
	if (!strcmp(s, "if-changed"))
		*op = RESTORE_IF_CHANGED;
	else if (!strcmp(s, "always"))
		*op = RESTORE_ALWAYS;
	else {
		cmd_fail("--overwrite: '%s' is not never, if-changed or always",
			 s);
		return -EINVAL;
	}
	return 0;
}

/* Every PATH asked for names something in m; else say which not. */
static int paths_exist(const struct manifest *m, char **paths)
{
	char hex[2 * MF_ID_LEN + 1], e[1024];
	const char *want;
	size_t i, len;

	for (; *paths; paths++) {
		want = *paths;
		while (*want == '/')
			want++;
		len = strlen(want);
		while (len && want[len - 1] == '/')
			len--;
		for (i = 0; len && i < m->nnodes; i++)
			if (!strncmp(m->nodes[i].path, want, len) &&
			    (m->nodes[i].path[len] == '\0' ||
			     m->nodes[i].path[len] == '/'))
				break;
		if (len && i == m->nnodes) {
			repo_hex(m->id, hex);
			cmd_fail("%s: not in snapshot %.8s", esc(*paths, e,
				 sizeof(e)), hex);
			return 0;
		}
	}
	return 1;
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts ro = { 0 };
	struct vol *vol = NULL;
	struct restore_result res = { 0 };
	struct repo_snap *s = NULL;
	struct store *st = NULL;
	struct repo *r = NULL;
	char hex[2 * MF_ID_LEN + 1], e[1024];
	struct bopts o;
	size_t n = 0;
	time_t now;
	int ret, idx, code = EXIT_FAIL;

	if (parse_opts(argc, argv, opts_restore, &o) || optind >= argc ||
	    !o.target == !o.into)
		return cmd_usage("restore", EXIT_USAGE);
	if (parse_overwrite(o.overwrite, &ro.overwrite))
		return EXIT_USAGE;
	setup_logging();
	if (o.target && check_target(o.target))
		return EXIT_FAIL;
	if (o.into) {
		ret = open_volume(&o, &vol);
		if (ret) {
			code = exit_for(ret);
			goto out;
		}
	}
	ret = open_repo(&o, &st, &r, &now);
	if (ret) {
		code = exit_for(ret);
		goto out;
	}
	/* shared: snapshots and packs must not be pruned under us */
	if (take_lock(r, REPO_LOCK_SHARED, "restore", NULL))
		goto out;
	ret = repo_snaps_load(r, &s, &n);
	if (ret) {
		fail_store(st, "cannot list snapshots", ret);
		code = exit_for(ret);
		goto out;
	}
	idx = pick_snapshot(&o, s, n, argv[optind], &code);
	if (idx < 0 || !paths_exist(&s[idx].m, argv + optind + 1))
		goto out;
	repo_hex(s[idx].id, hex);
	ro.target = o.target;
	ro.into = vol;
	ro.paths = (const char *const *)argv + optind + 1;
	ro.npaths = (size_t)(argc - optind - 1);
	ro.workers = o.workers;
	ro.progress = isatty(2) && !o.json;
	ret = restore_run(r, &s[idx].m, &ro, &res);
	restore_report(&o, hex, &res);
	if (!o.json)
		list_failed(&res);
	if (res.stale_removed)
		fprintf(stderr, "phivault: removed %llu temporary files an "
			"interrupted restore left\n",
			(unsigned long long)res.stale_removed);
	if (ret == -ENOSPC || ret == -EDQUOT || ret == -EROFS ||
	    ret == -EFBIG)
		cmd_fail("restore target %s: %s; stopped early",
			 esc(o.target ? o.target : o.into, e, sizeof(e)),
			 phv_strerror(ret));
	else if (ret == -PHV_ENOTFOUND && ro.npaths)
		cmd_fail("restore failed: a PATH is not in snapshot %.8s", hex);
	else if (ret == -EKEYREJECTED)
		fail_store(st, "restore failed", ret);
	else if (ret && ret != -EIO)
		cmd_fail("restore into %s failed: %s",
			 esc(o.target ? o.target : o.into, e, sizeof(e)),
			 phv_strerror(ret));
	if (!ret)
		code = EXIT_OK;
	else if (ret == -EIO || (res.failed && res.restored))
		code = EXIT_PARTIAL;
	else
		code = exit_for(ret);
out:
	restore_result_release(&res);
	repo_snaps_free(s, n);
	repo_free(r);
	store_free(st);
	vol_close(vol);
	return code;
}
