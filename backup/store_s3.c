// SPDX-License-Identifier: MIT
/*
 * store_s3.c - a repository in an S3 bucket under Object Lock
 * (see store.h), on the S3 client in s3.h.
 *
 * This is the only place that turns "repository-critical" into Object
 * Lock: a STORE_LOCKED put carries the repository's lock mode and the
 * caller's retain-until date, and is then confirmed with a HEAD of the
 * exact version written; a version that comes back without the lock is
 * an error (-PHV_ELOCKED), never silently accepted.  Retention is only
 * ever extended here, never shortened.  Every request goes through the
 * client's single retrying request path (s3.c).
 *
 * Keys are the repository prefix, a slash, and the repository key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "s3.h"
#include "store.h"

#define S3S_MAX_META	(64U << 20)

struct s3_store {
	struct store st;	/* first: the generic part */
	struct s3_client *c;
	char *bucket;
	char *prefix;		/* "" or "path/" */
	char *endpoint;
};

static struct s3_store *s3s_of(struct store *st)
{
	return (struct s3_store *)st;
}

static char *s3s_key(struct s3_store *s, const char *key)
{
	char *k;

	if (asprintf(&k, "%s%s", s->prefix, key) < 0)
		return NULL;
	return k;
}

static enum s3_lock_mode s3s_mode(enum store_lock_mode m)
{
	switch (m) {
	case STORE_LOCK_GOVERNANCE:
		return S3_LOCK_GOVERNANCE;
	case STORE_LOCK_COMPLIANCE:
		return S3_LOCK_COMPLIANCE;
	default:
		return S3_LOCK_NONE;
	}
}

/*
 * Keep the client's error line; S3's verdict on the credentials
 * becomes -EKEYREJECTED, so nobody mistakes it for a wrong passphrase.
 */
static int s3s_fail(struct s3_store *s, int r)
{
	store_set_error(&s->st, "%s", s3_last_error(s->c));
	return r == -PHV_EBADKEY ? -EKEYREJECTED : r;
}

/* HEAD the version just written and insist that the lock is there. */
static int s3s_confirm(struct s3_store *s, const char *key, const char *vid,
		       enum s3_lock_mode mode, time_t until)
{
	struct s3_object_info info;
	int r;

	r = s3_head(s->c, s->bucket, key, vid, &info);
	if (r)
		return s3s_fail(s, r);
	if (info.lock_mode != mode || info.retain_until < until) {
		char when[32] = "none";
		time_t t = info.retain_until;
		struct tm tm;

		if (t && gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		store_set_error(&s->st, "%s: written without its Object Lock "
				"(mode '%s', retain until %s)", key,
				s3_lock_mode_name(info.lock_mode), when);
		return -PHV_ELOCKED;
	}
	return 0;
}

static int s3s_put(struct store *st, const char *key, const void *buf,
		   size_t len, enum store_class cls, time_t retain_until,
		   char **version_idp)
{
	struct s3_store *s = s3s_of(st);
	enum s3_lock_mode mode = S3_LOCK_NONE;
	char *k = s3s_key(s, key), *vid = NULL;
	int r;

	if (version_idp)
		*version_idp = NULL;
	if (!k)
		return -ENOMEM;
	if (cls == STORE_LOCKED)
		mode = s3s_mode(st->mode);
	r = s3_put(s->c, s->bucket, k, buf, len, mode,
		   mode ? retain_until : 0, &vid);
	if (r) {
		r = s3s_fail(s, r);
		goto out;
	}
	if (mode) {
		r = s3s_confirm(s, k, vid, mode, retain_until);
		if (r)
			goto out;
	}
	if (version_idp) {
		*version_idp = vid;
		vid = NULL;
	}
out:
	free(vid);
	free(k);
	return r;
}

static int s3s_get(struct store *st, const char *key, const char *version_id,
		   uint64_t off, uint64_t len, size_t max, void **bufp,
		   size_t *lenp)
{
	struct s3_store *s = s3s_of(st);
	char *k = s3s_key(s, key);
	int r;

	*bufp = NULL;
	if (!k)
		return -ENOMEM;
	r = s3_get(s->c, s->bucket, k, version_id, off, len, max, bufp,
		   lenp);
	if (r)
		r = s3s_fail(s, r);
	free(k);
	return r;
}

static int s3s_head(struct store *st, const char *key,
		    const char *version_id, struct store_info *info)
{
	struct s3_store *s = s3s_of(st);
	struct s3_object_info oi;
	char *k = s3s_key(s, key);
	int r;

	memset(info, 0, sizeof(*info));
	if (!k)
		return -ENOMEM;
	r = s3_head(s->c, s->bucket, k, version_id, &oi);
	free(k);
	if (r)
		return s3s_fail(s, r);
	info->size = oi.size;
	info->mtime = oi.last_modified;
	info->retain_until = oi.retain_until;
	info->mode = oi.lock_mode == S3_LOCK_COMPLIANCE ?
		STORE_LOCK_COMPLIANCE : oi.lock_mode == S3_LOCK_GOVERNANCE ?
		STORE_LOCK_GOVERNANCE : STORE_LOCK_NONE;
	return 0;
}

static int s3s_list(struct store *st, const char *prefix, store_list_fn fn,
		    void *arg)
{
	struct s3_store *s = s3s_of(st);
	struct s3_listing page = S3_LISTING_INIT;
	size_t plen = strlen(s->prefix), i;
	struct store_entry e;
	char *k = s3s_key(s, prefix ? prefix : "");
	int r;

	if (!k)
		return -ENOMEM;
	do {
		r = s3_list_versions(s->c, s->bucket, k, 0, &page);
		if (r) {
			r = s3s_fail(s, r);
			break;
		}
		for (i = 0; !r && i < page.n; i++) {
			struct s3_entry *se = &page.entries[i];

			if (strncmp(se->key, s->prefix, plen))
				continue;
			memset(&e, 0, sizeof(e));
			e.key = se->key + plen;
			e.version_id = se->version_id;
			e.size = se->size;
			e.mtime = se->last_modified;
			e.is_latest = se->is_latest;
			e.is_delete_marker = se->is_delete_marker;
			r = fn(&e, arg);
		}
	} while (!r && page.truncated);
	s3_listing_release(&page);
	free(k);
	return r;
}

static int s3s_del(struct store *st, const char *key, const char *version_id,
		   unsigned int flags)
{
	struct s3_store *s = s3s_of(st);
	char *k = s3s_key(s, key);
	int r;

	if (!k)
		return -ENOMEM;
	r = s3_delete(s->c, s->bucket, k, version_id,
		      flags & STORE_DEL_BYPASS ? S3_BYPASS_GOVERNANCE : 0,
		      NULL);
	if (r)
		r = s3s_fail(s, r);
	free(k);
	return r;
}

static int s3s_extend(struct store *st, const char *key,
		      const char *version_id, time_t retain_until)
{
	struct s3_store *s = s3s_of(st);
	enum s3_lock_mode mode, want = s3s_mode(st->mode);
	char *k = s3s_key(s, key);
	time_t until;
	int r;

	if (!k)
		return -ENOMEM;
	if (!want) {
		r = 0;
		goto out;
	}
	r = s3_get_retention(s->c, s->bucket, k, version_id, &mode, &until);
	if (r) {
		r = s3s_fail(s, r);
		goto out;
	}
	if (mode && until >= retain_until)
		goto out;
	r = s3_put_retention(s->c, s->bucket, k, version_id,
			     mode ? mode : want, retain_until, 0);
	if (r)
		r = s3s_fail(s, r);
out:
	free(k);
	return r;
}

static int s3s_server_time(struct store *st, time_t *nowp)
{
	struct s3_store *s = s3s_of(st);
	int r;

	r = s3_server_time(s->c, s->bucket, nowp);
	if (r)
		r = s3s_fail(s, r);
	return r;
}

static int s3s_create(struct store *st)
{
	struct s3_store *s = s3s_of(st);
	int r;

	/* an existing bucket is fine here; check() decides if it is fit */
	r = s3_create_bucket_locked(s->c, s->bucket);
	if (r && r != -PHV_ES3)
		return s3s_fail(s, r);
	return 0;
}

static int s3s_check(struct store *st, int *lockedp)
{
	struct s3_store *s = s3s_of(st);
	struct s3_lock_config cfg;
	int r;

	*lockedp = 0;
	r = s3_get_lock_config(s->c, s->bucket, &cfg);
	if (r == -PHV_ENOTFOUND)
		return 0;
	if (r)
		return s3s_fail(s, r);
	*lockedp = cfg.enabled;
	return 0;
}

static int s3s_dup(struct store *st, struct store **stp)
{
	struct s3_store *s = s3s_of(st), *n;
	int r;

	*stp = NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->st = s->st;
	n->bucket = strdup(s->bucket);
	n->prefix = strdup(s->prefix);
	if (!n->bucket || !n->prefix) {
		r = -ENOMEM;
		goto out;
	}
	r = s3_client_dup(s->c, &n->c);
out:
	if (r) {
		free(n->bucket);
		free(n->prefix);
		free(n);
		return r;
	}
	*stp = &n->st;
	return 0;
}

static void s3s_destroy(struct store *st)
{
	struct s3_store *s = s3s_of(st);

	s3_client_free(s->c);
	free(s->bucket);
	free(s->prefix);
	free(s);
}

static const struct store_ops s3s_ops = {
	.put = s3s_put,
	.get = s3s_get,
	.head = s3s_head,
	.list = s3s_list,
	.del = s3s_del,
	.extend = s3s_extend,
	.server_time = s3s_server_time,
	.create = s3s_create,
	.check = s3s_check,
	.dup = s3s_dup,
	.destroy = s3s_destroy,
};

int store_s3_open(const char *bucket, const char *prefix,
		  const char *endpoint, struct store **stp, char *msg,
		  size_t msgsize)
{
	struct s3_config cfg = { .endpoint = endpoint };
	struct s3_store *s;
	size_t n = strlen(prefix);
	int r;

	*stp = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->st.ops = &s3s_ops;
	s->st.immutable = 1;
	s->bucket = strdup(bucket);
	if (asprintf(&s->prefix, "%s%s", prefix,
		     n && prefix[n - 1] != '/' ? "/" : "") < 0)
		s->prefix = NULL;
	if (!s->bucket || !s->prefix) {
		r = -ENOMEM;
		goto out;
	}
	r = s3_client_new(&cfg, &s->c);
	if (r)
		snprintf(msg, msgsize, "%s", s3_config_error());
out:
	if (r) {
		free(s->bucket);
		free(s->prefix);
		free(s);
		return r;
	}
	*stp = &s->st;
	return 0;
}
