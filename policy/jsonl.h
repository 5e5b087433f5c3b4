/* SPDX-License-Identifier: MIT */
/*
 * jsonl.h - the small JSON subset of the audit log: flat objects whose
 * values are strings, integers, true, false or null.
 *
 * struct jbuf builds one record's fields in a fixed buffer on the stack
 * (no allocation); a field that does not fit sets overflow and is left
 * out whole, so a record is always valid JSON.  jsonl_get() reads one
 * field back from a line for verify and report; it never trusts the
 * input and refuses anything outside the subset.
 */
#ifndef POLICY_JSONL_H
#define POLICY_JSONL_H

#include <stddef.h>

/*
 * Room for two PATH_MAX paths escaped at worst (\u00XX, 6 bytes a byte:
 * a rename) plus every other field, so that no name, however crafted,
 * can push a path out of its record.
 */
#define JBUF_MAX	65536

struct jbuf {
	size_t len;
	int overflow;
	char b[JBUF_MAX];	/* "k":v,"k":v without braces; NUL-ended */
};

void jbuf_init(struct jbuf *j);
/* Append "key":"val" (val escaped; NULL writes null). */
void jbuf_str(struct jbuf *j, const char *key, const char *val);
/* Append "key":v. */
void jbuf_int(struct jbuf *j, const char *key, long long v);
/* Append "key":true or false. */
void jbuf_bool(struct jbuf *j, const char *key, int v);

/*
 * Find key in the flat JSON object line[0..len) and copy its value to out
 * (strings unescaped, others as written; NUL-terminated, truncated to
 * size).  Returns 1 when found, 0 when absent, -EINVAL when the line is
 * not a flat object of the subset.
 */
int jsonl_get(const char *line, size_t len, const char *key, char *out,
	      size_t size);

/* Like jsonl_get for an integer field; 0 or -ENOENT/-EINVAL. */
int jsonl_get_ll(const char *line, size_t len, const char *key,
		 long long *vp);

#endif /* POLICY_JSONL_H */
