// SPDX-License-Identifier: MIT
/*
 * store_dir.c - a repository in a local directory (see store.h).
 *
 * Each key is a file under the root; "packs/ab" is root/packs/ab.  Writes
 * go to a temporary file that is fsync'ed and renamed into place, then
 * the directory is fsync'ed (file_replace() of common/fileio), so a crash
 * leaves either the old object or the new one; listings skip temporary
 * names (a leading dot, or ".tmp." as older versions wrote them).  There
 * are no versions and no retention: STORE_LOCKED is accepted and means
 * nothing, which the CLI tells the user.  This backend is real (restore
 * drills use it), not a mock of S3.
 *
 * For tests, PHIVAULT_TEST_DIR_FAULTS injects failures and delays (see
 * store.h); the switches are read once per handle.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "store.h"
#include "testhook.h"

struct dir_store {
	struct store st;	/* first: the generic part */
	char *root;
	long put_fail_after;	/* -1: never */
	long puts;
	unsigned int delay_ms;
};

static struct dir_store *dir_of(struct store *st)
{
	return (struct dir_store *)st;
}

static void dir_faults_read(struct dir_store *d)
{
	const char *env = testhook_get("PHIVAULT_TEST_DIR_FAULTS", 0);
	const char *p;

	d->put_fail_after = -1;
	if (!env)
		return;
	p = strstr(env, "put-fail-after=");
	if (p)
		d->put_fail_after = strtol(p + 15, NULL, 10);
	p = strstr(env, "delay-ms=");
	if (p)
		d->delay_ms = (unsigned int)strtoul(p + 9, NULL, 10);
}

static void dir_delay(struct dir_store *d)
{
	struct timespec ts;

	if (!d->delay_ms)
		return;
	ts.tv_sec = d->delay_ms / 1000;
	ts.tv_nsec = (long)(d->delay_ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* Keys are made by the repository code, but refuse escapes anyway. */
static int dir_path(struct dir_store *d, const char *key, char **pathp)
{
	*pathp = NULL;
	if (!*key || key[0] == '/' || strstr(key, "..") ||
	    strstr(key, "//"))
		return -EINVAL;
	if (asprintf(pathp, "%s/%s", d->root, key) < 0) {
		*pathp = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int mkdirs(char *path)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

static int dir_put(struct store *st, const char *key, const void *buf,
		   size_t len, enum store_class cls, time_t retain_until,
		   char **version_idp)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct dir_store *d = dir_of(st);
	char *path = NULL;
	int r;

	if (version_idp)
		*version_idp = NULL;
	dir_delay(d);
	if (d->put_fail_after >= 0 && d->puts >= d->put_fail_after) {
		store_set_error(st, "put %s: injected failure", key);
		return -EIO;
	}
	r = dir_path(d, key, &path);
	if (!r)
		r = mkdirs(path);
	if (!r)
		r = file_replace(path, &iov, 1, 0600);
	if (r)
		store_set_error(st, "put %s: %s", key, phv_strerror(r));
	else
		d->puts++;
	free(path);
	return r;
}

static int dir_get(struct store *st, const char *key, const char *version_id,
		   uint64_t off, uint64_t len, size_t max, void **bufp,
		   size_t *lenp)
{
	struct dir_store *d = dir_of(st);
	char *path = NULL, *buf = NULL;
	struct stat sb;
	size_t want, got = 0;
	ssize_t n;
	int fd = -1, r;

	*bufp = NULL;
	*lenp = 0;
	dir_delay(d);
	r = dir_path(d, key, &path);
	if (r)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb)) {
		r = errno == ENOENT ? -PHV_ENOTFOUND : -errno;
		goto out;
	}
	want = off >= (uint64_t)sb.st_size ? 0 : (size_t)(sb.st_size - off);
	if (len && want > len)
		want = (size_t)len;
	r = -EFBIG;
	if (want > max)
		goto out;
	r = -ENOMEM;
	buf = malloc(want + 1);
	if (!buf)
		goto out;
	while (got < want) {
		n = pread(fd, buf + got, want - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*bufp = buf;
	*lenp = got;
	buf = NULL;
	r = 0;
out:
	if (r)
		store_set_error(st, "get %s: %s", key, phv_strerror(r));
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return r;
}

static int dir_head(struct store *st, const char *key,
		    const char *version_id, struct store_info *info)
{
	struct dir_store *d = dir_of(st);
	struct stat sb;
	char *path = NULL;
	int r;

	memset(info, 0, sizeof(*info));
	r = dir_path(d, key, &path);
	if (r)
		return r;
	if (stat(path, &sb)) {
		r = errno == ENOENT ? -PHV_ENOTFOUND : -errno;
	} else {
		info->size = (uint64_t)sb.st_size;
		info->mtime = sb.st_mtime;
	}
	free(path);
	return r;
}

static int dir_walk(struct dir_store *d, const char *rel, const char *prefix,
		    store_list_fn fn, void *arg)
{
	char *path = NULL, *sub = NULL;
	struct store_entry e;
	struct dirent *de;
	struct stat sb;
	DIR *dir = NULL;
	int r = 0;

	if (asprintf(&path, "%s%s%s", d->root, *rel ? "/" : "", rel) < 0)
		return -ENOMEM;
	dir = opendir(path);
	if (!dir) {
		r = errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
		goto out;
	}
	while (!r && (de = readdir(dir))) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp."))
			continue;
		free(sub);
		if (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "",
			     de->d_name) < 0) {
			sub = NULL;
			r = -ENOMEM;
			break;
		}
		/* prune subtrees that cannot match the prefix */
		if (strncmp(sub, prefix, strlen(sub) < strlen(prefix) ?
			    strlen(sub) : strlen(prefix)))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISDIR(sb.st_mode)) {
			r = dir_walk(d, sub, prefix, fn, arg);
			continue;
		}
		if (!S_ISREG(sb.st_mode) || strncmp(sub, prefix,
						    strlen(prefix)))
			continue;
		memset(&e, 0, sizeof(e));
		e.key = sub;
		e.size = (uint64_t)sb.st_size;
		e.mtime = sb.st_mtime;
		e.is_latest = 1;
		r = fn(&e, arg);
	}
out:
	if (dir)
		closedir(dir);
	free(sub);
	free(path);
	return r;
}

static int dir_list(struct store *st, const char *prefix, store_list_fn fn,
		    void *arg)
{
	dir_delay(dir_of(st));
	return dir_walk(dir_of(st), "", prefix ? prefix : "", fn, arg);
}

static int dir_del(struct store *st, const char *key, const char *version_id,
		   unsigned int flags)
{
	char *path = NULL;
	int r;

	r = dir_path(dir_of(st), key, &path);
	if (r)
		return r;
	if (unlink(path) && errno != ENOENT)
		r = -errno;
	free(path);
	return r;
}

static int dir_extend(struct store *st, const char *key,
		      const char *version_id, time_t retain_until)
{
	return 0;
}

static int dir_server_time(struct store *st, time_t *nowp)
{
	*nowp = time(NULL);
	return 0;
}

static int dir_create(struct store *st)
{
	struct dir_store *d = dir_of(st);
	char *p = NULL;
	int r;

	if (asprintf(&p, "%s/", d->root) < 0)
		return -ENOMEM;
	r = mkdirs(p);
	if (!r && mkdir(d->root, 0700) && errno != EEXIST)
		r = -errno;
	free(p);
	return r;
}

static int dir_check(struct store *st, int *lockedp)
{
	struct stat sb;

	*lockedp = 0;
	if (stat(dir_of(st)->root, &sb))
		return -errno == -ENOENT ? -PHV_ENOTFOUND : -errno;
	return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

static int dir_dup(struct store *st, struct store **stp)
{
	return store_dir_open(dir_of(st)->root, stp);
}

static void dir_destroy(struct store *st)
{
	struct dir_store *d = dir_of(st);

	free(d->root);
	free(d);
}

static const struct store_ops dir_ops = {
	.put = dir_put,
	.get = dir_get,
	.head = dir_head,
	.list = dir_list,
	.del = dir_del,
	.extend = dir_extend,
	.server_time = dir_server_time,
	.create = dir_create,
	.check = dir_check,
	.dup = dir_dup,
	.destroy = dir_destroy,
};

int store_dir_open(const char *path, struct store **stp)
{
	struct dir_store *d;

	*stp = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->root = file_dir_dup(path);
	if (!d->root) {
		free(d);
		return -ENOMEM;
	}
	d->st.ops = &dir_ops;
	d->st.mode = STORE_LOCK_NONE;
	dir_faults_read(d);
	*stp = &d->st;
	return 0;
}
