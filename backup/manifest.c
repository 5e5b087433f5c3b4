// SPDX-License-Identifier: MIT
/*
 * manifest.c - encode and decode snapshot manifests (see manifest.h).
 *
 * Layout (all integers LEB128 unless noted): magic "PHVMF1\0\0", id,
 * time, retain-until, host, source, parent flag [+ id], totals, the pack
 * table, then the nodes.  Every count is bounded by what is left of the
 * input before anything is allocated for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "manifest.h"
#include "wire.h"

static const uint8_t mf_magic[8] = "PHVMF1\0";

#define MF_STR_MAX	(1U << 16)
#define MF_XATTR_MAX	(1U << 16)

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return p;
	ncap = *cap ? *cap * 2 : 16;
	q = realloc(p, ncap * size);
	if (!q)
		return NULL;
	memset((char *)q + *cap * size, 0, (ncap - *cap) * size);
	*cap = ncap;
	return q;
}

struct mf_node *manifest_add_node(struct manifest *m)
{
	struct mf_node *p = grow(m->nodes, &m->nodes_cap, m->nnodes,
				 sizeof(*p));

	if (!p)
		return NULL;
	m->nodes = p;
	return &m->nodes[m->nnodes++];
}

struct mf_extent *mf_node_add_extent(struct mf_node *n)
{
	struct mf_extent *p = grow(n->ext, &n->ext_cap, n->next, sizeof(*p));

	if (!p)
		return NULL;
	n->ext = p;
	return &n->ext[n->next++];
}

struct mf_pack *manifest_add_pack(struct manifest *m)
{
	struct mf_pack *p = grow(m->packs, &m->packs_cap, m->npacks,
				 sizeof(*p));

	if (!p)
		return NULL;
	m->packs = p;
	return &m->packs[m->npacks++];
}

int mf_path_ok(const char *path)
{
	const char *p = path, *e;
	size_t n;

	if (!*path)
		return 1;
	if (*path == '/')
		return 0;
	for (;;) {
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (!n || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!e)
			return 1;
		p = e + 1;
	}
}

static void encode_node(struct wbuf *w, const struct mf_node *n)
{
	size_t i;

	wbuf_str(w, n->path);
	wbuf_var(w, n->type);
	wbuf_var(w, n->mode);
	wbuf_var(w, n->uid);
	wbuf_var(w, n->gid);
	wbuf_str(w, n->uname);
	wbuf_str(w, n->gname);
	wbuf_var(w, n->size);
	wbuf_svar(w, n->mtime_ns);
	wbuf_svar(w, n->atime_ns);
	wbuf_svar(w, n->ctime_ns);
	wbuf_var(w, n->ino);
	wbuf_var(w, n->dev);
	wbuf_var(w, n->rdev);
	wbuf_var(w, n->flags);
	wbuf_str(w, n->target);
	wbuf_bytes(w, n->fp, MF_FP_LEN);
	wbuf_var(w, n->nxattrs);
	for (i = 0; i < n->nxattrs; i++) {
		wbuf_str(w, n->xattrs[i].name);
		wbuf_blob(w, n->xattrs[i].value, n->xattrs[i].len);
	}
	wbuf_var(w, n->next);
	for (i = 0; i < n->next; i++) {
		const struct mf_extent *x = &n->ext[i];

		wbuf_var(w, x->off);
		wbuf_var(w, x->len);
		wbuf_var(w, x->pack == MF_HOLE ? 0 : (uint64_t)x->pack + 1);
		if (x->pack == MF_HOLE)
			continue;
		wbuf_var(w, x->flags);
		wbuf_var(w, x->blob_off);
		wbuf_var(w, x->blob_len);
		wbuf_bytes(w, x->id, MF_CHUNK_ID_LEN);
	}
}

int manifest_encode(const struct manifest *m, uint8_t **bufp, size_t *lenp)
{
	struct wbuf w = { 0 };
	size_t i;

	*bufp = NULL;
	*lenp = 0;
	wbuf_bytes(&w, mf_magic, sizeof(mf_magic));
	wbuf_bytes(&w, m->id, MF_ID_LEN);
	wbuf_svar(&w, m->time);
	wbuf_svar(&w, m->retain_until);
	wbuf_str(&w, m->host);
	wbuf_str(&w, m->source);
	wbuf_u8(&w, m->has_parent ? 1 : 0);
	if (m->has_parent)
		wbuf_bytes(&w, m->parent, MF_ID_LEN);
	wbuf_var(&w, m->files);
	wbuf_var(&w, m->dirs);
	wbuf_var(&w, m->bytes);
	wbuf_var(&w, m->npacks);
	for (i = 0; i < m->npacks; i++) {
		wbuf_bytes(&w, m->packs[i].id, MF_ID_LEN);
		wbuf_bytes(&w, m->packs[i].key_id, MF_ID_LEN);
		wbuf_bytes(&w, m->packs[i].wrapped, MF_WRAP_LEN);
		wbuf_str(&w, m->packs[i].version_id);
	}
	wbuf_var(&w, m->nnodes);
	for (i = 0; i < m->nnodes; i++)
		encode_node(&w, &m->nodes[i]);
	if (w.err) {
		int r = w.err;

		wbuf_release(&w);
		return r;
	}
	*bufp = w.p;
	*lenp = w.len;
	return 0;
}

/* A string field where "" means absent. */
static char *opt_str(struct rbuf *r)
{
	char *s = rbuf_str(r, MF_STR_MAX);

	if (s && !*s) {
		free(s);
		s = NULL;
	}
	return s;
}

static int decode_extents(struct rbuf *r, struct mf_node *n, size_t npacks)
{
	uint64_t cnt = rbuf_var(r), i, pack;
	struct mf_extent *x;

	/* each extent takes at least 3 bytes */
	if (r->err || cnt > (r->len - r->pos) / 3)
		return -PHV_EFORMAT;
	for (i = 0; i < cnt && !r->err; i++) {
		x = mf_node_add_extent(n);
		if (!x)
			return -ENOMEM;
		x->off = rbuf_var(r);
		x->len = rbuf_var(r);
		pack = rbuf_var(r);
		if (!pack) {
			x->pack = MF_HOLE;
			continue;
		}
		if (pack > npacks)
			return -PHV_EFORMAT;
		x->pack = (uint32_t)(pack - 1);
		x->flags = (uint32_t)rbuf_var(r);
		x->blob_off = rbuf_var(r);
		x->blob_len = (uint32_t)rbuf_var(r);
		rbuf_bytes(r, x->id, MF_CHUNK_ID_LEN);
	}
	return r->err;
}

static int decode_node(struct rbuf *r, struct mf_node *n, size_t npacks)
{
	uint64_t cnt, i;

	n->path = rbuf_str(r, MF_STR_MAX);
	n->type = (enum mf_type)rbuf_var(r);
	n->mode = (uint32_t)rbuf_var(r);
	n->uid = (uint32_t)rbuf_var(r);
	n->gid = (uint32_t)rbuf_var(r);
	n->uname = opt_str(r);
	n->gname = opt_str(r);
	n->size = rbuf_var(r);
	n->mtime_ns = rbuf_svar(r);
	n->atime_ns = rbuf_svar(r);
	n->ctime_ns = rbuf_svar(r);
	n->ino = rbuf_var(r);
	n->dev = rbuf_var(r);
	n->rdev = rbuf_var(r);
	n->flags = (uint32_t)rbuf_var(r);
	n->target = opt_str(r);
	rbuf_bytes(r, n->fp, MF_FP_LEN);
	if (r->err || !n->path || !mf_path_ok(n->path) ||
	    n->type < MF_FILE || n->type > MF_BLK)
		return -PHV_EFORMAT;
	if (n->type == MF_HARDLINK && (!n->target || !mf_path_ok(n->target)))
		return -PHV_EFORMAT;
	cnt = rbuf_var(r);
	if (r->err || cnt > (r->len - r->pos) / 2)
		return -PHV_EFORMAT;
	if (cnt) {
		n->xattrs = calloc((size_t)cnt, sizeof(*n->xattrs));
		if (!n->xattrs)
			return -ENOMEM;
	}
	for (i = 0; i < cnt && !r->err; i++) {
		n->nxattrs++;
		n->xattrs[i].name = rbuf_str(r, MF_STR_MAX);
		n->xattrs[i].value = rbuf_blob(r, MF_XATTR_MAX,
					       &n->xattrs[i].len);
	}
	if (r->err)
		return r->err;
	return decode_extents(r, n, npacks);
}

int manifest_decode(const void *buf, size_t len, struct manifest *m)
{
	uint8_t magic[sizeof(mf_magic)];
	struct rbuf r;
	uint64_t cnt, i;
	struct mf_pack *p;
	struct mf_node *n;
	int ret = -PHV_EFORMAT;

	memset(m, 0, sizeof(*m));
	rbuf_init(&r, buf, len);
	rbuf_bytes(&r, magic, sizeof(magic));
	if (r.err || memcmp(magic, mf_magic, sizeof(magic)))
		goto out;
	rbuf_bytes(&r, m->id, MF_ID_LEN);
	m->time = rbuf_svar(&r);
	m->retain_until = rbuf_svar(&r);
	m->host = opt_str(&r);
	m->source = opt_str(&r);
	m->has_parent = rbuf_u8(&r);
	if (m->has_parent)
		rbuf_bytes(&r, m->parent, MF_ID_LEN);
	m->files = rbuf_var(&r);
	m->dirs = rbuf_var(&r);
	m->bytes = rbuf_var(&r);
	cnt = rbuf_var(&r);
	if (r.err || cnt > (len - r.pos) / (2 * MF_ID_LEN + MF_WRAP_LEN))
		goto out;
	for (i = 0; i < cnt && !r.err; i++) {
		ret = -ENOMEM;
		p = manifest_add_pack(m);
		if (!p)
			goto out;
		rbuf_bytes(&r, p->id, MF_ID_LEN);
		rbuf_bytes(&r, p->key_id, MF_ID_LEN);
		rbuf_bytes(&r, p->wrapped, MF_WRAP_LEN);
		p->version_id = opt_str(&r);
	}
	ret = -PHV_EFORMAT;
	cnt = rbuf_var(&r);
	if (r.err || cnt > (len - r.pos) / 8)
		goto out;
	for (i = 0; i < cnt; i++) {
		ret = -ENOMEM;
		n = manifest_add_node(m);
		if (!n)
			goto out;
		ret = decode_node(&r, n, m->npacks);
		if (ret)
			goto out;
	}
	ret = r.err ? r.err : r.pos == len ? 0 : -PHV_EFORMAT;
out:
	if (ret)
		manifest_release(m);
	return ret;
}

void mf_node_release(struct mf_node *n)
{
	size_t i;

	free(n->path);
	free(n->uname);
	free(n->gname);
	free(n->target);
	for (i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->ext);
	memset(n, 0, sizeof(*n));
}

void manifest_release(struct manifest *m)
{
	size_t i;

	for (i = 0; i < m->nnodes; i++)
		mf_node_release(&m->nodes[i]);
	for (i = 0; i < m->npacks; i++)
		free(m->packs[i].version_id);
	free(m->nodes);
	free(m->packs);
	free(m->host);
	free(m->source);
	memset(m, 0, sizeof(*m));
}
