// SPDX-License-Identifier: MIT
/*
 * unlock.c - option handling and exit status for the unlock options
 * (unlock.h).
 */
#include "common/err.h"
#include "cmd.h"
#include "unlock.h"

int unlock_opt(struct secret_opts *so, struct keysrc_opts *ko, int opt,
	       const char *arg)
{
	if (secret_opt(so, opt, arg))
		return 1;
	return keysrc_opt(ko, opt, arg) == 1;
}

int unlock_exit(int r)
{
	if (r == -PHV_EBADKEY)
		return EXIT_BADKEY;
	return r ? EXIT_FAIL : EXIT_OK;
}
