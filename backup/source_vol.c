// SPDX-License-Identifier: MIT
/*
 * source_vol.c - a phivault volume as a backup source (see source.h),
 * read directly through the volume library (fs/vol.h): no FUSE round
 * trip, and it works whether or not the volume is mounted.
 *
 * The backup stores the PLAINTEXT of the volume (sealed again under the
 * snapshot's key), so a restore gives plain files.  Sizes, modes and
 * times are the volume's plaintext view; st_ino is the backing inode and
 * st_ctime the backing file's, which is what the parent-snapshot
 * comparison needs.  The volume keeps no hole map, so next_data reports
 * one region (all-zero chunks still become holes in the snapshot).
 *
 * Damage: a directory entry whose name fails authentication is skipped
 * and the listing of that directory then ends with -PHV_EAUTH (the
 * backup reports the directory as partly unreadable and keeps the good
 * entries); a damaged block fails the read of its file with -PHV_EAUTH
 * (the file is reported unreadable, the rest of the tree is backed up).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "fs/vol.h"
#include "source.h"

struct vol_source {
	struct source s;
	struct vol *vol;
};

struct vol_sfile {
	struct vol_file *f;
	char *path;			/* for messages */
};

static struct vol *vs_vol(struct source *s)
{
	return ((struct vol_source *)s)->vol;
}

static int vs_lstat(struct source *s, const char *path, struct stat *sb)
{
	return vol_stat(vs_vol(s), path, sb);
}

static int vs_readdir(struct source *s, const char *path,
		      source_dirent_fn fn, void *arg)
{
	struct vol_dirent *ent;
	struct vol_dir *d = NULL;
	int r, damaged = 0;

	ent = malloc(sizeof(*ent));
	if (!ent)
		return -ENOMEM;
	r = vol_dir_open(vs_vol(s), path, &d);
	while (!r) {
		r = vol_dir_next(d, ent);
		if (r <= 0)
			break;
		if (ent->damaged) {
			log_warn("%s: entry %s fails authentication; not "
				 "backed up", *path ? path : "/",
				 ent->backing);
			damaged++;
			r = 0;
			continue;
		}
		r = fn(ent->name, arg);
	}
	vol_dir_close(d);
	free(ent);
	if (!r && damaged)
		r = -PHV_EAUTH;
	return r;
}

static int vs_readlink(struct source *s, const char *path, char *buf,
		       size_t size)
{
	return vol_readlink(vs_vol(s), path, buf, size);
}

static ssize_t vs_listxattr(struct source *s, const char *path, char *buf,
			    size_t size)
{
	ssize_t n = vol_listxattr(vs_vol(s), path, buf, size);

	return n == -ENOTSUP ? 0 : n;
}

static ssize_t vs_getxattr(struct source *s, const char *path,
			   const char *name, void *buf, size_t size)
{
	return vol_getxattr(vs_vol(s), path, name, buf, size);
}

static int vs_open(struct source *s, const char *path,
		   struct source_file **fp)
{
	struct vol_sfile *f;
	int r;

	*fp = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = strdup(path);
	r = f->path ? vol_file_open(vs_vol(s), path, O_RDONLY, 0, &f->f) :
		-ENOMEM;
	if (r) {
		free(f->path);
		free(f);
		return r;
	}
	*fp = (struct source_file *)f;
	return 0;
}

static int vs_fstat(struct source_file *f, struct stat *sb)
{
	return vol_file_stat(((struct vol_sfile *)f)->f, sb);
}

static ssize_t vs_pread(struct source_file *f, void *buf, size_t len,
			uint64_t off)
{
	struct vol_sfile *vf = (struct vol_sfile *)f;
	uint64_t bad = 0;
	ssize_t n;

	n = vol_file_pread(vf->f, buf, len, (off_t)off, &bad);
	if (n == -PHV_EAUTH)
		log_err("%s: block %llu fails authentication", vf->path,
			(unsigned long long)bad);
	return n;
}

static int vs_next_data(struct source_file *f, uint64_t off,
			uint64_t *datap, uint64_t *holep)
{
	struct stat sb;
	int r;

	r = vol_file_stat(((struct vol_sfile *)f)->f, &sb);
	if (r)
		return r;
	if ((uint64_t)sb.st_size <= off)
		return -ENXIO;
	*datap = off;
	*holep = (uint64_t)sb.st_size;
	return 0;
}

static void vs_close(struct source_file *f)
{
	struct vol_sfile *vf = (struct vol_sfile *)f;

	if (!vf)
		return;
	vol_file_close(vf->f);
	free(vf->path);
	free(vf);
}

static void vs_destroy(struct source *s)
{
	vol_close(vs_vol(s));
	free(s);
}

static const struct source_ops vs_ops = {
	.lstat = vs_lstat,
	.readdir = vs_readdir,
	.readlink = vs_readlink,
	.listxattr = vs_listxattr,
	.getxattr = vs_getxattr,
	.open = vs_open,
	.fstat = vs_fstat,
	.pread = vs_pread,
	.next_data = vs_next_data,
	.close = vs_close,
	.destroy = vs_destroy,
};

int source_vol_open(const char *cipherdir, int secret_type,
		    const void *secret, size_t secretlen, struct source **sp)
{
	struct vol_source *v;
	int r;

	*sp = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = vol_open(cipherdir, (enum keyslot_type)secret_type, secret,
		     secretlen, &v->vol);
	if (r) {
		free(v);
		return r;
	}
	v->s.ops = &vs_ops;
	v->s.kind = "volume";
	*sp = &v->s;
	return 0;
}
