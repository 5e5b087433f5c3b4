// SPDX-License-Identifier: MIT
/*
 * chunker.c - content-defined chunking (see chunker.h).
 *
 * Hashing starts at min bytes: the bytes before it cannot hold a cut, so
 * there is no point hashing all of them, but the 64 bytes before min are
 * fed in first so a cut right after min is still defined by content.
 */
#include <errno.h>
#include <string.h>

#include "chunker.h"

static unsigned int log2u(size_t v)
{
	unsigned int n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

int chunker_init(struct chunker *c, const uint8_t seed[CHUNKER_GEAR_BYTES],
		 size_t min, size_t avg, size_t max)
{
	unsigned int bits, i, j;

	if (min < 64 || avg < 256 || (avg & (avg - 1)) || min >= avg ||
	    avg >= max)
		return -EINVAL;
	for (i = 0; i < 256; i++) {
		c->gear[i] = 0;
		for (j = 0; j < 8; j++)
			c->gear[i] = (c->gear[i] << 8) | seed[i * 8 + j];
	}
	bits = log2u(avg);
	c->min = min;
	c->avg = avg;
	c->max = max;
	c->mask_s = ~0ULL << (64 - (bits + 2));
	c->mask_l = ~0ULL << (64 - (bits - 2));
	return 0;
}

size_t chunker_next(const struct chunker *c, const uint8_t *buf, size_t len,
		    int eof)
{
	size_t end = len < c->max ? len : c->max;
	size_t norm = c->avg < end ? c->avg : end;
	uint64_t h = 0;
	size_t i;

	if (end <= c->min)
		return len >= c->max || eof ? end : 0;

	for (i = c->min - 64; i < c->min; i++)
		h = (h << 1) + c->gear[buf[i]];
	for (; i < norm; i++) {
		h = (h << 1) + c->gear[buf[i]];
		if (!(h & c->mask_s))
			return i + 1;
	}
	for (; i < end; i++) {
		h = (h << 1) + c->gear[buf[i]];
		if (!(h & c->mask_l))
			return i + 1;
	}
	return len >= c->max || eof ? end : 0;
}
