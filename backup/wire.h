/* SPDX-License-Identifier: MIT */
/*
 * wire.h - the byte codec shared by the repository's binary records
 * (manifests, pack indexes): LEB128 varints, length-prefixed strings and
 * fixed-size byte runs, into a growing buffer or out of a bounded one.
 *
 * Writers record the first allocation failure in the buffer and keep
 * going, so a record is encoded as a flat run of calls and checked once
 * (wbuf.err).  Readers likewise latch the first overrun (rbuf.err) and
 * then return zeros, so a decoder checks once at the end; no read ever
 * goes past the end of its input.  Nothing here logs.
 */
#ifndef BACKUP_WIRE_H
#define BACKUP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX	(1ULL << 32)	/* hard cap on any one buffer */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;		/* first failure: -ENOMEM or -EFBIG */
};

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	int err;		/* -PHV_EFORMAT after an overrun */
};

void wbuf_bytes(struct wbuf *w, const void *p, size_t n);
void wbuf_u8(struct wbuf *w, uint8_t v);
void wbuf_u32le(struct wbuf *w, uint32_t v);
void wbuf_u64le(struct wbuf *w, uint64_t v);
void wbuf_var(struct wbuf *w, uint64_t v);
void wbuf_svar(struct wbuf *w, int64_t v);	/* zig-zag */
void wbuf_str(struct wbuf *w, const char *s);	/* NULL is "" */
void wbuf_blob(struct wbuf *w, const void *p, size_t n);	/* var + n */
void wbuf_release(struct wbuf *w);

void rbuf_init(struct rbuf *r, const void *p, size_t len);
void rbuf_bytes(struct rbuf *r, void *out, size_t n);
uint8_t rbuf_u8(struct rbuf *r);
uint32_t rbuf_u32le(struct rbuf *r);
uint64_t rbuf_u64le(struct rbuf *r);
uint64_t rbuf_var(struct rbuf *r);
int64_t rbuf_svar(struct rbuf *r);
/* A malloc'ed NUL-terminated copy (max bytes at most); NULL on error. */
char *rbuf_str(struct rbuf *r, size_t max);
/* A malloc'ed copy of a var-prefixed blob; *np gets its length. */
uint8_t *rbuf_blob(struct rbuf *r, size_t max, size_t *np);

#endif /* BACKUP_WIRE_H */
