// SPDX-License-Identifier: MIT
/*
 * maint.c - forget, prune, check and the tampering scan (see maint.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "maint.h"

/* ---- policy ----------------------------------------------------------- */

static int same_group(const struct manifest *a, const struct manifest *b)
{
	return a->host && b->host && a->source && b->source &&
		!strcmp(a->host, b->host) && !strcmp(a->source, b->source);
}

/*
 * The period tm falls in, by kind: 'd' day, 'w' ISO week, 'm' month
 * (literal formats, so the compiler checks them).
 */
static void period_name(const struct tm *tm, const char *kind, char *out,
			size_t size)
{
	if (*kind == 'w')
		strftime(out, size, "%G-%V", tm);
	else if (*kind == 'm')
		strftime(out, size, "%Y-%m", tm);
	else
		strftime(out, size, "%Y-%m-%d", tm);
}

/* Keep the newest snapshot of each of the last want periods. */
static void keep_periods(const struct repo_snap *s, size_t n, size_t g,
			 int want, const char *kind, int *keep)
{
	char last[32] = "", cur[32];
	struct tm tm;
	time_t t;
	size_t i;
	int got = 0;

	for (i = n; i > 0 && got < want; i--) {
		if (!s[i - 1].loaded || !same_group(&s[i - 1].m, &s[g].m))
			continue;
		t = (time_t)s[i - 1].m.time;
		localtime_r(&t, &tm);
		period_name(&tm, kind, cur, sizeof(cur));
		if (!strcmp(cur, last))
			continue;
		strcpy(last, cur);
		keep[i - 1] = 1;
		got++;
	}
}

void forget_select(const struct repo_snap *s, size_t n,
		   const struct forget_policy *p, int *keep)
{
	size_t i, j;
	int got;

	for (i = 0; i < n; i++)
		keep[i] = !p->last && !p->daily && !p->weekly &&
			!p->monthly;
	for (i = 0; i < n; i++) {
		if (!s[i].loaded) {
			keep[i] = 1;	/* never forget what we cannot read */
			continue;
		}
		/* judge each group once, from its first member */
		for (j = 0; j < i; j++)
			if (s[j].loaded && same_group(&s[j].m, &s[i].m))
				break;
		if (j < i)
			continue;
		for (j = n, got = 0; j > 0 && got < p->last; j--)
			if (s[j - 1].loaded &&
			    same_group(&s[j - 1].m, &s[i].m)) {
				keep[j - 1] = 1;
				got++;
			}
		keep_periods(s, n, i, p->daily, "d", keep);
		keep_periods(s, n, i, p->weekly, "w", keep);
		keep_periods(s, n, i, p->monthly, "m", keep);
	}
}

/* ---- deleting every version of a key ----------------------------------- */

struct vers {
	char **vid;
	size_t n;
	const char *key;
};

static int vers_cb(const struct store_entry *e, void *arg)
{
	struct vers *v = arg;
	char **n;

	if (strcmp(e->key, v->key))
		return 0;
	n = realloc(v->vid, (v->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	v->vid = n;
	v->vid[v->n++] = e->version_id ? strdup(e->version_id) : NULL;
	return 0;
}

/* Delete all versions of key; *untilp: latest retain-until refused. */
static int delete_all(struct repo *r, const char *key, time_t *untilp)
{
	struct store *st = r->st;
	struct vers v = { .key = key };
	struct store_info info;
	size_t i;
	int ret, locked = 0;

	*untilp = 0;
	ret = st->ops->list(st, key, vers_cb, &v);
	for (i = 0; !ret && i < v.n; i++) {
		int d = st->ops->del(st, key, v.vid[i], 0);

		if (d == -PHV_ELOCKED || d == -EACCES || d == -PHV_ES3) {
			locked = 1;
			if (!st->ops->head(st, key, v.vid[i], &info) &&
			    info.retain_until > *untilp)
				*untilp = info.retain_until;
		} else if (d && d != -PHV_ENOTFOUND) {
			ret = d;
		}
	}
	for (i = 0; i < v.n; i++)
		free(v.vid[i]);
	free(v.vid);
	return ret ? ret : locked ? -PHV_ELOCKED : 0;
}

static void say_locked(FILE *out, const char *what, time_t until)
{
	char when[64] = "an unknown date";
	struct tm tm;

	if (until) {
		gmtime_r(&until, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	}
	fprintf(out, "still locked: %s until %s\n", what, when);
}

int maint_forget(struct repo *r, const struct forget_policy *p, int dry_run,
		 FILE *out)
{
	struct repo_snap *s = NULL;
	char key[64], hex[2 * MF_ID_LEN + 1];
	size_t n, i;
	time_t until;
	int *keep = NULL, ret, d, locked = 0;

	ret = repo_snaps_load(r, &s, &n);
	if (ret)
		return ret;
	keep = calloc(n + 1, sizeof(*keep));
	if (!keep) {
		ret = -ENOMEM;
		goto out;
	}
	forget_select(s, n, p, keep);
	for (i = 0; i < n; i++) {
		repo_hex(s[i].id, hex);
		if (keep[i]) {
			fprintf(out, "keep   %.8s\n", hex);
			continue;
		}
		fprintf(out, "forget %.8s%s\n", hex, dry_run ? " (dry run)" :
			"");
		if (dry_run)
			continue;
		snprintf(key, sizeof(key), "snapshots/%s", hex);
		d = delete_all(r, key, &until);
		if (d == -PHV_ELOCKED) {
			say_locked(out, key, until);
			locked = 1;
		} else if (d) {
			ret = d;
		}
	}
out:
	free(keep);
	repo_snaps_free(s, n);
	return ret ? ret : locked ? -PHV_ELOCKED : 0;
}

/* ---- prune ------------------------------------------------------------- */

struct used {
	uint8_t (*id)[MF_ID_LEN];
	size_t n;
};

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MF_ID_LEN);
}

static int used_build(struct repo_snap *s, size_t n, struct used *u)
{
	size_t i, k, total = 0;

	for (i = 0; i < n; i++)
		total += s[i].m.npacks;
	u->id = malloc((total + 1) * MF_ID_LEN);
	if (!u->id)
		return -ENOMEM;
	u->n = 0;
	for (i = 0; i < n; i++)
		for (k = 0; k < s[i].m.npacks; k++)
			memcpy(u->id[u->n++], s[i].m.packs[k].id, MF_ID_LEN);
	qsort(u->id, u->n, MF_ID_LEN, id_cmp);
	return 0;
}

struct prune_ctx {
	struct repo *r;
	struct used *u;
	FILE *out;
	unsigned long deleted, locked;
	int err;
};

static int prune_cb(const char *key, const char *vid, uint64_t size,
		    void *arg)
{
	struct prune_ctx *c = arg;
	uint8_t id[MF_ID_LEN];
	char other[64];
	time_t until;
	int d;

	if (repo_unhex(key + 6, id))
		return 0;
	if (bsearch(id, c->u->id, c->u->n, MF_ID_LEN, id_cmp))
		return 0;
	d = delete_all(c->r, key, &until);
	if (d == -PHV_ELOCKED) {
		say_locked(c->out, key, until);
		c->locked++;
		return 0;
	}
	if (d) {
		c->err = d;
		return 0;
	}
	snprintf(other, sizeof(other), "index/%s", key + 6);
	delete_all(c->r, other, &until);
	fprintf(c->out, "deleted %s\n", key);
	c->deleted++;
	return 0;
}

int maint_prune(struct repo *r, FILE *out)
{
	struct repo_snap *s = NULL;
	struct used u = { 0 };
	struct prune_ctx c = { .r = r, .out = out };
	size_t n, i;
	int ret;

	ret = repo_snaps_load(r, &s, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		if (!s[i].loaded) {
			fprintf(out, "a snapshot cannot be read; not pruning "
				"anything\n");
			ret = -PHV_EFORMAT;
			goto out;
		}
	ret = used_build(s, n, &u);
	if (ret)
		goto out;
	c.u = &u;
	ret = repo_list_oldest(r, "packs/", prune_cb, &c);
	if (!ret)
		ret = c.err;
	fprintf(out, "prune: %lu packs deleted, %lu still locked\n",
		c.deleted, c.locked);
out:
	free(u.id);
	repo_snaps_free(s, n);
	return ret;
}

/* ---- tampering -------------------------------------------------------- */

struct tamper_ctx {
	struct maint_tamper *t;
	maint_tamper_fn fn;
	void *arg;
	char *key;			/* the key being collected */
	size_t nentries;
	int latest_marker;		/* its newest entry is a marker */
	int oldest_marker;		/* its oldest entry is a marker */
};

static void tamper_flush(struct tamper_ctx *c)
{
	if (!c->key)
		return;
	c->t->keys++;
	if (c->nentries > 1 || c->latest_marker) {
		if (c->latest_marker)
			c->t->deleted++;
		else
			c->t->overwritten++;
		if (c->oldest_marker)
			c->t->lost++;
		if (c->fn)
			c->fn(c->key, c->latest_marker ? "deleted" :
			      "overwritten", c->arg);
	}
	free(c->key);
	c->key = NULL;
}

static int tamper_cb(const struct store_entry *e, void *arg)
{
	struct tamper_ctx *c = arg;

	if (!strncmp(e->key, "locks/", 6))
		return 0;
	if (!c->key || strcmp(c->key, e->key)) {
		tamper_flush(c);
		c->key = strdup(e->key);
		if (!c->key)
			return -ENOMEM;
		c->nentries = 0;
		c->latest_marker = e->is_delete_marker;
	}
	c->nentries++;
	c->oldest_marker = e->is_delete_marker;
	return 0;
}

int maint_tamper_scan(struct repo *r, maint_tamper_fn fn, void *arg,
		      struct maint_tamper *t)
{
	struct tamper_ctx c = { .t = t, .fn = fn, .arg = arg };
	int ret;

	memset(t, 0, sizeof(*t));
	ret = r->st->ops->list(r->st, "", tamper_cb, &c);
	if (!ret)
		tamper_flush(&c);
	free(c.key);
	return ret;
}

/* ---- check ------------------------------------------------------------- */

static int check_blob(struct repo *r, const struct mf_pack *p,
		      const uint8_t *dk, const struct mf_extent *x)
{
	char key[64], hex[2 * MF_ID_LEN + 1];
	uint8_t *pt = NULL;
	void *blob = NULL;
	size_t blen, plen;
	int ret;

	repo_hex(p->id, hex);
	snprintf(key, sizeof(key), "packs/%s", hex);
	ret = r->st->ops->get(r->st, key, p->version_id, x->blob_off,
			      x->blob_len, x->blob_len, &blob, &blen);
	if (!ret)
		ret = repo_blob_decode(r, dk, p->id, x->id, x->flags, blob,
				       blen, (size_t)x->len, &pt, &plen);
	free(blob);
	free(pt);
	return ret;
}

static int check_snap(struct repo *r, struct repo_snap *s, int read_data,
		      FILE *out)
{
	struct manifest *m = &s->m;
	struct store_info info;
	char key[64], hex[2 * MF_ID_LEN + 1];
	uint8_t *dk = secmem_alloc(REPO_KEY_LEN);
	size_t i, k;
	int ret = 0, e;

	if (!dk)
		return -ENOMEM;
	for (i = 0; i < m->npacks; i++) {
		repo_hex(m->packs[i].id, hex);
		snprintf(key, sizeof(key), "packs/%s", hex);
		e = r->st->ops->head(r->st, key, m->packs[i].version_id,
				     &info);
		if (e) {
			fprintf(out, "missing: %s (%s)\n", key,
				phv_strerror(e));
			ret = -PHV_ENOTFOUND;
		}
	}
	for (i = 0; read_data && i < m->nnodes; i++) {
		for (k = 0; k < m->nodes[i].next; k++) {
			struct mf_extent *x = &m->nodes[i].ext[k];

			if (x->pack == MF_HOLE)
				continue;
			e = repo_unwrap_key(r, m->packs[x->pack].key_id,
					    m->packs[x->pack].wrapped, dk);
			if (!e)
				e = check_blob(r, &m->packs[x->pack], dk, x);
			if (e) {
				fprintf(out, "damaged: %s at %llu: %s\n",
					m->nodes[i].path,
					(unsigned long long)x->off,
					phv_strerror(e));
				ret = -PHV_EAUTH;
			}
		}
	}
	secmem_free(dk, REPO_KEY_LEN);
	return ret;
}

static void tamper_line(const char *key, const char *what, void *arg)
{
	struct { FILE *out; unsigned long n; } *c = arg;

	if (c->n++ < 20)
		fprintf(c->out, "tampered: %s (%s since its locked version)\n",
			key, what);
}

/* Print the tampering verdict; 1 when some key was tampered with. */
static int check_tamper(struct repo *r, FILE *out, int *errp)
{
	struct { FILE *out; unsigned long n; } c = { out, 0 };
	struct maint_tamper t;
	uint64_t n;

	*errp = maint_tamper_scan(r, tamper_line, &c, &t);
	if (*errp)
		return 0;
	n = maint_tampered(&t);
	if (!n)
		return 0;
	if (c.n > 20)
		fprintf(out, "tampered: ... and %lu more\n", c.n - 20);
	fprintf(out, "repository tampering: %llu objects deleted or "
		"overwritten since their locked version; ",
		(unsigned long long)n);
	if (t.lost)
		fprintf(out, "%llu of them have no locked version left\n",
			(unsigned long long)t.lost);
	else
		fprintf(out, "the locked versions are intact\n");
	return 1;
}

int maint_check(struct repo *r, int read_data, FILE *out)
{
	struct repo_snap *s = NULL;
	char hex[2 * MF_ID_LEN + 1];
	size_t n, i;
	int ret, e, bad = 0;

	/* tampering first: an alarm must not wait for a long read */
	bad = check_tamper(r, out, &ret);
	if (ret)
		return ret;
	ret = repo_snaps_load(r, &s, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		repo_hex(s[i].id, hex);
		if (!s[i].loaded) {
			fprintf(out, "snapshot %.8s: unreadable: %s\n", hex,
				phv_strerror(s[i].err));
			bad = 1;
			continue;
		}
		e = check_snap(r, &s[i], read_data, out);
		fprintf(out, "snapshot %.8s: %s\n", hex, e ? "DAMAGED" : "ok");
		if (e)
			bad = 1;
	}
	repo_snaps_free(s, n);
	return bad ? -PHV_EAUTH : 0;
}
