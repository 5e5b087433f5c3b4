// SPDX-License-Identifier: MIT
/*
 * wire.c - byte codec for the repository's binary records (see wire.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "wire.h"

static int wbuf_grow(struct wbuf *w, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (w->err)
		return w->err;
	if (w->len + n <= w->cap)
		return 0;
	if (w->len + n > WIRE_MAX) {
		w->err = -EFBIG;
		return w->err;
	}
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + n)
		cap *= 2;
	p = realloc(w->p, cap);
	if (!p) {
		w->err = -ENOMEM;
		return w->err;
	}
	w->p = p;
	w->cap = cap;
	return 0;
}

void wbuf_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (!n || wbuf_grow(w, n))
		return;
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

void wbuf_u8(struct wbuf *w, uint8_t v)
{
	wbuf_bytes(w, &v, 1);
}

void wbuf_u32le(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wbuf_bytes(w, b, 4);
}

void wbuf_u64le(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wbuf_bytes(w, b, 8);
}

void wbuf_var(struct wbuf *w, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	wbuf_bytes(w, b, n);
}

void wbuf_svar(struct wbuf *w, int64_t v)
{
	wbuf_var(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void wbuf_str(struct wbuf *w, const char *s)
{
	wbuf_blob(w, s ? s : "", s ? strlen(s) : 0);
}

void wbuf_blob(struct wbuf *w, const void *p, size_t n)
{
	wbuf_var(w, n);
	wbuf_bytes(w, p, n);
}

void wbuf_release(struct wbuf *w)
{
	free(w->p);
	memset(w, 0, sizeof(*w));
}

void rbuf_init(struct rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->err = 0;
}

static int rbuf_take(struct rbuf *r, size_t n)
{
	if (r->err || n > r->len - r->pos) {
		r->err = -PHV_EFORMAT;
		return -1;
	}
	return 0;
}

void rbuf_bytes(struct rbuf *r, void *out, size_t n)
{
	if (rbuf_take(r, n)) {
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->pos, n);
	r->pos += n;
}

uint8_t rbuf_u8(struct rbuf *r)
{
	uint8_t v;

	rbuf_bytes(r, &v, 1);
	return v;
}

uint32_t rbuf_u32le(struct rbuf *r)
{
	uint8_t b[4];

	rbuf_bytes(r, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		(uint32_t)b[3] << 24;
}

uint64_t rbuf_u64le(struct rbuf *r)
{
	uint64_t v = 0;
	uint8_t b[8];
	int i;

	rbuf_bytes(r, b, 8);
	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

uint64_t rbuf_var(struct rbuf *r)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	uint8_t b;

	do {
		b = rbuf_u8(r);
		if (shift > 63) {
			r->err = -PHV_EFORMAT;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while ((b & 0x80) && !r->err);
	return r->err ? 0 : v;
}

int64_t rbuf_svar(struct rbuf *r)
{
	uint64_t v = rbuf_var(r);

	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

uint8_t *rbuf_blob(struct rbuf *r, size_t max, size_t *np)
{
	uint64_t n = rbuf_var(r);
	uint8_t *p;

	*np = 0;
	if (r->err || n > max || rbuf_take(r, (size_t)n)) {
		r->err = -PHV_EFORMAT;
		return NULL;
	}
	p = malloc((size_t)n + 1);
	if (!p) {
		r->err = -ENOMEM;
		return NULL;
	}
	memcpy(p, r->p + r->pos, (size_t)n);
	p[n] = '\0';
	r->pos += (size_t)n;
	*np = (size_t)n;
	return p;
}

char *rbuf_str(struct rbuf *r, size_t max)
{
	size_t n;
	char *s = (char *)rbuf_blob(r, max, &n);

	if (s && strlen(s) != n) {
		free(s);
		r->err = -PHV_EFORMAT;
		return NULL;
	}
	return s;
}
