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

#include <stdint.h>
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

/*
 * Returns 0, or -PHV_EAUTH / -PHV_ENOTFOUND when damage was found.  Also
 * runs maint_tamper_scan() and counts tampering as damage (-PHV_EAUTH).
 */
int maint_check(struct repo *r, int read_data, FILE *out);

/*
 * Tampering: phivault writes every key outside locks/ exactly once, so
 * a key with more than one version, or a delete marker, was deleted or
 * overwritten by someone else, typically with the backup's own
 * credentials (ransomware).  Under Object Lock the first version is
 * still there and restores read it, but it must raise an alarm.
 */
struct maint_tamper {
	uint64_t keys;			/* keys looked at */
	uint64_t deleted;		/* current version: a delete marker */
	uint64_t overwritten;		/* a newer version on top */
	uint64_t lost;			/* no original version left */
};

/* Called once per tampered key, what: "deleted", "overwritten". */
typedef void (*maint_tamper_fn)(const char *key, const char *what,
				void *arg);

/*
 * List every version of every key (but locks/) and count the tampered
 * keys into *t (zeroed first), calling fn (may be NULL) for each.
 * Returns 0 or a listing error; finding tampering is not an error.
 */
int maint_tamper_scan(struct repo *r, maint_tamper_fn fn, void *arg,
		      struct maint_tamper *t);

/* Number of tampered keys in t. */
static inline uint64_t maint_tampered(const struct maint_tamper *t)
{
	return t->deleted + t->overwritten;
}

#endif /* BACKUP_MAINT_H */
