/* SPDX-License-Identifier: MIT */
/*
 * policy.h - phivault's access policy: parse, lint, decide, explain.
 *
 * A policy (format: docs/POLICY.md) assigns users and groups to roles and
 * gives each role allow and deny rules: a set of operations on a path
 * pattern, optionally limited to a time window.  Deny by default: a
 * caller that no allow rule covers is refused, uid 0 included.  A deny
 * rule that matches beats every allow rule.  Grants (grant.h) add a role
 * for one user below one path for a bounded time.
 *
 * A struct policy is immutable once compiled, so any number of threads
 * may call policy_decide() on it at once without locking.  Swapping the
 * live policy without blocking readers is guard.h's job, not this file's.
 * policy_decide() allocates nothing: users and groups are resolved to ids
 * and patterns compiled when the policy is loaded.
 */
#ifndef POLICY_POLICY_H
#define POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pglob.h"

/* Operations, as a bit set: a decision needs every bit it asks for. */
enum policy_op {
	POLICY_LIST = 1U << 0,		/* readdir; lookup of what lies below */
	POLICY_READ = 1U << 1,		/* open for reading, getxattr, readlink */
	POLICY_WRITE = 1U << 2,		/* open for writing, truncate, setxattr */
	POLICY_CREATE = 1U << 3,	/* create, mkdir, mknod, symlink, link */
	POLICY_DELETE = 1U << 4,	/* unlink, rmdir, rename away */
	POLICY_ADMIN = 1U << 5,		/* chmod/chown; grant and revoke */
	/*
	 * Lookup and getattr: allowed when any operation is allowed on the
	 * path itself or when some rule could allow something below it, so
	 * a caller can walk to what it may use and sees nothing else.
	 */
	POLICY_TRAVERSE = 1U << 6,
};

#define POLICY_OPS_ALL	0x3fU	/* the six operations a rule can name */

#define POLICY_MAX_ROLES	64	/* role sets are uint64_t masks */
#define POLICY_NAME_MAX		64

/* Who asks, as the kernel reported it (FUSE request or SO_PEERCRED). */
struct policy_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const gid_t *groups;	/* supplementary groups; may be NULL */
	int ngroups;
};

/* A time window: days of the week and a span of minutes within a day. */
struct policy_window {
	char name[POLICY_NAME_MAX];
	uint8_t days;		/* bit 0 Sunday .. bit 6 Saturday */
	uint16_t start;		/* minutes after midnight */
	uint16_t end;		/* start > end: wraps past midnight */
	int line;
};

struct policy_rule {
	int deny;		/* 1 for a deny rule */
	unsigned int ops;	/* enum policy_op bits */
	int role;		/* index into policy.roles */
	int window;		/* index into policy.windows, or -1 */
	int line;		/* in the source, for explain and lint */
	struct pglob pat;
};

struct policy_role {
	char name[POLICY_NAME_MAX];
	long max_grant;		/* seconds; 0: not grantable */
	int line;
};

/* One user or group and the roles it holds. */
struct policy_member {
	uint32_t id;		/* uid or gid */
	uint64_t roles;		/* bit i: policy.roles[i] */
};

/* Alert thresholds (per user, per rolling minute); 0 disables one. */
struct policy_alerts {
	unsigned int opens_per_min;
	unsigned long long bytes_per_min;
	unsigned int denials_per_min;
	int outside_window;	/* alert on a denial caused by a window */
	long hook_interval;	/* seconds between hook runs per kind+user */
};

struct policy {
	int utc;			/* 1: windows in UTC, 0: local time */
	struct policy_role *roles;
	int nroles;
	struct policy_rule *rules;	/* deny rules first, then allows */
	int nrules;
	int ndeny;
	struct policy_window *windows;
	int nwindows;
	struct policy_member *users;	/* sorted by id */
	int nusers;
	struct policy_member *groups;	/* sorted by id */
	int ngroups;
	int bg_role;			/* break-glass role, or -1 */
	long bg_duration;		/* seconds */
	uint32_t *bg_users;		/* eligible uids, sorted */
	int nbg_users;
	uint32_t *bg_groups;		/* eligible gids, sorted */
	int nbg_groups;
	struct policy_alerts alerts;
};

/* Severity of a diagnostic reported while parsing or linting. */
enum policy_sev { POLICY_ERROR, POLICY_WARNING };

/*
 * Receives each diagnostic: line is 1-based (0 for the whole file), msg
 * is a sentence without the file name.  May be NULL to discard them.
 */
typedef void policy_diag_fn(void *ctx, int line, enum policy_sev sev,
			    const char *msg);

/*
 * Parse and compile the policy text buf (len bytes, need not be NUL
 * terminated).  Users and groups are resolved with getpwnam/getgrnam;
 * a name that does not resolve is reported as a warning and ignored
 * (it grants nothing).  On success *polp owns a new policy (free it with
 * policy_free) and 0 is returned; on any error -PHV_ECONFIG is returned
 * after every problem was reported, and *polp is NULL.  -ENOMEM too.
 */
int policy_parse(const char *buf, size_t len, policy_diag_fn *diag,
		 void *ctx, struct policy **polp);

/* Free a policy; NULL-safe. */
void policy_free(struct policy *pol);

/*
 * Lint a parsed policy: rules covered by an earlier rule or cancelled by
 * a deny rule, roles that are empty or held by no one, windows never
 * used.  Reports warnings through diag; returns their count.
 */
int policy_lint(const struct policy *pol, policy_diag_fn *diag, void *ctx);

/* Index of the role named name, or -1. */
int policy_role_find(const struct policy *pol, const char *name);

/* Roles (bit mask) that caller holds through the policy's assignments. */
uint64_t policy_caller_roles(const struct policy *pol,
			     const struct policy_caller *caller);

/*
 * Fill *c for user (a name or a numeric uid) from the user database:
 * uid, primary gid and up to maxgroups supplementary groups stored in
 * groups (which c->groups then points at); pid is 0.  For explain and the
 * CLI; the mount takes identities from the kernel instead.  Returns 0 or
 * -ENOENT.
 */
int policy_caller_lookup(const char *user, struct policy_caller *c,
			 gid_t *groups, int maxgroups);

/* 1 when caller may use break-glass under this policy. */
int policy_bg_eligible(const struct policy *pol,
		       const struct policy_caller *caller);

/* One extra role held below one path until a time: a grant, resolved. */
struct policy_grant_ref {
	uint32_t uid;
	int role;		/* index into policy.roles; -1: role gone */
	time_t expires;		/* exclusive */
	const char *path;	/* absolute, normalised; "/" is everything */
	size_t pathlen;
	const void *cookie;	/* the grant it came from (grant.h) */
	int break_glass;	/* a break-glass session: lifts the deny
				 * rules of the holder's other roles */
};

enum policy_why {
	POLICY_WHY_RULE,	/* allowed by rule(s) through role membership */
	POLICY_WHY_GRANT,	/* allowed with help of a grant */
	POLICY_WHY_DENY_RULE,	/* a deny rule matched */
	POLICY_WHY_WINDOW,	/* a rule matched but its window is closed */
	POLICY_WHY_NO_RULE,	/* nothing allows it: default deny */
};

struct policy_decision {
	int allowed;
	enum policy_why why;
	unsigned int need;	/* what was asked */
	unsigned int granted;	/* what the matching allow rules give */
	int rule;		/* deciding rule (index), or -1 */
	uint64_t roles;		/* roles in effect on this path */
	const struct policy_grant_ref *grant;	/* grant that helped, or NULL */
};

/*
 * Is path what decisions are made on: absolute, with no empty, "." or
 * ".." component (one trailing slash is allowed)?  0, or -EINVAL.  The
 * mount builds such paths itself; whatever a person types (explain,
 * grant) is checked with this first, since "/a/../b" would be decided
 * as written, not as the kernel would resolve it.
 */
int policy_path_valid(const char *path);

/*
 * Decide whether caller may perform need (enum policy_op bits) on path
 * (absolute, normalised plaintext path) at time now.  grants[0..ngrants)
 * are live grants (expired ones are ignored here).  Fills *d and returns
 * 0 when allowed, -PHV_EDENIED when not.  Lock-free, allocation-free;
 * pointers in *d stay valid as long as pol and grants do.
 */
int policy_decide(const struct policy *pol,
		  const struct policy_grant_ref *grants, int ngrants,
		  const struct policy_caller *caller, const char *path,
		  unsigned int need, time_t now, struct policy_decision *d);

/*
 * Write a person-readable account of *d into buf (NUL-terminated,
 * truncated to size): the deciding rule with its line, or why nothing
 * allowed the request.  Returns buf.
 */
char *policy_explain(const struct policy *pol,
		     const struct policy_decision *d, char *buf, size_t size);

/* "read,write" for a bit set, into buf; returns buf. */
char *policy_ops_str(unsigned int ops, char *buf, size_t size);

/* Parse "read,write,list" (or "all") into *opsp; 0 or -EINVAL. */
int policy_ops_parse(const char *s, unsigned int *opsp);

/*
 * Parse a duration "90s", "15m", "4h", "2d" (a bare number is seconds,
 * 0 is allowed, at most 3650 days) into *secsp; 0, or -EINVAL with
 * *secsp set to 0.
 */
int policy_duration_parse(const char *s, long *secsp);

#endif /* POLICY_POLICY_H */
