/* SPDX-License-Identifier: MIT */
/*
 * drill.h - restore drills: prove, on a schedule, that a snapshot can be
 * restored, that every restored byte is the byte that was backed up, that
 * the objects it needs are still under Object Lock, and how long a full
 * restore would take (RTO) and how old the newest backup is (RPO).
 *
 * A drill is read-only towards the backup: it reads the snapshot's packs
 * (the exact versions the manifest names), HEADs each object the snapshot
 * depends on, and makes one DELETE of a locked version that must be
 * refused (the delete probe).  The probe targets an index/ object, which
 * repo_index_load() can rebuild from its pack's trailer, so even when a
 * broken server lets the delete through no backup data is lost.
 *
 * Test-only: PHIVAULT_TEST_DRILL_PROBE_BYPASS (any value, together with
 * PHIVAULT_TEST_HOOKS=1; see testhook.h) makes the probe send the
 * GOVERNANCE bypass, standing in for a server that does not enforce
 * Object Lock, so the CRITICAL path can be tested on a real server.  A
 * report made while any PHIVAULT_TEST_* hook was set says so.
 *
 * Tampering: a drill also lists every version in the repository and
 * fails when a key was deleted or overwritten after phivault wrote it
 * (maint_tamper_scan()), even though restores still read the locked
 * originals.  In GOVERNANCE mode the locks check is a warning, never a
 * plain pass: the bypass permission can delete everything.
 *
 * The scratch directory (drill_scratch.c) holds plaintext; it is
 * private, carries an owner record so a later drill removes it when
 * this one is killed, and drill_scratch_abort() removes it from a
 * signal handler.
 *
 * The result (struct drill_result) is turned into signed reports by
 * report.h; drill_run() itself writes nothing to the repository.
 *
 * Restoring goes through drill_restore(), the one interface this module
 * needs from the restore engine; the drill then reads every restored
 * file back and checks it on its own, so a restore that wrote wrong
 * bytes cannot pass by vouching for itself.
 *
 * Nothing here prints; progress and problems go to common/log.h, and
 * every problem found is also recorded in the result for the report.
 */
#ifndef BACKUP_DRILL_H
#define BACKUP_DRILL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "manifest.h"
#include "repo.h"

#define DRILL_RPO_TARGET	(26 * 3600)	/* default, seconds */
#define DRILL_RTO_TARGET	(4 * 3600)
#define DRILL_MAX_PROBLEMS	50	/* listed per check; more counted */
#define DRILL_GOV_WARN	"governance mode: credentials with " \
			"s3:BypassGovernanceRetention can delete locked " \
			"objects; use compliance mode for production"
#define DRILL_ID_HEX		(2 * MF_ID_LEN + 1)

/* The checks a drill makes, in report order. */
enum drill_check_id {
	DRILL_SNAPSHOT = 0,	/* a snapshot was found and loaded */
	DRILL_RESTORE,		/* every selected file restored */
	DRILL_VERIFY,		/* restored bytes match the snapshot */
	DRILL_LOCKS,		/* what it needs is locked long enough */
	DRILL_DELETE,		/* deleting a locked version is refused */
	DRILL_TAMPER,		/* no key deleted or overwritten */
	DRILL_RPO,		/* newest snapshot younger than the target */
	DRILL_RTO,		/* estimated full restore within the target */
	DRILL_NCHECKS
};

enum drill_status {
	DRILL_SKIPPED = 0,	/* not applicable or not asked for */
	DRILL_PASSED,
	DRILL_FAILED,
	DRILL_CRITICAL,		/* a control is missing: act now */
	DRILL_WARNING,		/* works, but weaker than it looks */
};

struct drill_check {
	enum drill_status status;
	char summary[384];		/* one line, for humans */
	char **problems;		/* up to DRILL_MAX_PROBLEMS lines */
	size_t nproblems;
	uint64_t more;			/* problems beyond those listed */
};

enum drill_pick {
	DRILL_PICK_SPEC = 0,		/* o->snapshot, default "latest" */
	DRILL_PICK_RANDOM,		/* any loaded snapshot */
};

struct drill_opts {
	enum drill_pick pick;
	const char *snapshot;		/* id, prefix, "latest", date */
	double sample;			/* fraction of files in (0, 1];
					 * 0: every file */
	const char *scratch_parent;	/* NULL: $TMPDIR, else /var/tmp */
	int keep_scratch;		/* leave the restored tree (debug) */
	int64_t rpo_target, rto_target;	/* seconds; 0: the defaults */
	int skip_locks;			/* no lock check, no probe */
	int skip_delete_probe;
	time_t server_now;		/* from repo_clock_check() */
};

struct drill_result {
	char id[DRILL_ID_HEX];		/* this drill, random */
	char repo_id[DRILL_ID_HEX];
	char repo_url[512];		/* for the report; no credentials */
	char host[256];			/* where the drill ran */
	time_t started, finished;	/* server clock */
	double seconds;			/* wall time of the drill */

	char snapshot[DRILL_ID_HEX];	/* "" when none could be loaded */
	time_t snapshot_time;
	time_t snapshot_retain_until;
	char snap_host[256], snap_source[512];
	time_t newest_time;		/* newest loaded snapshot, 0: none */
	size_t nsnapshots, nsnapshots_bad;

	double sample;			/* as asked; 0: whole */
	uint64_t files_total, bytes_total;	/* regular files */
	uint64_t files_selected, bytes_selected;
	uint64_t files_restored, bytes_restored;
	uint64_t files_bad;		/* restore or verify failed */
	double restore_seconds;		/* read, decrypt, write */
	double verify_seconds;
	double setup_seconds;		/* open, list and load snapshots */
	double rate;			/* restored bytes per second */

	uint64_t objects_checked, objects_bad;
	char probe_key[256];		/* what the delete probe tried */

	int64_t rpo, rpo_target;	/* seconds; rpo -1: no snapshot;
					 * the worst of all sources */
	size_t nsources;		/* host + source pairs */
	uint64_t tampered;		/* keys deleted or overwritten */
	char test_hooks[256];		/* PHIVAULT_TEST_* set, "" none */
	char kept_scratch[4096];	/* --keep-scratch: plaintext here */
	char scratch_note[2048];	/* leftovers removed or found */
	int64_t rto, rto_target;	/* rto -1: could not be measured */

	struct drill_check checks[DRILL_NCHECKS];
	int passed;			/* every check passed, skipped or
					 * warned */
	int warnings;			/* checks with DRILL_WARNING */
	int critical;			/* some check is DRILL_CRITICAL */
};

/*
 * Run one drill on the open repository r.  Fills *res (which the caller
 * zeroes, and releases with drill_result_release()) and returns 0 when
 * the drill ran to the end, whatever it found (see res->passed), or a
 * negative code when it could not run at all (no scratch directory, out
 * of memory); then res holds what was learned so far.
 */
int drill_run(struct repo *r, const struct drill_opts *o,
	      struct drill_result *res);

void drill_result_release(struct drill_result *res);

/*
 * The scratch directory (drill_scratch.c).  drill_scratch_make() removes
 * the leftovers of dead drills in parent (NULL: a private 0700
 * directory under $TMPDIR or /var/tmp), then creates *dirp with an
 * owner record and the empty restore target *treep inside (both
 * malloc'ed).  What the sweep removed or found is appended to note, one
 * line each (for stderr: the library only logs).
 * drill_scratch_remove() removes it, drill_scratch_keep()
 * drops the owner record so it stays (and is named by every later
 * drill).  drill_scratch_abort() removes the current scratch directory
 * and is async-signal-safe: call it from SIGTERM/SIGINT/SIGHUP handlers.
 */
int drill_scratch_make(const char *parent, char **dirp, char **treep,
		       char *note, size_t notesize);
void drill_scratch_remove(const char *dir);
void drill_scratch_keep(const char *dir);
void drill_scratch_abort(void);

/* "snapshot", "restore", ... and "passed", "failed", ... */
const char *drill_check_name(enum drill_check_id c);
const char *drill_status_name(enum drill_status s);

/* Record a problem line for check c (keeps the first DRILL_MAX_PROBLEMS). */
void drill_problem(struct drill_result *res, enum drill_check_id c,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "2026-12-04T18:00:00Z", "26.0h", "1.5 MiB" */
void drill_fmt_time(time_t t, char *buf, size_t size);
void drill_fmt_dur(int64_t secs, char *buf, size_t size);
void drill_fmt_bytes(uint64_t n, char *buf, size_t size);

/*
 * The restore interface a drill needs.  Restore the regular files
 * m->nodes[sel[i]] (i < nsel, all MF_FILE) of snapshot m into the
 * existing empty directory dir, at dir/<path>, reading each blob from the
 * pack version the manifest names and opening it with authenticated
 * decryption (repo_blob_decode()).  For each file, call fn once with 0
 * or the first error and one line of detail ("packs/<id> version <v>:
 * not found", ...).  *bytesp counts the plaintext bytes written.
 * Returns 0 when every file was attempted (individual failures go to
 * fn), or a negative code for a failure that stops everything (dir not
 * writable, out of memory).  drill_restore.c implements it on
 * restore_run() (restore.h), so a drill runs the code a real disaster
 * recovery would run.
 */
typedef void (*drill_file_fn)(const struct mf_node *n, int err,
			      const char *detail, void *arg);
int drill_restore(struct repo *r, const struct manifest *m,
		  const size_t *sel, size_t nsel, const char *dir,
		  drill_file_fn fn, void *arg, uint64_t *bytesp);

#endif /* BACKUP_DRILL_H */
