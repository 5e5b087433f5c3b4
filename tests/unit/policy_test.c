// SPDX-License-Identifier: MIT
/*
 * policy_test.c - parser, decisions, deny by default, windows, grants,
 * and the grants file's generation against the volume's record of it (an
 * older grants file put back loads no grant, and is audited).
 *
 * Users are given by numeric uid so the tests do not depend on the
 * machine's user database; uid 0 is root.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "policy/guard.h"
#include "policy/pglob.h"
#include "policy/policy.h"
#include "policy/sealed.h"

static const char good[] =
	"# test policy\n"
	"[settings]\n"
	"timezone = utc\n"
	"[windows]\n"
	"office = mon-fri 08:00-18:00\n"
	"night = all 22:00-06:00\n"
	"[role clinician]\n"
	"max-grant = 8h\n"
	"allow list,read /patients/**\n"
	"allow write,create /patients/*/notes/**\n"
	"deny read /patients/vip/**\n"
	"[role billing]\n"
	"allow read /billing/** during office\n"
	"[role oncall]\n"
	"allow read /patients/** during night\n"
	"[role emergency]\n"
	"allow all /**\n"
	"[role admin]\n"
	"allow admin /**\n"
	"[users]\n"
	"1001 = clinician\n"
	"1002 = billing\n"
	"1003 = oncall\n"
	"1009 = admin\n"
	"[groups]\n"
	"2001 = clinician\n"
	"[break-glass]\n"
	"role = emergency\n"
	"duration = 30m\n"
	"users = 1001\n";

struct diags {
	int errors, warnings;
	int lines[32];
	char last[512];
};

static void diag(void *ctx, int line, enum policy_sev sev, const char *msg)
{
	struct diags *d = ctx;

	if (sev == POLICY_ERROR && d->errors < 32)
		d->lines[d->errors] = line;
	if (sev == POLICY_ERROR)
		d->errors++;
	else
		d->warnings++;
	snprintf(d->last, sizeof(d->last), "%s", msg);
}

static struct policy *parse_ok(const char *text)
{
	struct diags d = { 0 };
	struct policy *pol = NULL;

	assert_int_equal(policy_parse(text, strlen(text), diag, &d, &pol), 0);
	assert_non_null(pol);
	return pol;
}

static int decide(const struct policy *pol, uid_t uid, const char *path,
		  unsigned int need, time_t now)
{
	struct policy_caller c = { .uid = uid, .gid = 9999 };
	struct policy_decision d;

	return policy_decide(pol, NULL, 0, &c, path, need, now, &d);
}

/* 2024-01-03 (a Wednesday) at hh:mm UTC */
static time_t wed(int hh, int mm)
{
	return 1704240000 + hh * 3600 + mm * 60;
}

static void test_glob(void **state)
{
	struct pglob g;
	const char *err;

	assert_int_equal(pglob_compile(&g, "/a/**", &err), 0);
	assert_true(pglob_match(&g, "/a"));
	assert_true(pglob_match(&g, "/a/b/c"));
	assert_false(pglob_match(&g, "/ab"));
	assert_int_equal(pglob_compile(&g, "/p/*/notes/**", &err), 0);
	assert_true(pglob_match(&g, "/p/42/notes/x.txt"));
	assert_false(pglob_match(&g, "/p/42/labs/x.txt"));
	assert_true(pglob_match_ancestor(&g, "/p"));
	assert_true(pglob_match_ancestor(&g, "/p/42"));
	assert_false(pglob_match_ancestor(&g, "/q"));
	assert_int_equal(pglob_compile(&g, "/x/f?o*.txt", &err), 0);
	assert_true(pglob_match(&g, "/x/foo-bar.txt"));
	assert_false(pglob_match(&g, "/x/fo.txt"));
	assert_int_not_equal(pglob_compile(&g, "relative", &err), 0);
	assert_int_not_equal(pglob_compile(&g, "/a/../b", &err), 0);
}

static void test_parse_good(void **state)
{
	struct policy *pol = parse_ok(good);

	assert_int_equal(pol->nroles, 5);
	assert_int_equal(pol->ndeny, 1);
	assert_int_equal(pol->bg_duration, 1800);
	assert_int_equal(pol->roles[0].max_grant, 8 * 3600);
	policy_free(pol);
}

static void test_parse_bad(void **state)
{
	static const char bad[] =
		"[role r]\n"				/* 1 */
		"allow rread /x/**\n"			/* 2: bad op */
		"allow read x/**\n"			/* 3: relative */
		"allow read /x during nowin\n"		/* 4: unknown window */
		"[users]\n"				/* 5 */
		"1001 = nosuchrole\n"			/* 6 */
		"[bogus]\n"				/* 7 */
		"[windows]\n"				/* 8 */
		"w = mon-fri 25:00-26:00\n"		/* 9 */
		"junk line\n";				/* 10 */
	struct diags d = { 0 };
	struct policy *pol = NULL;

	assert_int_equal(policy_parse(bad, strlen(bad), diag, &d, &pol),
			 -PHV_ECONFIG);
	assert_null(pol);
	assert_int_equal(d.errors, 7);
	assert_int_equal(d.lines[0], 2);
	assert_int_equal(d.lines[1], 3);
}

static void test_decisions(void **state)
{
	struct policy *pol = parse_ok(good);
	time_t t = wed(12, 0);

	assert_int_equal(decide(pol, 1001, "/patients/7/chart", POLICY_READ,
				t), 0);
	assert_int_equal(decide(pol, 1001, "/patients", POLICY_LIST, t), 0);
	assert_int_equal(decide(pol, 1001, "/patients/7/chart",
				POLICY_WRITE, t), -PHV_EDENIED);
	assert_int_equal(decide(pol, 1001, "/patients/7/notes/a",
				POLICY_WRITE | POLICY_READ, t), 0);
	assert_int_equal(decide(pol, 1001, "/patients/7/notes/a",
				POLICY_DELETE, t), -PHV_EDENIED);
	assert_int_equal(decide(pol, 1001, "/patients/vip/x", POLICY_READ,
				t), -PHV_EDENIED);
	assert_int_equal(decide(pol, 1001, "/billing/x", POLICY_READ, t),
			 -PHV_EDENIED);
	/* traverse: the root leads to /patients, /billing does not */
	assert_int_equal(decide(pol, 1001, "/", POLICY_TRAVERSE, t), 0);
	assert_int_equal(decide(pol, 1001, "/billing", POLICY_TRAVERSE, t),
			 -PHV_EDENIED);
	assert_int_equal(decide(pol, 1009, "/anything", POLICY_ADMIN, t), 0);
	assert_int_equal(decide(pol, 1009, "/anything", POLICY_READ, t),
			 -PHV_EDENIED);
	policy_free(pol);
}

static void test_groups(void **state)
{
	struct policy *pol = parse_ok(good);
	gid_t groups[] = { 5, 2001 };
	struct policy_caller c = { .uid = 4242, .gid = 7, .groups = groups,
				   .ngroups = 2 };
	struct policy_decision d;

	assert_int_equal(policy_decide(pol, NULL, 0, &c, "/patients/1",
				       POLICY_READ, wed(9, 0), &d), 0);
	c.ngroups = 1;
	assert_int_equal(policy_decide(pol, NULL, 0, &c, "/patients/1",
				       POLICY_READ, wed(9, 0), &d),
			 -PHV_EDENIED);
	assert_int_equal(d.why, POLICY_WHY_NO_RULE);
	policy_free(pol);
}

static void test_deny_default_root(void **state)
{
	struct policy *pol = parse_ok(good);
	struct policy *empty = parse_ok("");
	struct policy_caller c = { .uid = 0, .gid = 0 };
	struct policy_decision d;

	assert_int_equal(policy_decide(pol, NULL, 0, &c, "/patients/1",
				       POLICY_READ, wed(9, 0), &d),
			 -PHV_EDENIED);
	assert_int_equal(policy_decide(empty, NULL, 0, &c, "/",
				       POLICY_TRAVERSE, wed(9, 0), &d),
			 -PHV_EDENIED);
	policy_free(pol);
	policy_free(empty);
	pol = parse_ok("[role r]\nallow read /**\n[users]\n0 = r\n");
	assert_int_equal(policy_decide(pol, NULL, 0, &c, "/patients/1",
				       POLICY_READ, wed(9, 0), &d), 0);
	policy_free(pol);
}

static void test_windows(void **state)
{
	struct policy *pol = parse_ok(good);
	struct policy_caller c = { .uid = 1002, .gid = 1 };
	struct policy_decision d;
	char buf[1024];

	assert_int_equal(decide(pol, 1002, "/billing/a", POLICY_READ,
				wed(8, 0)), 0);
	assert_int_equal(decide(pol, 1002, "/billing/a", POLICY_READ,
				wed(17, 59)), 0);
	assert_int_equal(policy_decide(pol, NULL, 0, &c, "/billing/a",
				       POLICY_READ, wed(18, 0), &d),
			 -PHV_EDENIED);
	assert_int_equal(d.why, POLICY_WHY_WINDOW);
	policy_explain(pol, &d, buf, sizeof(buf));
	assert_non_null(strstr(buf, "window is closed"));
	/* Saturday noon: 3 days later */
	assert_int_equal(decide(pol, 1002, "/billing/a", POLICY_READ,
				wed(12, 0) + 3 * 86400), -PHV_EDENIED);
	/* overnight window, both sides of midnight */
	assert_int_equal(decide(pol, 1003, "/patients/1", POLICY_READ,
				wed(23, 0)), 0);
	assert_int_equal(decide(pol, 1003, "/patients/1", POLICY_READ,
				wed(5, 59)), 0);
	assert_int_equal(decide(pol, 1003, "/patients/1", POLICY_READ,
				wed(6, 0)), -PHV_EDENIED);
	policy_free(pol);
}

static void test_grant_refs(void **state)
{
	struct policy *pol = parse_ok(good);
	struct policy_grant_ref gr = {
		.uid = 3000, .role = policy_role_find(pol, "clinician"),
		.expires = wed(12, 0), .path = "/patients/7", .pathlen = 11,
	};
	struct policy_caller c = { .uid = 3000, .gid = 1 };
	struct policy_decision d;

	assert_int_equal(policy_decide(pol, &gr, 1, &c, "/patients/7/x",
				       POLICY_READ, wed(11, 0), &d), 0);
	assert_int_equal(d.why, POLICY_WHY_GRANT);
	assert_ptr_equal(d.grant, &gr);
	assert_int_equal(policy_decide(pol, &gr, 1, &c, "/patients/8/x",
				       POLICY_READ, wed(11, 0), &d),
			 -PHV_EDENIED);
	assert_int_equal(policy_decide(pol, &gr, 1, &c, "/patients",
				       POLICY_TRAVERSE, wed(11, 0), &d), 0);
	/* expired at noon */
	assert_int_equal(policy_decide(pol, &gr, 1, &c, "/patients/7/x",
				       POLICY_READ, wed(12, 0), &d),
			 -PHV_EDENIED);
	policy_free(pol);
}

/* break-glass lifts the deny rules of the holder's other roles, and only
 * a break-glass session does; the break-glass role's own denies hold */
static void test_break_glass_lifts_denies(void **state)
{
	static const char text[] =
		"[role clinician]\n"
		"allow list,read /patients/**\n"
		"deny read /patients/vip/**\n"
		"[role emergency]\n"
		"max-grant = 1h\n"
		"allow all /**\n"
		"deny write /archive/**\n"
		"[users]\n"
		"1001 = clinician\n"
		"[break-glass]\n"
		"role = emergency\n"
		"duration = 30m\n"
		"users = 1001\n";
	struct policy *pol = parse_ok(text);
	struct policy_grant_ref gr = {
		.uid = 1001, .role = policy_role_find(pol, "emergency"),
		.expires = wed(12, 0), .path = "/", .pathlen = 1,
	};
	struct policy_caller c = { .uid = 1001, .gid = 1 };
	struct policy_decision d;
	char why[512];

	/* an ordinary grant of the same role does not lift the deny */
	assert_int_equal(policy_decide(pol, &gr, 1, &c, "/patients/vip/a",
				       POLICY_READ, wed(11, 0), &d),
			 -PHV_EDENIED);
	assert_int_equal(d.why, POLICY_WHY_DENY_RULE);
	gr.break_glass = 1;
	assert_int_equal(policy_decide(pol, &gr, 1, &c, "/patients/vip/a",
				       POLICY_READ, wed(11, 0), &d), 0);
	/* the clinician rule allows it, but the record must name the
	 * break-glass that lifted the deny */
	assert_ptr_equal(d.grant, &gr);
	assert_int_equal(d.why, POLICY_WHY_GRANT);
	policy_explain(pol, &d, why, sizeof(why));
	assert_non_null(strstr(why, "break-glass"));
	assert_int_equal(policy_decide(pol, &gr, 1, &c, "/archive/x",
				       POLICY_WRITE, wed(11, 0), &d),
			 -PHV_EDENIED);
	/* ended: the deny is back */
	assert_int_equal(policy_decide(pol, &gr, 1, &c, "/patients/vip/a",
				       POLICY_READ, wed(12, 0), &d),
			 -PHV_EDENIED);
	policy_free(pol);
}

static void test_path_valid(void **state)
{
	static const char *const good_paths[] = {
		"/", "/a", "/a/", "/a/b", "/.hidden", "/a/..b", "/a/b.",
	};
	static const char *const bad_paths[] = {
		"", "a", "../a", "//a", "/a//b", "/./a", "/a/.", "/a/..",
		"/a/../b", "/..",
	};
	size_t i;

	for (i = 0; i < sizeof(good_paths) / sizeof(*good_paths); i++)
		assert_int_equal(policy_path_valid(good_paths[i]), 0);
	for (i = 0; i < sizeof(bad_paths) / sizeof(*bad_paths); i++)
		assert_int_equal(policy_path_valid(bad_paths[i]), -EINVAL);
}

static void test_lint(void **state)
{
	static const char text[] =
		"[windows]\n"
		"unused = all 01:00-02:00\n"
		"[role a]\n"
		"allow read,list /p/**\n"
		"allow read /p/x/**\n"		/* covered by line 4 */
		"deny read,list /q/**\n"
		"allow read /q/1\n"		/* dead: deny line 6 */
		"[role lonely]\n"
		"allow read /z\n"
		"[role empty]\n"
		"[users]\n"
		"1001 = a, empty\n"
		"nosuchuserxyz = a\n";
	struct diags d = { 0 };
	struct policy *pol = NULL;

	assert_int_equal(policy_parse(text, strlen(text), diag, &d, &pol), 0);
	assert_int_equal(d.warnings, 1);	/* unknown user */
	memset(&d, 0, sizeof(d));
	assert_int_equal(policy_lint(pol, diag, &d), 5);
	policy_free(pol);
}

/* --- guard with an injected clock ----------------------------------- */

static time_t fake_now;
static time_t fake_clock(void)
{
	return fake_now;
}

static char dir[] = "/tmp/phv-policy-test-XXXXXX";
static const uint8_t pkey[32] = { 1, 2, 3 };
static const uint8_t akey[32] = { 9, 8, 7 };

/* The test guard's configuration: the volume in dir, its audit log in
 * dir/audit.jsonl (log holds that path), the fake clock, no threads. */
static void guard_cfg(struct guard_config *cfg, char *log, size_t size)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(log, size, "%s/audit.jsonl", dir);
	cfg->volume = "test";
	cfg->cipherdir = dir;
	cfg->policy_key = pkey;
	cfg->audit_key = akey;
	cfg->audit.path = log;
	cfg->clock = fake_clock;
	cfg->no_thread = 1;
}

static struct guard *guard_for(const char *text)
{
	struct guard_config cfg;
	char path[256], log[256];
	struct guard *g = NULL;

	snprintf(path, sizeof(path), "%s/" GUARD_POLICY_FILE, dir);
	assert_int_equal(sealed_write(path, "policy", pkey, text,
				      strlen(text)), 0);
	guard_cfg(&cfg, log, sizeof(log));
	assert_int_equal(guard_start(&cfg, &g), 0);
	return g;
}

static void test_guard_grants(void **state)
{
	struct policy_caller admin = { .uid = 1009, .gid = 1 };
	struct policy_caller u = { .uid = 1002, .gid = 1 };
	struct policy_caller doc = { .uid = 1001, .gid = 1 };
	struct guard *g;
	char id[16], id2[16];
	time_t until;

	fake_now = wed(20, 0);
	g = guard_for(good);
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/1",
				     NULL, 0), -PHV_EDENIED);
	/* too long for the role, missing ticket, not admin */
	assert_int_equal(guard_grant(g, &admin, "1002", "clinician",
				     "/patients/1", 9 * 3600, "T-1", "r",
				     id), -EINVAL);
	assert_int_equal(guard_grant(g, &admin, "1002", "clinician",
				     "/patients/1", 3600, "", "r", id),
			 -EINVAL);
	assert_int_equal(guard_grant(g, &u, "1002", "clinician",
				     "/patients/1", 3600, "T-1", "r", id),
			 -PHV_EDENIED);
	assert_int_equal(guard_grant(g, &admin, "1002", "clinician",
				     "/patients/1", 3600, "T-1", "consult",
				     id), 0);
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/1",
				     NULL, 0), 0);
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/2",
				     NULL, 0), -PHV_EDENIED);
	/* expires by itself */
	fake_now += 3600;
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/1",
				     NULL, 0), -PHV_EDENIED);
	guard_tick(g);
	/* revoke */
	fake_now = wed(20, 0) + 7200;
	assert_int_equal(guard_grant(g, &admin, "1002", "clinician", "/",
				     600, "T-2", "cover", id2), 0);
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/3",
				     NULL, 0), 0);
	assert_int_equal(guard_revoke(g, &u, "g-nosuch"), -PHV_ENOTFOUND);
	assert_int_equal(guard_revoke(g, &admin, id2), 0);
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/3",
				     NULL, 0), -PHV_EDENIED);
	/* break-glass: eligible doc, not billing */
	assert_int_equal(guard_break_glass(g, &u, "x", id, &until),
			 -PHV_EDENIED);
	assert_int_equal(guard_break_glass(g, &doc, "code blue", id, &until),
			 0);
	assert_int_equal(until, fake_now + 1800);
	assert_int_equal(guard_check(g, &doc, GUARD_UNLINK, "/billing/q",
				     NULL, 0), 0);
	fake_now += 1800;
	assert_int_equal(guard_check(g, &doc, GUARD_UNLINK, "/billing/q",
				     NULL, 0), -PHV_EDENIED);
	guard_stop(g);
}

static void test_guard_persist_and_tamper(void **state)
{
	struct policy_caller admin = { .uid = 1009, .gid = 1 };
	struct policy_caller u = { .uid = 1002, .gid = 1 };
	struct guard_config cfg;
	struct guard *g;
	char id[16], path[256], log[256];
	FILE *f;

	fake_now = wed(20, 0);
	g = guard_for(good);
	assert_int_equal(guard_grant(g, &admin, "1002", "clinician", "/",
				     3600, "T-3", "persist", id), 0);
	guard_stop(g);
	/* the grant survives a remount */
	guard_cfg(&cfg, log, sizeof(log));
	assert_int_equal(guard_start(&cfg, &g), 0);
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/3",
				     NULL, 0), 0);
	guard_stop(g);
	/* an edit of the policy on disk is refused */
	snprintf(path, sizeof(path), "%s/" GUARD_POLICY_FILE, dir);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("[users]\n1002 = emergency\n", f);
	fclose(f);
	assert_int_equal(guard_start(&cfg, &g), -PHV_EAUTH);
}

static void test_guard_ops(void **state)
{
	struct policy_caller doc = { .uid = 1001, .gid = 1 };
	struct guard_file *gf = NULL;
	unsigned int n2;
	struct guard *g;

	fake_now = wed(10, 0) + 7 * 86400;	/* after earlier tests' grants */
	g = guard_for(good);
	assert_int_equal(guard_file_open(g, &doc, "/patients/1/chart",
					 O_RDONLY, &gf), 0);
	guard_file_opened(g, gf, 0);
	guard_file_release(g, gf, 100, 0);
	assert_int_equal(guard_file_open(g, &doc, "/patients/1/chart",
					 O_RDWR, &gf), -PHV_EDENIED);
	assert_int_equal(guard_file_open(g, &doc, "/patients/1/notes/n",
					 O_WRONLY | O_CREAT, &gf), 0);
	guard_file_opened(g, gf, -EEXIST);
	assert_int_equal(guard_check(g, &doc, GUARD_RENAME,
				     "/patients/1/notes/a",
				     "/patients/1/notes/b", 0), -PHV_EDENIED);
	assert_int_equal(guard_check(g, &doc, GUARD_SETATTR,
				     "/patients/1/notes/a", NULL, 8), 0);
	assert_int_equal(guard_check(g, &doc, GUARD_SETATTR,
				     "/patients/1/notes/a", NULL, 1),
			 -PHV_EDENIED);
	assert_int_equal(guard_check(g, &doc, GUARD_SETXATTR,
				     "/patients/1/notes/a", NULL, 0), 0);
	assert_int_equal(guard_check(g, &doc, GUARD_MKDIR,
				     "/patients/1/x", NULL, 0), -PHV_EDENIED);
	assert_int_equal(guard_need(GUARD_LINK, 0, &n2),
			 POLICY_READ | POLICY_WRITE);
	assert_int_equal(n2, POLICY_CREATE);
	guard_done(g, &doc, GUARD_SETXATTR, "/patients/1/notes/a", NULL, 0,
		   0);
	guard_stop(g);
}

/* --- the grants generation ------------------------------------------ */

static uint64_t rec_gen;	/* what the "volume" records */
static int rec_fail;		/* the next records fail with this */

static int gen_get(void *ctx, uint64_t *genp)
{
	(void)ctx;
	*genp = rec_gen;
	return 0;
}

static int gen_set(void *ctx, uint64_t gen)
{
	(void)ctx;
	if (rec_fail)
		return rec_fail;
	rec_gen = gen;
	return 0;
}

static struct guard *guard_gen_start(void)
{
	struct guard_config cfg;
	struct guard *g = NULL;
	char log[256];

	guard_cfg(&cfg, log, sizeof(log));
	cfg.grants_gen = gen_get;
	cfg.grants_gen_set = gen_set;
	assert_int_equal(guard_start(&cfg, &g), 0);
	return g;
}

/* How many audit records of type (as a JSON string) the log holds. */
static int audit_count(const char *type)
{
	char path[256], line[4096], want[128];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, want) != NULL;
	fclose(f);
	return n;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	in = open(from, O_RDONLY);
	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out >= 0);
	n = read(in, buf, sizeof(buf));
	assert_true(n > 0 && n < (ssize_t)sizeof(buf));
	assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static void test_guard_grants_generation(void **state)
{
	struct policy_caller admin = { .uid = 1009, .gid = 1 };
	struct policy_caller u = { .uid = 1002, .gid = 1 };
	char id[16], id2[16], gpath[256], old[256], *body = NULL;
	uint64_t gen;
	size_t len, off;
	struct guard *g;

	snprintf(gpath, sizeof(gpath), "%s/" GUARD_GRANTS_FILE, dir);
	snprintf(old, sizeof(old), "%s/grants.old", dir);
	unlink(gpath);
	rec_gen = 0;
	rec_fail = 0;
	fake_now = wed(20, 0) + 30 * 86400;	/* after earlier tests */
	guard_stop(guard_for(good));		/* installs the policy */

	/* a grant: generation 1 recorded, and first in the file */
	g = guard_gen_start();
	assert_int_equal(guard_grant(g, &admin, "1002", "clinician", "/",
				     3600, "T-9", "rollback", id), 0);
	assert_true(rec_gen == 1);
	assert_int_equal(sealed_read(gpath, "grants", pkey, &body, &len), 0);
	assert_int_equal(guard_grants_generation(body, len, &gen, &off), 0);
	assert_true(gen == 1);
	assert_memory_equal(body, "generation 1\n", off);
	free(body);
	copy_file(gpath, old);
	/* revoked: generation 2 */
	assert_int_equal(guard_revoke(g, &admin, id), 0);
	assert_true(rec_gen == 2);
	guard_stop(g);

	/* the older file put back: no grant is loaded, the start goes on */
	copy_file(old, gpath);
	g = guard_gen_start();
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/3",
				     NULL, 0), -PHV_EDENIED);
	assert_int_equal(audit_count("grants-rollback"), 1);
	/* the next save overwrites it with a generation above the record */
	assert_int_equal(guard_grant(g, &admin, "1002", "clinician", "/",
				     3600, "T-10", "again", id2), 0);
	assert_true(rec_gen == 3);
	guard_stop(g);
	g = guard_gen_start();
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/3",
				     NULL, 0), 0);
	assert_int_equal(audit_count("grants-rollback"), 1);

	/* a record that cannot be written fails the save, file untouched */
	rec_fail = -EIO;
	assert_int_equal(guard_revoke(g, &admin, id2), -EIO);
	assert_int_equal(guard_check(g, &u, GUARD_READDIR, "/patients/3",
				     NULL, 0), 0);
	rec_fail = 0;
	guard_stop(g);

	/* missing while a generation is recorded: one alert, no grants */
	assert_int_equal(unlink(gpath), 0);
	g = guard_gen_start();
	assert_int_equal(audit_count("grants-missing"), 1);
	guard_stop(g);

	/* a file from before generations is generation 0 */
	assert_int_equal(guard_grants_generation("g-1\t5\n", 6, &gen, &off),
			 0);
	assert_true(gen == 0 && off == 0);
	assert_int_equal(guard_grants_generation("generation x\n", 13, &gen,
						 &off), -PHV_EFORMAT);
	assert_int_equal(guard_grants_generation("generation 3", 12, &gen,
						 &off), -PHV_EFORMAT);
	unlink(old);
}

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_deny_default_root),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_grant_refs),
		cmocka_unit_test(test_break_glass_lifts_denies),
		cmocka_unit_test(test_path_valid),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_guard_grants),
		cmocka_unit_test(test_guard_persist_and_tamper),
		cmocka_unit_test(test_guard_ops),
		cmocka_unit_test(test_guard_grants_generation),
	};

	return cmocka_run_group_tests_name("policy", tests, setup, teardown);
}
