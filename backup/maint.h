/* SPDX-License-Identifier: MIT */
/*
 * maint.h - repository maintenance: forget (drop snapshots outside a
 * retention policy), prune (delete packs no live snapshot needs) and
 * check (every snapshot's packs exist; with read_data, every blob
 * decrypts and matches its chunk id).
 *
 * Deletion is by version id, all versions of a key.  Object Lock has the
 * last word: a version still retained is left alone and reported with
 * its retain-until date; nothing here bypasses GOVERNANCE.  Reports are
 * human-readable lines written to the given stream.
 */
#ifndef BACKUP_MAINT_H
#define BACKUP_MAINT_H

#include <stdio.h>
#include <time.h>

#include "repo.h"

struct forget_policy {
	int last, daily, weekly, monthly;
};

/*
 * keep[i] = 1 for snapshots the policy keeps.  snaps are sorted by time;
 * each host + source group is judged on its own.  An empty policy keeps
 * everything.
 */
void forget_select(const struct repo_snap *snaps, size_t n,
		   const struct forget_policy *p, int *keep);

/* Forget snapshots outside p.  Returns 0, or -PHV_ELOCKED when some
 * could not be deleted yet (listed in the report). */
int maint_forget(struct repo *r, const struct forget_policy *p, int dry_run,
		 FILE *out);

/* Delete unreferenced packs and their indexes whose retention expired. */
int maint_prune(struct repo *r, FILE *out);

/* Returns 0, or -PHV_EAUTH / -PHV_ENOTFOUND when damage was found. */
int maint_check(struct repo *r, int read_data, FILE *out);

#endif /* BACKUP_MAINT_H */
