/* SPDX-License-Identifier: MIT */
/*
 * duration.h - the one parser for durations written by people: "30s",
 * "15m", "26h", "90d", "2w", "7y".  Used by the configuration file, the
 * backup engine's options and the access policy, which differ only in
 * what a bare number means, whether zero and weeks/years make sense, and
 * how large a value may be; those differences are the arguments here.
 */
#ifndef COMMON_DURATION_H
#define COMMON_DURATION_H

#include <stdint.h>

enum duration_flags {
	DURATION_BARE_DAYS	= 1U << 0,	/* "7" is 7 days, not 7 s */
	DURATION_ZERO_OK	= 1U << 1,	/* "0" is a valid duration */
	DURATION_UP_TO_DAYS	= 1U << 2,	/* refuse the units w and y */
};

/*
 * Parse s, decimal digits followed by at most one unit letter: s, m, h,
 * d, w (7 days) or y (365 days).  No sign, blanks or trailing text.  A
 * number without a unit counts seconds, or days with DURATION_BARE_DAYS.
 * The number must be at least 1 (0 with DURATION_ZERO_OK) and at most
 * max_count, and the result must fit in an int64_t.
 * Returns 0 with the seconds in *secsp, or -EINVAL leaving *secsp alone.
 * Nothing is allocated; the function is thread-safe.
 */
int duration_parse(const char *s, unsigned int flags, int64_t max_count,
		   int64_t *secsp);

#endif /* COMMON_DURATION_H */
