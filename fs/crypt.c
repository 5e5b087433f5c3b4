// SPDX-License-Identifier: MIT
/*
 * crypt.c - the volume's on-disk records: file headers and content blocks,
 * directory IDs, encrypted names, symlink targets, xattr names and values.
 *
 * Design: everything works on backing file descriptors handed in by the
 * caller; nothing here resolves paths or caches.  Content is cut in blocks
 * of bs plaintext bytes; block i lives at HDR_LEN + i * (bs + 28) as
 * nonce(12) || AES-256-GCM(DEK, plaintext, AAD = file ID || i) || tag(16).
 * Every block write is one pwrite() of freshly sealed bytes, and a run of
 * blocks in one request is one pwrite() too.
 *
 * Invariants: a block whose backing bytes are all zero (a hole) reads as
 * zeros; any other block that fails authentication yields -PHV_EAUTH and
 * its index, never bytes.  fc_pwrite()/fc_truncate() rely on the caller to
 * exclude other writers of the same file; readers may run in parallel
 * because a block is replaced by a single pwrite.
 * Nothing here logs; callers name the plaintext path in their messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <zstd.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/fileio.h"
#include "crypto/secmem.h"
#include "vol_i.h"

/* ---- helpers -------------------------------------------------------- */

int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

ssize_t pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, p + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

void name_tmp(char *buf)
{
	file_tmp_name(buf);
}

/* A per-thread scratch buffer for ciphertext, grown on demand. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

struct scratch {
	size_t size;
	uint8_t buf[];
};

static void scratch_free(void *p)
{
	free(p);
}

static void scratch_setup(void)
{
	pthread_key_create(&scratch_key, scratch_free);
}

static uint8_t *scratch_get(size_t size)
{
	struct scratch *s;

	pthread_once(&scratch_once, scratch_setup);
	s = pthread_getspecific(scratch_key);
	if (s && s->size >= size)
		return s->buf;
	free(s);
	s = malloc(sizeof(*s) + size);
	pthread_setspecific(scratch_key, s);
	if (!s)
		return NULL;
	s->size = size;
	return s->buf;
}

/* ---- file headers --------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Offsets inside the header. */
enum {
	H_MAGIC = 0, H_VERSION = 4, H_FLAGS = 6, H_ID = 8, H_KEK = 24,
	H_NONCE = 28, H_DEK = 40, H_TAG = 72,
};

/* Seal fc->dek into hdr under KEK version kek. */
static int hdr_seal(struct fcrypt *fc, uint32_t kek, uint8_t *hdr)
{
	const struct vol_kek *k = vol_kek_get(fc->vol, kek);
	struct aead_ad ad = { hdr, H_NONCE };
	int r;

	if (!k)
		return -PHV_ECONFIG;
	memcpy(hdr + H_MAGIC, HDR_MAGIC, 4);
	hdr[H_VERSION] = 0;
	hdr[H_VERSION + 1] = HDR_VERSION;
	hdr[H_FLAGS] = 0;
	hdr[H_FLAGS + 1] = 0;
	memcpy(hdr + H_ID, fc->file_id, FILE_ID_LEN);
	put32(hdr + H_KEK, kek);
	r = secmem_random(hdr + H_NONCE, AEAD_NONCE_LEN);
	if (!r)
		r = aead_seal(k->key, hdr + H_NONCE, &ad, 1, fc->dek,
			      VOL_KEY_LEN, hdr + H_DEK, hdr + H_TAG);
	return r;
}

int fc_load(struct fcrypt *fc)
{
	uint8_t hdr[HDR_LEN];
	struct aead_ad ad = { hdr, H_NONCE };
	const struct vol_kek *k;
	ssize_t n;
	int r;

	fc->bs = fc->vol->block_size;
	fc->has_hdr = 0;
	n = pread_all(fc->fd, hdr, HDR_LEN, 0);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return 0;
	if (n < HDR_LEN || memcmp(hdr, HDR_MAGIC, 4))
		return -PHV_EAUTH;
	if (hdr[H_VERSION] || hdr[H_VERSION + 1] != HDR_VERSION)
		return -PHV_EFORMAT;
	fc->kek_version = get32(hdr + H_KEK);
	k = vol_kek_get(fc->vol, fc->kek_version);
	if (!k)
		return -PHV_EAUTH;
	if (!fc->dek)
		fc->dek = secmem_alloc(VOL_KEY_LEN);
	if (!fc->dek)
		return -ENOMEM;
	r = aead_open(k->key, hdr + H_NONCE, &ad, 1, hdr + H_DEK, VOL_KEY_LEN,
		      fc->dek, hdr + H_TAG);
	if (r)
		return r;
	memcpy(fc->file_id, hdr + H_ID, FILE_ID_LEN);
	fc->has_hdr = 1;
	return 0;
}

int fc_init_header(struct fcrypt *fc)
{
	uint8_t hdr[HDR_LEN];
	uint32_t kek = vol_kek_current(fc->vol);
	int r;

	fc->bs = fc->vol->block_size;
	if (!fc->dek)
		fc->dek = secmem_alloc(VOL_KEY_LEN);
	if (!fc->dek)
		return -ENOMEM;
	r = secmem_random(fc->dek, VOL_KEY_LEN);
	if (!r)
		r = secmem_random(fc->file_id, FILE_ID_LEN);
	if (!r)
		r = hdr_seal(fc, kek, hdr);
	if (!r)
		r = pwrite_all(fc->fd, hdr, HDR_LEN, 0);
	if (!r) {
		fc->kek_version = kek;
		fc->has_hdr = 1;
	}
	return r;
}

int fc_rewrap(struct fcrypt *fc, uint32_t kek)
{
	uint8_t hdr[HDR_LEN];
	int r;

	if (!fc->has_hdr)
		return 0;
	r = hdr_seal(fc, kek, hdr);
	if (!r)
		r = pwrite_all(fc->fd, hdr, HDR_LEN, 0);
	if (!r)
		fc->kek_version = kek;
	return r;
}

void fc_release(struct fcrypt *fc)
{
	secmem_free(fc->dek, VOL_KEY_LEN);
	fc->dek = NULL;
	fc->has_hdr = 0;
}

/* ---- sizes ---------------------------------------------------------- */

int fc_plain_size(uint64_t bsize, uint32_t bs, uint64_t *sizep)
{
	uint64_t cbs = bs + BLK_OVERHEAD, rest, n, rem;

	*sizep = 0;
	if (bsize == 0)
		return 0;
	if (bsize < HDR_LEN)
		return -PHV_EFORMAT;
	rest = bsize - HDR_LEN;
	n = rest / cbs;
	rem = rest % cbs;
	*sizep = n * bs;
	if (rem == 0)
		return 0;
	if (rem <= BLK_OVERHEAD) {
		/* counted in, so that readers reach the tail and fail */
		*sizep += rem;
		return -PHV_EFORMAT;
	}
	*sizep += rem - BLK_OVERHEAD;
	return 0;
}

uint64_t fc_backing_size(uint64_t size, uint32_t bs)
{
	uint64_t n = size / bs, rem = size % bs;

	return HDR_LEN + n * (bs + BLK_OVERHEAD) +
	       (rem ? rem + BLK_OVERHEAD : 0);
}

static int fc_size(struct fcrypt *fc, uint64_t *sizep)
{
	struct stat st;

	if (fstat(fc->fd, &st))
		return -errno;
	return fc_plain_size((uint64_t)st.st_size, fc->bs, sizep);
}

/* ---- blocks --------------------------------------------------------- */

static uint64_t blk_off(const struct fcrypt *fc, uint64_t idx)
{
	return HDR_LEN + idx * (fc->bs + BLK_OVERHEAD);
}

static int all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* AAD of a block: file ID || u64 index || u8 "last block of the file". */
static void blk_ad(const struct fcrypt *fc, uint64_t idx, int last,
		   uint8_t ib[static 9], struct aead_ad ad[static 2])
{
	put32(ib, (uint32_t)(idx >> 32));
	put32(ib + 4, (uint32_t)idx);
	ib[8] = last ? 1 : 0;
	ad[0].p = fc->file_id;
	ad[0].len = FILE_ID_LEN;
	ad[1].p = ib;
	ad[1].len = 9;
}

static int blk_try(const struct fcrypt *fc, uint64_t idx, int last,
		   const uint8_t *c, size_t clen, uint8_t *pt)
{
	struct aead_ad ad[2];
	uint8_t ib[9];

	blk_ad(fc, idx, last, ib, ad);
	return aead_open(fc->dek, c, ad, 2, c + AEAD_NONCE_LEN,
			 clen - BLK_OVERHEAD, pt, c + clen - AEAD_TAG_LEN);
}

/*
 * Open backing block c (clen > BLK_OVERHEAD bytes) into pt.  The file's
 * last block must be sealed as last: that is what makes a file cut at a
 * block boundary fail.  Other blocks may be holes (all zero), or sealed
 * as last by an append that was interrupted before it re-sealed them.
 */
static int blk_open(const struct fcrypt *fc, uint64_t idx, const uint8_t *c,
		    size_t clen, uint8_t *pt, int last)
{
	int r;

	if (!last && all_zero(c, AEAD_NONCE_LEN) &&
	    all_zero(c + clen - AEAD_TAG_LEN, AEAD_TAG_LEN) &&
	    all_zero(c, clen)) {
		memset(pt, 0, clen - BLK_OVERHEAD);
		return 0;
	}
	r = blk_try(fc, idx, last, c, clen, pt);
	if (r == -PHV_EAUTH && !last)
		r = blk_try(fc, idx, 1, c, clen, pt);
	return r;
}

/* Seal plen bytes of pt as block idx into c (plen + BLK_OVERHEAD). */
static int blk_seal(const struct fcrypt *fc, uint64_t idx, int last,
		    const uint8_t *pt, size_t plen, uint8_t *c)
{
	struct aead_ad ad[2];
	uint8_t ib[9];
	int r;

	blk_ad(fc, idx, last, ib, ad);
	r = secmem_random(c, AEAD_NONCE_LEN);
	if (!r)
		r = aead_seal(fc->dek, c, ad, 2, pt, plen, c + AEAD_NONCE_LEN,
			      c + AEAD_NONCE_LEN + plen);
	return r;
}

ssize_t fc_pread(struct fcrypt *fc, void *buf, size_t len, uint64_t off,
		 uint64_t *badp)
{
	uint64_t first, last, idx, cbs = fc->bs + BLK_OVERHEAD;
	uint8_t *cbuf, *tmp, *out = buf;
	size_t done = 0, clen, want;
	ssize_t got;
	int r = 0;

	if (!fc->has_hdr || !len)
		return 0;
	first = off / fc->bs;
	last = (off + len - 1) / fc->bs;
	want = (size_t)((last - first + 1) * cbs);
	cbuf = scratch_get(want + 1 + fc->bs);
	if (!cbuf)
		return -ENOMEM;
	tmp = cbuf + want + 1;
	/* one byte more tells whether the last block read is the file's */
	got = pread_all(fc->fd, cbuf, want + 1, blk_off(fc, first));
	if (got < 0)
		return got;

	for (idx = first; idx <= last; idx++) {
		size_t pos = (size_t)((idx - first) * cbs), plen, skip, n;
		uint8_t *c = cbuf + pos;
		int is_last;

		if ((size_t)got <= pos)
			break;			/* past the end */
		clen = (size_t)got - pos < cbs ? (size_t)got - pos : cbs;
		is_last = pos + clen >= (size_t)got;
		if (clen <= BLK_OVERHEAD) {
			r = -PHV_EAUTH;		/* impossible tail */
			*badp = idx;
			break;
		}
		plen = clen - BLK_OVERHEAD;
		skip = idx == first ? (size_t)(off % fc->bs) : 0;
		if (skip >= plen)
			break;
		n = plen - skip;
		if (n > len - done)
			n = len - done;
		if (skip == 0 && n == plen) {
			r = blk_open(fc, idx, c, clen, out + done, is_last);
		} else {
			r = blk_open(fc, idx, c, clen, tmp, is_last);
			if (!r)
				memcpy(out + done, tmp + skip, n);
		}
		if (r) {
			*badp = idx;
			break;
		}
		done += n;
		if (is_last)
			break;
	}
	secmem_wipe(tmp, fc->bs);
	return r ? r : (ssize_t)done;
}

/* Read and open block idx of a file of plaintext size `size` into pt
 * (bs bytes, zero padded); blocks at or past the end are zeros. */
static int blk_read(struct fcrypt *fc, uint64_t idx, uint64_t size,
		    uint8_t *pt, uint8_t *c, uint64_t *badp)
{
	uint64_t start = idx * fc->bs;
	size_t plen;
	ssize_t got;
	int r;

	memset(pt, 0, fc->bs);
	if (start >= size)
		return 0;
	plen = size - start < fc->bs ? (size_t)(size - start) : fc->bs;
	got = pread_all(fc->fd, c, plen + BLK_OVERHEAD, blk_off(fc, idx));
	if (got < 0)
		return (int)got;
	if ((size_t)got != plen + BLK_OVERHEAD) {
		*badp = idx;
		return -PHV_EAUTH;
	}
	r = blk_open(fc, idx, c, plen + BLK_OVERHEAD, pt,
		     idx == (size - 1) / fc->bs);
	if (r)
		*badp = idx;
	return r;
}

/*
 * Rewrite block idx of a file of plaintext size `size` (a block at or past
 * the end counts as zeros) as plen bytes, zero padded, sealed as `last`
 * or not.  One pwrite.
 */
static int blk_reseal(struct fcrypt *fc, uint64_t idx, uint64_t size,
		      size_t plen, int last, uint64_t *badp)
{
	uint8_t *c = scratch_get(2 * (fc->bs + BLK_OVERHEAD) + fc->bs);
	uint8_t *pt;
	int r;

	if (!c)
		return -ENOMEM;
	pt = c + fc->bs + BLK_OVERHEAD;
	r = blk_read(fc, idx, size, pt, c, badp);
	if (!r && plen < fc->bs)
		memset(pt + plen, 0, fc->bs - plen);
	if (!r)
		r = blk_seal(fc, idx, last, pt, plen, c);
	if (!r)
		r = pwrite_all(fc->fd, c, plen + BLK_OVERHEAD,
			       blk_off(fc, idx));
	secmem_wipe(pt, fc->bs);
	return r;
}

/*
 * Appending moves the "last" mark: the new blocks are written first (the
 * old last block, padded to full size, still sealed as last), and only
 * then is the old last block re-sealed as an inner block.  A crash in
 * between leaves an inner block sealed as last, which readers accept.
 */
ssize_t fc_pwrite(struct fcrypt *fc, const void *buf, size_t len,
		  uint64_t off, uint64_t *badp)
{
	uint64_t size, nsize, first, last, idx, nlast, oldlast = 0;
	uint64_t cbs = fc->bs + BLK_OVERHEAD;
	const uint8_t *in = buf;
	uint8_t *cbuf, *pt, *rc;
	size_t nblk, wlen;
	int r;

	if (!len)
		return 0;
	if (!fc->has_hdr) {
		r = fc_init_header(fc);
		if (r)
			return r;
	}
	r = fc_size(fc, &size);
	if (r)
		return r == -PHV_EFORMAT ? -PHV_EAUTH : r;
	nsize = off + len > size ? off + len : size;
	first = off / fc->bs;
	last = (off + len - 1) / fc->bs;
	nlast = (nsize - 1) / fc->bs;
	if (size)
		oldlast = (size - 1) / fc->bs;

	/* a partial last block before the range becomes a full one */
	if (size && size % fc->bs && oldlast < first) {
		r = blk_reseal(fc, oldlast, size, fc->bs, 1, badp);
		if (r)
			return r;
		size = (oldlast + 1) * fc->bs;
	}

	nblk = (size_t)(last - first + 1);
	cbuf = scratch_get(nblk * cbs + 2 * fc->bs + cbs);
	if (!cbuf)
		return -ENOMEM;
	pt = cbuf + nblk * cbs;
	rc = pt + fc->bs;
	wlen = 0;
	for (idx = first; idx <= last; idx++) {
		uint64_t bstart = idx * fc->bs;
		uint64_t bend = bstart + fc->bs < nsize ? bstart + fc->bs : nsize;
		uint64_t ws = off > bstart ? off : bstart;
		uint64_t we = off + len < bend ? off + len : bend;
		size_t plen = (size_t)(bend - bstart);
		uint8_t *c = cbuf + wlen;

		if (ws == bstart && we == bend) {
			r = blk_seal(fc, idx, idx == nlast, in + (bstart - off),
				     plen, c);
		} else {
			r = blk_read(fc, idx, size, pt, rc, badp);
			if (r)
				break;
			memcpy(pt + (ws - bstart), in + (ws - off),
			       (size_t)(we - ws));
			r = blk_seal(fc, idx, idx == nlast, pt, plen, c);
		}
		if (r)
			break;
		wlen += plen + BLK_OVERHEAD;
	}
	secmem_wipe(pt, fc->bs);
	if (!r)
		r = pwrite_all(fc->fd, cbuf, wlen, blk_off(fc, first));
	if (!r && size && nlast > oldlast && oldlast < first)
		r = blk_reseal(fc, oldlast, size, fc->bs, 0, badp);
	return r ? r : (ssize_t)len;
}

int fc_truncate(struct fcrypt *fc, uint64_t nsize, uint64_t *badp)
{
	uint64_t size, nlast, oldlast;
	int r;

	if (!fc->has_hdr) {
		if (!nsize)
			return 0;
		r = fc_init_header(fc);
		if (r)
			return r;
	}
	r = fc_size(fc, &size);
	if (r == -PHV_EFORMAT && nsize < size)
		r = 0;		/* cutting a damaged tail away is allowed */
	if (r)
		return r == -PHV_EFORMAT ? -PHV_EAUTH : r;
	if (nsize == size)
		return 0;
	nlast = nsize ? (nsize - 1) / fc->bs : 0;
	if (nsize < size) {
		/* the new last block is sealed as last, then cut */
		if (nsize) {
			r = blk_reseal(fc, nlast, size,
				       (size_t)(nsize - nlast * fc->bs), 1,
				       badp);
			if (r)
				return r;
		}
		if (ftruncate(fc->fd, (off_t)fc_backing_size(nsize, fc->bs)))
			return -errno;
		return 0;
	}
	if (!size)
		return blk_reseal(fc, nlast, 0, (size_t)(nsize - nlast * fc->bs),
				  1, badp);
	oldlast = (size - 1) / fc->bs;
	if (oldlast == nlast)
		return blk_reseal(fc, nlast, size,
				  (size_t)(nsize - nlast * fc->bs), 1, badp);
	if (size % fc->bs) {
		r = blk_reseal(fc, oldlast, size, fc->bs, 1, badp);
		if (r)
			return r;
		size = (oldlast + 1) * fc->bs;
	}
	/* a sealed last block of zeros; the gap before it is a hole */
	r = blk_reseal(fc, nlast, size, (size_t)(nsize - nlast * fc->bs), 1,
		       badp);
	if (!r)
		r = blk_reseal(fc, oldlast, size, fc->bs, 0, badp);
	return r;
}

/* ---- directory IDs -------------------------------------------------- */

int dirid_read(int dirfd, uint8_t id[static DIRID_LEN])
{
	uint8_t buf[DIRID_FILE_LEN + 1];
	ssize_t n;
	int fd;

	fd = openat(dirfd, VOL_DIRID_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -PHV_EAUTH : -errno;
	n = pread_all(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return (int)n;
	if (n != DIRID_FILE_LEN || memcmp(buf, "PHVD\0\1\0\0", 8))
		return -PHV_EAUTH;
	memcpy(id, buf + 8, DIRID_LEN);
	return 0;
}

int dirid_create(int dirfd, uint8_t id[static DIRID_LEN])
{
	uint8_t buf[DIRID_FILE_LEN] = "PHVD\0\1\0\0";
	struct iovec iov;
	int r;

	r = secmem_random(id, DIRID_LEN);
	if (r)
		return r;
	memcpy(buf + 8, id, DIRID_LEN);
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	return file_replace_at(dirfd, VOL_DIRID_NAME, &iov, 1, 0444,
			       FILE_REPLACE_NO_DIRSYNC);
}

/* ---- names ---------------------------------------------------------- */

int name_reserved(const char *bname)
{
	size_t n;

	if (bname[0] == '.')
		return 1;
	n = strlen(bname);
	return n > 7 && !strncmp(bname, LONG_PREFIX, 2) &&
	       !strcmp(bname + n - 5, LONG_SUFFIX);
}

static int name_valid(const char *name, size_t len)
{
	if (!len || memchr(name, '/', len) || memchr(name, '\0', len))
		return 0;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	return 1;
}

static void name_hash(const char *enc, char *bname)
{
	uint8_t h[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)enc, strlen(enc), h);
	memcpy(bname, LONG_PREFIX, 2);
	b64_encode(h, sizeof(h), bname + 2);
}

int name_encrypt(struct vol *vol, const uint8_t dirid[static DIRID_LEN],
		 const char *name, char *bname, char *longenc)
{
	uint8_t ct[VOL_NAME_MAX + SIV_TAG_LEN];
	char enc[NAME_ENC_MAX];
	struct aead_ad ad = { dirid, DIRID_LEN };
	size_t len = strlen(name), elen;
	int r;

	if (len > VOL_NAME_MAX)
		return -ENAMETOOLONG;
	if (!name_valid(name, len))
		return -EINVAL;
	r = siv_seal(vol->name_key, &ad, 1, name, len, ct);
	if (r)
		return r;
	elen = b64_encode(ct, len + SIV_TAG_LEN, enc);
	if (elen <= 255) {
		memcpy(bname, enc, elen + 1);
		return 0;
	}
	name_hash(enc, bname);
	if (longenc)
		memcpy(longenc, enc, elen + 1);
	return 1;
}

static int sidecar_name(const char *bname, char *out)
{
	int n = snprintf(out, 256, "%s" LONG_SUFFIX, bname);

	return n < 0 || n >= 256 ? -ENAMETOOLONG : 0;
}

/* Read the full encoding of long name bname and check its hash. */
static int name_long_read(int dirfd, const char *bname, char *enc)
{
	char side[256], check[64];
	ssize_t n;
	int fd, r;

	r = sidecar_name(bname, side);
	if (r)
		return r;
	fd = openat(dirfd, side, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -PHV_EAUTH : -errno;
	n = pread_all(fd, enc, NAME_ENC_MAX - 1, 0);
	close(fd);
	if (n < 0)
		return (int)n;
	enc[n] = '\0';
	name_hash(enc, check);
	return strcmp(check, bname) ? -PHV_EAUTH : 0;
}

int name_decrypt(struct vol *vol, int dirfd,
		 const uint8_t dirid[static DIRID_LEN], const char *bname,
		 char *plain)
{
	uint8_t ct[NAME_ENC_MAX];
	char enc[NAME_ENC_MAX];
	struct aead_ad ad = { dirid, DIRID_LEN };
	const char *e = bname;
	size_t elen;
	long n;
	int r;

	if (name_reserved(bname))
		return 1;
	if (!strncmp(bname, LONG_PREFIX, 2)) {
		r = name_long_read(dirfd, bname, enc);
		if (r)
			return r;
		e = enc;
	}
	elen = strlen(e);
	if (elen > NAME_ENC_MAX - 1)
		return -PHV_EAUTH;
	n = b64_decode(e, elen, ct);
	if (n <= SIV_TAG_LEN || n > VOL_NAME_MAX + SIV_TAG_LEN)
		return -PHV_EAUTH;
	r = siv_open(vol->name_key, &ad, 1, ct, (size_t)n, plain);
	if (r)
		return r;
	plain[n - SIV_TAG_LEN] = '\0';
	if (!name_valid(plain, (size_t)n - SIV_TAG_LEN))
		return -PHV_EAUTH;
	return 0;
}

int name_sidecar_write(int dirfd, const char *bname, const char *longenc)
{
	struct iovec iov = { .iov_base = (void *)longenc,
			     .iov_len = strlen(longenc) };
	char side[256];
	int r = sidecar_name(bname, side);

	if (r)
		return r;
	return file_replace_at(dirfd, side, &iov, 1, 0444,
			       FILE_REPLACE_NO_DIRSYNC);
}

void name_sidecar_remove(int dirfd, const char *bname)
{
	char side[256];

	if (strncmp(bname, LONG_PREFIX, 2) || sidecar_name(bname, side))
		return;
	unlinkat(dirfd, side, 0);
}

/* ---- symlinks ------------------------------------------------------- */

static const char symlink_ad[] = "phivault v1 symlink";

#define LINK_MAX_PLAIN	4096

int symlink_encrypt(struct vol *vol, const char *target, char *enc,
		    size_t size)
{
	size_t tlen = strlen(target), plen, zlen;
	struct aead_ad ad = { symlink_ad, sizeof(symlink_ad) - 1 };
	uint8_t *buf = NULL;
	int r;

	if (!tlen)
		return -ENOENT;
	if (tlen >= LINK_MAX_PLAIN)
		return -ENAMETOOLONG;
	buf = malloc(AEAD_NONCE_LEN + 1 + LINK_MAX_PLAIN + 64 + AEAD_TAG_LEN);
	if (!buf)
		return -ENOMEM;
	/* flag byte: 0 raw, 1 zstd when that is shorter */
	zlen = ZSTD_compress(buf + AEAD_NONCE_LEN + 1, LINK_MAX_PLAIN + 64,
			     target, tlen, 3);
	if (!ZSTD_isError(zlen) && zlen < tlen) {
		buf[AEAD_NONCE_LEN] = 1;
		plen = zlen + 1;
	} else {
		buf[AEAD_NONCE_LEN] = 0;
		memcpy(buf + AEAD_NONCE_LEN + 1, target, tlen);
		plen = tlen + 1;
	}
	r = secmem_random(buf, AEAD_NONCE_LEN);
	if (!r)
		r = aead_seal(vol->meta_key, buf, &ad, 1, buf + AEAD_NONCE_LEN,
			      plen, buf + AEAD_NONCE_LEN,
			      buf + AEAD_NONCE_LEN + plen);
	if (r)
		goto out;
	if (B64_ENCLEN(plen + BLK_OVERHEAD) >= size ||
	    B64_ENCLEN(plen + BLK_OVERHEAD) > 4095) {
		r = -ENAMETOOLONG;
		goto out;
	}
	b64_encode(buf, plen + BLK_OVERHEAD, enc);
out:
	free(buf);
	return r;
}

int symlink_decrypt(struct vol *vol, const char *enc, char *plain,
		    size_t size)
{
	struct aead_ad ad = { symlink_ad, sizeof(symlink_ad) - 1 };
	size_t elen = strlen(enc), plen, n;
	uint8_t *buf;
	long got;
	int r;

	if (elen > 8192)
		return -PHV_EAUTH;
	buf = malloc(elen);
	if (!buf)
		return -ENOMEM;
	got = b64_decode(enc, elen, buf);
	if (got <= BLK_OVERHEAD + 1) {
		r = -PHV_EAUTH;
		goto out;
	}
	plen = (size_t)got - BLK_OVERHEAD;
	r = aead_open(vol->meta_key, buf, &ad, 1, buf + AEAD_NONCE_LEN, plen,
		      buf + AEAD_NONCE_LEN, buf + AEAD_NONCE_LEN + plen);
	if (r)
		goto out;
	if (buf[AEAD_NONCE_LEN] == 0) {
		n = plen - 1;
		if (n >= size) {
			r = -ENAMETOOLONG;
			goto out;
		}
		memcpy(plain, buf + AEAD_NONCE_LEN + 1, n);
	} else if (buf[AEAD_NONCE_LEN] == 1) {
		n = ZSTD_decompress(plain, size - 1, buf + AEAD_NONCE_LEN + 1,
				    plen - 1);
		if (ZSTD_isError(n)) {
			r = -ENAMETOOLONG;
			goto out;
		}
	} else {
		r = -PHV_EFORMAT;
		goto out;
	}
	plain[n] = '\0';
	r = (int)n;
out:
	free(buf);
	return r;
}

/* ---- xattrs --------------------------------------------------------- */

static const char xattr_name_ad[] = "phivault v1 xattr name";
static const char xattr_val_ad[] = "phivault v1 xattr value";

static const char *xattr_prefix(const char *name)
{
	if (!strncmp(name, "user.", 5))
		return "user.phv.";
	if (!strncmp(name, "trusted.", 8))
		return "trusted.phv.";
	return NULL;
}

int xattr_name_encrypt(struct vol *vol, const char *name, char *bname)
{
	struct aead_ad ad = { xattr_name_ad, sizeof(xattr_name_ad) - 1 };
	uint8_t ct[256 + SIV_TAG_LEN];
	const char *pfx = xattr_prefix(name);
	size_t len = strlen(name), plen;
	int r;

	if (!pfx)
		return -EOPNOTSUPP;
	if (len > 255)
		return -ERANGE;
	plen = strlen(pfx);
	if (plen + B64_ENCLEN(len + SIV_TAG_LEN) > 255)
		return -ERANGE;
	r = siv_seal(vol->name_key, &ad, 1, name, len, ct);
	if (r)
		return r;
	memcpy(bname, pfx, plen);
	b64_encode(ct, len + SIV_TAG_LEN, bname + plen);
	return 0;
}

int xattr_name_decrypt(struct vol *vol, const char *bname, char *name)
{
	struct aead_ad ad = { xattr_name_ad, sizeof(xattr_name_ad) - 1 };
	uint8_t ct[256 + SIV_TAG_LEN];
	const char *e, *pfx;
	long n;
	int r;

	if (!strncmp(bname, "user.phv.", 9))
		e = bname + 9;
	else if (!strncmp(bname, "trusted.phv.", 12))
		e = bname + 12;
	else
		return 1;
	if (strlen(e) > B64_ENCLEN(255 + SIV_TAG_LEN))
		return -PHV_EAUTH;
	n = b64_decode(e, strlen(e), ct);
	if (n <= SIV_TAG_LEN)
		return -PHV_EAUTH;
	r = siv_open(vol->name_key, &ad, 1, ct, (size_t)n, name);
	if (r)
		return r;
	name[n - SIV_TAG_LEN] = '\0';
	pfx = xattr_prefix(name);
	if (!pfx || strncmp(pfx, bname, strlen(pfx)) ||
	    strlen(name) != (size_t)n - SIV_TAG_LEN)
		return -PHV_EAUTH;
	return 0;
}

ssize_t xattr_list_plain(struct vol *vol, const char *p, char **listp)
{
	char name[XATTR_BACKING_MAX], *blist = NULL, *out = NULL, *b;
	size_t pos = 0, nl;
	ssize_t len, r = -ENOMEM;

	*listp = NULL;
	len = listxattr(p, NULL, 0);
	if (len < 0)
		return -errno;
	blist = malloc((size_t)len + 1);
	out = malloc((size_t)len + 1);
	if (!blist || !out)
		goto out;
	len = listxattr(p, blist, (size_t)len);
	if (len < 0) {
		r = -errno;
		goto out;
	}
	for (b = blist; b < blist + len; b += strlen(b) + 1) {
		if (xattr_name_decrypt(vol, b, name))
			continue;
		nl = strlen(name) + 1;
		memcpy(out + pos, name, nl);	/* plaintext is shorter */
		pos += nl;
	}
	*listp = out;
	out = NULL;
	r = (ssize_t)pos;
out:
	free(blist);
	free(out);
	return r;
}

/* AAD of an xattr value: its label, the object ID and the plaintext name. */
static void xattr_val_ad_fill(const uint8_t oid[static FILE_ID_LEN],
			      const char *name, struct aead_ad ad[static 3])
{
	ad[0] = (struct aead_ad){ xattr_val_ad, sizeof(xattr_val_ad) - 1 };
	ad[1] = (struct aead_ad){ oid, FILE_ID_LEN };
	ad[2] = (struct aead_ad){ name, strlen(name) + 1 };
}

int xattr_seal(struct vol *vol, const uint8_t oid[static FILE_ID_LEN],
	       const char *name, const void *val, size_t len, uint8_t *out)
{
	struct aead_ad ad[3];
	int r;

	xattr_val_ad_fill(oid, name, ad);
	r = secmem_random(out, AEAD_NONCE_LEN);
	if (!r)
		r = aead_seal(vol->meta_key, out, ad, 3, val, len,
			      out + AEAD_NONCE_LEN, out + AEAD_NONCE_LEN + len);
	return r;
}

int xattr_open(struct vol *vol, const uint8_t oid[static FILE_ID_LEN],
	       const char *name, const uint8_t *in, size_t inlen, void *val)
{
	struct aead_ad ad[3];

	if (inlen < BLK_OVERHEAD)
		return -PHV_EAUTH;
	xattr_val_ad_fill(oid, name, ad);
	return aead_open(vol->meta_key, in, ad, 3, in + AEAD_NONCE_LEN,
			 inlen - BLK_OVERHEAD, val,
			 in + inlen - AEAD_TAG_LEN);
}
