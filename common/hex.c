// SPDX-License-Identifier: MIT
/*
 * hex.c - lower-case hex codec (see hex.h).
 *
 * Digits are computed, not looked up: a nibble above 9 gets the distance
 * from '9' + 1 to 'a' added through a mask, and a character's value comes
 * from two range checks turned into masks.  Decoding reads every
 * character before it answers, so how long it takes depends on the
 * length only, never on where a bad character sits or on the bytes.
 */
#include <errno.h>
#include <stdint.h>

#include "hex.h"

static char hex_nibble(unsigned int v)
{
	/* 'a' - '0' - 10 == 39, added only when v > 9 */
	return (char)('0' + v + (39U & -(unsigned int)(v > 9)));
}

size_t hex_encode(const void *in, size_t n, char *out)
{
	const uint8_t *p = in;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex_nibble(p[i] >> 4);
		out[2 * i + 1] = hex_nibble(p[i] & 15U);
	}
	out[2 * n] = '\0';
	return 2 * n;
}

int hex_digit(int c, unsigned int flags)
{
	/* folding sets bit 5, which maps 'A'-'F' onto 'a'-'f' only */
	int fold = flags & HEX_ANY_CASE ? 0x20 : 0;
	int d = c - '0', l = (c | fold) - 'a';
	int isd = (d >= 0) & (d <= 9), isl = (l >= 0) & (l <= 5);

	return (d & -isd) | ((l + 10) & -isl) | -(!isd & !isl);
}

long hex_decode(const char *in, size_t len, void *out, unsigned int flags)
{
	uint8_t *o = out;
	int hi, lo, bad = 0;
	size_t i;

	if (len % 2)
		return -EINVAL;
	for (i = 0; i < len / 2; i++) {
		hi = hex_digit((unsigned char)in[2 * i], flags);
		lo = hex_digit((unsigned char)in[2 * i + 1], flags);
		bad |= hi | lo;		/* negative once any digit was -1 */
		o[i] = (uint8_t)((unsigned int)hi << 4 | (unsigned int)lo);
	}
	return bad < 0 ? -EINVAL : (long)(len / 2);
}
