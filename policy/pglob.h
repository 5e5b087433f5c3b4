/* SPDX-License-Identifier: MIT */
/*
 * pglob.h - precompiled path patterns for the access policy.
 *
 * A pattern is an absolute path whose components may be globs: '*' and
 * '?' match within one component (never '/'), and a component that is
 * exactly "**" matches zero or more whole components, so "/a" followed
 * by a final "**" component matches "/a" itself and everything below.  Patterns are compiled
 * once, when the policy is loaded; matching allocates nothing, takes no
 * lock and runs in time bounded by the pattern and path lengths (with a
 * fixed cap on backtracking through "**").
 */
#ifndef POLICY_PGLOB_H
#define POLICY_PGLOB_H

#include <stddef.h>

/* Longest pattern and deepest path the matcher accepts. */
#define PGLOB_MAX_LEN	1024
#define PGLOB_MAX_SEGS	64

enum pglob_seg_kind {
	PGLOB_LIT,	/* plain text, compared with memcmp */
	PGLOB_ANY,	/* "*": any one non-empty component */
	PGLOB_GLOB,	/* component with '*' or '?' inside */
	PGLOB_DSTAR,	/* "**": zero or more components */
};

struct pglob_seg {
	enum pglob_seg_kind kind;
	unsigned short off;	/* offset of the text in pglob.text */
	unsigned short len;
};

struct pglob {
	char text[PGLOB_MAX_LEN];	/* the pattern, as written */
	struct pglob_seg segs[PGLOB_MAX_SEGS];
	int nsegs;
};

/*
 * Compile pat into *g.  Returns 0, or -EINVAL (with *errp set to a static
 * explanation) when pat is not absolute, too long, too deep, or has an
 * empty, "." or ".." component.  "/" alone is the root and matches "/".
 */
int pglob_compile(struct pglob *g, const char *pat, const char **errp);

/* 1 when the absolute, normalised path matches g exactly, else 0. */
int pglob_match(const struct pglob *g, const char *path);

/*
 * 1 when some path strictly below path could match g: that is, path is a
 * proper ancestor of a potential match.  Used to let a caller traverse
 * (look up) the directories that lead to what it may use.
 */
int pglob_match_ancestor(const struct pglob *g, const char *path);

/* 1 when g is matched by every path its text matches (no wildcards). */
int pglob_is_literal(const struct pglob *g);

#endif /* POLICY_PGLOB_H */
