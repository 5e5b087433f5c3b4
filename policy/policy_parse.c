// SPDX-License-Identifier: MIT
/*
 * policy_parse.c - read the line-based policy format (docs/POLICY.md)
 * into a compiled struct policy.
 *
 * One pass over the lines collects sections, rules and assignments with
 * names as written; a second step resolves names (roles, windows, users,
 * groups) and sorts the member tables for binary search.  Every problem
 * is reported with its line through the caller's diag function and
 * parsing goes on, so one run lists all errors.  Nothing here logs.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/err.h"
#include "policy.h"

#define LINE_MAX_LEN	4096
#define MAX_TOKENS	16
/* Grants and break-glass windows longer than ten years are mistakes. */
#define POLICY_DURATION_MAX	(3650LL * 86400)

enum section {
	SEC_NONE, SEC_SETTINGS, SEC_WINDOWS, SEC_ROLE, SEC_USERS, SEC_GROUPS,
	SEC_BG, SEC_ALERTS, SEC_UNKNOWN,
};

/* an assignment or rule reference not yet resolved */
struct pending {
	int line;
	int is_group;
	char who[POLICY_NAME_MAX];
	char what[POLICY_NAME_MAX];	/* role or window name */
	int rule;			/* for window references */
};

struct parser {
	struct policy *pol;
	policy_diag_fn *diag;
	void *ctx;
	int errors;
	int line;
	enum section sec;
	int role;			/* current [role NAME] */
	struct pending *pend;
	int npend, cappend;
	int caproles, caprules, capwin, capusers, capgroups;
	int capbgu, capbgg;
	char bg_role[POLICY_NAME_MAX];
	int bg_line;
};

static const char *const op_names[] = {
	"list", "read", "write", "create", "delete", "admin",
};

static void report(struct parser *ps, enum policy_sev sev,
		   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(struct parser *ps, enum policy_sev sev,
		   const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (sev == POLICY_ERROR)
		ps->errors++;
	if (!ps->diag)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps->diag(ps->ctx, ps->line, sev, msg);
}

static int grow(void *pp, int *cap, int n, size_t size)
{
	void **p = pp;
	void *np;
	int ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	np = realloc(*p, (size_t)ncap * size);
	if (!np)
		return -ENOMEM;
	memset((char *)np + (size_t)*cap * size, 0,
	       (size_t)(ncap - *cap) * size);
	*p = np;
	*cap = ncap;
	return 0;
}

int policy_ops_parse(const char *s, unsigned int *opsp)
{
	char word[32];
	unsigned int ops = 0;
	size_t i, n;

	*opsp = 0;
	while (*s) {
		n = strcspn(s, ",");
		if (n == 0 || n >= sizeof(word))
			return -EINVAL;
		memcpy(word, s, n);
		word[n] = '\0';
		if (!strcmp(word, "all")) {
			ops |= POLICY_OPS_ALL;
		} else {
			for (i = 0; i < 6; i++)
				if (!strcmp(word, op_names[i]))
					break;
			if (i == 6)
				return -EINVAL;
			ops |= 1U << i;
		}
		s += n;
		if (*s == ',')
			s++;
	}
	if (!ops)
		return -EINVAL;
	*opsp = ops;
	return 0;
}

char *policy_ops_str(unsigned int ops, char *buf, size_t size)
{
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < 7; i++) {
		if (!(ops & (1U << i)))
			continue;
		n = snprintf(buf + used, size - used, "%s%s",
			     used ? "," : "", i < 6 ? op_names[i] : "traverse");
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += n;
	}
	return buf;
}

int policy_duration_parse(const char *s, long *secsp)
{
	int64_t secs;

	*secsp = 0;
	if (duration_parse(s, DURATION_ZERO_OK | DURATION_UP_TO_DAYS,
			   INT64_MAX, &secs) || secs > POLICY_DURATION_MAX)
		return -EINVAL;
	*secsp = (long)secs;
	return 0;
}

static int parse_size(const char *s, unsigned long long *vp)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'K': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	case 'T': v <<= 40; end++; break;
	default:
		return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	*vp = v;
	return 0;
}

/* split on blanks; "double quoted" tokens keep their blanks */
static int tokenize(char *s, char **tok, int max)
{
	int n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			return n;
		if (n == max)
			return -1;
		if (*s == '"') {
			tok[n++] = ++s;
			s = strchr(s, '"');
			if (!s)
				return -1;
		} else {
			tok[n++] = s;
			while (*s && *s != ' ' && *s != '\t')
				s++;
			if (!*s)
				return n;
		}
		*s++ = '\0';
	}
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= POLICY_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-@$", s[i]))
			return 0;
	return 1;
}

static int day_index(const char *s)
{
	static const char *const days[] = {
		"sun", "mon", "tue", "wed", "thu", "fri", "sat",
	};
	int i;

	for (i = 0; i < 7; i++)
		if (!strncmp(s, days[i], 3))
			return i;
	return -1;
}

/* "mon-fri", "sat,sun", "all", "mon-fri,sun" */
static int parse_days(const char *s, uint8_t *daysp)
{
	uint8_t days = 0;
	int a, b;

	if (!strcmp(s, "all") || !strcmp(s, "daily")) {
		*daysp = 0x7f;
		return 0;
	}
	while (*s) {
		a = day_index(s);
		if (a < 0)
			return -EINVAL;
		s += 3;
		b = a;
		if (*s == '-') {
			b = day_index(s + 1);
			if (b < 0)
				return -EINVAL;
			s += 4;
		}
		for (;;) {
			days |= 1U << a;
			if (a == b)
				break;
			a = (a + 1) % 7;
		}
		if (*s == ',')
			s++;
		else if (*s)
			return -EINVAL;
	}
	*daysp = days;
	return 0;
}

static int parse_hhmm(const char *s, uint16_t *mp)
{
	unsigned int h, m;
	int n = 0;

	if (sscanf(s, "%2u:%2u%n", &h, &m, &n) != 2 || n != 5 ||
	    h > 24 || m > 59 || (h == 24 && m))
		return -EINVAL;
	*mp = h * 60 + m;
	return 0;
}

static void parse_window(struct parser *ps, const char *name, char *val)
{
	struct policy *pol = ps->pol;
	struct policy_window *w;
	char *tok[MAX_TOKENS], *dash;
	int n;

	if (!valid_name(name)) {
		report(ps, POLICY_ERROR, "invalid window name '%s'", name);
		return;
	}
	n = tokenize(val, tok, MAX_TOKENS);
	if (n != 2) {
		report(ps, POLICY_ERROR, "window '%s': expected 'DAYS "
		       "HH:MM-HH:MM', e.g. 'mon-fri 08:00-18:00'", name);
		return;
	}
	if (grow(&pol->windows, &ps->capwin, pol->nwindows, sizeof(*w))) {
		ps->errors++;
		return;
	}
	w = &pol->windows[pol->nwindows];
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->line = ps->line;
	dash = strchr(tok[1], '-');
	if (parse_days(tok[0], &w->days)) {
		report(ps, POLICY_ERROR, "window '%s': bad days '%s' (use "
		       "mon..sun, ranges and commas, or 'all')", name, tok[0]);
		return;
	}
	if (!dash || (*dash = '\0', parse_hhmm(tok[1], &w->start)) ||
	    parse_hhmm(dash + 1, &w->end)) {
		report(ps, POLICY_ERROR, "window '%s': bad hours (use "
		       "HH:MM-HH:MM)", name);
		return;
	}
	if (w->start == w->end) {
		report(ps, POLICY_ERROR, "window '%s' is empty (start equals "
		       "end)", name);
		return;
	}
	pol->nwindows++;
}

static int add_pending(struct parser *ps, int is_group, const char *who,
		       const char *what, int rule)
{
	struct pending *p;

	if (grow(&ps->pend, &ps->cappend, ps->npend, sizeof(*p)))
		return -ENOMEM;
	p = &ps->pend[ps->npend++];
	p->line = ps->line;
	p->is_group = is_group;
	p->rule = rule;
	snprintf(p->who, sizeof(p->who), "%s", who);
	snprintf(p->what, sizeof(p->what), "%s", what);
	return 0;
}

static void parse_rule(struct parser *ps, char *s)
{
	struct policy *pol = ps->pol;
	struct policy_rule *r;
	char *tok[MAX_TOKENS];
	const char *err;
	int n;

	n = tokenize(s, tok, MAX_TOKENS);
	if (n != 3 && !(n == 5 && !strcmp(tok[3], "during"))) {
		report(ps, POLICY_ERROR, "expected 'allow|deny OPS PATTERN "
		       "[during WINDOW]'");
		return;
	}
	if (grow(&pol->rules, &ps->caprules, pol->nrules, sizeof(*r))) {
		ps->errors++;
		return;
	}
	r = &pol->rules[pol->nrules];
	memset(r, 0, sizeof(*r));
	r->deny = !strcmp(tok[0], "deny");
	r->role = ps->role;
	r->window = -1;
	r->line = ps->line;
	if (policy_ops_parse(tok[1], &r->ops)) {
		report(ps, POLICY_ERROR, "unknown operation in '%s' (use "
		       "list, read, write, create, delete, admin or all)",
		       tok[1]);
		return;
	}
	if (pglob_compile(&r->pat, tok[2], &err)) {
		report(ps, POLICY_ERROR, "bad pattern '%s': %s", tok[2], err);
		return;
	}
	if (n == 5 && add_pending(ps, 0, "", tok[4], pol->nrules)) {
		ps->errors++;
		return;
	}
	pol->nrules++;
}

static void parse_role_key(struct parser *ps, const char *key, char *val)
{
	struct policy_role *role = &ps->pol->roles[ps->role];

	if (!strcmp(key, "max-grant")) {
		if (policy_duration_parse(val, &role->max_grant))
			report(ps, POLICY_ERROR, "bad duration '%s' (e.g. "
			       "30m, 4h, 2d)", val);
		return;
	}
	report(ps, POLICY_ERROR, "unknown role setting '%s'", key);
}

static void add_id(struct parser *ps, uint32_t **arr, int *n, int *cap,
		   uint32_t id)
{
	if (grow(arr, cap, *n, sizeof(**arr))) {
		ps->errors++;
		return;
	}
	(*arr)[(*n)++] = id;
}

static int resolve_id(const char *name, int is_group, uint32_t *idp)
{
	char buf[16384], *end;
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (!*end && end != name && !errno && v < 0xffffffffUL) {
		*idp = v;
		return 0;
	}
	if (is_group) {
		if (getgrnam_r(name, &gr, buf, sizeof(buf), &grp) || !grp)
			return -ENOENT;
		*idp = grp->gr_gid;
	} else {
		if (getpwnam_r(name, &pw, buf, sizeof(buf), &pwp) || !pwp)
			return -ENOENT;
		*idp = pwp->pw_uid;
	}
	return 0;
}

static void parse_bg_key(struct parser *ps, const char *key, char *val)
{
	struct policy *pol = ps->pol;
	char *tok[MAX_TOKENS], *save = NULL, *w;
	int is_group = !strcmp(key, "groups");
	uint32_t id;

	(void)tok;
	if (!strcmp(key, "role")) {
		snprintf(ps->bg_role, sizeof(ps->bg_role), "%s", val);
		ps->bg_line = ps->line;
	} else if (!strcmp(key, "duration")) {
		if (policy_duration_parse(val, &pol->bg_duration) ||
		    !pol->bg_duration)
			report(ps, POLICY_ERROR, "bad duration '%s'", val);
	} else if (!strcmp(key, "users") || is_group) {
		for (w = strtok_r(val, ", \t", &save); w;
		     w = strtok_r(NULL, ", \t", &save)) {
			if (resolve_id(w, is_group, &id)) {
				report(ps, POLICY_WARNING, "unknown %s '%s'",
				       is_group ? "group" : "user", w);
				continue;
			}
			if (is_group)
				add_id(ps, &pol->bg_groups, &pol->nbg_groups,
				       &ps->capbgg, id);
			else
				add_id(ps, &pol->bg_users, &pol->nbg_users,
				       &ps->capbgu, id);
		}
	} else {
		report(ps, POLICY_ERROR, "unknown break-glass setting '%s'",
		       key);
	}
}

static void parse_alert_key(struct parser *ps, const char *key, char *val)
{
	struct policy_alerts *a = &ps->pol->alerts;
	unsigned long long v;
	long secs;

	if (!strcmp(key, "outside-window")) {
		a->outside_window = !strcmp(val, "yes") || !strcmp(val, "on");
		if (!a->outside_window && strcmp(val, "no") &&
		    strcmp(val, "off"))
			report(ps, POLICY_ERROR, "expected yes or no");
		return;
	}
	if (!strcmp(key, "hook-interval")) {
		if (policy_duration_parse(val, &secs))
			report(ps, POLICY_ERROR, "bad duration '%s'", val);
		a->hook_interval = secs;
		return;
	}
	if (parse_size(val, &v)) {
		report(ps, POLICY_ERROR, "bad number '%s'", val);
		return;
	}
	if (!strcmp(key, "opens-per-minute"))
		a->opens_per_min = v;
	else if (!strcmp(key, "bytes-per-minute"))
		a->bytes_per_min = v;
	else if (!strcmp(key, "denials-per-minute"))
		a->denials_per_min = v;
	else
		report(ps, POLICY_ERROR, "unknown alert setting '%s'", key);
}

static void parse_assign(struct parser *ps, const char *who, char *val)
{
	char *save = NULL, *w;

	for (w = strtok_r(val, ", \t", &save); w;
	     w = strtok_r(NULL, ", \t", &save))
		if (add_pending(ps, ps->sec == SEC_GROUPS, who, w, -1))
			ps->errors++;
}

static void parse_section(struct parser *ps, char *s)
{
	struct policy *pol = ps->pol;
	char *end = strchr(s, ']'), *name;
	struct policy_role *r;

	if (!end || *trim(end + 1)) {
		report(ps, POLICY_ERROR, "bad section header");
		ps->sec = SEC_UNKNOWN;
		return;
	}
	*end = '\0';
	s = trim(s + 1);
	ps->sec = SEC_UNKNOWN;
	if (!strncmp(s, "role", 4) && (s[4] == ' ' || s[4] == '\t')) {
		name = trim(s + 4);
		if (!valid_name(name)) {
			report(ps, POLICY_ERROR, "invalid role name '%s'",
			       name);
			return;
		}
		if (policy_role_find(pol, name) >= 0) {
			report(ps, POLICY_ERROR, "role '%s' defined twice",
			       name);
			return;
		}
		if (pol->nroles == POLICY_MAX_ROLES) {
			report(ps, POLICY_ERROR, "more than %d roles",
			       POLICY_MAX_ROLES);
			return;
		}
		if (grow(&pol->roles, &ps->caproles, pol->nroles,
			 sizeof(*r))) {
			ps->errors++;
			return;
		}
		r = &pol->roles[pol->nroles];
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->line = ps->line;
		ps->role = pol->nroles++;
		ps->sec = SEC_ROLE;
	} else if (!strcmp(s, "settings")) {
		ps->sec = SEC_SETTINGS;
	} else if (!strcmp(s, "windows")) {
		ps->sec = SEC_WINDOWS;
	} else if (!strcmp(s, "users")) {
		ps->sec = SEC_USERS;
	} else if (!strcmp(s, "groups")) {
		ps->sec = SEC_GROUPS;
	} else if (!strcmp(s, "break-glass")) {
		ps->sec = SEC_BG;
	} else if (!strcmp(s, "alerts")) {
		ps->sec = SEC_ALERTS;
	} else {
		report(ps, POLICY_ERROR, "unknown section [%s]", s);
	}
}

static void parse_line(struct parser *ps, char *s)
{
	char *eq, *key, *val;

	s = trim(s);
	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		parse_section(ps, s);
		return;
	}
	if (ps->sec == SEC_UNKNOWN)
		return;		/* already reported at the header */
	if (ps->sec == SEC_ROLE &&
	    ((!strncmp(s, "allow", 5) && isspace((unsigned char)s[5])) ||
	     (!strncmp(s, "deny", 4) && isspace((unsigned char)s[4])))) {
		parse_rule(ps, s);
		return;
	}
	eq = strchr(s, '=');
	if (!eq || ps->sec == SEC_NONE) {
		report(ps, POLICY_ERROR, ps->sec == SEC_NONE ?
		       "text before the first [section]" :
		       "expected 'key = value'");
		return;
	}
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	switch (ps->sec) {
	case SEC_SETTINGS:
		if (!strcmp(key, "timezone") && (!strcmp(val, "utc") ||
						 !strcmp(val, "UTC")))
			ps->pol->utc = 1;
		else if (!strcmp(key, "timezone") && !strcmp(val, "local"))
			ps->pol->utc = 0;
		else
			report(ps, POLICY_ERROR, "unknown setting '%s = %s' "
			       "(only 'timezone = utc|local')", key, val);
		break;
	case SEC_WINDOWS:
		parse_window(ps, key, val);
		break;
	case SEC_ROLE:
		parse_role_key(ps, key, val);
		break;
	case SEC_USERS:
	case SEC_GROUPS:
		parse_assign(ps, key, val);
		break;
	case SEC_BG:
		parse_bg_key(ps, key, val);
		break;
	case SEC_ALERTS:
		parse_alert_key(ps, key, val);
		break;
	default:
		break;
	}
}

static int window_find(const struct policy *pol, const char *name)
{
	int i;

	for (i = 0; i < pol->nwindows; i++)
		if (!strcmp(pol->windows[i].name, name))
			return i;
	return -1;
}

static void member_add(struct parser *ps, struct policy_member **arr,
		       int *n, int *cap, uint32_t id, int role)
{
	int i;

	for (i = 0; i < *n; i++) {
		if ((*arr)[i].id == id) {
			(*arr)[i].roles |= 1ULL << role;
			return;
		}
	}
	if (grow(arr, cap, *n, sizeof(**arr))) {
		ps->errors++;
		return;
	}
	(*arr)[*n].id = id;
	(*arr)[(*n)++].roles = 1ULL << role;
}

static void resolve_one(struct parser *ps, const struct pending *p)
{
	struct policy *pol = ps->pol;
	uint32_t id;
	int idx;

	ps->line = p->line;
	if (p->rule >= 0) {
		idx = window_find(pol, p->what);
		if (idx < 0)
			report(ps, POLICY_ERROR, "unknown window '%s'",
			       p->what);
		pol->rules[p->rule].window = idx;
		return;
	}
	idx = policy_role_find(pol, p->what);
	if (idx < 0) {
		report(ps, POLICY_ERROR, "unknown role '%s'", p->what);
		return;
	}
	if (resolve_id(p->who, p->is_group, &id)) {
		report(ps, POLICY_WARNING, "unknown %s '%s': this line grants "
		       "nothing", p->is_group ? "group" : "user", p->who);
		return;
	}
	if (p->is_group)
		member_add(ps, &pol->groups, &pol->ngroups, &ps->capgroups,
			   id, idx);
	else
		member_add(ps, &pol->users, &pol->nusers, &ps->capusers, id,
			   idx);
}

static int cmp_member(const void *a, const void *b)
{
	const struct policy_member *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* deny rules first, each group in source order */
static int cmp_rule(const void *a, const void *b)
{
	const struct policy_rule *x = a, *y = b;

	if (x->deny != y->deny)
		return y->deny - x->deny;
	return x->line - y->line;
}

static void resolve(struct parser *ps)
{
	struct policy *pol = ps->pol;
	int i;

	for (i = 0; i < ps->npend; i++)
		resolve_one(ps, &ps->pend[i]);
	ps->line = ps->bg_line;
	if (ps->bg_role[0]) {
		pol->bg_role = policy_role_find(pol, ps->bg_role);
		if (pol->bg_role < 0)
			report(ps, POLICY_ERROR, "unknown break-glass role "
			       "'%s'", ps->bg_role);
		else if (!pol->bg_duration)
			report(ps, POLICY_ERROR, "break-glass needs a "
			       "duration");
	}
	qsort(pol->rules, pol->nrules, sizeof(*pol->rules), cmp_rule);
	for (i = 0; i < pol->nrules && pol->rules[i].deny; i++)
		;
	pol->ndeny = i;
	qsort(pol->users, pol->nusers, sizeof(*pol->users), cmp_member);
	qsort(pol->groups, pol->ngroups, sizeof(*pol->groups), cmp_member);
	qsort(pol->bg_users, pol->nbg_users, sizeof(uint32_t), cmp_u32);
	qsort(pol->bg_groups, pol->nbg_groups, sizeof(uint32_t), cmp_u32);
}

int policy_parse(const char *buf, size_t len, policy_diag_fn *diag,
		 void *ctx, struct policy **polp)
{
	struct parser ps = { .diag = diag, .ctx = ctx, .role = -1 };
	char line[LINE_MAX_LEN];
	size_t i = 0, n;
	const char *nl;
	int r = -ENOMEM;

	*polp = NULL;
	ps.pol = calloc(1, sizeof(*ps.pol));
	if (!ps.pol)
		goto out;
	ps.pol->utc = 1;
	ps.pol->bg_role = -1;
	ps.pol->alerts.hook_interval = 300;
	while (i < len) {
		nl = memchr(buf + i, '\n', len - i);
		n = nl ? (size_t)(nl - (buf + i)) : len - i;
		ps.line++;
		if (n >= sizeof(line) || memchr(buf + i, '\0', n)) {
			report(&ps, POLICY_ERROR, "line too long or binary");
		} else {
			memcpy(line, buf + i, n);
			line[n] = '\0';
			parse_line(&ps, line);
		}
		i += n + 1;
	}
	resolve(&ps);
	r = ps.errors ? -PHV_ECONFIG : 0;
	if (r == 0) {
		*polp = ps.pol;
		ps.pol = NULL;
	}
out:
	free(ps.pend);
	policy_free(ps.pol);
	return r;
}

void policy_free(struct policy *pol)
{
	if (!pol)
		return;
	free(pol->roles);
	free(pol->rules);
	free(pol->windows);
	free(pol->users);
	free(pol->groups);
	free(pol->bg_users);
	free(pol->bg_groups);
	free(pol);
}

int policy_role_find(const struct policy *pol, const char *name)
{
	int i;

	for (i = 0; i < pol->nroles; i++)
		if (!strcmp(pol->roles[i].name, name))
			return i;
	return -1;
}

int policy_caller_lookup(const char *user, struct policy_caller *c,
			 gid_t *groups, int maxgroups)
{
	char buf[16384], *end;
	struct passwd pw, *pwp = NULL;
	unsigned long v;
	int n = maxgroups;

	memset(c, 0, sizeof(*c));
	errno = 0;
	v = strtoul(user, &end, 10);
	if (!*end && end != user && !errno) {
		if (getpwuid_r(v, &pw, buf, sizeof(buf), &pwp) || !pwp) {
			c->uid = v;
			c->gid = (gid_t)-1;
			return 0;
		}
	} else if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) || !pwp) {
		return -ENOENT;
	}
	c->uid = pwp->pw_uid;
	c->gid = pwp->pw_gid;
	if (getgrouplist(pwp->pw_name, pwp->pw_gid, groups, &n) < 0)
		n = maxgroups;
	c->groups = groups;
	c->ngroups = n;
	return 0;
}
