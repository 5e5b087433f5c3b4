/* SPDX-License-Identifier: MIT */
/*
 * backup.h - take one snapshot of a source into a repository.
 *
 * Order of writes, the invariant that makes interruptions safe: packs
 * (each followed by its index object) first, retention extensions of
 * reused objects next, the snapshot manifest last.  A run that dies at
 * any point leaves no snapshot that names missing data, and the next run
 * finds the packs already stored (by their index objects, or their
 * trailers) and uploads only the rest.
 *
 * Files whose size, mtime, ctime and inode match the parent snapshot (the
 * newest one of the same host and source) are not read again.  Files that
 * cannot be read are listed in the stats (the CLI exits 3); a file that
 * changes while it is read is stored as read, flagged MF_CHANGED, and
 * counted as a warning.
 */
#ifndef BACKUP_BACKUP_H
#define BACKUP_BACKUP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "repo.h"
#include "source.h"

#define BACKUP_PACK_TARGET	(16U << 20)
#define BACKUP_STEP_MAX		(7 * 86400)	/* longest automatic step */

/*
 * Retention step.  The snapshot needs every object it names retained
 * until U = server time + the repository's retention.  Everything the
 * run writes or extends is locked until U + step instead, and a reused
 * pack is extended only when what is already known of its lock (the
 * latest retain-until of the snapshots that name it: every pack of a
 * snapshot was retained until at least that snapshot's date before the
 * snapshot was written) is short of U.  So backups within one step of
 * each other extend nothing.  The automatic step is retention / 8, at
 * most BACKUP_STEP_MAX; it is the price in extra retention.
 */
#define BACKUP_STEP_AUTO	(-1)

struct backup_opts {
	struct source *src;
	const char *source_name;	/* recorded; finds the parent */
	const char *host;		/* NULL: gethostname() */
	unsigned int workers;		/* upload threads; 0: 4 */
	int progress;			/* draw a progress line on stderr */
	time_t server_now;		/* from repo_clock_check() */
	int64_t step;			/* seconds, or BACKUP_STEP_AUTO */
};

struct backup_stats {
	char snapshot[2 * MF_ID_LEN + 1];
	char parent[2 * MF_ID_LEN + 1];	/* "" when none */
	uint64_t files, dirs, others;
	uint64_t files_unchanged;	/* taken from the parent */
	uint64_t bytes_total;		/* size of all files */
	uint64_t bytes_read;		/* read from the source */
	uint64_t bytes_new;		/* plaintext of new chunks */
	uint64_t bytes_uploaded;	/* packs + indexes + manifest */
	uint64_t packs_uploaded;
	uint64_t chunks_new, chunks_dedup;
	uint64_t retention_extended;	/* objects whose lock was extended */
	uint64_t retention_known;	/* reused objects already locked
					 * long enough: not touched */
	uint64_t changed_during;	/* files that changed while read */
	unsigned long dropped_packs;	/* indexed packs found missing */
	double seconds;
	time_t retain_until;
	char **unreadable;		/* "path: reason" */
	size_t nunreadable;
};

/*
 * Run a backup.  The caller holds the repository lock and checked the
 * clock.  Returns 0 when a snapshot was written (stats->nunreadable may
 * be nonzero), or a negative code when none was.  Release the stats
 * with backup_stats_release().
 */
int backup_run(struct repo *r, const struct backup_opts *o,
	       struct backup_stats *stats);

void backup_stats_release(struct backup_stats *s);

/*
 * A file name made safe for a log line or a terminal: backslash,
 * newline, CR and tab become \\, \n, \r, \t and other control bytes
 * \xNN, so a name cannot forge a line.  Copied into buf (truncated to
 * size); returns buf.
 */
const char *backup_esc(const char *s, char *buf, size_t size);

struct XXH3_state_s;

/*
 * Feed len zero bytes to the XXH3-128 state h: a hole or a gap counts as
 * zeros in a file's fingerprint (mf_node.fp), on backup and on restore.
 */
void backup_hash_zeros(struct XXH3_state_s *h, uint64_t len);

#endif /* BACKUP_BACKUP_H */
