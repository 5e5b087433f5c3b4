// SPDX-License-Identifier: MIT
/*
 * aead_kat_test.c - known-answer and tamper tests for crypto/aead.
 *
 * GCM: the 256-bit cases of the GCM specification and NIST CAVP vectors,
 * sealed and opened, including CAVP's FAIL cases.  SIV: RFC 5297's two
 * examples (AES-128-SIV through siv_seal_k) and Wycheproof's AES-256-SIV
 * cases through the siv_seal/siv_open API that file names use.  Tamper
 * tests flip one bit of ciphertext, tag and associated data in turn and
 * expect -PHV_EAUTH every time.  Vector sources: tests/kat/aead_vectors.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "crypto/aead.h"
#include "tests/kat/aead_vectors.h"
#include "tests/kat/hex.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct gcm_case {
	uint8_t *key, *iv, *aad, *pt, *ct, *tag;
	size_t keylen, ivlen, aadlen, ptlen, ctlen, taglen;
};

static void gcm_case_load(const struct gcm_vector *v, struct gcm_case *c)
{
	c->key = kat_unhex(v->key, &c->keylen);
	c->iv = kat_unhex(v->iv, &c->ivlen);
	c->aad = kat_unhex(v->aad, &c->aadlen);
	c->pt = kat_unhex(v->pt, &c->ptlen);
	c->ct = kat_unhex(v->ct, &c->ctlen);
	c->tag = kat_unhex(v->tag, &c->taglen);
	assert_int_equal(c->keylen, AEAD_KEY_LEN);
	assert_int_equal(c->ivlen, AEAD_NONCE_LEN);
	assert_int_equal(c->taglen, AEAD_TAG_LEN);
}

static void gcm_case_free(struct gcm_case *c)
{
	free(c->key);
	free(c->iv);
	free(c->aad);
	free(c->pt);
	free(c->ct);
	free(c->tag);
}

static void gcm_check(const struct gcm_vector *v)
{
	struct gcm_case c;
	struct aead_ad ad;
	uint8_t tag[AEAD_TAG_LEN];
	uint8_t *buf;
	int r;

	gcm_case_load(v, &c);
	ad.p = c.aad;
	ad.len = c.aadlen;
	buf = malloc(c.ctlen + 1);
	assert_non_null(buf);

	if (v->valid) {
		assert_int_equal(c.ptlen, c.ctlen);
		r = aead_seal(c.key, c.iv, &ad, 1, c.pt, c.ptlen, buf, tag);
		if (r)
			fail_msg("%s: seal returned %d", v->name, r);
		if (memcmp(buf, c.ct, c.ctlen))
			fail_msg("%s: ciphertext differs", v->name);
		if (memcmp(tag, c.tag, AEAD_TAG_LEN))
			fail_msg("%s: tag differs", v->name);
	}

	r = aead_open(c.key, c.iv, &ad, 1, c.ct, c.ctlen, buf, c.tag);
	if (v->valid) {
		if (r)
			fail_msg("%s: open returned %d", v->name, r);
		if (memcmp(buf, c.pt, c.ptlen))
			fail_msg("%s: plaintext differs", v->name);
	} else if (r != -PHV_EAUTH) {
		fail_msg("%s: FAIL case gave %d, want -PHV_EAUTH", v->name, r);
	}
	free(buf);
	gcm_case_free(&c);
}

static void test_gcm_spec(void **state)
{
	size_t i;

	for (i = 0; i < NELEM(gcm_spec_vectors); i++)
		gcm_check(&gcm_spec_vectors[i]);
}

static void test_gcm_cavp(void **state)
{
	size_t i;

	for (i = 0; i < NELEM(gcm_cavp_vectors); i++)
		gcm_check(&gcm_cavp_vectors[i]);
}

/* Several AD pieces are one AAD string: GCM authenticates their concatenation. */
static void test_gcm_ad_pieces(void **state)
{
	const struct gcm_vector *v = &gcm_spec_vectors[3];	/* TC16 */
	struct gcm_case c;
	struct aead_ad ad[3];
	uint8_t tag[AEAD_TAG_LEN];
	uint8_t *buf;

	gcm_case_load(v, &c);
	buf = malloc(c.ptlen);
	assert_non_null(buf);
	ad[0].p = c.aad;
	ad[0].len = 7;
	ad[1].p = c.aad + 7;
	ad[1].len = 0;
	ad[2].p = c.aad + 7;
	ad[2].len = c.aadlen - 7;
	assert_int_equal(aead_seal(c.key, c.iv, ad, 3, c.pt, c.ptlen, buf, tag),
			 0);
	assert_memory_equal(buf, c.ct, c.ctlen);
	assert_memory_equal(tag, c.tag, AEAD_TAG_LEN);
	free(buf);
	gcm_case_free(&c);
}

/* Flip bit `bit` of each of ciphertext, tag and AAD in turn. */
static void test_gcm_tamper(void **state)
{
	const struct gcm_vector *v = &gcm_spec_vectors[3];	/* TC16 */
	struct gcm_case c;
	struct aead_ad ad;
	uint8_t *buf;
	size_t i, bit;

	gcm_case_load(v, &c);
	ad.p = c.aad;
	ad.len = c.aadlen;
	buf = malloc(c.ctlen);
	assert_non_null(buf);
	for (bit = 0; bit < 8; bit += 7) {
		for (i = 0; i < c.ctlen; i += 13) {
			c.ct[i] ^= (uint8_t)(1U << bit);
			memset(buf, 0xa5, c.ctlen);
			assert_int_equal(aead_open(c.key, c.iv, &ad, 1, c.ct,
						   c.ctlen, buf, c.tag),
					 -PHV_EAUTH);
			c.ct[i] ^= (uint8_t)(1U << bit);
		}
		for (i = 0; i < AEAD_TAG_LEN; i++) {
			c.tag[i] ^= (uint8_t)(1U << bit);
			assert_int_equal(aead_open(c.key, c.iv, &ad, 1, c.ct,
						   c.ctlen, buf, c.tag),
					 -PHV_EAUTH);
			c.tag[i] ^= (uint8_t)(1U << bit);
		}
		for (i = 0; i < c.aadlen; i++) {
			c.aad[i] ^= (uint8_t)(1U << bit);
			assert_int_equal(aead_open(c.key, c.iv, &ad, 1, c.ct,
						   c.ctlen, buf, c.tag),
					 -PHV_EAUTH);
			c.aad[i] ^= (uint8_t)(1U << bit);
		}
	}
	/* wrong nonce */
	c.iv[11] ^= 1;
	assert_int_equal(aead_open(c.key, c.iv, &ad, 1, c.ct, c.ctlen, buf,
				   c.tag), -PHV_EAUTH);
	c.iv[11] ^= 1;
	/* dropping the AAD altogether */
	assert_int_equal(aead_open(c.key, c.iv, NULL, 0, c.ct, c.ctlen, buf,
				   c.tag), -PHV_EAUTH);
	/* a failed open leaves no plaintext behind */
	c.ct[0] ^= 1;
	memset(buf, 0xa5, c.ctlen);
	assert_int_equal(aead_open(c.key, c.iv, &ad, 1, c.ct, c.ctlen, buf,
				   c.tag), -PHV_EAUTH);
	for (i = 0; i < c.ctlen; i++)
		if (buf[i] == c.pt[i] && c.pt[i] != 0)
			break;
	assert_true(i == c.ctlen);
	c.ct[0] ^= 1;
	/* and the untouched record still opens */
	assert_int_equal(aead_open(c.key, c.iv, &ad, 1, c.ct, c.ctlen, buf,
				   c.tag), 0);
	assert_memory_equal(buf, c.pt, c.ptlen);
	free(buf);
	gcm_case_free(&c);
}

struct siv_case {
	uint8_t *key, *ad[SIV_MAX_AD], *pt, *out;
	size_t keylen, adlen[SIV_MAX_AD], ptlen, outlen;
	struct aead_ad ads[SIV_MAX_AD];
	int nad;
};

static void siv_case_load(const struct siv_vector *v, struct siv_case *c)
{
	int i;

	c->key = kat_unhex(v->key, &c->keylen);
	c->pt = kat_unhex(v->pt, &c->ptlen);
	c->out = kat_unhex(v->out, &c->outlen);
	c->nad = v->nad;
	for (i = 0; i < v->nad; i++) {
		c->ad[i] = kat_unhex(v->ad[i], &c->adlen[i]);
		c->ads[i].p = c->ad[i];
		c->ads[i].len = c->adlen[i];
	}
}

static void siv_case_free(struct siv_case *c)
{
	int i;

	free(c->key);
	free(c->pt);
	free(c->out);
	for (i = 0; i < c->nad; i++)
		free(c->ad[i]);
}

/* Seal with siv_seal when the key is 64 bytes, else siv_seal_k. */
static int siv_seal_any(struct siv_case *c, const void *pt, size_t len,
			uint8_t *out)
{
	if (c->keylen == SIV_KEY_LEN)
		return siv_seal(c->key, c->ads, (size_t)c->nad, pt, len, out);
	return siv_seal_k(c->key, c->keylen, c->ads, (size_t)c->nad, pt, len,
			  out);
}

static int siv_open_any(struct siv_case *c, const uint8_t *in, size_t len,
			void *pt)
{
	if (c->keylen == SIV_KEY_LEN)
		return siv_open(c->key, c->ads, (size_t)c->nad, in, len, pt);
	return siv_open_k(c->key, c->keylen, c->ads, (size_t)c->nad, in, len,
			  pt);
}

static void siv_check(const struct siv_vector *v)
{
	struct siv_case c;
	uint8_t *buf;
	int r;

	siv_case_load(v, &c);
	buf = malloc(c.outlen + 1);
	assert_non_null(buf);
	if (v->valid) {
		assert_int_equal(c.outlen, c.ptlen + SIV_TAG_LEN);
		r = siv_seal_any(&c, c.pt, c.ptlen, buf);
		if (r)
			fail_msg("%s: seal returned %d", v->name, r);
		if (memcmp(buf, c.out, c.outlen))
			fail_msg("%s: output differs", v->name);
	}
	r = siv_open_any(&c, c.out, c.outlen, buf);
	if (v->valid) {
		if (r)
			fail_msg("%s: open returned %d", v->name, r);
		if (memcmp(buf, c.pt, c.ptlen))
			fail_msg("%s: plaintext differs", v->name);
	} else if (r != -PHV_EAUTH) {
		fail_msg("%s: invalid case gave %d, want -PHV_EAUTH", v->name,
			 r);
	}
	free(buf);
	siv_case_free(&c);
}

static void test_siv_vectors(void **state)
{
	size_t i;

	for (i = 0; i < NELEM(siv_vectors); i++)
		siv_check(&siv_vectors[i]);
}

/*
 * An empty plaintext is legal in RFC 5297 (the output is the SIV alone),
 * but OpenSSL 3.0's SIV provider cannot produce or check it, so aead.c
 * refuses it with -EINVAL in both directions (see aead.h).  phivault never
 * seals an empty name.  What matters is that a valid record is never
 * reported as tampered (-PHV_EAUTH) and no wrong tag is ever produced.
 * Should the library learn to do it, this test tells us to switch to
 * checking the published answers.
 */
static void test_siv_empty_message(void **state)
{
	struct siv_case c;
	uint8_t buf[SIV_TAG_LEN];
	size_t i;

	for (i = 0; i < NELEM(siv_empty_vectors); i++) {
		siv_case_load(&siv_empty_vectors[i], &c);
		assert_int_equal(c.outlen, SIV_TAG_LEN);
		assert_int_equal(siv_seal_any(&c, c.pt, 0, buf), -EINVAL);
		assert_int_equal(siv_open_any(&c, c.out, c.outlen, buf),
				 -EINVAL);
		siv_case_free(&c);
	}
}

static void test_siv_bad_keylen(void **state)
{
	uint8_t key[64] = { 0 }, out[32], pt[16] = { 0 };

	assert_int_equal(siv_seal_k(key, 16, NULL, 0, pt, sizeof(pt), out),
			 -EINVAL);
	assert_int_equal(siv_open_k(key, 63, NULL, 0, out, sizeof(out), pt),
			 -EINVAL);
}

/*
 * Tamper with each part of an AES-256-SIV record (RFC 5297 A.2's shape:
 * three AD components, through the 64-byte API).
 */
static void test_siv_tamper(void **state)
{
	const struct siv_vector *v = &siv_vectors[5];	/* tcId 324 */
	struct siv_case c;
	uint8_t *buf;
	size_t i;

	siv_case_load(v, &c);
	assert_int_equal(c.keylen, SIV_KEY_LEN);
	buf = malloc(c.outlen);
	assert_non_null(buf);
	for (i = 0; i < c.outlen; i += 5) {
		/* i < 16 flips the SIV (the tag), the rest the ciphertext */
		c.out[i] ^= 0x80;
		assert_int_equal(siv_open_any(&c, c.out, c.outlen, buf),
				 -PHV_EAUTH);
		c.out[i] ^= 0x80;
	}
	for (i = 0; i < c.adlen[0]; i++) {
		c.ad[0][i] ^= 0x01;
		assert_int_equal(siv_open_any(&c, c.out, c.outlen, buf),
				 -PHV_EAUTH);
		c.ad[0][i] ^= 0x01;
	}
	/* a truncated record, and one shorter than the SIV itself */
	assert_int_equal(siv_open_any(&c, c.out, c.outlen - 1, buf),
			 -PHV_EAUTH);
	assert_int_equal(siv_open_any(&c, c.out, SIV_TAG_LEN - 1, buf),
			 -PHV_EAUTH);
	/* an extra (empty) AD component changes the S2V input */
	c.ads[1].p = "";
	c.ads[1].len = 0;
	c.nad = 2;
	assert_int_equal(siv_open_any(&c, c.out, c.outlen, buf), -PHV_EAUTH);
	c.nad = 1;
	assert_int_equal(siv_open_any(&c, c.out, c.outlen, buf), 0);
	assert_memory_equal(buf, c.pt, c.ptlen);
	free(buf);
	siv_case_free(&c);
}

/* Determinism, which name lookup relies on, and AD separation. */
static void test_siv_deterministic(void **state)
{
	uint8_t key[SIV_KEY_LEN], a[64], b[64];
	struct aead_ad ad1 = { "dir-1", 5 }, ad2 = { "dir-2", 5 };
	static const char name[] = "patient-00017.json";
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(siv_seal(key, &ad1, 1, name, sizeof(name) - 1, a), 0);
	assert_int_equal(siv_seal(key, &ad1, 1, name, sizeof(name) - 1, b), 0);
	assert_memory_equal(a, b, sizeof(name) - 1 + SIV_TAG_LEN);
	assert_int_equal(siv_seal(key, &ad2, 1, name, sizeof(name) - 1, b), 0);
	assert_memory_not_equal(a, b, SIV_TAG_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcm_spec),
		cmocka_unit_test(test_gcm_cavp),
		cmocka_unit_test(test_gcm_ad_pieces),
		cmocka_unit_test(test_gcm_tamper),
		cmocka_unit_test(test_siv_vectors),
		cmocka_unit_test(test_siv_empty_message),
		cmocka_unit_test(test_siv_bad_keylen),
		cmocka_unit_test(test_siv_tamper),
		cmocka_unit_test(test_siv_deterministic),
	};

	return cmocka_run_group_tests_name("aead_kat", tests, NULL, NULL);
}
