// SPDX-License-Identifier: MIT
/*
 * jsonl.c - build and read the flat JSON records of the audit log.
 *
 * Strings are escaped so that a record is always one line: control
 * characters become \u00XX, and bytes >= 0x80 are passed through (paths
 * are byte strings; a reader sees them as UTF-8 when they are).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

void jbuf_init(struct jbuf *j)
{
	j->len = 0;
	j->overflow = 0;
	j->b[0] = '\0';
}

static int put(struct jbuf *j, size_t *pos, const char *s, size_t n)
{
	if (*pos + n + 1 > sizeof(j->b))
		return -1;
	memcpy(j->b + *pos, s, n);
	*pos += n;
	return 0;
}

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * JSON string body of s.  Control characters, and bytes that are not
 * part of well-formed UTF-8 (a file name or process name can hold any),
 * become \u00XX, so every line stays valid JSON; jsonl_get() turns
 * \u00XX back into the byte XX, so our own readers get the exact bytes.
 */
static int put_escaped(struct jbuf *j, size_t *pos, const char *s)
{
	char esc[8];
	unsigned char c;
	size_t n;

	for (; *s; s++) {
		c = (unsigned char)*s;
		if (c >= 0x80) {
			n = utf8_len((const unsigned char *)s);
			if (n) {
				if (put(j, pos, s, n))
					return -1;
				s += n - 1;
				continue;
			}
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			if (put(j, pos, esc, 6))
				return -1;
		} else if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			if (put(j, pos, esc, 2))
				return -1;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			if (put(j, pos, esc, 6))
				return -1;
		} else if (put(j, pos, s, 1)) {
			return -1;
		}
	}
	return 0;
}

static int put_key(struct jbuf *j, size_t *pos, const char *key)
{
	if (*pos && put(j, pos, ",", 1))
		return -1;
	if (put(j, pos, "\"", 1) || put_escaped(j, pos, key) ||
	    put(j, pos, "\":", 2))
		return -1;
	return 0;
}

static void commit(struct jbuf *j, size_t pos, int failed)
{
	if (failed) {
		j->overflow = 1;
		j->b[j->len] = '\0';
		return;
	}
	j->len = pos;
	j->b[pos] = '\0';
}

void jbuf_str(struct jbuf *j, const char *key, const char *val)
{
	size_t pos = j->len;
	int failed;

	failed = put_key(j, &pos, key);
	if (!failed && !val)
		failed = put(j, &pos, "null", 4);
	else if (!failed)
		failed = put(j, &pos, "\"", 1) || put_escaped(j, &pos, val) ||
			 put(j, &pos, "\"", 1);
	commit(j, pos, failed);
}

void jbuf_int(struct jbuf *j, const char *key, long long v)
{
	char num[32];
	size_t pos = j->len;
	int n = snprintf(num, sizeof(num), "%lld", v);

	commit(j, pos, put_key(j, &pos, key) || put(j, &pos, num, n));
}

void jbuf_bool(struct jbuf *j, const char *key, int v)
{
	size_t pos = j->len;

	commit(j, pos, put_key(j, &pos, key) ||
	       put(j, &pos, v ? "true" : "false", v ? 4 : 5));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Scan the string starting after its opening quote at s[*i]; copy the
 * unescaped text into out when out is not NULL.  Leaves *i after the
 * closing quote.  Returns 0 or -EINVAL.
 */
static int scan_string(const char *s, size_t len, size_t *i, char *out,
		       size_t size)
{
	size_t o = 0;
	int v, k, d;
	char c;

	while (*i < len) {
		c = s[(*i)++];
		if (c == '"') {
			if (out && size)
				out[o < size ? o : size - 1] = '\0';
			return 0;
		}
		if ((unsigned char)c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			if (*i >= len)
				return -EINVAL;
			c = s[(*i)++];
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (*i + 4 > len)
					return -EINVAL;
				for (v = 0, k = 0; k < 4; k++) {
					d = hexval(s[*i + k]);
					if (d < 0)
						return -EINVAL;
					v = v * 16 + d;
				}
				*i += 4;
				c = v < 0x100 ? (char)v : '?';
				break;
			default:
				return -EINVAL;
			}
		}
		if (out && o + 1 < size)
			out[o] = c;
		o++;
	}
	return -EINVAL;
}

static int scan_value(const char *s, size_t len, size_t *i, char *out,
		      size_t size)
{
	size_t start = *i, n;

	if (*i < len && s[*i] == '"') {
		(*i)++;
		return scan_string(s, len, i, out, size);
	}
	while (*i < len && s[*i] != ',' && s[*i] != '}')
		(*i)++;
	n = *i - start;
	if (n == 0)
		return -EINVAL;
	if (!(n == 4 && (!memcmp(s + start, "true", 4) ||
			 !memcmp(s + start, "null", 4))) &&
	    !(n == 5 && !memcmp(s + start, "false", 5)) &&
	    strspn(s + start, "-0123456789") < n)
		return -EINVAL;
	if (out && size) {
		if (n >= size)
			n = size - 1;
		memcpy(out, s + start, n);
		out[n] = '\0';
	}
	return 0;
}

int jsonl_get(const char *line, size_t len, const char *key, char *out,
	      size_t size)
{
	char k[64];
	size_t i = 0;
	int found = 0;

	if (len < 2 || line[0] != '{')
		return -EINVAL;
	i = 1;
	if (line[i] == '}')
		return 0;
	for (;;) {
		if (i >= len || line[i] != '"')
			return -EINVAL;
		i++;
		if (scan_string(line, len, &i, k, sizeof(k)))
			return -EINVAL;
		if (i >= len || line[i++] != ':')
			return -EINVAL;
		if (!found && !strcmp(k, key)) {
			if (scan_value(line, len, &i, out, size))
				return -EINVAL;
			found = 1;
		} else if (scan_value(line, len, &i, NULL, 0)) {
			return -EINVAL;
		}
		if (i < len && line[i] == ',') {
			i++;
			continue;
		}
		if (i < len && line[i] == '}' && i + 1 == len)
			return found;
		return -EINVAL;
	}
}

int jsonl_get_ll(const char *line, size_t len, const char *key,
		 long long *vp)
{
	char num[32], *end;
	int r = jsonl_get(line, len, key, num, sizeof(num));

	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	errno = 0;
	*vp = strtoll(num, &end, 10);
	if (errno || *end || end == num)
		return -EINVAL;
	return 0;
}
