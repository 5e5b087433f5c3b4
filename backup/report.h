/* SPDX-License-Identifier: MIT */
/*
 * report.h - a restore drill's signed reports (JSON, text, HTML) and the
 * history of drills kept in the repository under drills/.
 *
 * Signature: every report ends with one signature line,
 *
 *   JSON  `  "signature": "hmac-sha256:<64 hex>"` then `}`
 *   text  `signature: hmac-sha256:<64 hex>`
 *   HTML  `<!-- signature: hmac-sha256:<64 hex> -->`
 *
 * an HMAC-SHA-256 over every byte before that line, under a key derived
 * from the repository master key with HKDF (salt: the repository id,
 * info "phivault drill report-mac").  So only someone holding the
 * repository's secret can write a report that verifies, and changing any
 * byte of one (a "failed" turned into "passed", a date) makes
 * report_verify() fail.  The format is byte-exact on purpose: verifying
 * needs no JSON or HTML parser.
 *
 * The JSON is written by us with one member per line at two spaces for
 * the top level; report_hist_parse() relies on that layout (and on the
 * signature having been checked first), it is not a general JSON reader.
 *
 * The HTML page is self-contained: inline CSS and inline SVG charts, no
 * script, no external font, image or style sheet.
 *
 * Nothing here prints.  Functions return 0 or a negative code.
 */
#ifndef BACKUP_REPORT_H
#define BACKUP_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "drill.h"
#include "repo.h"

#define REPORT_PREFIX		"drills/"
#define REPORT_MAX		(16U << 20)
#define REPORT_HIST_HTML	60	/* drills drawn in the charts */

enum report_fmt {
	REPORT_JSON = 0,
	REPORT_TEXT,
	REPORT_HTML,
};

/* One past drill, as read back from its JSON report. */
struct drill_hist {
	char id[DRILL_ID_HEX];
	char snapshot[DRILL_ID_HEX];
	char key[128];			/* drills/... in the repository */
	time_t time;			/* started, server clock */
	int passed, critical;
	int verified;			/* its signature checked out */
	int64_t rpo, rpo_target;	/* seconds; -1 unknown */
	int64_t rto, rto_target;
	double rate;			/* bytes per second */
	uint64_t files_restored, files_bad;
	char cause[256];		/* first failure, "" when passed */
};

/*
 * Render d (and, for HTML, the history h[0..nh), oldest first, which
 * should not include d) in format f and sign it with r's report key.
 * *outp is malloc'ed, *lenp its length.
 */
int report_render(const struct repo *r, enum report_fmt f,
		  const struct drill_result *d, const struct drill_hist *h,
		  size_t nh, char **outp, size_t *lenp);

/*
 * Check the signature of a report in any of the three formats.  Returns
 * 0, -PHV_EAUTH when the signature does not match (edited, or another
 * repository's report), -PHV_EFORMAT when there is no signature line.
 */
int report_verify(const struct repo *r, const void *buf, size_t len);

/* Read the summary fields of a JSON report into *h (zeroed first). */
int report_hist_parse(const char *json, size_t len, struct drill_hist *h);

/* The history entry of a drill that just ran. */
void report_hist_from(const struct drill_result *d, struct drill_hist *h);

/*
 * Store the signed JSON report of drill d in the repository as
 * drills/<UTC time>-<drill id>.report, locked like every other
 * repository object until repo_retain_until(r, server_now), so the
 * evidence of a drill cannot be deleted before the backups it tested.
 * The object is sealed (AES-256-GCM under a key derived from the master
 * key, "phivault drill report-seal"; the key name is bound as AAD): a
 * report names files, and file names can be PHI.  *keyp (may be NULL)
 * receives the key, malloc'ed.
 */
int report_store(struct repo *r, const struct drill_result *d,
		 const char *json, size_t jlen, time_t server_now,
		 char **keyp);

/*
 * Load every drill report in the repository (the oldest version of each
 * drills/<name>.report), open it, check its signature and parse it;
 * sorted oldest first.
 * Reports that fail to verify are kept with ->verified 0 and ->passed 0.
 * Release with free().
 */
int report_hist_load(struct repo *r, struct drill_hist **hp, size_t *np);

#endif /* BACKUP_REPORT_H */
