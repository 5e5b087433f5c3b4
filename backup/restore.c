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
#include <dirent.h>
#include <pwd.h>
#include <signal.h>
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
#include "backup.h"
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
	/* the pack-range path (directory targets) */
	struct rfile *rf;		/* per res->files entry */
	struct piece *pc;		/* every blob to place, by pack */
	size_t npc;
	struct range *rg;		/* pc grouped into ranged GETs */
	size_t nrg, next_rg;
	uint64_t gets;			/* requests made */
	int fatal;			/* the target cannot take more
					 * (ENOSPC, EDQUOT, EROFS): stop */
};

/*
 * Temporary files are ".phv-restore.<pid>.<n>" beside their file: short
 * enough for any name the volume can hold (NAME_MAX), and recognisable,
 * so a later restore removes those an interrupted one left behind.
 */
#define TMP_MARK	".phv-restore."

/*
 * Restoring a directory works pack by pack: every extent of every file
 * to restore becomes a piece (pack, blob offset); pieces are sorted by
 * pack and offset and runs of them close together become one ranged
 * GET (a whole pack when most of it is needed), which the download
 * threads take in turn.  Each piece is decoded and written at its offset
 * into its file's temporary copy; the thread that writes a file's last
 * piece checks the fingerprint and renames the file into place.
 */
#define RANGE_GAP	(256U << 10)	/* read through gaps up to this */
#define RANGE_MAX	(8U << 20)	/* largest ranged GET */

struct piece {
	uint32_t pack;
	uint64_t blob_off;
	uint32_t blob_len;
	size_t file;			/* into res->files */
	size_t ext;			/* extent of the file's node */
};

struct range {
	uint32_t pack;
	uint64_t off, len;
	size_t first, n;		/* pieces */
};

struct rfile {
	pthread_mutex_t mu;
	char *tmp;			/* temporary name beside the file */
	char *dst;
	size_t left;			/* pieces not yet written */
	int err;
	XXH3_state_t *h;		/* in-order hash; NULL: read back */
	uint64_t hashed;		/* bytes hashed so far */
	size_t ext_next;		/* next extent to hash */
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

/* pwrite() all of len, so a full disk reports ENOSPC, not a short write */
static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	ssize_t w;

	while (len) {
		w = pwrite(fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (!w)
			return -ENOSPC;
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return 0;
}

/* A write error that no later file will escape: stop early. */
static int target_full(int r)
{
	return r == -ENOSPC || r == -EDQUOT || r == -EROFS || r == -EFBIG;
}

static void note_fatal(struct rs *s, int r)
{
	if (!target_full(r))
		return;
	pthread_mutex_lock(&s->mu);
	if (!s->fatal)
		s->fatal = r;
	pthread_mutex_unlock(&s->mu);
}

/* Write len bytes at off to fd, or to vf when fd < 0. */
static int out_write(int fd, struct vol_file *vf, const void *p, size_t len,
		     uint64_t off)
{
	ssize_t w;

	if (fd >= 0)
		return write_all(fd, p, len, off);
	w = vol_file_pwrite(vf, p, len, (off_t)off);
	if (w == (ssize_t)len)
		return 0;
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
		backup_hash_zeros(h, x->off - pos);	/* an unrecorded hole */
		pos = x->off + x->len;
		if (x->pack == MF_HOLE) {
			backup_hash_zeros(h, x->len);
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
		if (r) {
			snprintf(rf->detail, sizeof(rf->detail),
				 "writing at offset %llu: %s",
				 (unsigned long long)x->off, phv_strerror(r));
			break;
		}
		rf->bytes += len;
		progress_add(&s->prog, 0, len);
	}
	if (!r && pos < n->size)
		backup_hash_zeros(h, n->size - pos);
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
	if (asprintf(&tmp, "%.*s/" TMP_MARK "%d.%lx", (int)(slash - p), p,
		     (int)getpid(), (unsigned long)pthread_self()) < 0) {
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

/* ---- pack-range restore (directory targets) --------------------------- */

static int piece_cmp(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	if (x->blob_off != y->blob_off)
		return x->blob_off < y->blob_off ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->ext < y->ext ? -1 : x->ext > y->ext;
}

/* XXH3-128 of the whole file at p into fp; 0 or -errno. */
static int file_hash(const char *p, uint8_t fp[MF_FP_LEN])
{
	XXH3_state_t *h = XXH3_createState();
	XXH128_canonical_t c;
	uint8_t *buf = malloc(1U << 20);
	ssize_t got = -1;
	int fd = -1, r = -ENOMEM;

	if (!h || !buf)
		goto out;
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	r = -errno;
	if (fd < 0)
		goto out;
	XXH3_128bits_reset(h);
	while ((got = read(fd, buf, 1U << 20)) > 0)
		XXH3_128bits_update(h, buf, (size_t)got);
	r = got ? -errno : 0;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h));
	memcpy(fp, c.digest, MF_FP_LEN);
out:
	if (fd >= 0)
		close(fd);
	XXH3_freeState(h);
	free(buf);
	return r;
}

/* Hash the hole extents and gaps of n from f->ext_next on, up to ext. */
static void rf_hash_holes(struct rfile *f, const struct mf_node *n,
			  size_t upto)
{
	const struct mf_extent *x;

	while (f->ext_next < upto) {
		x = &n->ext[f->ext_next];
		if (x->pack != MF_HOLE)
			return;
		backup_hash_zeros(f->h, x->off + x->len - f->hashed);
		f->hashed = x->off + x->len;
		f->ext_next++;
	}
}

/* The last piece of file i is in: check it and move it into place. */
static void rf_finish(struct rs *s, size_t i)
{
	struct restore_file *res = &s->res->files[i];
	const struct mf_node *n = &s->m->nodes[s->fidx[i]];
	struct rfile *f = &s->rf[i];
	XXH128_canonical_t c;
	uint8_t fp[MF_FP_LEN];
	int r = f->err;

	if (!r && f->h) {
		rf_hash_holes(f, n, n->next);
		if (f->ext_next == n->next) {
			backup_hash_zeros(f->h, n->size - f->hashed);
			XXH128_canonicalFromHash(&c, XXH3_128bits_digest(f->h));
			memcpy(fp, c.digest, MF_FP_LEN);
		} else {
			r = file_hash(f->tmp, fp);
		}
	} else if (!r) {
		r = file_hash(f->tmp, fp);
	}
	if (!r && memcmp(fp, n->fp, MF_FP_LEN)) {
		r = -PHV_EAUTH;
		snprintf(res->detail, sizeof(res->detail),
			 "fingerprint mismatch");
	}
	if (!r) {
		set_meta(s, n, f->tmp);
		if (rename(f->tmp, f->dst))
			r = -errno;
	}
	if (r) {
		char esc[512];

		if (f->tmp)
			unlink(f->tmp);
		res->status = RESTORE_FAILED;
		res->err = r;
		res->bytes = 0;
		log_err("%s: not restored: %s%s%s",
			backup_esc(res->path, esc, sizeof(esc)),
			phv_strerror(r), res->detail[0] ? "; " : "",
			res->detail);
	}
	XXH3_freeState(f->h);
	f->h = NULL;
	progress_add(&s->prog, 1, 0);
}

/*
 * Make file i's temporary copy and count its pieces.  Returns 1 when
 * the file is skipped or already failed, 0 when pieces will follow.
 */
static int rf_prepare(struct rs *s, size_t i)
{
	struct restore_file *res = &s->res->files[i];
	const struct mf_node *n = &s->m->nodes[s->fidx[i]];
	struct rfile *f = &s->rf[i];
	uint64_t pos = 0;
	struct stat sb;
	char *slash;
	size_t k;
	int fd, r;

	f->dst = tpath(s, res->path);
	if (!f->dst)
		return -ENOMEM;
	r = -EXDEV;
	if (!parent_ok(s, f->dst))
		goto fail;
	if (!lstat(f->dst, &sb)) {
		if (s->o->overwrite == RESTORE_NEVER ||
		    (s->o->overwrite == RESTORE_IF_CHANGED &&
		     same_content(n, f->dst))) {
			res->status = RESTORE_SKIPPED;
			progress_add(&s->prog, 1, 0);
			return 1;
		}
		r = -EISDIR;
		if (S_ISDIR(sb.st_mode))
			goto fail;
	}
	for (k = 0; k < n->next; k++) {
		r = -PHV_EFORMAT;
		if (n->ext[k].off < pos || n->ext[k].off + n->ext[k].len >
		    n->size)
			goto fail;
		pos = n->ext[k].off + n->ext[k].len;
		if (n->ext[k].pack != MF_HOLE)
			f->left++;
	}
	slash = strrchr(f->dst, '/');
	if (asprintf(&f->tmp, "%.*s/" TMP_MARK "%d.%zu",
		     (int)(slash - f->dst), f->dst, (int)getpid(), i) < 0) {
		f->tmp = NULL;
		return -ENOMEM;
	}
	fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		  O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto fail_write;
	}
	r = ftruncate(fd, (off_t)n->size) ? -errno : 0;
	close(fd);
	if (r)
		goto fail_write;
	f->h = XXH3_createState();
	if (f->h)
		XXH3_128bits_reset(f->h);
	if (!f->left) {
		rf_finish(s, i);
		return 1;
	}
	return 0;
fail_write:
	note_fatal(s, r);
	snprintf(res->detail, sizeof(res->detail), "writing %s: %s",
		 f->tmp, phv_strerror(r));
fail:
	f->err = r;
	f->left = 0;
	rf_finish(s, i);
	return 1;
}

/* Put one piece (blob at blob, or the failure err) into its file. */
static void piece_place(struct rs *s, const struct piece *p,
			const uint8_t *blob, int err)
{
	const struct mf_node *n = &s->m->nodes[s->fidx[p->file]];
	const struct mf_extent *x = &n->ext[p->ext];
	const struct mf_pack *pk = &s->m->packs[p->pack];
	struct restore_file *res = &s->res->files[p->file];
	struct rfile *f = &s->rf[p->file];
	char hex[2 * MF_ID_LEN + 1];
	uint8_t *data = NULL;
	size_t len = 0;
	int r = err, fd, done, wrote = 0;

	if (!r)
		r = repo_blob_decode(s->r, s->dks + (size_t)p->pack *
				     REPO_KEY_LEN, pk->id, x->id, x->flags,
				     blob, x->blob_len, (size_t)x->len, &data,
				     &len);
	if (!r && len != x->len)
		r = -PHV_EFORMAT;
	if (!r) {
		fd = open(f->tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			r = -errno;
		else
			r = write_all(fd, data, len, x->off);
		if (fd >= 0)
			close(fd);
		wrote = r;
		note_fatal(s, r);
	}

	pthread_mutex_lock(&f->mu);
	if (r && !f->err) {
		f->err = r;
		repo_hex(x->id, hex);
		if (wrote)
			snprintf(res->detail, sizeof(res->detail),
				 "writing at offset %llu: %s",
				 (unsigned long long)x->off,
				 phv_strerror(r));
		else
			snprintf(res->detail, sizeof(res->detail),
				 "chunk %.16s at offset %llu: %s", hex,
				 (unsigned long long)x->off,
				 phv_strerror(r));
	} else if (!r) {
		res->bytes += len;
		if (f->h) {
			rf_hash_holes(f, n, p->ext);
			if (f->ext_next == p->ext) {
				backup_hash_zeros(f->h, x->off - f->hashed);
				XXH3_128bits_update(f->h, data, len);
				f->hashed = x->off + x->len;
				f->ext_next++;
			} else {
				/* out of order: read back at the end */
				XXH3_freeState(f->h);
				f->h = NULL;
			}
		}
	}
	done = --f->left == 0;
	pthread_mutex_unlock(&f->mu);
	if (!r)
		progress_add(&s->prog, 0, len);
	free(data);
	if (done)
		rf_finish(s, p->file);
}

static void range_run(struct rs *s, struct store *st, const struct range *g)
{
	const struct mf_pack *pk = &s->m->packs[g->pack];
	char key[64], hex[2 * MF_ID_LEN + 1];
	const struct piece *p;
	uint8_t *buf = NULL;
	size_t got = 0, i;
	int r = s->dkerr[g->pack];

	if (!r) {
		repo_hex(pk->id, hex);
		snprintf(key, sizeof(key), "packs/%s", hex);
		r = st->ops->get(st, key, pk->version_id, g->off, g->len,
				 (size_t)g->len, (void **)&buf, &got);
		pthread_mutex_lock(&s->mu);
		s->downloaded += got;
		s->gets++;
		pthread_mutex_unlock(&s->mu);
	}
	for (i = 0; i < g->n; i++) {
		p = &s->pc[g->first + i];
		if (!r && p->blob_off + p->blob_len > g->off + got)
			piece_place(s, p, NULL, -PHV_EFORMAT);
		else
			piece_place(s, p, r ? NULL :
				    buf + (p->blob_off - g->off), r);
	}
	free(buf);
}

static void range_fail(struct rs *s, const struct range *g, int err)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		piece_place(s, &s->pc[g->first + i], NULL, err);
}

static void *range_worker(void *arg)
{
	struct rs *s = arg;
	struct store *st = NULL;
	size_t i;
	int r, fatal;

	r = s->r->st->ops->dup(s->r->st, &st);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		i = s->next_rg < s->nrg ? s->next_rg++ : SIZE_MAX;
		fatal = s->fatal;
		pthread_mutex_unlock(&s->mu);
		if (i == SIZE_MAX)
			break;
		if (!r && fatal)
			r = fatal;	/* no use downloading more */
		if (r) {
			range_fail(s, &s->rg[i], r);
			continue;
		}
		range_run(s, st, &s->rg[i]);
	}
	store_free(st);
	return NULL;
}

/* Pieces of every file to restore, sorted, grouped into ranges. */
static int plan_ranges(struct rs *s)
{
	const struct mf_node *n;
	struct piece *p;
	struct range *g;
	uint64_t end, pend;
	size_t i, k, total = 0;

	for (i = 0; i < s->res->nfiles; i++)
		total += s->rf[i].left;
	s->pc = calloc(total + 1, sizeof(*s->pc));
	s->rg = calloc(total + 1, sizeof(*s->rg));
	if (!s->pc || !s->rg)
		return -ENOMEM;
	for (i = 0; i < s->res->nfiles; i++) {
		if (!s->rf[i].left)
			continue;
		n = &s->m->nodes[s->fidx[i]];
		for (k = 0; k < n->next; k++) {
			if (n->ext[k].pack == MF_HOLE)
				continue;
			p = &s->pc[s->npc++];
			p->pack = n->ext[k].pack;
			p->blob_off = n->ext[k].blob_off;
			p->blob_len = n->ext[k].blob_len;
			p->file = i;
			p->ext = k;
		}
	}
	qsort(s->pc, s->npc, sizeof(*s->pc), piece_cmp);
	for (i = 0; i < s->npc; i++) {
		p = &s->pc[i];
		pend = p->blob_off + p->blob_len;
		g = s->nrg ? &s->rg[s->nrg - 1] : NULL;
		end = g ? g->off + g->len : 0;
		if (g && g->pack == p->pack && p->blob_off <= end + RANGE_GAP &&
		    (pend > end ? pend : end) - g->off <= RANGE_MAX) {
			if (pend > end)
				g->len = pend - g->off;
			g->n++;
			continue;
		}
		g = &s->rg[s->nrg++];
		g->pack = p->pack;
		g->off = p->blob_off;
		g->len = p->blob_len;
		g->first = i;
		g->n = 1;
	}
	return 0;
}

/* Restore the selected regular files of a directory target. */
static int restore_ranges(struct rs *s, unsigned int nw)
{
	pthread_t th[32];
	unsigned int i, started = 0;
	size_t k;
	int r;

	s->rf = calloc(s->res->nfiles + 1, sizeof(*s->rf));
	if (!s->rf)
		return -ENOMEM;
	for (k = 0; k < s->res->nfiles; k++)
		pthread_mutex_init(&s->rf[k].mu, NULL);
	for (k = 0; k < s->res->nfiles; k++) {
		r = rf_prepare(s, k);
		if (r < 0)
			return r;
	}
	r = plan_ranges(s);
	if (r)
		return r;
	if (nw > s->nrg)
		nw = s->nrg ? (unsigned int)s->nrg : 1;
	for (i = 0; i < nw; i++)
		if (!pthread_create(&th[i], NULL, range_worker, s))
			started++;
	if (!started)
		range_worker(s);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return 0;
}

static void restore_ranges_release(struct rs *s)
{
	size_t k;

	for (k = 0; s->rf && k < s->res->nfiles; k++) {
		pthread_mutex_destroy(&s->rf[k].mu);
		XXH3_freeState(s->rf[k].h);
		free(s->rf[k].tmp);
		free(s->rf[k].dst);
	}
	free(s->rf);
	free(s->pc);
	free(s->rg);
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
		if (asprintf(&tmp, "%.*s%s" TMP_MARK "%d.%lx",
			     slash ? (int)(slash - rf->path) : 0, rf->path,
			     slash ? "/" : "", (int)getpid(),
			     (unsigned long)pthread_self()) < 0)
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
	int r, fatal;

	r = s->r->st->ops->dup(s->r->st, &st);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		i = s->next < s->res->nfiles ? s->next++ : SIZE_MAX;
		fatal = s->fatal;
		pthread_mutex_unlock(&s->mu);
		if (i == SIZE_MAX)
			break;
		rf = &s->res->files[i];
		n = &s->m->nodes[s->fidx[i]];
		t0 = now_s();
		if (fatal)
			r = fatal;
		else if (st && s->vol)
			r = restore_file_vol(s, st, n, rf);
		else if (st)
			r = restore_file(s, st, n, rf);
		rf->seconds = now_s() - t0;
		note_fatal(s, r);
		if (r) {
			char esc[512];

			rf->status = RESTORE_FAILED;
			rf->err = r;
			log_err("%s: not restored: %s%s%s",
				backup_esc(rf->path, esc, sizeof(esc)),
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
			char esc[512];

			log_err("%s: not in the snapshot",
				backup_esc(s->o->paths[k], esc, sizeof(esc)));
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

/*
 * Remove the temporary files an interrupted restore (a process that is
 * gone) left in dir: regular files named ".phv-restore.<pid>.*", or the
 * older ".<name>.phv-restore.<pid>.*".  Returns how many.
 */
static unsigned int sweep_stale(const char *dir)
{
	struct dirent *de;
	struct stat sb;
	unsigned int n = 0;
	const char *m;
	char *end;
	long pid;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		m = de->d_name[0] == '.' ? strstr(de->d_name, TMP_MARK) : NULL;
		if (!m)
			continue;
		pid = strtol(m + strlen(TMP_MARK), &end, 10);
		if (pid <= 0 || *end != '.' || pid == (long)getpid() ||
		    !(kill((pid_t)pid, 0) && errno == ESRCH))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (!unlinkat(dirfd(d), de->d_name, 0))
			n++;
	}
	closedir(d);
	return n;
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
			if (!r)
				s->res->stale_removed += sweep_stale(p);
		} else if (s->sel[i] == 1) {
			r = make_special(s, n, p);
			if (!r) {
				s->res->warnings += set_meta(s, n, p);
				s->res->others++;
			}
			r = r > 0 ? 0 : r;
		}
		if (r) {
			char esc[512];

			log_err("%s: cannot restore: %s",
				backup_esc(n->path, esc, sizeof(esc)),
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
	char e1[512], e2[512];
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
				log_err("%s: cannot link to %s: %s",
					backup_esc(n->path, e1, sizeof(e1)),
					backup_esc(n->target, e2, sizeof(e2)),
					phv_strerror(r));
				s->res->warnings++;
			}
		} else if (p && t && parent_ok(s, p)) {
			if (s->o->overwrite != RESTORE_NEVER)
				unlink(p);
			if (link(t, p) && errno != EEXIST) {
				log_err("%s: cannot link to %s: %s",
					backup_esc(n->path, e1, sizeof(e1)),
					backup_esc(n->target, e2, sizeof(e2)),
					strerror(errno));
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
	if (!s.vol) {
		ret = restore_ranges(&s, nw);
		if (ret)
			goto out;
	} else {
		for (i = 0; i < nw; i++)
			if (!pthread_create(&th[i], NULL, rs_worker, &s))
				started++;
		if (!started)
			rs_worker(&s);
		for (i = 0; i < started; i++)
			pthread_join(th[i], NULL);
	}
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
	ret = s.fatal ? s.fatal : res->failed ? -EIO : 0;
out:
	progress_end(&s.prog);
	res->seconds = now_s() - t0;
	restore_ranges_release(&s);
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
