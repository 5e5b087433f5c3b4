// SPDX-License-Identifier: MIT
/*
 * repoopt.c - the repository passphrase for the repository commands
 * (repoopt.h).
 */
#include "repoopt.h"

int repoopt_secret(const char *pass_file, int confirm, struct secret *s)
{
	struct secret_opts so = {
		.passphrase_file = pass_file,
		.env_file = REPOOPT_ENV_PASSFILE,
	};

	return secret_get(&so, "Repository passphrase: ", confirm, s);
}
