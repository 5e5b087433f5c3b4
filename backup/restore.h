/* SPDX-License-Identifier: MIT */
/*
 * restore.h - restore a snapshot (or some paths of it) into a directory.
 *
 * This is a library function so that `phivault restore`, `restore
 * --into VOLUME` (o->into) and `phivault drill` share one core: it
 * restores into a target directory and reports, per file, what happened,
 * how many bytes, and the totals and timing.
 *
 * Every file is written to a temporary name beside its destination
 * (".phv-restore.<pid>.<n>", which fits any name length; a restore
 * removes those left in the directories it writes by a process that is
 * gone),
 * checked against its XXH3-128 fingerprint (each chunk was already
 * authenticated by AES-GCM and its HMAC chunk id), and only then renamed
 * into place; a file that fails keeps whatever was there before.  Blobs
 * are fetched by the pack's recorded version id with ranged GETs; into a
 * directory, the blobs of all files asked for are sorted by pack and
 * offset and close runs share one GET (docs/REPOSITORY.md, "Request
 * pattern"), so a file costs only its own chunks and a full restore
 * about one GET per 8 MiB.  A damaged or missing chunk fails the files
 * that need it; the rest are restored.
 *
 * Only paths inside the target are written: manifest paths are checked
 * (manifest.h), final components are opened with O_NOFOLLOW, and a
 * parent that resolves outside the target is refused.  Metadata (mode,
 * owner by name with uid/gid fallback, times, xattrs) is applied to
 * everything restored, including directories that already existed;
 * ownership needs root, and a failure to chown as another user is not
 * an error.
 */
#ifndef BACKUP_RESTORE_H
#define BACKUP_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "repo.h"

enum restore_overwrite {
	RESTORE_NEVER = 0,	/* keep existing files */
	RESTORE_IF_CHANGED,	/* replace unless size and fingerprint match */
	RESTORE_ALWAYS,
};

struct vol;

struct restore_opts {
	const char *target;		/* must exist or is created */
	struct vol *into;		/* or: this volume's root (fs/vol.h);
					 * target is then ignored */
	const char *const *paths;	/* subtrees to restore; NULL: all */
	size_t npaths;
	enum restore_overwrite overwrite;
	unsigned int workers;		/* download threads; 0: 8 */
	int progress;
};

enum restore_status {
	RESTORE_OK = 0,
	RESTORE_SKIPPED = 1,		/* existing file kept */
	RESTORE_FAILED = 2,
};

struct restore_file {
	const char *path;		/* points into the manifest */
	enum restore_status status;
	int err;			/* negative code when FAILED */
	uint64_t bytes;			/* written */
	double seconds;
	char detail[160];		/* e.g. which chunk was bad */
};

struct restore_result {
	struct restore_file *files;	/* regular files, manifest order */
	size_t nfiles;
	uint64_t restored, skipped, failed;	/* files */
	uint64_t dirs, others, warnings;
	uint64_t bytes_written, bytes_downloaded;
	uint64_t stale_removed;		/* leftovers of an interrupted run */
	double seconds;
};

/*
 * Restore m into o->target.  Returns 0 when everything asked for was
 * restored, -PHV_ENOTFOUND when a requested path is not in the snapshot,
 * -EIO when some files failed (see res->files), -ENOSPC, -EDQUOT,
 * -EROFS or -EFBIG when the target could take no more (restoring then
 * stops early; the files not written are failed), or a negative code
 * for a failure before anything was written.  res is filled in every
 * case once
 * restoring began; release it with restore_result_release().
 */
int restore_run(struct repo *r, const struct manifest *m,
		const struct restore_opts *o, struct restore_result *res);

void restore_result_release(struct restore_result *res);

#endif /* BACKUP_RESTORE_H */
