// SPDX-License-Identifier: MIT
/*
 * audit_test.c - the audit chain: every kind of tampering is detected,
 * rotation keeps the chain, and the bulk-open alert runs its hook.
 *
 * Each test writes a fresh log in a temporary directory, damages a copy
 * of it with plain file operations and runs audit_verify() on the copy.
 * The two-writer tests append through two handles (or two processes) to
 * one log, as the mount and a CLI command do, and expect one intact chain.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "policy/alert.h"
#include "policy/audit.h"

static char dir[] = "/tmp/phv-audit-test-XXXXXX";
static const uint8_t key[32] = { 42, 1, 2, 3 };
static char logp[256], statep[256];
static int nlog;

#define MAXL 200
static char *lines[MAXL];
static int nlines;

static void write_log(int records, unsigned int cp_every)
{
	struct audit_opts o = { 0 };
	struct audit_log *l = NULL;
	struct jbuf j;
	int i;

	snprintf(logp, sizeof(logp), "%s/log%d.jsonl", dir, ++nlog);
	snprintf(statep, sizeof(statep), "%s/state%d", dir, nlog);
	o.path = logp;
	o.volume = "v";
	o.state_path = statep;
	o.checkpoint_records = cp_every;
	assert_int_equal(audit_open(&o, key, &l), 0);
	for (i = 0; i < records; i++) {
		jbuf_init(&j);
		jbuf_str(&j, "type", "open");
		jbuf_int(&j, "uid", 1000 + i);
		jbuf_str(&j, "path", "/patients/7/chart \"x\"\n");
		assert_int_equal(audit_emit(l, AUDIT_INFO, &j), 0);
	}
	jbuf_init(&j);
	jbuf_str(&j, "type", "unmount");
	assert_int_equal(audit_emit(l, AUDIT_NOTICE, &j), 0);
	audit_close(l);
}

static void load_lines(const char *path)
{
	char buf[65536];
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	nlines = 0;
	while (fgets(buf, sizeof(buf), f) && nlines < MAXL)
		lines[nlines++] = strdup(buf);
	fclose(f);
}

static void save_lines(const char *path)
{
	FILE *f = fopen(path, "w");
	int i;

	assert_non_null(f);
	for (i = 0; i < nlines; i++)
		fputs(lines[i], f);
	fclose(f);
}

static void free_lines(void)
{
	while (nlines)
		free(lines[--nlines]);
}

static int verify1(const char *path, int use_key, int use_state,
		   struct audit_verify_result *res)
{
	struct audit_verify_opts o = { 0 };
	char *files[1] = { (char *)path };

	o.key = use_key ? key : NULL;
	o.state_path = use_state ? statep : NULL;
	return audit_verify(files, 1, &o, res);
}

static void test_intact(void **state)
{
	struct audit_verify_result res;

	write_log(20, 8);
	assert_int_equal(verify1(logp, 1, 1, &res), 0);
	assert_false(res.damaged);
	assert_true(res.checkpoints >= 2);
	assert_true(res.clean_end);
	assert_int_equal(verify1(logp, 0, 0, &res), 0);
}

/* damage line k (1-based) with fn, verify, expect failure at line want */
static void damage(void (*fn)(int k), int k, int use_key, long want)
{
	struct audit_verify_result res;

	write_log(20, 8);
	load_lines(logp);
	fn(k);
	save_lines(logp);
	free_lines();
	assert_int_equal(verify1(logp, use_key, use_key, &res), -PHV_EAUTH);
	assert_true(res.damaged);
	if (want)
		assert_int_equal(res.line, want);
}

static void edit_uid(int k)
{
	char *p = strstr(lines[k - 1], "\"uid\":10");

	assert_non_null(p);
	p[8] = p[8] == '9' ? '8' : '9';
}

static void insert_copy(int k)
{
	memmove(&lines[k], &lines[k - 1], (nlines - k + 1) * sizeof(char *));
	lines[k - 1] = strdup(lines[k]);
	nlines++;
}

static void delete_line(int k)
{
	free(lines[k - 1]);
	memmove(&lines[k - 1], &lines[k], (nlines - k) * sizeof(char *));
	nlines--;
}

static void swap_lines(int k)
{
	char *t = lines[k - 1];

	lines[k - 1] = lines[k];
	lines[k] = t;
}

static void cut_tail(int k)
{
	while (nlines > k)
		free(lines[--nlines]);
}

static void break_sig(int k)
{
	int i;
	char *p;

	for (i = 0; i < nlines; i++) {
		p = strstr(lines[i], "\"sig\":\"");
		if (p) {
			p[10] = p[10] == 'A' ? 'B' : 'A';
			return;
		}
	}
	fail();
}

static void test_edit(void **state)
{
	damage(edit_uid, 5, 1, 5);
}

static void test_edit_public(void **state)
{
	/* without the key the next checkpoint's chain catches it */
	damage(edit_uid, 3, 0, 0);
}

static void test_insert(void **state)
{
	damage(insert_copy, 6, 1, 7);	/* line 6 is the genuine one */
}

static void test_delete(void **state)
{
	damage(delete_line, 6, 1, 6);
}

static void test_reorder(void **state)
{
	damage(swap_lines, 4, 1, 4);
}

static void test_truncate_tail(void **state)
{
	/* the state file is written at the last checkpoint and at close */
	damage(cut_tail, 12, 1, 0);
}

static void test_signature(void **state)
{
	damage(break_sig, 0, 0, 0);
}

static void test_torn_line(void **state)
{
	struct audit_verify_result res;
	FILE *f;

	write_log(3, 100);
	f = fopen(logp, "a");
	fputs("{\"seq\":99,\"ts\":", f);
	fclose(f);
	assert_int_equal(verify1(logp, 1, 0, &res), -PHV_EAUTH);
	assert_non_null(strstr(res.why, "cut off"));
}

static void test_rotation(void **state)
{
	struct audit_opts o = { 0 };
	struct audit_verify_opts vo = { .key = key };
	struct audit_verify_result res;
	struct audit_log *l = NULL;
	char **files = NULL;
	struct jbuf j;
	int i, n;

	snprintf(logp, sizeof(logp), "%s/rot.jsonl", dir);
	o.path = logp;
	o.rotate_bytes = 2000;
	assert_int_equal(audit_open(&o, key, &l), 0);
	for (i = 0; i < 60; i++) {
		jbuf_init(&j);
		jbuf_str(&j, "type", "close");
		jbuf_int(&j, "bytes_read", i);
		assert_int_equal(audit_emit(l, AUDIT_INFO, &j), 0);
	}
	audit_close(l);
	/* reopening continues the same chain */
	assert_int_equal(audit_open(&o, key, &l), 0);
	jbuf_init(&j);
	jbuf_str(&j, "type", "mount");
	assert_int_equal(audit_emit(l, AUDIT_NOTICE, &j), 0);
	audit_close(l);
	assert_int_equal(audit_segments(logp, &files, &n), 0);
	assert_true(n >= 3);
	assert_int_equal(audit_verify(files, n, &vo, &res), 0);
	assert_int_equal(res.records, res.records);
	/* a missing middle segment breaks the chain */
	assert_int_equal(audit_verify(files + 1, n - 1, &vo, &res),
			 -PHV_EAUTH);
	vo.allow_partial = 1;
	assert_int_equal(audit_verify(files + 1, n - 1, &vo, &res), 0);
	files[1] = files[0];
	assert_int_equal(audit_verify(files + 1, n - 1, &vo, &res),
			 -PHV_EAUTH);
	files[1] = NULL;
	audit_segments_free(files, n);
}

static void test_alert_hook(void **state)
{
	struct policy_alerts lim = { .opens_per_min = 500,
				     .hook_interval = 300 };
	struct audit_opts o = { 0 };
	struct audit_log *l = NULL;
	struct alerts *a = NULL;
	char hook[512], out[300], buf[4096];
	struct stat st;
	FILE *f;
	int i;

	snprintf(logp, sizeof(logp), "%s/alert.jsonl", dir);
	snprintf(out, sizeof(out), "%s/hook-out.json", dir);
	snprintf(hook, sizeof(hook), "cat > '%s'", out);
	o.path = logp;
	assert_int_equal(audit_open(&o, key, &l), 0);
	assert_int_equal(alerts_start(hook, l, &a), 0);
	alerts_set_limits(a, &lim);
	for (i = 0; i < 499; i++)
		alerts_note(a, 1234, "bob", ALERT_OPEN, 1, 1000 + i / 10);
	assert_int_equal(stat(out, &st), -1);
	for (i = 0; i < 600; i++)	/* one alert only, then quiet */
		alerts_note(a, 1234, "bob", ALERT_OPEN, 1, 1050);
	alerts_stop(a);		/* waits for the queued hook */
	audit_close(l);
	f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_non_null(strstr(buf, "\"alert\":\"bulk-opens\""));
	assert_non_null(strstr(buf, "\"uid\":1234"));
	f = fopen(logp, "r");
	i = 0;
	while (fgets(buf, sizeof(buf), f))
		i += strstr(buf, "bulk-opens") != NULL;
	fclose(f);
	assert_int_equal(i, 1);
}

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	return 0;
}


static void emit_one(struct audit_log *l, const char *type, int n)
{
	struct jbuf j;

	jbuf_init(&j);
	jbuf_str(&j, "type", type);
	jbuf_int(&j, "n", n);
	assert_int_equal(audit_emit(l, AUDIT_INFO, &j), 0);
}

static void verify_all(const char *path, unsigned long long *recordsp)
{
	struct audit_verify_opts vo = { .key = key };
	struct audit_verify_result res;
	char **files = NULL;
	int n;

	assert_int_equal(audit_segments(path, &files, &n), 0);
	assert_int_equal(audit_verify(files, n, &vo, &res), 0);
	if (recordsp)
		*recordsp = res.records;
	audit_segments_free(files, n);
}

/* two handles on one log, appending in turn, one of them rotating */
static void test_two_writers(void **state)
{
	struct audit_opts o = { 0 };
	struct audit_log *a = NULL, *b = NULL;
	int i;

	snprintf(logp, sizeof(logp), "%s/two.jsonl", dir);
	o.path = logp;
	o.volume = "v";
	assert_int_equal(audit_open(&o, key, &a), 0);
	emit_one(a, "mount", 0);
	/* b attaches after a's records, as a guard attaching late does */
	assert_int_equal(audit_open(&o, key, &b), 0);
	for (i = 0; i < 20; i++) {
		emit_one(i % 3 ? a : b, "open", i);
		if (i == 7)
			assert_int_equal(audit_rotate(b), 0);
		if (i == 13)
			assert_int_equal(audit_rotate(a), 0);
	}
	audit_close(b);
	emit_one(a, "unmount", 0);
	audit_close(a);
	verify_all(logp, NULL);
}

/* two processes appending at the same time, with rotation by size */
static void test_two_processes(void **state)
{
	struct audit_opts o = { 0 };
	struct audit_log *l = NULL;
	unsigned long long records;
	pid_t pid;
	int i, st, who;

	snprintf(logp, sizeof(logp), "%s/procs.jsonl", dir);
	o.path = logp;
	o.volume = "v";
	o.rotate_bytes = 20000;
	o.checkpoint_records = 50;
	pid = fork();
	assert_true(pid >= 0);
	who = pid == 0;
	if (audit_open(&o, key, &l))
		_exit(3);
	for (i = 0; i < 300; i++) {
		struct jbuf j;

		jbuf_init(&j);
		jbuf_str(&j, "type", "open");
		jbuf_int(&j, "writer", who);
		jbuf_int(&j, "n", i);
		if (audit_emit(l, AUDIT_INFO, &j)) {
			if (pid == 0)
				_exit(4);
			fail_msg("parent's record %d refused", i);
		}
	}
	audit_close(l);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	verify_all(logp, &records);
	assert_true(records >= 600);
}

/* a log written under another volume's key is refused, untouched */
static void test_foreign_log_refused(void **state)
{
	static const uint8_t other[32] = { 7, 7, 7 };
	struct audit_opts o = { 0 };
	struct audit_log *l = NULL;
	struct stat before, after;

	snprintf(logp, sizeof(logp), "%s/foreign.jsonl", dir);
	o.path = logp;
	o.volume = "cipher";
	assert_int_equal(audit_open(&o, key, &l), 0);
	emit_one(l, "mount", 0);
	audit_close(l);
	assert_int_equal(stat(logp, &before), 0);
	assert_int_equal(audit_open(&o, other, &l), -PHV_EAUTH);
	assert_null(l);
	assert_int_equal(stat(logp, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	verify_all(logp, NULL);
}

/* verify every segment of path: with the key and state, or public only */
static int verify_set(const char *path, const char *state_path, int keyed)
{
	struct audit_verify_opts vo = { .key = keyed ? key : NULL,
					.state_path = state_path };
	struct audit_verify_result res;
	char **files = NULL;
	int n, r;

	assert_int_equal(audit_segments(path, &files, &n), 0);
	r = audit_verify(files, n, &vo, &res);
	audit_segments_free(files, n);
	return r;
}

static int count_type(const char *path, const char *type)
{
	char buf[65536], want[64];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	while (fgets(buf, sizeof(buf), f))
		n += strstr(buf, want) != NULL;
	fclose(f);
	return n;
}

static struct audit_log *open_with_state(const char *name)
{
	struct audit_opts o = { 0 };
	struct audit_log *l = NULL;

	snprintf(logp, sizeof(logp), "%s/%s.jsonl", dir, name);
	snprintf(statep, sizeof(statep), "%s/%s.state", dir, name);
	o.path = logp;
	o.volume = "v";
	o.state_path = statep;
	assert_int_equal(audit_open(&o, key, &l), 0);
	return l;
}

static off_t first_lines(const char *path, int k)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	off_t len = 0;

	assert_non_null(f);
	while (k-- > 0 && fgets(buf, sizeof(buf), f))
		len += (off_t)strlen(buf);
	fclose(f);
	return len;
}

/* cutting the active segment short under a running writer is caught,
 * not folded in and then blessed by the next checkpoint */
static void test_cut_while_open(void **state)
{
	struct audit_log *l = open_with_state("cut");
	int i;

	for (i = 0; i < 50; i++)
		emit_one(l, "open", i);
	assert_int_equal(audit_checkpoint(l), 0);
	assert_int_equal(truncate(logp, first_lines(logp, 3)), 0);
	for (i = 0; i < 5; i++)
		emit_one(l, "open", 100 + i);
	audit_close(l);
	assert_int_equal(count_type(logp, "audit-tampered"), 1);
	assert_int_not_equal(verify_set(logp, statep, 1), 0);
	assert_int_not_equal(verify_set(logp, NULL, 0), 0);
}

/* a line appended by someone without the key is not taken in */
static void test_forged_line_while_open(void **state)
{
	struct audit_log *l = open_with_state("forged");
	FILE *f;
	int i;

	for (i = 0; i < 10; i++)
		emit_one(l, "open", i);
	f = fopen(logp, "a");
	assert_non_null(f);
	fprintf(f, "{\"seq\":12,\"ts\":\"2026-12-04T21:22:00.000Z\","
		"\"type\":\"revoke\",\"mac\":\"%s\"}\n",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	fclose(f);
	emit_one(l, "open", 99);
	assert_int_equal(audit_checkpoint(l), 0);
	audit_close(l);
	assert_int_equal(count_type(logp, "audit-tampered"), 1);
	/* the checkpoints never covered the forged line: public-key
	 * verification alone reports it too */
	assert_int_not_equal(verify_set(logp, NULL, 0), 0);
}

/* a log cut short while nothing had it open is caught at the next open
 * against the trusted state, which is not overwritten to match */
static void test_cut_while_closed(void **state)
{
	struct audit_log *l = open_with_state("closed");
	int i;

	for (i = 0; i < 30; i++)
		emit_one(l, "open", i);
	audit_close(l);
	assert_int_equal(verify_set(logp, statep, 1), 0);
	assert_int_equal(truncate(logp, first_lines(logp, 5)), 0);
	l = open_with_state("closed");
	emit_one(l, "mount", 0);
	audit_close(l);
	assert_int_equal(count_type(logp, "audit-tampered"), 1);
	assert_int_not_equal(verify_set(logp, statep, 1), 0);
}

/* any bytes in a name keep the line valid JSON and come back exact */
static void test_jsonl_bytes(void **state)
{
	/* invalid 0xff, valid é, a surrogate (invalid), valid € */
	static const char raw[] = "a\xff\xc3\xa9\xed\xa0\x80\xe2\x82\xac\x01";
	char line[512], out[64];
	struct jbuf j;

	jbuf_init(&j);
	jbuf_str(&j, "path", raw);
	assert_string_equal(j.b, "\"path\":\"a\\u00ff\xc3\xa9\\u00ed\\u00a0"
			    "\\u0080\xe2\x82\xac\\u0001\"");
	snprintf(line, sizeof(line), "{%.500s}", j.b);
	assert_int_equal(jsonl_get(line, strlen(line), "path", out,
				   sizeof(out)), 1);
	assert_string_equal(out, raw);
}

/* a segment rotated by hand is followed, and never written over */
static void test_rotated_by_hand(void **state)
{
	struct audit_log *l = open_with_state("hand");
	char seg1[300], seg2[300];
	struct stat st1, st1b;
	int i;

	snprintf(seg1, sizeof(seg1), "%s.000001", logp);
	snprintf(seg2, sizeof(seg2), "%s.000002", logp);
	for (i = 0; i < 10; i++)
		emit_one(l, "open", i);
	assert_int_equal(rename(logp, seg1), 0);
	assert_int_equal(stat(seg1, &st1), 0);
	for (i = 0; i < 10; i++)
		emit_one(l, "open", 100 + i);
	assert_int_equal(audit_rotate(l), 0);	/* 2 -> 2's name */
	emit_one(l, "open", 200);
	audit_close(l);
	assert_int_equal(stat(seg1, &st1b), 0);
	assert_int_equal(st1.st_ino, st1b.st_ino);
	assert_int_equal(st1.st_size, st1b.st_size);
	assert_int_equal(access(seg2, F_OK), 0);
	assert_int_equal(count_type(logp, "audit-tampered"), 0);
	assert_int_equal(verify_set(logp, statep, 1), 0);
}

/* the trusted state removed while nothing ran is noticed at open */
static void test_state_removed(void **state)
{
	struct audit_log *l = open_with_state("nostate");
	int i;

	for (i = 0; i < 5; i++)
		emit_one(l, "open", i);
	audit_close(l);		/* checkpoints and writes the state */
	l = open_with_state("nostate");
	for (i = 0; i < 5; i++)
		emit_one(l, "open", 10 + i);
	audit_close(l);
	/* the second session cut off, the state that saw it removed; the
	 * first session's checkpoint shows a state must exist */
	assert_int_equal(unlink(statep), 0);
	assert_int_equal(truncate(logp, first_lines(logp, 7)), 0);
	l = open_with_state("nostate");
	audit_close(l);
	assert_int_equal(count_type(logp, "audit-tampered"), 1);
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
		cmocka_unit_test(test_intact),
		cmocka_unit_test(test_edit),
		cmocka_unit_test(test_edit_public),
		cmocka_unit_test(test_insert),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_truncate_tail),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_torn_line),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_two_processes),
		cmocka_unit_test(test_foreign_log_refused),
		cmocka_unit_test(test_cut_while_open),
		cmocka_unit_test(test_forged_line_while_open),
		cmocka_unit_test(test_cut_while_closed),
		cmocka_unit_test(test_jsonl_bytes),
		cmocka_unit_test(test_rotated_by_hand),
		cmocka_unit_test(test_state_removed),
		cmocka_unit_test(test_alert_hook),
	};

	return cmocka_run_group_tests_name("audit", tests, setup, teardown);
}
