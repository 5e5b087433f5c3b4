// SPDX-License-Identifier: MIT
/*
 * pkcs11_test.c - token slots against a real SoftHSM2 token.
 *
 * The group setup makes a private token store in a fresh temporary
 * directory with tests/keys/softhsm-setup and points SOFTHSM2_CONF at it,
 * so the system's tokens are never touched.  Without softhsm2 installed
 * every test is skipped.  Run from the top of the tree (make check does).
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

#include "common/err.h"
#include "crypto/keyslot.h"
#include "crypto/pkcs11.h"
#include "crypto/secmem.h"

#define TOKEN	"phv-unit"
#define PIN	"4711-pin"
#define SOPIN	"so-0815"

static char tmpdir[] = "/tmp/phv-p11-XXXXXX";
static char module[256];
static const char ad[] = "volume 0123456789abcdef";

static int setup(void **state)
{
	char cmd[512];
	FILE *f;

	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cmd, sizeof(cmd), "tests/keys/softhsm-setup %s %s %s %s",
		 tmpdir, TOKEN, SOPIN, PIN);
	f = popen(cmd, "r");
	if (!f || !fgets(module, sizeof(module), f)) {
		if (f)
			pclose(f);
		module[0] = '\0';
		return 0;	/* tests skip */
	}
	pclose(f);
	module[strcspn(module, "\n")] = '\0';
	snprintf(cmd, sizeof(cmd), "%s/softhsm2.conf", tmpdir);
	setenv("SOFTHSM2_CONF", cmd, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Open the test token logged in, with key "k1" present. */
static struct p11 *open_token(void)
{
	struct p11 *p;
	int r;

	if (!module[0])
		skip();
	assert_int_equal(p11_open(module, TOKEN, &p), 0);
	assert_int_equal(p11_login(p, PIN, strlen(PIN)), 0);
	r = p11_keygen(p, "k1");
	assert_true(r == 0 || r == -EEXIST);
	return p;
}

static void test_open_errors(void **state)
{
	struct p11 *p = (struct p11 *)1;

	if (!module[0])
		skip();
	assert_int_equal(p11_open("/nonexistent/libx.so", TOKEN, &p),
			 -PHV_ETOKEN);
	assert_null(p);
	assert_int_equal(p11_open(module, "no-such-token", &p),
			 -PHV_ENOTFOUND);
	assert_null(p);
}

static void test_wrong_pin(void **state)
{
	struct p11 *p;

	if (!module[0])
		skip();
	assert_int_equal(p11_open(module, TOKEN, &p), 0);
	assert_int_equal(p11_login(p, "wrong", 5), -PHV_EBADKEY);
	assert_int_equal(p11_last_rv(p), 0xa0);	/* CKR_PIN_INCORRECT */
	assert_string_equal(p11_rv_name(p11_last_rv(p)), "CKR_PIN_INCORRECT");
	p11_close(p);
}

static void test_keygen(void **state)
{
	struct p11 *p = open_token();

	assert_int_equal(p11_keygen(p, "k1"), -EEXIST);
	assert_int_equal(p11_keygen(p, "k2"), 0);
	p11_close(p);
}

static void test_round_trip(void **state)
{
	uint8_t s[P11_SECRET_LEN], back[P11_SECRET_LEN];
	uint8_t blob[P11_BLOB_LEN], blob2[P11_BLOB_LEN];
	struct p11 *p = open_token();

	assert_int_equal(secmem_random(s, sizeof(s)), 0);
	assert_int_equal(p11_wrap(p, "k1", ad, sizeof(ad), s, blob), 0);
	assert_memory_not_equal(blob + 14, s, sizeof(s));
	assert_int_equal(p11_unwrap(p, "k1", ad, sizeof(ad), blob, back), 0);
	assert_memory_equal(back, s, sizeof(s));

	/* a fresh IV every time */
	assert_int_equal(p11_wrap(p, "k1", ad, sizeof(ad), s, blob2), 0);
	assert_memory_not_equal(blob, blob2, sizeof(blob));
	p11_close(p);

	/* and again in a new session: the key is a token object */
	p = open_token();
	assert_int_equal(p11_unwrap(p, "k1", ad, sizeof(ad), blob2, back), 0);
	assert_memory_equal(back, s, sizeof(s));
	p11_close(p);
}

static void test_refusals(void **state)
{
	uint8_t s[P11_SECRET_LEN], back[P11_SECRET_LEN];
	uint8_t blob[P11_BLOB_LEN];
	struct p11 *p = open_token();
	size_t i;

	i = (size_t)-p11_keygen(p, "k-other");
	assert_true(i == 0 || i == EEXIST);
	assert_int_equal(secmem_random(s, sizeof(s)), 0);
	assert_int_equal(p11_wrap(p, "k1", ad, sizeof(ad), s, blob), 0);

	/* another volume (associated data) */
	assert_int_equal(p11_unwrap(p, "k1", ad, sizeof(ad) - 1, blob, back),
			 -PHV_EBADKEY);
	/* another key */
	assert_int_equal(p11_unwrap(p, "k-other", ad, sizeof(ad), blob, back),
			 -PHV_EBADKEY);
	/* no such key */
	assert_int_equal(p11_unwrap(p, "k-none", ad, sizeof(ad), blob, back),
			 -PHV_ENOTFOUND);
	assert_int_equal(p11_wrap(p, "k-none", ad, sizeof(ad), s, blob),
			 -PHV_ENOTFOUND);
	/* every altered byte after the header */
	assert_int_equal(p11_wrap(p, "k1", ad, sizeof(ad), s, blob), 0);
	for (i = 2; i < P11_BLOB_LEN; i++) {
		blob[i] ^= 1;
		assert_int_equal(p11_unwrap(p, "k1", ad, sizeof(ad), blob,
					    back), -PHV_EBADKEY);
		blob[i] ^= 1;
	}
	blob[0] = 9;
	assert_int_equal(p11_unwrap(p, "k1", ad, sizeof(ad), blob, back),
			 -PHV_EFORMAT);
	p11_close(p);
}

/* The whole chain: token-wrapped S opens a key slot holding a master. */
static void test_keyslot_chain(void **state)
{
	uint8_t s[P11_SECRET_LEN], back[P11_SECRET_LEN];
	uint8_t master[KEYSLOT_MASTER_LEN], out[KEYSLOT_MASTER_LEN];
	uint8_t container[KEYSLOT_CONTAINER_LEN] = "container-id-16";
	uint8_t blob[P11_BLOB_LEN];
	struct keyslot ks = { .id = 2, .type = KEYSLOT_PKCS11 };
	struct p11 *p = open_token();

	assert_int_equal(secmem_random(master, sizeof(master)), 0);
	assert_int_equal(secmem_random(s, sizeof(s)), 0);
	assert_int_equal(keyslot_seal(&ks, container, s, sizeof(s), master),
			 0);
	assert_int_equal(p11_wrap(p, "k1", container, sizeof(container), s,
				  blob), 0);
	secmem_wipe(s, sizeof(s));

	assert_int_equal(p11_unwrap(p, "k1", container, sizeof(container),
				    blob, back), 0);
	assert_int_equal(keyslot_open(&ks, container, back, sizeof(back),
				      out), 0);
	assert_memory_equal(out, master, sizeof(master));
	p11_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_wrong_pin),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_keyslot_chain),
	};

	secmem_init();
	return cmocka_run_group_tests_name("pkcs11", tests, setup, teardown);
}
