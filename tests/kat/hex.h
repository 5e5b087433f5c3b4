/* SPDX-License-Identifier: MIT */
/*
 * hex.h - hex decoding for the known-answer tests.  Vectors are written as
 * the hex strings their source documents print, so a reader can compare
 * them with the document character by character.  Test-only: aborts on
 * malformed input, which is a bug in the vector file.
 */
#ifndef TESTS_KAT_HEX_H
#define TESTS_KAT_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int kat_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode hex (spaces allowed between bytes) into a fresh malloc'd buffer
 * of at least one byte; *lenp receives the byte count.
 */
static inline uint8_t *kat_unhex(const char *hex, size_t *lenp)
{
	uint8_t *out = malloc(strlen(hex) / 2 + 1);
	size_t n = 0;
	int hi, lo;

	if (!out)
		abort();
	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		hi = kat_nibble(hex[0]);
		lo = hi < 0 ? -1 : kat_nibble(hex[1]);
		if (hi < 0 || lo < 0) {
			fprintf(stderr, "kat: bad hex near '%s'\n", hex);
			abort();
		}
		out[n++] = (uint8_t)(hi << 4 | lo);
		hex += 2;
	}
	*lenp = n;
	return out;
}

#endif /* TESTS_KAT_HEX_H */
