// SPDX-License-Identifier: MIT
/*
 * policy_glob.c - compile and match policy path patterns (pglob.h).
 *
 * The path is split into components on the stack, then matched against
 * the compiled components recursively; only "**" branches.  A step budget
 * bounds the work for pathological patterns with many "**" components:
 * when it runs out the answer is "no match", which fails closed.
 */
#include <errno.h>
#include <string.h>

#include "pglob.h"

#define PGLOB_BUDGET	20000

struct pglob_path {
	const char *p;
	unsigned short off[PGLOB_MAX_SEGS];
	unsigned short len[PGLOB_MAX_SEGS];
	int n;
};

static int has_wild(const char *s, size_t n)
{
	return memchr(s, '*', n) || memchr(s, '?', n);
}

int pglob_compile(struct pglob *g, const char *pat, const char **errp)
{
	size_t n = strlen(pat), i = 1, start;
	struct pglob_seg *s;

	*errp = NULL;
	memset(g, 0, sizeof(*g));
	if (pat[0] != '/') {
		*errp = "pattern must start with '/'";
		return -EINVAL;
	}
	if (n >= PGLOB_MAX_LEN) {
		*errp = "pattern too long";
		return -EINVAL;
	}
	memcpy(g->text, pat, n + 1);
	while (i < n) {
		start = i;
		while (i < n && pat[i] != '/')
			i++;
		if (g->nsegs == PGLOB_MAX_SEGS) {
			*errp = "pattern has too many components";
			return -EINVAL;
		}
		s = &g->segs[g->nsegs++];
		s->off = start;
		s->len = i - start;
		if (s->len == 0 || (s->len == 1 && pat[start] == '.') ||
		    (s->len == 2 && !memcmp(pat + start, "..", 2))) {
			*errp = "empty, '.' or '..' component in pattern";
			return -EINVAL;
		}
		if (s->len == 2 && !memcmp(pat + start, "**", 2))
			s->kind = PGLOB_DSTAR;
		else if (s->len == 1 && pat[start] == '*')
			s->kind = PGLOB_ANY;
		else if (has_wild(pat + start, s->len))
			s->kind = PGLOB_GLOB;
		else
			s->kind = PGLOB_LIT;
		i++;
	}
	return 0;
}

static int split_path(struct pglob_path *pp, const char *path)
{
	size_t i = 1, start;

	pp->p = path;
	pp->n = 0;
	if (path[0] != '/')
		return -EINVAL;
	while (path[i]) {
		start = i;
		while (path[i] && path[i] != '/')
			i++;
		if (i == start || pp->n == PGLOB_MAX_SEGS || i > 0xffff)
			return -EINVAL;
		pp->off[pp->n] = start;
		pp->len[pp->n++] = i - start;
		if (path[i])
			i++;
	}
	return 0;
}

/* '*' and '?' within one component; iterative with one backtrack point */
static int comp_glob(const char *pat, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;

	while (si < sn) {
		if (pi < pn && (pat[pi] == '?' || pat[pi] == s[si])) {
			pi++;
			si++;
		} else if (pi < pn && pat[pi] == '*') {
			star_p = pi++;
			star_s = si;
		} else if (star_p != (size_t)-1) {
			pi = star_p + 1;
			si = ++star_s;
		} else {
			return 0;
		}
	}
	while (pi < pn && pat[pi] == '*')
		pi++;
	return pi == pn;
}

static int comp_match(const struct pglob *g, const struct pglob_seg *seg,
		      const struct pglob_path *pp, int j)
{
	const char *c = pp->p + pp->off[j];
	size_t cn = pp->len[j];

	switch (seg->kind) {
	case PGLOB_LIT:
		return cn == seg->len && !memcmp(c, g->text + seg->off, cn);
	case PGLOB_ANY:
		return 1;
	case PGLOB_GLOB:
		return comp_glob(g->text + seg->off, seg->len, c, cn);
	default:
		return 0;
	}
}

static int match_from(const struct pglob *g, int si,
		      const struct pglob_path *pp, int cj, int ancestor,
		      int *budget)
{
	int k;

	for (;;) {
		if (--*budget <= 0)
			return 0;
		if (cj == pp->n) {
			if (ancestor)
				return si < g->nsegs;
			for (k = si; k < g->nsegs; k++)
				if (g->segs[k].kind != PGLOB_DSTAR)
					return 0;
			return 1;
		}
		if (si == g->nsegs)
			return 0;
		if (g->segs[si].kind == PGLOB_DSTAR) {
			/* "**" eats nothing here, or one more component */
			if (match_from(g, si + 1, pp, cj, ancestor, budget))
				return 1;
			cj++;
			continue;
		}
		if (!comp_match(g, &g->segs[si], pp, cj))
			return 0;
		si++;
		cj++;
	}
}

int pglob_match(const struct pglob *g, const char *path)
{
	struct pglob_path pp;
	int budget = PGLOB_BUDGET;

	if (split_path(&pp, path))
		return 0;
	return match_from(g, 0, &pp, 0, 0, &budget);
}

int pglob_match_ancestor(const struct pglob *g, const char *path)
{
	struct pglob_path pp;
	int budget = PGLOB_BUDGET;

	if (split_path(&pp, path))
		return 0;
	return match_from(g, 0, &pp, 0, 1, &budget);
}

int pglob_is_literal(const struct pglob *g)
{
	int i;

	for (i = 0; i < g->nsegs; i++)
		if (g->segs[i].kind != PGLOB_LIT)
			return 0;
	return 1;
}
