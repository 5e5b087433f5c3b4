// SPDX-License-Identifier: MIT
/*
 * shamir_test.c - Shamir secret sharing and the recovery text codec.
 *
 * The field is checked against a slow reference multiply over all 65536
 * pairs and against the FIPS-197 worked examples.  Splits with fixed
 * coefficients (through shamir_set_random) are checked against values
 * computed by hand in the comments.  Random splits are checked over every
 * subset of shares: each subset of at least M recovers the secret, each
 * subset of M-1 gives something else (a 32-byte coincidence has
 * probability 2^-256).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "crypto/secmem.h"
#include "crypto/shamir.h"

/* Reference: carry-less product, then reduce modulo 0x11b bit by bit. */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
	unsigned int p = 0;
	int i;

	for (i = 0; i < 8; i++)
		if (b & (1u << i))
			p ^= (unsigned int)a << i;
	for (i = 14; i >= 8; i--)
		if (p & (1u << i))
			p ^= 0x11bu << (i - 8);
	return (uint8_t)p;
}

static void test_gf_mul(void **state)
{
	unsigned int a, b;

	/* FIPS-197 section 4.2: {57} x {83} = {c1}, {57} x {13} = {fe} */
	assert_int_equal(shamir_gf_mul(0x57, 0x83), 0xc1);
	assert_int_equal(shamir_gf_mul(0x57, 0x13), 0xfe);
	/* FIPS-197 section 5.1.1: {53} and {ca} are inverses */
	assert_int_equal(shamir_gf_mul(0x53, 0xca), 0x01);
	for (a = 0; a < 256; a++)
		for (b = 0; b < 256; b++)
			assert_int_equal(shamir_gf_mul((uint8_t)a, (uint8_t)b),
					 ref_mul((uint8_t)a, (uint8_t)b));
}

/* Coefficients handed out in order by the test hook. */
static const uint8_t *fixed_coef;

static int fixed_random(void *p, size_t len)
{
	memcpy(p, fixed_coef, len);
	fixed_coef += len;
	return 0;
}

static void test_known_vectors(void **state)
{
	static const uint8_t c1[] = { 0xca };
	static const uint8_t c2[] = { 0x02, 0x03 };
	uint8_t secret = 0x53, ys[5], out;
	const uint8_t *yp[3];
	uint8_t xs[3];

	/*
	 * f(x) = {53} + {ca}x.  {ca}{02} = {194} mod {11b} = {8f};
	 * {ca}{03} = {8f} ^ {ca} = {45}.  Shares: f(1) = {99},
	 * f(2) = {53} ^ {8f} = {dc}, f(3) = {53} ^ {45} = {16}.
	 */
	fixed_coef = c1;
	shamir_set_random(fixed_random);
	assert_int_equal(shamir_split(&secret, 1, 3, 2, ys), 0);
	assert_int_equal(ys[0], 0x99);
	assert_int_equal(ys[1], 0xdc);
	assert_int_equal(ys[2], 0x16);

	/*
	 * f(x) = {01} + {02}x + {03}x^2.  f(1) = 1^2^3 = {00};
	 * f(2) = 1 ^ {04} ^ {03}{04} = 1 ^ 4 ^ {0c} = {09};
	 * f(3) = 1 ^ {06} ^ {03}{05} = 1 ^ 6 ^ {0f} = {08};
	 * f(4) = 1 ^ {08} ^ {03}{10} = 1 ^ 8 ^ {30} = {39}.
	 */
	secret = 0x01;
	fixed_coef = c2;
	assert_int_equal(shamir_split(&secret, 1, 4, 3, ys), 0);
	shamir_set_random(NULL);
	assert_int_equal(ys[0], 0x00);
	assert_int_equal(ys[1], 0x09);
	assert_int_equal(ys[2], 0x08);
	assert_int_equal(ys[3], 0x39);

	/* any three of them interpolate back to {01} */
	xs[0] = 2; xs[1] = 3; xs[2] = 4;
	yp[0] = &ys[1]; yp[1] = &ys[2]; yp[2] = &ys[3];
	assert_int_equal(shamir_combine(xs, yp, 3, 1, &out), 0);
	assert_int_equal(out, 0x01);
}

/* Combine the shares whose bit is set in mask. */
static void combine_mask(const uint8_t *ys, size_t len, unsigned int n,
			 unsigned int mask, uint8_t *out)
{
	const uint8_t *yp[16];
	uint8_t xs[16];
	unsigned int i, k = 0;

	for (i = 0; i < n; i++) {
		if (!(mask & (1u << i)))
			continue;
		xs[k] = (uint8_t)(i + 1);
		yp[k++] = ys + i * len;
	}
	assert_int_equal(shamir_combine(xs, yp, k, len, out), 0);
}

static void test_every_subset(void **state)
{
	uint8_t secret[32], ys[8 * 32], out[32];
	unsigned int n, m, mask, bits;

	for (n = 1; n <= 8; n++) {
		for (m = 1; m <= n; m++) {
			assert_int_equal(secmem_random(secret, sizeof(secret)),
					 0);
			assert_int_equal(shamir_split(secret, 32, n, m, ys), 0);
			for (mask = 1; mask < (1u << n); mask++) {
				bits = (unsigned int)__builtin_popcount(mask);
				if (bits < m - 1)
					continue;
				combine_mask(ys, 32, n, mask, out);
				if (bits >= m)
					assert_memory_equal(out, secret, 32);
				else
					assert_memory_not_equal(out, secret,
								32);
			}
		}
	}
}

static void test_bad_arguments(void **state)
{
	uint8_t s[SHAMIR_SECRET_MAX + 1] = { 0 }, ys[4 * sizeof(s)];
	const uint8_t *yp[2] = { ys, ys };
	uint8_t xs[2] = { 1, 1 };

	assert_int_equal(shamir_split(s, 0, 3, 2, ys), -EINVAL);
	assert_int_equal(shamir_split(s, sizeof(s), 3, 2, ys), -EINVAL);
	assert_int_equal(shamir_split(s, 8, 3, 4, ys), -EINVAL);
	assert_int_equal(shamir_split(s, 8, 3, 0, ys), -EINVAL);
	assert_int_equal(shamir_split(s, 8, 256, 2, NULL), -EINVAL);
	assert_int_equal(shamir_combine(xs, yp, 2, 8, s), -EINVAL);
	xs[0] = 0;
	xs[1] = 2;
	assert_int_equal(shamir_combine(xs, yp, 2, 8, s), -EINVAL);
}

static void test_share_text(void **state)
{
	struct shamir_share sh[5], back[5];
	char text[5][SHAMIR_TEXT_MAX(32) + 1];
	uint8_t secret[32], out[SHAMIR_SECRET_MAX];
	size_t len;
	int i;

	assert_int_equal(secmem_random(secret, sizeof(secret)), 0);
	assert_int_equal(shamir_share_split(secret, 32, 5, 3, sh), 0);
	for (i = 0; i < 5; i++) {
		assert_true(shamir_share_encode(&sh[i], text[i],
						sizeof(text[i])) > 0);
		assert_int_equal(strncmp(text[i], "phvs-", 5), 0);
		assert_int_equal(shamir_share_decode(text[i], &back[i]), 0);
		assert_int_equal(back[i].index, i + 1);
		assert_int_equal(back[i].threshold, 3);
	}

	/* shares 5, 2, 4 in that order */
	back[0] = back[4];
	assert_int_equal(shamir_share_combine(back, 3, out, &len), 0);
	assert_int_equal(len, 32);
	assert_memory_equal(out, secret, 32);

	/* too few */
	assert_int_equal(shamir_share_combine(back, 2, out, &len), -ENOENT);

	/* the same share twice */
	back[2] = back[1];
	assert_int_equal(shamir_share_combine(back, 3, out, &len), -EINVAL);

	/* well formed but wrong: caught by the fingerprint */
	assert_int_equal(shamir_share_decode(text[3], &back[2]), 0);
	back[2].y[7] ^= 0x40;
	assert_int_equal(shamir_share_combine(back, 3, out, &len),
			 -PHV_EBADKEY);

	/* a share of another split */
	assert_int_equal(shamir_share_split(secret + 1, 31, 5, 3, sh), 0);
	back[2] = sh[0];
	assert_int_equal(shamir_share_combine(back, 3, out, &len),
			 -PHV_EFORMAT);
}

static void test_share_typos(void **state)
{
	struct shamir_share sh[2], back;
	char text[SHAMIR_TEXT_MAX(16) + 8];
	uint8_t secret[16] = "0123456789abcdef";
	size_t i, n;

	assert_int_equal(shamir_share_split(secret, 16, 2, 2, sh), 0);
	n = (size_t)shamir_share_encode(&sh[1], text, sizeof(text));

	/* case, blanks and line breaks do not matter */
	for (i = 0; i < n; i++)
		if (text[i] >= 'a' && text[i] <= 'z')
			text[i] = (char)(text[i] - 32);
	text[13] = ' ';		/* the first dash */
	assert_int_equal(shamir_share_decode(text, &back), 0);
	assert_memory_equal(back.y, sh[1].y, 16);

	/* every single-digit change is caught */
	shamir_share_encode(&sh[1], text, sizeof(text));
	for (i = 5; i < n; i++) {
		char c = text[i];

		if (c == '-')
			continue;
		text[i] = c == '0' ? '1' : '0';
		assert_int_equal(shamir_share_decode(text, &back), -EBADMSG);
		text[i] = c;
	}

	/* a missing digit, a stray letter, the wrong prefix */
	memmove(text + 7, text + 8, n - 7);
	assert_int_not_equal(shamir_share_decode(text, &back), 0);
	shamir_share_encode(&sh[1], text, sizeof(text));
	text[9] = 'x';
	assert_int_equal(shamir_share_decode(text, &back), -PHV_EFORMAT);
	shamir_share_encode(&sh[1], text, sizeof(text));
	text[3] = 'k';
	assert_int_equal(shamir_share_decode(text, &back), -PHV_EFORMAT);
}

static void test_key_text(void **state)
{
	char text[SHAMIR_TEXT_MAX(32) + 1];
	uint8_t key[32], out[SHAMIR_SECRET_MAX];
	size_t len;
	int n;

	assert_int_equal(secmem_random(key, sizeof(key)), 0);
	n = shamir_key_encode(key, sizeof(key), text, sizeof(text));
	assert_true(n > 0 && n <= SHAMIR_TEXT_MAX(32));
	assert_int_equal(strncmp(text, "phvk-", 5), 0);
	assert_int_equal(shamir_key_decode(text, out, &len), 0);
	assert_int_equal(len, 32);
	assert_memory_equal(out, key, 32);
	text[n - 1] = text[n - 1] == 'a' ? 'b' : 'a';
	assert_int_equal(shamir_key_decode(text, out, &len), -EBADMSG);
	assert_int_equal(shamir_key_encode(key, 32, text, 20), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gf_mul),
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_every_subset),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_share_text),
		cmocka_unit_test(test_share_typos),
		cmocka_unit_test(test_key_text),
	};

	secmem_init();
	return cmocka_run_group_tests_name("shamir", tests, NULL, NULL);
}
