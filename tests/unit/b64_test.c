// SPDX-License-Identifier: MIT
/*
 * b64_test.c - common/b64: RFC 4648 section 10's test vectors in the URL
 * and file name safe alphabet (section 5) without padding, the two
 * characters that differ from standard base64, and strict decoding: every
 * byte string has exactly one accepted spelling.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/b64.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * RFC 4648, "The Base16, Base32, and Base64 Data Encodings", section 10
 * (test vectors), with the "=" padding removed as section 3.2 allows for
 * specifications that say so (b64.h does).  None of these contains a
 * character that differs between the alphabets of sections 4 and 5.
 */
static const struct {
	const char *plain, *enc;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg" },
	{ "fo", "Zm8" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg" },
	{ "fooba", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_rfc4648_vectors(void **state)
{
	char enc[16];
	uint8_t dec[16];
	size_t i, n;
	long m;

	for (i = 0; i < NELEM(rfc4648); i++) {
		n = strlen(rfc4648[i].plain);
		assert_int_equal(b64_encode(rfc4648[i].plain, n, enc),
				 strlen(rfc4648[i].enc));
		assert_string_equal(enc, rfc4648[i].enc);
		assert_int_equal(B64_ENCLEN(n), strlen(rfc4648[i].enc));
		m = b64_decode(rfc4648[i].enc, strlen(rfc4648[i].enc), dec);
		assert_int_equal(m, (long)n);
		assert_memory_equal(dec, rfc4648[i].plain, n);
	}
}

/*
 * Section 5's alphabet: values 62 and 63 are '-' and '_' where section 4
 * has '+' and '/'.  0xfb 0xff encodes to "+/8" in standard base64.
 */
static void test_url_alphabet(void **state)
{
	static const uint8_t in[] = { 0xfb, 0xff };
	static const uint8_t all[] = { 0x00, 0x10, 0x83, 0x10, 0x51, 0x87,
				       0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f,
				       0x41, 0x14, 0x93, 0x51, 0x55, 0x97,
				       0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f,
				       0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7,
				       0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
				       0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7,
				       0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf };
	char enc[80];
	uint8_t dec[64];

	assert_int_equal(b64_encode(in, sizeof(in), enc), 3);
	assert_string_equal(enc, "-_8");
	assert_int_equal(b64_decode("-_8", 3, dec), 2);
	assert_memory_equal(dec, in, 2);
	/* the 48 bytes above spell the whole alphabet once, in order */
	assert_int_equal(b64_encode(all, sizeof(all), enc), 64);
	assert_string_equal(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
			    "qrstuvwxyz0123456789-_");
	assert_int_equal(b64_decode(enc, 64, dec), 48);
	assert_memory_equal(dec, all, 48);
}

static void test_rejects_other_alphabets(void **state)
{
	static const char *const bad[] = {
		"+/8",		/* standard alphabet */
		"Zg==",		/* padding */
		"Zm8=",
		"Zm9v\n",	/* white space */
		"Zm 9v",
		"Zm9.",		/* '.' is not in the alphabet */
		"Zm9v\xc3\xa9",
	};
	uint8_t dec[16];
	size_t i;

	for (i = 0; i < NELEM(bad); i++)
		if (b64_decode(bad[i], strlen(bad[i]), dec) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	/* an embedded NUL inside the given length */
	assert_int_equal(b64_decode("Zm\0v", 4, dec), -EINVAL);
}

/* Non-canonical spellings: impossible lengths and nonzero spare bits. */
static void test_rejects_non_canonical(void **state)
{
	uint8_t dec[16];

	assert_int_equal(b64_decode("Z", 1, dec), -EINVAL);
	assert_int_equal(b64_decode("Zm9vY", 5, dec), -EINVAL);
	/* "Zg" is 'f'; "Zh".."Zv" carry the same byte with spare bits set */
	assert_int_equal(b64_decode("Zh", 2, dec), -EINVAL);
	assert_int_equal(b64_decode("Zv", 2, dec), -EINVAL);
	/* "Zm8" is "fo"; "Zm9" sets a spare bit */
	assert_int_equal(b64_decode("Zm9", 3, dec), -EINVAL);
	assert_int_equal(b64_decode("Zm-", 3, dec), -EINVAL);
	assert_int_equal(b64_decode("Zm8", 3, dec), 2);
}

/* Every byte string round-trips and has one accepted spelling. */
static void test_round_trip_and_uniqueness(void **state)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t in[40], dec[40];
	char enc[64], alt[64];
	size_t n, i, accepted;
	unsigned seed = 12345;
	int c;

	for (n = 0; n <= sizeof(in); n++) {
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			in[i] = (uint8_t)(seed >> 16);
		}
		assert_int_equal(b64_encode(in, n, enc), B64_ENCLEN(n));
		assert_int_equal(b64_decode(enc, B64_ENCLEN(n), dec), (long)n);
		assert_memory_equal(dec, in, n);
		if (!n)
			continue;
		/*
		 * vary the last character: exactly one spelling decodes to
		 * these bytes (others either fail or give other bytes)
		 */
		accepted = 0;
		for (c = 0; c < 64; c++) {
			memcpy(alt, enc, B64_ENCLEN(n) + 1);
			alt[B64_ENCLEN(n) - 1] = alpha[c];
			if (b64_decode(alt, B64_ENCLEN(n), dec) == (long)n &&
			    !memcmp(dec, in, n))
				accepted++;
		}
		assert_int_equal(accepted, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_url_alphabet),
		cmocka_unit_test(test_rejects_other_alphabets),
		cmocka_unit_test(test_rejects_non_canonical),
		cmocka_unit_test(test_round_trip_and_uniqueness),
	};

	return cmocka_run_group_tests_name("b64", tests, NULL, NULL);
}
