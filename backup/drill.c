// SPDX-License-Identifier: MIT
/*
 * drill.c - one restore drill (see drill.h).
 *
 * Order: load every snapshot (for RPO and for the pick), pick one, choose
 * the files (all, or a random sample), restore them into a fresh scratch
 * directory, read each back and compare its XXH3-128 with the manifest,
 * remove the scratch directory, then HEAD every object the snapshot
 * depends on and try one forbidden delete.  Every check records its own
 * verdict, so one failure never hides another: a pack that is gone shows
 * up both as files that did not restore and as an object that is not
 * locked, and the report names both.
 *
 * The clock is the server's: started is the time the caller got from
 * repo_clock_check(), later times add our own elapsed monotonic time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "drill.h"
#include "maint.h"
#include "testhook.h"

#define VERIFY_BUF	(1U << 20)

static const char *const check_names[DRILL_NCHECKS] = {
	"snapshot", "restore", "verify", "locks", "delete-probe",
	"tampering", "rpo", "rto",
};

static const char *const status_names[] = {
	"skipped", "passed", "failed", "critical", "warning",
};

const char *drill_check_name(enum drill_check_id c)
{
	return c < DRILL_NCHECKS ? check_names[c] : "?";
}

const char *drill_status_name(enum drill_status s)
{
	return s <= DRILL_WARNING ? status_names[s] : "?";
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void drill_problem(struct drill_result *res, enum drill_check_id c,
		   const char *fmt, ...)
{
	struct drill_check *k = &res->checks[c];
	char **p, *line = NULL;
	va_list ap;
	int n;

	if (k->nproblems >= DRILL_MAX_PROBLEMS) {
		k->more++;
		return;
	}
	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	p = n < 0 ? NULL : realloc(k->problems,
				   (k->nproblems + 1) * sizeof(*p));
	if (!p) {
		free(n < 0 ? NULL : line);
		k->more++;
		return;
	}
	k->problems = p;
	k->problems[k->nproblems++] = line;
	log_warn("drill %s: %s", check_names[c], line);
}

static void set_check(struct drill_result *res, enum drill_check_id c,
		      enum drill_status s, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_check(struct drill_result *res, enum drill_check_id c,
		      enum drill_status s, const char *fmt, ...)
{
	struct drill_check *k = &res->checks[c];
	va_list ap;

	k->status = s;
	va_start(ap, fmt);
	vsnprintf(k->summary, sizeof(k->summary), fmt, ap);
	va_end(ap);
}

void drill_result_release(struct drill_result *res)
{
	size_t c, i;

	for (c = 0; c < DRILL_NCHECKS; c++) {
		for (i = 0; i < res->checks[c].nproblems; i++)
			free(res->checks[c].problems[i]);
		free(res->checks[c].problems);
		res->checks[c].problems = NULL;
		res->checks[c].nproblems = 0;
	}
}

void drill_fmt_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void drill_fmt_dur(int64_t s, char *buf, size_t size)
{
	if (s < 0)
		snprintf(buf, size, "-");
	else if (s >= 48 * 3600)
		snprintf(buf, size, "%.1fd", s / 86400.0);
	else if (s >= 3600)
		snprintf(buf, size, "%.1fh", s / 3600.0);
	else if (s >= 60)
		snprintf(buf, size, "%.1fmin", s / 60.0);
	else
		snprintf(buf, size, "%llds", (long long)s);
}

void drill_fmt_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, size, "%.1f %s", v, units[u]);
	else
		snprintf(buf, size, "%llu B", (unsigned long long)n);
}

/* ---- picking the snapshot and the files ------------------------------- */

static uint64_t rnd(uint64_t n)
{
	uint64_t v = 0;

	if (n < 2)
		return 0;
	if (secmem_random(&v, sizeof(v)))
		v = (uint64_t)random() << 31 ^ (uint64_t)random();
	return v % n;
}

static int pick_snapshot(const struct repo_snap *snaps, size_t n,
			 const struct drill_opts *o)
{
	size_t i, nl = 0, k;

	if (o->pick != DRILL_PICK_RANDOM)
		return repo_snap_find(snaps, n, o->snapshot && *o->snapshot ?
				      o->snapshot : "latest");
	for (i = 0; i < n; i++)
		nl += snaps[i].loaded;
	if (!nl)
		return -PHV_ENOTFOUND;
	k = (size_t)rnd(nl);
	for (i = 0; i < n; i++)
		if (snaps[i].loaded && !k--)
			return (int)i;
	return -PHV_ENOTFOUND;
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The regular files of m, all or a random sample of ceil(sample * n)
 * (at least one), in manifest order.
 */
static int select_files(const struct manifest *m, double sample,
			struct drill_result *res, size_t **selp, size_t *np)
{
	size_t *sel, i, n = 0, k, t;

	*selp = NULL;
	*np = 0;
	sel = malloc((m->nnodes ? m->nnodes : 1) * sizeof(*sel));
	if (!sel)
		return -ENOMEM;
	for (i = 0; i < m->nnodes; i++) {
		if (m->nodes[i].type != MF_FILE)
			continue;
		sel[n++] = i;
		res->files_total++;
		res->bytes_total += m->nodes[i].size;
	}
	k = n;
	if (sample > 0 && sample < 1 && n) {
		k = (size_t)(sample * (double)n);
		if ((double)k < sample * (double)n)
			k++;
		if (!k)
			k = 1;
		/* a partial Fisher-Yates shuffle draws k of n */
		for (i = 0; i < k; i++) {
			size_t j = i + (size_t)rnd(n - i);

			t = sel[i];
			sel[i] = sel[j];
			sel[j] = t;
		}
		qsort(sel, k, sizeof(*sel), size_cmp);
	}
	for (i = 0; i < k; i++)
		res->bytes_selected += m->nodes[sel[i]].size;
	res->files_selected = k;
	*selp = sel;
	*np = k;
	return 0;
}

/* ---- restore and verify ----------------------------------------------- */

struct restore_acc {
	struct drill_result *res;
	const struct manifest *m;
	uint8_t *ok;			/* per selected file */
	size_t pos;
};

/*
 * Name the pack (and version) behind a failed file, so the report says
 * which object is damaged: the extent whose chunk id the engine's detail
 * names ("chunk <hex prefix>"), else the file's first stored extent.
 */
static void pack_hint(const struct manifest *m, const struct mf_node *n,
		      const char *detail, char *out, size_t size)
{
	const struct mf_extent *e = NULL;
	const char *c = detail ? strstr(detail, "chunk ") : NULL;
	char hex[2 * MF_CHUNK_ID_LEN + 1];
	size_t i, len = 0;

	out[0] = '\0';
	if (c) {
		c += 6;
		while (len < 2 * MF_CHUNK_ID_LEN &&
		       hex_digit((unsigned char)c[len], 0) >= 0)
			len++;
	}
	for (i = 0; i < n->next; i++) {
		const struct mf_extent *x = &n->ext[i];

		if (x->pack == MF_HOLE || x->pack >= m->npacks)
			continue;
		if (!e)
			e = x;
		if (!len)
			break;
		hex_encode(x->id, MF_CHUNK_ID_LEN, hex);
		if (!strncmp(hex, c, len)) {
			e = x;
			break;
		}
	}
	if (!e)
		return;
	repo_hex(m->packs[e->pack].id, hex);
	snprintf(out, size, " (in packs/%s version %s)", hex,
		 m->packs[e->pack].version_id ? m->packs[e->pack].version_id :
		 "-");
}

static void restored_cb(const struct mf_node *n, int err, const char *detail,
			void *arg)
{
	struct restore_acc *a = arg;
	char hint[192];

	if (!err) {
		a->ok[a->pos++] = 1;
		a->res->files_restored++;
		return;
	}
	a->ok[a->pos++] = 0;
	a->res->files_bad++;
	pack_hint(a->m, n, detail, hint, sizeof(hint));
	drill_problem(a->res, DRILL_RESTORE, "%s: %s%s", n->path,
		      detail && *detail ? detail : phv_strerror(err), hint);
}

/* XXH3-128 of the restored file at dir/path; 0, -errno or -PHV_EAUTH. */
static int verify_file(const char *dir, const struct mf_node *n,
		       uint8_t *buf, char *why, size_t whysize)
{
	XXH3_state_t *h = NULL;
	XXH128_canonical_t fp;
	uint64_t total = 0;
	char *path = NULL;
	ssize_t got;
	int fd = -1, ret = -ENOMEM;

	if (asprintf(&path, "%s/%s", dir, n->path) < 0)
		return -ENOMEM;
	h = XXH3_createState();
	if (!h)
		goto out;
	XXH3_128bits_reset(h);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, whysize, "cannot read back: %s",
			 strerror(errno));
		goto out;
	}
	for (;;) {
		got = read(fd, buf, VERIFY_BUF);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		XXH3_128bits_update(h, buf, (size_t)got);
		total += (uint64_t)got;
	}
	if (got < 0) {
		ret = -errno;
		snprintf(why, whysize, "read: %s", strerror(errno));
		goto out;
	}
	XXH128_canonicalFromHash(&fp, XXH3_128bits_digest(h));
	ret = -PHV_EAUTH;
	if (total != n->size) {
		snprintf(why, whysize, "restored %llu bytes, the snapshot "
			 "recorded %llu", (unsigned long long)total,
			 (unsigned long long)n->size);
		goto out;
	}
	if (memcmp(fp.digest, n->fp, MF_FP_LEN)) {
		snprintf(why, whysize, "XXH3-128 fingerprint differs from "
			 "the snapshot's");
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	XXH3_freeState(h);
	free(path);
	return ret;
}

static int verify_all(const struct manifest *m, const size_t *sel,
		      const uint8_t *ok, size_t nsel, const char *dir,
		      struct drill_result *res, uint64_t *nverp)
{
	uint8_t *buf = malloc(VERIFY_BUF);
	char why[256];
	size_t i;
	int ret;

	*nverp = 0;
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < nsel; i++) {
		const struct mf_node *n = &m->nodes[sel[i]];

		if (!ok[i])
			continue;
		why[0] = '\0';
		ret = verify_file(dir, n, buf, why, sizeof(why));
		if (ret == -ENOMEM) {
			free(buf);
			return ret;
		}
		if (ret) {
			res->files_bad++;
			drill_problem(res, DRILL_VERIFY, "%s: %s", n->path,
				      *why ? why : phv_strerror(ret));
		} else {
			(*nverp)++;
		}
	}
	free(buf);
	return 0;
}

static int restore_and_verify(struct repo *r, const struct manifest *m,
			      const struct drill_opts *o,
			      struct drill_result *res)
{
	struct restore_acc a = { .res = res, .m = m };
	size_t *sel = NULL, nsel = 0;
	char *dir = NULL, *tree = NULL, b2[32];
	uint64_t nver = 0;
	double t0;
	int ret;

	ret = select_files(m, o->sample, res, &sel, &nsel);
	if (ret)
		goto out;
	a.ok = calloc(nsel ? nsel : 1, 1);
	ret = a.ok ? drill_scratch_make(o->scratch_parent, &dir, &tree,
					res->scratch_note,
					sizeof(res->scratch_note)) : -ENOMEM;
	if (ret) {
		set_check(res, DRILL_RESTORE, DRILL_FAILED, "no scratch "
			  "directory: %s", phv_strerror(ret));
		goto out;
	}
	log_info("drill: restoring %zu of %llu files into %s", nsel,
		 (unsigned long long)res->files_total, dir);

	t0 = now_mono();
	ret = drill_restore(r, m, sel, nsel, tree, restored_cb, &a,
			    &res->bytes_restored);
	res->restore_seconds = now_mono() - t0;
	if (ret) {
		set_check(res, DRILL_RESTORE, DRILL_FAILED, "restore "
			  "stopped: %s", phv_strerror(ret));
		goto out;
	}
	t0 = now_mono();
	ret = verify_all(m, sel, a.ok, nsel, tree, res, &nver);
	res->verify_seconds = now_mono() - t0;
	if (ret)
		goto out;

	drill_fmt_bytes(res->bytes_restored, b2, sizeof(b2));
	if (res->checks[DRILL_RESTORE].nproblems)
		set_check(res, DRILL_RESTORE, DRILL_FAILED, "%llu of %zu "
			  "files could not be restored",
			  (unsigned long long)(nsel - res->files_restored),
			  nsel);
	else
		set_check(res, DRILL_RESTORE, DRILL_PASSED, "%zu files, "
			  "%s restored in %.2fs", nsel, b2,
			  res->restore_seconds);
	if (res->checks[DRILL_VERIFY].nproblems)
		set_check(res, DRILL_VERIFY, DRILL_FAILED, "%llu restored "
			  "files differ from the snapshot",
			  (unsigned long long)(res->files_restored - nver));
	else if (nver)
		set_check(res, DRILL_VERIFY, DRILL_PASSED, "%llu files "
			  "match their XXH3-128 fingerprints; every blob "
			  "passed authenticated decryption",
			  (unsigned long long)nver);
	else
		set_check(res, DRILL_VERIFY, nsel ? DRILL_FAILED :
			  DRILL_SKIPPED, "nothing was restored to verify");
	ret = 0;
out:
	if (dir && !o->keep_scratch) {
		drill_scratch_remove(dir);
	} else if (dir) {
		drill_scratch_keep(dir);
		snprintf(res->kept_scratch, sizeof(res->kept_scratch), "%s",
			 tree);
		log_warn("drill: --keep-scratch: plaintext PHI is left at %s",
			 tree);
	}
	free(dir);
	free(tree);
	free(a.ok);
	free(sel);
	return ret;
}

/* ---- Object Lock ------------------------------------------------------- */

struct lock_ctx {
	struct repo *r;
	struct drill_result *res;
	time_t expect;			/* retained at least until */
	char **packs;			/* the snapshot's, hex, sorted */
	size_t npacks;
	char probe_key[256];		/* an index object that passed */
	char *probe_vid;
};

static const char *lock_name(enum store_lock_mode m)
{
	return m == STORE_LOCK_COMPLIANCE ? "COMPLIANCE" :
		m == STORE_LOCK_GOVERNANCE ? "GOVERNANCE" : "none";
}

/* 0 when key (version vid) is locked well enough, 1 when not. */
static int check_object(struct lock_ctx *l, const char *key,
			const char *vid)
{
	struct store *st = l->r->st;
	struct store_info info;
	char d1[32], d2[32];
	int ret;

	l->res->objects_checked++;
	memset(&info, 0, sizeof(info));
	ret = st->ops->head(st, key, vid, &info);
	if (ret) {
		l->res->objects_bad++;
		drill_problem(l->res, DRILL_LOCKS, "%s version %s: %s", key,
			      vid ? vid : "-", ret == -PHV_ENOTFOUND ?
			      "missing (deleted?)" : store_error(st));
		return 1;
	}
	if (info.mode == STORE_LOCK_NONE || info.retain_until == 0) {
		l->res->objects_bad++;
		drill_problem(l->res, DRILL_LOCKS, "%s version %s: not "
			      "locked (no retention)", key, vid ? vid : "-");
		return 1;
	}
	if (l->r->mode == STORE_LOCK_COMPLIANCE &&
	    info.mode != STORE_LOCK_COMPLIANCE) {
		l->res->objects_bad++;
		drill_problem(l->res, DRILL_LOCKS, "%s version %s: locked "
			      "in %s mode, the repository uses COMPLIANCE",
			      key, vid ? vid : "-", lock_name(info.mode));
		return 1;
	}
	if (info.retain_until < l->expect) {
		drill_fmt_time(info.retain_until, d1, sizeof(d1));
		drill_fmt_time(l->expect, d2, sizeof(d2));
		l->res->objects_bad++;
		drill_problem(l->res, DRILL_LOCKS, "%s version %s: retained "
			      "until %s, expected at least %s", key,
			      vid ? vid : "-", d1, d2);
		return 1;
	}
	return 0;
}

static int meta_cb(const char *key, const char *vid, uint64_t size,
		   void *arg)
{
	check_object(arg, key, vid);
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int index_cb(const char *key, const char *vid, uint64_t size,
		    void *arg)
{
	struct lock_ctx *l = arg;
	const char *id = key + strlen("index/");

	if (!bsearch(&id, l->packs, l->npacks, sizeof(*l->packs), str_cmp))
		return 0;
	if (check_object(l, key, vid) || l->probe_key[0])
		return 0;
	snprintf(l->probe_key, sizeof(l->probe_key), "%s", key);
	l->probe_vid = vid ? strdup(vid) : NULL;
	return vid && !l->probe_vid ? -ENOMEM : 0;
}

static int check_packs(struct lock_ctx *l, const struct manifest *m)
{
	char key[64];
	size_t i;

	l->packs = calloc(m->npacks ? m->npacks : 1, sizeof(*l->packs));
	if (!l->packs)
		return -ENOMEM;
	for (i = 0; i < m->npacks; i++) {
		l->packs[i] = malloc(2 * MF_ID_LEN + 1);
		if (!l->packs[i])
			return -ENOMEM;
		repo_hex(m->packs[i].id, l->packs[i]);
		l->npacks++;
		snprintf(key, sizeof(key), "packs/%s", l->packs[i]);
		check_object(l, key, m->packs[i].version_id);
	}
	qsort(l->packs, l->npacks, sizeof(*l->packs), str_cmp);
	return repo_list_oldest(l->r, "index/", index_cb, l);
}

static void delete_probe(struct lock_ctx *l, const struct drill_opts *o)
{
	struct drill_result *res = l->res;
	struct store *st = l->r->st;
	unsigned int flags = 0;
	int ret;

	if (o->skip_delete_probe) {
		set_check(res, DRILL_DELETE, DRILL_SKIPPED, "not asked for "
			  "(--no-delete-probe)");
		return;
	}
	if (!l->probe_key[0]) {
		/* no packs, or none whose index passed (locks failed) */
		set_check(res, DRILL_DELETE, DRILL_SKIPPED, "no locked index "
			  "object of the snapshot to try a delete on");
		return;
	}
	snprintf(res->probe_key, sizeof(res->probe_key), "%s", l->probe_key);
	/* test-only: stand in for a server that does not enforce locks */
	if (testhook_get("PHIVAULT_TEST_DRILL_PROBE_BYPASS",
			 TESTHOOK_GUARDED))
		flags = STORE_DEL_BYPASS;
	ret = st->ops->del(st, l->probe_key, l->probe_vid, flags);
	if (ret == -PHV_ELOCKED) {
		set_check(res, DRILL_DELETE, DRILL_PASSED, "the server "
			  "refused to delete %s version %s (Object Lock)",
			  l->probe_key, l->probe_vid ? l->probe_vid : "-");
	} else if (!ret) {
		set_check(res, DRILL_DELETE, DRILL_CRITICAL, "CRITICAL: the "
			  "server DELETED locked version %s of %s with the "
			  "backup's credentials: Object Lock is not "
			  "protecting this repository",
			  l->probe_vid ? l->probe_vid : "-", l->probe_key);
		drill_problem(res, DRILL_DELETE, "%s version %s was deleted; "
			      "the next backup rewrites this index object "
			      "from its pack", l->probe_key,
			      l->probe_vid ? l->probe_vid : "-");
		log_err("drill: CRITICAL: a locked version could be deleted");
	} else {
		set_check(res, DRILL_DELETE, DRILL_FAILED, "the delete probe "
			  "on %s was inconclusive: %s", l->probe_key,
			  *store_error(st) ? store_error(st) :
			  phv_strerror(ret));
	}
}

static int check_locks(struct repo *r, const struct repo_snap *s,
		       const struct drill_opts *o, struct drill_result *res)
{
	struct lock_ctx l = { .r = r, .res = res };
	char key[64], hex[2 * MF_ID_LEN + 1], d[32];
	size_t i;
	int ret;

	if (o->skip_locks || !r->st->immutable) {
		set_check(res, DRILL_LOCKS, DRILL_SKIPPED, "%s",
			  o->skip_locks ? "not asked for (--no-lock-check)" :
			  "the store does not enforce locks");
		set_check(res, DRILL_DELETE, DRILL_SKIPPED, "%s",
			  res->checks[DRILL_LOCKS].summary);
		return 0;
	}
	if (r->mode == STORE_LOCK_NONE) {
		set_check(res, DRILL_LOCKS, DRILL_CRITICAL, "CRITICAL: the "
			  "repository was created without Object Lock; its "
			  "backups can be deleted");
		set_check(res, DRILL_DELETE, DRILL_SKIPPED, "no lock to test");
		return 0;
	}
	l.expect = s->m.retain_until ? (time_t)s->m.retain_until :
		res->started;

	ret = repo_list_oldest(r, "config", meta_cb, &l);
	if (!ret)
		ret = repo_list_oldest(r, "keys/", meta_cb, &l);
	if (!ret) {
		repo_hex(s->id, hex);
		snprintf(key, sizeof(key), "snapshots/%s", hex);
		check_object(&l, key, s->version_id);
		ret = check_packs(&l, &s->m);
	}
	if (ret) {
		set_check(res, DRILL_LOCKS, DRILL_FAILED, "cannot list the "
			  "repository: %s", phv_strerror(ret));
		goto out;
	}
	drill_fmt_time(l.expect, d, sizeof(d));
	if (res->objects_bad)
		set_check(res, DRILL_LOCKS, DRILL_FAILED, "%llu of %llu "
			  "objects are missing or not locked %s until %s",
			  (unsigned long long)res->objects_bad,
			  (unsigned long long)res->objects_checked,
			  lock_name(r->mode), d);
	else
		set_check(res, DRILL_LOCKS, r->mode == STORE_LOCK_GOVERNANCE ?
			  DRILL_WARNING : DRILL_PASSED, "%llu objects "
			  "locked in %s mode until %s or later%s%s",
			  (unsigned long long)res->objects_checked,
			  lock_name(r->mode), d,
			  l.expect < res->started ? ", a date already past: "
			  "forget may now delete this snapshot" : "",
			  r->mode == STORE_LOCK_GOVERNANCE ? "; " DRILL_GOV_WARN
			  : "");
	delete_probe(&l, o);
out:
	for (i = 0; i < l.npacks; i++)
		free(l.packs[i]);
	free(l.packs);
	free(l.probe_vid);
	return ret == -ENOMEM ? ret : 0;
}

/* ---- tampering -------------------------------------------------------- */

static void tamper_cb(const char *key, const char *what, void *arg)
{
	drill_problem(arg, DRILL_TAMPER, "%s: %s since its locked version",
		      key, what);
}

static void check_tamper(struct repo *r, struct drill_result *res)
{
	struct maint_tamper t;
	int ret;

	if (!r->st->immutable) {
		set_check(res, DRILL_TAMPER, DRILL_SKIPPED, "the store keeps "
			  "no versions to compare");
		return;
	}
	ret = maint_tamper_scan(r, tamper_cb, res, &t);
	if (ret) {
		set_check(res, DRILL_TAMPER, DRILL_FAILED, "cannot list the "
			  "versions in the repository: %s%s%s",
			  phv_strerror(ret), *store_error(r->st) ? ": " : "",
			  store_error(r->st));
		return;
	}
	res->tampered = maint_tampered(&t);
	if (!res->tampered)
		set_check(res, DRILL_TAMPER, DRILL_PASSED, "none of %llu "
			  "objects was deleted or overwritten",
			  (unsigned long long)t.keys);
	else
		set_check(res, DRILL_TAMPER, DRILL_FAILED, "repository "
			  "tampering: %llu objects deleted or overwritten "
			  "since their locked version; %s",
			  (unsigned long long)res->tampered, t.lost ?
			  "some have no locked version left" :
			  "the locked versions are intact");
}

/* ---- RPO and RTO --------------------------------------------------------- */

static int same_source(const struct manifest *a, const struct manifest *b)
{
	return !strcmp(a->host ? a->host : "", b->host ? b->host : "") &&
		!strcmp(a->source ? a->source : "",
			b->source ? b->source : "");
}

/*
 * The recovery point is per source: each host + source pair's newest
 * snapshot against the target, so one source that keeps backing up
 * cannot hide another whose backups stopped.  res->rpo is the worst.
 */
static void check_rpo(const struct drill_opts *o,
		      const struct repo_snap *s, size_t n,
		      struct drill_result *res)
{
	char a[32], b[32];
	size_t i, j, over = 0;
	int64_t age;
	time_t newest;

	res->rpo_target = o->rpo_target > 0 ? o->rpo_target :
		DRILL_RPO_TARGET;
	drill_fmt_dur(res->rpo_target, b, sizeof(b));
	res->rpo = -1;
	for (i = 0; i < n; i++) {
		if (!s[i].loaded)
			continue;
		for (j = 0; j < i; j++)
			if (s[j].loaded && same_source(&s[j].m, &s[i].m))
				break;
		if (j < i)
			continue;	/* judged from its first member */
		newest = (time_t)s[i].m.time;
		for (j = i + 1; j < n; j++)
			if (s[j].loaded && same_source(&s[j].m, &s[i].m) &&
			    (time_t)s[j].m.time > newest)
				newest = (time_t)s[j].m.time;
		res->nsources++;
		age = (int64_t)(res->started - newest);
		if (age < 0)
			age = 0;
		if (age > res->rpo)
			res->rpo = age;
		if (age > res->rpo_target) {
			over++;
			drill_fmt_dur(age, a, sizeof(a));
			drill_problem(res, DRILL_RPO, "%s:%s: newest snapshot "
				      "is %s old", s[i].m.host ? s[i].m.host :
				      "", s[i].m.source ? s[i].m.source : "",
				      a);
		}
	}
	if (!res->nsources) {
		set_check(res, DRILL_RPO, DRILL_FAILED, "no snapshot: "
			  "nothing is recoverable (target %s)", b);
		return;
	}
	drill_fmt_dur(res->rpo, a, sizeof(a));
	if (over && res->nsources == 1)
		set_check(res, DRILL_RPO, DRILL_FAILED, "the newest snapshot "
			  "is %s old, over the target of %s", a, b);
	else if (over)
		set_check(res, DRILL_RPO, DRILL_FAILED, "%zu of %zu sources "
			  "have no snapshot within the target of %s (the "
			  "oldest is %s old)", over, res->nsources, b, a);
	else if (res->nsources == 1)
		set_check(res, DRILL_RPO, DRILL_PASSED, "the newest snapshot "
			  "is %s old (target %s)", a, b);
	else
		set_check(res, DRILL_RPO, DRILL_PASSED, "the newest snapshot "
			  "of each of %zu sources is at most %s old (target "
			  "%s)", res->nsources, a, b);
}

static void check_rto(const struct drill_opts *o, struct drill_result *res)
{
	char a[32], b[32];
	double est;

	res->rto_target = o->rto_target > 0 ? o->rto_target :
		DRILL_RTO_TARGET;
	drill_fmt_dur(res->rto_target, b, sizeof(b));
	res->rto = -1;
	if (res->restore_seconds > 0 && res->bytes_restored)
		res->rate = (double)res->bytes_restored /
			res->restore_seconds;
	if (!res->files_restored && res->files_selected) {
		set_check(res, DRILL_RTO, DRILL_FAILED, "not measured: no "
			  "file could be restored (target %s)", b);
		return;
	}
	/* scale by logical size: holes cost as little here as there */
	if (res->bytes_selected)
		est = res->restore_seconds * (double)res->bytes_total /
			(double)res->bytes_selected;
	else if (res->files_selected)
		est = res->restore_seconds * (double)res->files_total /
			(double)res->files_selected;
	else
		est = 0;
	res->rto = (int64_t)(res->setup_seconds + est + 0.999);
	drill_fmt_dur(res->rto, a, sizeof(a));
	if (res->rto > res->rto_target)
		set_check(res, DRILL_RTO, DRILL_FAILED, "a full restore would "
			  "take about %s, over the target of %s", a, b);
	else
		set_check(res, DRILL_RTO, DRILL_PASSED, "a full restore would "
			  "take about %s (target %s)", a, b);
}

/* ---- the drill --------------------------------------------------------- */

static void result_init(struct repo *r, const struct drill_opts *o,
			struct drill_result *res)
{
	uint8_t id[MF_ID_LEN];

	if (secmem_random(id, sizeof(id)))
		memset(id, 0, sizeof(id));
	repo_hex(id, res->id);
	repo_hex(r->id, res->repo_id);
	gethostname(res->host, sizeof(res->host) - 1);
	res->started = o->server_now ? o->server_now : repo_local_time();
	res->sample = o->sample > 0 && o->sample < 1 ? o->sample : 0;
	res->rpo = -1;
	res->rto = -1;
	testhook_list(res->test_hooks, sizeof(res->test_hooks));
}

static void snapshot_found(const struct repo_snap *s,
			   struct drill_result *res)
{
	char d[32];

	repo_hex(s->id, res->snapshot);
	res->snapshot_time = (time_t)s->m.time;
	res->snapshot_retain_until = (time_t)s->m.retain_until;
	snprintf(res->snap_host, sizeof(res->snap_host), "%s",
		 s->m.host ? s->m.host : "");
	snprintf(res->snap_source, sizeof(res->snap_source), "%s",
		 s->m.source ? s->m.source : "");
	drill_fmt_time(res->snapshot_time, d, sizeof(d));
	set_check(res, DRILL_SNAPSHOT, DRILL_PASSED, "snapshot %.8s of "
		  "%s:%s taken %s (%zu in the repository)", res->snapshot,
		  res->snap_host, res->snap_source, d, res->nsnapshots);
}

int drill_run(struct repo *r, const struct drill_opts *o,
	      struct drill_result *res)
{
	struct repo_snap *snaps = NULL;
	size_t i, n = 0;
	double t0 = now_mono();
	int ret, k;

	result_init(r, o, res);
	ret = repo_snaps_load(r, &snaps, &n);
	if (ret) {
		set_check(res, DRILL_SNAPSHOT, DRILL_FAILED, "cannot list "
			  "the snapshots: %s", phv_strerror(ret));
		goto finish;
	}
	res->nsnapshots = n;
	for (i = 0; i < n; i++) {
		if (!snaps[i].loaded) {
			char hex[DRILL_ID_HEX];

			repo_hex(snaps[i].id, hex);
			res->nsnapshots_bad++;
			drill_problem(res, DRILL_SNAPSHOT, "snapshot %s does "
				      "not load: %s", hex,
				      phv_strerror(snaps[i].err));
		} else if ((time_t)snaps[i].m.time > res->newest_time) {
			res->newest_time = (time_t)snaps[i].m.time;
		}
	}
	k = pick_snapshot(snaps, n, o);
	res->setup_seconds = now_mono() - t0;
	if (k < 0 || !snaps[k].loaded) {
		set_check(res, DRILL_SNAPSHOT, DRILL_FAILED, "%s",
			  k < 0 && !n ? "the repository has no snapshot" :
			  k == -EINVAL ? "the snapshot id is ambiguous" :
			  k < 0 ? "no snapshot matches" :
			  "the snapshot does not load");
		goto finish;
	}
	snapshot_found(&snaps[k], res);
	if (res->nsnapshots_bad)
		set_check(res, DRILL_SNAPSHOT, DRILL_FAILED, "%zu of %zu "
			  "snapshots do not load", res->nsnapshots_bad,
			  res->nsnapshots);

	ret = restore_and_verify(r, &snaps[k].m, o, res);
	if (!ret)
		ret = check_locks(r, &snaps[k], o, res);
finish:
	if (ret != -ENOMEM)
		check_tamper(r, res);
	for (i = 0; i < DRILL_NCHECKS; i++)
		if (!res->checks[i].summary[0])
			set_check(res, (enum drill_check_id)i, DRILL_SKIPPED,
				  "not run");
	check_rpo(o, snaps, n, res);
	check_rto(o, res);
	res->seconds = now_mono() - t0;
	res->finished = res->started + (time_t)(res->seconds + 0.5);
	res->passed = 1;
	for (i = 0; i < DRILL_NCHECKS; i++) {
		if (res->checks[i].status == DRILL_FAILED ||
		    res->checks[i].status == DRILL_CRITICAL)
			res->passed = 0;
		if (res->checks[i].status == DRILL_CRITICAL)
			res->critical = 1;
		if (res->checks[i].status == DRILL_WARNING)
			res->warnings++;
	}
	repo_snaps_free(snaps, n);
	return ret == -ENOMEM || ret == -ENOSPC ? ret : 0;
}
