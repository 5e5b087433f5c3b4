// SPDX-License-Identifier: MIT
/*
 * hookenv.c - the allow-listed environment for hooks (see hookenv.h).
 */
#include <string.h>

#include "hookenv.h"

extern char **environ;

static int hookenv_ends(const char *name, size_t len, const char *sfx)
{
	size_t n = strlen(sfx);

	return len >= n && !strncmp(name + len - n, sfx, n);
}

int hookenv_ok(const char *e)
{
	static const char *const keep[] = {
		"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME",
		"TMPDIR",
	};
	static const char *const secret[] = {
		"_PIN", "_TOKEN", "_KEY", "_CREDENTIALS",
	};
	const char *eq = strchr(e, '=');
	size_t len, i;

	if (!eq)
		return 0;
	len = (size_t)(eq - e);
	for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		if (hookenv_ends(e, len, secret[i]))
			return 0;
	if (memmem(e, len, "PASS", 4) || memmem(e, len, "SECRET", 6))
		return 0;
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (strlen(keep[i]) == len && !strncmp(e, keep[i], len))
			return 1;
	return !strncmp(e, "LC_", 3) || !strncmp(e, "PHIVAULT_ALERT_", 15);
}

size_t hookenv_build(const char **envp, size_t max, size_t spare)
{
	size_t n = 0;
	char **e;

	for (e = environ; e && *e && n + spare + 1 < max; e++)
		if (hookenv_ok(*e))
			envp[n++] = *e;
	envp[n] = NULL;
	return n;
}
