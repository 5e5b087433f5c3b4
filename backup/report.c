// SPDX-License-Identifier: MIT
/*
 * report.c - signed drill reports and the drill history (see report.h).
 *
 * Rendering writes into an open_memstream(); the signature is appended
 * last over exactly the bytes written before it.  The charts are drawn
 * here as plain SVG elements: one time axis (drill start), values scaled
 * to the larger of the highest value and the target, the target as a
 * dashed line, each drill a dot coloured by its verdict.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "crypto/secmem.h"
#include "report.h"

#define MAC_LEN		32
#define MAC_INFO	"phivault drill report-mac"
#define MAC_DOMAIN	"phivault drill report 1\n"
#define SEAL_INFO	"phivault drill report-seal"
#define REPORT_SUFFIX	".report"

static const uint8_t seal_magic[8] = "PHVDR1\0";

struct sig_form {
	const char *prefix, *suffix;
};

/* indexed by enum report_fmt */
static const struct sig_form sig_forms[] = {
	{ "  \"signature\": \"hmac-sha256:", "\"\n}\n" },
	{ "signature: hmac-sha256:", "\n" },
	{ "<!-- signature: hmac-sha256:", " -->\n" },
};

/* ---- signing --------------------------------------------------------- */

static int report_mac(const struct repo *r, const void *p, size_t len,
		      uint8_t mac[MAC_LEN])
{
	uint8_t *key = secmem_alloc(MAC_LEN);
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outlen = 0;
	int ret = -ENOMEM;

	if (!key)
		return ret;
	ret = kdf_hkdf(r->k->master, REPO_KEY_LEN, r->id, MF_ID_LEN,
		       MAC_INFO, strlen(MAC_INFO), key, MAC_LEN);
	if (ret)
		goto out;
	ret = -PHV_ECRYPTO;
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	if (!ctx)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, MAC_LEN, params) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)MAC_DOMAIN,
			   strlen(MAC_DOMAIN)) != 1 ||
	    EVP_MAC_update(ctx, p, len) != 1 ||
	    EVP_MAC_final(ctx, mac, &outlen, MAC_LEN) != 1 ||
	    outlen != MAC_LEN)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	secmem_free(key, MAC_LEN);
	return ret;
}

/* Append the signature line of form f to the memstream's text. */
static int sign_stream(const struct repo *r, enum report_fmt f, FILE *fp,
		       char **bufp, size_t *lenp)
{
	uint8_t mac[MAC_LEN];
	char hex[2 * MAC_LEN + 1];
	int ret;

	if (fflush(fp))
		return -ENOMEM;
	ret = report_mac(r, *bufp, *lenp, mac);
	if (ret)
		return ret;
	hex_encode(mac, MAC_LEN, hex);
	fprintf(fp, "%s%s%s", sig_forms[f].prefix, hex, sig_forms[f].suffix);
	return fflush(fp) ? -ENOMEM : 0;
}

int report_verify(const struct repo *r, const void *buf, size_t len)
{
	const char *p = buf;
	uint8_t mac[MAC_LEN], want[MAC_LEN];
	size_t i, pl, sl, at;
	int ret;

	for (i = 0; i < sizeof(sig_forms) / sizeof(sig_forms[0]); i++) {
		pl = strlen(sig_forms[i].prefix);
		sl = strlen(sig_forms[i].suffix);
		if (len < pl + 2 * MAC_LEN + sl)
			continue;
		at = len - sl - 2 * MAC_LEN - pl;
		if (memcmp(p + len - sl, sig_forms[i].suffix, sl) ||
		    memcmp(p + at, sig_forms[i].prefix, pl) ||
		    (at && p[at - 1] != '\n'))
			continue;
		/* lower case only: the signature has one spelling */
		if (hex_decode(p + at + pl, HEX_ENCLEN(MAC_LEN), want, 0) < 0)
			return -PHV_EFORMAT;
		ret = report_mac(r, p, at, mac);
		if (ret)
			return ret;
		return secmem_cmp(mac, want, MAC_LEN) ? -PHV_EAUTH : 0;
	}
	return -PHV_EFORMAT;
}

/* ---- escaping ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s, 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : s[0] >= 0xe0 ? 3 :
		s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n;

	fputc('"', f);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p++);
		} else if (*p == '\n') {
			fputs("\\n", f);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
		} else {
			n = utf8_len(p);
			if (n) {
				fwrite(p, 1, n, f);
				p += n;
			} else {
				fputs("\\ufffd", f);	/* not UTF-8 */
				p++;
			}
		}
	}
	fputc('"', f);
}

static void html_str(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((unsigned char)*s < 0x20)
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

/* Text for the text report: control characters shown as '?'. */
static void text_str(FILE *f, const char *s)
{
	for (; s && *s; s++)
		fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
}

static const char *verdict(const struct drill_result *d)
{
	return d->critical ? "critical" : d->passed ? "passed" : "failed";
}

/* ---- JSON ----------------------------------------------------------- */

static void json_check(FILE *f, const struct drill_result *d, size_t c)
{
	const struct drill_check *k = &d->checks[c];
	size_t i;

	fprintf(f, "    {\n      \"name\": \"%s\",\n      \"status\": \"%s\","
		"\n      \"summary\": ", drill_check_name(c),
		drill_status_name(k->status));
	json_str(f, k->summary);
	fputs(",\n      \"problems\": [", f);
	for (i = 0; i < k->nproblems; i++) {
		fputs(i ? ",\n        " : "\n        ", f);
		json_str(f, k->problems[i]);
	}
	fprintf(f, "%s],\n      \"more_problems\": %" PRIu64 "\n    }%s\n",
		k->nproblems ? "\n      " : "", k->more,
		c + 1 < DRILL_NCHECKS ? "," : "");
}

/* "causes" (failed and critical checks) or "warnings". */
static void json_causes(FILE *f, const struct drill_result *d, int warn)
{
	size_t c, n = 0;

	fprintf(f, "  \"%s\": [", warn ? "warnings" : "causes");
	for (c = 0; c < DRILL_NCHECKS; c++) {
		const struct drill_check *k = &d->checks[c];
		char line[480];

		if (warn ? k->status != DRILL_WARNING :
		    k->status != DRILL_FAILED && k->status != DRILL_CRITICAL)
			continue;
		snprintf(line, sizeof(line), "%s: %s", drill_check_name(c),
			 k->summary);
		fputs(n++ ? ",\n    " : "\n    ", f);
		json_str(f, line);
	}
	fputs(n ? "\n  ],\n" : "],\n", f);
}

#define JU(name, v) fprintf(f, "  \"" name "\": %" PRIu64 ",\n", \
			    (uint64_t)(v))
#define JI(name, v) fprintf(f, "  \"" name "\": %" PRId64 ",\n", \
			    (int64_t)(v))
#define JD(name, v) fprintf(f, "  \"" name "\": %.3f,\n", (double)(v))
#define JS(name, v) do {					\
	fputs("  \"" name "\": ", f);				\
	json_str(f, (v));					\
	fputs(",\n", f);					\
} while (0)

static void json_body(FILE *f, const struct drill_result *d)
{
	char t[32];
	size_t c;

	fputs("{\n  \"format\": \"phivault-drill-report 1\",\n", f);
	JS("drill_id", d->id);
	JS("result", verdict(d));
	JS("repository", d->repo_id);
	JS("repository_url", d->repo_url);
	JS("host", d->host);
	drill_fmt_time(d->started, t, sizeof(t));
	JS("started", t);
	JI("started_epoch", d->started);
	JI("finished_epoch", d->finished);
	JD("seconds", d->seconds);
	json_causes(f, d, 0);
	json_causes(f, d, 1);
	JS("test_hooks", d->test_hooks);
	JS("snapshot", d->snapshot);
	JI("snapshot_time_epoch", d->snapshot_time);
	JI("snapshot_retain_until_epoch", d->snapshot_retain_until);
	JS("snapshot_host", d->snap_host);
	JS("snapshot_source", d->snap_source);
	JI("newest_snapshot_epoch", d->newest_time);
	JU("snapshots", d->nsnapshots);
	JU("snapshots_damaged", d->nsnapshots_bad);
	JD("sample", d->sample);
	JU("files_total", d->files_total);
	JU("bytes_total", d->bytes_total);
	JU("files_selected", d->files_selected);
	JU("bytes_selected", d->bytes_selected);
	JU("files_restored", d->files_restored);
	JU("bytes_restored", d->bytes_restored);
	JU("files_bad", d->files_bad);
	JD("setup_seconds", d->setup_seconds);
	JD("restore_seconds", d->restore_seconds);
	JD("verify_seconds", d->verify_seconds);
	JD("restore_rate_bps", d->rate);
	JU("objects_checked", d->objects_checked);
	JU("objects_bad", d->objects_bad);
	JS("delete_probe_key", d->probe_key);
	JU("tampered_objects", d->tampered);
	JU("sources", d->nsources);
	JI("rpo_seconds", d->rpo);
	JI("rpo_target_seconds", d->rpo_target);
	JI("rto_seconds", d->rto);
	JI("rto_target_seconds", d->rto_target);
	fputs("  \"checks\": [\n", f);
	for (c = 0; c < DRILL_NCHECKS; c++)
		json_check(f, d, c);
	fputs("  ],\n", f);
}

/* ---- text ----------------------------------------------------------- */

static void text_body(FILE *f, const struct drill_result *d)
{
	char t1[32], t2[32], a[32], b[32];
	size_t c, i;

	drill_fmt_time(d->started, t1, sizeof(t1));
	fprintf(f, "phivault restore drill %s: %s", d->id, verdict(d));
	if (d->warnings)
		fprintf(f, " with %d warning%s", d->warnings,
			d->warnings > 1 ? "s" : "");
	fputc('\n', f);
	if (d->test_hooks[0]) {
		fputs("TEST HOOKS WERE ACTIVE (", f);
		text_str(f, d->test_hooks);
		fputs("): this report is not evidence for production\n", f);
	}
	fprintf(f, "repository %s", d->repo_id);
	if (d->repo_url[0]) {
		fputs(" (", f);
		text_str(f, d->repo_url);
		fputc(')', f);
	}
	fprintf(f, "\nstarted    %s on ", t1);
	text_str(f, d->host);
	fprintf(f, ", took %.1fs\n", d->seconds);
	if (d->snapshot[0]) {
		drill_fmt_time(d->snapshot_time, t2, sizeof(t2));
		fprintf(f, "snapshot   %s of ", d->snapshot);
		text_str(f, d->snap_host);
		fputc(':', f);
		text_str(f, d->snap_source);
		fprintf(f, ", taken %s\n", t2);
	}
	drill_fmt_bytes(d->bytes_restored, a, sizeof(a));
	drill_fmt_bytes(d->bytes_total, b, sizeof(b));
	fprintf(f, "restored   %" PRIu64 " of %" PRIu64 " files (%s of %s)%s"
		"\n", d->files_restored, d->files_total, a, b,
		d->sample > 0 ? ", a random sample" : "");
	drill_fmt_dur(d->rpo, a, sizeof(a));
	drill_fmt_dur(d->rpo_target, b, sizeof(b));
	fprintf(f, "RPO        %s (target %s)\n", a, b);
	drill_fmt_dur(d->rto, a, sizeof(a));
	drill_fmt_dur(d->rto_target, b, sizeof(b));
	fprintf(f, "RTO        %s estimated (target %s)\n\n", a, b);
	for (c = 0; c < DRILL_NCHECKS; c++) {
		const struct drill_check *k = &d->checks[c];

		fprintf(f, "%-8s  %-12s  ", drill_status_name(k->status),
			drill_check_name(c));
		text_str(f, k->summary);
		fputc('\n', f);
		for (i = 0; i < k->nproblems; i++) {
			fputs("          - ", f);
			text_str(f, k->problems[i]);
			fputc('\n', f);
		}
		if (k->more)
			fprintf(f, "          ... and %" PRIu64 " more\n",
				k->more);
	}
	fputc('\n', f);
}

/* ---- HTML ----------------------------------------------------------- */

static const char css[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
	"margin:0;background:#f4f6f8;color:#1d2733}"
	"main{max-width:980px;margin:0 auto;padding:24px}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
	".sub{color:#5b6b7b;font-size:13px}"
	".badge{display:inline-block;padding:6px 16px;border-radius:18px;"
	"color:#fff;font-weight:700;font-size:18px;letter-spacing:.05em}"
	".passed{background:#2e7d32}.failed{background:#c62828}"
	".critical{background:#8e0000}.skipped{background:#78909c}"
	".warning{background:#e65100}"
	".warn{margin-top:18px;background:#fff3e0;"
	"border-left:5px solid #e65100;padding:10px 16px;border-radius:4px}"
	".tiles{display:flex;flex-wrap:wrap;gap:12px;margin-top:18px}"
	".tile{background:#fff;border-radius:8px;padding:12px 16px;"
	"min-width:190px;flex:1;box-shadow:0 1px 3px rgba(0,0,0,.12)}"
	".tile .v{font-size:24px;font-weight:700}"
	".tile .l{font-size:12px;color:#5b6b7b;text-transform:uppercase}"
	".ok{color:#2e7d32}.bad{color:#c62828}"
	"table{border-collapse:collapse;width:100%;background:#fff;"
	"box-shadow:0 1px 3px rgba(0,0,0,.12);border-radius:8px}"
	"td,th{text-align:left;padding:7px 10px;border-bottom:1px solid "
	"#e3e8ee;font-size:13px;vertical-align:top}"
	".pill{display:inline-block;padding:2px 9px;border-radius:10px;"
	"color:#fff;font-size:12px;font-weight:600}"
	"ul{margin:4px 0 0 16px;padding:0}li{font-family:monospace;"
	"font-size:12px;word-break:break-all}"
	".chart{background:#fff;border-radius:8px;margin-bottom:12px;"
	"box-shadow:0 1px 3px rgba(0,0,0,.12)}"
	".why{margin-top:18px;background:#fdecea;border-left:5px solid #c62828;"
	"padding:10px 16px;border-radius:6px}"
	".why li{font-family:inherit;font-size:14px}"
	"summary{cursor:pointer;font-size:12px;color:#5b6b7b}"
	"footer{margin-top:28px;color:#5b6b7b;font-size:12px}";

struct pt {
	double x, y;
	int ok;
};

#define CW	940.0
#define CH	230.0
#define ML	62.0
#define MR	20.0
#define MT	34.0
#define MB	40.0

/* The smallest of 1, 2, 2.5, 5 times a power of ten that is >= v. */
static double nice_max(double v)
{
	double e = 1, m;

	if (v <= 0)
		return 1;
	while (v / e >= 10)
		e *= 10;
	while (v / e < 1)
		e /= 10;
	m = v / e;
	m = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
	return m * e;
}

static void svg_open(FILE *f, const char *title)
{
	fprintf(f, "<svg class=\"chart\" role=\"img\" width=\"100%%\" "
		"viewBox=\"0 0 %.0f %.0f\" "
		"xmlns=\"http://www.w3.org/2000/svg\">"
		"<title>", CW, CH);
	html_str(f, title);
	fprintf(f, "</title><text x=\"%.0f\" y=\"22\" font-size=\"15\" "
		"font-weight=\"600\" fill=\"#1d2733\">", ML);
	html_str(f, title);
	fputs("</text>", f);
}

static void svg_xaxis(FILE *f, double x0, double x1)
{
	char d[32];
	double xs[3] = { x0, (x0 + x1) / 2, x1 };
	const char *anchor[3] = { "start", "middle", "end" };
	int i;

	for (i = 0; i < 3; i++) {
		drill_fmt_time((time_t)xs[i], d, sizeof(d));
		d[16] = '\0';		/* YYYY-MM-DDTHH:MM */
		d[10] = ' ';
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" "
			"fill=\"#5b6b7b\" text-anchor=\"%s\">%s</text>",
			ML + i * (CW - ML - MR) / 2, CH - 14, anchor[i], d);
		if (x0 == x1)
			break;
	}
}

static double px(double x, double x0, double x1)
{
	if (x1 <= x0)
		return ML + (CW - ML - MR) / 2;
	return ML + (x - x0) / (x1 - x0) * (CW - ML - MR);
}

static double py(double y, double ymax)
{
	return MT + (1 - y / ymax) * (CH - MT - MB);
}

/* A line chart of p[0..n) with a dashed target line. */
static void svg_line(FILE *f, const char *title, const struct pt *p,
		     size_t n, double target, const char *unit)
{
	double x0 = n ? p[0].x : 0, x1 = n ? p[n - 1].x : 0, ymax = target;
	size_t i;
	int t;

	for (i = 0; i < n; i++)
		if (p[i].y > ymax)
			ymax = p[i].y;
	ymax = nice_max(ymax * 1.1);
	svg_open(f, title);
	for (t = 0; t <= 4; t++) {
		double v = ymax * t / 4, y = py(v, ymax);

		fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" "
			"y2=\"%.1f\" stroke=\"#e3e8ee\"/><text x=\"%.0f\" "
			"y=\"%.1f\" font-size=\"11\" fill=\"#5b6b7b\" "
			"text-anchor=\"end\">%g %s</text>", ML, CW - MR, y, y,
			ML - 6, y + 4, v, unit);
	}
	if (target > 0)
		fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" "
			"y2=\"%.1f\" stroke=\"#ef6c00\" stroke-width=\"2\" "
			"stroke-dasharray=\"7 5\"/><text x=\"%.0f\" y=\"%.1f\" "
			"font-size=\"11\" fill=\"#ef6c00\" text-anchor=\"end\">"
			"target %g %s</text>", ML, CW - MR, py(target, ymax),
			py(target, ymax), CW - MR, py(target, ymax) - 5,
			target, unit);
	fputs("<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" "
	      "points=\"", f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(p[i].x, x0, x1),
			py(p[i].y, ymax));
	fputs("\"/>", f);
	for (i = 0; i < n; i++)
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" "
			"fill=\"%s\" stroke=\"#fff\" stroke-width=\"1.5\">"
			"<title>%.1f %s</title></circle>", px(p[i].x, x0, x1),
			py(p[i].y, ymax), p[i].ok ? "#2e7d32" : "#c62828",
			p[i].y, unit);
	svg_xaxis(f, x0, x1);
	fputs("</svg>\n", f);
}

/* One bar per drill: green passed, red failed. */
static void svg_verdicts(FILE *f, const struct drill_hist *h, size_t n)
{
	double w = n ? (CW - ML - MR) / (double)n : 0, bw = w * 0.7;
	size_t i, npass = 0;
	char title[96];

	for (i = 0; i < n; i++)
		npass += h[i].passed;
	snprintf(title, sizeof(title), "Drill results: %zu of %zu passed",
		 npass, n);
	svg_open(f, title);
	if (bw > 40)
		bw = 40;
	for (i = 0; i < n; i++)
		fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" "
			"height=\"%.0f\" rx=\"3\" fill=\"%s\"><title>%s"
			"</title></rect>", ML + i * w + (w - bw) / 2, MT,
			bw, CH - MT - MB, h[i].passed ? "#2e7d32" :
			"#c62828", h[i].passed ? "passed" : "failed");
	if (n)
		svg_xaxis(f, (double)h[0].time, (double)h[n - 1].time);
	fputs("</svg>\n", f);
}

static void html_charts(FILE *f, const struct drill_hist *h, size_t n)
{
	struct pt *rpo = calloc(n ? n : 1, sizeof(*rpo));
	struct pt *rto = calloc(n ? n : 1, sizeof(*rto));
	double div = 3600, tgt_rpo = 0, tgt_rto = 0;
	const char *unit = "h";
	size_t i, nrpo = 0, nrto = 0;
	int64_t big = 0;

	if (!rpo || !rto)
		goto out;
	for (i = 0; i < n; i++) {
		big = h[i].rto > big ? h[i].rto : big;
		big = h[i].rto_target > big ? h[i].rto_target : big;
	}
	if (big < 2 * 3600) {
		div = 60;
		unit = "min";
	}
	for (i = 0; i < n; i++) {
		if (h[i].rpo >= 0)
			rpo[nrpo++] = (struct pt){ (double)h[i].time,
				h[i].rpo / 3600.0, h[i].passed };
		if (h[i].rto >= 0)
			rto[nrto++] = (struct pt){ (double)h[i].time,
				h[i].rto / div, h[i].passed };
		if (h[i].rpo_target > 0)
			tgt_rpo = h[i].rpo_target / 3600.0;
		if (h[i].rto_target > 0)
			tgt_rto = h[i].rto_target / div;
	}
	svg_verdicts(f, h, n);
	svg_line(f, "Recovery point: age of the newest backup (RPO)", rpo,
		 nrpo, tgt_rpo, "h");
	svg_line(f, "Recovery time: estimated full restore (RTO)", rto, nrto,
		 tgt_rto, unit);
out:
	free(rpo);
	free(rto);
}

static void html_tile(FILE *f, const char *label, const char *value,
		      int ok)
{
	fprintf(f, "<div class=\"tile\"><div class=\"l\">%s</div>"
		"<div class=\"v %s\">", label, ok ? "ok" : "bad");
	html_str(f, value);
	fputs("</div></div>\n", f);
}

static void html_tiles(FILE *f, const struct drill_result *d)
{
	char a[32], b[32], v[96];

	drill_fmt_dur(d->rpo, a, sizeof(a));
	drill_fmt_dur(d->rpo_target, b, sizeof(b));
	snprintf(v, sizeof(v), "%s / %s", a, b);
	html_tile(f, "RPO (target)", v, d->checks[DRILL_RPO].status ==
		  DRILL_PASSED);
	drill_fmt_dur(d->rto, a, sizeof(a));
	drill_fmt_dur(d->rto_target, b, sizeof(b));
	snprintf(v, sizeof(v), "%s / %s", a, b);
	html_tile(f, "RTO estimate (target)", v,
		  d->checks[DRILL_RTO].status == DRILL_PASSED);
	snprintf(v, sizeof(v), "%" PRIu64 " / %" PRIu64,
		 d->files_restored - (d->files_bad > d->files_restored ? 0 :
				      d->files_bad), d->files_selected);
	html_tile(f, "files verified / restored", v,
		  d->checks[DRILL_VERIFY].status == DRILL_PASSED &&
		  d->checks[DRILL_RESTORE].status == DRILL_PASSED);
	snprintf(v, sizeof(v), "%" PRIu64 " / %" PRIu64,
		 d->objects_checked - d->objects_bad, d->objects_checked);
	html_tile(f, "objects locked / checked", v,
		  d->checks[DRILL_LOCKS].status != DRILL_FAILED &&
		  d->checks[DRILL_LOCKS].status != DRILL_CRITICAL);
}

/* The failed checks in one box at the top, for whoever reads no further. */
static void html_warnings(FILE *f, const struct drill_result *d)
{
	size_t c;

	if (d->test_hooks[0]) {
		fputs("<div class=\"warn\"><b>Test hooks were active (", f);
		html_str(f, d->test_hooks);
		fputs("): this report is not evidence for production</b></div>"
		      "\n", f);
	}
	if (!d->warnings)
		return;
	fputs("<div class=\"warn\"><b>Warnings</b><ul>", f);
	for (c = 0; c < DRILL_NCHECKS; c++) {
		const struct drill_check *k = &d->checks[c];

		if (k->status != DRILL_WARNING)
			continue;
		fprintf(f, "<li><b>%s</b>: ", drill_check_name(c));
		html_str(f, k->summary);
		fputs("</li>", f);
	}
	fputs("</ul></div>\n", f);
}

static void html_causes(FILE *f, const struct drill_result *d)
{
	size_t c;

	html_warnings(f, d);
	if (d->passed)
		return;
	fputs("<div class=\"why\"><b>Why it did not pass</b><ul>", f);
	for (c = 0; c < DRILL_NCHECKS; c++) {
		const struct drill_check *k = &d->checks[c];

		if (k->status != DRILL_FAILED && k->status != DRILL_CRITICAL)
			continue;
		fprintf(f, "<li><b>%s</b>: ", drill_check_name(c));
		html_str(f, k->summary);
		fputs("</li>", f);
	}
	fputs("</ul></div>\n", f);
}

static void html_checks(FILE *f, const struct drill_result *d)
{
	size_t c, i;

	fputs("<h2>Checks</h2><table><tr><th>result</th><th>check</th>"
	      "<th>what was found</th></tr>\n", f);
	for (c = 0; c < DRILL_NCHECKS; c++) {
		const struct drill_check *k = &d->checks[c];
		const char *s = drill_status_name(k->status);

		fprintf(f, "<tr><td><span class=\"pill %s\">%s</span></td>"
			"<td>%s</td><td>", s, s, drill_check_name(c));
		html_str(f, k->summary);
		if (k->nproblems > 5)
			fprintf(f, "<details><summary>%zu%s problems"
				"</summary>", k->nproblems, k->more ? "+" : "");
		if (k->nproblems)
			fputs("<ul>", f);
		for (i = 0; i < k->nproblems; i++) {
			fputs("<li>", f);
			html_str(f, k->problems[i]);
			fputs("</li>", f);
		}
		if (k->more)
			fprintf(f, "<li>... and %" PRIu64 " more</li>",
				k->more);
		fprintf(f, "%s%s</td></tr>\n", k->nproblems ? "</ul>" : "",
			k->nproblems > 5 ? "</details>" : "");
	}
	fputs("</table>\n", f);
}

static void html_history(FILE *f, const struct drill_hist *h, size_t n)
{
	char t[32], a[32], b[32];
	size_t i;

	fputs("<h2>Past drills</h2><table><tr><th>started (UTC)</th>"
	      "<th>result</th><th>snapshot</th><th>RPO</th><th>RTO</th>"
	      "<th>first cause</th></tr>\n", f);
	for (i = n; i > 0 && i + 30 > n; i--) {
		const struct drill_hist *e = &h[i - 1];
		const char *s = !e->verified ? "critical" :
			e->passed ? "passed" : "failed";

		drill_fmt_time(e->time, t, sizeof(t));
		drill_fmt_dur(e->rpo, a, sizeof(a));
		drill_fmt_dur(e->rto, b, sizeof(b));
		fprintf(f, "<tr><td>%s</td><td><span class=\"pill %s\">%s"
			"</span></td><td>%.8s</td><td>%s</td><td>%s</td><td>",
			t, s, e->verified ? s : "bad signature", e->snapshot,
			a, b);
		html_str(f, e->cause);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static int html_body(FILE *f, const struct drill_result *d,
		     const struct drill_hist *h, size_t nh)
{
	struct drill_hist *all;
	size_t n = 0, i, first;
	char t[32];

	all = calloc(nh + 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	first = nh > REPORT_HIST_HTML - 1 ? nh - (REPORT_HIST_HTML - 1) : 0;
	for (i = first; i < nh; i++)
		if (h[i].verified)
			all[n++] = h[i];
	report_hist_from(d, &all[n++]);

	drill_fmt_time(d->started, t, sizeof(t));
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
		"charset=\"utf-8\"><title>phivault restore drill %s</title>"
		"<style>%s</style></head><body><main>\n", t, css);
	fprintf(f, "<span class=\"badge %s\">%s</span>\n<h1>Restore drill "
		"of %s</h1><div class=\"sub\">repository %s", verdict(d),
		d->critical ? "CRITICAL" : d->passed ? "PASSED" : "FAILED",
		t, d->repo_id);
	if (d->repo_url[0]) {
		fputs(" (", f);
		html_str(f, d->repo_url);
		fputc(')', f);
	}
	fprintf(f, " &middot; snapshot %s &middot; drill %s &middot; run on ",
		d->snapshot[0] ? d->snapshot : "none", d->id);
	html_str(f, d->host);
	fputs("</div>\n<div class=\"tiles\">\n", f);
	html_tiles(f, d);
	fputs("</div>\n", f);
	html_causes(f, d);
	html_checks(f, d);
	fputs("<h2>History</h2>\n", f);
	html_charts(f, all, n);
	html_history(f, all, n);
	fputs("<footer>Signed with the repository's drill report key; check "
	      "it with <code>phivault drill verify FILE</code>.  Evidence of "
	      "a tested restore for the contingency plan (HIPAA "
	      "&sect;164.308(a)(7)).</footer>\n</main></body></html>\n", f);
	free(all);
	return 0;
}

/* ---- render, store, history -------------------------------------------- */

int report_render(const struct repo *r, enum report_fmt fmt,
		  const struct drill_result *d, const struct drill_hist *h,
		  size_t nh, char **outp, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret = 0;

	*outp = NULL;
	*lenp = 0;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	if (fmt == REPORT_JSON)
		json_body(f, d);
	else if (fmt == REPORT_TEXT)
		text_body(f, d);
	else
		ret = html_body(f, d, h, nh);
	if (!ret)
		ret = sign_stream(r, fmt, f, &buf, &len);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		free(buf);
		return ret;
	}
	*outp = buf;
	*lenp = len;
	return 0;
}

void report_hist_from(const struct drill_result *d, struct drill_hist *h)
{
	size_t c;

	memset(h, 0, sizeof(*h));
	memcpy(h->id, d->id, sizeof(h->id));
	memcpy(h->snapshot, d->snapshot, sizeof(h->snapshot));
	h->time = d->started;
	h->passed = d->passed;
	h->critical = d->critical;
	h->verified = 1;
	h->rpo = d->rpo;
	h->rpo_target = d->rpo_target;
	h->rto = d->rto;
	h->rto_target = d->rto_target;
	h->rate = d->rate;
	h->files_restored = d->files_restored;
	h->files_bad = d->files_bad;
	for (c = 0; c < DRILL_NCHECKS && !h->cause[0]; c++)
		if (d->checks[c].status == DRILL_FAILED ||
		    d->checks[c].status == DRILL_CRITICAL)
			snprintf(h->cause, sizeof(h->cause), "%s: %s",
				 drill_check_name(c), d->checks[c].summary);
}

/* The value text of top-level member name, or NULL. */
static const char *member(const char *json, const char *name)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n  \"%s\": ", name);
	p = strstr(json, pat);
	return p ? p + strlen(pat) : NULL;
}

static int64_t member_int(const char *json, const char *name, int64_t def)
{
	const char *p = member(json, name);

	return p ? strtoll(p, NULL, 10) : def;
}

/* Copy the JSON string starting at p (at its quote), unescaped enough. */
static void str_copy(const char *p, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	if (!p || *p++ != '"')
		return;
	for (; *p && *p != '"' && n + 1 < size; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			if (*p == 'u') {
				out[n++] = '?';
				p += strnlen(p, 5) > 4 ? 4 : 0;
				continue;
			}
			out[n++] = *p == 'n' ? ' ' : *p;
			continue;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
}

int report_hist_parse(const char *json, size_t len, struct drill_hist *h)
{
	const char *p;
	char res[16];

	memset(h, 0, sizeof(*h));
	if (strnlen(json, len) != len ||
	    strncmp(json, "{\n  \"format\": \"phivault-drill-report 1\"", 39))
		return -PHV_EFORMAT;
	str_copy(member(json, "drill_id"), h->id, sizeof(h->id));
	str_copy(member(json, "snapshot"), h->snapshot, sizeof(h->snapshot));
	str_copy(member(json, "result"), res, sizeof(res));
	h->passed = !strcmp(res, "passed");
	h->critical = !strcmp(res, "critical");
	h->time = (time_t)member_int(json, "started_epoch", 0);
	h->rpo = member_int(json, "rpo_seconds", -1);
	h->rpo_target = member_int(json, "rpo_target_seconds", -1);
	h->rto = member_int(json, "rto_seconds", -1);
	h->rto_target = member_int(json, "rto_target_seconds", -1);
	h->files_restored = (uint64_t)member_int(json, "files_restored", 0);
	h->files_bad = (uint64_t)member_int(json, "files_bad", 0);
	p = member(json, "restore_rate_bps");
	h->rate = p ? strtod(p, NULL) : 0;
	p = member(json, "causes");
	if (p && !strncmp(p, "[\n    ", 6))
		str_copy(p + 6, h->cause, sizeof(h->cause));
	return h->time && h->id[0] ? 0 : -PHV_EFORMAT;
}

/* The sealing key and associated data of a stored report. */
static int seal_setup(const struct repo *r, const char *key, uint8_t *k,
		      struct aead_ad ad[3])
{
	static const char label[] = "phivault drill report v1";

	ad[0] = (struct aead_ad){ label, sizeof(label) - 1 };
	ad[1] = (struct aead_ad){ r->id, MF_ID_LEN };
	ad[2] = (struct aead_ad){ key, strlen(key) };
	return kdf_hkdf(r->k->master, REPO_KEY_LEN, r->id, MF_ID_LEN,
			SEAL_INFO, strlen(SEAL_INFO), k, AEAD_KEY_LEN);
}

int report_store(struct repo *r, const struct drill_result *d,
		 const char *json, size_t jlen, time_t server_now,
		 char **keyp)
{
	struct store *st = r->st;
	struct aead_ad ad[3];
	uint8_t *k = secmem_alloc(AEAD_KEY_LEN), *obj = NULL, *ct;
	char key[128], t[32];
	size_t olen = sizeof(seal_magic) + REPO_BLOB_OVERHEAD + jlen;
	struct tm tm;
	int ret = -ENOMEM;

	if (keyp)
		*keyp = NULL;
	obj = malloc(olen);
	if (!k || !obj)
		goto out;
	gmtime_r(&d->started, &tm);
	strftime(t, sizeof(t), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(key, sizeof(key), REPORT_PREFIX "%s-%.16s" REPORT_SUFFIX, t,
		 d->id);
	memcpy(obj, seal_magic, sizeof(seal_magic));
	ct = obj + sizeof(seal_magic) + AEAD_NONCE_LEN;
	ret = seal_setup(r, key, k, ad);
	if (!ret)
		ret = secmem_random(obj + sizeof(seal_magic), AEAD_NONCE_LEN);
	if (!ret)
		ret = aead_seal(k, obj + sizeof(seal_magic), ad, 3, json,
				jlen, ct, ct + jlen);
	if (ret)
		goto out;
	ret = st->ops->put(st, key, obj, olen, STORE_LOCKED,
			   repo_retain_until(r, server_now), NULL);
	if (ret) {
		log_err("cannot store the drill report %s: %s", key,
			store_error(st));
		goto out;
	}
	if (keyp) {
		*keyp = strdup(key);
		ret = *keyp ? 0 : -ENOMEM;
	}
out:
	secmem_free(k, AEAD_KEY_LEN);
	free(obj);
	return ret;
}

/* Open a stored report into a malloc'ed NUL-terminated JSON text. */
static int report_unseal(const struct repo *r, const char *key,
			 const uint8_t *obj, size_t olen, char **jsonp,
			 size_t *lenp)
{
	struct aead_ad ad[3];
	uint8_t *k = secmem_alloc(AEAD_KEY_LEN);
	const uint8_t *ct = obj + sizeof(seal_magic) + AEAD_NONCE_LEN;
	char *pt = NULL;
	size_t len;
	int ret = -ENOMEM;

	*jsonp = NULL;
	if (olen < sizeof(seal_magic) + REPO_BLOB_OVERHEAD ||
	    memcmp(obj, seal_magic, sizeof(seal_magic))) {
		secmem_free(k, AEAD_KEY_LEN);
		return -PHV_EFORMAT;
	}
	len = olen - sizeof(seal_magic) - REPO_BLOB_OVERHEAD;
	pt = malloc(len + 1);
	if (!k || !pt)
		goto out;
	ret = seal_setup(r, key, k, ad);
	if (!ret)
		ret = aead_open(k, obj + sizeof(seal_magic), ad, 3, ct, len,
				pt, ct + len);
	if (ret)
		goto out;
	pt[len] = '\0';
	*jsonp = pt;
	*lenp = len;
	pt = NULL;
out:
	secmem_free(k, AEAD_KEY_LEN);
	free(pt);
	return ret;
}

struct hist_acc {
	struct repo *r;
	struct drill_hist *h;
	size_t n, cap;
};

static int hist_cb(const char *key, const char *vid, uint64_t size,
		   void *arg)
{
	struct hist_acc *a = arg;
	struct store *st = a->r->st;
	struct drill_hist *e;
	void *obj = NULL;
	char *buf = NULL;
	size_t len = strlen(key), sl = strlen(REPORT_SUFFIX);
	int ret;

	if (len < sl || strcmp(key + len - sl, REPORT_SUFFIX))
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 32;

		e = realloc(a->h, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		a->h = e;
		a->cap = cap;
	}
	e = &a->h[a->n];
	memset(e, 0, sizeof(*e));
	ret = st->ops->get(st, key, vid, 0, 0, REPORT_MAX, &obj, &len);
	if (ret) {
		log_warn("cannot read %s: %s", key, store_error(st));
		return ret == -ENOMEM ? ret : 0;
	}
	ret = report_unseal(a->r, key, obj, len, &buf, &len);
	free(obj);
	if (ret == -ENOMEM)
		return ret;
	if (!ret)
		ret = report_verify(a->r, buf, len);
	if (!ret)
		ret = report_hist_parse(buf, len, e);
	if (ret) {
		/* keep it visible: a report that does not verify is news */
		log_warn_r(ret, "drill report %s does not verify", key);
		if (buf)
			report_hist_parse(buf, len, e);
		e->verified = 0;
		e->passed = 0;
		snprintf(e->cause, sizeof(e->cause), "report signature "
			 "does not verify");
	} else {
		e->verified = 1;
	}
	snprintf(e->key, sizeof(e->key), "%s", key);
	a->n++;
	free(buf);
	return 0;
}

static int hist_cmp(const void *x, const void *y)
{
	const struct drill_hist *a = x, *b = y;

	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	return strcmp(a->key, b->key);
}

int report_hist_load(struct repo *r, struct drill_hist **hp, size_t *np)
{
	struct hist_acc a = { .r = r };
	int ret;

	*hp = NULL;
	*np = 0;
	ret = repo_list_oldest(r, REPORT_PREFIX, hist_cb, &a);
	if (ret) {
		free(a.h);
		return ret;
	}
	if (a.n)
		qsort(a.h, a.n, sizeof(*a.h), hist_cmp);
	*hp = a.h;
	*np = a.n;
	return 0;
}
