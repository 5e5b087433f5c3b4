/* SPDX-License-Identifier: MIT */
/*
 * repoopt.h - where the repository commands (backup, restore, drill,
 * doctor, ...) find the repository and its passphrase: --repo or
 * PHIVAULT_REPOSITORY, --repo-passphrase-file or
 * PHIVAULT_REPO_PASSPHRASE_FILE, else the terminal (docs/REPOSITORY.md).
 *
 * Opening the store and the repository stays with each command: they
 * report failures differently (stderr, a drill report, a doctor line).
 */
#ifndef TOOLS_REPOOPT_H
#define TOOLS_REPOOPT_H

#include "secret.h"

#define REPOOPT_ENV_REPO	"PHIVAULT_REPOSITORY"
#define REPOOPT_ENV_PASSFILE	"PHIVAULT_REPO_PASSPHRASE_FILE"

/*
 * Read the repository passphrase from pass_file (the option; may be
 * NULL), else the file named by $PHIVAULT_REPO_PASSPHRASE_FILE, else the
 * terminal, asking twice when confirm is set.  Returns as secret_get(),
 * which prints the reason; release *s with secret_release().
 */
int repoopt_secret(const char *pass_file, int confirm, struct secret *s);

#endif /* TOOLS_REPOOPT_H */
