// SPDX-License-Identifier: MIT
/*
 * restore.c - restore a snapshot into a directory (see restore.h).
 *
 * Three phases: directories and special files in pre-order (main
 * thread); regular files by a few download threads, each with its own
 * store handle, taking files from a shared counter and writing only
 * their own result slot; then hard links, and finally metadata of the
 * directories deepest first, so writing into a directory does not undo
 * its restored times.
 *
 * With o->into set the target is a phivault volume, written through its
 * library (fs/vol.h): names, contents and metadata are encrypted under
 * that volume's keys as they are written, and nothing plaintext touches
 * the backing disk.  The volume library has no rename, so a new file is
 * written at its final name and removed again if it fails; a file that
 * replaces an existing one is first written and checked under a
 * temporary name, and only then copied over the old one (locally).
 * FIFOs and device nodes cannot live in a volume and are skipped with a
 * warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/err.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "fs/vol.h"
#include "progress.h"
#include "restore.h"

struct rs {
	struct repo *r;
	const struct manifest *m;
	const struct restore_opts *o;
	struct restore_result *res;
	struct vol *vol;		/* o->into */
	char *troot;			/* realpath of the target */
	uint8_t *dks;			/* unwrapped pack keys, secmem */
	int *dkerr;			/* per pack: unwrap failure */
	uint8_t *sel;			/* per node: 1 selected, 2 ancestor */
	size_t *fidx;			/* files: node index */
	size_t next;			/* next file to take */
	pthread_mutex_t mu;
	struct progress prog;
	uint64_t downloaded;
};

static double now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static char *tpath(struct rs *s, const char *path)
{
	char *p;

	if (s->vol)
		return strdup(path);
	if (asprintf(&p, "%s%s%s", s->o->target, *path ? "/" : "",
		     path) < 0)
		return NULL;
	return p;
}

/* The parent of p must resolve inside the target (no symlink escape). */
static int parent_ok(struct rs *s, const char *p)
{
	char *dir = strdup(p), *slash, real[PATH_MAX];
	size_t n;
	int ok = 0;

	if (s->vol) {
		/* volume paths never follow symlinks (vol.h) */
		free(dir);
		return 1;
	}
	n = strlen(s->troot);
	if (!dir)
		return 0;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (realpath(dir, real) && !strncmp(real, s->troot, n) &&
	    (real[n] == '/' || real[n] == '\0'))
		ok = 1;
	free(dir);
	return ok;
}

/* ---- metadata --------------------------------------------------------- */

static uid_t owner_uid(const struct mf_node *n)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (n->uname && !getpwnam_r(n->uname, &pw, buf, sizeof(buf), &res) &&
	    res)
		return res->pw_uid;
	return n->uid;
}

static gid_t owner_gid(const struct mf_node *n)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (n->gname && !getgrnam_r(n->gname, &gr, buf, sizeof(buf), &res) &&
	    res)
		return res->gr_gid;
	return n->gid;
}

static void node_stat(const struct mf_node *n, struct stat *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->st_mode = n->mode;
	sb->st_uid = owner_uid(n);
	sb->st_gid = owner_gid(n);
	sb->st_atim.tv_sec = n->atime_ns / 1000000000LL;
	sb->st_atim.tv_nsec = n->atime_ns % 1000000000LL;
	sb->st_mtim.tv_sec = n->mtime_ns / 1000000000LL;
	sb->st_mtim.tv_nsec = n->mtime_ns % 1000000000LL;
}

/* set_meta() for a path in the volume. */
static int set_meta_vol(struct vol *vol, const struct mf_node *n,
			const char *p)
{
	unsigned int what = VOL_META_TIMES | VOL_META_MODE;
	struct stat sb;
	int warn = 0, r;
	size_t i;

	node_stat(n, &sb);
	for (i = 0; i < n->nxattrs; i++) {
		r = vol_setxattr(vol, p, n->xattrs[i].name,
				 n->xattrs[i].value, n->xattrs[i].len, 0);
		if (r) {
			log_warn("%s: cannot set xattr %s: %s", p,
				 n->xattrs[i].name, phv_strerror(r));
			warn++;
		}
	}
	if (geteuid() == 0)
		what |= VOL_META_OWNER;
	if (vol_set_meta(vol, p, &sb, what))
		warn++;
	return warn;
}

/* Apply owner, mode, xattrs and times to p; returns warnings. */
static int set_meta(struct rs *s, const struct mf_node *n, const char *p)
{
	struct timespec ts[2];
	int warn = 0;
	size_t i;

	if (s->vol)
		return set_meta_vol(s->vol, n, p);
	if (lchown(p, owner_uid(n), owner_gid(n)) && geteuid() == 0)
		warn++;
	if (n->type != MF_SYMLINK && chmod(p, n->mode & 07777))
		warn++;
	for (i = 0; i < n->nxattrs; i++)
		if (lsetxattr(p, n->xattrs[i].name, n->xattrs[i].value,
			      n->xattrs[i].len, 0)) {
			log_warn("%s: cannot set xattr %s: %s", p,
				 n->xattrs[i].name, strerror(errno));
			warn++;
		}
	ts[0].tv_sec = n->atime_ns / 1000000000LL;
	ts[0].tv_nsec = n->atime_ns % 1000000000LL;
	ts[1].tv_sec = n->mtime_ns / 1000000000LL;
	ts[1].tv_nsec = n->mtime_ns % 1000000000LL;
	if (utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW))
		warn++;
	return warn;
}

/* ---- regular files ---------------------------------------------------- */

static int fetch_extent(struct rs *s, struct store *st,
			const struct mf_extent *x, uint8_t **outp,
			size_t *lenp)
{
	const struct mf_pack *p = &s->m->packs[x->pack];
	char key[64], hex[2 * MF_ID_LEN + 1];
	void *blob = NULL;
	size_t blen;
	int r;

	*outp = NULL;
	if (s->dkerr[x->pack])
		return s->dkerr[x->pack];
	repo_hex(p->id, hex);
	snprintf(key, sizeof(key), "packs/%s", hex);
	r = st->ops->get(st, key, p->version_id, x->blob_off, x->blob_len,
			 x->blob_len, &blob, &blen);
	if (r)
		return r;
	pthread_mutex_lock(&s->mu);
	s->downloaded += blen;
	pthread_mutex_unlock(&s->mu);
	if (blen != x->blob_len) {
		free(blob);
		return -PHV_EFORMAT;
	}
	r = repo_blob_decode(s->r, s->dks + (size_t)x->pack * REPO_KEY_LEN,
			     p->id, x->id, x->flags, blob, blen,
			     (size_t)x->len, outp, lenp);
	free(blob);
	if (!r && *lenp != x->len) {
		free(*outp);
		*outp = NULL;
		r = -PHV_EFORMAT;
	}
	return r;
}

static int same_content(const struct mf_node *n, const char *p)
{
	XXH3_state_t *h;
	XXH128_canonical_t fp;
	struct stat sb;
	uint8_t buf[65536];
	ssize_t got;
	int fd, same = 0;

	fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	h = XXH3_createState();
	if (!h || fstat(fd, &sb) || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != n->size)
		goto out;
	XXH3_128bits_reset(h);
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		XXH3_128bits_update(h, buf, (size_t)got);
	XXH128_canonicalFromHash(&fp, XXH3_128bits_digest(h));
	same = got == 0 && !memcmp(fp.digest, n->fp, MF_FP_LEN);
out:
	XXH3_freeState(h);
	close(fd);
	return same;
}

static void hash_zeros(XXH3_state_t *h, uint64_t len)
{
	static const uint8_t zero[65536];
	size_t n;

	while (len) {
		n = len > sizeof(zero) ? sizeof(zero) : (size_t)len;
		XXH3_128bits_update(h, zero, n);
		len -= n;
	}
}

/* Write len bytes at off to fd, or to vf when fd < 0. */
static int out_write(int fd, struct vol_file *vf, const void *p, size_t len,
		     uint64_t off)
{
	ssize_t w;

	if (fd < 0)
		w = vol_file_pwrite(vf, p, len, (off_t)off);
	else
		w = pwrite(fd, p, len, (off_t)off);
	if (w == (ssize_t)len)
		return 0;
	if (fd >= 0)
		return errno ? -errno : -EIO;
	return w < 0 ? (int)w : -EIO;
}

/* Write the file's extents to fd (or vf when fd < 0), hashing as we go. */
static int write_extents(struct rs *s, struct store *st,
			 const struct mf_node *n, int fd,
			 struct vol_file *vf, struct restore_file *rf)
{
	XXH3_state_t *h = XXH3_createState();
	XXH128_canonical_t fp;
	uint64_t pos = 0;
	uint8_t *data;
	size_t len, i;
	char hex[2 * MF_ID_LEN + 1];
	int r = 0;

	if (!h)
		return -ENOMEM;
	XXH3_128bits_reset(h);
	for (i = 0; i < n->next; i++) {
		const struct mf_extent *x = &n->ext[i];

		if (x->off < pos || x->off + x->len > n->size) {
			r = -PHV_EFORMAT;
			break;
		}
		hash_zeros(h, x->off - pos);	/* an unrecorded hole */
		pos = x->off + x->len;
		if (x->pack == MF_HOLE) {
			hash_zeros(h, x->len);
			continue;
		}
		r = fetch_extent(s, st, x, &data, &len);
		if (r) {
			repo_hex(x->id, hex);
			snprintf(rf->detail, sizeof(rf->detail),
				 "chunk %.16s at offset %llu: %s", hex,
				 (unsigned long long)x->off,
				 phv_strerror(r));
			break;
		}
		XXH3_128bits_update(h, data, len);
		r = out_write(fd, vf, data, len, x->off);
		free(data);
		if (r)
			break;
		rf->bytes += len;
		progress_add(&s->prog, 0, len);
	}
	if (!r && pos < n->size)
		hash_zeros(h, n->size - pos);
	if (!r) {
		XXH128_canonicalFromHash(&fp, XXH3_128bits_digest(h));
		if (memcmp(fp.digest, n->fp, MF_FP_LEN)) {
			r = -PHV_EAUTH;
			snprintf(rf->detail, sizeof(rf->detail),
				 "fingerprint mismatch");
		}
	}
	XXH3_freeState(h);
	return r;
}

static int restore_file(struct rs *s, struct store *st,
			const struct mf_node *n, struct restore_file *rf)
{
	char *p = tpath(s, rf->path), *tmp = NULL, *slash;
	struct stat sb;
	int fd = -1, r;

	if (!p)
		return -ENOMEM;
	r = -EXDEV;
	if (!parent_ok(s, p))
		goto out;
	if (!lstat(p, &sb)) {
		if (s->o->overwrite == RESTORE_NEVER ||
		    (s->o->overwrite == RESTORE_IF_CHANGED &&
		     same_content(n, p))) {
			rf->status = RESTORE_SKIPPED;
			r = 0;
			goto out;
		}
		if (S_ISDIR(sb.st_mode)) {
			r = -EISDIR;
			goto out;
		}
	}
	slash = strrchr(p, '/');
	if (asprintf(&tmp, "%.*s/.%s.phv-restore.%d.%lx",
		     (int)(slash - p), p, slash + 1, (int)getpid(),
		     (unsigned long)pthread_self()) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = ftruncate(fd, (off_t)n->size) ? -errno : 0;
	if (!r)
		r = write_extents(s, st, n, fd, NULL, rf);
	/* no fsync per file: one syncfs() at the end (restore_run) */
	close(fd);
	fd = -1;
	if (r)
		goto out;
	set_meta(s, n, tmp);
	if (rename(tmp, p))
		r = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (r && tmp)
		unlink(tmp);
	free(tmp);
	free(p);
	return r;
}

/* same_content() for a file in the volume. */
static int same_content_vol(struct vol *vol, const struct mf_node *n,
			    const char *p)
{
	struct vol_file *f = NULL;
	XXH3_state_t *h = NULL;
	XXH128_canonical_t fp;
	struct stat sb;
	uint8_t *buf = NULL;
	uint64_t off = 0;
	ssize_t got = -EIO;
	int same = 0;

	if (vol_file_open(vol, p, O_RDONLY, 0, &f))
		return 0;
	h = XXH3_createState();
	buf = malloc(1U << 20);
	if (!h || !buf || vol_file_stat(f, &sb) ||
	    (uint64_t)sb.st_size != n->size)
		goto out;
	XXH3_128bits_reset(h);
	while ((got = vol_file_pread(f, buf, 1U << 20, (off_t)off,
				     NULL)) > 0) {
		XXH3_128bits_update(h, buf, (size_t)got);
		off += (uint64_t)got;
	}
	XXH128_canonicalFromHash(&fp, XXH3_128bits_digest(h));
	same = got == 0 && !memcmp(fp.digest, n->fp, MF_FP_LEN);
out:
	free(buf);
	XXH3_freeState(h);
	vol_file_close(f);
	return same;
}

/* Copy the volume file from to a new file to (both in the volume). */
static int vol_copy(struct vol *vol, const char *from, const char *to)
{
	struct vol_file *a = NULL, *b = NULL;
	uint8_t *buf = malloc(1U << 20);
	uint64_t off = 0;
	ssize_t got;
	int r;

	if (!buf)
		return -ENOMEM;
	r = vol_file_open(vol, from, O_RDONLY, 0, &a);
	if (!r)
		r = vol_file_open(vol, to, O_RDWR | O_CREAT | O_EXCL, 0600,
				  &b);
	while (!r) {
		got = vol_file_pread(a, buf, 1U << 20, (off_t)off, NULL);
		if (got <= 0) {
			r = (int)got;
			break;
		}
		r = out_write(-1, b, buf, (size_t)got, off);
		off += (uint64_t)got;
	}
	if (!r)
		r = vol_file_fsync(b, 0);
	vol_file_close(a);
	vol_file_close(b);
	free(buf);
	return r;
}

/*
 * restore_file() into the volume.  A new file is written at its name
 * (removed again on failure); a replacement is written and checked
 * under a temporary name first, then copied over the old file.
 */
static int restore_file_vol(struct rs *s, struct store *st,
			    const struct mf_node *n, struct restore_file *rf)
{
	struct vol_file *f = NULL;
	const char *slash;
	char *tmp = NULL;
	const char *dst;
	struct stat sb;
	int r, exists;

	exists = !vol_stat(s->vol, rf->path, &sb);
	if (exists) {
		if (s->o->overwrite == RESTORE_NEVER ||
		    (s->o->overwrite == RESTORE_IF_CHANGED &&
		     same_content_vol(s->vol, n, rf->path))) {
			rf->status = RESTORE_SKIPPED;
			return 0;
		}
		if (S_ISDIR(sb.st_mode))
			return -EISDIR;
		slash = strrchr(rf->path, '/');
		if (asprintf(&tmp, "%.*s%s.%s.phv-restore.%d.%lx",
			     slash ? (int)(slash - rf->path) : 0, rf->path,
			     slash ? "/" : "", slash ? slash + 1 : rf->path,
			     (int)getpid(), (unsigned long)pthread_self()) < 0)
			return -ENOMEM;
	}
	dst = tmp ? tmp : rf->path;
	r = vol_file_open(s->vol, dst, O_RDWR | O_CREAT | O_EXCL, 0600, &f);
	if (r)
		goto out;
	r = vol_file_truncate(f, (off_t)n->size);
	if (!r)
		r = write_extents(s, st, n, -1, f, rf);
	if (!r)
		r = vol_file_fsync(f, 0);
	vol_file_close(f);
	if (!r && tmp) {
		r = vol_remove(s->vol, rf->path);
		if (!r)
			r = vol_copy(s->vol, tmp, rf->path);
	}
	if (!r)
		set_meta_vol(s->vol, n, rf->path);
	else if (!tmp)
		vol_remove(s->vol, rf->path);
out:
	if (tmp)
		vol_remove(s->vol, tmp);
	free(tmp);
	return r;
}

static void *rs_worker(void *arg)
{
	struct rs *s = arg;
	struct store *st = NULL;
	struct restore_file *rf;
	const struct mf_node *n;
	double t0;
	size_t i;
	int r;

	r = s->r->st->ops->dup(s->r->st, &st);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		i = s->next < s->res->nfiles ? s->next++ : SIZE_MAX;
		pthread_mutex_unlock(&s->mu);
		if (i == SIZE_MAX)
			break;
		rf = &s->res->files[i];
		n = &s->m->nodes[s->fidx[i]];
		t0 = now_s();
		if (st && s->vol)
			r = restore_file_vol(s, st, n, rf);
		else if (st)
			r = restore_file(s, st, n, rf);
		rf->seconds = now_s() - t0;
		if (r) {
			rf->status = RESTORE_FAILED;
			rf->err = r;
			log_err("%s: not restored: %s%s%s", rf->path,
				phv_strerror(r), rf->detail[0] ? "; " : "",
				rf->detail);
		}
		progress_add(&s->prog, 1, 0);
	}
	store_free(st);
	return NULL;
}

/* ---- selection, directories, special files ----------------------------- */

static int path_under(const char *path, const char *top)
{
	size_t n = strlen(top);

	while (n && top[n - 1] == '/')
		n--;
	if (!n)
		return 1;
	return !strncmp(path, top, n) && (path[n] == '\0' || path[n] == '/');
}

/* Mark selected nodes and their ancestors; -PHV_ENOTFOUND if a path
 * matched nothing. */
static int select_nodes(struct rs *s)
{
	const struct manifest *m = s->m;
	size_t i, k, j, len;
	int hit;

	for (i = 0; i < m->nnodes; i++)
		s->sel[i] = s->o->npaths ? 0 : 1;
	for (k = 0; k < s->o->npaths; k++) {
		const char *want = s->o->paths[k];

		while (*want == '/')
			want++;
		hit = 0;
		for (i = 0; i < m->nnodes; i++)
			if (path_under(m->nodes[i].path, want)) {
				s->sel[i] = 1;
				hit = 1;
			}
		if (!hit) {
			log_err("%s: not in the snapshot", s->o->paths[k]);
			return -PHV_ENOTFOUND;
		}
	}
	/* ancestors: directories that are a prefix of a selected path */
	for (i = 0; i < m->nnodes; i++) {
		if (s->sel[i] || m->nodes[i].type != MF_DIR)
			continue;
		len = strlen(m->nodes[i].path);
		for (j = i + 1; j < m->nnodes; j++) {
			if (strncmp(m->nodes[j].path, m->nodes[i].path, len))
				continue;
			if (s->sel[j] && (!len || m->nodes[j].path[len] == '/')) {
				s->sel[i] = 2;
				break;
			}
		}
	}
	return 0;
}

static int make_special_vol(struct rs *s, const struct mf_node *n,
			    const char *p)
{
	struct stat sb;
	int r;

	if (n->type != MF_SYMLINK) {
		log_warn("%s: a volume cannot hold FIFOs or device nodes; "
			 "skipped", p);
		return -ENOTSUP;
	}
	if (!vol_stat(s->vol, p, &sb)) {
		if (s->o->overwrite == RESTORE_NEVER)
			return 1;
		if (S_ISDIR(sb.st_mode) || vol_remove(s->vol, p))
			return -EEXIST;
	}
	r = vol_symlink(s->vol, n->target ? n->target : "", p);
	return r;
}

static int make_special(struct rs *s, const struct mf_node *n, const char *p)
{
	struct stat sb;

	if (s->vol)
		return make_special_vol(s, n, p);

	if (!lstat(p, &sb)) {
		if (s->o->overwrite == RESTORE_NEVER)
			return 1;
		if (S_ISDIR(sb.st_mode) || unlink(p))
			return -EEXIST;
	}
	switch (n->type) {
	case MF_SYMLINK:
		if (symlink(n->target ? n->target : "", p))
			return -errno;
		break;
	case MF_FIFO:
		if (mkfifo(p, n->mode & 07777))
			return -errno;
		break;
	default:
		if (mknod(p, n->mode, (dev_t)n->rdev))
			return -errno;
		break;
	}
	return 0;
}

static int phase_tree(struct rs *s)
{
	const struct manifest *m = s->m;
	struct stat sb;
	size_t i;
	char *p;
	int r;

	for (i = 0; i < m->nnodes; i++) {
		const struct mf_node *n = &m->nodes[i];

		if (!s->sel[i] || n->type == MF_FILE ||
		    n->type == MF_HARDLINK)
			continue;
		p = tpath(s, n->path);
		if (!p)
			return -ENOMEM;
		r = 0;
		if (*n->path && !parent_ok(s, p)) {
			r = -EXDEV;
		} else if (n->type == MF_DIR && s->vol) {
			r = *n->path ? vol_mkdir(s->vol, p, 0700) : -EEXIST;
			if (r == -EEXIST)
				r = 0;
			if (!r && (vol_stat(s->vol, p, &sb) ||
				   !S_ISDIR(sb.st_mode)))
				r = -ENOTDIR;
			if (!r)
				s->res->dirs++;
		} else if (n->type == MF_DIR) {
			if (mkdir(p, 0700) && errno != EEXIST)
				r = -errno;
			else if (lstat(p, &sb) || !S_ISDIR(sb.st_mode))
				r = -ENOTDIR;
			else
				s->res->dirs++;
		} else if (s->sel[i] == 1) {
			r = make_special(s, n, p);
			if (!r) {
				s->res->warnings += set_meta(s, n, p);
				s->res->others++;
			}
			r = r > 0 ? 0 : r;
		}
		if (r) {
			log_err("%s: cannot restore: %s", n->path,
				phv_strerror(r));
			s->res->warnings++;
			if (n->type == MF_DIR) {
				free(p);
				return r;
			}
		}
		free(p);
	}
	return 0;
}

static void phase_links_and_dirs(struct rs *s)
{
	const struct manifest *m = s->m;
	char *p, *t;
	size_t i;

	for (i = 0; i < m->nnodes; i++) {
		const struct mf_node *n = &m->nodes[i];

		if (s->sel[i] != 1 || n->type != MF_HARDLINK)
			continue;
		p = tpath(s, n->path);
		t = tpath(s, n->target);
		if (p && t && s->vol) {
			int r;

			if (s->o->overwrite != RESTORE_NEVER)
				vol_remove(s->vol, p);
			r = vol_link(s->vol, t, p);
			if (r && r != -EEXIST) {
				log_err("%s: cannot link to %s: %s", n->path,
					n->target, phv_strerror(r));
				s->res->warnings++;
			}
		} else if (p && t && parent_ok(s, p)) {
			if (s->o->overwrite != RESTORE_NEVER)
				unlink(p);
			if (link(t, p) && errno != EEXIST) {
				log_err("%s: cannot link to %s: %s", n->path,
					n->target, strerror(errno));
				s->res->warnings++;
			}
		}
		free(p);
		free(t);
	}
	for (i = m->nnodes; i > 0; i--) {
		const struct mf_node *n = &m->nodes[i - 1];

		if (!s->sel[i - 1] || n->type != MF_DIR)
			continue;
		p = tpath(s, n->path);
		if (p)
			s->res->warnings += set_meta(s, n, p);
		free(p);
	}
}

/* Node index of a hard link's first name, SIZE_MAX if absent. */
static size_t link_target(struct rs *s, const struct mf_node *n)
{
	size_t i;

	for (i = 0; i < s->m->nnodes; i++)
		if (s->m->nodes[i].type == MF_FILE &&
		    !strcmp(s->m->nodes[i].path, n->target))
			return i;
	return SIZE_MAX;
}

static int link_target_selected(struct rs *s, const struct mf_node *n)
{
	size_t i = link_target(s, n);

	return i != SIZE_MAX && s->sel[i] == 1;
}

static int rs_setup(struct rs *s)
{
	const struct manifest *m = s->m;
	char real[PATH_MAX];
	size_t i, nf = 0;
	int r;

	s->vol = s->o->into;
	if (s->vol) {
		s->troot = strdup(vol_cipherdir(s->vol));
	} else {
		if (mkdir(s->o->target, 0700) && errno != EEXIST)
			return -errno;
		if (!realpath(s->o->target, real))
			return -errno;
		s->troot = strdup(real);
	}
	s->sel = calloc(m->nnodes + 1, 1);
	s->fidx = calloc(m->nnodes + 1, sizeof(*s->fidx));
	s->dks = secmem_alloc((m->npacks + 1) * REPO_KEY_LEN);
	s->dkerr = calloc(m->npacks + 1, sizeof(*s->dkerr));
	if (!s->troot || !s->sel || !s->fidx || !s->dks || !s->dkerr)
		return -ENOMEM;
	for (i = 0; i < m->npacks; i++) {
		s->dkerr[i] = repo_unwrap_key(s->r, m->packs[i].key_id,
					      m->packs[i].wrapped,
					      s->dks + i * REPO_KEY_LEN);
		if (s->dkerr[i])
			log_err_r(s->dkerr[i], "the key of pack %zu does not "
				  "open", i);
	}
	r = select_nodes(s);
	if (r)
		return r;
	s->res->files = calloc(m->nnodes + 1, sizeof(*s->res->files));
	if (!s->res->files)
		return -ENOMEM;
	for (i = 0; i < m->nnodes; i++) {
		if (s->sel[i] != 1)
			continue;
		if (m->nodes[i].type == MF_FILE) {
			s->fidx[nf] = i;
		} else if (m->nodes[i].type == MF_HARDLINK &&
			   !link_target_selected(s, &m->nodes[i])) {
			/* its first name is not restored: this one holds
			 * the contents */
			s->fidx[nf] = link_target(s, &m->nodes[i]);
			if (s->fidx[nf] == SIZE_MAX)
				continue;
			s->sel[i] = 3;
		} else {
			continue;
		}
		s->res->files[nf++].path = m->nodes[i].path;
	}
	s->res->nfiles = nf;
	return 0;
}

/* Flush everything written to the target's filesystem, once. */
static void sync_target(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (syncfs(fd))
		log_warn("%s: syncfs: %s", dir, strerror(errno));
	close(fd);
}

int restore_run(struct repo *r, const struct manifest *m,
		const struct restore_opts *o, struct restore_result *res)
{
	struct rs s = { .r = r, .m = m, .o = o, .res = res };
	unsigned int nw = o->workers ? o->workers : 8, i, started = 0;
	pthread_t th[32];
	double t0 = now_s();
	int ret;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&s.mu, NULL);
	progress_start(&s.prog, o->progress, "restore");
	ret = rs_setup(&s);
	if (!ret)
		ret = phase_tree(&s);
	if (ret)
		goto out;
	if (nw > 32)
		nw = 32;
	for (i = 0; i < nw; i++)
		if (!pthread_create(&th[i], NULL, rs_worker, &s))
			started++;
	if (!started)
		rs_worker(&s);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	phase_links_and_dirs(&s);
	if (!s.vol)
		sync_target(s.troot);

	for (i = 0; i < res->nfiles; i++) {
		struct restore_file *f = &res->files[i];

		if (f->status == RESTORE_OK)
			res->restored++;
		else if (f->status == RESTORE_SKIPPED)
			res->skipped++;
		else
			res->failed++;
		res->bytes_written += f->bytes;
	}
	res->bytes_downloaded = s.downloaded;
	ret = res->failed ? -EIO : 0;
out:
	progress_end(&s.prog);
	res->seconds = now_s() - t0;
	free(s.troot);
	free(s.sel);
	free(s.fidx);
	secmem_free(s.dks, (m->npacks + 1) * REPO_KEY_LEN);
	free(s.dkerr);
	pthread_mutex_destroy(&s.mu);
	return ret;
}

void restore_result_release(struct restore_result *res)
{
	free(res->files);
	memset(res, 0, sizeof(*res));
}
