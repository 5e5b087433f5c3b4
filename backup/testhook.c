// SPDX-License-Identifier: MIT
/*
 * testhook.c - loud test hooks (see testhook.h).
 *
 * The warning goes straight to stderr (and syslog) rather than through
 * common/log.h, so no log level or sink choice can hide it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "testhook.h"

extern char **environ;

static void warn(const char *name, const char *value, const char *what)
{
	char line[512];

	snprintf(line, sizeof(line), "test hook %s=%s %s", name, value, what);
	fprintf(stderr, "phivault: WARNING: %s\n", line);
	if (!isatty(2))
		syslog(LOG_WARNING, "WARNING: %s", line);
}

const char *testhook_get(const char *name, unsigned int flags)
{
	const char *v = getenv(name), *on;

	if (!v || !*v)
		return NULL;
	if (flags & TESTHOOK_GUARDED) {
		on = getenv("PHIVAULT_TEST_HOOKS");
		if (!on || strcmp(on, "1")) {
			warn(name, v, "is set but ignored: it needs "
			     "PHIVAULT_TEST_HOOKS=1; remove it from this "
			     "environment");
			return NULL;
		}
	}
	warn(name, v, "is active: this run does not behave like "
	     "production; never set it outside the test suite");
	return v;
}

size_t testhook_list(char *buf, size_t size)
{
	static const char pfx[] = "PHIVAULT_TEST_";
	size_t n = 0, used = 0, len;
	char **e;

	if (size)
		buf[0] = '\0';
	for (e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');

		if (strncmp(*e, pfx, sizeof(pfx) - 1) || !eq || !eq[1])
			continue;
		len = (size_t)(eq - *e);
		/* switches and settings of the test suite, not hooks */
		if ((len == 19 && !strncmp(*e, "PHIVAULT_TEST_HOOKS", len)) ||
		    (len == 20 && !strncmp(*e, "PHIVAULT_TEST_CHROOT", len)) ||
		    (len == 18 && !strncmp(*e, "PHIVAULT_TEST_LOGS", len)))
			continue;
		n++;
		if (used + len + 2 < size) {
			if (used)
				buf[used++] = ',';
			memcpy(buf + used, *e, len);
			used += len;
			buf[used] = '\0';
		}
	}
	return n;
}
