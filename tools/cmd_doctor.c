// SPDX-License-Identifier: MIT
/*
 * cmd_doctor.c - `phivault doctor NAME`: check in one run that a volume
 * configured in /etc/phivault/NAME.conf is in working order.
 *
 * Checks, in order: the configuration file, the key source (it unlocks
 * the volume), the mount (mounted, statfs and a stat of the root answer),
 * whether other users can reach the backing directory past an access
 * policy, the audit chain, the repository (reachable, the passphrase
 * opens it),
 * its Object Lock (enabled, in the expected mode), the clocks (server vs
 * local, REPO_CLOCK_SKEW_MAX), the age of the newest backup (vs rpo) and
 * of the newest drill (vs drill-interval, plus a day for the timer's
 * random delay), and that no repository object was deleted or overwritten
 * since it was written (tampering).  Each prints one line, PASS, WARN,
 * FAIL or SKIP, and a FAIL or WARN says what to do.  A check that cannot
 * run because an earlier one failed or because the file does not
 * configure it is a SKIP, never a PASS.  A WARN marks a working control
 * that is weaker than it looks (GOVERNANCE mode: the bypass permission
 * can delete every backup); it does not make the doctor exit non-zero,
 * because governance is a legitimate, configured choice for test and
 * staging repositories; the last line counts the warnings.
 *
 * The doctor runs no hooks and starts no programs but the mount probe
 * (a fork of itself), so it hands no secret to anything.
 *
 * The doctor never writes: it unlocks the volume only to derive the
 * audit key and closes it at once, opens the repository without taking
 * its lock, and probes the mount from a child process with a time-out so
 * a hung FUSE daemon cannot hang the doctor.  Secrets come only from the
 * unattended sources the file names; the doctor never prompts.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backup/drill.h"
#include "backup/maint.h"
#include "backup/repo.h"
#include "backup/report.h"
#include "backup/s3.h"
#include "backup/store.h"
#include "common/conf.h"
#include "common/err.h"
#include "crypto/secmem.h"
#include "fs/vol.h"
#include "policy/audit.h"
#include "policy/guard.h"
#include "cmd.h"
#include "keysrc.h"
#include "mount_guard.h"
#include "repoopt.h"
#include "secret.h"
#include "unlock.h"

#define PROBE_TIMEOUT	10		/* seconds for statfs + stat */
#define DRILL_GRACE	86400		/* timer delay and run time */

enum verdict { PASS, FAIL, SKIP, WARN };

struct doctor {
	const struct conf *c;
	struct vol *vol;		/* unlocked by the key check */
	struct store *st;
	struct repo *repo;
	time_t now;			/* server clock when known */
	int nfail, nwarn;
};

static void say(struct doctor *d, enum verdict v, const char *check,
		const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void say(struct doctor *d, enum verdict v, const char *check,
		const char *fix, const char *fmt, ...)
{
	static const char *const word[] = { "PASS", "FAIL", "SKIP", "WARN" };
	va_list ap;

	printf("%s  %-10s ", word[v], check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if ((v == FAIL || v == WARN) && fix)
		printf("      %-10s fix: %s\n", "", fix);
	if (v == FAIL)
		d->nfail++;
	if (v == WARN)
		d->nwarn++;
	fflush(stdout);
}

static const char *get(const struct doctor *d, enum conf_key k)
{
	return conf_get_def(d->c, k);
}

/* ---- key source ------------------------------------------------------- */

static void check_key(struct doctor *d)
{
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	const char *dir = get(d, CONF_CIPHERDIR);
	int r;

	if (!dir) {
		say(d, SKIP, "key", NULL, "the file sets no cipherdir");
		return;
	}
	so.keyfile = get(d, CONF_KEYFILE);
	so.passphrase_file = get(d, CONF_PASSPHRASE_FILE);
	so.passphrase_command = get(d, CONF_PASSPHRASE_COMMAND);
	ko.pkcs11_module = get(d, CONF_PKCS11_MODULE);
	ko.token_label = get(d, CONF_TOKEN_LABEL);
	ko.key_label = get(d, CONF_KEY_LABEL);
	ko.pin_file = get(d, CONF_PIN_FILE);
	ko.pin_command = get(d, CONF_PIN_COMMAND);
	ko.key_command = get(d, CONF_KEY_COMMAND);
	if (!so.keyfile && !so.passphrase_file && !so.passphrase_command &&
	    !getenv(so.env_file) && !keysrc_type(&ko)) {
		say(d, FAIL, "key", "set passphrase-file, keyfile, "
		    "passphrase-command, token-label or key-command",
		    "no unattended key source: the mount service could only "
		    "ask on a terminal");
		return;
	}
	r = keysrc_unlock(dir, &so, &ko, &d->vol);
	if (r == -ENOSYS)
		say(d, SKIP, "key", NULL, "token and key-command slots are "
		    "not available in this build");
	else if (r)
		say(d, FAIL, "key", "check the key source named in the file "
		    "with 'phivault key list' and docs/KEYS.md",
		    "the configured key source does not unlock %s: %s", dir,
		    phv_strerror(r));
	else
		say(d, PASS, "key", NULL, "the configured key source unlocks "
		    "%s", dir);
}

/* ---- mount ------------------------------------------------------------ */

/* The file system type mounted exactly at dir, from mountinfo, or "". */
static void mount_type(const char *dir, char *type, size_t size)
{
	char line[8192], mp[PATH_MAX], fst[128];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *sep;

	*type = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts ... - fstype ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%127s", fst) != 1)
			continue;
		/* mountinfo escapes blanks as \040; compare as written */
		if (!strcmp(mp, dir))
			snprintf(type, size, "%s", fst);
	}
	fclose(f);
}

/* statfs and stat the root in a child: 0, -ETIMEDOUT or -errno. */
static int probe_mount(const char *dir)
{
	struct statvfs sv;
	struct stat st;
	int status, i;
	pid_t pid, w;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (statvfs(dir, &sv))
			_exit(errno & 0x7f);
		if (stat(dir, &st))
			_exit(errno & 0x7f);
		_exit(0);
	}
	for (i = 0; i < PROBE_TIMEOUT * 10; i++) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		usleep(100000);
	}
	if (w != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -ETIMEDOUT;
	}
	if (!WIFEXITED(status))
		return -EIO;
	return -WEXITSTATUS(status);
}

static void check_mount(struct doctor *d)
{
	const char *mp = get(d, CONF_MOUNTPOINT);
	char type[128], fix[256];
	int r;

	if (!mp) {
		say(d, SKIP, "mount", NULL, "the file sets no mountpoint");
		return;
	}
	snprintf(fix, sizeof(fix), "systemctl start phivault-mount@%s, or "
		 "'phivault -V %s mount'", conf_name(d->c), conf_name(d->c));
	mount_type(mp, type, sizeof(type));
	if (!type[0]) {
		say(d, FAIL, "mount", fix, "%s is not mounted", mp);
		return;
	}
	if (strncmp(type, "fuse", 4)) {
		say(d, FAIL, "mount", "unmount it and mount the volume there",
		    "%s holds a %s file system, not a phivault mount", mp,
		    type);
		return;
	}
	r = probe_mount(mp);
	if (r == -ENOTCONN)
		say(d, FAIL, "mount", "the daemon died: 'fusermount3 -u' the "
		    "mount point, then restart the service", "%s: transport "
		    "endpoint not connected", mp);
	else if (r)
		say(d, FAIL, "mount", "look at 'journalctl -u "
		    "phivault-mount@NAME'", "%s does not answer statfs and "
		    "stat: %s", mp, strerror(-r));
	else
		say(d, PASS, "mount", NULL, "%s is mounted (%s); statfs and "
		    "stat answer", mp, type);
}

/* ---- backing directory ------------------------------------------------ */

/* With a policy, users who can enter the cipherdir bypass it. */
static void check_backing(struct doctor *d)
{
	const char *dir = get(d, CONF_CIPHERDIR);
	char pol[PATH_MAX + 32], why[PATH_MAX + 128], fix[PATH_MAX + 160];
	uint8_t pin[GUARD_PIN_LEN];
	struct stat st;
	int r;

	if (!dir || stat(dir, &st)) {
		say(d, SKIP, "backing", NULL, "no cipherdir to check");
		return;
	}
	snprintf(pol, sizeof(pol), "%s/%s", dir, GUARD_POLICY_FILE);
	if (stat(pol, &st) && !(d->vol && vol_policy_pin(d->vol, pin) ==
				VOL_POLICY_REQUIRED)) {
		say(d, SKIP, "backing", NULL, "no access policy: mode bits "
		    "guard the backing files as they guard the mount");
		return;
	}
	if (stat(dir, &st)) {
		say(d, FAIL, "backing", NULL, "cannot stat %s: %s", dir,
		    strerror(errno));
		return;
	}
	r = mount_guard_exposed(dir, st.st_uid, why, sizeof(why));
	snprintf(fix, sizeof(fix), "mkdir -m 700 /srv/phivault, move %s "
		 "into it (unmounted) and set cipherdir; see "
		 "docs/OPERATIONS.md", dir);
	if (r < 0)
		say(d, FAIL, "backing", NULL, "cannot examine the directories "
		    "above %s: %s", dir, phv_strerror(r));
	else if (r)
		say(d, FAIL, "backing", fix, "other users can reach %s past "
		    "the access policy: %s", dir, why);
	else
		say(d, PASS, "backing", NULL, "only root and uid %u can reach "
		    "%s", (unsigned int)st.st_uid, dir);
}

/* ---- audit ------------------------------------------------------------ */

static void check_audit(struct doctor *d)
{
	struct audit_verify_opts vo = { 0 };
	struct audit_verify_result res;
	const char *log = get(d, CONF_AUDIT_LOG);
	const char *dir = get(d, CONF_CIPHERDIR);
	uint8_t *key = NULL;
	char state[PATH_MAX], **files = NULL;
	struct stat st;
	int n = 0, r;

	if (!log || stat(log, &st)) {
		say(d, SKIP, "audit", NULL, "no audit log at %s", log ? log :
		    "(unset)");
		return;
	}
	vo.pubkey = get(d, CONF_AUDIT_PUBKEY);
	if (d->vol) {
		key = secmem_alloc(AUDIT_KEY_LEN);
		if (key && !vol_derive_key(d->vol, "audit", key,
					   AUDIT_KEY_LEN)) {
			vo.key = key;
			snprintf(state, sizeof(state), "%s/%s", dir,
				 GUARD_STATE_FILE);
			if (!stat(state, &st))
				vo.state_path = state;
		}
	}
	memset(&res, 0, sizeof(res));
	r = audit_segments(log, &files, &n);
	if (!r)
		r = audit_verify(files, n, &vo, &res);
	if (r == -PHV_EAUTH)
		say(d, FAIL, "audit", "treat as a security incident: keep the "
		    "files, see docs/OPERATIONS.md, break-glass review",
		    "%s:%ld: record %llu: %s", res.file, res.line, res.seq,
		    res.why);
	else if (r)
		say(d, FAIL, "audit", "check the log's permissions and disk",
		    "cannot verify %s: %s", log, phv_strerror(r));
	else
		say(d, PASS, "audit", NULL, "%llu records in %d segment(s) "
		    "verify%s", res.records, n, vo.key ? " with the volume "
		    "key" : " (public key only: unlock failed)");
	audit_segments_free(files, n);
	if (key)
		secmem_free(key, AUDIT_KEY_LEN);
}

/* ---- repository ------------------------------------------------------- */

static void check_repo(struct doctor *d)
{
	const char *pass = get(d, CONF_REPO_PASSPHRASE_FILE);
	const char *url = get(d, CONF_REPOSITORY);
	struct secret sec = { 0 };
	char msg[512] = "";
	int r, locked = 0;

	r = store_open(url, get(d, CONF_ENDPOINT), &d->st, msg, sizeof(msg));
	if (r) {
		say(d, FAIL, "repository", "fix 'repository' and 'endpoint' in "
		    "the file", "%s", msg[0] ? msg : phv_strerror(r));
		return;
	}
	r = d->st->ops->check(d->st, &locked);
	if (r) {
		say(d, FAIL, "repository", "check the endpoint, credentials "
		    "and network", "%s is not reachable: %s%s%s", url,
		    phv_strerror(r), store_error(d->st)[0] ? ": " : "",
		    store_error(d->st));
		return;
	}
	if (!pass && !getenv(REPOOPT_ENV_PASSFILE)) {
		say(d, FAIL, "repository", "set repo-passphrase-file",
		    "%s is reachable, but no repository passphrase file is "
		    "configured", url);
		return;
	}
	r = repoopt_secret(pass, 0, &sec);
	if (!r) {
		r = repo_open(d->st, sec.data, sec.len, &d->repo);
		secret_release(&sec);
	}
	if (r == -PHV_ENOTFOUND)
		say(d, FAIL, "repository", "run 'phivault -V NAME repo init'",
		    "%s is reachable but holds no repository", url);
	else if (r)
		say(d, FAIL, "repository", "check repo-passphrase-file",
		    "cannot open %s: %s", url, phv_strerror(r));
	else
		say(d, PASS, "repository", NULL, "%s is reachable and the "
		    "passphrase opens it", url);
}

static enum store_lock_mode expected_mode(struct doctor *d)
{
	const char *m = get(d, CONF_LOCK_MODE);

	if (!strcmp(m, "compliance"))
		return STORE_LOCK_COMPLIANCE;
	if (!strcmp(m, "governance"))
		return STORE_LOCK_GOVERNANCE;
	return STORE_LOCK_NONE;
}

static const char *mode_name(enum store_lock_mode m)
{
	return m == STORE_LOCK_COMPLIANCE ? "compliance" :
	       m == STORE_LOCK_GOVERNANCE ? "governance" : "none";
}

/* The bucket of an s3:// URL into buf; 0 or -EINVAL. */
static int bucket_of(const char *url, char *buf, size_t size)
{
	size_t n;

	if (strncmp(url, "s3://", 5))
		return -EINVAL;
	url += 5;
	n = strcspn(url, "/");
	if (!n || n >= size)
		return -EINVAL;
	memcpy(buf, url, n);
	buf[n] = '\0';
	return 0;
}

/* Object Lock and clock, through the S3 client directly. */
static void check_lock_and_clock(struct doctor *d)
{
	const char *url = get(d, CONF_REPOSITORY);
	struct s3_config cfg = { .endpoint = get(d, CONF_ENDPOINT) };
	enum store_lock_mode want = expected_mode(d);
	struct s3_lock_config lc = { 0 };
	struct s3_client *cl = NULL;
	char bucket[256];
	time_t server, local;
	long long skew;
	int r;

	if (bucket_of(url, bucket, sizeof(bucket))) {
		if (want == STORE_LOCK_NONE)
			say(d, SKIP, "lock", NULL, "local directory "
			    "repository and lock-mode none");
		else
			say(d, FAIL, "lock", "use an s3:// repository, or set "
			    "lock-mode = none to accept this", "%s is a "
			    "local directory: no Object Lock", url);
		say(d, SKIP, "clock", NULL, "local directory repository");
		return;
	}
	r = s3_client_new(&cfg, &cl);
	if (r) {
		say(d, FAIL, "lock", "fix endpoint and credentials", "%s",
		    s3_config_error());
		say(d, SKIP, "clock", NULL, "no S3 client");
		return;
	}
	r = s3_get_lock_config(cl, bucket, &lc);
	if (r == -PHV_ENOTFOUND || (!r && !lc.enabled))
		say(d, FAIL, "lock", "a bucket cannot get Object Lock later: "
		    "make a new one with 'phivault repo init'",
		    "bucket %s has no Object Lock", bucket);
	else if (r)
		say(d, FAIL, "lock", "check the credentials' permissions",
		    "cannot read the Object Lock configuration of %s: %s",
		    bucket, s3_last_error(cl));
	else if (d->repo && d->repo->mode != want)
		say(d, FAIL, "lock", "set lock-mode to what 'repo init' used, "
		    "or make a new repository", "the repository locks in %s "
		    "mode, the file expects %s", mode_name(d->repo->mode),
		    mode_name(want));
	else if (lc.default_mode != S3_LOCK_NONE &&
		 (int)lc.default_mode != (int)want)
		say(d, FAIL, "lock", "align the bucket's default retention "
		    "with lock-mode", "bucket %s defaults to %s, the file "
		    "expects %s", bucket, s3_lock_mode_name(lc.default_mode),
		    mode_name(want));
	else if (want == STORE_LOCK_GOVERNANCE)
		say(d, WARN, "lock", "for production, make a repository with "
		    "'repo init --lock-mode compliance', or take "
		    "s3:BypassGovernanceRetention from the backup's "
		    "credentials", "bucket %s has Object Lock; " DRILL_GOV_WARN
		    "%s", bucket, d->repo ? "" : " (repository unread)");
	else
		say(d, PASS, "lock", NULL, "bucket %s has Object Lock; "
		    "objects are locked in %s mode%s", bucket,
		    mode_name(want), d->repo ? "" : " (repository unread)");

	r = s3_server_time(cl, bucket, &server);
	local = time(NULL);
	if (r) {
		say(d, FAIL, "clock", "check the endpoint", "cannot read the "
		    "server's clock: %s", s3_last_error(cl));
	} else {
		skew = (long long)local - (long long)server;
		if (llabs(skew) > REPO_CLOCK_SKEW_MAX)
			say(d, FAIL, "clock", "synchronise this host's clock "
			    "(systemd-timesyncd, chrony)", "local clock is "
			    "%lld s %s the server's", llabs(skew),
			    skew > 0 ? "ahead of" : "behind");
		else
			say(d, PASS, "clock", NULL, "local and server clocks "
			    "agree within %lld s", llabs(skew));
		d->now = server;
	}
	s3_client_free(cl);
}

/* The fix for a stale backup or drill: its timer unit, and the command
 * that runs one by hand (what is "backup" or "drill"). */
static void timer_fix(const struct doctor *d, const char *what, char *fix,
		      size_t size)
{
	snprintf(fix, size, "systemctl status phivault-%s@%s.timer; run "
		 "'phivault -V %s %s'", what, conf_name(d->c),
		 conf_name(d->c), what);
}

static void check_backup_age(struct doctor *d)
{
	const char *src = get(d, CONF_BACKUP_SOURCE);
	int64_t rpo = conf_get_num(d->c, CONF_RPO);
	struct repo_snap *s = NULL;
	time_t newest = 0;
	char fix[256];
	size_t n = 0, i;
	int r;

	r = repo_snaps_load(d->repo, &s, &n);
	if (r) {
		say(d, FAIL, "backup", "run 'phivault -V NAME check'",
		    "cannot list snapshots: %s", phv_strerror(r));
		return;
	}
	for (i = 0; i < n; i++)
		if (s[i].loaded && (!src || !strcmp(s[i].m.source, src)) &&
		    s[i].m.time > newest)
			newest = (time_t)s[i].m.time;
	repo_snaps_free(s, n);
	timer_fix(d, "backup", fix, sizeof(fix));
	if (!newest)
		say(d, FAIL, "backup", fix, "no snapshot of %s", src ? src :
		    "anything");
	else if (d->now - newest > rpo)
		say(d, FAIL, "backup", fix, "newest snapshot is %lld h old; "
		    "rpo is %lld h", (long long)(d->now - newest) / 3600,
		    (long long)rpo / 3600);
	else
		say(d, PASS, "backup", NULL, "newest snapshot is %lld h old "
		    "(rpo %lld h)", (long long)(d->now - newest) / 3600,
		    (long long)rpo / 3600);
}

static void check_drill_age(struct doctor *d)
{
	int64_t every = conf_get_num(d->c, CONF_DRILL_INTERVAL);
	struct drill_hist *h = NULL, *last = NULL;
	char fix[256];
	size_t n = 0, i;
	int r;

	r = report_hist_load(d->repo, &h, &n);
	if (r) {
		say(d, FAIL, "drill", "run 'phivault -V NAME drill history'",
		    "cannot read the drill history: %s", phv_strerror(r));
		return;
	}
	for (i = 0; i < n; i++)
		if (h[i].verified && (!last || h[i].time > last->time))
			last = &h[i];
	timer_fix(d, "drill", fix, sizeof(fix));
	if (!last)
		say(d, FAIL, "drill", fix, "no signed drill report in the "
		    "repository");
	else if (d->now - last->time > every + DRILL_GRACE)
		say(d, FAIL, "drill", fix, "last drill is %lld d old; "
		    "drill-interval is %lld d",
		    (long long)(d->now - last->time) / 86400,
		    (long long)every / 86400);
	else if (!last->passed)
		say(d, FAIL, "drill", "read the report: 'phivault -V NAME "
		    "drill history'", "last drill failed: %s", last->cause);
	else
		say(d, PASS, "drill", NULL, "last drill passed %lld h ago",
		    (long long)(d->now - last->time) / 3600);
	free(h);
}

static void check_tamper(struct doctor *d)
{
	struct maint_tamper t;
	int r;

	if (!d->repo->st->immutable) {
		say(d, SKIP, "tampering", NULL, "the store keeps no versions");
		return;
	}
	r = maint_tamper_scan(d->repo, NULL, NULL, &t);
	if (r)
		say(d, FAIL, "tampering", "check the credentials' "
		    "s3:ListBucketVersions permission", "cannot list the "
		    "versions: %s", phv_strerror(r));
	else if (maint_tampered(&t))
		say(d, FAIL, "tampering", "treat as a security incident: "
		    "rotate the backup's S3 keys, then run 'phivault -V NAME "
		    "check' for the list", "repository tampering: %llu "
		    "objects deleted or overwritten since their locked "
		    "version; %s", (unsigned long long)maint_tampered(&t),
		    t.lost ? "some have no locked version left" :
		    "the locked versions are intact");
	else
		say(d, PASS, "tampering", NULL, "none of %llu objects was "
		    "deleted or overwritten", (unsigned long long)t.keys);
}

static void check_backups(struct doctor *d)
{
	const char *url = get(d, CONF_REPOSITORY);
	static const char *const names[] = {
		"repository", "lock", "clock", "backup", "drill",
		"tampering",
	};
	size_t i;

	if (!url) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			say(d, SKIP, names[i], NULL, "the file sets no "
			    "repository");
		return;
	}
	d->now = time(NULL);
	check_repo(d);
	check_lock_and_clock(d);
	if (!d->repo) {
		say(d, SKIP, "backup", NULL, "repository not open");
		say(d, SKIP, "drill", NULL, "repository not open");
		say(d, SKIP, "tampering", NULL, "repository not open");
		return;
	}
	check_backup_age(d);
	check_drill_age(d);
	check_tamper(d);
}

int cmd_doctor(int argc, char **argv)
{
	struct conf *c = NULL;
	struct doctor d = { 0 };
	char msg[768];
	int r;

	optind = 1;
	while (getopt(argc, argv, "") != -1)
		return cmd_usage("doctor", EXIT_USAGE);
	if (optind != argc - 1)
		return cmd_usage("doctor", EXIT_USAGE);
	r = conf_load(argv[optind], &c, msg, sizeof(msg));
	if (r) {
		printf("FAIL  %-10s %s\n", "config", msg);
		return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	/* the same environment `phivault -V NAME` gives every command */
	conf_export_env(c);
	d.c = c;
	printf("phivault doctor: volume %s (%s)\n", conf_name(c),
	       conf_file(c));
	say(&d, PASS, "config", NULL, "%s is safe to use", conf_file(c));
	check_key(&d);
	check_mount(&d);
	check_backing(&d);
	check_audit(&d);
	vol_close(d.vol);
	d.vol = NULL;
	check_backups(&d);
	repo_free(d.repo);
	store_free(d.st);
	printf("%s", d.nfail ? "some checks failed" : "no check failed");
	if (d.nwarn)
		printf(", %d warning%s", d.nwarn, d.nwarn > 1 ? "s" : "");
	printf("\n");
	conf_free(c);
	return d.nfail ? EXIT_FAIL : EXIT_OK;
}
