// SPDX-License-Identifier: MIT
/*
 * fuse_ops.c - the FUSE low-level operations of a mounted volume.
 *
 * Design: a passthrough over the backing directory.  Every inode the
 * kernel knows is a struct node keyed by the backing (st_dev, st_ino) and
 * holding an O_PATH descriptor; the FUSE node ID is the node's address and
 * the st_ino we report is the backing inode number, so inode numbers stay
 * stable however often the kernel drops its caches.  Names are encrypted
 * with the parent's directory ID (cached in the node), contents through
 * crypt.c on one shared read-write backing descriptor per open inode.
 * The kernel's writeback cache, POSIX and flock locks and permission
 * checks (default_permissions) are used as they are.
 *
 * Invariants: each op replies exactly once; project codes become errno in
 * reply_err(); a node lives while the kernel holds lookups on it or a
 * child names it as parent (nref), so its plaintext path can always be
 * rebuilt for a log line.  Authentication failures are logged with the
 * plaintext path, the block and the backing path, then reported as EIO.
 *
 * Lock order: node_fs.rw, then node_fs.lock, then tab_lock (a leaf).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "common/err.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "policy/guard.h"
#include "fuse_ops.h"
#include "vol_i.h"

#define TAB_BITS	17
/*
 * Entry, attribute and negative-entry timeouts.  The mount is the only
 * writer of its backing directory (docs/FORMAT.md, "Mount behaviour"),
 * and the kernel updates or invalidates what it caches after each of its
 * own changes, so nothing cached can go stale behind its back: a day is
 * as good as forever, and it spares a LOOKUP or GETATTR per entry on
 * every pass over a tree that takes longer than a second.
 */
#define TIMEOUT		86400.0
#define MAX_WRITE	(1U << 20)

/* State of a regular file that has been opened at least once. */
struct node_fs {
	pthread_rwlock_t rw;		/* contents: read shared, write excl */
	pthread_mutex_t lock;		/* nopen, fc.fd, fc.dek */
	unsigned int nopen;
	uint64_t logged_bad;		/* 1 + last block logged, or 0 */
	struct fcrypt fc;
};

struct node {
	struct node *hnext;		/* tab_lock */
	struct node *lprev, *lnext;	/* age list for eviction; tab_lock */
	dev_t dev;
	ino_t ino;
	int fd;				/* O_PATH, immutable */
	mode_t type;			/* S_IFMT bits, immutable */
	uint64_t nlookup;		/* tab_lock */
	unsigned int nref;		/* children naming us; tab_lock */
	struct node *parent;		/* for log paths; tab_lock */
	char *name;			/* plaintext; tab_lock */
	int has_dirid;			/* dirs: tab_lock */
	uint8_t dirid[DIRID_LEN];
	struct node_fs *fs;		/* regular files; tab_lock to set */
	int64_t link_size;		/* symlinks: target length + 1, 0 until
					 * known (targets never change); atomic */
};

struct vol_fuse {
	struct vol *vol;
	struct fuse_session *se;
	struct node root;
	int debug;
	struct guard *guard;		/* NULL: no policy; set once, atomic */
};

static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node *tab[1U << TAB_BITS];

/*
 * Every node holds a descriptor, and RLIMIT_NOFILE may be small (its hard
 * limit cannot be raised without CAP_SYS_RESOURCE).  Above a high-water
 * mark the evictor thread asks the kernel to drop its oldest dentries
 * (notify_inval_entry), the kernel then forgets the inodes and we close
 * their descriptors.  The notification must not come from a request
 * thread: the kernel may hold the directory lock the request waits on.
 */
static struct node age_list = { .lprev = &age_list, .lnext = &age_list };
static unsigned long nnodes, hiwat = 12000, lowat = 9000;	/* tab_lock */
static pthread_cond_t evict_cond = PTHREAD_COND_INITIALIZER;
static int evict_stop;

static void age_unlink(struct node *n)
{
	n->lprev->lnext = n->lnext;
	n->lnext->lprev = n->lprev;
}

static void age_append(struct node *n)
{
	n->lprev = age_list.lprev;
	n->lnext = &age_list;
	age_list.lprev->lnext = n;
	age_list.lprev = n;
}

struct dirh {
	DIR *dp;
	off_t offset;
	struct dirent *entry;		/* read but not yet returned */
};

static struct vol_fuse *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct node *node_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &ctx_of(req)->root;
	return (struct node *)(uintptr_t)ino;
}

static void procpath(int fd, char *buf)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* Reply with a negative code (0 is success), mapped to errno. */
static int reply_err(fuse_req_t req, int code)
{
	return fuse_reply_err(req, code ? phv_errno(code) : 0);
}

/* ---- access policy (policy/guard.h) ---------------------------------- */

/*
 * With no policy installed f->guard is NULL and every op pays one load
 * and one branch.  With one, each op builds the plaintext path of what
 * it touches, asks guard_check() before touching anything and reports
 * mutations with guard_done() after.  An open regular file keeps its
 * struct guard_file in fi->fh (0 without a policy).
 */
#define WHO_GROUPS	128

struct who {
	struct policy_caller c;
	gid_t groups[WHO_GROUPS];
};

static struct guard *guard_of(fuse_req_t req)
{
	return __atomic_load_n(&ctx_of(req)->guard, __ATOMIC_ACQUIRE);
}

/* The caller as the kernel reports it; missing groups only deny. */
static void who_of(fuse_req_t req, struct who *w)
{
	const struct fuse_ctx *x = fuse_req_ctx(req);
	int n = guard_groups(guard_of(req), req, w->groups, WHO_GROUPS);

	w->c.uid = x->uid;
	w->c.gid = x->gid;
	w->c.pid = x->pid;
	w->c.groups = w->groups;
	w->c.ngroups = n < 0 ? 0 : n > WHO_GROUPS ? WHO_GROUPS : n;
}

/*
 * Plaintext path of n, or of name in directory n when name is set, for a
 * policy decision: exact or an error, never truncated.  A node whose
 * chain does not reach the root (no name recorded) is refused.
 */
static int node_policy_path(struct vol_fuse *f, struct node *n,
			    const char *name, char *buf, size_t size)
{
	size_t len = name ? strlen(name) + 1 : 0, pos, k;
	struct node *p;
	int r = -ENAMETOOLONG;

	pthread_mutex_lock(&tab_lock);
	for (p = n; p != &f->root; p = p->parent) {
		if (!p || !p->name) {
			r = -ESTALE;
			goto out;
		}
		len += strlen(p->name) + 1;
	}
	if (len + 2 > size)
		goto out;
	pos = len;
	buf[pos] = '\0';
	if (name) {
		k = strlen(name);
		pos -= k;
		memcpy(buf + pos, name, k);
		buf[--pos] = '/';
	}
	for (p = n; p != &f->root; p = p->parent) {
		k = strlen(p->name);
		pos -= k;
		memcpy(buf + pos, p->name, k);
		buf[--pos] = '/';
	}
	if (!len)
		strcpy(buf, "/");
	r = 0;
out:
	pthread_mutex_unlock(&tab_lock);
	return r;
}

/*
 * How long the kernel may keep names and attributes.  Without a policy:
 * TIMEOUT for both.  Under a policy, names are not cached at all: the
 * kernel's name cache is shared by every caller, so a name one user
 * looked up would let the next walk through it without asking us.  With
 * entry_secs() zero every path walk sends a LOOKUP for each component,
 * decided for the caller who walks, before the kernel uses any inode.
 *
 * Attributes hang off the inode, not the name, so they may be kept for
 * POLICED_ATTR_SECS: the only ways to an inode are a LOOKUP (decided),
 * an open descriptor or a working directory the caller got while it was
 * allowed, or another process's /proc entries (its own uid, or root).
 * What that can show after a revocation is at most one second of stale
 * size and times of something the caller could just see.  In exchange a
 * path walk costs one round trip per component instead of two (LOOKUP
 * plus the GETATTR the permission check would send); see
 * docs/PERFORMANCE.md, "Policy".
 */
#define POLICED_ATTR_SECS	1.0

static double entry_secs(struct vol_fuse *f)
{
	return __atomic_load_n(&f->guard, __ATOMIC_RELAXED) ? 0.0 : TIMEOUT;
}

static double attr_secs(struct vol_fuse *f)
{
	return __atomic_load_n(&f->guard, __ATOMIC_RELAXED) ?
	       POLICED_ATTR_SECS : TIMEOUT;
}

/* Decide op on n (or name in n): fills w and path; 0 or a code. */
static int guard_pre(fuse_req_t req, struct guard *g, enum guard_op op,
		     struct node *n, const char *name, int arg,
		     struct who *w, char *path)
{
	int r;

	who_of(req, w);
	r = node_policy_path(ctx_of(req), n, name, path, PATH_MAX);
	if (r)
		return r;
	return guard_check(g, &w->c, op, path, NULL, arg);
}

/*
 * The prologue of a policed op: guard_pre() when a policy is installed.
 * On a denial the request has been answered and the op must return.
 */
static int guard_gate(fuse_req_t req, struct guard *g, enum guard_op op,
		      struct node *n, const char *name, int arg,
		      struct who *w, char *path)
{
	int r;

	if (!g)
		return 0;
	r = guard_pre(req, g, op, n, name, arg, w, path);
	if (r)
		reply_err(req, r);
	return r;
}

/* The epilogue: report the outcome r to the policy, then reply with r. */
static void guard_reply(fuse_req_t req, struct guard *g, struct who *w,
			enum guard_op op, const char *path, const char *path2,
			int arg, int r)
{
	if (g)
		guard_done(g, &w->c, op, path, path2, arg, r);
	reply_err(req, r);
}

/* ---- the node table -------------------------------------------------- */

static size_t tab_hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev;

	return (size_t)(h >> (64 - TAB_BITS));
}

static void node_free_locked(struct node *n);

/* Find (taking a lookup) or insert a node for fd; fd is consumed. */
static struct node *node_get(struct node *parent, const char *name, int fd,
			     const struct stat *st)
{
	size_t h = tab_hash(st->st_dev, st->st_ino);
	struct node *n, *fresh = NULL;
	char *nm = strdup(name);

	pthread_mutex_lock(&tab_lock);
	for (n = tab[h]; n; n = n->hnext)
		if (n->dev == st->st_dev && n->ino == st->st_ino)
			break;
	if (!n) {
		fresh = calloc(1, sizeof(*fresh));
		if (!fresh || !nm) {
			pthread_mutex_unlock(&tab_lock);
			free(fresh);
			free(nm);
			close(fd);
			return NULL;
		}
		n = fresh;
		n->dev = st->st_dev;
		n->ino = st->st_ino;
		n->fd = fd;
		n->type = st->st_mode & S_IFMT;
		n->hnext = tab[h];
		tab[h] = n;
		fd = -1;
		age_append(n);
		if (++nnodes > hiwat)
			pthread_cond_signal(&evict_cond);
	} else {
		age_unlink(n);
		age_append(n);
	}
	n->nlookup++;
	if (nm && parent && n->parent != parent) {
		struct node *old = n->parent;

		parent->nref++;
		n->parent = parent;
		if (old) {
			old->nref--;
			node_free_locked(old);
		}
	}
	if (nm) {
		free(n->name);
		n->name = nm;
	}
	pthread_mutex_unlock(&tab_lock);
	if (fd >= 0)
		close(fd);
	return n;
}

static struct node *node_find(const struct stat *st)
{
	size_t h = tab_hash(st->st_dev, st->st_ino);
	struct node *n;

	for (n = tab[h]; n; n = n->hnext)
		if (n->dev == st->st_dev && n->ino == st->st_ino)
			return n;
	return NULL;
}

static void node_free_locked(struct node *n)
{
	struct node **pp;
	size_t h;

	while (n && !n->nlookup && !n->nref && n->ino) {
		struct node *p = n->parent;

		h = tab_hash(n->dev, n->ino);
		age_unlink(n);
		nnodes--;
		for (pp = &tab[h]; *pp; pp = &(*pp)->hnext) {
			if (*pp == n) {
				*pp = n->hnext;
				break;
			}
		}
		if (n->fs) {
			if (n->fs->fc.fd >= 0)
				close(n->fs->fc.fd);
			fc_release(&n->fs->fc);
			pthread_rwlock_destroy(&n->fs->rw);
			pthread_mutex_destroy(&n->fs->lock);
			free(n->fs);
		}
		close(n->fd);
		free(n->name);
		free(n);
		if (!p)
			break;
		p->nref--;
		n = p;
	}
}

static void node_forget(struct node *n, uint64_t count)
{
	pthread_mutex_lock(&tab_lock);
	if (n->nlookup < count)
		n->nlookup = 0;
	else
		n->nlookup -= count;
	node_free_locked(n);
	pthread_mutex_unlock(&tab_lock);
}

/* Plaintext path of n for log lines ("/a/b"); best effort. */
static void node_path(struct node *n, char *buf, size_t size)
{
	const char *parts[64];
	size_t pos = 0;
	int k = 0;

	pthread_mutex_lock(&tab_lock);
	for (; n && n->name && k < 64; n = n->parent)
		parts[k++] = n->name;
	buf[0] = '\0';
	while (k-- > 0 && pos + 1 < size) {
		int w = snprintf(buf + pos, size - pos, "/%s", parts[k]);

		if (w < 0)
			break;
		pos += (size_t)w;
		if (pos >= size)
			pos = size - 1;
	}
	if (!buf[0])
		snprintf(buf, size, "/");
	pthread_mutex_unlock(&tab_lock);
}

static void backing_path(int fd, char *buf, size_t size)
{
	char p[32];
	ssize_t n;

	procpath(fd, p);
	n = readlink(p, buf, size - 1);
	buf[n < 0 ? 0 : n] = '\0';
}

static void log_damage(struct node *n, const char *what, uint64_t block,
		       int has_block)
{
	char path[1024], bpath[PATH_MAX];

	node_path(n, path, sizeof(path));
	backing_path(n->fd, bpath, sizeof(bpath));
	if (has_block)
		log_ratelimited(LOG_ERR, "%s: block %llu failed authentication"
				" (%s; backing %s)", path,
				(unsigned long long)block, what, bpath);
	else
		log_ratelimited(LOG_ERR, "%s: %s failed authentication "
				"(backing %s)", path, what, bpath);
}

/* The directory ID of directory node n (cached). */
static int node_dirid(struct vol_fuse *f, struct node *n,
		      uint8_t id[static DIRID_LEN])
{
	int r, has;

	pthread_mutex_lock(&tab_lock);
	has = n->has_dirid;
	if (has)
		memcpy(id, n->dirid, DIRID_LEN);
	pthread_mutex_unlock(&tab_lock);
	if (has)
		return 0;
	r = dirid_read(n->fd, id);
	if (r == -PHV_EAUTH) {
		char path[1024], bpath[PATH_MAX];

		node_path(n, path, sizeof(path));
		backing_path(n->fd, bpath, sizeof(bpath));
		log_ratelimited(LOG_ERR, "%s: directory ID file %s missing or "
				"damaged (backing %s)", path, VOL_DIRID_NAME,
				bpath);
		return r;
	}
	if (r)
		return r;
	pthread_mutex_lock(&tab_lock);
	memcpy(n->dirid, id, DIRID_LEN);
	n->has_dirid = 1;
	pthread_mutex_unlock(&tab_lock);
	return 0;
}

/* Encrypted backing name of `name` in directory node dn. */
static int node_bname(struct vol_fuse *f, struct node *dn, const char *name,
		      char *bname, char *longenc)
{
	uint8_t id[DIRID_LEN];
	int r = node_dirid(f, dn, id);

	if (r)
		return r;
	return name_encrypt(f->vol, id, name, bname, longenc);
}

/* ---- attributes ------------------------------------------------------- */

/* Turn a backing stat into the plaintext one. */
static void fix_stat(struct vol_fuse *f, struct node *n, int dirfd,
		     const char *bname, struct stat *st)
{
	uint64_t size;

	if (S_ISREG(st->st_mode)) {
		if (fc_plain_size((uint64_t)st->st_size, f->vol->block_size,
				  &size) && n)
			log_damage(n, "file size", size / f->vol->block_size,
				   1);
		st->st_size = (off_t)size;
	} else if (S_ISLNK(st->st_mode)) {
		char enc[4096], plain[4097];
		ssize_t len;

		/*
		 * The length needs a decryption, and reading the backing
		 * link may advance its atime (relatime): once per node.
		 */
		len = n ? __atomic_load_n(&n->link_size, __ATOMIC_RELAXED) : 0;
		if (len > 0) {
			st->st_size = len - 1;
			return;
		}
		if (bname)
			len = readlinkat(dirfd, bname, enc, sizeof(enc) - 1);
		else
			len = readlinkat(n->fd, "", enc, sizeof(enc) - 1);
		if (len >= 0) {
			enc[len] = '\0';
			len = symlink_decrypt(f->vol, enc, plain,
					      sizeof(plain));
		}
		st->st_size = len < 0 ? 0 : len;
		if (n && len >= 0)
			__atomic_store_n(&n->link_size, (int64_t)len + 1,
					 __ATOMIC_RELAXED);
	}
}

static int node_stat(struct vol_fuse *f, struct node *n, struct stat *st)
{
	if (fstatat(n->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	fix_stat(f, n, -1, NULL, st);
	/* a file open for writing: the size the writers see */
	return 0;
}

/* openat(O_PATH), waiting for the evictor when out of descriptors. */
static int open_path_retry(int dirfd, const char *bname)
{
	int fd, i;

	for (i = 0; i < 200; i++) {
		fd = openat(dirfd, bname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EMFILE && errno != ENFILE)
			return -errno;
		pthread_mutex_lock(&tab_lock);
		pthread_cond_signal(&evict_cond);
		pthread_mutex_unlock(&tab_lock);
		usleep(10000);
	}
	return -EMFILE;
}

static int do_lookup(struct vol_fuse *f, struct node *dn, const char *name,
		     struct fuse_entry_param *e)
{
	char bname[256];
	struct node *n;
	int fd, r;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = attr_secs(f);
	e->entry_timeout = entry_secs(f);
	r = node_bname(f, dn, name, bname, NULL);
	if (r < 0)
		return r;
	fd = open_path_retry(dn->fd, bname);
	if (fd < 0)
		return fd;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		r = -errno;
		close(fd);
		return r;
	}
	n = node_get(dn, name, fd, &e->attr);
	if (!n)
		return -ENOMEM;
	fix_stat(f, n, dn->fd, bname, &e->attr);
	e->ino = (uintptr_t)n;
	return 0;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct guard *g = guard_of(req);
	struct fuse_entry_param e;
	char path[PATH_MAX];
	struct who w;
	int r;

	if (guard_gate(req, g, GUARD_LOOKUP, node_of(req, parent),
		       name, 0, &w, path))
		return;
	r = do_lookup(ctx_of(req), node_of(req, parent), name, &e);
	if (r == -ENOENT) {
		/* a negative entry the kernel may cache */
		e.ino = 0;
		fuse_reply_entry(req, &e);
		return;
	}
	if (r)
		reply_err(req, r);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (ino != FUSE_ROOT_ID)
		node_forget(node_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (forgets[i].ino != FUSE_ROOT_ID)
			node_forget(node_of(req, forgets[i].ino),
				    forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	char path[PATH_MAX];
	struct stat st;
	struct who w;
	int r = 0;

	/* the mount point itself stays visible (stat, df, mountpoint) */
	if (g && n != &ctx_of(req)->root)
		r = guard_pre(req, g, GUARD_LOOKUP, n, NULL, 0, &w, path);
	if (!r)
		r = node_stat(ctx_of(req), n, &st);
	if (r)
		reply_err(req, r);
	else
		fuse_reply_attr(req, &st, attr_secs(ctx_of(req)));
}

/* ---- opening regular files ------------------------------------------- */

static struct node_fs *node_fs_get(struct node *n)
{
	struct node_fs *fs;

	pthread_mutex_lock(&tab_lock);
	if (!n->fs) {
		fs = calloc(1, sizeof(*fs));
		if (fs) {
			pthread_rwlock_init(&fs->rw, NULL);
			pthread_mutex_init(&fs->lock, NULL);
			fs->fc.fd = -1;
			n->fs = fs;
		}
	}
	fs = n->fs;
	pthread_mutex_unlock(&tab_lock);
	return fs;
}

/* Count one more opener of n; the first one opens the backing file and
 * loads the header. */
static int node_open(struct vol_fuse *f, struct node *n)
{
	struct node_fs *fs = node_fs_get(n);
	char p[32];
	int r = 0, fd;

	if (!fs)
		return -ENOMEM;
	pthread_mutex_lock(&fs->lock);
	if (fs->nopen++)
		goto out;
	procpath(n->fd, p);
	/* O_NOATIME: our own header reads must not touch atime */
	fd = open(p, O_RDWR | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	fs->fc.vol = f->vol;
	fs->fc.fd = fd;
	r = fc_load(&fs->fc);
	if (!r)
		goto out;
	if (r == -PHV_EAUTH || r == -PHV_EFORMAT)
		log_damage(n, "file header", 0, 0);
	close(fd);
	fs->fc.fd = -1;
	fc_release(&fs->fc);
fail:
	fs->nopen--;
out:
	pthread_mutex_unlock(&fs->lock);
	return r;
}

/* node_open() for a file we just created empty through fd (consumed):
 * no second open and no header read. */
static int node_adopt(struct vol_fuse *f, struct node *n, int fd)
{
	struct node_fs *fs = node_fs_get(n);

	if (!fs) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&fs->lock);
	if (fs->nopen++) {
		close(fd);
	} else {
		fs->fc.vol = f->vol;
		fs->fc.fd = fd;
		fs->fc.bs = f->vol->block_size;
		fs->fc.has_hdr = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

static void node_close(struct node *n)
{
	struct node_fs *fs = n->fs;

	pthread_mutex_lock(&fs->lock);
	if (!--fs->nopen) {
		close(fs->fc.fd);
		fs->fc.fd = -1;
		fc_release(&fs->fc);
	}
	pthread_mutex_unlock(&fs->lock);
}

static int node_truncate(struct vol_fuse *f, struct node *n, off_t size)
{
	uint64_t bad = 0;
	int r;

	r = node_open(f, n);
	if (r)
		return r;
	pthread_rwlock_wrlock(&n->fs->rw);
	r = fc_truncate(&n->fs->fc, (uint64_t)size, &bad);
	pthread_rwlock_unlock(&n->fs->rw);
	if (r == -PHV_EAUTH)
		log_damage(n, "truncate", bad, 1);
	node_close(n);
	return r;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	struct guard_file *gf = NULL;
	char path[PATH_MAX];
	struct who w;
	int r;

	if (n->type != S_IFREG) {
		reply_err(req, n->type == S_IFDIR ? -EISDIR : -EINVAL);
		return;
	}
	if (g) {
		who_of(req, &w);
		r = node_policy_path(f, n, NULL, path, sizeof(path));
		if (!r)
			r = guard_file_open(g, &w.c, path, fi->flags, &gf);
		if (r) {
			reply_err(req, r);
			return;
		}
	}
	r = node_open(f, n);
	if (!r && (fi->flags & O_TRUNC)) {
		pthread_rwlock_wrlock(&n->fs->rw);
		r = fc_truncate(&n->fs->fc, 0, &(uint64_t){ 0 });
		pthread_rwlock_unlock(&n->fs->rw);
		if (r)
			node_close(n);
	}
	if (gf)
		guard_file_opened(g, gf, r);
	if (r) {
		reply_err(req, r);
		return;
	}
	fi->keep_cache = 1;
	fi->fh = (uintptr_t)gf;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		guard_file_release(g, gf, 0, 0);
		node_close(n);
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct guard_file *gf = (struct guard_file *)(uintptr_t)fi->fh;

	if (gf)
		guard_file_release(guard_of(req), gf, 0, 0);
	node_close(node_of(req, ino));
	fuse_reply_err(req, 0);
}

/* A per-thread plaintext buffer for read replies (a 1 MiB malloc per
 * request would be an mmap and 256 page faults each time). */
static pthread_key_t rbuf_key;
static pthread_once_t rbuf_once = PTHREAD_ONCE_INIT;

struct rbuf {
	size_t size;
	char buf[];
};

static void rbuf_free(void *p)
{
	struct rbuf *b = p;

	secmem_wipe(b->buf, b->size);
	free(b);
}

static void rbuf_setup(void)
{
	pthread_key_create(&rbuf_key, rbuf_free);
}

static char *read_buf(size_t size)
{
	struct rbuf *b;

	pthread_once(&rbuf_once, rbuf_setup);
	b = pthread_getspecific(rbuf_key);
	if (b && b->size >= size)
		return b->buf;
	if (b)
		rbuf_free(b);
	b = malloc(sizeof(*b) + (size > MAX_WRITE ? size : MAX_WRITE));
	pthread_setspecific(rbuf_key, b);
	if (!b)
		return NULL;
	b->size = size > MAX_WRITE ? size : MAX_WRITE;
	return b->buf;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	uint64_t bad = 0;
	char *buf = read_buf(size);
	ssize_t r;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	pthread_rwlock_rdlock(&n->fs->rw);
	r = fc_pread(&n->fs->fc, buf, size, (uint64_t)off, &bad);
	pthread_rwlock_unlock(&n->fs->rw);
	/* the kernel retries a failed page read: one line per block */
	if (r == -PHV_EAUTH &&
	    __atomic_exchange_n(&n->fs->logged_bad, bad + 1,
				__ATOMIC_RELAXED) != bad + 1)
		log_damage(n, "read", bad, 1);
	if (r > 0 && fi->fh)
		guard_file_io((struct guard_file *)(uintptr_t)fi->fh,
			      (size_t)r, 0);
	if (r < 0)
		reply_err(req, (int)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	secmem_wipe(buf, r > 0 ? (size_t)r : 0);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	uint64_t bad = 0;
	ssize_t r;

	pthread_rwlock_wrlock(&n->fs->rw);
	r = fc_pwrite(&n->fs->fc, buf, size, (uint64_t)off, &bad);
	pthread_rwlock_unlock(&n->fs->rw);
	if (r == -PHV_EAUTH)
		log_damage(n, "write", bad, 1);
	if (r > 0 && fi->fh)
		guard_file_io((struct guard_file *)(uintptr_t)fi->fh, 0,
			      (size_t)r);
	if (r < 0)
		reply_err(req, (int)r);
	else
		fuse_reply_write(req, (size_t)r);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	int r;

	r = datasync ? fdatasync(n->fs->fc.fd) : fsync(n->fs->fc.fd);
	fuse_reply_err(req, r ? errno : 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t off, off_t len, struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	struct stat st;
	int r;

	if (mode & ~FALLOC_FL_KEEP_SIZE) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	r = node_stat(ctx_of(req), n, &st);
	/* XXX: grows with a hole; does not reserve space for ENOSPC */
	if (!r && !(mode & FALLOC_FL_KEEP_SIZE) && off + len > st.st_size)
		r = node_truncate(ctx_of(req), n, off + len);
	reply_err(req, r);
}

/* ---- setattr ---------------------------------------------------------- */

static int set_times(struct node *n, const struct stat *attr, int valid)
{
	struct timespec ts[2];

	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_OMIT;
	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
	if (utimensat(n->fd, "", ts, AT_EMPTY_PATH))
		return -errno;
	return 0;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	char p[32], path[PATH_MAX];
	struct stat st;
	struct who w;
	int r = 0;

	if (guard_gate(req, g, GUARD_SETATTR, n, NULL, valid, &w, path))
		return;
	procpath(n->fd, p);
	if ((valid & FUSE_SET_ATTR_MODE) && n->type != S_IFLNK &&
	    chmod(p, attr->st_mode & 07777))
		r = -errno;
	if (!r && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = valid & FUSE_SET_ATTR_UID ? attr->st_uid :
			    (uid_t)-1;
		gid_t gid = valid & FUSE_SET_ATTR_GID ? attr->st_gid :
			    (gid_t)-1;

		if (fchownat(n->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			r = -errno;
	}
	if (!r && (valid & FUSE_SET_ATTR_SIZE)) {
		if (n->type != S_IFREG)
			r = n->type == S_IFDIR ? -EISDIR : -EINVAL;
		else
			r = node_truncate(f, n, attr->st_size);
	}
	if (!r && (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			    FUSE_SET_ATTR_ATIME_NOW |
			    FUSE_SET_ATTR_MTIME_NOW)))
		r = set_times(n, attr, valid);
	if (g)
		guard_done(g, &w.c, GUARD_SETATTR, path, NULL, valid, r);
	if (!r)
		r = node_stat(f, n, &st);
	if (r)
		reply_err(req, r);
	else
		fuse_reply_attr(req, &st, attr_secs(ctx_of(req)));
}

/* ---- creating entries ------------------------------------------------- */

/* Give a new entry the requester's ownership (we run as root). */
static int set_owner(fuse_req_t req, struct node *dn, int dirfd,
		     const char *bname)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct stat dst;
	gid_t gid = c->gid;

	/* root creating as root: the backing fs already did it right,
	 * setgid directories included */
	if (geteuid() != 0 || (c->uid == 0 && c->gid == 0))
		return 0;
	if (!fstatat(dn->fd, "", &dst, AT_EMPTY_PATH) &&
	    (dst.st_mode & S_ISGID))
		gid = dst.st_gid;
	if (fchownat(dirfd, bname, c->uid, gid, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* Encrypt name for dn and write its sidecar first when it is long. */
static int new_bname(struct vol_fuse *f, struct node *dn, const char *name,
		     char *bname)
{
	char longenc[NAME_ENC_MAX];
	int r = node_bname(f, dn, name, bname, longenc);

	if (r == 1)
		r = name_sidecar_write(dn->fd, bname, longenc);
	return r;
}

static int entry_reply(fuse_req_t req, struct node *dn, const char *name)
{
	struct fuse_entry_param e;
	int r = do_lookup(ctx_of(req), dn, name, &e);

	if (!r)
		fuse_reply_entry(req, &e);
	return r;
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct node *dn = node_of(req, parent);
	struct guard *g = guard_of(req);
	char bname[256], path[PATH_MAX];
	struct who w;
	int r;

	if (guard_gate(req, g, GUARD_MKNOD, dn, name, 0, &w, path))
		return;
	r = new_bname(ctx_of(req), dn, name, bname);
	if (!r && mknodat(dn->fd, bname, mode, rdev))
		r = -errno;
	if (!r)
		r = set_owner(req, dn, dn->fd, bname);
	if (!r)
		r = entry_reply(req, dn, name);
	if (g)
		guard_done(g, &w.c, GUARD_MKNOD, path, NULL, 0, r);
	if (r)
		reply_err(req, r);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *dn = node_of(req, parent);
	struct guard *g = guard_of(req);
	struct guard_file *gf = NULL;
	struct fuse_entry_param e;
	char bname[256], path[PATH_MAX];
	struct node *n;
	struct who w;
	int fd = -1, r;

	if (g) {
		who_of(req, &w);
		r = node_policy_path(f, dn, name, path, sizeof(path));
		if (!r)
			r = guard_file_open(g, &w.c, path, fi->flags | O_CREAT,
					    &gf);
		if (r) {
			reply_err(req, r);
			return;
		}
	}
	r = new_bname(f, dn, name, bname);
	if (r)
		goto out;
	fd = openat(dn->fd, bname, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC |
		    O_NOATIME, mode & 07777);
	if (fd < 0 && errno == EPERM)
		fd = openat(dn->fd, bname, O_CREAT | O_EXCL | O_RDWR |
			    O_CLOEXEC, mode & 07777);
	if (fd < 0 && !(errno == EEXIST && !(fi->flags & O_EXCL))) {
		r = -errno;
		goto out;
	}
	if (fd >= 0) {
		r = set_owner(req, dn, dn->fd, bname);
		if (r)
			goto out;
	}
	/* the header is written by the first write: an empty backing file
	 * is an empty plaintext file (see docs/FORMAT.md) */
	r = do_lookup(f, dn, name, &e);
	if (r)
		goto out;
	n = (struct node *)(uintptr_t)e.ino;
	if (n->type != S_IFREG)
		r = -EISDIR;
	else if (fd >= 0)
		r = node_adopt(f, n, fd);
	else
		r = node_open(f, n);
	fd = -1;
	if (!r && fd < 0 && (fi->flags & O_TRUNC)) {
		pthread_rwlock_wrlock(&n->fs->rw);
		r = fc_truncate(&n->fs->fc, 0, &(uint64_t){ 0 });
		pthread_rwlock_unlock(&n->fs->rw);
		if (r)
			node_close(n);
	}
	if (r) {
		node_forget(n, 1);
		goto out;
	}
	if (gf)
		guard_file_opened(g, gf, 0);
	fi->keep_cache = 1;
	fi->fh = (uintptr_t)gf;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		guard_file_release(g, gf, 0, 0);
		node_close(n);
	}
	return;
out:
	if (fd >= 0)
		close(fd);
	if (gf)
		guard_file_opened(g, gf, r);
	reply_err(req, r);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *dn = node_of(req, parent);
	struct guard *g = guard_of(req);
	char bname[256], tmp[64], path[PATH_MAX];
	uint8_t id[DIRID_LEN];
	struct who w;
	int fd = -1, r;

	if (guard_gate(req, g, GUARD_MKDIR, dn, name, 0, &w, path))
		return;
	r = new_bname(f, dn, name, bname);
	if (r)
		goto out;
	/* built under a temporary name so it never appears without its ID */
	name_tmp(tmp);
	if (mkdirat(dn->fd, tmp, mode & 07777)) {
		r = -errno;
		goto out;
	}
	fd = openat(dn->fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	if (!r)
		r = dirid_create(fd, id);
	if (!r)
		r = set_owner(req, dn, dn->fd, tmp);
	if (!r && renameat2(dn->fd, tmp, dn->fd, bname, RENAME_NOREPLACE))
		r = -errno;
	if (r) {
		unlinkat(fd, VOL_DIRID_NAME, 0);
		unlinkat(dn->fd, tmp, AT_REMOVEDIR);
		goto out;
	}
	close(fd);
	fd = -1;
	r = entry_reply(req, dn, name);
out:
	if (fd >= 0)
		close(fd);
	if (g)
		guard_done(g, &w.c, GUARD_MKDIR, path, NULL, 0, r);
	if (r)
		reply_err(req, r);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *dn = node_of(req, parent);
	struct guard *g = guard_of(req);
	char bname[256], enc[4096], path[PATH_MAX];
	struct who w;
	int r;

	if (guard_gate(req, g, GUARD_SYMLINK, dn, name, 0, &w, path))
		return;
	r = symlink_encrypt(f->vol, link, enc, sizeof(enc));
	if (!r)
		r = new_bname(f, dn, name, bname);
	if (!r && symlinkat(enc, dn->fd, bname))
		r = -errno;
	if (!r)
		r = set_owner(req, dn, dn->fd, bname);
	if (!r)
		r = entry_reply(req, dn, name);
	if (g)
		guard_done(g, &w.c, GUARD_SYMLINK, path, link, 0, r);
	if (r)
		reply_err(req, r);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		    const char *name)
{
	struct node *n = node_of(req, ino), *dn = node_of(req, parent);
	struct guard *g = guard_of(req);
	char bname[256], path[PATH_MAX], path2[PATH_MAX];
	struct who w;
	int r;

	if (g) {
		who_of(req, &w);
		r = node_policy_path(ctx_of(req), n, NULL, path, sizeof(path));
		if (!r)
			r = node_policy_path(ctx_of(req), dn, name, path2,
					     sizeof(path2));
		if (!r)
			r = guard_check(g, &w.c, GUARD_LINK, path, path2, 0);
		if (r) {
			reply_err(req, r);
			return;
		}
	}
	r = new_bname(ctx_of(req), dn, name, bname);
	if (!r && linkat(n->fd, "", dn->fd, bname, AT_EMPTY_PATH))
		r = -errno;
	if (!r)
		r = entry_reply(req, dn, name);
	if (g)
		guard_done(g, &w.c, GUARD_LINK, path, path2, 0, r);
	if (r)
		reply_err(req, r);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	char enc[4096], plain[4097], path[PATH_MAX];
	struct who w;
	ssize_t len;
	int r;

	if (guard_gate(req, g, GUARD_READLINK, n, NULL, 0, &w, path))
		return;
	len = readlinkat(n->fd, "", enc, sizeof(enc) - 1);
	if (len < 0) {
		reply_err(req, -errno);
		return;
	}
	enc[len] = '\0';
	r = symlink_decrypt(f->vol, enc, plain, sizeof(plain));
	if (r == -PHV_EAUTH || r == -PHV_EFORMAT)
		log_damage(n, "symlink target", 0, 0);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_readlink(req, plain);
}

/* ---- removing and renaming ------------------------------------------- */

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dn = node_of(req, parent);
	struct guard *g = guard_of(req);
	char bname[256], path[PATH_MAX];
	struct who w;
	int r;

	if (guard_gate(req, g, GUARD_UNLINK, dn, name, 0, &w, path))
		return;
	r = node_bname(ctx_of(req), dn, name, bname, NULL);
	if (r >= 0) {
		r = unlinkat(dn->fd, bname, 0) ? -errno : 0;
		if (!r)
			name_sidecar_remove(dn->fd, bname);
	}
	guard_reply(req, g, &w, GUARD_UNLINK, path, NULL, 0, r);
}

/* 0 when backing directory fd holds nothing but our own files. */
static int dir_empty(int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dp;
	int r = 0;

	if (dfd < 0)
		return -errno;
	dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return -ENOMEM;
	}
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, VOL_DIRID_NAME))
			continue;
		r = -ENOTEMPTY;
		break;
	}
	closedir(dp);
	return r;
}

/*
 * Remove the backing directory bname of dirfd when it holds nothing but
 * its ID: move it aside, drop the ID, remove it, so that a live name never
 * points at a directory without ID.
 */
static int rmdir_backing(int dirfd, const char *bname)
{
	char tmp[64];
	uint8_t id[DIRID_LEN];
	int fd, r;

	fd = openat(dirfd, bname, O_PATH | O_NOFOLLOW | O_DIRECTORY |
		    O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = dir_empty(fd);
	if (r)
		goto out;
	name_tmp(tmp);
	if (renameat2(dirfd, bname, dirfd, tmp, RENAME_NOREPLACE)) {
		r = -errno;
		goto out;
	}
	if (dirid_read(fd, id) == 0)
		unlinkat(fd, VOL_DIRID_NAME, 0);
	if (unlinkat(dirfd, tmp, AT_REMOVEDIR)) {
		r = -errno;
		/* XXX: the directory comes back with a fresh ID; names
		 * created in it meanwhile would not decrypt */
		dirid_create(fd, id);
		renameat(dirfd, tmp, dirfd, bname);
		log_err("rmdir %s failed after removing its ID", tmp);
		goto out;
	}
	name_sidecar_remove(dirfd, bname);
	r = 0;
out:
	close(fd);
	return r;
}

static int dir_empty_at(int dirfd, const char *bname)
{
	int fd = openat(dirfd, bname, O_PATH | O_NOFOLLOW | O_DIRECTORY |
			O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = dir_empty(fd);
	close(fd);
	return r;
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dn = node_of(req, parent);
	struct guard *g = guard_of(req);
	char bname[256], path[PATH_MAX];
	struct who w;
	int r;

	if (guard_gate(req, g, GUARD_RMDIR, dn, name, 0, &w, path))
		return;
	r = node_bname(ctx_of(req), dn, name, bname, NULL);
	if (r >= 0)
		r = rmdir_backing(dn->fd, bname);
	guard_reply(req, g, &w, GUARD_RMDIR, path, NULL, 0, r);
}

/* After a rename, point the moved node's log path at its new name. */
static void renamed(struct node *dn, int dirfd, const char *bname,
		    const char *name)
{
	struct stat st;
	struct node *n;
	char *nm;

	if (fstatat(dirfd, bname, &st, AT_SYMLINK_NOFOLLOW))
		return;
	nm = strdup(name);
	if (!nm)
		return;
	pthread_mutex_lock(&tab_lock);
	n = node_find(&st);
	if (n && n->parent) {
		struct node *old = n->parent;

		dn->nref++;
		n->parent = dn;
		old->nref--;
		node_free_locked(old);
		free(n->name);
		n->name = nm;
		nm = NULL;
	}
	pthread_mutex_unlock(&tab_lock);
	free(nm);
}

/*
 * Decide a rename: delete on the old name, create on the new one and
 * delete there too when it exists; an exchange needs both both ways.
 */
static int rename_check(fuse_req_t req, struct guard *g, struct node *dn,
			const char *name, struct node *ndn,
			const char *newname, unsigned int flags,
			struct who *w, char *path, char *path2, int *existsp)
{
	struct vol_fuse *f = ctx_of(req);
	char nbname[256];
	struct stat st;
	int r;

	who_of(req, w);
	r = node_policy_path(f, dn, name, path, PATH_MAX);
	if (!r)
		r = node_policy_path(f, ndn, newname, path2, PATH_MAX);
	if (r)
		return r;
	*existsp = (flags & RENAME_EXCHANGE) != 0;
	if (!*existsp && node_bname(f, ndn, newname, nbname, NULL) >= 0)
		*existsp = !fstatat(ndn->fd, nbname, &st,
				    AT_SYMLINK_NOFOLLOW);
	r = guard_check(g, &w->c, GUARD_RENAME, path, path2, *existsp);
	if (!r && (flags & RENAME_EXCHANGE))
		r = guard_check(g, &w->c, GUARD_RENAME, path2, path, 1);
	return r;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *dn = node_of(req, parent), *ndn = node_of(req, newparent);
	struct guard *g = guard_of(req);
	char bname[256], nbname[256], path[PATH_MAX], path2[PATH_MAX];
	struct who w;
	int r, exists = 0;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		reply_err(req, -EINVAL);
		return;
	}
	if (g) {
		r = rename_check(req, g, dn, name, ndn, newname, flags, &w,
				 path, path2, &exists);
		if (r) {
			reply_err(req, r);
			return;
		}
	}
	r = node_bname(f, dn, name, bname, NULL);
	if (r >= 0)
		r = new_bname(f, ndn, newname, nbname);
	if (r < 0)
		goto out;
	if (renameat2(dn->fd, bname, ndn->fd, nbname, flags)) {
		r = -errno;
		if (r != -ENOTEMPTY || flags)
			goto out;
		/* the target directory holds its ID: if that is all, swap
		 * atomically and remove the old target from the old name */
		r = dir_empty_at(ndn->fd, nbname);
		if (r)
			goto out;
		if (renameat2(dn->fd, bname, ndn->fd, nbname,
			      RENAME_EXCHANGE)) {
			r = -errno;
			goto out;
		}
		r = rmdir_backing(dn->fd, bname);
		if (r)
			log_err("rename: cannot remove the replaced directory:"
				" %s", phv_strerror(r));
	}
	if (!(flags & RENAME_EXCHANGE) &&
	    !(dn == ndn && !strcmp(bname, nbname)))
		name_sidecar_remove(dn->fd, bname);
	renamed(ndn, ndn->fd, nbname, newname);
	if (flags & RENAME_EXCHANGE)
		renamed(dn, dn->fd, bname, name);
	r = 0;
out:
	guard_reply(req, g, &w, GUARD_RENAME, path, path2, exists, r);
}

/* ---- directories ------------------------------------------------------ */

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	char path[PATH_MAX];
	struct dirh *h;
	uint8_t id[DIRID_LEN];
	struct who w;
	int fd, r;

	if (guard_gate(req, g, GUARD_READDIR, n, NULL, 0, &w, path))
		return;
	h = calloc(1, sizeof(*h));
	if (!h) {
		r = -ENOMEM;
		goto fail;
	}
	r = node_dirid(ctx_of(req), n, id);
	if (r)
		goto fail;
	fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	h->dp = fdopendir(fd);
	if (!h->dp) {
		r = -errno;
		close(fd);
		goto fail;
	}
	fi->fh = (uintptr_t)h;
	/* the listing stays cached across opens; the kernel drops it when
	 * it changes the directory itself */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	if (g)
		guard_done(g, &w.c, GUARD_READDIR, path, NULL, 0, 0);
	fuse_reply_open(req, fi);
	return;
fail:
	if (g)
		guard_done(g, &w.c, GUARD_READDIR, path, NULL, 0, r);
	free(h);
	reply_err(req, r);
}

static void log_bad_name(struct node *dn, const char *bname)
{
	char path[1024], bpath[PATH_MAX];

	node_path(dn, path, sizeof(path));
	backing_path(dn->fd, bpath, sizeof(bpath));
	log_ratelimited(LOG_ERR, "%s: hiding entry whose name fails "
			"authentication (backing %s/%s)", path, bpath, bname);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi, int plus)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *dn = node_of(req, ino);
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;
	char *buf = calloc(1, size), *p = buf;
	char name[VOL_NAME_MAX + 1];
	uint8_t id[DIRID_LEN];
	size_t rem = size;
	int r = 0;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	r = node_dirid(f, dn, id);
	if (r)
		goto out;
	if (off != h->offset) {
		seekdir(h->dp, off);
		h->entry = NULL;
		h->offset = off;
	}
	for (;;) {
		struct fuse_entry_param e;
		struct dirent *de = h->entry;
		size_t need;
		int dot;

		if (!de) {
			errno = 0;
			de = readdir(h->dp);
			if (!de) {
				r = errno ? -errno : 0;
				break;
			}
			h->entry = de;
		}
		dot = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
		memset(&e, 0, sizeof(e));
		if (dot) {
			snprintf(name, sizeof(name), "%s", de->d_name);
		} else {
			r = name_decrypt(f->vol, dirfd(h->dp), id, de->d_name,
					 name);
			if (r) {
				if (r < 0)
					log_bad_name(dn, de->d_name);
				r = 0;
				goto next;
			}
		}
		e.attr.st_ino = de->d_ino;
		e.attr.st_mode = (mode_t)de->d_type << 12;
		/* with a policy every entry's attributes go through lookup,
		 * which decides per caller: send names only */
		if (plus && !dot && !guard_of(req)) {
			r = do_lookup(f, dn, name, &e);
			if (r == -ENOENT) {
				r = 0;
				goto next;	/* removed meanwhile */
			}
			if (r)
				break;
		}
		if (plus)
			need = fuse_add_direntry_plus(req, p, rem, name, &e,
						      de->d_off);
		else
			need = fuse_add_direntry(req, p, rem, name, &e.attr,
						 de->d_off);
		if (need > rem) {
			if (plus && e.ino)
				node_forget((struct node *)(uintptr_t)e.ino,
					    1);
			break;
		}
		p += need;
		rem -= need;
next:
		h->entry = NULL;
		h->offset = de->d_off;
	}
out:
	/* an error after some entries: return what we have */
	if (r && rem == size)
		reply_err(req, r);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;

	closedir(h->dp);
	free(h);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;
	int fd = dirfd(h->dp), r;

	r = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, r ? errno : 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(ctx_of(req)->root.fd, &sv)) {
		reply_err(req, -errno);
		return;
	}
	sv.f_namemax = VOL_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/* ---- xattrs ----------------------------------------------------------- */

/* The ID an xattr value is bound to: file ID, directory ID, or zeros. */
static int node_oid(struct vol_fuse *f, struct node *n,
		    uint8_t oid[static FILE_ID_LEN], int create)
{
	int r = 0;

	memset(oid, 0, FILE_ID_LEN);
	if (n->type == S_IFDIR)
		return node_dirid(f, n, oid);
	if (n->type != S_IFREG)
		return 0;
	r = node_open(f, n);
	if (r)
		return r;
	pthread_rwlock_wrlock(&n->fs->rw);
	if (!n->fs->fc.has_hdr && create)
		r = fc_init_header(&n->fs->fc);
	if (!r)
		memcpy(oid, n->fs->fc.file_id, FILE_ID_LEN);
	pthread_rwlock_unlock(&n->fs->rw);
	node_close(n);
	return r;
}

static int xattr_ours(const char *name)
{
	return !strncmp(name, "user.", 5) || !strncmp(name, "trusted.", 8);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	uint8_t oid[FILE_ID_LEN], *sealed = NULL;
	char bname[XATTR_BACKING_MAX], p[32], path[PATH_MAX];
	struct who w;
	int r;

	if (!xattr_ours(name)) {
		reply_err(req, -EOPNOTSUPP);
		return;
	}
	if (guard_gate(req, g, GUARD_SETXATTR, n, NULL, 0, &w, path))
		return;
	r = xattr_name_encrypt(f->vol, name, bname);
	if (!r)
		r = node_oid(f, n, oid, 1);
	if (r)
		goto out;
	sealed = malloc(size + BLK_OVERHEAD);
	if (!sealed) {
		r = -ENOMEM;
		goto out;
	}
	r = xattr_seal(f->vol, oid, name, value, size, sealed);
	procpath(n->fd, p);
	if (!r && setxattr(p, bname, sealed, size + BLK_OVERHEAD, flags))
		r = -errno;
out:
	if (g)
		guard_done(g, &w.c, GUARD_SETXATTR, path, name, 0, r);
	free(sealed);
	reply_err(req, r);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct vol_fuse *f = ctx_of(req);
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	uint8_t oid[FILE_ID_LEN], *sealed = NULL;
	char bname[XATTR_BACKING_MAX], p[32], path[PATH_MAX];
	char *val = NULL;
	struct who w;
	ssize_t len;
	int r;

	/* security.capability is asked before every write: answer at once,
	 * we never store security.* or system.* attributes */
	if (!xattr_ours(name)) {
		reply_err(req, -ENODATA);
		return;
	}
	if (guard_gate(req, g, GUARD_GETXATTR, n, NULL, 0, &w, path))
		return;
	r = xattr_name_encrypt(f->vol, name, bname);
	if (r) {
		reply_err(req, r == -ERANGE ? -ENODATA : r);
		return;
	}
	procpath(n->fd, p);
	len = getxattr(p, bname, NULL, 0);
	if (len < 0) {
		reply_err(req, -errno);
		return;
	}
	if (len < BLK_OVERHEAD) {
		r = -PHV_EAUTH;
		goto out;
	}
	if (!size) {
		fuse_reply_xattr(req, (size_t)len - BLK_OVERHEAD);
		return;
	}
	if (size < (size_t)len - BLK_OVERHEAD) {
		reply_err(req, -ERANGE);
		return;
	}
	sealed = malloc((size_t)len);
	val = malloc((size_t)len);
	if (!sealed || !val) {
		r = -ENOMEM;
		goto out;
	}
	len = getxattr(p, bname, sealed, (size_t)len);
	if (len < 0) {
		r = -errno;
		goto out;
	}
	r = node_oid(f, n, oid, 0);
	if (!r)
		r = xattr_open(f->vol, oid, name, sealed, (size_t)len, val);
	if (r == -PHV_EAUTH)
		log_damage(n, "xattr value", 0, 0);
out:
	if (r)
		reply_err(req, r);
	else
		fuse_reply_buf(req, val, (size_t)len - BLK_OVERHEAD);
	free(sealed);
	free(val);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	char p[32], path[PATH_MAX], *list = NULL;
	struct who w;
	ssize_t len;

	if (guard_gate(req, g, GUARD_GETXATTR, n, NULL, 0, &w, path))
		return;
	procpath(n->fd, p);
	len = xattr_list_plain(ctx_of(req)->vol, p, &list);
	if (len < 0)
		reply_err(req, (int)len);
	else if (!size)
		fuse_reply_xattr(req, (size_t)len);
	else if (size < (size_t)len)
		reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, list, (size_t)len);
	free(list);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct node *n = node_of(req, ino);
	struct guard *g = guard_of(req);
	char bname[XATTR_BACKING_MAX], p[32], path[PATH_MAX];
	struct who w;
	int r;

	if (!xattr_ours(name)) {
		reply_err(req, -ENODATA);
		return;
	}
	if (guard_gate(req, g, GUARD_SETXATTR, n, NULL, 0, &w, path))
		return;
	r = xattr_name_encrypt(ctx_of(req)->vol, name, bname);
	procpath(n->fd, p);
	if (!r && removexattr(p, bname))
		r = -errno;
	if (r == -ERANGE)
		r = -ENODATA;
	guard_reply(req, g, &w, GUARD_SETXATTR, path, name, 0, r);
}

/* ---- session ---------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct vol_fuse *f = userdata;
	unsigned int want = FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_PARALLEL_DIROPS |
			    FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
			    FUSE_CAP_ASYNC_DIO | FUSE_CAP_CACHE_SYMLINKS;

	conn->want |= want & conn->capable;
	/* the kernel clears setuid bits; we would have to otherwise */
	conn->want &= ~(unsigned int)(FUSE_CAP_HANDLE_KILLPRIV |
				      FUSE_CAP_AUTO_INVAL_DATA);
	conn->max_write = MAX_WRITE;
	conn->max_readahead = MAX_WRITE;
	conn->time_gran = 1;
	if (f->debug)
		log_info("capable 0x%x want 0x%x", conn->capable, conn->want);
}

static const struct fuse_lowlevel_ops vol_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	/* no .flush: libfuse answers ENOSYS once and the kernel stops
	 * sending FLUSH on every close(2); with the writeback cache it
	 * still writes the dirty pages back before close returns */
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.create = op_create,
	.fallocate = op_fallocate,
};

struct inval {
	fuse_ino_t parent;
	char name[VOL_NAME_MAX + 1];
};

#define EVICT_BATCH	512

static void *evictor(void *arg)
{
	struct vol_fuse *f = arg;
	struct inval *iv = calloc(EVICT_BATCH, sizeof(*iv));
	struct node *n, *next;
	int k, i;

	if (!iv)
		return NULL;
	pthread_mutex_lock(&tab_lock);
	while (!evict_stop) {
		if (nnodes <= hiwat) {
			pthread_cond_wait(&evict_cond, &tab_lock);
			continue;
		}
		k = 0;
		for (n = age_list.lnext; n != &age_list && k < EVICT_BATCH &&
		     nnodes - (unsigned long)k > lowat; n = next) {
			next = n->lnext;
			if (!n->parent || !n->name ||
			    (n->fs && n->fs->nopen))
				continue;
			iv[k].parent = n->parent == &f->root ? FUSE_ROOT_ID :
				       (uintptr_t)n->parent;
			snprintf(iv[k].name, sizeof(iv[k].name), "%s",
				 n->name);
			age_unlink(n);
			age_append(n);		/* not picked again at once */
			k++;
		}
		pthread_mutex_unlock(&tab_lock);
		for (i = 0; i < k; i++)
			fuse_lowlevel_notify_inval_entry(f->se, iv[i].parent,
							 iv[i].name,
							 strlen(iv[i].name));
		usleep(k ? 2000 : 50000);
		pthread_mutex_lock(&tab_lock);
	}
	pthread_mutex_unlock(&tab_lock);
	free(iv);
	return NULL;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	unsigned long nr = 0;
	FILE *fp;

	/* one O_PATH descriptor per inode the kernel holds: as many as the
	 * system allows (root may raise the hard limit) */
	fp = fopen("/proc/sys/fs/nr_open", "r");
	if (fp) {
		if (fscanf(fp, "%lu", &nr) != 1)
			nr = 0;
		fclose(fp);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (nr > rl.rlim_max) {
		struct rlimit want = { nr, nr };

		if (!setrlimit(RLIMIT_NOFILE, &want))
			rl = want;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* leave room for open files, directories and libfuse */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 4000000) {
		hiwat = rl.rlim_cur * 3 / 4 > 1000 ? rl.rlim_cur * 3 / 4 :
			1000;
		lowat = hiwat * 3 / 4;
	}
}

int vol_fuse_new(struct vol *vol, const char *mountpoint,
		 const char *fuse_opts, int shared, int debug,
		 struct vol_fuse **fp)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct vol_fuse *f = calloc(1, sizeof(*f));
	char opts[1024];
	struct stat st;
	int r = -EINVAL;

	*fp = NULL;
	if (!f)
		return -ENOMEM;
	f->vol = vol;
	f->debug = debug;
	f->root.fd = open(vol->cipherdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (f->root.fd < 0 || fstat(f->root.fd, &st)) {
		r = -errno;
		goto fail;
	}
	f->root.type = S_IFDIR;
	f->root.nlookup = 2;
	raise_nofile();
	/* the kernel already applied the caller's umask to every mode */
	umask(0);
	/*
	 * noatime: reads never change the backing atime (O_NOATIME), and
	 * with the writeback cache every atime update the kernel made on
	 * its own would dirty the inode and cost a SETATTR later.
	 */
	snprintf(opts, sizeof(opts), "-ofsname=phivault,subtype=phivault,"
		 "default_permissions,noatime%s%s%s",
		 shared ? ",allow_other" : "", fuse_opts ? "," : "",
		 fuse_opts ? fuse_opts : "");
	if (fuse_opt_add_arg(&args, "phivault") ||
	    fuse_opt_add_arg(&args, opts) ||
	    (debug && fuse_opt_add_arg(&args, "-d"))) {
		r = -ENOMEM;
		goto fail;
	}
	f->se = fuse_session_new(&args, &vol_ops, sizeof(vol_ops), f);
	if (!f->se) {
		log_err("cannot create the FUSE session (options: %s)", opts);
		r = -EINVAL;
		goto fail;
	}
	if (fuse_session_mount(f->se, mountpoint)) {
		log_err("cannot mount on %s", mountpoint);
		r = -EIO;
		goto fail;
	}
	fuse_opt_free_args(&args);
	*fp = f;
	return 0;
fail:
	fuse_opt_free_args(&args);
	vol_fuse_free(f);
	return r;
}

int vol_fuse_run(struct vol_fuse *f)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	pthread_t ev;
	int r, have_ev;

	if (!cfg)
		return -ENOMEM;
	if (fuse_set_signal_handlers(f->se)) {
		fuse_loop_cfg_destroy(cfg);
		return -EIO;
	}
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_idle_threads(cfg, 4);
	fuse_loop_cfg_set_max_threads(cfg, 16);
	have_ev = !pthread_create(&ev, NULL, evictor, f);
	r = fuse_session_loop_mt(f->se, cfg);
	if (have_ev) {
		pthread_mutex_lock(&tab_lock);
		evict_stop = 1;
		pthread_cond_signal(&evict_cond);
		pthread_mutex_unlock(&tab_lock);
		pthread_join(ev, NULL);
	}
	fuse_remove_signal_handlers(f->se);
	fuse_loop_cfg_destroy(cfg);
	return r < 0 ? r : 0;
}

/*
 * Make the kernel forget every name it may still hold from before a
 * policy was attached (with long timeouts): afterwards each path walk
 * comes back through op_lookup.  Not from a request thread.
 */
static void inval_all(struct vol_fuse *f)
{
	struct inval *iv = NULL;
	struct node *n;
	size_t i, k = 0, cap;

	pthread_mutex_lock(&tab_lock);
	cap = nnodes;
	if (cap)
		iv = calloc(cap, sizeof(*iv));
	for (i = 0; iv && i < (1U << TAB_BITS); i++) {
		for (n = tab[i]; n && k < cap; n = n->hnext) {
			if (!n->parent || !n->name)
				continue;
			iv[k].parent = n->parent == &f->root ? FUSE_ROOT_ID :
				       (uintptr_t)n->parent;
			snprintf(iv[k].name, sizeof(iv[k].name), "%s",
				 n->name);
			k++;
		}
	}
	pthread_mutex_unlock(&tab_lock);
	if (cap && !iv)
		log_err("cannot drop the kernel's cached names: out of memory");
	for (i = 0; i < k; i++)
		fuse_lowlevel_notify_inval_entry(f->se, iv[i].parent,
						 iv[i].name,
						 strlen(iv[i].name));
	free(iv);
}

void vol_fuse_set_guard(struct vol_fuse *f, struct guard *g)
{
	__atomic_store_n(&f->guard, g, __ATOMIC_RELEASE);
	inval_all(f);
}

void vol_fuse_free(struct vol_fuse *f)
{
	if (!f)
		return;
	if (f->se) {
		fuse_session_unmount(f->se);
		fuse_session_destroy(f->se);
	}
	if (f->root.fd >= 0)
		close(f->root.fd);
	free(f);
}
