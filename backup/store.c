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
