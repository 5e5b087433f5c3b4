// SPDX-License-Identifier: MIT
/*
 * cmd_drill.c - `phivault drill`: run a restore drill, verify a drill
 * report, list past drills (docs/DRILLS.md).
 *
 * Made for cron and systemd timers: the repository and its passphrase
 * come from the environment like every repository command, the text
 * summary goes to stdout, diagnostics to stderr (syslog without a
 * terminal), and the exit status says pass (0) or fail (1).  Anything
 * that keeps a drill from passing, including not being able to open the
 * repository at all, runs the alert hook with a JSON report on stdin.
 *
 * Files: each drill writes drill-<UTC time>-<id>.{json,txt,html} into the
 * report directory (--report-dir; default /var/lib/phivault/drills for
 * root, else the current directory), mode 0600, each replaced atomically
 * and durably (file_replace(): temporary, fsync, rename, fsync of the
 * directory), and a sealed copy of the JSON into the repository under
 * drills/.
 *
 * A drill holds the repository lock shared (backup/repo.h) from before
 * it loads the snapshots until it has stored its report: backups run
 * beside it, while a prune or forget is refused for that time (and a
 * drill is refused while one of them runs: it then fails and alerts,
 * since no drill took place).  verify and history take no lock.
 *
 * SIGTERM, SIGINT and SIGHUP remove the scratch directory (plaintext)
 * before the drill dies of the signal.  The alert hook gets a cleaned
 * environment (hook_env()): no S3 keys, passphrase files or tokens.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backup/drill.h"
#include "backup/repo.h"
#include "backup/report.h"
#include "backup/store.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/hookenv.h"
#include "common/log.h"
#include "cmd.h"
#include "repoopt.h"
#include "secret.h"

#define ROOT_REPORT_DIR	"/var/lib/phivault/drills"
#define HOOK_TIMEOUT_S	60
#define HOOK_ENV_MAX	64

enum {
	OPT_REPO = 0x2101, OPT_REPO_PASS, OPT_ENDPOINT, OPT_JSON,
	OPT_SNAPSHOT, OPT_RANDOM, OPT_SAMPLE, OPT_RPO, OPT_RTO,
	OPT_REPORT_DIR, OPT_ALERT, OPT_SCRATCH, OPT_KEEP_SCRATCH,
	OPT_NO_LOCKS, OPT_NO_PROBE, OPT_NO_STORE, OPT_QUIET,
};

struct dopts {
	const char *repo;
	const char *repo_pass;
	const char *endpoint;
	const char *report_dir;
	const char *alert_hook;
	int json, quiet, no_store;
	struct drill_opts d;
};

static const struct option long_opts[] = {
	{ "repo", required_argument, NULL, OPT_REPO },
	{ "repo-passphrase-file", required_argument, NULL, OPT_REPO_PASS },
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
	{ "random", no_argument, NULL, OPT_RANDOM },
	{ "sample", required_argument, NULL, OPT_SAMPLE },
	{ "rpo-target", required_argument, NULL, OPT_RPO },
	{ "rto-target", required_argument, NULL, OPT_RTO },
	{ "report-dir", required_argument, NULL, OPT_REPORT_DIR },
	{ "alert-hook", required_argument, NULL, OPT_ALERT },
	{ "scratch", required_argument, NULL, OPT_SCRATCH },
	{ "keep-scratch", no_argument, NULL, OPT_KEEP_SCRATCH },
	{ "no-lock-check", no_argument, NULL, OPT_NO_LOCKS },
	{ "no-delete-probe", no_argument, NULL, OPT_NO_PROBE },
	{ "no-store", no_argument, NULL, OPT_NO_STORE },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ NULL, 0, NULL, 0 },
};

/* "10%" or "0.1": a fraction in (0, 1]. */
static int parse_sample(const char *s, double *fp)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s)
		return -EINVAL;
	if (*end == '%') {
		v /= 100;
		end++;
	}
	if (*end || !(v > 0) || v > 1)
		return -EINVAL;
	*fp = v >= 1 ? 0 : v;
	return 0;
}

static int parse_target(const char *name, const char *s, int64_t *secsp)
{
	if (!repo_parse_duration(s, secsp))
		return 0;
	cmd_fail("%s: '%s' is not a duration like 26h or 90m", name, s);
	return -EINVAL;
}

/* Defaults from the environment (docs/CONFIG.md); options override. */
static int env_defaults(struct dopts *o)
{
	const char *v;

	o->repo = getenv(REPOOPT_ENV_REPO);
	o->alert_hook = getenv("PHIVAULT_ALERT_HOOK");
	if (o->alert_hook && !*o->alert_hook)
		o->alert_hook = NULL;
	o->d.rpo_target = DRILL_RPO_TARGET;
	o->d.rto_target = DRILL_RTO_TARGET;
	v = getenv("PHIVAULT_RPO");
	if (v && *v && parse_target("PHIVAULT_RPO", v, &o->d.rpo_target))
		return -EINVAL;
	v = getenv("PHIVAULT_RTO");
	if (v && *v && parse_target("PHIVAULT_RTO", v, &o->d.rto_target))
		return -EINVAL;
	v = getenv("PHIVAULT_DRILL_SAMPLE");
	if (v && *v && parse_sample(v, &o->d.sample)) {
		cmd_fail("PHIVAULT_DRILL_SAMPLE: '%s' is not a fraction "
			 "in (0, 1]", v);
		return -EINVAL;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct dopts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	if (env_defaults(o))
		return -EINVAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "q", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_REPO: o->repo = optarg; break;
		case OPT_REPO_PASS: o->repo_pass = optarg; break;
		case OPT_ENDPOINT: o->endpoint = optarg; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_SNAPSHOT: o->d.snapshot = optarg; break;
		case OPT_RANDOM: o->d.pick = DRILL_PICK_RANDOM; break;
		case OPT_REPORT_DIR: o->report_dir = optarg; break;
		case OPT_ALERT: o->alert_hook = optarg; break;
		case OPT_SCRATCH: o->d.scratch_parent = optarg; break;
		case OPT_KEEP_SCRATCH: o->d.keep_scratch = 1; break;
		case OPT_NO_LOCKS: o->d.skip_locks = 1; break;
		case OPT_NO_PROBE: o->d.skip_delete_probe = 1; break;
		case OPT_NO_STORE: o->no_store = 1; break;
		case 'q':
		case OPT_QUIET: o->quiet = 1; break;
		case OPT_SAMPLE:
			if (parse_sample(optarg, &o->d.sample)) {
				cmd_fail("--sample wants a percentage like "
					 "10%% or a fraction like 0.1");
				return -EINVAL;
			}
			break;
		case OPT_RPO:
			if (parse_target("--rpo-target", optarg,
					 &o->d.rpo_target))
				return -EINVAL;
			break;
		case OPT_RTO:
			if (parse_target("--rto-target", optarg,
					 &o->d.rto_target))
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	if (!o->repo || !*o->repo) {
		cmd_fail("no repository: give --repo or set "
			 "PHIVAULT_REPOSITORY");
		return -EINVAL;
	}
	return 0;
}

/* Open store and repository and read the server's clock. */
static int open_repo(const struct dopts *o, struct store **stp,
		     struct repo **rp, time_t *server_nowp, char *why,
		     size_t whysize)
{
	struct secret sec = { 0 };
	int r;

	*rp = NULL;
	*stp = NULL;
	r = store_open(o->repo, o->endpoint, stp, why, whysize);
	if (r)
		return r;
	r = repo_clock_check(*stp, server_nowp, why, whysize);
	if (r == -PHV_ECLOCK)
		cmd_fail("warning: %s", why);	/* a drill still runs */
	else if (r)
		return r;
	r = repoopt_secret(o->repo_pass, 0, &sec);
	if (r) {
		snprintf(why, whysize, "no repository passphrase");
		return r;
	}
	r = repo_open(*stp, sec.data, sec.len, rp);
	secret_release(&sec);
	if (r == -PHV_EBADKEY)
		snprintf(why, whysize, "wrong repository passphrase");
	else if (r)
		snprintf(why, whysize, "cannot open repository %s: %s%s%s",
			 o->repo, phv_strerror(r),
			 store_error(*stp)[0] ? ": " : "", store_error(*stp));
	return r;
}

/* ---- files and the alert hook ----------------------------------------- */

static int write_file(const char *dir, const char *name, const char *buf,
		      size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	char *path = NULL;
	int r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = file_replace(path, &iov, 1, 0600);
	if (r)
		cmd_fail("cannot write %s: %s", path, strerror(-r));
	free(path);
	return r;
}

static const char *report_dir(const struct dopts *o)
{
	if (o->report_dir)
		return o->report_dir;
	if (geteuid())
		return ".";
	mkdir("/var/lib/phivault", 0700);
	mkdir(ROOT_REPORT_DIR, 0700);
	return ROOT_REPORT_DIR;
}

/*
 * The hook's environment: an allow-list (PATH, HOME, locale, TZ, user,
 * PHIVAULT_ALERT_*) minus anything named like a secret, plus the two
 * PHIVAULT_DRILL_* variables.  Built before fork(), the strings are
 * borrowed from environ and from the two buffers.
 */
static void hook_env(const char **envp, char *res, size_t rsize,
		     char *rep, size_t psize, const char *result,
		     const char *path)
{
	size_t n = hookenv_build(envp, HOOK_ENV_MAX, 2);

	snprintf(res, rsize, "PHIVAULT_DRILL_RESULT=%s", result);
	snprintf(rep, psize, "PHIVAULT_DRILL_REPORT=%s", path ? path : "");
	envp[n++] = res;
	envp[n++] = rep;
	envp[n] = NULL;
}

/* Feed json to `sh -c hook` on stdin; wait at most HOOK_TIMEOUT_S. */
static int run_hook(const char *hook, const char *json, size_t len,
		    const char *result, const char *path)
{
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	const char *envp[HOOK_ENV_MAX];
	char rvar[64], pvar[4200];
	int fds[2], status = 0, i;
	pid_t pid, w = 0;

	hook_env(envp, rvar, sizeof(rvar), pvar, sizeof(pvar), result,
		 path);
	if (pipe(fds))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (!pid) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		signal(SIGPIPE, SIG_DFL);
		execle("/bin/sh", "sh", "-c", hook, (char *)NULL,
		       (char *const *)envp);
		_exit(127);
	}
	close(fds[0]);
	if (write(fds[1], json, len) != (ssize_t)len)
		log_debug("alert hook did not read the whole report");
	close(fds[1]);
	for (i = 0; i < HOOK_TIMEOUT_S * 10; i++) {
		w = waitpid(pid, &status, WNOHANG);
		if (w)
			break;
		usleep(100000);
	}
	if (!w) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		cmd_fail("the alert hook ran longer than %ds and was killed",
			 HOOK_TIMEOUT_S);
	} else if (w > 0 && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		cmd_fail("the alert hook failed (status %d)", status);
	}
	signal(SIGPIPE, old);
	return 0;
}

/* An alert for a drill that could not run: there is no key to sign. */
static void alert_unsigned(const struct dopts *o, const char *why)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;

	if (!o->alert_hook)
		return;
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	fprintf(f, "{\n  \"format\": \"phivault-drill-alert 1\",\n"
		"  \"result\": \"failed\",\n  \"repository_url\": \"");
	for (i = 0; o->repo[i]; i++)
		if (o->repo[i] != '"' && o->repo[i] != '\\' &&
		    (unsigned char)o->repo[i] >= 0x20)
			fputc(o->repo[i], f);
	fprintf(f, "\",\n  \"error\": \"");
	for (i = 0; why[i]; i++)
		if (why[i] != '"' && why[i] != '\\' &&
		    (unsigned char)why[i] >= 0x20)
			fputc(why[i], f);
	fprintf(f, "\",\n  \"time_epoch\": %lld\n}\n",
		(long long)time(NULL));
	if (!fclose(f))
		run_hook(o->alert_hook, buf, len, "failed", NULL);
	free(buf);
}

/* ---- drill run -------------------------------------------------------- */

struct rendered {
	char *buf[3];
	size_t len[3];
};

static int render_all(struct repo *r, const struct drill_result *d,
		      struct rendered *out)
{
	struct drill_hist *h = NULL;
	size_t nh = 0;
	int ret, f;

	if (report_hist_load(r, &h, &nh))
		cmd_fail("warning: cannot read the past drills; the HTML "
			 "report shows this one only");
	for (f = REPORT_JSON, ret = 0; f <= REPORT_HTML && !ret; f++)
		ret = report_render(r, (enum report_fmt)f, d, h, nh,
				    &out->buf[f], &out->len[f]);
	free(h);
	return ret;
}

static int save_local(const struct dopts *o, const struct drill_result *d,
		      const struct rendered *rd, char **jsonpathp)
{
	static const char *const ext[3] = { "json", "txt", "html" };
	const char *dir = report_dir(o);
	char name[128], stamp[32];
	struct tm tm;
	int f, ret = 0;

	gmtime_r(&d->started, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (f = 0; f < 3; f++) {
		snprintf(name, sizeof(name), "drill-%s-%.8s.%s", stamp, d->id,
			 ext[f]);
		if (write_file(dir, name, rd->buf[f], rd->len[f]))
			ret = -EIO;
		else if (f == REPORT_JSON &&
			 asprintf(jsonpathp, "%s/%s", dir, name) < 0)
			*jsonpathp = NULL;
	}
	return ret;
}

/* The scratch sweep's lines, on stderr even when logging to syslog. */
static void print_notes(const char *note)
{
	const char *nl;

	for (; *note; note = nl + 1) {
		nl = strchr(note, '\n');
		if (!nl)
			break;
		cmd_fail("warning: %.*s", (int)(nl - note), note);
	}
}

/* Remove the plaintext scratch directory, then die of the signal. */
static void on_signal(int sig)
{
	drill_scratch_abort();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int drill_main(struct dopts *o)
{
	struct drill_result d;
	struct rendered rd = { { NULL } };
	struct store *st = NULL;
	struct repo *r = NULL;
	char why[1024] = "", *jpath = NULL, *key = NULL;
	time_t now = 0;
	int ret, f, status = EXIT_FAIL;

	memset(&d, 0, sizeof(d));
	ret = open_repo(o, &st, &r, &now, why, sizeof(why));
	/* shared: backups may run beside a drill, prune and forget not */
	if (!ret)
		ret = repo_lock(r, REPO_LOCK_SHARED, "drill", NULL, why,
				sizeof(why));
	if (ret) {
		cmd_fail("drill could not run: %s", why[0] ? why :
			 phv_strerror(ret));
		alert_unsigned(o, why[0] ? why : phv_strerror(ret));
		status = ret == -PHV_EBADKEY ? EXIT_BADKEY : EXIT_FAIL;
		goto out;
	}
	o->d.server_now = now;
	snprintf(d.repo_url, sizeof(d.repo_url), "%s", o->repo);
	if (o->d.keep_scratch)
		cmd_fail("WARNING: --keep-scratch leaves the restored "
			 "plaintext PHI on disk after the drill");
	catch_signals();
	ret = drill_run(r, &o->d, &d);
	if (ret)
		cmd_fail("the drill stopped early: %s", phv_strerror(ret));
	print_notes(d.scratch_note);
	if (d.kept_scratch[0])
		cmd_fail("WARNING: plaintext PHI is left at %s "
			 "(--keep-scratch); remove it with 'rm -rf' when done",
			 d.kept_scratch);
	if (d.test_hooks[0])
		cmd_fail("WARNING: test hooks are set (%s): the report is "
			 "marked as made with test hooks", d.test_hooks);
	ret = render_all(r, &d, &rd);
	if (ret) {
		cmd_fail("cannot write the drill report: %s",
			 phv_strerror(ret));
		alert_unsigned(o, "cannot write the drill report");
		goto out;
	}
	status = d.passed ? EXIT_OK : EXIT_FAIL;
	if (save_local(o, &d, &rd, &jpath))
		status = EXIT_FAIL;
	if (!o->no_store) {
		ret = report_store(r, &d, rd.buf[REPORT_JSON],
				   rd.len[REPORT_JSON], now, &key);
		if (ret) {
			cmd_fail("cannot keep the report in the repository: %s",
				 phv_strerror(ret));
			status = EXIT_FAIL;
		}
	}
	if (o->json)
		fwrite(rd.buf[REPORT_JSON], 1, rd.len[REPORT_JSON], stdout);
	else if (!o->quiet)
		fwrite(rd.buf[REPORT_TEXT], 1, rd.len[REPORT_TEXT], stdout);
	if (d.critical)
		cmd_fail("%s", d.checks[DRILL_DELETE].status == DRILL_CRITICAL ?
			 d.checks[DRILL_DELETE].summary :
			 d.checks[DRILL_LOCKS].summary);
	if (d.checks[DRILL_TAMPER].status == DRILL_FAILED && d.tampered)
		cmd_fail("%s", d.checks[DRILL_TAMPER].summary);
	if (d.warnings && !o->quiet)
		cmd_fail("warning: %s", d.checks[DRILL_LOCKS].status ==
			 DRILL_WARNING ? d.checks[DRILL_LOCKS].summary :
			 "see the report");
	if (status != EXIT_OK && o->alert_hook)
		run_hook(o->alert_hook, rd.buf[REPORT_JSON],
			 rd.len[REPORT_JSON], d.critical ? "critical" :
			 "failed", jpath);
out:
	for (f = 0; f < 3; f++)
		free(rd.buf[f]);
	free(jpath);
	free(key);
	drill_result_release(&d);
	repo_free(r);
	store_free(st);
	return status;
}

/* ---- verify and history ------------------------------------------------- */

static int read_all(const char *path, char **bufp, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, n;
	int ret = 0;

	*bufp = NULL;
	if (!f)
		return -errno;
	buf = malloc(REPORT_MAX + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	n = fread(buf, 1, REPORT_MAX + 1, f);
	if (ferror(f))
		ret = -EIO;
	else if (n > REPORT_MAX)
		ret = -EFBIG;
	len = n;
out:
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int verify_main(struct dopts *o, int nfiles, char **files)
{
	struct store *st = NULL;
	struct repo *r = NULL;
	char why[512] = "", *buf;
	time_t now;
	size_t len = 0;
	int i, ret, status = EXIT_OK;

	ret = open_repo(o, &st, &r, &now, why, sizeof(why));
	if (ret) {
		cmd_fail("%s", why[0] ? why : phv_strerror(ret));
		status = ret == -PHV_EBADKEY ? EXIT_BADKEY : EXIT_FAIL;
		goto out;
	}
	for (i = 0; i < nfiles; i++) {
		ret = read_all(files[i], &buf, &len);
		if (ret) {
			cmd_fail("cannot read %s: %s", files[i],
				 phv_strerror(ret));
			status = status == EXIT_OK ? EXIT_FAIL : status;
			continue;
		}
		ret = report_verify(r, buf, len);
		free(buf);
		if (!ret) {
			printf("%s: signature OK\n", files[i]);
			continue;
		}
		printf("%s: %s\n", files[i], ret == -PHV_EFORMAT ?
		       "not a signed drill report" : ret == -PHV_EAUTH ?
		       "SIGNATURE DOES NOT MATCH: edited, or not from this "
		       "repository" : phv_strerror(ret));
		status = ret == -PHV_EAUTH || ret == -PHV_EFORMAT ?
			EXIT_DAMAGED : EXIT_FAIL;
	}
out:
	repo_free(r);
	store_free(st);
	return status;
}

static void history_json(const struct drill_hist *h, size_t n)
{
	size_t i, k;

	printf("[");
	for (i = 0; i < n; i++) {
		printf("%s\n  {\"drill_id\": \"%s\", \"started_epoch\": %lld, "
		       "\"result\": \"%s\", \"verified\": %s, "
		       "\"signature\": \"%s\", "
		       "\"snapshot\": \"%s\", \"rpo_seconds\": %lld, "
		       "\"rto_seconds\": %lld, \"key\": \"%s\", \"cause\": \"",
		       i ? "," : "", h[i].id, (long long)h[i].time,
		       h[i].critical ? "critical" : h[i].passed ? "passed" :
		       "failed", h[i].verified ? "true" : "false",
		       h[i].verified ? "ok" : "BADSIG",
		       h[i].snapshot, (long long)h[i].rpo,
		       (long long)h[i].rto, h[i].key);
		for (k = 0; h[i].cause[k]; k++)
			if (h[i].cause[k] != '"' && h[i].cause[k] != '\\')
				putchar(h[i].cause[k]);
		printf("\"}");
	}
	printf("%s]\n", n ? "\n" : "");
}

static int history_main(struct dopts *o)
{
	struct drill_hist *h = NULL;
	struct store *st = NULL;
	struct repo *r = NULL;
	char why[512] = "", t[32], a[32], b[32];
	time_t now;
	size_t i, n = 0;
	int ret, status = EXIT_FAIL;

	ret = open_repo(o, &st, &r, &now, why, sizeof(why));
	if (ret) {
		cmd_fail("%s", why[0] ? why : phv_strerror(ret));
		status = ret == -PHV_EBADKEY ? EXIT_BADKEY : EXIT_FAIL;
		goto out;
	}
	ret = report_hist_load(r, &h, &n);
	if (ret) {
		cmd_fail("cannot list the drills: %s", phv_strerror(ret));
		goto out;
	}
	status = EXIT_OK;
	for (i = 0; i < n; i++)
		if (!h[i].verified)
			status = EXIT_DAMAGED;	/* in both forms */
	if (o->json) {
		history_json(h, n);
		goto out;
	}
	printf("%-20s  %-8s  %-8s  %-8s  %-8s  %s\n", "started (UTC)",
	       "result", "snapshot", "RPO", "RTO", "cause");
	for (i = 0; i < n; i++) {
		drill_fmt_time(h[i].time, t, sizeof(t));
		drill_fmt_dur(h[i].rpo, a, sizeof(a));
		drill_fmt_dur(h[i].rto, b, sizeof(b));
		printf("%-20s  %-8s  %-8.8s  %-8s  %-8s  %s\n", t,
		       !h[i].verified ? "BADSIG" : h[i].critical ? "CRITICAL"
		       : h[i].passed ? "passed" : "failed", h[i].snapshot, a,
		       b, h[i].cause);
	}
out:
	free(h);
	repo_free(r);
	store_free(st);
	return status;
}

int cmd_drill(int argc, char **argv)
{
	const char *sub = argc > 1 && argv[1][0] != '-' ? argv[1] : "run";
	int shift = argc > 1 && argv[1][0] != '-' ? 1 : 0;
	struct dopts o;

	if (strcmp(sub, "run") && strcmp(sub, "verify") &&
	    strcmp(sub, "history")) {
		cmd_fail("drill: unknown subcommand '%s'", sub);
		return cmd_usage("drill", EXIT_USAGE);
	}
	if (parse_opts(argc - shift, argv + shift, &o))
		return cmd_usage("drill", EXIT_USAGE);
	if (!isatty(2))
		log_use_syslog(1);
	if (!strcmp(sub, "verify")) {
		if (optind >= argc - shift) {
			cmd_fail("drill verify: name the report files");
			return cmd_usage("drill", EXIT_USAGE);
		}
		return verify_main(&o, argc - shift - optind,
				   argv + shift + optind);
	}
	if (optind < argc - shift) {
		cmd_fail("drill: unexpected argument '%s'",
			 argv[shift + optind]);
		return cmd_usage("drill", EXIT_USAGE);
	}
	if (!strcmp(sub, "history"))
		return history_main(&o);
	return drill_main(&o);
}
