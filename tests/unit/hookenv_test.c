// SPDX-License-Identifier: MIT
/*
 * hookenv_test.c - alert hooks get the allow-listed environment and no
 * secret, whatever its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/hookenv.h"

static void test_allow_list(void **state)
{
	assert_true(hookenv_ok("PATH=/usr/bin:/bin"));
	assert_true(hookenv_ok("LANG=C.UTF-8"));
	assert_true(hookenv_ok("LC_ALL=C"));
	assert_true(hookenv_ok("PHIVAULT_ALERT_CHANNEL=ward7"));
	assert_false(hookenv_ok("PHIVAULT_REPOSITORY=s3://b/p"));
	assert_false(hookenv_ok("LD_PRELOAD=/tmp/x.so"));
	assert_false(hookenv_ok("NOEQUALS"));
}

static void test_secrets_never_pass(void **state)
{
	assert_false(hookenv_ok("AWS_SECRET_ACCESS_KEY=abc"));
	assert_false(hookenv_ok("AWS_ACCESS_KEY_ID=abc"));
	assert_false(hookenv_ok("AWS_SESSION_TOKEN=abc"));
	assert_false(hookenv_ok("PHIVAULT_PASSPHRASE_FILE=/etc/p"));
	assert_false(hookenv_ok("PHIVAULT_REPO_PASSPHRASE_FILE=/etc/p"));
	assert_false(hookenv_ok("PHIVAULT_PIN_FILE=/etc/pin"));
	/* allow-listed prefix, secret name: still dropped */
	assert_false(hookenv_ok("PHIVAULT_ALERT_API_TOKEN=t"));
	assert_false(hookenv_ok("PHIVAULT_ALERT_PASSWORD=t"));
	assert_false(hookenv_ok("PHIVAULT_ALERT_SECRET_URL=t"));
}

static void test_build(void **state)
{
	const char *envp[8];
	size_t n, i;

	setenv("AWS_SECRET_ACCESS_KEY", "must-not-leak", 1);
	setenv("PATH", "/usr/bin", 1);
	n = hookenv_build(envp, 8, 2);
	assert_true(n + 2 < 8);
	assert_null(envp[n]);
	for (i = 0; i < n; i++)
		assert_null(strstr(envp[i], "must-not-leak"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_secrets_never_pass),
		cmocka_unit_test(test_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
