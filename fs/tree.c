// SPDX-License-Identifier: MIT
/*
 * tree.c - the plaintext-path API of vol.h (backup, restore, fsck, key
 * management) on an unlocked volume, without FUSE.
 *
 * Design: a path is resolved component by component from the backing
 * root: read the directory ID, encrypt the next name, openat() it with
 * O_PATH | O_NOFOLLOW.  Nothing is cached, so the view is always the
 * current backing state and several processes (a mount and a backup) can
 * read at once.  Invariants: every returned object owns its descriptors;
 * symlinks inside a path are never followed (ELOOP/ENOTDIR instead).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/err.h"
#include "crypto/secmem.h"
#include "vol_i.h"

struct vol_dir {
	struct vol *vol;
	DIR *dp;
	uint8_t dirid[DIRID_LEN];
};

struct vol_file {
	struct fcrypt fc;
};

/* The resolved parent of a path's last component. */
struct where {
	int dirfd;			/* O_PATH of the parent; owned */
	uint8_t dirid[DIRID_LEN];
	char bname[256];
	char longenc[NAME_ENC_MAX];
	int is_long;
	int root;			/* the path was the root itself */
};

static void where_release(struct where *w)
{
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->dirfd = -1;
}

/*
 * Make room for a new entry at w: -EEXIST for the root, and a long name
 * gets its sidecar first.  0 or a negative code.
 */
static int where_claim(struct where *w)
{
	if (w->root)
		return -EEXIST;
	if (w->is_long)
		return name_sidecar_write(w->dirfd, w->bname, w->longenc);
	return 0;
}

/* Resolve every component but the last. */
static int resolve(struct vol *vol, const char *path, struct where *w)
{
	char comp[VOL_NAME_MAX + 1], bname[256];
	const char *p = path, *slash;
	int fd, r;

	memset(w, 0, sizeof(*w));
	w->dirfd = openat(vol->rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0)
		return -errno;
	for (;;) {
		size_t len;

		while (*p == '/')
			p++;
		r = dirid_read(w->dirfd, w->dirid);
		if (r)
			goto fail;
		if (!*p) {
			w->root = 1;
			return 0;
		}
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len > VOL_NAME_MAX) {
			r = -ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		while (slash && *slash == '/')
			slash++;
		if (!slash || !*slash) {
			r = name_encrypt(vol, w->dirid, comp, w->bname,
					 w->longenc);
			if (r < 0)
				goto fail;
			w->is_long = r;
			return 0;
		}
		r = name_encrypt(vol, w->dirid, comp, bname, NULL);
		if (r < 0)
			goto fail;
		fd = openat(w->dirfd, bname, O_PATH | O_NOFOLLOW | O_DIRECTORY |
			    O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			goto fail;
		}
		close(w->dirfd);
		w->dirfd = fd;
		p = slash;
	}
fail:
	where_release(w);
	return r;
}

/* O_PATH descriptor of the object at path. */
static int open_obj(struct vol *vol, const char *path, int extra)
{
	struct where w;
	int fd, r;

	r = resolve(vol, path, &w);
	if (r)
		return r;
	if (w.root)
		return w.dirfd;
	fd = openat(w.dirfd, w.bname, O_PATH | O_NOFOLLOW | O_CLOEXEC | extra);
	r = fd < 0 ? -errno : fd;
	where_release(&w);
	return r;
}

static void plain_stat(struct vol *vol, int fd, struct stat *st)
{
	uint64_t size;

	if (S_ISREG(st->st_mode)) {
		fc_plain_size((uint64_t)st->st_size, vol->block_size, &size);
		st->st_size = (off_t)size;
	} else if (S_ISLNK(st->st_mode)) {
		char enc[4096], plain[4097];
		ssize_t n = readlinkat(fd, "", enc, sizeof(enc) - 1);

		if (n >= 0) {
			enc[n] = '\0';
			n = symlink_decrypt(vol, enc, plain, sizeof(plain));
		}
		st->st_size = n < 0 ? 0 : n;
	}
}

int vol_stat(struct vol *vol, const char *path, struct stat *st)
{
	int fd = open_obj(vol, path, 0), r = 0;

	if (fd < 0)
		return fd;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		r = -errno;
	else
		plain_stat(vol, fd, st);
	close(fd);
	return r;
}

/* ---- directories ------------------------------------------------------ */

int vol_dir_open(struct vol *vol, const char *path, struct vol_dir **dp)
{
	struct vol_dir *d = NULL;
	int fd = -1, dfd, r;

	*dp = NULL;
	fd = open_obj(vol, path, O_DIRECTORY);
	if (fd < 0)
		return fd;
	d = calloc(1, sizeof(*d));
	if (!d) {
		r = -ENOMEM;
		goto out;
	}
	d->vol = vol;
	r = dirid_read(fd, d->dirid);
	if (r)
		goto out;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		goto out;
	}
	d->dp = fdopendir(dfd);
	if (!d->dp) {
		r = -errno;
		close(dfd);
		goto out;
	}
	*dp = d;
	d = NULL;
	r = 0;
out:
	free(d);
	close(fd);
	return r;
}

int vol_dir_next(struct vol_dir *d, struct vol_dirent *ent)
{
	struct dirent *de;
	int r, fd;

	for (;;) {
		errno = 0;
		de = readdir(d->dp);
		if (!de)
			return errno ? -errno : 0;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		memset(ent, 0, sizeof(*ent));
		snprintf(ent->backing, sizeof(ent->backing), "%s", de->d_name);
		r = name_decrypt(d->vol, dirfd(d->dp), d->dirid, de->d_name,
				 ent->name);
		if (r == 1)
			continue;
		if (r < 0) {
			ent->name[0] = '\0';
			ent->damaged = 1;
		}
		fd = openat(dirfd(d->dp), de->d_name, O_PATH | O_NOFOLLOW |
			    O_CLOEXEC);
		if (fd < 0)
			continue;	/* removed meanwhile */
		if (fstatat(fd, "", &ent->st, AT_EMPTY_PATH |
			    AT_SYMLINK_NOFOLLOW)) {
			close(fd);
			continue;
		}
		plain_stat(d->vol, fd, &ent->st);
		close(fd);
		return 1;
	}
}

void vol_dir_close(struct vol_dir *d)
{
	if (!d)
		return;
	if (d->dp)
		closedir(d->dp);
	free(d);
}

int vol_readlink(struct vol *vol, const char *path, char *buf, size_t size)
{
	char enc[4096];
	ssize_t n;
	int fd = open_obj(vol, path, 0), r;

	if (fd < 0)
		return fd;
	n = readlinkat(fd, "", enc, sizeof(enc) - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r)
		return r;
	enc[n] = '\0';
	return symlink_decrypt(vol, enc, buf, size);
}

/* ---- xattrs ----------------------------------------------------------- */

/* Object ID for xattr values of the object at fd. */
static int obj_id(struct vol *vol, int fd, uint8_t oid[static FILE_ID_LEN],
		  int create)
{
	struct stat st;
	struct fcrypt fc = { .vol = vol, .fd = -1 };
	char p[32];
	int r;

	memset(oid, 0, FILE_ID_LEN);
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return dirid_read(fd, oid);
	if (!S_ISREG(st.st_mode))
		return 0;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	fc.fd = open(p, (create ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fc.fd < 0)
		return -errno;
	r = fc_load(&fc);
	if (!r && !fc.has_hdr && create)
		r = fc_init_header(&fc);
	if (!r)
		memcpy(oid, fc.file_id, FILE_ID_LEN);
	fc_release(&fc);
	close(fc.fd);
	return r;
}

ssize_t vol_listxattr(struct vol *vol, const char *path, char *buf,
		      size_t size)
{
	char p[32], *list = NULL;
	ssize_t r;
	int fd = open_obj(vol, path, 0);

	if (fd < 0)
		return fd;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	r = xattr_list_plain(vol, p, &list);
	close(fd);
	if (r > 0 && size && (size_t)r > size)
		r = -ERANGE;
	else if (r > 0 && size)
		memcpy(buf, list, (size_t)r);
	free(list);
	return r;
}

ssize_t vol_getxattr(struct vol *vol, const char *path, const char *name,
		     void *buf, size_t size)
{
	char p[32], bname[XATTR_BACKING_MAX];
	uint8_t oid[FILE_ID_LEN], *sealed = NULL;
	ssize_t len, r;
	int fd;

	r = xattr_name_encrypt(vol, name, bname);
	if (r)
		return r == -ERANGE ? -ENODATA : r;
	fd = open_obj(vol, path, 0);
	if (fd < 0)
		return fd;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	len = getxattr(p, bname, NULL, 0);
	if (len < 0) {
		r = -errno;
		goto out;
	}
	if (len < BLK_OVERHEAD) {
		r = -PHV_EAUTH;
		goto out;
	}
	r = len - BLK_OVERHEAD;
	if (!size)
		goto out;
	if (size < (size_t)r) {
		r = -ERANGE;
		goto out;
	}
	sealed = malloc((size_t)len);
	if (!sealed) {
		r = -ENOMEM;
		goto out;
	}
	len = getxattr(p, bname, sealed, (size_t)len);
	if (len < BLK_OVERHEAD) {
		r = len < 0 ? -errno : -PHV_EAUTH;
		goto out;
	}
	r = obj_id(vol, fd, oid, 0);
	if (!r)
		r = xattr_open(vol, oid, name, sealed, (size_t)len, buf);
	if (!r)
		r = len - BLK_OVERHEAD;
out:
	free(sealed);
	close(fd);
	return r;
}

int vol_setxattr(struct vol *vol, const char *path, const char *name,
		 const void *value, size_t size, int flags)
{
	char p[32], bname[XATTR_BACKING_MAX];
	uint8_t oid[FILE_ID_LEN], *sealed = NULL;
	int fd, r;

	r = xattr_name_encrypt(vol, name, bname);
	if (r)
		return r;
	fd = open_obj(vol, path, 0);
	if (fd < 0)
		return fd;
	sealed = malloc(size + BLK_OVERHEAD);
	if (!sealed) {
		r = -ENOMEM;
		goto out;
	}
	r = obj_id(vol, fd, oid, 1);
	if (!r)
		r = xattr_seal(vol, oid, name, value, size, sealed);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (!r && setxattr(p, bname, sealed, size + BLK_OVERHEAD, flags))
		r = -errno;
out:
	free(sealed);
	close(fd);
	return r;
}

/* ---- files ------------------------------------------------------------ */

int vol_file_open(struct vol *vol, const char *path, int flags,
		  mode_t mode, struct vol_file **fp)
{
	struct vol_file *f = NULL;
	struct where w;
	struct stat st;
	int r, oflags;

	*fp = NULL;
	r = resolve(vol, path, &w);
	if (r)
		return r;
	if (w.root) {
		r = -EISDIR;
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		r = -ENOMEM;
		goto out;
	}
	f->fc.vol = vol;
	f->fc.fd = -1;
	if ((flags & O_CREAT) && w.is_long) {
		r = name_sidecar_write(w.dirfd, w.bname, w.longenc);
		if (r)
			goto out;
	}
	oflags = (flags & O_ACCMODE) == O_RDONLY ? O_RDONLY : O_RDWR;
	oflags |= flags & (O_CREAT | O_EXCL);
	f->fc.fd = openat(w.dirfd, w.bname, oflags | O_NOFOLLOW | O_CLOEXEC,
			  mode);
	if (f->fc.fd < 0) {
		r = errno == ELOOP ? -EINVAL : -errno;
		goto out;
	}
	if (fstat(f->fc.fd, &st)) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	r = fc_load(&f->fc);
	if (!r && (flags & O_TRUNC) && oflags != O_RDONLY)
		r = fc_truncate(&f->fc, 0, &(uint64_t){ 0 });
	if (r)
		goto out;
	*fp = f;
	f = NULL;
out:
	vol_file_close(f);
	where_release(&w);
	return r;
}

ssize_t vol_file_pread(struct vol_file *f, void *buf, size_t len, off_t off,
		       uint64_t *badp)
{
	uint64_t bad = 0;
	ssize_t r;

	if (off < 0)
		return -EINVAL;
	r = fc_pread(&f->fc, buf, len, (uint64_t)off, &bad);
	if (badp)
		*badp = bad;
	return r;
}

ssize_t vol_file_pwrite(struct vol_file *f, const void *buf, size_t len,
			off_t off)
{
	if (off < 0)
		return -EINVAL;
	return fc_pwrite(&f->fc, buf, len, (uint64_t)off, &(uint64_t){ 0 });
}

int vol_file_truncate(struct vol_file *f, off_t size)
{
	if (size < 0)
		return -EINVAL;
	return fc_truncate(&f->fc, (uint64_t)size, &(uint64_t){ 0 });
}

int vol_file_stat(struct vol_file *f, struct stat *st)
{
	uint64_t size;

	if (fstat(f->fc.fd, st))
		return -errno;
	fc_plain_size((uint64_t)st->st_size, f->fc.vol->block_size, &size);
	st->st_size = (off_t)size;
	return 0;
}

int vol_file_fsync(struct vol_file *f, int datasync)
{
	int r = datasync ? fdatasync(f->fc.fd) : fsync(f->fc.fd);

	return r ? -errno : 0;
}

void vol_file_close(struct vol_file *f)
{
	if (!f)
		return;
	fc_release(&f->fc);
	if (f->fc.fd >= 0)
		close(f->fc.fd);
	free(f);
}

int vol_file_rewrap(struct vol *vol, const char *path)
{
	struct vol_file *f;
	int r = vol_file_open(vol, path, O_RDWR, 0, &f);

	if (r)
		return r;
	r = fc_rewrap(&f->fc, vol_kek_current(vol));
	if (!r && fsync(f->fc.fd))
		r = -errno;
	vol_file_close(f);
	return r;
}

/* ---- writing the tree ------------------------------------------------- */

int vol_mkdir(struct vol *vol, const char *path, mode_t mode)
{
	uint8_t id[DIRID_LEN];
	struct where w;
	char tmp[64];
	int fd = -1, r;

	r = resolve(vol, path, &w);
	if (r)
		return r;
	r = where_claim(&w);
	if (r)
		goto out;
	name_tmp(tmp);
	if (mkdirat(w.dirfd, tmp, mode & 07777)) {
		r = -errno;
		goto out;
	}
	fd = openat(w.dirfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = fd < 0 ? -errno : dirid_create(fd, id);
	if (!r && renameat2(w.dirfd, tmp, w.dirfd, w.bname, RENAME_NOREPLACE))
		r = -errno;
	if (r) {
		if (fd >= 0)
			unlinkat(fd, VOL_DIRID_NAME, 0);
		unlinkat(w.dirfd, tmp, AT_REMOVEDIR);
	}
out:
	if (fd >= 0)
		close(fd);
	where_release(&w);
	return r;
}

int vol_symlink(struct vol *vol, const char *target, const char *path)
{
	char enc[4096];
	struct where w;
	int r;

	r = symlink_encrypt(vol, target, enc, sizeof(enc));
	if (r)
		return r;
	r = resolve(vol, path, &w);
	if (r)
		return r;
	r = where_claim(&w);
	if (!r && symlinkat(enc, w.dirfd, w.bname))
		r = -errno;
	where_release(&w);
	return r;
}

int vol_link(struct vol *vol, const char *oldpath, const char *newpath)
{
	struct where w;
	int fd, r;

	fd = open_obj(vol, oldpath, 0);
	if (fd < 0)
		return fd;
	r = resolve(vol, newpath, &w);
	if (r)
		goto out;
	r = where_claim(&w);
	if (!r && linkat(fd, "", w.dirfd, w.bname, AT_EMPTY_PATH))
		r = -errno;
	where_release(&w);
out:
	close(fd);
	return r;
}

int vol_remove(struct vol *vol, const char *path)
{
	struct where w;
	struct stat st;
	char tmp[64];
	int fd = -1, r;

	r = resolve(vol, path, &w);
	if (r)
		return r;
	if (w.root) {
		r = -EBUSY;
		goto out;
	}
	if (fstatat(w.dirfd, w.bname, &st, AT_SYMLINK_NOFOLLOW)) {
		r = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = unlinkat(w.dirfd, w.bname, 0) ? -errno : 0;
	} else {
		struct dirent *de;
		DIR *dp;
		int dfd;

		fd = openat(w.dirfd, w.bname, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			goto out;
		}
		dfd = dup(fd);
		dp = dfd < 0 ? NULL : fdopendir(dfd);
		if (!dp) {
			r = -ENOMEM;
			goto out;
		}
		while ((de = readdir(dp)))
			if (strcmp(de->d_name, ".") &&
			    strcmp(de->d_name, "..") &&
			    strcmp(de->d_name, VOL_DIRID_NAME))
				r = -ENOTEMPTY;
		closedir(dp);
		if (r)
			goto out;
		name_tmp(tmp);
		if (renameat2(w.dirfd, w.bname, w.dirfd, tmp,
			      RENAME_NOREPLACE)) {
			r = -errno;
			goto out;
		}
		unlinkat(fd, VOL_DIRID_NAME, 0);
		if (unlinkat(w.dirfd, tmp, AT_REMOVEDIR))
			r = -errno;
	}
	if (!r)
		name_sidecar_remove(w.dirfd, w.bname);
out:
	if (fd >= 0)
		close(fd);
	where_release(&w);
	return r;
}

int vol_set_meta(struct vol *vol, const char *path, const struct stat *st,
		 unsigned int what)
{
	struct timespec ts[2];
	struct stat cur;
	char p[32];
	int fd = open_obj(vol, path, 0), r = 0;

	if (fd < 0)
		return fd;
	if (fstatat(fd, "", &cur, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		r = -errno;
		goto out;
	}
	if ((what & VOL_META_OWNER) &&
	    fchownat(fd, "", st->st_uid, st->st_gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		r = -errno;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (!r && (what & VOL_META_MODE) && !S_ISLNK(cur.st_mode) &&
	    chmod(p, st->st_mode & 07777))
		r = -errno;
	if (!r && (what & VOL_META_TIMES)) {
		ts[0] = st->st_atim;
		ts[1] = st->st_mtim;
		if (utimensat(fd, "", ts, AT_EMPTY_PATH))
			r = -errno;
	}
out:
	close(fd);
	return r;
}

/* ==== key management: KEK versions of files, rewrap, shred ===============
 *
 * For `phivault key rewrap|retire`, `shred` and `retention` (vol.h,
 * "files and keys").  These work on the header alone, by backing
 * descriptor, and may run while the volume is mounted; docs/KEYS.md
 * explains what that means for each.
 */

/* Open the backing file of the regular file at path. */
static int key_open(struct vol *vol, const char *path, int flags,
		    struct where *w, struct stat *st)
{
	int fd, r;

	r = resolve(vol, path, w);
	if (r)
		return r;
	if (w->root) {
		where_release(w);
		return -EISDIR;
	}
	fd = openat(w->dirfd, w->bname, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ELOOP ? -EINVAL : -errno;
		where_release(w);
		return r;
	}
	if (fstat(fd, st)) {
		r = -errno;
	} else if (!S_ISREG(st->st_mode)) {
		r = S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	} else {
		return fd;
	}
	close(fd);
	where_release(w);
	return r;
}

int vol_file_kek(struct vol *vol, const char *path, uint32_t *vp)
{
	uint8_t hdr[HDR_LEN];
	struct where w;
	struct stat st;
	ssize_t n;
	int fd, r;

	*vp = 0;
	fd = key_open(vol, path, O_RDONLY, &w, &st);
	if (fd < 0)
		return fd;
	n = pread_all(fd, hdr, HDR_LEN, 0);
	if (n < 0)
		r = (int)n;
	else if (n == 0)
		r = 0;			/* empty: no header, no key */
	else if (n < HDR_LEN || memcmp(hdr, HDR_MAGIC, 4))
		r = -PHV_EAUTH;
	else
		r = 0;
	if (!r && n == HDR_LEN)
		*vp = (uint32_t)hdr[24] << 24 | (uint32_t)hdr[25] << 16 |
		      (uint32_t)hdr[26] << 8 | hdr[27];
	close(fd);
	where_release(&w);
	return r;
}

int vol_file_rewrap_old(struct vol *vol, const char *path, uint32_t *fromp)
{
	struct fcrypt fc = { .vol = vol, .fd = -1 };
	uint8_t h1[HDR_LEN], h2[HDR_LEN];
	uint32_t cur = vol_kek_current(vol);
	struct where w;
	struct stat st;
	ssize_t n;
	int r;

	*fromp = 0;
	fc.fd = key_open(vol, path, O_RDWR, &w, &st);
	if (fc.fd < 0)
		return fc.fd;
	n = pread_all(fc.fd, h1, HDR_LEN, 0);
	r = n < 0 ? (int)n : fc_load(&fc);
	if (r || !fc.has_hdr || fc.kek_version == cur)
		goto out;
	*fromp = fc.kek_version;
	/*
	 * A mount may have cut the file to nothing and given it a new DEK
	 * since we read it: then the header is not ours to replace.
	 */
	if (pread_all(fc.fd, h2, HDR_LEN, 0) != HDR_LEN ||
	    memcmp(h1, h2, HDR_LEN)) {
		r = -EAGAIN;
		goto out;
	}
	r = fc_rewrap(&fc, cur);
	if (!r)
		r = 1;
out:
	fc_release(&fc);
	close(fc.fd);
	where_release(&w);
	return r;
}

int vol_file_shred(struct vol *vol, const char *path,
		   int (*unlink_fn)(void *ctx), void *ctx)
{
	uint8_t junk[HDR_LEN];
	struct where w;
	struct stat st;
	int fd, dfd = -1, r;

	fd = key_open(vol, path, O_RDWR, &w, &st);
	if (fd < 0)
		return fd;
	r = -EMLINK;
	if (st.st_nlink > 1)
		goto out;
	/* the header holds the only sealed copy of the DEK: first destroy
	 * it on disk, then the name */
	r = 0;
	if (st.st_size > 0)
		r = secmem_random(junk, sizeof(junk));
	if (!r && st.st_size > 0)
		r = pwrite_all(fd, junk, st.st_size < HDR_LEN ?
			       (size_t)st.st_size : HDR_LEN, 0);
	if (!r && fdatasync(fd))
		r = -errno;
	if (r)
		goto out;
	if (unlink_fn) {
		r = unlink_fn(ctx);
	} else if (unlinkat(w.dirfd, w.bname, 0)) {
		r = -errno;
	} else {
		name_sidecar_remove(w.dirfd, w.bname);
		dfd = openat(w.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0 && fsync(dfd))
			r = -errno;
	}
out:
	if (dfd >= 0)
		close(dfd);
	close(fd);
	where_release(&w);
	return r;
}
