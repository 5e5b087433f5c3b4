// SPDX-License-Identifier: MIT
/*
 * cmd_policy.c - policy, grant, grants, revoke, break-glass and audit
 * subcommands.
 *
 * Offline work (check, explain against a draft, audit verify and report)
 * uses the policy library directly.  Everything that changes the running
 * mount talks to its control socket (policy/ctl.h), where the mount
 * learns who asks from the kernel.  `policy set` and `audit verify` with
 * --volume unlock the volume to derive their keys, and wipe them after.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "crypto/secmem.h"
#include "fs/vol.h"
#include "policy/audit.h"
#include "policy/ctl.h"
#include "policy/guard.h"
#include "policy/jsonl.h"
#include "policy/policy.h"
#include "policy/sealed.h"
#include "cliaudit.h"
#include "cmd.h"
#include "keysrc.h"
#include "mount_guard.h"
#include "secret.h"
#include "unlock.h"
#include "volopt.h"

#define DEFAULT_SOCKET	"/run/phivault/phivault.sock"

/*
 * Say why ctl_call() of request what on sock failed with r.  When the
 * request reached the mount but no answer came back, a grant, revoke or
 * break-glass may still have been carried out: say so, and how to look.
 */
static void ctl_error(const char *sock, const char *what, int r)
{
	int changes = strcmp(what, "explain") && strcmp(what, "grants");

	if (r == -ETIMEDOUT)
		fprintf(stderr, "phivault: %s: timed out after %d s waiting "
			"for the mount on %s", what,
			CTL_CALL_TIMEOUT_MS / 1000, sock);
	else if (r == -EPROTO)
		fprintf(stderr, "phivault: %s: the mount on %s closed the "
			"connection without an answer", what, sock);
	else
		fprintf(stderr, "phivault: no mount on %s: %s", sock,
			phv_strerror(r));
	if ((r == -ETIMEDOUT || r == -EPROTO) && changes)
		fprintf(stderr, "; the request may still have been carried "
			"out: check with 'phivault grants -S %s' before "
			"trying again", sock);
	fputc('\n', stderr);
}

/*
 * The mount's socket: --socket, PHIVAULT_SOCKET, or the mount's default
 * /run/phivault/NAME.sock for the volume named by --volume or
 * PHIVAULT_VOLUME_NAME (tools/mount_guard.h); else the old fixed path.
 */
static const char *socket_path(const char *opt)
{
	static char buf[PATH_MAX];
	const char *env = getenv("PHIVAULT_SOCKET");
	const char *name = volopt_name();

	if (opt)
		return opt;
	if (env && *env)
		return env;
	if (!name)
		name = getenv("PHIVAULT_VOLUME_NAME");
	if (!name || !*name || strchr(name, '/'))
		return DEFAULT_SOCKET;
	snprintf(buf, sizeof(buf), MOUNT_GUARD_RUN_DIR "/%s.sock", name);
	return buf;
}

struct diag_ctx {
	int count;
	const char *file;
};

static void diag_print(void *ctx, int line, enum policy_sev sev,
		       const char *msg)
{
	struct diag_ctx *d = ctx;

	fprintf(stderr, "%s:%d: %s: %s\n", d->file, line,
		sev == POLICY_ERROR ? "error" : "warning", msg);
	d->count++;
}

static int load_draft(const char *file, struct policy **polp, int *nwarn)
{
	struct diag_ctx d = { .file = file };
	char *buf = NULL;
	size_t len;
	int r;

	r = sealed_slurp(file, &buf, &len);
	if (r) {
		fprintf(stderr, "phivault: %s: %s\n", file, phv_strerror(r));
		return r;
	}
	r = policy_parse(buf, len, diag_print, &d, polp);
	free(buf);
	if (nwarn)
		*nwarn = d.count;
	return r;
}

static int policy_check(int argc, char **argv)
{
	struct diag_ctx d = { 0 };
	struct policy *pol = NULL;
	int r, warn = 0;

	if (argc != 2)
		return cmd_usage("policy", EXIT_USAGE);
	r = load_draft(argv[1], &pol, &warn);
	if (r)
		return EXIT_FAIL;
	d.file = argv[1];
	warn += policy_lint(pol, diag_print, &d);
	printf("%s: %d role(s), %d rule(s), %d warning(s)\n", argv[1],
	       pol->nroles, pol->nrules, warn);
	policy_free(pol);
	return warn ? EXIT_PARTIAL : EXIT_OK;
}

static int policy_explain_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	const char *file = NULL, *sock = NULL;
	struct policy *pol = NULL;
	struct policy_caller c;
	struct policy_decision d;
	char text[2048], uid[32];
	unsigned int ops;
	gid_t groups[256];
	char *args[4];
	int opt, r;

	while ((opt = getopt_long(argc, argv, "p:S:", opts, NULL)) != -1) {
		if (opt == 'p')
			file = optarg;
		else if (opt == 'S')
			sock = optarg;
		else
			return cmd_usage("policy", EXIT_USAGE);
	}
	if (argc - optind != 3)
		return cmd_usage("policy", EXIT_USAGE);
	if (policy_ops_parse(argv[optind + 2], &ops)) {
		fprintf(stderr, "phivault: unknown operation in '%s'; use "
			"list, read, write, create, delete, admin or all, "
			"comma-separated\n", argv[optind + 2]);
		return EXIT_USAGE;
	}
	if (policy_path_valid(argv[optind + 1])) {
		fprintf(stderr, "phivault: '%s' is not an absolute path "
			"without '.' or '..' components; give the path as "
			"the mount sees it, e.g. /patients/7\n",
			argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (policy_caller_lookup(argv[optind], &c, groups, 256)) {
		fprintf(stderr, "phivault: unknown user '%s'\n", argv[optind]);
		return EXIT_FAIL;
	}
	if (!file) {
		snprintf(uid, sizeof(uid), "%u", (unsigned int)c.uid);
		args[0] = "explain";
		args[1] = uid;
		args[2] = argv[optind + 1];
		args[3] = argv[optind + 2];
		r = ctl_call(socket_path(sock), 4, args, stdout);
		if (r < 0)
			ctl_error(socket_path(sock), "explain", r);
		return r ? EXIT_FAIL : EXIT_OK;
	}
	if (load_draft(file, &pol, NULL))
		return EXIT_FAIL;
	r = policy_decide(pol, NULL, 0, &c, argv[optind + 1], ops,
			  time(NULL), &d);
	printf("%s\n", policy_explain(pol, &d, text, sizeof(text)));
	policy_free(pol);
	return r ? EXIT_FAIL : EXIT_OK;
}

static int unlock_key(const char *dir, struct secret_opts *so,
		      struct keysrc_opts *ko, const char *purpose,
		      uint8_t *key)
{
	struct vol *vol = NULL;
	int r;

	r = keysrc_unlock(dir, so, ko, &vol);
	if (!r)
		r = vol_derive_key(vol, purpose, key, 32);
	vol_close(vol);
	return r;
}

/* Unlock options and -S; 1 on a bad option. */
static int unlock_sock_opt(struct secret_opts *so, struct keysrc_opts *ko,
			   const char **sockp, int opt, const char *arg)
{
	if (opt == 'S') {
		*sockp = arg;
		return 0;
	}
	return !unlock_opt(so, ko, opt, arg);
}

/*
 * Pin the new policy in the config first, then write the file: a mount
 * that reloads in between sees a file that does not match yet and keeps
 * its policy until the file lands (guard.h).
 */
static int install(struct vol *vol, const char *dir, const char *buf,
		   size_t len)
{
	uint8_t *key = secmem_alloc(32), pin[GUARD_PIN_LEN];
	char path[PATH_MAX];
	int r;

	snprintf(path, sizeof(path), "%s/" GUARD_POLICY_FILE, dir);
	r = key ? vol_derive_key(vol, "policy", key, 32) : -ENOMEM;
	if (!r)
		r = guard_pin_of(buf, len, pin);
	if (!r)
		r = vol_policy_pin_set(vol, pin);
	if (!r)
		r = sealed_write(path, "policy", key, buf, len);
	if (r)
		fprintf(stderr, "phivault: cannot install %s: %s\n", path,
			phv_strerror(r));
	else
		printf("installed %s; ", path);
	secmem_free(key, 32);
	return r;
}

static int policy_set(int argc, char **argv)
{
	static const struct option opts[] = {
		UNLOCK_LONGOPTS,
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct policy *pol = NULL;
	struct vol *vol = NULL;
	const char *sock = NULL;
	char *buf = NULL, *args[1] = { "reload" };
	size_t len;
	int opt, st, r = EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, "S:", opts, NULL)) != -1)
		if (unlock_sock_opt(&so, &ko, &sock, opt, optarg))
			return cmd_usage("policy", EXIT_USAGE);
	if (argc - optind != 2)
		return cmd_usage("policy", EXIT_USAGE);
	if (load_draft(argv[optind + 1], &pol, NULL) ||
	    sealed_slurp(argv[optind + 1], &buf, &len))
		goto out;
	if (keysrc_unlock(argv[optind], &so, &ko, &vol) ||
	    install(vol, argv[optind], buf, len))
		goto out;
	/* the mount also notices the file change within a second */
	st = ctl_call(socket_path(sock), 1, args, stdout);
	if (st == 0)
		printf("the running mount reloaded it\n");
	else if (st == -ETIMEDOUT || st == -EPROTO || st == CTL_BUSY)
		printf("the mount on %s did not answer; it picks the new "
		       "policy up by itself within a second\n",
		       socket_path(sock));
	else
		printf("no mount answered on %s\n", socket_path(sock));
	r = EXIT_OK;
out:
	vol_close(vol);
	policy_free(pol);
	free(buf);
	return r;
}

/*
 * policy remove: lift the requirement in the config (audited), then
 * delete the file.  A running mount keeps enforcing until unmount.
 */
static int policy_remove(int argc, char **argv)
{
	static const struct option opts[] = {
		UNLOCK_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct vol *vol = NULL;
	const char *sock = NULL;
	char path[PATH_MAX];
	int opt, r = EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (unlock_sock_opt(&so, &ko, &sock, opt, optarg))
			return cmd_usage("policy", EXIT_USAGE);
	if (argc - optind != 1)
		return cmd_usage("policy", EXIT_USAGE);
	if (keysrc_unlock(argv[optind], &so, &ko, &vol))
		goto out;
	snprintf(path, sizeof(path), "%s/" GUARD_POLICY_FILE, argv[optind]);
	/* audited first, while the log is still the policy's */
	cliaudit_event(vol, argv[optind], "policy-remove", path);
	if (vol_policy_pin_set(vol, NULL) ||
	    (unlink(path) && errno != ENOENT)) {
		fprintf(stderr, "phivault: cannot remove %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	printf("removed %s; the volume mounts without a policy from now "
	       "on (a running mount keeps enforcing until unmount)\n", path);
	r = EXIT_OK;
out:
	vol_close(vol);
	return r;
}

static const struct cmd_sub policy_cmds[] = {
	{ "check", policy_check },
	{ "explain", policy_explain_cmd },
	{ "set", policy_set },
	{ "remove", policy_remove },
};

int cmd_policy(int argc, char **argv)
{
	const struct cmd_sub *s = cmd_sub_find(policy_cmds,
		sizeof(policy_cmds) / sizeof(policy_cmds[0]), argc, argv);

	return s ? s->fn(argc - 1, argv + 1) : cmd_usage("policy", EXIT_USAGE);
}

static int call(const char *sock, int n, char **args)
{
	int r = ctl_call(socket_path(sock), n, args, stdout);

	if (r < 0) {
		ctl_error(socket_path(sock), args[0], r);
		return EXIT_FAIL;
	}
	return r == 0 ? EXIT_OK : r == CTL_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

int cmd_grant(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "for", required_argument, NULL, 'f' },
		{ "ticket", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	char *dur = NULL, *ticket = NULL, *reason = NULL, *sock = NULL;
	char *args[7];
	long secs;
	int opt;

	while ((opt = getopt_long(argc, argv, "f:t:r:S:", opts, NULL)) != -1) {
		if (opt == 'f')
			dur = optarg;
		else if (opt == 't')
			ticket = optarg;
		else if (opt == 'r')
			reason = optarg;
		else if (opt == 'S')
			sock = optarg;
		else
			return cmd_usage("grant", EXIT_USAGE);
	}
	if (argc - optind != 3 || !dur || !ticket || !reason ||
	    policy_duration_parse(dur, &secs))
		return cmd_usage("grant", EXIT_USAGE);
	args[0] = "grant";
	args[1] = argv[optind];
	args[2] = argv[optind + 1];
	args[3] = argv[optind + 2];
	args[4] = dur;
	args[5] = ticket;
	args[6] = reason;
	return call(sock, 7, args);
}

/* parse --socket only; NULL on a bad option */
static const char *sock_opt(int argc, char **argv, int *okp)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	const char *sock = NULL;
	int opt;

	*okp = 1;
	while ((opt = getopt_long(argc, argv, "S:", opts, NULL)) != -1) {
		if (opt == 'S')
			sock = optarg;
		else
			*okp = 0;
	}
	return sock;
}

int cmd_grants(int argc, char **argv)
{
	char *args[1] = { "grants" };
	const char *sock;
	int rest;

	sock = sock_opt(argc, argv, &rest);
	if (!rest || optind != argc)
		return cmd_usage("grants", EXIT_USAGE);
	return call(sock, 1, args);
}

int cmd_revoke(int argc, char **argv)
{
	char *args[2] = { "revoke" };
	const char *sock;
	int rest;

	sock = sock_opt(argc, argv, &rest);
	if (!rest || argc - optind != 1)
		return cmd_usage("revoke", EXIT_USAGE);
	args[1] = argv[optind];
	return call(sock, 2, args);
}

int cmd_break_glass(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	char *args[2] = { "break-glass", NULL }, *sock = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "S:r:", opts, NULL)) != -1) {
		if (opt == 'S')
			sock = optarg;
		else if (opt == 'r')
			args[1] = optarg;
		else
			return cmd_usage("break-glass", EXIT_USAGE);
	}
	if (!args[1] || optind != argc)
		return cmd_usage("break-glass", EXIT_USAGE);
	return call(sock, 2, args);
}

static int audit_verify_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		UNLOCK_LONGOPTS,
		{ "volume", required_argument, NULL, 'V' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "state", required_argument, NULL, 's' },
		{ "partial", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct audit_verify_opts vo = { 0 };
	struct audit_verify_result res;
	const char *volume = NULL;
	char state[PATH_MAX], **files = NULL;
	uint8_t *key = secmem_alloc(32);
	int opt, n = 0, r, st = EXIT_FAIL, no_state = 0;

	while ((opt = getopt_long(argc, argv, "V:k:s:P", opts, NULL)) != -1) {
		if (opt == 'V')
			volume = optarg;
		else if (opt == 'k')
			vo.pubkey = optarg;
		else if (opt == 's')
			vo.state_path = optarg;
		else if (opt == 'P')
			vo.allow_partial = 1;
		else if (!unlock_opt(&so, &ko, opt, optarg))
			goto out;
	}
	if (argc - optind != 1 || !key) {
		st = cmd_usage("audit", EXIT_USAGE);
		goto out;
	}
	if (volume) {
		if (unlock_key(volume, &so, &ko, "audit", key))
			goto out;
		vo.key = key;
		snprintf(state, sizeof(state), "%s/" GUARD_STATE_FILE, volume);
		/* written at the first checkpoint: a young log has none */
		if (!vo.state_path && access(state, F_OK) == 0)
			vo.state_path = state;
		else if (!vo.state_path)
			no_state = 1;
	}
	r = audit_segments(argv[optind], &files, &n);
	if (!r)
		r = audit_verify(files, n, &vo, &res);
	if (!r && no_state && res.checkpoints) {
		/* checkpoints were written, so the state was too */
		printf("%s: the trusted state file is missing, though the log "
		       "has %llu checkpoint(s): it was removed, so a cut-off "
		       "tail cannot be ruled out\n", state, res.checkpoints);
		st = EXIT_DAMAGED;
		goto out;
	}
	if (r == -PHV_EAUTH) {
		printf("%s:%ld: record %llu: %s\n", res.file, res.line,
		       res.seq, res.why);
		st = EXIT_DAMAGED;
		goto out;
	}
	if (r) {
		fprintf(stderr, "phivault audit verify: %s\n",
			phv_strerror(r));
		goto out;
	}
	printf("ok: %llu records in %d segment(s), %llu checkpoint "
	       "signature(s) verified%s\n", res.records, n, res.checkpoints,
	       vo.key ? ", every HMAC verified" : "");
	if (!vo.key && res.unsigned_tail)
		printf("note: %llu record(s) after the last checkpoint are "
		       "not verifiable without the volume key\n",
		       res.unsigned_tail);
	if (no_state)
		printf("note: no trusted state yet (%s is written at the "
		       "first checkpoint)\n", state);
	if (!res.clean_end)
		printf("note: the log does not end with an unmount record "
		       "(mounted now, or the mount stopped uncleanly)\n");
	st = EXIT_OK;
out:
	audit_segments_free(files, n);
	secmem_free(key, 32);
	return st;
}

struct report {
	const char *user, *path, *since, *until, *op;
	int json;
};

static long long ts_epoch(const char *ts)
{
	struct tm tm = { 0 };

	if (!strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	return timegm(&tm);
}

static int report_match(const struct report *rp, const char *p, size_t n)
{
	char v[4096], uid[32];

	if (rp->user && (jsonl_get(p, n, "user", v, sizeof(v)) != 1 ||
			 strcmp(v, rp->user)) &&
	    (jsonl_get(p, n, "uid", uid, sizeof(uid)) != 1 ||
	     strcmp(uid, rp->user)))
		return 0;
	if (rp->op && (jsonl_get(p, n, "type", v, sizeof(v)) != 1 ||
		       strcmp(v, rp->op)))
		return 0;
	if (rp->path && (jsonl_get(p, n, "path", v, sizeof(v)) != 1 ||
			 fnmatch(rp->path, v, 0)))
		return 0;
	if (jsonl_get(p, n, "ts", v, sizeof(v)) != 1)
		return 0;
	if (rp->since && strcmp(v, rp->since) < 0)
		return 0;
	if (rp->until && strcmp(v, rp->until) >= 0)
		return 0;
	return 1;
}

static void report_print(const struct report *rp, const char *p, size_t n)
{
	char ts[64], user[128], type[64], path[4096], res[32], why[300];

	if (rp->json) {
		printf("%.*s\n", (int)n, p);
		return;
	}
	if (jsonl_get(p, n, "ts", ts, sizeof(ts)) != 1 ||
	    jsonl_get(p, n, "type", type, sizeof(type)) != 1)
		return;
	if (jsonl_get(p, n, "user", user, sizeof(user)) != 1)
		strcpy(user, "-");
	if (jsonl_get(p, n, "path", path, sizeof(path)) != 1)
		strcpy(path, "-");
	if (jsonl_get(p, n, "result", res, sizeof(res)) != 1)
		strcpy(res, !strcmp(type, "deny") ? "DENIED" : "");
	why[0] = '\0';
	jsonl_get(p, n, "ticket", why, sizeof(why));
	printf("%s  %-10s %-10s %-6s %s%s%s\n", ts, user, type, res, path,
	       why[0] ? "  ticket=" : "", why);
}

/* each: call fn for every line of every segment */
static int each_line(char **files, int n,
		     void (*fn)(void *ctx, const char *p, size_t len),
		     void *ctx)
{
	char *buf = NULL, *p, *nl;
	size_t len;
	int i, r;

	for (i = 0; i < n; i++) {
		r = sealed_slurp(files[i], &buf, &len);
		if (r)
			return r;
		for (p = buf; (nl = memchr(p, '\n', len - (p - buf)));
		     p = nl + 1)
			fn(ctx, p, nl - p);
		free(buf);
	}
	return 0;
}

static void plain_line(void *ctx, const char *p, size_t n)
{
	if (report_match(ctx, p, n))
		report_print(ctx, p, n);
}

struct bg_window {
	char uid[32];
	long long start, end;
};

struct bg_ctx {
	const struct report *rp;
	struct bg_window w[256];
	int n;
};

static void bg_collect(void *ctx, const char *p, size_t n)
{
	struct bg_ctx *b = ctx;
	char type[32], res[16], ts[64];
	long long exp;

	if (b->n == 256 || jsonl_get(p, n, "type", type, sizeof(type)) != 1 ||
	    strcmp(type, "break-glass") ||
	    jsonl_get(p, n, "result", res, sizeof(res)) != 1 ||
	    strcmp(res, "ok") || jsonl_get_ll(p, n, "expires", &exp) ||
	    jsonl_get(p, n, "ts", ts, sizeof(ts)) != 1 ||
	    jsonl_get(p, n, "uid", b->w[b->n].uid,
		      sizeof(b->w[b->n].uid)) != 1)
		return;
	b->w[b->n].start = ts_epoch(ts);
	b->w[b->n].end = exp;
	{
		time_t t = (time_t)exp;
		struct tm tm;
		char until[32] = "?";

		if (gmtime_r(&t, &tm))
			strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ",
				 &tm);
		printf("break-glass by uid %s from %s until %s\n",
		       b->w[b->n].uid, ts, until);
	}
	b->n++;
}

static void bg_line(void *ctx, const char *p, size_t n)
{
	struct bg_ctx *b = ctx;
	char uid[32], ts[64], flag[8];
	long long t;
	int i;

	if (jsonl_get(p, n, "uid", uid, sizeof(uid)) != 1 ||
	    jsonl_get(p, n, "ts", ts, sizeof(ts)) != 1)
		return;
	/* what a session enabled, even after it ended: a file opened in
	 * the window is read and written until its close record */
	if (jsonl_get(p, n, "break_glass", flag, sizeof(flag)) == 1 &&
	    !strcmp(flag, "true") && report_match(b->rp, p, n)) {
		report_print(b->rp, p, n);
		return;
	}
	t = ts_epoch(ts);
	for (i = 0; i < b->n; i++)
		if (!strcmp(uid, b->w[i].uid) && t >= b->w[i].start &&
		    t <= b->w[i].end && report_match(b->rp, p, n)) {
			report_print(b->rp, p, n);
			return;
		}
}

static int audit_report_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "path", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 't' },
		{ "op", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "break-glass", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	struct report rp = { 0 };
	struct bg_ctx *bg = NULL;
	char **files = NULL;
	int opt, n = 0, r, brk = 0;

	while ((opt = getopt_long(argc, argv, "u:p:s:t:o:jb", opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'u': rp.user = optarg; break;
		case 'p': rp.path = optarg; break;
		case 's': rp.since = optarg; break;
		case 't': rp.until = optarg; break;
		case 'o': rp.op = optarg; break;
		case 'j': rp.json = 1; break;
		case 'b': brk = 1; break;
		default: return cmd_usage("audit", EXIT_USAGE);
		}
	}
	if (argc - optind != 1)
		return cmd_usage("audit", EXIT_USAGE);
	r = audit_segments(argv[optind], &files, &n);
	if (!r && !brk)
		r = each_line(files, n, plain_line, &rp);
	if (!r && brk) {
		bg = calloc(1, sizeof(*bg));
		r = -ENOMEM;
		if (bg) {
			bg->rp = &rp;
			r = each_line(files, n, bg_collect, bg);
		}
		if (!r)
			r = each_line(files, n, bg_line, bg);
	}
	free(bg);
	audit_segments_free(files, n);
	if (r)
		fprintf(stderr, "phivault audit report: %s\n",
			phv_strerror(r));
	return r ? EXIT_FAIL : EXIT_OK;
}

static const struct cmd_sub audit_cmds[] = {
	{ "verify", audit_verify_cmd },
	{ "report", audit_report_cmd },
};

int cmd_audit(int argc, char **argv)
{
	const struct cmd_sub *s = cmd_sub_find(audit_cmds,
		sizeof(audit_cmds) / sizeof(audit_cmds[0]), argc, argv);

	return s ? s->fn(argc - 1, argv + 1) : cmd_usage("audit", EXIT_USAGE);
}
