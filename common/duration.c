// SPDX-License-Identifier: MIT
/*
 * duration.c - "<number>[smhdwy]" to seconds (duration.h).  Strict on
 * purpose: a duration in a configuration file or on a command line that
 * does not parse exactly is an error, never a guess.
 */
#include <errno.h>
#include <stdlib.h>

#include "duration.h"

/* Seconds per unit letter; 0 for a letter that is not a unit. */
static int64_t unit_seconds(char c, unsigned int flags)
{
	switch (c) {
	case '\0': return (flags & DURATION_BARE_DAYS) ? 86400 : 1;
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	case 'w': return (flags & DURATION_UP_TO_DAYS) ? 0 : 7 * 86400;
	case 'y': return (flags & DURATION_UP_TO_DAYS) ? 0 : 365 * 86400;
	default: return 0;
	}
}

int duration_parse(const char *s, unsigned int flags, int64_t max_count,
		   int64_t *secsp)
{
	long long min = (flags & DURATION_ZERO_OK) ? 0 : 1;
	char *end;
	long long v;
	int64_t mul;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < min || v > max_count)
		return -EINVAL;
	mul = unit_seconds(*end, flags);
	if (!mul || (*end && end[1]))
		return -EINVAL;
	if (v > INT64_MAX / mul)
		return -EINVAL;
	*secsp = v * mul;
	return 0;
}
