// SPDX-License-Identifier: MIT
/*
 * backup.c - the backup engine (see backup.h).
 *
 * One reader thread walks the source in sorted pre-order, chunks files,
 * looks each chunk up in the pack index, and seals new chunks into the
 * current pack (zstd first when that saves at least 1/16).  Full packs
 * go to a bounded queue served by a few upload threads, each with its own
 * store handle (its own connection); so reading overlaps uploading and
 * memory stays at about (workers + 2) packs.  Upload threads never touch
 * the index: they only fill in the job's result, which the reader applies
 * after joining them.
 *
 * XXX: hard links are matched by a linear search over earlier multiply-
 * linked files; fine for the trees we back up, quadratic for huge ones.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "common/err.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "backup.h"
#include "progress.h"
#include "wire.h"

#define XATTR_LIST_MAX_	(64U << 10)

struct job {
	struct job *next;		/* queue */
	struct job *all_next;		/* every job, for results */
	int kind;			/* 0: pack, 1: extend */
	uint32_t pack;			/* ix pack number (0-based) */
	uint8_t *buf;
	size_t len;
	uint8_t *rec;			/* sealed index record */
	size_t reclen;
	char key[64];			/* extend: key */
	char *vid;			/* pack: result; extend: version */
	int err;
	int done;
};

struct uploader {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;	/* queued */
	struct job *all;		/* every job, for results */
	unsigned int queued, inflight, limit;
	int stop;
	int failed;
	time_t until;
	struct store **st;
	struct cache *cache;		/* the repository's, or NULL */
	pthread_t *th;
	unsigned int nth;
	uint64_t bytes_up;
	uint64_t packs_up;
	uint64_t extended;
};

struct bk {
	struct repo *r;
	const struct backup_opts *o;
	struct backup_stats *s;
	struct manifest m;
	struct repo_index ix;
	uint8_t *dk;			/* secmem */
	struct uploader up;
	/* the pack being filled */
	struct wbuf pack;
	struct repo_blob *pblobs;
	size_t npblobs, pblobs_cap;
	uint32_t cur_pack;		/* ix pack number, valid if open */
	int pack_open;
	/* the parent snapshot */
	struct repo_snap *snaps;
	size_t nsnaps;
	int64_t *known;			/* per ix pack: known retain-until */
	size_t nknown;			/* packs loaded from the store */
	int64_t known_meta;		/* config and keys: the same */
	time_t need_until;		/* U (backup.h): what we need */
	int64_t sure_until;		/* every object we name is retained
					 * at least until then (U..U+step) */
	struct mf_node **pnodes;	/* sorted by path */
	size_t npnodes;
	int parent;
	/* buffers */
	uint8_t *cbuf;			/* chunk read buffer, cmax */
	uint8_t *zbuf;			/* compression output */
	uint8_t *ebuf;			/* sealed blob */
	size_t zcap;
	ZSTD_CCtx *zc;
	struct progress prog;
	uint64_t *links;		/* index into m.nodes of nlink>1 */
	size_t nlinks, links_cap;
	int fatal;
};

/* ---- upload threads --------------------------------------------------- */

static int job_run(struct uploader *u, struct store *st, struct job *j)
{
	char hex[2 * MF_ID_LEN + 1], key[64], *vid = NULL;
	int r;

	if (j->kind == 1) {
		r = st->ops->extend(st, j->key, j->vid, u->until);
		if (r)
			log_err("cannot extend the retention of %s: %s",
				j->key, store_error(st));
		return r;
	}
	memcpy(hex, j->key, sizeof(hex));
	snprintf(key, sizeof(key), "packs/%s", hex);
	r = st->ops->put(st, key, j->buf, j->len, STORE_LOCKED, u->until,
			 &j->vid);
	if (r) {
		log_err("cannot upload %s: %s", key, store_error(st));
		return r;
	}
	snprintf(key, sizeof(key), "index/%s", hex);
	r = st->ops->put(st, key, j->rec, j->reclen, STORE_LOCKED, u->until,
			 &vid);
	if (r)
		log_err("cannot upload %s: %s", key, store_error(st));
	else if (vid)
		cache_put(u->cache, key, vid, j->rec, j->reclen);
	free(vid);
	return r;
}

struct worker_arg {
	struct uploader *u;
	unsigned int n;
};

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct uploader *u = wa->u;
	struct store *st = u->st[wa->n];
	struct job *j;
	int r;

	free(wa);
	pthread_mutex_lock(&u->mu);
	for (;;) {
		while (!u->head && !u->stop)
			pthread_cond_wait(&u->cv, &u->mu);
		if (!u->head)
			break;
		j = u->head;
		u->head = j->next;
		if (!u->head)
			u->tail = NULL;
		u->queued--;
		u->inflight++;
		pthread_mutex_unlock(&u->mu);

		r = u->failed ? -ECANCELED : job_run(u, st, j);

		pthread_mutex_lock(&u->mu);
		j->err = r;
		j->done = 1;
		if (r)
			u->failed = 1;
		else if (j->kind == 0) {
			u->bytes_up += j->len + j->reclen;
			u->packs_up++;
		} else {
			u->extended++;
		}
		free(j->buf);
		free(j->rec);
		j->buf = j->rec = NULL;
		u->inflight--;
		pthread_cond_broadcast(&u->cv);
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

/* Start worker i on u->st[i]. */
static int up_spawn(struct uploader *u, unsigned int i)
{
	struct worker_arg *wa = malloc(sizeof(*wa));

	if (!wa)
		return -ENOMEM;
	wa->u = u;
	wa->n = i;
	if (pthread_create(&u->th[i], NULL, worker, wa)) {
		free(wa);
		return -EAGAIN;
	}
	u->nth++;
	return 0;
}

static int up_start(struct uploader *u, struct store *st,
		    struct cache *r_cache, unsigned int n, time_t until)
{
	unsigned int i;
	int r;

	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	u->until = until;
	u->limit = n + 2;
	u->cache = r_cache;
	u->st = calloc(n, sizeof(*u->st));
	u->th = calloc(n, sizeof(*u->th));
	if (!u->st || !u->th)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		r = st->ops->dup(st, &u->st[i]);
		if (!r)
			r = up_spawn(u, i);
		if (r)
			return r;
	}
	return 0;
}

/* Start the threads again after up_finish(), on the same handles. */
static int up_restart(struct uploader *u)
{
	unsigned int i, n = u->limit - 2;
	int r;

	u->stop = 0;
	for (i = 0; i < n; i++) {
		r = up_spawn(u, i);
		if (r)
			return r;
	}
	return 0;
}

/* Queue j, waiting while too many packs are queued or in flight. */
static int up_submit(struct uploader *u, struct job *j)
{
	int r;

	pthread_mutex_lock(&u->mu);
	while (!u->failed && u->queued + u->inflight >= u->limit)
		pthread_cond_wait(&u->cv, &u->mu);
	r = u->failed ? -PHV_ENET : 0;
	j->next = NULL;
	if (u->tail)
		u->tail->next = j;
	else
		u->head = j;
	u->tail = j;
	u->queued++;
	j->all_next = u->all;
	u->all = j;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return r;
}

/* Wait for everything queued, stop the threads; 0 if all succeeded. */
static int up_finish(struct uploader *u)
{
	unsigned int i;
	int failed;

	pthread_mutex_lock(&u->mu);
	u->stop = 1;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	for (i = 0; i < u->nth; i++)
		pthread_join(u->th[i], NULL);
	u->nth = 0;
	failed = u->failed;
	return failed ? -PHV_ENET : 0;
}

static void up_release(struct uploader *u)
{
	struct job *j, *next;
	unsigned int i;

	if (u->nth)
		up_finish(u);
	for (j = u->all; j; j = next) {
		next = j->all_next;
		free(j->buf);
		free(j->rec);
		free(j->vid);
		free(j);
	}
	for (i = 0; u->st && u->th && i < u->limit - 2; i++)
		store_free(u->st[i]);
	free(u->st);
	free(u->th);
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
}

/* ---- packs ------------------------------------------------------------ */

static int pack_begin(struct bk *b)
{
	uint8_t hdr[REPO_PACK_HDR_LEN];
	struct mf_pack p;
	int r;

	memset(&p, 0, sizeof(p));
	r = secmem_random(p.id, MF_ID_LEN);
	if (r)
		return r;
	memcpy(p.key_id, b->m.id, MF_ID_LEN);
	r = repo_wrap_key(b->r, p.key_id, b->dk, p.wrapped);
	if (r)
		return r;
	/* register the pack now so later chunks dedup against it */
	r = repo_index_add(&b->ix, &p, NULL, 0);
	if (r)
		return r;
	b->cur_pack = (uint32_t)(b->ix.npacks - 1);
	b->pack.len = 0;
	b->pack.err = 0;
	repo_pack_header(&p, hdr);
	wbuf_bytes(&b->pack, hdr, sizeof(hdr));
	b->npblobs = 0;
	b->pack_open = 1;
	return b->pack.err;
}

static int pack_flush(struct bk *b)
{
	struct mf_pack *p = &b->ix.packs[b->cur_pack];
	uint8_t end[12], *rec = NULL;
	struct job *j;
	size_t reclen;
	int r;

	if (!b->pack_open)
		return 0;
	b->pack_open = 0;
	r = repo_index_seal(b->r, p, b->pblobs, b->npblobs, &rec, &reclen);
	if (r)
		return r;
	wbuf_bytes(&b->pack, rec, reclen);
	repo_pack_end((uint32_t)reclen, end);
	wbuf_bytes(&b->pack, end, sizeof(end));
	if (b->pack.err) {
		free(rec);
		return b->pack.err;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		free(rec);
		return -ENOMEM;
	}
	j->kind = 0;
	j->pack = b->cur_pack;
	repo_hex(p->id, j->key);
	j->buf = b->pack.p;
	j->len = b->pack.len;
	j->rec = rec;
	j->reclen = reclen;
	memset(&b->pack, 0, sizeof(b->pack));
	return up_submit(&b->up, j);
}

static int pblob_add(struct bk *b, const struct repo_blob *bl)
{
	struct repo_blob *n;

	if (b->npblobs == b->pblobs_cap) {
		size_t cap = b->pblobs_cap ? b->pblobs_cap * 2 : 64;

		n = realloc(b->pblobs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		b->pblobs = n;
		b->pblobs_cap = cap;
	}
	b->pblobs[b->npblobs++] = *bl;
	return 0;
}

/* Store one new chunk; fills x (pack is the ix pack number). */
static int chunk_store(struct bk *b, const uint8_t *data, size_t len,
		       const uint8_t id[MF_CHUNK_ID_LEN], struct mf_extent *x)
{
	const uint8_t *pt = data;
	struct repo_blob bl;
	size_t plen = len, z;
	uint32_t flags = 0;
	int r;

	z = ZSTD_compressCCtx(b->zc, b->zbuf, b->zcap, data, len, 3);
	if (!ZSTD_isError(z) && z < len - len / 16) {
		pt = b->zbuf;
		plen = z;
		flags = MF_ZSTD;
	}
	if (!b->pack_open) {
		r = pack_begin(b);
		if (r)
			return r;
	}
	r = repo_blob_seal(b->dk, b->ix.packs[b->cur_pack].id, id, flags, pt,
			   plen, b->ebuf);
	if (r)
		return r;
	memset(&bl, 0, sizeof(bl));
	memcpy(bl.id, id, MF_CHUNK_ID_LEN);
	bl.flags = flags;
	bl.blob_off = b->pack.len;
	bl.blob_len = (uint32_t)(plen + REPO_BLOB_OVERHEAD);
	bl.raw_len = (uint32_t)len;
	wbuf_bytes(&b->pack, b->ebuf, bl.blob_len);
	if (b->pack.err)
		return b->pack.err;
	r = pblob_add(b, &bl);
	if (!r)
		r = repo_index_add_blob(&b->ix, b->cur_pack, &bl);
	if (r)
		return r;
	x->pack = b->cur_pack;
	x->flags = flags;
	x->blob_off = bl.blob_off;
	x->blob_len = bl.blob_len;
	b->s->chunks_new++;
	b->s->bytes_new += len;
	if (b->pack.len >= BACKUP_PACK_TARGET)
		return pack_flush(b);
	return 0;
}

static int all_zero(const uint8_t *p, size_t len)
{
	return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

/* Record one chunk of file n at offset off. */
static int chunk_add(struct bk *b, struct mf_node *n, uint64_t off,
		     const uint8_t *data, size_t len)
{
	const struct repo_blob *bl;
	struct mf_extent *x;
	int r;

	x = mf_node_add_extent(n);
	if (!x)
		return -ENOMEM;
	x->off = off;
	x->len = len;
	if (all_zero(data, len)) {
		x->pack = MF_HOLE;
		return 0;
	}
	r = repo_chunk_id(b->r, data, len, x->id);
	if (r)
		return r;
	bl = repo_index_find(&b->ix, x->id);
	if (bl) {
		x->pack = bl->pack - 1;
		x->flags = bl->flags;
		x->blob_off = bl->blob_off;
		x->blob_len = bl->blob_len;
		b->s->chunks_dedup++;
		return 0;
	}
	return chunk_store(b, data, len, x->id, x);
}

/* ---- files ------------------------------------------------------------ */

const char *backup_esc(const char *s, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	char e[5];
	size_t k;

	if (!size)
		return "";
	for (; *p; p++) {
		k = 0;
		if (*p == '\n' || *p == '\r' || *p == '\t' || *p == '\\') {
			e[k++] = '\\';
			e[k++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' :
				 *p == '\t' ? 't' : '\\';
		} else if (*p < 0x20 || *p == 0x7f) {
			e[k++] = '\\';
			e[k++] = 'x';
			e[k++] = hex[*p >> 4];
			e[k++] = hex[*p & 15];
		} else {
			e[k++] = (char)*p;
		}
		if (o + k >= size)
			break;
		memcpy(buf + o, e, k);
		o += k;
	}
	buf[o] = '\0';
	return buf;
}

static void unreadable(struct bk *b, const char *path, int err)
{
	char **n, *line, esc[512];

	log_warn("cannot read %s: %s", backup_esc(path, esc, sizeof(esc)),
		 phv_strerror(err));
	if (asprintf(&line, "%s: %s", path, phv_strerror(err)) < 0)
		return;
	n = realloc(b->s->unreadable,
		    (b->s->nunreadable + 1) * sizeof(*n));
	if (!n) {
		free(line);
		return;
	}
	b->s->unreadable = n;
	n[b->s->nunreadable++] = line;
}

void backup_hash_zeros(XXH3_state_t *h, uint64_t len)
{
	static const uint8_t zero[65536];
	size_t n;

	while (len) {
		n = len > sizeof(zero) ? sizeof(zero) : (size_t)len;
		XXH3_128bits_update(h, zero, n);
		len -= n;
	}
}

/* Chunk the data region [start, end) of f into n; *endp: bytes covered. */
static int read_region(struct bk *b, struct source_file *f,
		       struct mf_node *n, XXH3_state_t *h, uint64_t start,
		       uint64_t end, uint64_t *endp)
{
	const struct source_ops *ops = b->o->src->ops;
	uint64_t off = start, pos = start;	/* pos: next byte to read */
	size_t have = 0, cut, want;
	ssize_t got;
	int eof = 0, r;

	while (have || !eof) {
		while (!eof && have < b->r->cmax) {
			want = b->r->cmax - have;
			if (want > end - pos)
				want = (size_t)(end - pos);
			if (!want) {
				eof = 1;
				break;
			}
			got = ops->pread(f, b->cbuf + have, want, pos);
			if (got < 0)
				return (int)got;
			if (!got) {
				eof = 1;	/* shrank while we read */
				break;
			}
			have += (size_t)got;
			pos += (uint64_t)got;
			b->s->bytes_read += (uint64_t)got;
			progress_add(&b->prog, 0, (uint64_t)got);
		}
		if (!have)
			break;
		cut = chunker_next(&b->r->ch, b->cbuf, have, eof);
		if (!cut)
			continue;
		XXH3_128bits_update(h, b->cbuf, cut);
		r = chunk_add(b, n, off, b->cbuf, cut);
		if (r)
			return r;
		off += cut;
		have -= cut;
		memmove(b->cbuf, b->cbuf + cut, have);
	}
	*endp = off;
	return 0;
}

static int changed(const struct stat *a, const struct stat *c)
{
	return a->st_size != c->st_size ||
		a->st_mtim.tv_sec != c->st_mtim.tv_sec ||
		a->st_mtim.tv_nsec != c->st_mtim.tv_nsec ||
		a->st_ctim.tv_sec != c->st_ctim.tv_sec ||
		a->st_ctim.tv_nsec != c->st_ctim.tv_nsec;
}

/* Read the file into n; a negative return that is not fatal means skip. */
static int read_file(struct bk *b, struct mf_node *n)
{
	const struct source_ops *ops = b->o->src->ops;
	struct source_file *f = NULL;
	struct stat before, after;
	uint64_t off = 0, data, hole, covered = 0;
	XXH3_state_t *h = XXH3_createState();
	XXH128_canonical_t fp;
	int r;

	if (!h)
		return -ENOMEM;
	XXH3_128bits_reset(h);
	r = ops->open(b->o->src, n->path, &f);
	if (!r)
		r = ops->fstat(f, &before);
	if (r)
		goto out;
	while (off < (uint64_t)before.st_size) {
		r = ops->next_data(f, off, &data, &hole);
		if (r == -ENXIO) {
			r = 0;
			break;
		}
		if (r)
			goto out;
		if (hole > (uint64_t)before.st_size)
			hole = (uint64_t)before.st_size;
		if (data >= hole)
			break;
		backup_hash_zeros(h, data - off);
		r = read_region(b, f, n, h, data, hole, &covered);
		if (r)
			goto out;
		off = covered;
		if (covered < hole)
			break;		/* the file shrank */
	}
	if (off < (uint64_t)before.st_size && !ops->fstat(f, &after) &&
	    (uint64_t)after.st_size >= (uint64_t)before.st_size) {
		backup_hash_zeros(h, (uint64_t)before.st_size - off);
		off = (uint64_t)before.st_size;	/* trailing hole */
	}
	n->size = off;
	r = ops->fstat(f, &after);
	if (r)
		goto out;
	if (changed(&before, &after) || off != (uint64_t)before.st_size) {
		char esc[512];

		n->flags |= MF_CHANGED;
		b->s->changed_during++;
		log_warn("%s changed while it was read; stored as read",
			 backup_esc(n->path, esc, sizeof(esc)));
	}
	XXH128_canonicalFromHash(&fp, XXH3_128bits_digest(h));
	memcpy(n->fp, fp.digest, MF_FP_LEN);
out:
	if (f)
		ops->close(f);
	XXH3_freeState(h);
	return r;
}

static int pnode_cmp(const void *a, const void *b)
{
	return strcmp((*(struct mf_node *const *)a)->path,
		      (*(struct mf_node *const *)b)->path);
}

static const struct mf_node *parent_find(struct bk *b, const char *path)
{
	struct mf_node key = { .path = (char *)path }, *kp = &key, **hit;

	if (!b->npnodes)
		return NULL;
	hit = bsearch(&kp, b->pnodes, b->npnodes, sizeof(*b->pnodes),
		      pnode_cmp);
	return hit ? *hit : NULL;
}

/*
 * Reuse the parent's record of an unchanged file, if all its packs are
 * still in the repository.  Returns 1 when reused.
 */
static int reuse_parent(struct bk *b, struct mf_node *n)
{
	const struct manifest *pm = &b->snaps[b->parent].m;
	const struct mf_node *p = parent_find(b, n->path);
	const struct repo_blob *bl;
	struct mf_extent *x;
	size_t i;

	if (!p || p->type != MF_FILE || p->size != n->size ||
	    p->mtime_ns != n->mtime_ns || p->ctime_ns != n->ctime_ns ||
	    p->ino != n->ino || (p->flags & MF_CHANGED))
		return 0;
	for (i = 0; i < p->next; i++) {
		if (p->ext[i].pack == MF_HOLE)
			continue;
		bl = repo_index_find(&b->ix, p->ext[i].id);
		if (!bl)
			return 0;	/* its pack is gone: read again */
	}
	for (i = 0; i < p->next; i++) {
		x = mf_node_add_extent(n);
		if (!x)
			return -ENOMEM;
		*x = p->ext[i];
		if (x->pack == MF_HOLE)
			continue;
		bl = repo_index_find(&b->ix, x->id);
		x->pack = bl->pack - 1;
		x->flags = bl->flags;
		x->blob_off = bl->blob_off;
		x->blob_len = bl->blob_len;
		b->s->chunks_dedup++;
	}
	memcpy(n->fp, p->fp, MF_FP_LEN);
	(void)pm;
	b->s->files_unchanged++;
	return 1;
}

/* ---- the tree --------------------------------------------------------- */

/*
 * Owner names, remembered per id for the run: each lookup reads
 * /etc/passwd or /etc/group again, and a tree has few owners.
 */
#define NAME_CACHE	16

struct name_cache {
	unsigned int id[NAME_CACHE];
	char *name[NAME_CACHE];		/* NULL: id has no name */
	size_t n;
};

static struct name_cache user_names, group_names;
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;

static char *lookup_name(int group, unsigned int id)
{
	struct passwd pw, *pres = NULL;
	struct group gr, *gres = NULL;
	char buf[4096];

	if (group)
		return getgrgid_r(id, &gr, buf, sizeof(buf), &gres) || !gres ?
			NULL : strdup(gres->gr_name);
	return getpwuid_r(id, &pw, buf, sizeof(buf), &pres) || !pres ?
		NULL : strdup(pres->pw_name);
}

/* A malloc'ed copy of the name of user (or group) id, or NULL. */
static char *owner_name(int group, unsigned int id)
{
	struct name_cache *c = group ? &group_names : &user_names;
	char *name = NULL;
	size_t i;

	pthread_mutex_lock(&names_mu);
	for (i = 0; i < c->n; i++)
		if (c->id[i] == id)
			break;
	if (i == c->n) {
		name = lookup_name(group, id);
		if (c->n < NAME_CACHE) {
			c->id[c->n] = id;
			c->name[c->n++] = name;
			name = NULL;
		}
	}
	if (i < c->n && c->name[i])
		name = strdup(c->name[i]);
	pthread_mutex_unlock(&names_mu);
	return name;
}

static char *user_name(uid_t uid)
{
	return owner_name(0, (unsigned int)uid);
}

static char *group_name(gid_t gid)
{
	return owner_name(1, (unsigned int)gid);
}

static int read_xattrs(struct bk *b, struct mf_node *n)
{
	const struct source_ops *ops = b->o->src->ops;
	char *list = NULL, *name;
	ssize_t len, vlen;
	struct mf_xattr *x;
	int r = 0;

	len = ops->listxattr(b->o->src, n->path, NULL, 0);
	if (len <= 0)
		return len < 0 ? (int)len : 0;
	list = malloc((size_t)len + 1);
	if (!list)
		return -ENOMEM;
	len = ops->listxattr(b->o->src, n->path, list, (size_t)len);
	if (len < 0) {
		r = (int)len;
		goto out;
	}
	for (name = list; name < list + len; name += strlen(name) + 1) {
		vlen = ops->getxattr(b->o->src, n->path, name, NULL, 0);
		if (vlen < 0 || vlen > (ssize_t)XATTR_LIST_MAX_)
			continue;
		x = realloc(n->xattrs, (n->nxattrs + 1) * sizeof(*x));
		if (!x) {
			r = -ENOMEM;
			goto out;
		}
		n->xattrs = x;
		x = &n->xattrs[n->nxattrs];
		x->name = strdup(name);
		x->value = malloc((size_t)vlen + 1);
		if (!x->name || !x->value) {
			free(x->name);
			free(x->value);
			r = -ENOMEM;
			goto out;
		}
		vlen = ops->getxattr(b->o->src, n->path, name, x->value,
				     (size_t)vlen);
		if (vlen < 0) {
			free(x->name);
			free(x->value);
			continue;
		}
		x->len = (size_t)vlen;
		n->nxattrs++;
	}
out:
	free(list);
	return r;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void node_from_stat(struct mf_node *n, const struct stat *sb)
{
	n->mode = sb->st_mode;
	n->uid = sb->st_uid;
	n->gid = sb->st_gid;
	n->uname = user_name(sb->st_uid);
	n->gname = group_name(sb->st_gid);
	n->size = S_ISREG(sb->st_mode) ? (uint64_t)sb->st_size : 0;
	n->mtime_ns = ns(&sb->st_mtim);
	n->atime_ns = ns(&sb->st_atim);
	n->ctime_ns = ns(&sb->st_ctim);
	n->ino = sb->st_ino;
	n->dev = sb->st_dev;
	n->rdev = sb->st_rdev;
	n->type = S_ISDIR(sb->st_mode) ? MF_DIR : S_ISLNK(sb->st_mode) ?
		MF_SYMLINK : S_ISFIFO(sb->st_mode) ? MF_FIFO :
		S_ISCHR(sb->st_mode) ? MF_CHR : S_ISBLK(sb->st_mode) ?
		MF_BLK : MF_FILE;
}

/* An earlier file with the same inode, for hard links. */
static const char *link_find(struct bk *b, const struct stat *sb)
{
	size_t i;

	for (i = 0; i < b->nlinks; i++) {
		struct mf_node *o = &b->m.nodes[b->links[i]];

		if (o->ino == sb->st_ino && o->dev == (uint64_t)sb->st_dev)
			return o->path;
	}
	return NULL;
}

static int link_note(struct bk *b, size_t idx)
{
	uint64_t *n;

	if (b->nlinks == b->links_cap) {
		size_t cap = b->links_cap ? b->links_cap * 2 : 32;

		n = realloc(b->links, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		b->links = n;
		b->links_cap = cap;
	}
	b->links[b->nlinks++] = idx;
	return 0;
}

static int walk(struct bk *b, const char *path);

struct names {
	char **v;
	size_t n, cap;
};

static int names_cb(const char *name, void *arg)
{
	struct names *a = arg;
	char **v;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;

		v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n] = strdup(name);
	return a->v[a->n++] ? 0 : -ENOMEM;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct bk *b, const char *path)
{
	struct names a = { 0 };
	char *sub = NULL;
	size_t i;
	int r;

	r = b->o->src->ops->readdir(b->o->src, path, names_cb, &a);
	if (r && r != -ENOMEM) {
		unreadable(b, *path ? path : ".", r);
		r = 0;
	}
	qsort(a.v, a.n, sizeof(*a.v), name_cmp);
	for (i = 0; !r && i < a.n; i++) {
		if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "",
			     a.v[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		r = walk(b, sub);
		free(sub);
	}
	for (i = 0; i < a.n; i++)
		free(a.v[i]);
	free(a.v);
	return r;
}

static int walk(struct bk *b, const char *path)
{
	const struct source_ops *ops = b->o->src->ops;
	struct mf_node *n;
	const char *other;
	char target[4096];
	struct stat sb;
	size_t idx;
	int r;

	r = ops->lstat(b->o->src, path, &sb);
	if (r) {
		unreadable(b, path, r);
		return 0;
	}
	n = manifest_add_node(&b->m);
	if (!n)
		return -ENOMEM;
	idx = b->m.nnodes - 1;
	n->path = strdup(path);
	if (!n->path)
		return -ENOMEM;
	node_from_stat(n, &sb);
	r = read_xattrs(b, n);
	if (r == -ENOMEM)
		return r;

	if (n->type == MF_SYMLINK) {
		r = ops->readlink(b->o->src, path, target, sizeof(target));
		if (r < 0)
			goto skip;
		n->target = strdup(target);
		b->s->others++;
		return n->target ? 0 : -ENOMEM;
	}
	if (n->type == MF_DIR) {
		b->s->dirs++;
		progress_add(&b->prog, 1, 0);
		return walk_dir(b, path);
	}
	if (n->type != MF_FILE) {
		b->s->others++;
		return 0;
	}
	b->s->files++;
	progress_add(&b->prog, 1, 0);
	repo_lock_refresh(b->r);
	if (sb.st_nlink > 1) {
		other = link_find(b, &sb);
		if (other) {
			n->type = MF_HARDLINK;
			n->target = strdup(other);
			return n->target ? 0 : -ENOMEM;
		}
	}
	b->s->bytes_total += (uint64_t)sb.st_size;
	r = b->parent >= 0 ? reuse_parent(b, n) : 0;
	if (r < 0)
		return r;
	if (!r) {
		r = read_file(b, n);
		if (r == -ENOMEM || b->up.failed)
			return r ? r : -PHV_ENET;
		/* project codes are ours (crypto, repository) but for a
		 * damaged block of a volume source */
		if (r < -PHV_EBASE && r != -PHV_EAUTH)
			return r;
		if (r)
			goto skip;
	}
	if (sb.st_nlink > 1)
		return link_note(b, idx);
	return 0;
skip:
	unreadable(b, path, r);
	if (n->type == MF_FILE)
		b->s->files--;
	mf_node_release(&b->m.nodes[idx]);
	b->m.nnodes--;
	return 0;
}

/* ---- the run ---------------------------------------------------------- */

static int pack_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MF_ID_LEN);
}

/*
 * What is known of each pack's retention from the snapshots that name
 * it (see backup.h, "Retention step"); packs named by none get 0.
 */
static int known_retention(struct bk *b)
{
	uint8_t (*ids)[MF_ID_LEN + 4] = NULL;
	const struct manifest *m;
	uint8_t (*hit)[MF_ID_LEN + 4];
	uint32_t k;
	size_t i, j;

	b->known = calloc(b->ix.npacks + 1, sizeof(*b->known));
	ids = calloc(b->ix.npacks + 1, sizeof(*ids));
	if (!b->known || !ids) {
		free(ids);
		return -ENOMEM;
	}
	for (i = 0; i < b->ix.npacks; i++) {
		memcpy(ids[i], b->ix.packs[i].id, MF_ID_LEN);
		k = (uint32_t)i;
		memcpy(ids[i] + MF_ID_LEN, &k, 4);
	}
	b->nknown = b->ix.npacks;
	qsort(ids, b->ix.npacks, sizeof(*ids), pack_id_cmp);
	for (i = 0; i < b->nsnaps; i++) {
		if (!b->snaps[i].loaded)
			continue;
		m = &b->snaps[i].m;
		if (m->retain_until > b->known_meta)
			b->known_meta = m->retain_until;
		for (j = 0; j < m->npacks; j++) {
			hit = bsearch(m->packs[j].id, ids, b->ix.npacks,
				      sizeof(*ids), pack_id_cmp);
			if (!hit)
				continue;
			memcpy(&k, *hit + MF_ID_LEN, 4);
			if (m->retain_until > b->known[k])
				b->known[k] = m->retain_until;
		}
	}
	free(ids);
	return 0;
}

static int find_parent(struct bk *b)
{
	struct manifest *m;
	size_t i, j;
	int r;

	b->parent = -1;
	r = repo_snaps_load(b->r, &b->snaps, &b->nsnaps);
	if (r)
		return r;
	r = known_retention(b);
	if (r)
		return r;
	/* the newest snapshot of this host and source (repo.h) */
	b->parent = repo_snap_latest(b->snaps, b->nsnaps, b->m.host,
				     b->m.source);
	if (b->parent < 0)
		return 0;
	m = &b->snaps[b->parent].m;
	b->m.has_parent = 1;
	memcpy(b->m.parent, m->id, MF_ID_LEN);
	repo_hex(m->id, b->s->parent);
	b->pnodes = calloc(m->nnodes ? m->nnodes : 1, sizeof(*b->pnodes));
	if (!b->pnodes)
		return -ENOMEM;
	for (i = 0, j = 0; i < m->nnodes; i++)
		if (m->nodes[i].type == MF_FILE)
			b->pnodes[j++] = &m->nodes[i];
	b->npnodes = j;
	qsort(b->pnodes, j, sizeof(*b->pnodes), pnode_cmp);
	return 0;
}

/* Apply upload results to the index: the version id of each new pack. */
static void collect_versions(struct bk *b)
{
	struct job *j;

	for (j = b->up.all; j; j = j->all_next) {
		if (j->kind || !j->vid)
			continue;
		free(b->ix.packs[j->pack].version_id);
		b->ix.packs[j->pack].version_id = j->vid;
		j->vid = NULL;
	}
}

/*
 * Compact the manifest's pack table to the packs it uses, in ix order,
 * and queue retention extensions for reused ones.  used[] is indexed by
 * ix pack number; new packs (fresh) were locked by their upload.
 */
static int build_pack_table(struct bk *b, const uint8_t *fresh)
{
	uint32_t *map = NULL;
	struct mf_pack *p;
	struct job *j;
	size_t i, k;
	int r = -ENOMEM;

	map = malloc((b->ix.npacks + 1) * sizeof(*map));
	if (!map)
		return -ENOMEM;
	for (i = 0; i < b->ix.npacks; i++)
		map[i] = MF_HOLE;
	for (i = 0; i < b->m.nnodes; i++)
		for (k = 0; k < b->m.nodes[i].next; k++)
			if (b->m.nodes[i].ext[k].pack != MF_HOLE)
				map[b->m.nodes[i].ext[k].pack] = 0;
	for (i = 0; i < b->ix.npacks; i++) {
		if (map[i] == MF_HOLE)
			continue;
		map[i] = (uint32_t)b->m.npacks;
		p = manifest_add_pack(&b->m);
		if (!p)
			goto out;
		*p = b->ix.packs[i];
		p->version_id = b->ix.packs[i].version_id ?
			strdup(b->ix.packs[i].version_id) : NULL;
		if (fresh[i] || b->r->mode == STORE_LOCK_NONE)
			continue;
		if (i < b->nknown && b->known[i] >= (int64_t)b->need_until) {
			b->s->retention_known += 2;
			if (b->known[i] < b->sure_until)
				b->sure_until = b->known[i];
			continue;
		}
		/* extend the pack and its index to our retain-until */
		for (k = 0; k < 2; k++) {
			j = calloc(1, sizeof(*j));
			if (!j)
				goto out;
			j->kind = 1;
			repo_hex(p->id, j->key + 6);
			memcpy(j->key, k ? "index/" : "packs/", 6);
			j->vid = !k && p->version_id ? strdup(p->version_id) :
				NULL;
			r = up_submit(&b->up, j);
			if (r)
				goto out;
		}
	}
	for (i = 0; i < b->m.nnodes; i++)
		for (k = 0; k < b->m.nodes[i].next; k++)
			if (b->m.nodes[i].ext[k].pack != MF_HOLE)
				b->m.nodes[i].ext[k].pack =
					map[b->m.nodes[i].ext[k].pack];
	r = 0;
out:
	free(map);
	return r;
}

struct ext_acc {
	struct bk *b;
	int err;
};

static int extend_meta_cb(const char *key, const char *vid, uint64_t size,
			  void *arg)
{
	struct ext_acc *a = arg;
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->kind = 1;
	snprintf(j->key, sizeof(j->key), "%s", key);
	j->vid = vid ? strdup(vid) : NULL;
	return up_submit(&a->b->up, j);
}

static int64_t step_of(const struct repo *r, int64_t step)
{
	if (step >= 0)
		return step;
	step = r->retention / 8;
	return step > BACKUP_STEP_MAX ? BACKUP_STEP_MAX : step;
}

static int bk_setup(struct bk *b, struct repo *r, const struct backup_opts *o,
		    struct backup_stats *s)
{
	char host[256] = "";

	b->r = r;
	b->o = o;
	b->s = s;
	b->parent = -1;
	if (!o->host)
		gethostname(host, sizeof(host) - 1);
	b->m.host = strdup(o->host ? o->host : host);
	b->m.source = strdup(o->source_name);
	b->dk = secmem_alloc(REPO_KEY_LEN);
	b->cbuf = malloc(r->cmax);
	b->zcap = ZSTD_compressBound(r->cmax);
	b->zbuf = malloc(b->zcap);
	b->ebuf = malloc(r->cmax + REPO_BLOB_OVERHEAD);
	b->zc = ZSTD_createCCtx();
	if (!b->m.host || !b->m.source || !b->dk || !b->cbuf || !b->zbuf ||
	    !b->ebuf || !b->zc)
		return -ENOMEM;
	b->m.time = o->server_now;
	b->need_until = repo_retain_until(r, o->server_now);
	b->m.retain_until = b->need_until;
	if (b->need_until)
		b->m.retain_until += step_of(r, o->step);
	b->sure_until = b->m.retain_until;
	s->retain_until = (time_t)b->m.retain_until;
	if (secmem_random(b->m.id, MF_ID_LEN) ||
	    secmem_random(b->dk, REPO_KEY_LEN))
		return -PHV_ECRYPTO;
	repo_hex(b->m.id, s->snapshot);
	return 0;
}

static void bk_release(struct bk *b)
{
	up_release(&b->up);
	manifest_release(&b->m);
	repo_index_release(&b->ix);
	repo_snaps_free(b->snaps, b->nsnaps);
	secmem_free(b->dk, REPO_KEY_LEN);
	wbuf_release(&b->pack);
	free(b->pblobs);
	free(b->pnodes);
	free(b->known);
	free(b->cbuf);
	free(b->zbuf);
	free(b->ebuf);
	free(b->links);
	ZSTD_freeCCtx(b->zc);
}

static double now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

int backup_run(struct repo *r, const struct backup_opts *o,
	       struct backup_stats *s)
{
	struct bk b;
	struct ext_acc ea;
	uint8_t *fresh = NULL;
	double t0 = now_s();
	size_t nold, i;
	int ret;

	memset(&b, 0, sizeof(b));
	memset(s, 0, sizeof(*s));
	ret = bk_setup(&b, r, o, s);
	if (ret)
		goto out;
	ret = repo_index_load(r, &b.ix, (time_t)b.m.retain_until);
	if (ret)
		goto out;
	s->dropped_packs = b.ix.dropped_packs;
	nold = b.ix.npacks;
	ret = find_parent(&b);
	if (ret)
		goto out;
	ret = up_start(&b.up, r->st, r->cache, o->workers ? o->workers : 4,
		       (time_t)b.m.retain_until);
	if (ret)
		goto out;
	progress_start(&b.prog, o->progress, "backup");

	ret = walk(&b, "");
	if (!ret)
		ret = pack_flush(&b);
	if (!ret) {
		fresh = calloc(b.ix.npacks + 1, 1);
		if (!fresh)
			ret = -ENOMEM;
	}
	if (ret) {
		up_finish(&b.up);
		goto out;
	}
	for (i = nold; i < b.ix.npacks; i++)
		fresh[i] = 1;

	/* packs and indexes first; then retention; the manifest last */
	ret = up_finish(&b.up);
	if (ret)
		goto out;
	collect_versions(&b);
	s->packs_uploaded = b.up.packs_up;
	s->bytes_uploaded = b.up.bytes_up;
	ret = up_restart(&b.up);
	if (ret)
		goto out;
	ret = build_pack_table(&b, fresh);
	/* config and keys were extended by every snapshot */
	if (!ret && r->mode != STORE_LOCK_NONE &&
	    b.known_meta >= (int64_t)b.need_until &&
	    b.known_meta < b.sure_until)
		b.sure_until = b.known_meta;
	if (!ret && r->mode != STORE_LOCK_NONE &&
	    b.known_meta < (int64_t)b.need_until) {
		ea.b = &b;
		ea.err = 0;
		ret = repo_list_oldest(r, "config", extend_meta_cb, &ea);
		if (!ret)
			ret = repo_list_oldest(r, "keys/", extend_meta_cb, &ea);
	}
	if (!ret)
		ret = up_finish(&b.up);
	else
		up_finish(&b.up);
	if (ret)
		goto out;
	s->retention_extended = b.up.extended;

	/*
	 * The manifest's retain-until must hold for every object it names:
	 * later runs trust it (known_retention).  Reused objects that were
	 * not extended may be locked for less than U + step.
	 */
	b.m.retain_until = b.sure_until;
	s->retain_until = (time_t)b.sure_until;
	b.m.files = s->files;
	b.m.dirs = s->dirs;
	b.m.bytes = s->bytes_total;
	repo_lock_refresh(r);
	ret = repo_snapshot_save(r, &b.m, b.dk, &s->bytes_uploaded);
	if (ret)
		log_err("cannot write the snapshot: %s", store_error(r->st));
out:
	progress_end(&b.prog);
	s->seconds = now_s() - t0;
	free(fresh);
	bk_release(&b);
	return ret;
}

void backup_stats_release(struct backup_stats *s)
{
	size_t i;

	for (i = 0; i < s->nunreadable; i++)
		free(s->unreadable[i]);
	free(s->unreadable);
	s->unreadable = NULL;
	s->nunreadable = 0;
}
