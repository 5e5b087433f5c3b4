// SPDX-License-Identifier: MIT
/*
 * kdf_kat_test.c - known-answer tests for crypto/kdf: HKDF-SHA-256 against
 * RFC 5869 A.1-A.3 and Argon2id against RFC 9106 section 5.3, plus the
 * parameter checks kdf_argon2id makes before it spends any memory.
 * Vector sources: tests/kat/kdf_vectors.h.
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
#include "crypto/kdf.h"
#include "tests/kat/hex.h"
#include "tests/kat/kdf_vectors.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void test_hkdf_rfc5869(void **state)
{
	uint8_t *ikm, *salt, *info, *okm, out[128];
	size_t ikmlen, saltlen, infolen, okmlen, i;
	int r;

	for (i = 0; i < NELEM(hkdf_vectors); i++) {
		const struct hkdf_vector *v = &hkdf_vectors[i];

		ikm = kat_unhex(v->ikm, &ikmlen);
		salt = kat_unhex(v->salt, &saltlen);
		info = kat_unhex(v->info, &infolen);
		okm = kat_unhex(v->okm, &okmlen);
		assert_true(okmlen <= sizeof(out));
		memset(out, 0, sizeof(out));
		r = kdf_hkdf(ikm, ikmlen, salt, saltlen, info, infolen, out,
			     okmlen);
		if (r)
			fail_msg("%s: kdf_hkdf returned %d", v->name, r);
		if (memcmp(out, okm, okmlen))
			fail_msg("%s: OKM differs", v->name);
		free(ikm);
		free(salt);
		free(info);
		free(okm);
	}
}

/* Different info strings must give unrelated keys (purpose separation). */
static void test_hkdf_info_separates(void **state)
{
	static const uint8_t ikm[32] = { 1, 2, 3 };
	uint8_t a[32], b[32];

	assert_int_equal(kdf_hkdf(ikm, sizeof(ikm), NULL, 0, "phivault content",
				  16, a, sizeof(a)), 0);
	assert_int_equal(kdf_hkdf(ikm, sizeof(ikm), NULL, 0, "phivault names",
				  14, b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void test_argon2id_rfc9106(void **state)
{
	uint8_t pass[32], salt[16], secret[8], ad[12], out[32];
	struct kdf_argon2_params p = { .t_cost = 3, .m_cost = 32, .lanes = 4 };
	uint8_t *want;
	size_t wantlen;

	memset(pass, 0x01, sizeof(pass));
	memset(salt, 0x02, sizeof(salt));
	memset(secret, 0x03, sizeof(secret));
	memset(ad, 0x04, sizeof(ad));
	want = kat_unhex(ARGON2ID_RFC9106_TAG, &wantlen);
	assert_int_equal(wantlen, sizeof(out));
	assert_int_equal(kdf_argon2id(pass, sizeof(pass), salt, sizeof(salt),
				      secret, sizeof(secret), ad, sizeof(ad),
				      &p, out, sizeof(out)), 0);
	assert_memory_equal(out, want, sizeof(out));

	/* the secret and the associated data are really mixed in */
	assert_int_equal(kdf_argon2id(pass, sizeof(pass), salt, sizeof(salt),
				      NULL, 0, ad, sizeof(ad), &p, out,
				      sizeof(out)), 0);
	assert_memory_not_equal(out, want, sizeof(out));
	assert_int_equal(kdf_argon2id(pass, sizeof(pass), salt, sizeof(salt),
				      secret, sizeof(secret), NULL, 0, &p, out,
				      sizeof(out)), 0);
	assert_memory_not_equal(out, want, sizeof(out));
	free(want);
}

static void test_argon2id_rejects_bad_params(void **state)
{
	uint8_t salt[16] = { 0 }, out[32];
	struct kdf_argon2_params p;

	p = (struct kdf_argon2_params){ .t_cost = 0, .m_cost = 64, .lanes = 1 };
	assert_int_equal(kdf_argon2id("pw", 2, salt, 16, NULL, 0, NULL, 0, &p,
				      out, sizeof(out)), -EINVAL);
	p = (struct kdf_argon2_params){ .t_cost = 1, .m_cost = 64, .lanes = 0 };
	assert_int_equal(kdf_argon2id("pw", 2, salt, 16, NULL, 0, NULL, 0, &p,
				      out, sizeof(out)), -EINVAL);
	/* fewer than 8 KiB per lane */
	p = (struct kdf_argon2_params){ .t_cost = 1, .m_cost = 31, .lanes = 4 };
	assert_int_equal(kdf_argon2id("pw", 2, salt, 16, NULL, 0, NULL, 0, &p,
				      out, sizeof(out)), -EINVAL);
	p = (struct kdf_argon2_params){ .t_cost = 1, .m_cost = 8 * 65,
					.lanes = 65 };
	assert_int_equal(kdf_argon2id("pw", 2, salt, 16, NULL, 0, NULL, 0, &p,
				      out, sizeof(out)), -EINVAL);
	/* a salt shorter than RFC 9106's minimum of 8 bytes */
	p = (struct kdf_argon2_params){ .t_cost = 1, .m_cost = 64, .lanes = 1 };
	assert_int_equal(kdf_argon2id("pw", 2, salt, 7, NULL, 0, NULL, 0, &p,
				      out, sizeof(out)), -EINVAL);
	assert_int_equal(kdf_argon2id("pw", 2, salt, 8, NULL, 0, NULL, 0, &p,
				      out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hkdf_rfc5869),
		cmocka_unit_test(test_hkdf_info_separates),
		cmocka_unit_test(test_argon2id_rfc9106),
		cmocka_unit_test(test_argon2id_rejects_bad_params),
	};

	return cmocka_run_group_tests_name("kdf_kat", tests, NULL, NULL);
}
