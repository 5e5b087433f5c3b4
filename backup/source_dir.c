// SPDX-License-Identifier: MIT
/*
 * source_dir.c - a plain directory as a backup source (see source.h).
 *
 * Paths are joined to the root path; nothing follows symlinks
 * (lstat, O_NOFOLLOW, l*xattr).  Holes are found with SEEK_DATA and
 * SEEK_HOLE, so sparse files are read only where they have data.
 * source_open() also lives here: it recognises a volume and hands it to
 * source_vol.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "source.h"

struct dir_source {
	struct source s;
	char *root;
};

struct dir_file {
	int fd;
};

static char *join(struct source *s, const char *path)
{
	struct dir_source *d = (struct dir_source *)s;
	char *p;

	if (asprintf(&p, "%s%s%s", d->root, *path ? "/" : "", path) < 0)
		return NULL;
	return p;
}

static int ds_lstat(struct source *s, const char *path, struct stat *sb)
{
	char *p = join(s, path);
	int r = 0;

	if (!p)
		return -ENOMEM;
	if (lstat(p, sb))
		r = -errno;
	free(p);
	return r;
}

static int ds_readdir(struct source *s, const char *path,
		      source_dirent_fn fn, void *arg)
{
	char *p = join(s, path);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!p)
		return -ENOMEM;
	d = opendir(p);
	free(p);
	if (!d)
		return -errno;
	while (!r) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = fn(de->d_name, arg);
	}
	closedir(d);
	return r;
}

static int ds_readlink(struct source *s, const char *path, char *buf,
		       size_t size)
{
	char *p = join(s, path);
	ssize_t n;

	if (!p)
		return -ENOMEM;
	n = readlink(p, buf, size - 1);
	free(p);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return (int)n;
}

static ssize_t ds_listxattr(struct source *s, const char *path, char *buf,
			    size_t size)
{
	char *p = join(s, path);
	ssize_t n;

	if (!p)
		return -ENOMEM;
	n = llistxattr(p, buf, size);
	if (n < 0)
		n = errno == ENOTSUP ? 0 : -errno;
	free(p);
	return n;
}

static ssize_t ds_getxattr(struct source *s, const char *path,
			   const char *name, void *buf, size_t size)
{
	char *p = join(s, path);
	ssize_t n;

	if (!p)
		return -ENOMEM;
	n = lgetxattr(p, name, buf, size);
	if (n < 0)
		n = -errno;
	free(p);
	return n;
}

static int ds_open(struct source *s, const char *path,
		   struct source_file **fp)
{
	char *p = join(s, path);
	struct dir_file *f;
	int fd;

	*fp = NULL;
	if (!p)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return -errno;
	f = malloc(sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	*fp = (struct source_file *)f;
	return 0;
}

static int ds_fstat(struct source_file *f, struct stat *sb)
{
	return fstat(((struct dir_file *)f)->fd, sb) ? -errno : 0;
}

static ssize_t ds_pread(struct source_file *f, void *buf, size_t len,
			uint64_t off)
{
	ssize_t n;

	do {
		n = pread(((struct dir_file *)f)->fd, buf, len, (off_t)off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int ds_next_data(struct source_file *f, uint64_t off,
			uint64_t *datap, uint64_t *holep)
{
	int fd = ((struct dir_file *)f)->fd;
	struct stat sb;
	off_t d, h;

	d = lseek(fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO)
			return -ENXIO;
		/* no SEEK_DATA here: everything to the end is data */
		if (fstat(fd, &sb))
			return -errno;
		if ((uint64_t)sb.st_size <= off)
			return -ENXIO;
		*datap = off;
		*holep = (uint64_t)sb.st_size;
		return 0;
	}
	h = lseek(fd, d, SEEK_HOLE);
	if (h < 0)
		return -errno;
	*datap = (uint64_t)d;
	*holep = (uint64_t)h;
	return 0;
}

static void ds_close(struct source_file *f)
{
	if (!f)
		return;
	close(((struct dir_file *)f)->fd);
	free(f);
}

static void ds_destroy(struct source *s)
{
	struct dir_source *d = (struct dir_source *)s;

	free(d->root);
	free(d);
}

static const struct source_ops ds_ops = {
	.lstat = ds_lstat,
	.readdir = ds_readdir,
	.readlink = ds_readlink,
	.listxattr = ds_listxattr,
	.getxattr = ds_getxattr,
	.open = ds_open,
	.fstat = ds_fstat,
	.pread = ds_pread,
	.next_data = ds_next_data,
	.close = ds_close,
	.destroy = ds_destroy,
};

int source_dir_open(const char *path, struct source **sp)
{
	struct dir_source *d;
	struct stat sb;

	*sp = NULL;
	if (stat(path, &sb))
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->root = file_dir_dup(path);
	if (!d->root) {
		free(d);
		return -ENOMEM;
	}
	d->s.ops = &ds_ops;
	d->s.kind = "directory";
	*sp = &d->s;
	return 0;
}

int source_is_volume(const char *path)
{
	char *p;
	int r;

	if (asprintf(&p, "%s/.phivault.conf", path) < 0)
		return 0;
	r = !access(p, F_OK);
	free(p);
	return r;
}

int source_open(const char *path, int secret_type, const void *secret,
		size_t secretlen, struct source **sp)
{
	*sp = NULL;
	if (source_is_volume(path))
		return source_vol_open(path, secret_type, secret, secretlen,
				       sp);
	return source_dir_open(path, sp);
}

void source_free(struct source *s)
{
	if (s)
		s->ops->destroy(s);
}
