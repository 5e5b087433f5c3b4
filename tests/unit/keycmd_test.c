// SPDX-License-Identifier: MIT
/*
 * keycmd_test.c - the external key command protocol, with
 * tests/keys/kms-sim playing the key service (its misbehaviours are
 * chosen by KMS_SIM_MODE).  Run from the top of the tree.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "crypto/keycmd.h"
#include "crypto/secmem.h"

static char keyfile[] = "/tmp/phv-kms-XXXXXX";
static char cmd[256];
static const char vol[] = "00112233445566778899aabbccddeeff";

static int setup(void **state)
{
	int fd = mkstemp(keyfile);

	if (fd < 0)
		return -1;
	close(fd);
	unlink(keyfile);	/* kms-sim creates it, mode 0600 */
	snprintf(cmd, sizeof(cmd), "tests/keys/kms-sim %s", keyfile);
	return 0;
}

static int teardown(void **state)
{
	unlink(keyfile);
	return 0;
}

static void test_round_trip(void **state)
{
	uint8_t s[KEYCMD_SECRET_LEN], back[KEYCMD_SECRET_LEN];
	uint8_t blob[KEYCMD_BLOB_MAX];
	size_t len;
	int st;

	unsetenv("KMS_SIM_MODE");
	assert_int_equal(secmem_random(s, sizeof(s)), 0);
	assert_int_equal(keycmd_wrap(cmd, vol, 0, s, blob, &len, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(len, 4 + 12 + 32 + 16);
	assert_int_equal(keycmd_unwrap(cmd, vol, 0, blob, len, back, &st), 0);
	assert_memory_equal(back, s, sizeof(s));

	/* the service binds the volume: another ID is refused */
	assert_int_equal(keycmd_unwrap(cmd, "ff", 0, blob, len, back, &st),
			 -PHV_EKEYCMD);
	assert_int_equal(st, 6);
	blob[20] ^= 1;
	assert_int_equal(keycmd_unwrap(cmd, vol, 0, blob, len, back, &st),
			 -PHV_EKEYCMD);
}

static void test_failures(void **state)
{
	uint8_t s[KEYCMD_SECRET_LEN] = { 1 }, back[KEYCMD_SECRET_LEN];
	uint8_t blob[KEYCMD_BLOB_MAX];
	size_t len;
	int st;

	unsetenv("KMS_SIM_MODE");
	assert_int_equal(keycmd_wrap(cmd, vol, 0, s, blob, &len, &st), 0);

	setenv("KMS_SIM_MODE", "fail", 1);
	assert_int_equal(keycmd_unwrap(cmd, vol, 0, blob, len, back, &st),
			 -PHV_EKEYCMD);
	assert_int_equal(st, 3);
	setenv("KMS_SIM_MODE", "garbage", 1);
	assert_int_equal(keycmd_unwrap(cmd, vol, 0, blob, len, back, &st),
			 -PHV_EFORMAT);
	setenv("KMS_SIM_MODE", "short", 1);
	assert_int_equal(keycmd_unwrap(cmd, vol, 0, blob, len, back, &st),
			 -PHV_EFORMAT);
	unsetenv("KMS_SIM_MODE");

	assert_int_equal(keycmd_wrap("/nonexistent/kms", vol, 0, s, blob,
				     &len, &st), -ENOEXEC);
	assert_int_equal(st, 127);
	assert_int_equal(keycmd_wrap("true", vol, 0, s, blob, &len, &st),
			 -PHV_EFORMAT);
	assert_int_equal(keycmd_unwrap(cmd, vol, 0, blob, 0, back, &st),
			 -EINVAL);
}

static void test_timeout(void **state)
{
	uint8_t s[KEYCMD_SECRET_LEN] = { 2 };
	uint8_t blob[KEYCMD_BLOB_MAX];
	time_t t0 = time(NULL);
	size_t len;
	int st;

	/* a pipeline: the whole process group must die, not only sh */
	assert_int_equal(keycmd_wrap("sleep 60 | cat; :", vol, 300, s, blob,
				     &len, &st), -ETIMEDOUT);
	assert_int_equal(st, 128 + 9);
	setenv("KMS_SIM_MODE", "sleep", 1);
	assert_int_equal(keycmd_wrap(cmd, vol, 300, s, blob, &len, &st),
			 -ETIMEDOUT);
	unsetenv("KMS_SIM_MODE");
	assert_true(time(NULL) - t0 < 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_timeout),
	};

	secmem_init();
	return cmocka_run_group_tests_name("keycmd", tests, setup, teardown);
}
