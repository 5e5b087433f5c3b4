// SPDX-License-Identifier: MIT
/*
 * store.c - pick a store backend from a repository URL (see store.h).
 *
 * "s3://bucket[/prefix]" selects store_s3.c; anything else is a local
 * directory (an optional "dir:" or "file://" prefix is stripped).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store.h"

/* S3's bucket naming rules: 3-63 of [a-z0-9.-], alphanumeric ends. */
static int bucket_ok(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 63 || strstr(b, ".."))
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789.-", b[i]))
			return 0;
	return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' &&
	       b[n - 1] != '-';
}

/* Prefix segments: none empty (one trailing '/' aside), "." or "..". */
static int prefix_ok(const char *p)
{
	const char *seg = p, *end, *stop;
	size_t len;

	if (!*p)
		return 1;
	for (;;) {
		end = strchr(seg, '/');
		len = end ? (size_t)(end - seg) : strlen(seg);
		if (!len)
			return 0;
		if ((len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		for (stop = seg + len; seg < stop; seg++)
			if ((unsigned char)*seg < 0x20 || *seg == 0x7f ||
			    *seg == '\\')
				return 0;
		if (!end || !end[1])
			return 1;
		seg = end + 1;
	}
}

int store_open(const char *url, const char *endpoint, struct store **stp,
	       char *msg, size_t msgsize)
{
	char *bucket = NULL, *slash;
	const char *prefix = "";
	int r;

	*stp = NULL;
	if (!url || !*url) {
		snprintf(msg, msgsize, "no repository given (--repo or "
			 "PHIVAULT_REPOSITORY)");
		return -PHV_ECONFIG;
	}
	if (strncmp(url, "s3://", 5)) {
		if (!strncmp(url, "dir:", 4))
			url += 4;
		else if (!strncmp(url, "file://", 7))
			url += 7;
		return store_dir_open(url, stp);
	}

	bucket = strdup(url + 5);
	if (!bucket)
		return -ENOMEM;
	slash = strchr(bucket, '/');
	if (slash) {
		*slash = '\0';
		prefix = slash + 1;
	}
	if (!*bucket) {
		snprintf(msg, msgsize, "%s: no bucket name", url);
		r = -PHV_ECONFIG;
		goto out;
	}
	if (!bucket_ok(bucket)) {
		snprintf(msg, msgsize, "%s: '%s' is not a valid bucket name "
			 "(3 to 63 lower-case letters, digits, '.' and '-', "
			 "starting and ending with a letter or digit)", url,
			 bucket);
		r = -PHV_ECONFIG;
		goto out;
	}
	if (!prefix_ok(prefix)) {
		snprintf(msg, msgsize, "%s: the prefix must not have empty, "
			 "'.' or '..' parts or control characters", url);
		r = -PHV_ECONFIG;
		goto out;
	}
	r = store_s3_open(bucket, prefix, endpoint, stp, msg, msgsize);
out:
	free(bucket);
	return r;
}

void store_free(struct store *st)
{
	if (st)
		st->ops->destroy(st);
}

const char *store_error(const struct store *st)
{
	return st ? st->err : "";
}

void store_set_error(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
}
