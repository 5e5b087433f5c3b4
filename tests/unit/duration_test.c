// SPDX-License-Identifier: MIT
/*
 * duration_test.c - common/duration: the units, what a bare number means,
 * the limits each caller asks for, and the spellings that must fail.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/duration.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void test_units(void **state)
{
	static const struct {
		const char *s;
		int64_t secs;
	} ok[] = {
		{ "30s", 30 }, { "15m", 900 }, { "26h", 93600 },
		{ "90d", 90 * 86400LL }, { "2w", 14 * 86400LL },
		{ "7y", 7 * 365 * 86400LL }, { "7", 7 * 86400LL },
	};
	int64_t secs;
	size_t i;

	for (i = 0; i < NELEM(ok); i++) {
		secs = -1;
		assert_int_equal(duration_parse(ok[i].s, DURATION_BARE_DAYS,
						INT64_MAX, &secs), 0);
		assert_int_equal(secs, ok[i].secs);
	}
	assert_int_equal(duration_parse("7", 0, INT64_MAX, &secs), 0);
	assert_int_equal(secs, 7);
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
		"", "d", "0", "-5d", "+5d", " 5d", "5 d", "5dd", "5x", "5D",
		"abc", "99999999999999999999s", "9223372036854775807y",
	};
	int64_t secs = 42;
	size_t i;

	for (i = 0; i < NELEM(bad); i++)
		assert_int_equal(duration_parse(bad[i], DURATION_BARE_DAYS,
						INT64_MAX, &secs), -EINVAL);
	assert_int_equal(secs, 42);
}

static void test_flags_and_limits(void **state)
{
	int64_t secs = -1;

	assert_int_equal(duration_parse("0", DURATION_ZERO_OK, INT64_MAX,
					&secs), 0);
	assert_int_equal(secs, 0);
	assert_int_equal(duration_parse("2w", DURATION_UP_TO_DAYS, INT64_MAX,
					&secs), -EINVAL);
	assert_int_equal(duration_parse("1y", DURATION_UP_TO_DAYS, INT64_MAX,
					&secs), -EINVAL);
	assert_int_equal(duration_parse("3d", DURATION_UP_TO_DAYS, INT64_MAX,
					&secs), 0);
	assert_int_equal(duration_parse("1000000y", 0, 1000000, &secs), 0);
	assert_int_equal(duration_parse("1000001s", 0, 1000000, &secs),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_flags_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
