// SPDX-License-Identifier: MIT
/*
 * hex_test.c - common/hex: RFC 4648 section 10's base16 test vectors
 * (which the RFC prints in upper case: accepted only with HEX_ANY_CASE),
 * every byte value both ways, every character classified against plain
 * range checks, and strict decoding: odd lengths, characters next to the
 * digit ranges, blanks, signs and an embedded NUL are refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/hex.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* RFC 4648, "The Base16, Base32, and Base64 Data Encodings", section 10. */
static const struct {
	const char *plain, *upper, *lower;
} rfc4648[] = {
	{ "", "", "" },
	{ "f", "66", "66" },
	{ "fo", "666F", "666f" },
	{ "foo", "666F6F", "666f6f" },
	{ "foob", "666F6F62", "666f6f62" },
	{ "fooba", "666F6F6261", "666f6f6261" },
	{ "foobar", "666F6F626172", "666f6f626172" },
};

static void test_rfc4648_vectors(void **state)
{
	char enc[16];
	uint8_t dec[8];
	size_t i, n, m;

	for (i = 0; i < NELEM(rfc4648); i++) {
		n = strlen(rfc4648[i].plain);
		m = strlen(rfc4648[i].upper);
		assert_int_equal(hex_encode(rfc4648[i].plain, n, enc), m);
		assert_int_equal(HEX_ENCLEN(n), m);
		assert_string_equal(enc, rfc4648[i].lower);
		assert_int_equal(hex_decode(rfc4648[i].lower, m, dec, 0),
				 (long)n);
		assert_memory_equal(dec, rfc4648[i].plain, n);
		assert_int_equal(hex_decode(rfc4648[i].upper, m, dec,
					    HEX_ANY_CASE), (long)n);
		assert_memory_equal(dec, rfc4648[i].plain, n);
		/* upper case only where the caller allows it */
		if (strcmp(rfc4648[i].upper, rfc4648[i].lower))
			assert_int_equal(hex_decode(rfc4648[i].upper, m, dec,
						    0), -EINVAL);
	}
}

/* Bytes 0 to 255 in order, against printf's "%02x" and back. */
static void test_every_byte(void **state)
{
	uint8_t in[256], dec[256];
	char enc[513], want[513];
	size_t i;

	for (i = 0; i < sizeof(in); i++) {
		in[i] = (uint8_t)i;
		snprintf(want + 2 * i, 3, "%02x", (unsigned int)i);
	}
	assert_int_equal(hex_encode(in, sizeof(in), enc), 512);
	assert_string_equal(enc, want);
	assert_int_equal(hex_decode(enc, 512, dec, 0), 256);
	assert_memory_equal(dec, in, sizeof(in));
}

/* The value of c by plain range checks, the reference for hex_digit(). */
static int ref_digit(int c, int any_case)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (any_case && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Every char value, signed or not, both with and without HEX_ANY_CASE. */
static void test_digit_classes(void **state)
{
	int c;

	for (c = -128; c < 256; c++) {
		if (hex_digit(c, 0) != ref_digit(c, 0))
			fail_msg("hex_digit(%d, 0) = %d", c, hex_digit(c, 0));
		if (hex_digit(c, HEX_ANY_CASE) != ref_digit(c, 1))
			fail_msg("hex_digit(%d, HEX_ANY_CASE) = %d", c,
				 hex_digit(c, HEX_ANY_CASE));
	}
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
		"6",		/* odd lengths */
		"666",
		"6g", "g6",	/* next to the ranges, both cases */
		"/0", "0:", "@0", "0G", "`0", "0x",
		" 6", "66 ",	/* blanks and separators */
		"66:6f", "66-6f",
		"+1", "-1",	/* signs */
		"\xc3\xa9",	/* not ASCII */
		"\x10\x11",	/* become digits if case folding is sloppy */
	};
	uint8_t dec[8];
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		if (hex_decode(bad[i], strlen(bad[i]), dec, 0) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		if (hex_decode(bad[i], strlen(bad[i]), dec, HEX_ANY_CASE) !=
		    -EINVAL)
			fail_msg("accepted '%s' in any case", bad[i]);
	}
	/* an embedded NUL inside the given length */
	assert_int_equal(hex_decode("6\0", 2, dec, 0), -EINVAL);
	/* a bad character anywhere, not only at the start */
	assert_int_equal(hex_decode("666f6z", 6, dec, 0), -EINVAL);
	assert_int_equal(hex_decode("", 0, dec, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_digit_classes),
		cmocka_unit_test(test_rejects),
	};

	return cmocka_run_group_tests_name("hex", tests, NULL, NULL);
}
