// SPDX-License-Identifier: MIT
/*
 * policy_decide.c - the access decision, its explanation, and the lint
 * checks that need a compiled policy.
 *
 * policy_decide() is on every FUSE request's path: it allocates nothing,
 * takes no lock and computes the local time only when a rule with a
 * window is reached.  Order: deny rules of the caller's roles, then allow
 * rules in source order until every asked-for bit is covered.  During a
 * break-glass session only the break-glass role's own deny rules count:
 * an emergency is what carve-outs such as a VIP deny must give way to,
 * and every access in the window is recorded at alert level for review.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "policy.h"

struct clk {
	time_t now;
	int utc;
	int have;
	int wday;
	int min;
};

static int window_open(const struct policy *pol, int w, struct clk *c)
{
	const struct policy_window *win;
	struct tm tm;

	if (w < 0)
		return 1;
	if (!c->have) {
		if (c->utc)
			gmtime_r(&c->now, &tm);
		else
			localtime_r(&c->now, &tm);
		c->wday = tm.tm_wday;
		c->min = tm.tm_hour * 60 + tm.tm_min;
		c->have = 1;
	}
	win = &pol->windows[w];
	if (win->start < win->end)
		return (win->days & (1U << c->wday)) && c->min >= win->start &&
		       c->min < win->end;
	/* wraps past midnight: the early part belongs to the day before */
	if (c->min >= win->start)
		return !!(win->days & (1U << c->wday));
	if (c->min < win->end)
		return !!(win->days & (1U << ((c->wday + 6) % 7)));
	return 0;
}

static uint64_t member_roles(const struct policy_member *m, int n,
			     uint32_t id)
{
	int lo = 0, hi = n - 1, mid;

	while (lo <= hi) {
		mid = lo + (hi - lo) / 2;
		if (m[mid].id == id)
			return m[mid].roles;
		if (m[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

static int id_find(const uint32_t *v, int n, uint32_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i] == id)
			return 1;
	return 0;
}

uint64_t policy_caller_roles(const struct policy *pol,
			     const struct policy_caller *caller)
{
	uint64_t roles;
	int i;

	roles = member_roles(pol->users, pol->nusers, caller->uid);
	if (!pol->ngroups)
		return roles;
	roles |= member_roles(pol->groups, pol->ngroups, caller->gid);
	for (i = 0; i < caller->ngroups; i++)
		roles |= member_roles(pol->groups, pol->ngroups,
				      caller->groups[i]);
	return roles;
}

int policy_bg_eligible(const struct policy *pol,
		       const struct policy_caller *caller)
{
	int i;

	if (pol->bg_role < 0)
		return 0;
	if (id_find(pol->bg_users, pol->nbg_users, caller->uid) ||
	    id_find(pol->bg_groups, pol->nbg_groups, caller->gid))
		return 1;
	for (i = 0; i < caller->ngroups; i++)
		if (id_find(pol->bg_groups, pol->nbg_groups,
			    caller->groups[i]))
			return 1;
	return 0;
}

/* 1: grant covers path; 2: path leads to the grant's path; 0: neither */
static int grant_covers(const struct policy_grant_ref *g, const char *path,
			size_t plen)
{
	if (g->pathlen == 1 && g->path[0] == '/')
		return 1;
	if (plen >= g->pathlen && !memcmp(path, g->path, g->pathlen) &&
	    (path[g->pathlen] == '\0' || path[g->pathlen] == '/'))
		return 1;
	if (plen == 1 && path[0] == '/')
		return 2;
	if (plen < g->pathlen && !memcmp(path, g->path, plen) &&
	    g->path[plen] == '/')
		return 2;
	return 0;
}

static const struct policy_grant_ref *
grant_for(const struct policy_grant_ref *grants, int ngrants, uint32_t uid,
	  int role, const char *path, size_t plen, time_t now)
{
	int i;

	for (i = 0; i < ngrants; i++)
		if (grants[i].uid == uid && grants[i].role == role &&
		    now < grants[i].expires &&
		    grant_covers(&grants[i], path, plen) == 1)
			return &grants[i];
	return NULL;
}

static int deny_matches(const struct policy *pol, uint64_t roles,
			const char *path, unsigned int need, struct clk *c)
{
	const struct policy_rule *r;
	unsigned int dneed = need & POLICY_OPS_ALL;
	int i;

	if (need & POLICY_TRAVERSE)
		dneed |= POLICY_LIST;
	for (i = 0; i < pol->ndeny; i++) {
		r = &pol->rules[i];
		if (!(roles & (1ULL << r->role)) || !(r->ops & dneed))
			continue;
		if (pglob_match(&r->pat, path) && window_open(pol, r->window,
							      c))
			return i;
	}
	return -1;
}

int policy_path_valid(const char *path)
{
	const char *p = path, *e;
	size_t n;

	if (*p != '/')
		return -EINVAL;
	while (*p == '/' && p[1]) {
		p++;
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 && !(e && !e[1]))
			return -EINVAL;		/* "//" */
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		p += n;
	}
	return 0;
}

int policy_decide(const struct policy *pol,
		  const struct policy_grant_ref *grants, int ngrants,
		  const struct policy_caller *caller, const char *path,
		  unsigned int need, time_t now, struct policy_decision *d)
{
	struct clk c = { .now = now, .utc = pol->utc };
	const struct policy_rule *r;
	const struct policy_grant_ref *bg = NULL;
	uint64_t member, roles, deny_roles;
	unsigned int want, give;
	size_t plen = strlen(path);
	int i, window_rule = -1, cov, lifted = 0;

	memset(d, 0, sizeof(*d));
	d->need = need;
	d->rule = -1;
	member = policy_caller_roles(pol, caller);
	roles = member;
	for (i = 0; i < ngrants; i++) {
		if (grants[i].uid != caller->uid || grants[i].role < 0 ||
		    now >= grants[i].expires)
			continue;
		cov = grant_covers(&grants[i], path, plen);
		if (cov == 1) {
			roles |= 1ULL << grants[i].role;
			if (grants[i].break_glass && !bg)
				bg = &grants[i];
		} else if (cov == 2 && (need & POLICY_TRAVERSE)) {
			d->granted |= POLICY_TRAVERSE;
			d->grant = &grants[i];
		}
	}
	d->roles = roles;

	deny_roles = bg ? 1ULL << bg->role : roles;
	if (bg && deny_matches(pol, roles, path, need, &c) >= 0)
		lifted = 1;	/* denied but for break-glass */
	i = deny_matches(pol, deny_roles, path, need, &c);
	if (i >= 0) {
		d->granted = 0;
		d->grant = NULL;
		d->rule = i;
		d->why = POLICY_WHY_DENY_RULE;
		return -PHV_EDENIED;
	}

	for (i = pol->ndeny; i < pol->nrules; i++) {
		r = &pol->rules[i];
		want = need & ~d->granted;
		if (!want)
			break;
		if (!(roles & (1ULL << r->role)))
			continue;
		if (!(r->ops & want) && !(want & POLICY_TRAVERSE))
			continue;
		if (pglob_match(&r->pat, path))
			give = (r->ops & want) | (want & POLICY_TRAVERSE);
		else if ((want & POLICY_TRAVERSE) &&
			 pglob_match_ancestor(&r->pat, path))
			give = POLICY_TRAVERSE;
		else
			continue;
		if (!window_open(pol, r->window, &c)) {
			window_rule = i;
			continue;
		}
		d->granted |= give;
		d->rule = i;
		if (!(member & (1ULL << r->role)) && !d->grant)
			d->grant = grant_for(grants, ngrants, caller->uid,
					     r->role, path, plen, now);
	}

	if ((d->granted & need) == need && need) {
		if (lifted)
			d->grant = bg;	/* the records must say why */
		d->allowed = 1;
		d->why = d->grant ? POLICY_WHY_GRANT : POLICY_WHY_RULE;
		return 0;
	}
	d->grant = NULL;
	if (window_rule >= 0) {
		d->why = POLICY_WHY_WINDOW;
		d->rule = window_rule;
	} else {
		d->why = POLICY_WHY_NO_RULE;
		d->rule = -1;
	}
	return -PHV_EDENIED;
}

static void rule_text(const struct policy *pol, int i, char *buf,
		      size_t size)
{
	const struct policy_rule *r = &pol->rules[i];
	char ops[80];

	snprintf(buf, size, "line %d, role '%s': %s %s %s%s%s", r->line,
		 pol->roles[r->role].name, r->deny ? "deny" : "allow",
		 policy_ops_str(r->ops, ops, sizeof(ops)), r->pat.text,
		 r->window >= 0 ? " during " : "",
		 r->window >= 0 ? pol->windows[r->window].name : "");
}

static void roles_text(const struct policy *pol, uint64_t roles, char *buf,
		       size_t size)
{
	size_t used = 0;
	int i, n;

	snprintf(buf, size, "none");
	for (i = 0; i < pol->nroles; i++) {
		if (!(roles & (1ULL << i)))
			continue;
		n = snprintf(buf + used, size - used, "%s%s",
			     used ? ", " : "", pol->roles[i].name);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += n;
	}
}

char *policy_explain(const struct policy *pol,
		     const struct policy_decision *d, char *buf, size_t size)
{
	char rule[PGLOB_MAX_LEN + 200], roles[512], ops[80];

	roles_text(pol, d->roles, roles, sizeof(roles));
	policy_ops_str(d->need, ops, sizeof(ops));
	if (d->rule >= 0)
		rule_text(pol, d->rule, rule, sizeof(rule));
	switch (d->why) {
	case POLICY_WHY_RULE:
	case POLICY_WHY_GRANT:
		snprintf(buf, size, "allowed (%s): %s%s; roles in effect: %s",
			 ops, d->rule >= 0 ? rule : "path leads to a grant",
			 d->why != POLICY_WHY_GRANT ? "" :
			 d->grant && d->grant->break_glass ?
			 "; through break-glass, which lifts the deny rules "
			 "of the caller's other roles" : "; through a grant",
			 roles);
		break;
	case POLICY_WHY_DENY_RULE:
		snprintf(buf, size, "denied (%s): deny rule at %s; deny "
			 "rules beat every allow rule", ops, rule);
		break;
	case POLICY_WHY_WINDOW:
		snprintf(buf, size, "denied (%s): %s would allow it, but its "
			 "time window is closed now (%s time)", ops, rule,
			 pol->utc ? "UTC" : "local");
		break;
	default:
		snprintf(buf, size, "denied (%s) by default: no allow rule "
			 "of the caller's roles covers this path; roles in "
			 "effect: %s", ops, roles);
		break;
	}
	return buf;
}

static void lint_report(policy_diag_fn *diag, void *ctx, int line,
			int *count, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void lint_report(policy_diag_fn *diag, void *ctx, int line,
			int *count, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	(*count)++;
	if (!diag)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag(ctx, line, POLICY_WARNING, msg);
}

/* a covers b: same role, a's ops include b's, a's pattern matches b's */
static int covers(const struct policy_rule *a, const struct policy_rule *b)
{
	return a->role == b->role && (a->ops & b->ops) == b->ops &&
	       (a->window < 0 || a->window == b->window) &&
	       pglob_match(&a->pat, b->pat.text);
}

static int role_held(const struct policy *pol, int role)
{
	uint64_t bit = 1ULL << role;
	int i;

	if (pol->bg_role == role || pol->roles[role].max_grant)
		return 1;
	for (i = 0; i < pol->nusers; i++)
		if (pol->users[i].roles & bit)
			return 1;
	for (i = 0; i < pol->ngroups; i++)
		if (pol->groups[i].roles & bit)
			return 1;
	return 0;
}

static void lint_roles(const struct policy *pol, policy_diag_fn *diag,
		       void *ctx, int *n)
{
	int i, j, allows;

	for (i = 0; i < pol->nroles; i++) {
		allows = 0;
		for (j = pol->ndeny; j < pol->nrules; j++)
			allows += pol->rules[j].role == i;
		if (!allows)
			lint_report(diag, ctx, pol->roles[i].line, n,
				    "role '%s' grants nothing: it has no "
				    "allow rule", pol->roles[i].name);
		if (!role_held(pol, i))
			lint_report(diag, ctx, pol->roles[i].line, n,
				    "role '%s' is held by no one and cannot "
				    "be granted (no max-grant): its rules "
				    "are dead", pol->roles[i].name);
	}
	for (i = 0; i < pol->nwindows; i++) {
		for (j = 0; j < pol->nrules; j++)
			if (pol->rules[j].window == i)
				break;
		if (j == pol->nrules)
			lint_report(diag, ctx, pol->windows[i].line, n,
				    "window '%s' is not used by any rule",
				    pol->windows[i].name);
	}
}

int policy_lint(const struct policy *pol, policy_diag_fn *diag, void *ctx)
{
	const struct policy_rule *a, *b;
	int i, j, n = 0;

	for (i = pol->ndeny; i < pol->nrules; i++) {
		b = &pol->rules[i];
		for (j = 0; j < pol->nrules; j++) {
			a = &pol->rules[j];
			if (j == i || (!a->deny && a->line > b->line))
				continue;
			if (!covers(a, b))
				continue;
			if (a->deny)
				lint_report(diag, ctx, b->line, &n,
					    "dead rule: the deny rule at line "
					    "%d cancels all of it", a->line);
			else
				lint_report(diag, ctx, b->line, &n,
					    "overlapping rule: the rule at "
					    "line %d already allows all of "
					    "it", a->line);
			break;
		}
	}
	lint_roles(pol, diag, ctx, &n);
	return n;
}
