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
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "backup/maint.h"
#include "backup/progress.h"
#include "backup/repo.h"
#include "backup/restore.h"
#include "backup/source.h"
#include "backup/store.h"
#include "common/err.h"
#include "common/log.h"
#include "fs/vol.h"
#include "cmd.h"
#include "secret.h"

enum {
	OPT_REPO = 0x2001, OPT_REPO_PASS, OPT_ENDPOINT, OPT_JSON,
	OPT_LOCK_MODE, OPT_RETENTION, OPT_ARGON, OPT_TARGET, OPT_OVERWRITE,
	OPT_KEEP_LAST, OPT_KEEP_DAILY, OPT_KEEP_WEEKLY, OPT_KEEP_MONTHLY,
	OPT_READ_DATA, OPT_HOST, OPT_WORKERS, OPT_DRY_RUN, OPT_INTO, OPT_STEP,
};

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
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	SECRET_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static int parse_opts(int argc, char **argv, struct bopts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->repo = getenv("PHIVAULT_REPOSITORY");
	o->endpoint = NULL;
	o->vol.env_file = "PHIVAULT_PASSPHRASE_FILE";
	optind = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (secret_opt(&o->vol, c, optarg))
			continue;
		switch (c) {
		case OPT_REPO: o->repo = optarg; break;
		case OPT_REPO_PASS: o->repo_pass = optarg; break;
		case OPT_ENDPOINT: o->endpoint = optarg; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_LOCK_MODE: o->lock_mode = optarg; break;
		case OPT_RETENTION: o->retention = optarg; break;
		case OPT_ARGON: o->argon = optarg; break;
		case OPT_TARGET: o->target = optarg; break;
		case OPT_INTO: o->into = optarg; break;
		case OPT_STEP: o->step = optarg; break;
		case OPT_OVERWRITE: o->overwrite = optarg; break;
		case OPT_KEEP_LAST: o->keep.last = atoi(optarg); break;
		case OPT_KEEP_DAILY: o->keep.daily = atoi(optarg); break;
		case OPT_KEEP_WEEKLY: o->keep.weekly = atoi(optarg); break;
		case OPT_KEEP_MONTHLY: o->keep.monthly = atoi(optarg); break;
		case OPT_READ_DATA: o->read_data = 1; break;
		case OPT_HOST: o->host = optarg; break;
		case OPT_WORKERS: o->workers = (unsigned)atoi(optarg); break;
		case OPT_DRY_RUN: o->dry_run = 1; break;
		default: return -EINVAL;
		}
	}
	return 0;
}

static void setup_logging(void)
{
	if (!isatty(2))
		log_use_syslog(1);
}

/* Errors are printed to stderr always: cron mails them. */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "phivault: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static int exit_for(int r)
{
	return r == -PHV_EBADKEY ? EXIT_BADKEY : EXIT_FAIL;
}

static int open_store(struct bopts *o, struct store **stp)
{
	char msg[256] = "";
	int r;

	r = store_open(o->repo, o->endpoint, stp, msg, sizeof(msg));
	if (r)
		fail("%s", msg[0] ? msg : phv_strerror(r));
	return r;
}

static int get_repo_secret(struct bopts *o, int confirm, struct secret *s)
{
	struct secret_opts so = {
		.passphrase_file = o->repo_pass,
		.env_file = "PHIVAULT_REPO_PASSPHRASE_FILE",
	};

	return secret_get(&so, "Repository passphrase: ", confirm, s);
}

/* Open store and repository, check the clock; the common preamble. */
static int open_repo(struct bopts *o, struct store **stp, struct repo **rp,
		     time_t *server_nowp)
{
	struct secret sec = { 0 };
	char msg[512];
	int r;

	*rp = NULL;
	r = open_store(o, stp);
	if (r)
		return r;
	if (!(*stp)->immutable)
		fprintf(stderr, "phivault: warning: %s is a local directory "
			"repository: it has no immutability (no Object "
			"Lock)\n", o->repo);
	r = repo_clock_check(*stp, server_nowp, msg, sizeof(msg));
	if (r) {
		fail("%s", msg);
		return r;
	}
	r = get_repo_secret(o, 0, &sec);
	if (r)
		return r;
	r = repo_open(*stp, sec.data, sec.len, rp);
	secret_release(&sec);
	if (r == -PHV_EBADKEY)
		fail("wrong repository passphrase: no key slot of %s opens "
		     "with it", o->repo);
	else if (r == -PHV_ENOTFOUND)
		fail("%s: no repository there (run 'phivault repo init')",
		     o->repo);
	else if (r)
		fail("cannot open repository %s: %s%s%s", o->repo,
		     phv_strerror(r), store_error(*stp)[0] ? ": " : "",
		     store_error(*stp));
	return r;
}

static int take_lock(struct repo *r, const char *what)
{
	char msg[512] = "";
	int ret;

	ret = repo_lock(r, what, msg, sizeof(msg));
	if (ret)
		fail("%s", msg[0] ? msg : phv_strerror(ret));
	return ret;
}

/* ---- repo init -------------------------------------------------------- */

static int repo_init_cmd(struct bopts *o)
{
	struct repo_init_opts io = { .argon = keyslot_default_argon };
	struct store *st = NULL;
	struct secret sec = { 0 };
	char msg[512];
	time_t now;
	int r;

	io.mode = STORE_LOCK_NONE;
	r = open_store(o, &st);
	if (r)
		return EXIT_FAIL;
	if (st->immutable) {
		io.mode = STORE_LOCK_GOVERNANCE;
		io.retention = 90 * 86400;
	}
	if (o->lock_mode) {
		if (!strcmp(o->lock_mode, "compliance"))
			io.mode = STORE_LOCK_COMPLIANCE;
		else if (!strcmp(o->lock_mode, "governance"))
			io.mode = STORE_LOCK_GOVERNANCE;
		else if (!strcmp(o->lock_mode, "none"))
			io.mode = STORE_LOCK_NONE;
		else {
			fail("--lock-mode must be governance or compliance");
			r = -EINVAL;
			goto out;
		}
	}
	if (o->retention && repo_parse_duration(o->retention,
						&io.retention)) {
		fail("--retention: '%s' is not a duration like 90d",
		     o->retention);
		r = -EINVAL;
		goto out;
	}
	if (o->argon && sscanf(o->argon, "%u:%u:%u", &io.argon.t_cost,
			       &io.argon.m_cost, &io.argon.lanes) != 3) {
		fail("--argon2 wants T:M:P");
		r = -EINVAL;
		goto out;
	}
	if (!st->immutable) {
		io.mode = STORE_LOCK_NONE;
		fprintf(stderr, "phivault: warning: %s is a local directory: "
			"backups there have no immutability\n", o->repo);
	}
	r = repo_clock_check(st, &now, msg, sizeof(msg));
	if (r) {
		fail("%s", msg);
		goto out;
	}
	r = get_repo_secret(o, 1, &sec);
	if (r)
		goto out;
	r = repo_init(st, &io, sec.type, sec.data, sec.len, now);
	secret_release(&sec);
	if (r)
		fail("cannot create the repository in %s: %s%s%s", o->repo,
		     phv_strerror(r), store_error(st)[0] ? ": " : "",
		     store_error(st));
	else
		printf("created repository %s (lock mode %s, retention %llds)\n",
		       o->repo, io.mode == STORE_LOCK_COMPLIANCE ? "compliance"
		       : io.mode == STORE_LOCK_GOVERNANCE ? "governance" :
		       "none", (long long)io.retention);
out:
	store_free(st);
	return r ? EXIT_FAIL : EXIT_OK;
}

int cmd_repo(int argc, char **argv)
{
	struct bopts o;

	if (argc < 2 || strcmp(argv[1], "init"))
		return cmd_usage("repo", EXIT_USAGE);
	if (parse_opts(argc - 1, argv + 1, &o))
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
	char b1[32], b2[32];
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
			s->unreadable[i]);
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
	char *abs = NULL;
	time_t now;
	int ret, code = EXIT_FAIL;

	if (parse_opts(argc, argv, &o) || optind != argc - 1)
		return cmd_usage("backup", EXIT_USAGE);
	bo.step = BACKUP_STEP_AUTO;
	if (o.step && strcmp(o.step, "0") &&
	    repo_parse_duration(o.step, &bo.step)) {
		fail("--retention-step: '%s' is not a duration like 1d",
		     o.step);
		return EXIT_USAGE;
	}
	if (o.step && !strcmp(o.step, "0"))
		bo.step = 0;
	setup_logging();
	abs = realpath(argv[optind], NULL);
	if (!abs) {
		fail("%s: %s", argv[optind], strerror(errno));
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
		fail("cannot read %s: %s", abs, ret == -PHV_EBADKEY ?
		     "wrong volume passphrase or key file" : phv_strerror(ret));
		code = exit_for(ret);
		goto out;
	}
	ret = open_repo(&o, &st, &r, &now);
	if (ret) {
		code = exit_for(ret);
		goto out;
	}
	ret = take_lock(r, "backup");
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
	if (ret)
		fail("backup failed, no snapshot written: %s",
		     phv_strerror(ret));
	else
		log_notice("snapshot %s of %s: %llu files, %llu bytes "
			   "uploaded", s.snapshot, abs,
			   (unsigned long long)s.files,
			   (unsigned long long)s.bytes_uploaded);
	backup_report(&o, &s, !ret);
	code = ret ? EXIT_FAIL : s.nunreadable ? EXIT_PARTIAL : EXIT_OK;
out:
	backup_stats_release(&s);
	repo_free(r);
	store_free(st);
	source_free(src);
	free(abs);
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

int cmd_snapshots(int argc, char **argv)
{
	struct repo_snap *s = NULL;
	struct store *st = NULL;
	struct repo *r = NULL;
	char hex[2 * MF_ID_LEN + 1], when[32];
	struct bopts o;
	size_t n = 0, i;
	time_t now;
	int ret, code = EXIT_FAIL;

	if (parse_opts(argc, argv, &o) || optind != argc)
		return cmd_usage("snapshots", EXIT_USAGE);
	setup_logging();
	ret = open_repo(&o, &st, &r, &now);
	if (ret) {
		code = exit_for(ret);
		goto out;
	}
	ret = repo_snaps_load(r, &s, &n);
	if (ret) {
		fail("cannot list snapshots: %s", phv_strerror(ret));
		goto out;
	}
	if (o.json)
		putchar('[');
	for (i = 0; i < n; i++) {
		repo_hex(s[i].id, hex);
		fmt_time(s[i].m.time, when, sizeof(when));
		if (o.json) {
			printf("%s{\"id\":\"%s\",\"ok\":%s", i ? "," : "",
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
			printf("%.8s  %s  %-12s %s  (%llu files)\n", hex, when,
			       s[i].m.host, s[i].m.source,
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

/* forget, prune and check: open, lock if asked, run fn. */
static int maint_cmd(int argc, char **argv, const char *name, int lock)
{
	struct store *st = NULL;
	struct repo *r = NULL;
	struct bopts o;
	time_t now;
	int ret, code = EXIT_FAIL;

	if (parse_opts(argc, argv, &o) || optind != argc)
		return cmd_usage(name, EXIT_USAGE);
	setup_logging();
	ret = open_repo(&o, &st, &r, &now);
	if (ret) {
		code = exit_for(ret);
		goto out;
	}
	if (lock && take_lock(r, name))
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
		fail("%s failed: %s", name, phv_strerror(ret));
	else
		code = EXIT_OK;
out:
	repo_free(r);
	store_free(st);
	return code;
}

int cmd_forget(int argc, char **argv)
{
	return maint_cmd(argc, argv, "forget", 1);
}

int cmd_prune(int argc, char **argv)
{
	return maint_cmd(argc, argv, "prune", 1);
}

int cmd_check(int argc, char **argv)
{
	return maint_cmd(argc, argv, "check", 0);
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
		fail("%s: not a phivault volume (no %s)", o->into,
		     VOL_CONF_NAME);
		return -PHV_ECONFIG;
	}
	r = secret_get(&o->vol, "Volume passphrase: ", 0, &vs);
	if (r)
		return r;
	r = vol_open(o->into, vs.type, vs.data, vs.len, volp);
	secret_release(&vs);
	if (r == -PHV_EBADKEY)
		fail("%s: wrong volume passphrase or key file", o->into);
	else if (r)
		fail("cannot open volume %s: %s", o->into, phv_strerror(r));
	return r;
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts ro = { 0 };
	struct vol *vol = NULL;
	struct restore_result res = { 0 };
	struct repo_snap *s = NULL;
	struct store *st = NULL;
	struct repo *r = NULL;
	char hex[2 * MF_ID_LEN + 1];
	struct bopts o;
	size_t n = 0;
	time_t now;
	int ret, idx, code = EXIT_FAIL;

	if (parse_opts(argc, argv, &o) || optind >= argc ||
	    !o.target == !o.into)
		return cmd_usage("restore", EXIT_USAGE);
	ro.overwrite = RESTORE_NEVER;
	if (o.overwrite) {
		if (!strcmp(o.overwrite, "if-changed"))
			ro.overwrite = RESTORE_IF_CHANGED;
		else if (!strcmp(o.overwrite, "always"))
			ro.overwrite = RESTORE_ALWAYS;
		else if (strcmp(o.overwrite, "never"))
			return cmd_usage("restore", EXIT_USAGE);
	}
	setup_logging();
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
	ret = repo_snaps_load(r, &s, &n);
	if (ret) {
		fail("cannot list snapshots: %s", phv_strerror(ret));
		goto out;
	}
	idx = repo_snap_find(s, n, argv[optind]);
	if (idx < 0) {
		fail("%s: %s", argv[optind], idx == -EINVAL ?
		     "ambiguous snapshot id prefix" : "no such snapshot");
		goto out;
	}
	repo_hex(s[idx].id, hex);
	ro.target = o.target;
	ro.into = vol;
	ro.paths = (const char *const *)argv + optind + 1;
	ro.npaths = (size_t)(argc - optind - 1);
	ro.workers = o.workers;
	ro.progress = isatty(2) && !o.json;
	ret = restore_run(r, &s[idx].m, &ro, &res);
	restore_report(&o, hex, &res);
	if (ret && ret != -EIO)
		fail("restore failed: %s", phv_strerror(ret));
	code = ret ? EXIT_FAIL : EXIT_OK;
out:
	restore_result_release(&res);
	repo_snaps_free(s, n);
	repo_free(r);
	store_free(st);
	vol_close(vol);
	return code;
}
