/* SPDX-License-Identifier: MIT */
/*
 * passthrough.c - the "physical limit" anchor for the benchmarks: a FUSE
 * filesystem that mirrors a source directory and does nothing else.
 *
 * Usage: passthrough SRC MNT [-f] [-s] [-d] [-o timeout=SECS,...]
 *
 * Whatever phivault costs on top of this binary is the price of its
 * crypto and bookkeeping; whatever this binary costs on top of the native
 * directory is the price of FUSE itself. To keep that split honest it uses
 * the same libfuse low-level API and multi-threaded loop as phivault.
 *
 * Design. Every inode the kernel knows about is a struct pt_inode, keyed
 * in a hash table by the source (st_dev, st_ino) so that hard links and
 * repeated lookups share one node. A directory node holds an O_PATH
 * descriptor of the source directory. Any other node holds a file handle
 * (name_to_handle_at) and opens it on demand, so that 100,000 known files
 * do not need 100,000 descriptors; where handles do not work (another
 * mount, no CAP_DAC_READ_SEARCH) it holds an O_PATH descriptor too.
 * The FUSE node id is the address of the struct (the root is
 * FUSE_ROOT_ID). nlookup counts the kernel's references: lookup, create,
 * mkdir, symlink, link and readdirplus add one, forget takes them away,
 * and the node is closed and freed at zero. Operations on an O_PATH fd
 * that need a real descriptor go through /proc/self/fd/N. main() still
 * raises the open-file limit as far as it may, for directories and for
 * the fallback.
 *
 * Locking: table_lock guards the hash table and every nlookup. Nothing
 * else is shared between threads; open files and directory streams
 * belong to one kernel file each, and the kernel serialises readdir.
 *
 * Deliberately missing: mknod, xattrs, locks, ioctl, fallocate,
 * copy_file_range and the writeback cache. Permission checks are left to
 * the source filesystem, run as the daemon's user. This is a measuring
 * stick, not a product: it trusts the source tree and does not defend
 * against races in it.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#define PT_BUCKETS	(1U << 16)

struct pt_inode {
	struct pt_inode *next;		/* hash chain; table_lock */
	dev_t dev;
	ino_t ino;
	int fd;				/* O_PATH, owned; or -1 */
	struct file_handle *handle;	/* when fd is -1; owned */
	uint64_t nlookup;		/* table_lock */
};

struct pt_dir {
	DIR *dp;
	off_t offset;			/* where the stream stands */
};

struct pt_opts {
	char *source;
	double timeout;
};

static struct pt_inode pt_root;
static struct pt_inode *table[PT_BUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static double entry_timeout = 1.0;
static int mount_fd = -1;		/* source root, for open_by_handle_at */
static int mount_id;			/* handles only for this mount */
static int use_handles;

static unsigned int pt_hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (unsigned int)(h >> 40) & (PT_BUCKETS - 1);
}

static struct pt_inode *pt_node(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &pt_root;
	return (struct pt_inode *)(uintptr_t)ino;
}

static fuse_ino_t pt_id(struct pt_inode *node)
{
	if (node == &pt_root)
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)node;
}

static void pt_proc_path(char buf[static 64], int fd)
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

/*
 * A file handle for the object fd refers to, or NULL (out of memory, not
 * supported, or on another mount than the source root).
 */
static struct file_handle *pt_make_handle(int fd)
{
	struct file_handle *h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	struct file_handle *small;
	int mid;

	if (!h)
		return NULL;
	h->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", h, &mid, AT_EMPTY_PATH) ||
	    mid != mount_id) {
		free(h);
		return NULL;
	}
	small = realloc(h, sizeof(*h) + h->handle_bytes);
	return small ? small : h;
}

/*
 * An O_PATH descriptor for node: its own, or a new one in *tmpp that the
 * caller closes with pt_fd_done(). Returns -1 with errno set on failure
 * (ESTALE when the file is gone).
 */
static int pt_fd(struct pt_inode *node, int *tmpp)
{
	*tmpp = -1;
	if (node->fd >= 0)
		return node->fd;
	*tmpp = open_by_handle_at(mount_fd, node->handle,
				  O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return *tmpp;
}

static void pt_fd_done(int tmp)
{
	if (tmp >= 0)
		close(tmp);
}

/* Unlink node from its chain; table_lock held. */
static void pt_unhash(struct pt_inode *node)
{
	struct pt_inode **pp = &table[pt_hash(node->dev, node->ino)];

	while (*pp && *pp != node)
		pp = &(*pp)->next;
	if (*pp)
		*pp = node->next;
}

/*
 * Find or add the node for st and take one lookup reference on it. Takes
 * ownership of fd: it becomes the node's fd or is closed. Returns NULL
 * (and closes fd) only when out of memory.
 */
static struct pt_inode *pt_get(int fd, const struct stat *st)
{
	unsigned int h = pt_hash(st->st_dev, st->st_ino);
	struct pt_inode *node;

	pthread_mutex_lock(&table_lock);
	for (node = table[h]; node; node = node->next)
		if (node->dev == st->st_dev && node->ino == st->st_ino)
			break;
	if (node && node->fd < 0 && S_ISDIR(st->st_mode)) {
		/*
		 * The inode number of a deleted file now names a directory;
		 * the old node lives on, unhashed, until it is forgotten.
		 */
		pt_unhash(node);
		node = NULL;
	}
	if (!node) {
		node = calloc(1, sizeof(*node));
		if (node) {
			node->dev = st->st_dev;
			node->ino = st->st_ino;
			if (use_handles && !S_ISDIR(st->st_mode))
				node->handle = pt_make_handle(fd);
			node->fd = node->handle ? -1 : fd;
			if (!node->handle)
				fd = -1;
			node->next = table[h];
			table[h] = node;
		}
	}
	if (node)
		node->nlookup++;
	pthread_mutex_unlock(&table_lock);
	if (fd >= 0)
		close(fd);
	return node;
}

static void pt_put(struct pt_inode *node, uint64_t n)
{
	int drop = 0;

	pthread_mutex_lock(&table_lock);
	node->nlookup -= n < node->nlookup ? n : node->nlookup;
	if (node->nlookup == 0 && node != &pt_root) {
		pt_unhash(node);
		drop = 1;
	}
	pthread_mutex_unlock(&table_lock);
	if (drop) {
		if (node->fd >= 0)
			close(node->fd);
		free(node->handle);
		free(node);
	}
}

/* Look up name under parent and fill e; returns 0 or an errno value. */
static int pt_do_lookup(struct pt_inode *parent, const char *name,
			struct fuse_entry_param *e)
{
	struct pt_inode *node;
	int fd, err;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = entry_timeout;
	e->entry_timeout = entry_timeout;

	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		err = errno;
		close(fd);
		return err;
	}
	node = pt_get(fd, &e->attr);
	if (!node)
		return ENOMEM;
	e->ino = pt_id(node);
	return 0;
}

static void pt_reply_entry(fuse_req_t req, struct pt_inode *parent,
			   const char *name)
{
	struct fuse_entry_param e;
	int err = pt_do_lookup(parent, name, &e);

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	/* lookups in one directory need not queue behind each other */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void pt_destroy(void *userdata)
{
	unsigned int i;
	struct pt_inode *node, *next;

	for (i = 0; i < PT_BUCKETS; i++) {
		for (node = table[i]; node; node = next) {
			next = node->next;
			if (node->fd >= 0)
				close(node->fd);
			if (node != &pt_root) {
				free(node->handle);
				free(node);
			}
		}
		table[i] = NULL;
	}
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = pt_do_lookup(pt_node(parent), name, &e);

	if (err == ENOENT && entry_timeout > 0) {
		/* a zero node id is a cacheable negative entry */
		e.ino = 0;
		fuse_reply_entry(req, &e);
	} else if (err) {
		fuse_reply_err(req, err);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pt_put(pt_node(ino), nlookup);
	fuse_reply_none(req);
}

static void pt_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		pt_put(pt_node(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int tmp, fd, r, err;

	if (fi) {
		r = fstat((int)fi->fh, &st);
	} else {
		fd = pt_fd(pt_node(ino), &tmp);
		r = fd < 0 ? -1 : fstatat(fd, "", &st,
					  AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	}
	err = errno;
	if (!fi)
		pt_fd_done(tmp);
	if (r)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, entry_timeout);
}

static int pt_set_times(int fd, int opened, const struct stat *attr,
			int valid)
{
	struct timespec tv[2];
	char path[64];

	tv[0].tv_nsec = UTIME_OMIT;
	tv[1].tv_nsec = UTIME_OMIT;
	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;

	if (opened)
		return futimens(fd, tv);
	pt_proc_path(path, fd);
	return utimensat(AT_FDCWD, path, tv, 0);
}

/* Apply the changes in one setattr; returns 0 or -1 with errno set. */
static int pt_apply_attr(int fd, int opened, const struct stat *attr,
			 int valid)
{
	char path[64];
	uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
	gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

	pt_proc_path(path, fd);
	if (valid & FUSE_SET_ATTR_MODE) {
		if (opened ? fchmod(fd, attr->st_mode)
			   : chmod(path, attr->st_mode))
			return -1;
	}
	if ((valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -1;
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (opened ? ftruncate(fd, attr->st_size)
			   : truncate(path, attr->st_size))
			return -1;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		     FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW))
		return pt_set_times(fd, opened, attr, valid);
	return 0;
}

static void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	int tmp = -1, fd, err = 0;

	fd = fi ? (int)fi->fh : pt_fd(pt_node(ino), &tmp);
	if (fd < 0 || pt_apply_attr(fd, fi != NULL, attr, valid))
		err = errno;
	pt_fd_done(tmp);
	if (err)
		fuse_reply_err(req, err);
	else
		pt_getattr(req, ino, fi);
}

static void pt_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int tmp, fd = pt_fd(pt_node(ino), &tmp), err;
	ssize_t n = fd < 0 ? -1 : readlinkat(fd, "", buf, sizeof(buf));

	err = errno;
	pt_fd_done(tmp);
	if (n < 0) {
		fuse_reply_err(req, err);
		return;
	}
	if ((size_t)n >= sizeof(buf)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static void pt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct pt_inode *dir = pt_node(parent);

	if (mkdirat(dir->fd, name, mode))
		fuse_reply_err(req, errno);
	else
		pt_reply_entry(req, dir, name);
}

static void pt_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct pt_inode *dir = pt_node(parent);

	if (symlinkat(target, dir->fd, name))
		fuse_reply_err(req, errno);
	else
		pt_reply_entry(req, dir, name);
}

static void pt_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		    const char *name)
{
	struct pt_inode *dir = pt_node(parent);
	int tmp, fd = pt_fd(pt_node(ino), &tmp), r = -1, err;
	char path[64];

	if (fd >= 0) {
		pt_proc_path(path, fd);
		r = linkat(AT_FDCWD, path, dir->fd, name, AT_SYMLINK_FOLLOW);
	}
	err = errno;
	pt_fd_done(tmp);
	if (r)
		fuse_reply_err(req, err);
	else
		pt_reply_entry(req, dir, name);
}

static void pt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(pt_node(parent)->fd, name, 0) ? errno : 0);
}

static void pt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int r = unlinkat(pt_node(parent)->fd, name, AT_REMOVEDIR);

	fuse_reply_err(req, r ? errno : 0);
}

static void pt_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	int r = renameat2(pt_node(parent)->fd, name, pt_node(newparent)->fd,
			  newname, flags);

	fuse_reply_err(req, r ? errno : 0);
}

static void pt_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct pt_dir *d = calloc(1, sizeof(*d));
	int fd, err;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = openat(pt_node(ino)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		d->dp = fdopendir(fd);
	if (!d->dp) {
		err = errno;
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static int pt_is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Add one directory entry to buf; returns the bytes it needs, which the
 * caller compares with the room left. With plus set, a successful lookup
 * reference is dropped again when the entry did not fit.
 */
static size_t pt_add_entry(fuse_req_t req, struct pt_inode *dir,
			   char *buf, size_t room, const struct dirent *ent,
			   int plus)
{
	struct fuse_entry_param e;
	size_t need;

	if (!plus) {
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = ent->d_ino;
		e.attr.st_mode = (mode_t)DTTOIF(ent->d_type);
		return fuse_add_direntry(req, buf, room, ent->d_name,
					 &e.attr, ent->d_off);
	}
	if (pt_is_dot(ent->d_name) ||
	    pt_do_lookup(dir, ent->d_name, &e)) {
		/* no node id: the kernel just lists the name */
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = ent->d_ino;
		e.attr.st_mode = (mode_t)DTTOIF(ent->d_type);
	}
	need = fuse_add_direntry_plus(req, buf, room, ent->d_name, &e,
				      ent->d_off);
	if (need > room && e.ino)
		pt_put(pt_node(e.ino), 1);
	return need;
}

static void pt_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi, int plus)
{
	struct pt_dir *d = (struct pt_dir *)(uintptr_t)fi->fh;
	struct pt_inode *dir = pt_node(ino);
	char *buf = malloc(size);
	size_t used = 0, need;
	struct dirent *ent;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->offset = off;
	}
	for (;;) {
		errno = 0;
		ent = readdir(d->dp);
		if (!ent) {
			err = errno;
			break;
		}
		need = pt_add_entry(req, dir, buf + used, size - used, ent,
				    plus);
		if (need > size - used) {
			/* put the entry back for the next call */
			seekdir(d->dp, d->offset);
			break;
		}
		used += need;
		d->offset = ent->d_off;
	}
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	pt_do_readdir(req, ino, size, off, fi, 0);
}

static void pt_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	pt_do_readdir(req, ino, size, off, fi, 1);
}

static void pt_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct pt_dir *d = (struct pt_dir *)(uintptr_t)fi->fh;

	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void pt_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct pt_dir *d = (struct pt_dir *)(uintptr_t)fi->fh;
	int fd = dirfd(d->dp);
	int r = datasync ? fdatasync(fd) : fsync(fd);

	fuse_reply_err(req, r ? errno : 0);
}

static void pt_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd, err;

	fd = openat(pt_node(parent)->fd, name,
		    (fi->flags | O_CREAT | O_CLOEXEC) & ~O_NOFOLLOW, mode);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = pt_do_lookup(pt_node(parent), name, &e);
	if (err) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)fd;
	if (fuse_reply_create(req, &e, fi)) {
		/* the kernel will neither release nor forget */
		close(fd);
		pt_put(pt_node(e.ino), 1);
	}
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_inode *node = pt_node(ino);
	int flags = (fi->flags | O_CLOEXEC) & ~(O_NOFOLLOW | O_CREAT);
	char path[64];
	int fd;

	if (node->handle) {
		fd = open_by_handle_at(mount_fd, node->handle, flags);
	} else {
		pt_proc_path(path, node->fd);
		fd = open(path, flags);
	}
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)fd;
	if (fuse_reply_open(req, fi))
		close(fd);
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

	/* let libfuse splice straight from the source file when it can */
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = (int)fi->fh;
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

static void pt_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t n;

	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = (int)fi->fh;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void pt_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	/* closing a duplicate reports delayed write errors of the source */
	int fd = dup((int)fi->fh);

	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_err(req, close(fd) ? errno : 0);
}

static void pt_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int fd = (int)fi->fh;
	int r = datasync ? fdatasync(fd) : fsync(fd);

	fuse_reply_err(req, r ? errno : 0);
}

static void pt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	/* the root answers for the whole source filesystem */
	if (fstatvfs(pt_root.fd, &sv))
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops pt_ops = {
	.init		= pt_init,
	.destroy	= pt_destroy,
	.lookup		= pt_lookup,
	.forget		= pt_forget,
	.forget_multi	= pt_forget_multi,
	.getattr	= pt_getattr,
	.setattr	= pt_setattr,
	.readlink	= pt_readlink,
	.mkdir		= pt_mkdir,
	.symlink	= pt_symlink,
	.link		= pt_link,
	.unlink		= pt_unlink,
	.rmdir		= pt_rmdir,
	.rename		= pt_rename,
	.opendir	= pt_opendir,
	.readdir	= pt_readdir,
	.readdirplus	= pt_readdirplus,
	.releasedir	= pt_releasedir,
	.fsyncdir	= pt_fsyncdir,
	.create		= pt_create,
	.open		= pt_open,
	.read		= pt_read,
	.write_buf	= pt_write_buf,
	.flush		= pt_flush,
	.release	= pt_release,
	.fsync		= pt_fsync,
	.statfs		= pt_statfs,
};

static const struct fuse_opt pt_opt_spec[] = {
	{ "timeout=%lf", offsetof(struct pt_opts, timeout), 0 },
	FUSE_OPT_END
};

/* The first bare argument is the source; everything else goes to libfuse. */
static int pt_opt_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct pt_opts *opts = data;

	if (key == FUSE_OPT_KEY_NONOPT && !opts->source) {
		opts->source = strdup(arg);
		return 0;
	}
	return 1;
}

static void pt_usage(const char *prog)
{
	printf("usage: %s SRC MNT [-f] [-s] [-d] [-o timeout=SECS,...]\n\n"
	       "Mirror SRC at MNT through FUSE with no other processing.\n"
	       "  -o timeout=SECS   entry and attribute cache time "
	       "(default 1.0)\n\n", prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

static rlim_t pt_nr_open(void)
{
	unsigned long long n = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");

	if (f) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return (rlim_t)n;
}

/* One fd per known inode: take as many descriptors as we may. */
static void pt_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = pt_nr_open();

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (want > rl.rlim_max) {
		/* only works with CAP_SYS_RESOURCE; fine to fail */
		struct rlimit up = { .rlim_cur = want, .rlim_max = want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* Use file handles only if a round trip through them works here. */
static void pt_probe_handles(const char *source)
{
	struct file_handle *h;
	int fd;

	mount_fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		return;
	h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	if (!h)
		return;
	h->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(mount_fd, "", h, &mount_id, AT_EMPTY_PATH) == 0) {
		fd = open_by_handle_at(mount_fd, h, O_PATH | O_CLOEXEC);
		if (fd >= 0) {
			use_handles = 1;
			close(fd);
		}
	}
	free(h);
}

static int pt_open_root(const char *source)
{
	struct stat st;

	pt_root.fd = open(source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pt_root.fd < 0 || fstat(pt_root.fd, &st)) {
		fprintf(stderr, "passthrough: %s: %s\n", source,
			strerror(errno));
		return -1;
	}
	pt_root.dev = st.st_dev;
	pt_root.ino = st.st_ino;
	pt_probe_handles(source);
	pt_root.nlookup = 1;
	pt_root.next = table[pt_hash(st.st_dev, st.st_ino)];
	table[pt_hash(st.st_dev, st.st_ino)] = &pt_root;
	return 0;
}

static int pt_run(struct fuse_session *se, struct fuse_cmdline_opts *cmd)
{
	struct fuse_loop_config *cfg;
	int r;

	if (fuse_set_signal_handlers(se))
		return 1;
	if (fuse_session_mount(se, cmd->mountpoint)) {
		fuse_remove_signal_handlers(se);
		return 1;
	}
	fuse_daemonize(cmd->foreground);

	if (cmd->singlethread) {
		r = fuse_session_loop(se);
	} else {
		cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, (unsigned int)cmd->clone_fd);
		/* UINT_MAX means "not given": keep libfuse's defaults */
		if (cmd->max_threads != UINT_MAX)
			fuse_loop_cfg_set_max_threads(cfg, cmd->max_threads);
		if (cmd->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(cfg,
						       cmd->max_idle_threads);
		r = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	return r ? 1 : 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct pt_opts opts = { .source = NULL, .timeout = 1.0 };
	struct fuse_cmdline_opts cmd;
	struct fuse_session *se = NULL;
	int r = 1;

	memset(&cmd, 0, sizeof(cmd));
	if (fuse_opt_parse(&args, &opts, pt_opt_spec, pt_opt_proc) ||
	    fuse_parse_cmdline(&args, &cmd))
		goto out;
	if (cmd.show_help) {
		pt_usage(argv[0]);
		r = 0;
		goto out;
	}
	if (cmd.show_version) {
		printf("FUSE library version %s\n", fuse_pkgversion());
		r = 0;
		goto out;
	}
	if (!opts.source || !cmd.mountpoint) {
		fprintf(stderr, "usage: %s SRC MNT [-f] [-o OPTS]\n", argv[0]);
		goto out;
	}
	if (opts.timeout < 0) {
		fprintf(stderr, "passthrough: timeout must be >= 0\n");
		goto out;
	}
	entry_timeout = opts.timeout;
	umask(0);		/* the kernel already applied the caller's */
	pt_raise_nofile();
	if (pt_open_root(opts.source))
		goto out;

	se = fuse_session_new(&args, &pt_ops, sizeof(pt_ops), NULL);
	if (!se)
		goto out;
	r = pt_run(se, &cmd);
out:
	if (se)
		fuse_session_destroy(se);
	free(opts.source);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return r;
}
