// SPDX-License-Identifier: MIT
/*
 * s3.c - the S3 client of s3.h: configuration, SigV4 signing, one
 * request path with retries, and the handful of operations backups use.
 *
 * Layout: a bounded growable buffer (struct sbuf); encoders; the signer;
 * date helpers; a tiny XML reader; configuration from the environment and
 * the AWS shared files; the client object; s3_perform(), the only place
 * that talks to libcurl; then one short function per S3 operation.
 *
 * Design notes:
 *  - We sign ourselves (HMAC-SHA-256 from OpenSSL) instead of using
 *    CURLOPT_AWS_SIGV4, so the signer can be checked against AWS's test
 *    vectors and the canonical query and path we sign are the ones we send.
 *  - Every request is rebuilt and re-signed on each attempt.
 *  - Responses are bounded: XML bodies by S3_XML_MAX, object bodies by the
 *    caller's limit.  The XML reader only looks for known leaf elements in
 *    a known enclosing element; it never allocates more than it returns.
 *  - The secret key and session token live in heap memory wiped with
 *    OPENSSL_cleanse() on free; the derived signing key and its input
 *    are wiped after each use.  Nothing here logs headers or keys.
 *  - Not done: multipart upload, virtual-host addressing, encoding-type=url
 *    in listings (keys must be valid XML text), IMDS/SSO/assume-role
 *    credentials.
 */
#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "backup/s3.h"
#include "backup/s3_i.h"

#define S3_TEXT_MAX	(1U << 20)	/* internal strings */
#define S3_XML_MAX	(16U << 20)	/* XML response bodies */
#define S3_ERR_BODY_MAX	(64U << 10)	/* error body of a GET */
#define S3_LIST_MAX	100000		/* entries per listing page */
#define S3_MAX_QUERY	8
#define S3_MAX_HDRS	16
#define SHA256_LEN	32
#define MD5_LEN		16

static const char empty_sha256[] =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* ---- bounded growable buffer ------------------------------------------ */

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;		/* len never exceeds this */
	int err;		/* sticky: -ENOMEM or -EFBIG */
};

#define SBUF_INIT(m) { NULL, 0, 0, (m), 0 }

static int sbuf_add(struct sbuf *sb, const void *data, size_t n)
{
	size_t need, ncap;
	char *np;

	if (sb->err)
		return sb->err;
	if (n > sb->max - sb->len) {
		sb->err = -EFBIG;
		return sb->err;
	}
	need = sb->len + n + 1;
	if (need > sb->cap) {
		ncap = sb->cap ? sb->cap : 256;
		while (ncap < need)
			ncap *= 2;
		np = realloc(sb->p, ncap);
		if (!np) {
			sb->err = -ENOMEM;
			return sb->err;
		}
		sb->p = np;
		sb->cap = ncap;
	}
	if (n)
		memcpy(sb->p + sb->len, data, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
	return 0;
}

static int sbuf_adds(struct sbuf *sb, const char *s)
{
	return sbuf_add(sb, s, strlen(s));
}

static int sbuf_addf(struct sbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int sbuf_addf(struct sbuf *sb, const char *fmt, ...)
{
	char small[256];
	char *big = NULL;
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return sbuf_add(sb, "", 0);
	if ((size_t)n < sizeof(small))
		return sbuf_add(sb, small, n);

	big = malloc((size_t)n + 1);
	if (!big) {
		sb->err = -ENOMEM;
		return sb->err;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r = sbuf_add(sb, big, n);
	free(big);
	return r;
}

static void sbuf_release(struct sbuf *sb)
{
	free(sb->p);
	sb->p = NULL;
	sb->len = sb->cap = 0;
	sb->err = 0;
}

/* The string, owned by the caller; NULL (and released) on error. */
static char *sbuf_detach(struct sbuf *sb)
{
	char *p;

	if (!sb->err && !sb->p)
		sbuf_add(sb, "", 0);
	if (sb->err) {
		sbuf_release(sb);
		return NULL;
	}
	p = sb->p;
	sb->p = NULL;
	sb->len = sb->cap = 0;
	return p;
}

/* ---- encoders and digests --------------------------------------------- */

static int digest(const EVP_MD *md, const void *data, size_t n,
		  unsigned char *out)
{
	if (EVP_Digest(data, n, out, NULL, md, NULL) != 1)
		return -PHV_ECRYPTO;
	return 0;
}

static int hmac256(const void *key, size_t klen, const void *data, size_t n,
		   unsigned char out[SHA256_LEN])
{
	unsigned int olen = SHA256_LEN;

	if (!HMAC(EVP_sha256(), key, (int)klen, data, n, out, &olen) ||
	    olen != SHA256_LEN)
		return -PHV_ECRYPTO;
	return 0;
}

/* base64 of n bytes into out, which has room for 4 * ((n + 2) / 3) + 1 */
static void base64_encode(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int is_unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
	       ch == '_' || ch == '~';
}

char *s3_uri_encode(const char *s, int keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";
	struct sbuf sb = SBUF_INIT(S3_TEXT_MAX);
	const unsigned char *p;
	char esc[3];

	for (p = (const unsigned char *)s; *p; p++) {
		if (is_unreserved(*p) || (keep_slash && *p == '/')) {
			sbuf_add(&sb, p, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = digits[*p >> 4];
		esc[2] = digits[*p & 15];
		sbuf_add(&sb, esc, 3);
	}
	return sbuf_detach(&sb);
}

struct enc_pair {
	char *name;
	char *value;
};

static int enc_pair_cmp(const void *a, const void *b)
{
	const struct enc_pair *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : strcmp(x->value, y->value);
}

char *s3_canonical_query(const struct s3_kv *query, size_t n)
{
	struct sbuf sb = SBUF_INIT(S3_TEXT_MAX);
	struct enc_pair *v = NULL;
	char *out = NULL;
	size_t i;

	if (n) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return NULL;
	}
	for (i = 0; i < n; i++) {
		v[i].name = s3_uri_encode(query[i].name, 0);
		v[i].value = s3_uri_encode(query[i].value ?
					   query[i].value : "", 0);
		if (!v[i].name || !v[i].value)
			goto out;
	}
	if (n)
		qsort(v, n, sizeof(*v), enc_pair_cmp);
	for (i = 0; i < n; i++)
		sbuf_addf(&sb, "%s%s=%s", i ? "&" : "", v[i].name,
			  v[i].value);
	out = sbuf_detach(&sb);
out:
	for (i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
	sbuf_release(&sb);
	return out;
}

/* ---- Signature Version 4 ---------------------------------------------- */

struct canon_hdr {
	char *lname;
	const char *value;
	size_t order;
};

static int canon_hdr_cmp(const void *a, const void *b)
{
	const struct canon_hdr *x = a, *y = b;
	int r = strcmp(x->lname, y->lname);

	if (r)
		return r;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* value trimmed, with runs of blanks squeezed to one space */
static void add_trimmed(struct sbuf *sb, const char *v)
{
	const char *e;
	int blank = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (; v < e; v++) {
		if (*v == ' ' || *v == '\t') {
			blank = 1;
			continue;
		}
		if (blank)
			sbuf_add(sb, " ", 1);
		blank = 0;
		sbuf_add(sb, v, 1);
	}
}

/* "name:value\n" lines into ch and "a;b;c" into sh */
static int canonical_headers(const struct s3_sigv4 *req, struct sbuf *ch,
			     struct sbuf *sh)
{
	struct canon_hdr *h;
	size_t i, j;
	char *p;
	int r = -ENOMEM;

	if (!req->nheaders)
		return -EINVAL;
	h = calloc(req->nheaders, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (i = 0; i < req->nheaders; i++) {
		if (strpbrk(req->headers[i].value, "\r\n")) {
			r = -EINVAL;
			goto out;
		}
		h[i].lname = strdup(req->headers[i].name);
		if (!h[i].lname)
			goto out;
		for (p = h[i].lname; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		h[i].value = req->headers[i].value;
		h[i].order = i;
	}
	qsort(h, req->nheaders, sizeof(*h), canon_hdr_cmp);

	for (i = 0; i < req->nheaders; i = j) {
		sbuf_addf(ch, "%s:", h[i].lname);
		sbuf_addf(sh, "%s%s", i ? ";" : "", h[i].lname);
		for (j = i; j < req->nheaders &&
		     !strcmp(h[j].lname, h[i].lname); j++) {
			if (j > i)
				sbuf_add(ch, ",", 1);
			add_trimmed(ch, h[j].value);
		}
		sbuf_add(ch, "\n", 1);
	}
	r = ch->err ? ch->err : sh->err;
out:
	for (i = 0; i < req->nheaders; i++)
		free(h[i].lname);
	free(h);
	return r;
}

static int signing_key(const struct s3_sigv4 *req,
		       unsigned char key[SHA256_LEN])
{
	struct sbuf k = SBUF_INIT(S3_TEXT_MAX);
	unsigned char t[SHA256_LEN];
	int r;

	r = sbuf_addf(&k, "AWS4%s", req->secret_key);
	if (r)
		goto out;
	r = hmac256(k.p, k.len, req->amz_date, 8, t);
	if (!r)
		r = hmac256(t, SHA256_LEN, req->region, strlen(req->region),
			    key);
	if (!r)
		r = hmac256(key, SHA256_LEN, req->service,
			    strlen(req->service), t);
	if (!r)
		r = hmac256(t, SHA256_LEN, "aws4_request", 12, key);
out:
	if (k.p)
		OPENSSL_cleanse(k.p, k.cap);
	OPENSSL_cleanse(t, sizeof(t));
	sbuf_release(&k);
	return r;
}

static int sigv4_check(const struct s3_sigv4 *req)
{
	if (!req->method || !req->path || !req->payload_hash ||
	    !req->amz_date || strlen(req->amz_date) != S3_AMZ_DATE_LEN ||
	    !req->region || !req->service || !req->access_key ||
	    !req->secret_key || (req->nquery && !req->query))
		return -EINVAL;
	return 0;
}

int s3_sigv4_sign(const struct s3_sigv4 *req, char **authp, char **canonp,
		  char **stsp)
{
	struct sbuf cr = SBUF_INIT(S3_TEXT_MAX), ch = SBUF_INIT(S3_TEXT_MAX);
	struct sbuf sh = SBUF_INIT(S3_TEXT_MAX), sts = SBUF_INIT(S3_TEXT_MAX);
	struct sbuf auth = SBUF_INIT(S3_TEXT_MAX);
	char *path = NULL, *query = NULL;
	unsigned char hash[SHA256_LEN], key[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	int r;

	*authp = NULL;
	if (canonp)
		*canonp = NULL;
	if (stsp)
		*stsp = NULL;
	r = sigv4_check(req);
	if (r)
		return r;

	r = -ENOMEM;
	path = s3_uri_encode(*req->path ? req->path : "/", 1);
	query = s3_canonical_query(req->query, req->nquery);
	if (!path || !query)
		goto out;
	r = canonical_headers(req, &ch, &sh);
	if (r)
		goto out;
	sbuf_addf(&cr, "%s\n%s\n%s\n%s\n%s\n%s", req->method, path, query,
		  ch.p, sh.p, req->payload_hash);
	r = cr.err;
	if (r)
		goto out;

	r = digest(EVP_sha256(), cr.p, cr.len, hash);
	if (r)
		goto out;
	hex_encode(hash, SHA256_LEN, hex);
	sbuf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s",
		  req->amz_date, req->amz_date, req->region, req->service,
		  hex);
	r = sts.err;
	if (r)
		goto out;

	r = signing_key(req, key);
	if (!r)
		r = hmac256(key, SHA256_LEN, sts.p, sts.len, hash);
	if (r)
		goto out;
	hex_encode(hash, SHA256_LEN, hex);
	sbuf_addf(&auth, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/"
		  "aws4_request, SignedHeaders=%s, Signature=%s",
		  req->access_key, req->amz_date, req->region, req->service,
		  sh.p, hex);
	r = -ENOMEM;
	*authp = sbuf_detach(&auth);
	if (!*authp)
		goto out;
	if (canonp)
		*canonp = sbuf_detach(&cr);
	if (stsp)
		*stsp = sbuf_detach(&sts);
	r = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(path);
	free(query);
	sbuf_release(&cr);
	sbuf_release(&ch);
	sbuf_release(&sh);
	sbuf_release(&sts);
	sbuf_release(&auth);
	return r;
}

/* ---- dates ------------------------------------------------------------ */

void s3_amz_date(time_t t, char *out)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, S3_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

void s3_iso8601(time_t t, char *out)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 25, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int s3_parse_iso8601(const char *s, time_t *tp)
{
	struct tm tm;
	int n = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return -EINVAL;
	s += n;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (strcmp(s, "Z") && strcmp(s, "+00:00"))
		return -EINVAL;
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*tp = t;
	return 0;
}

/* ---- a small XML reader for S3's flat responses ----------------------- */

struct xspan {
	const char *p;
	const char *end;
};

/*
 * If an element named tag starts at q (q[0] == '<'), set *inner to its
 * content (empty for <tag/>) and *afterp past its end tag.
 */
static int xml_element_at(const char *q, const char *end, const char *tag,
			  struct xspan *inner, const char **afterp)
{
	size_t tl = strlen(tag);
	const char *gt, *c;

	if ((size_t)(end - q) < tl + 2 || memcmp(q + 1, tag, tl) ||
	    !strchr("> \t\r\n/", q[tl + 1]))
		return -ENOENT;
	gt = memchr(q, '>', end - q);
	if (!gt)
		return -ENOENT;
	if (gt[-1] == '/') {
		inner->p = inner->end = gt + 1;
		*afterp = gt + 1;
		return 0;
	}
	for (c = gt + 1; c < end; c++) {
		c = memchr(c, '<', end - c);
		if (!c)
			break;
		if ((size_t)(end - c) >= tl + 3 && c[1] == '/' &&
		    !memcmp(c + 2, tag, tl) && c[tl + 2] == '>') {
			inner->p = gt + 1;
			inner->end = c;
			*afterp = c + tl + 3;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * Find the next element named by one of tags[0..n) in *in; *whichp says
 * which.  in->p moves past the element.  Nested elements of the same name
 * are not supported (S3's answers have none).
 */
static int xml_find_any(struct xspan *in, const char *const *tags, int n,
			int *whichp, struct xspan *inner)
{
	const char *q = in->p, *after;
	int i;

	while (q < in->end) {
		q = memchr(q, '<', in->end - q);
		if (!q)
			break;
		for (i = 0; i < n; i++) {
			if (!xml_element_at(q, in->end, tags[i], inner,
					    &after)) {
				*whichp = i;
				in->p = after;
				return 0;
			}
		}
		q++;
	}
	return -ENOENT;
}

static int xml_find(struct xspan *in, const char *tag, struct xspan *inner)
{
	int which;

	return xml_find_any(in, &tag, 1, &which, inner);
}

static void utf8_add(struct sbuf *sb, unsigned long cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		sbuf_add(sb, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(sb, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(sb, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(sb, u, 4);
	}
}

/* decode one entity at p (after '&'); returns its length or 0 */
static size_t xml_entity(const char *p, const char *end, struct sbuf *sb)
{
	static const struct { const char *name; char ch; } ents[] = {
		{ "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' },
		{ "quot;", '"' }, { "apos;", '\'' },
	};
	const char *semi = memchr(p, ';', end - p < 12 ? end - p : 12);
	unsigned long cp;
	char num[12], *e;
	size_t i, n;

	if (!semi)
		return 0;
	n = semi - p + 1;
	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		if (n == strlen(ents[i].name) && !memcmp(p, ents[i].name, n)) {
			sbuf_add(sb, &ents[i].ch, 1);
			return n;
		}
	}
	if (*p != '#' || n < 3 || n - 2 >= sizeof(num))
		return 0;
	memcpy(num, p + 1, n - 2);
	num[n - 2] = '\0';
	errno = 0;
	if (num[0] == 'x')
		cp = strtoul(num + 1, &e, 16);
	else
		cp = strtoul(num, &e, 10);
	if (errno || *e || e == num || cp == 0 || cp > 0x10ffff)
		return 0;
	utf8_add(sb, cp);
	return n;
}

/* The text of span, entities decoded, as a malloc'ed string. */
static char *xml_text(const struct xspan *s)
{
	struct sbuf sb = SBUF_INIT(S3_TEXT_MAX);
	const char *p = s->p;
	size_t n;

	while (p < s->end) {
		if (*p == '&') {
			n = xml_entity(p + 1, s->end, &sb);
			if (n) {
				p += n + 1;
				continue;
			}
		}
		sbuf_add(&sb, p, 1);
		p++;
	}
	return sbuf_detach(&sb);
}

/* The text of the first <tag> in span, or NULL (absent or no memory). */
static char *xml_get(const struct xspan *s, const char *tag)
{
	struct xspan in = *s, inner;

	if (xml_find(&in, tag, &inner))
		return NULL;
	return xml_text(&inner);
}

/* Copy the text of the first <tag> into out[size]; "" when absent. */
static void xml_copy(const struct xspan *s, const char *tag, char *out,
		     size_t size)
{
	char *t = xml_get(s, tag);

	snprintf(out, size, "%s", t ? t : "");
	free(t);
}

/* ---- configuration ---------------------------------------------------- */

static __thread char config_err[256];

const char *s3_config_error(void)
{
	return config_err;
}

static const char *env_str(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Look key up in section of an INI file.  For the config file a named
 * profile's section is "[profile NAME]"; the credentials file uses
 * "[NAME]".  *valp gets a malloc'ed copy; absent files and keys give
 * -ENOENT.
 */
static int ini_lookup(const char *path, const char *section, int profile_kw,
		      const char *key, char **valp)
{
	char line[4096], want[300];
	int in = 0, r = -ENOENT;
	FILE *f;
	char *s, *eq;

	*valp = NULL;
	if (profile_kw && strcmp(section, "default"))
		snprintf(want, sizeof(want), "profile %s", section);
	else
		snprintf(want, sizeof(want), "%s", section);
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		s = trim(line);
		if (*s == '[') {
			eq = strchr(s, ']');
			if (eq)
				*eq = '\0';
			in = !strcmp(trim(s + 1), want);
			continue;
		}
		if (!in || *s == '#' || *s == ';')
			continue;
		eq = strchr(s, '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (strcmp(trim(s), key))
			continue;
		*valp = strdup(trim(eq + 1));
		r = *valp ? 0 : -ENOMEM;
		break;
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return r;
}

static void aws_file(const char *env, const char *name, char *out,
		     size_t size)
{
	const char *v = env_str(env), *home = env_str("HOME");

	if (v)
		snprintf(out, size, "%s", v);
	else if (home)
		snprintf(out, size, "%s/.aws/%s", home, name);
	else
		*out = '\0';
}

/* a profile setting: credentials file first (if creds), then config */
static char *profile_get(const char *profile, const char *key, int creds)
{
	char path[PATH_MAX];
	char *v = NULL;

	if (creds) {
		aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", path,
			 sizeof(path));
		if (*path && !ini_lookup(path, profile, 0, key, &v))
			return v;
	}
	aws_file("AWS_CONFIG_FILE", "config", path, sizeof(path));
	if (*path && !ini_lookup(path, profile, 1, key, &v))
		return v;
	return NULL;
}

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* ---- the client ------------------------------------------------------- */

struct s3_client {
	CURL *curl;
	char *base_url;		/* scheme://host[:port] */
	char *prefix;		/* endpoint path prefix, "" or "/x" */
	char *host;		/* Host header value */
	char *region;
	char *access_key;	/* wiped on free, like the two below */
	char *secret_key;
	char *session_token;
	char *ca_file;
	unsigned int attempts;
	unsigned int backoff_ms;
	unsigned int backoff_max_ms;
	unsigned int connect_timeout_s;
	unsigned int stall_timeout_s;
	unsigned int budget_s;	/* no new attempt after this long */
	long last_status;
	time_t last_date;
	unsigned long retries;
	int sock;		/* last socket curl opened for us, or -1 */
	char err[1024];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int cfg_fail(const char *msg, const char *arg)
{
	snprintf(config_err, sizeof(config_err), "s3: %s%s%s", msg,
		 arg ? ": " : "", arg ? arg : "");
	return -PHV_ECONFIG;
}

static int parse_endpoint(struct s3_client *c, const char *url)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *user = NULL, *query = NULL;
	size_t n, hlen, ulen;
	CURLU *u;
	int r = -ENOMEM;

	u = curl_url();
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		r = cfg_fail("bad endpoint URL", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	if ((strcmp(scheme, "http") && strcmp(scheme, "https")) || user ||
	    query) {
		r = cfg_fail("endpoint must be http(s)://host[:port][/path]",
			     url);
		goto out;
	}
	n = strlen(path);
	while (n && path[n - 1] == '/')
		path[--n] = '\0';
	c->prefix = strdup(path);
	hlen = strlen(host) + (port ? strlen(port) : 0) + 2;
	ulen = strlen(scheme) + hlen + 3;
	c->host = malloc(hlen);
	c->base_url = malloc(ulen);
	if (!c->prefix || !c->host || !c->base_url)
		goto out;
	snprintf(c->host, hlen, "%s%s%s", host, port ? ":" : "",
		 port ? port : "");
	snprintf(c->base_url, ulen, "%s://%s", scheme, c->host);
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(query);
	curl_url_cleanup(u);
	return r;
}

/* take a value: an explicit one, else an environment variable */
static char *pick(const char *explicit, const char *env)
{
	const char *v = explicit ? explicit : env_str(env);

	return v ? strdup(v) : NULL;
}

static int load_credentials(struct s3_client *c, const struct s3_config *cfg,
			    const char *profile)
{
	if (cfg->access_key || cfg->secret_key) {
		if (!cfg->access_key || !cfg->secret_key)
			return cfg_fail("access key and secret key go together",
					NULL);
		c->access_key = strdup(cfg->access_key);
		c->secret_key = strdup(cfg->secret_key);
		if (cfg->session_token)
			c->session_token = strdup(cfg->session_token);
	} else if (!cfg->profile && env_str("AWS_ACCESS_KEY_ID") &&
		   env_str("AWS_SECRET_ACCESS_KEY")) {
		c->access_key = pick(NULL, "AWS_ACCESS_KEY_ID");
		c->secret_key = pick(NULL, "AWS_SECRET_ACCESS_KEY");
		c->session_token = pick(NULL, "AWS_SESSION_TOKEN");
	} else {
		c->access_key = profile_get(profile, "aws_access_key_id", 1);
		c->secret_key = profile_get(profile, "aws_secret_access_key",
					    1);
		c->session_token = profile_get(profile, "aws_session_token",
					       1);
		if (!c->access_key || !c->secret_key)
			return cfg_fail("no credentials (AWS_ACCESS_KEY_ID or "
					"shared credentials file) for profile",
					profile);
	}
	if (!c->access_key || !c->secret_key)
		return -ENOMEM;
	return 0;
}

static int load_settings(struct s3_client *c, const struct s3_config *cfg)
{
	const char *profile;
	char *endpoint = NULL;
	int r;

	profile = cfg->profile ? cfg->profile : env_str("AWS_PROFILE");
	if (!profile)
		profile = "default";

	endpoint = pick(cfg->endpoint, "AWS_ENDPOINT_URL_S3");
	if (!endpoint)
		endpoint = pick(NULL, "AWS_ENDPOINT_URL");
	if (!endpoint)
		endpoint = profile_get(profile, "endpoint_url", 0);
	if (!endpoint) {
		r = cfg_fail("no endpoint (set AWS_ENDPOINT_URL)", NULL);
		goto out;
	}
	r = parse_endpoint(c, endpoint);
	if (r)
		goto out;

	c->region = pick(cfg->region, "AWS_REGION");
	if (!c->region)
		c->region = pick(NULL, "AWS_DEFAULT_REGION");
	if (!c->region)
		c->region = profile_get(profile, "region", 0);
	if (!c->region)
		c->region = strdup("us-east-1");
	if (!c->region) {
		r = -ENOMEM;
		goto out;
	}
	r = load_credentials(c, cfg, profile);
out:
	free(endpoint);
	return r;
}

static void (*notify_fn)(const char *line);

void s3_set_notify(void (*fn)(const char *line))
{
	notify_fn = fn;
}

/* PHIVAULT_S3_TIMEOUT (seconds, 1..3600) or dflt */
static unsigned int env_timeout(unsigned int dflt)
{
	const char *v = env_str("PHIVAULT_S3_TIMEOUT");
	char *end;
	long n;

	if (!v)
		return dflt;
	n = strtol(v, &end, 10);
	if (*end || n < 1 || n > 3600)
		return dflt;
	return (unsigned int)n;
}

int s3_client_new(const struct s3_config *cfg, struct s3_client **clientp)
{
	static const struct s3_config defaults;
	struct s3_client *c;
	int r;

	*clientp = NULL;
	config_err[0] = '\0';
	if (!cfg)
		cfg = &defaults;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return cfg_fail("curl_global_init failed", NULL);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = load_settings(c, cfg);
	if (r)
		goto out;
	r = -ENOMEM;
	if (cfg->ca_file) {
		c->ca_file = strdup(cfg->ca_file);
		if (!c->ca_file)
			goto out;
	}
	c->attempts = cfg->attempts ? cfg->attempts : S3_ATTEMPTS;
	c->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 200;
	c->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 20000;
	c->stall_timeout_s = cfg->stall_timeout_s ? cfg->stall_timeout_s :
			     env_timeout(S3_STALL_TIMEOUT);
	c->connect_timeout_s = cfg->connect_timeout_s ?
			       cfg->connect_timeout_s :
			       c->stall_timeout_s < 10 ? c->stall_timeout_s : 10;
	c->budget_s = S3_BUDGET_STALLS * c->stall_timeout_s;
	c->sock = -1;
	c->curl = curl_easy_init();
	if (!c->curl)
		goto out;
	*clientp = c;
	c = NULL;
	r = 0;
out:
	if (r == -ENOMEM && !config_err[0])
		cfg_fail("out of memory", NULL);
	s3_client_free(c);
	return r;
}

int s3_client_dup(const struct s3_client *c, struct s3_client **clientp)
{
	struct s3_config cfg;
	char *endpoint;
	size_t n;
	int r;

	*clientp = NULL;
	n = strlen(c->base_url) + strlen(c->prefix) + 1;
	endpoint = malloc(n);
	if (!endpoint)
		return -ENOMEM;
	snprintf(endpoint, n, "%s%s", c->base_url, c->prefix);
	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoint = endpoint;
	cfg.region = c->region;
	cfg.access_key = c->access_key;
	cfg.secret_key = c->secret_key;
	cfg.session_token = c->session_token;
	cfg.ca_file = c->ca_file;
	cfg.attempts = c->attempts;
	cfg.backoff_ms = c->backoff_ms;
	cfg.backoff_max_ms = c->backoff_max_ms;
	cfg.connect_timeout_s = c->connect_timeout_s;
	cfg.stall_timeout_s = c->stall_timeout_s;
	r = s3_client_new(&cfg, clientp);
	free(endpoint);
	return r;
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base_url);
	free(c->prefix);
	free(c->host);
	free(c->region);
	free(c->ca_file);
	free_secret(c->access_key);
	free_secret(c->secret_key);
	free_secret(c->session_token);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

const char *s3_last_error(const struct s3_client *c)
{
	return c->err;
}

int s3_last_status(const struct s3_client *c)
{
	return (int)c->last_status;
}

time_t s3_last_server_date(const struct s3_client *c)
{
	return c->last_date;
}

unsigned long s3_retry_count(const struct s3_client *c)
{
	return c->retries;
}

/* ---- one request ------------------------------------------------------ */

struct s3_req {
	const char *op;			/* for messages */
	const char *method;
	const char *bucket;		/* NULL: the service */
	const char *key;		/* NULL: the bucket */
	const char *version_id;		/* for messages only */
	struct s3_kv query[S3_MAX_QUERY];
	size_t nquery;
	struct s3_kv hdr[S3_MAX_HDRS];	/* signed and sent */
	size_t nhdr;
	const void *body;		/* PUT body, may be empty */
	size_t body_len;
	const unsigned char *body_sha256;	/* its SHA-256 if known, so
						 * no attempt hashes it again */
	size_t max_resp;		/* limit on the response body */
	int lock_op;			/* a 403 here may be Object Lock */
};

struct s3_resp {
	long status;
	CURLcode cc;
	struct sbuf body;
	size_t upload_off;
	const struct s3_req *rq;
	int *sock;			/* the client's last socket */
	time_t date;
	time_t last_modified;
	unsigned long retry_after;
	uint64_t content_length;
	int delete_marker;
	char version_id[S3_VERSION_ID_MAX + 1];
	char etag[S3_ETAG_MAX + 1];
	char lock_mode[16];
	char retain_until[40];
	char legal_hold[8];
	char curl_err[CURL_ERROR_SIZE];
};

/* add name=value unless value is NULL or empty */
static void req_query(struct s3_req *rq, const char *name, const char *value)
{
	if (value && *value && rq->nquery < S3_MAX_QUERY)
		rq->query[rq->nquery++] = (struct s3_kv){ name, value };
}

/* add a sub-resource without a value, sent as "name=" */
static void req_flag(struct s3_req *rq, const char *name)
{
	if (rq->nquery < S3_MAX_QUERY)
		rq->query[rq->nquery++] = (struct s3_kv){ name, "" };
}

static void req_hdr(struct s3_req *rq, const char *name, const char *value)
{
	if (rq->nhdr < S3_MAX_HDRS)
		rq->hdr[rq->nhdr++] = (struct s3_kv){ name, value };
}

static void resp_reset(struct s3_resp *rs)
{
	struct sbuf body = rs->body;
	const struct s3_req *rq = rs->rq;
	int *sock = rs->sock;

	body.len = 0;
	body.err = 0;
	if (body.p)
		body.p[0] = '\0';
	memset(rs, 0, sizeof(*rs));
	rs->body = body;
	rs->rq = rq;
	rs->sock = sock;
}

/*
 * Acknowledge what has arrived at once.  Servers that write the header
 * block and the body in separate segments (radosgw does) keep the body
 * back under Nagle until the headers are acknowledged, and our delayed
 * ACK would make that a 40 ms stall per response.  Setting TCP_QUICKACK
 * when the status line arrives sends the pending ACK now.  Best effort.
 */
static void quick_ack(int fd)
{
	int one = 1;

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one,
				 sizeof(one));
}

/* curl made a socket for the client: remember it for quick_ack() */
static int on_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	struct s3_client *c = arg;

	if (purpose == CURLSOCKTYPE_IPCXN) {
		c->sock = (int)fd;
		quick_ack(c->sock);
	}
	return CURL_SOCKOPT_OK;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct s3_resp *rs = arg;
	char *p;

	/* size the buffer once from Content-Length instead of doubling */
	if (!rs->body.cap && rs->content_length &&
	    rs->content_length < rs->body.max) {
		p = malloc((size_t)rs->content_length + 1);
		if (p) {
			rs->body.p = p;
			rs->body.cap = (size_t)rs->content_length + 1;
		}
	}
	if (sbuf_add(&rs->body, data, size * n))
		return 0;
	return size * n;
}

static size_t on_upload(char *buf, size_t size, size_t n, void *arg)
{
	struct s3_resp *rs = arg;
	size_t left = rs->rq->body_len - rs->upload_off;

	if (left > size * n)
		left = size * n;
	memcpy(buf, (const char *)rs->rq->body + rs->upload_off, left);
	rs->upload_off += left;
	return left;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct s3_resp *rs = arg;

	if (origin != SEEK_SET || off < 0 ||
	    (uint64_t)off > rs->rq->body_len)
		return CURL_SEEKFUNC_FAIL;
	rs->upload_off = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static void copy_hdr(char *out, size_t size, const char *v, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static void store_header(struct s3_resp *rs, const char *name, char *v,
			 size_t n)
{
	char tmp[64];

	if (!strcasecmp(name, "date") || !strcasecmp(name, "last-modified")) {
		copy_hdr(tmp, sizeof(tmp), v, n);
		if (name[0] == 'd' || name[0] == 'D')
			rs->date = curl_getdate(tmp, NULL);
		else
			rs->last_modified = curl_getdate(tmp, NULL);
	} else if (!strcasecmp(name, "x-amz-version-id")) {
		copy_hdr(rs->version_id, sizeof(rs->version_id), v, n);
	} else if (!strcasecmp(name, "etag")) {
		if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
			v++;
			n -= 2;
		}
		copy_hdr(rs->etag, sizeof(rs->etag), v, n);
	} else if (!strcasecmp(name, "x-amz-object-lock-mode")) {
		copy_hdr(rs->lock_mode, sizeof(rs->lock_mode), v, n);
	} else if (!strcasecmp(name, "x-amz-object-lock-retain-until-date")) {
		copy_hdr(rs->retain_until, sizeof(rs->retain_until), v, n);
	} else if (!strcasecmp(name, "x-amz-object-lock-legal-hold")) {
		copy_hdr(rs->legal_hold, sizeof(rs->legal_hold), v, n);
	} else if (!strcasecmp(name, "x-amz-delete-marker")) {
		rs->delete_marker = n == 4 && !strncasecmp(v, "true", 4);
	} else if (!strcasecmp(name, "content-length")) {
		copy_hdr(tmp, sizeof(tmp), v, n);
		rs->content_length = strtoull(tmp, NULL, 10);
	} else if (!strcasecmp(name, "retry-after")) {
		copy_hdr(tmp, sizeof(tmp), v, n);
		rs->retry_after = strtoul(tmp, NULL, 10);
	}
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct s3_resp *rs = arg;
	size_t len = size * n, nl, vl;
	char name[64], *colon, *v;

	if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
		quick_ack(rs->sock ? *rs->sock : -1);
		rs->version_id[0] = rs->etag[0] = rs->lock_mode[0] = '\0';
		rs->retain_until[0] = rs->legal_hold[0] = '\0';
		rs->delete_marker = 0;
		return len;
	}
	colon = memchr(data, ':', len);
	if (!colon || (size_t)(colon - data) >= sizeof(name))
		return len;
	nl = colon - data;
	memcpy(name, data, nl);
	name[nl] = '\0';
	v = colon + 1;
	vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl && strchr(" \t\r\n", v[vl - 1]))
		vl--;
	store_header(rs, name, v, vl);
	return len;
}

/* path "/prefix/bucket/key" as given (raw) */
static char *req_path(const struct s3_client *c, const struct s3_req *rq)
{
	struct sbuf sb = SBUF_INIT(S3_TEXT_MAX);

	sbuf_adds(&sb, c->prefix);
	sbuf_add(&sb, "/", 1);
	if (rq->bucket)
		sbuf_adds(&sb, rq->bucket);
	if (rq->key) {
		sbuf_add(&sb, "/", 1);
		sbuf_adds(&sb, rq->key);
	}
	return sbuf_detach(&sb);
}

/* the signed header list for curl, Authorization included */
static int build_headers(struct s3_client *c, const struct s3_req *rq,
			 const char *path, struct curl_slist **listp)
{
	struct s3_kv h[S3_MAX_HDRS + 6];
	unsigned char md[SHA256_LEN];
	char date[S3_AMZ_DATE_LEN + 1], hash[2 * SHA256_LEN + 1];
	struct s3_sigv4 sig;
	struct curl_slist *list = NULL, *t;
	struct sbuf line = SBUF_INIT(S3_TEXT_MAX);
	char *auth = NULL;
	size_t n = 0, i;
	int r;

	*listp = NULL;
	s3_amz_date(time(NULL), date);
	if (rq->body_sha256) {
		hex_encode(rq->body_sha256, SHA256_LEN, hash);
	} else if (rq->body_len) {
		r = digest(EVP_sha256(), rq->body, rq->body_len, md);
		if (r)
			return r;
		hex_encode(md, SHA256_LEN, hash);
	} else {
		memcpy(hash, empty_sha256, sizeof(hash));
	}
	h[n++] = (struct s3_kv){ "Host", c->host };
	h[n++] = (struct s3_kv){ "x-amz-date", date };
	h[n++] = (struct s3_kv){ "x-amz-content-sha256", hash };
	if (c->session_token)
		h[n++] = (struct s3_kv){ "x-amz-security-token",
					 c->session_token };
	for (i = 0; i < rq->nhdr; i++)
		h[n++] = rq->hdr[i];

	memset(&sig, 0, sizeof(sig));
	sig.method = rq->method;
	sig.path = path;
	sig.query = rq->query;
	sig.nquery = rq->nquery;
	sig.headers = h;
	sig.nheaders = n;
	sig.payload_hash = hash;
	sig.amz_date = date;
	sig.region = c->region;
	sig.service = "s3";
	sig.access_key = c->access_key;
	sig.secret_key = c->secret_key;
	r = s3_sigv4_sign(&sig, &auth, NULL, NULL);
	if (r)
		return r;

	r = -ENOMEM;
	h[n++] = (struct s3_kv){ "Authorization", auth };
	h[n++] = (struct s3_kv){ "Expect", "" };
	for (i = 0; i < n; i++) {
		line.len = 0;
		sbuf_addf(&line, "%s:%s%s", h[i].name, *h[i].value ? " " : "",
			  h[i].value);
		if (line.err)
			goto out;
		t = curl_slist_append(list, line.p);
		if (!t)
			goto out;
		list = t;
	}
	*listp = list;
	list = NULL;
	r = 0;
out:
	curl_slist_free_all(list);
	sbuf_release(&line);
	free(auth);
	return r;
}

static int build_url(const struct s3_client *c, const struct s3_req *rq,
		     const char *path, char **urlp)
{
	struct sbuf sb = SBUF_INIT(S3_TEXT_MAX);
	char *epath, *query;

	epath = s3_uri_encode(path, 1);
	query = s3_canonical_query(rq->query, rq->nquery);
	if (epath && query)
		sbuf_addf(&sb, "%s%s%s%s", c->base_url, epath,
			  *query ? "?" : "", query);
	free(epath);
	free(query);
	*urlp = sbuf_detach(&sb);
	return *urlp ? 0 : -ENOMEM;
}

static void set_options(struct s3_client *c, const struct s3_req *rq,
			struct s3_resp *rs, const char *url,
			struct curl_slist *hdrs)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)c->connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)S3_LOW_SPEED);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)c->stall_timeout_s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, rs->curl_err);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
	curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, c);

	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(h, CURLOPT_READDATA, rs);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, rs);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	}
}

/* one try; 0 when an HTTP answer (any status) or a curl error arrived */
static int attempt(struct s3_client *c, const struct s3_req *rq,
		   struct s3_resp *rs)
{
	struct curl_slist *hdrs = NULL;
	char *path, *url = NULL;
	int r;

	path = req_path(c, rq);
	if (!path)
		return -ENOMEM;
	r = build_url(c, rq, path, &url);
	if (!r)
		r = build_headers(c, rq, path, &hdrs);
	if (r)
		goto out;
	set_options(c, rq, rs, url, hdrs);
	rs->cc = curl_easy_perform(c->curl);
	if (rs->cc == CURLE_OK)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
				  &rs->status);
	r = 0;
out:
	curl_easy_reset(c->curl);	/* drop pointers into hdrs and rs */
	curl_slist_free_all(hdrs);
	free(url);
	free(path);
	return r;
}

static int curl_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int transient(const struct s3_resp *rs)
{
	if (rs->cc != CURLE_OK)
		return curl_transient(rs->cc);
	return rs->status >= 500 || rs->status == 429;
}

/* back-off before retry number n (1, 2, ...), in ms, with jitter */
static unsigned int backoff(const struct s3_client *c, unsigned int n,
			    const struct s3_resp *rs)
{
	unsigned long cap = c->backoff_ms, ra;
	unsigned int rnd = 0;

	while (--n && cap < c->backoff_max_ms)
		cap *= 2;
	if (cap > c->backoff_max_ms)
		cap = c->backoff_max_ms;
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		rnd = (unsigned int)time(NULL);
	cap = cap / 2 + rnd % (cap / 2 + 1);
	ra = rs->retry_after * 1000UL;
	if (ra > cap)
		cap = ra < c->backoff_max_ms ? ra : c->backoff_max_ms;
	return (unsigned int)cap;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static const char *s_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

/* "op bucket/key (version v)" into the error buffer */
static size_t err_subject(struct s3_client *c, const struct s3_req *rq)
{
	int n;

	n = snprintf(c->err, sizeof(c->err), "s3: %s %s%s%s%s%s%s", rq->op,
		     s_or(rq->bucket, "(service)"), rq->key ? "/" : "",
		     s_or(rq->key, ""), rq->version_id ? " (version " : "",
		     s_or(rq->version_id, ""), rq->version_id ? ")" : "");
	if (n < 0)
		return 0;
	return (size_t)n < sizeof(c->err) ? (size_t)n : sizeof(c->err) - 1;
}

/* printable copy: control characters from the server become '?' */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int map_error(const struct s3_req *rq, long status, const char *code)
{
	if (status == 404)
		return -PHV_ENOTFOUND;
	if (!strcmp(code, "InvalidAccessKeyId") ||
	    !strcmp(code, "SignatureDoesNotMatch"))
		return -PHV_EBADKEY;
	if (!strcmp(code, "RequestTimeTooSkewed"))
		return -PHV_ECLOCK;
	if (status == 403 && rq->lock_op && !strcmp(code, "AccessDenied"))
		return -PHV_ELOCKED;
	if (!strcmp(code, "ObjectLocked") ||
	    !strcmp(code, "InvalidRetentionPeriod"))
		return -PHV_ELOCKED;
	if (status >= 500 || status == 429)
		return -PHV_ENET;
	return -PHV_ES3;
}

static int http_error(struct s3_client *c, const struct s3_req *rq,
		      struct s3_resp *rs, char **codep)
{
	struct xspan body = { rs->body.p, rs->body.p + rs->body.len };
	char *code = NULL, *msg = NULL;
	size_t off;
	int r;

	if (rs->body.p && !rs->body.err) {
		code = xml_get(&body, "Code");
		msg = xml_get(&body, "Message");
	}
	if (code)
		sanitize(code);
	if (msg)
		sanitize(msg);
	r = map_error(rq, rs->status, code ? code : "");
	off = err_subject(c, rq);
	snprintf(c->err + off, sizeof(c->err) - off, ": HTTP %ld %s%s%s",
		 rs->status, code ? code : "(no error code)",
		 msg && *msg ? ": " : "", msg ? msg : "");
	if (codep) {
		*codep = code;
		code = NULL;
	}
	free(code);
	free(msg);
	return r;
}

/* "retrying PUT bucket/key: timed out (attempt 2/5)", to log and hook */
static void retry_notice(const struct s3_client *c, const struct s3_req *rq,
			 const struct s3_resp *rs, unsigned int next)
{
	char line[512], why[64];

	if (rs->cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(why, sizeof(why), "no answer for %us",
			 c->stall_timeout_s);
	else if (rs->cc)
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(rs->cc));
	else
		snprintf(why, sizeof(why), "HTTP %ld", rs->status);
	snprintf(line, sizeof(line), "retrying %s %s/%s at %s: %s "
		 "(attempt %u/%u)", rq->method, s_or(rq->bucket, ""),
		 s_or(rq->key, ""), c->host, why, next, c->attempts);
	sanitize(line);
	log_warn("s3: %s", line);
	if (notify_fn)
		notify_fn(line);
}

/*
 * Perform rq with retries.  Returns 0 on a 2xx answer, else a negative
 * code with c->err filled in; *codep (if not NULL) gets the server's
 * error Code on an HTTP error.  rs holds the last answer either way.
 */
static int s3_perform(struct s3_client *c, const struct s3_req *rq,
		      struct s3_resp *rs, char **codep)
{
	unsigned int n, ms;
	time_t t0 = time(NULL);
	size_t off;
	int r;

	if (codep)
		*codep = NULL;
	c->err[0] = '\0';
	c->last_status = 0;
	rs->rq = rq;
	rs->sock = &c->sock;
	rs->body.max = rq->max_resp ? rq->max_resp : S3_XML_MAX;
	for (n = 1;; n++) {
		resp_reset(rs);
		r = attempt(c, rq, rs);
		if (r) {
			err_subject(c, rq);
			return r;
		}
		if (rs->date)
			c->last_date = rs->date;
		if (!transient(rs) || n >= c->attempts)
			break;
		ms = backoff(c, n, rs);
		/* the budget bounds a request's total time, hung or not */
		if (time(NULL) - t0 + (time_t)(ms / 1000) >=
		    (time_t)c->budget_s)
			break;
		retry_notice(c, rq, rs, n + 1);
		c->retries++;
		sleep_ms(ms);
	}
	c->last_status = rs->status;

	if (rs->cc == CURLE_WRITE_ERROR && rs->body.err) {
		off = err_subject(c, rq);
		snprintf(c->err + off, sizeof(c->err) - off,
			 ": response larger than %zu bytes", rs->body.max);
		return rs->body.err;
	}
	if (rs->cc != CURLE_OK) {
		off = err_subject(c, rq);
		snprintf(c->err + off, sizeof(c->err) - off, ": %s%s%s%s",
			 curl_easy_strerror(rs->cc),
			 rs->curl_err[0] ? " (" : "", rs->curl_err,
			 rs->curl_err[0] ? ")" : "");
		return curl_transient(rs->cc) ? -PHV_ENET : -PHV_ES3;
	}
	if (rs->status >= 200 && rs->status < 300)
		return 0;
	return http_error(c, rq, rs, codep);
}

static void resp_release(struct s3_resp *rs)
{
	sbuf_release(&rs->body);
}

/* ---- operations ------------------------------------------------------- */

static int check_names(struct s3_client *c, const char *bucket,
		       const char *key, int need_key)
{
	c->err[0] = '\0';
	if (!bucket || !*bucket || strchr(bucket, '/') ||
	    (need_key && (!key || !*key || strlen(key) > 1024))) {
		snprintf(c->err, sizeof(c->err), "s3: bad bucket or key name");
		return -EINVAL;
	}
	return 0;
}

/* Check the bucket name and aim rq at the bucket itself. */
static int req_bucket(struct s3_client *c, struct s3_req *rq,
		      const char *bucket)
{
	int r = check_names(c, bucket, NULL, 0);

	if (!r)
		rq->bucket = bucket;
	return r;
}

/* Check the names and aim rq at key in bucket, at version_id if set. */
static int req_object(struct s3_client *c, struct s3_req *rq,
		      const char *bucket, const char *key,
		      const char *version_id)
{
	int r = check_names(c, bucket, key, 1);

	if (r)
		return r;
	rq->bucket = bucket;
	rq->key = key;
	rq->version_id = version_id;
	req_query(rq, "versionId", version_id);
	return 0;
}

const char *s3_lock_mode_name(enum s3_lock_mode mode)
{
	switch (mode) {
	case S3_LOCK_GOVERNANCE:
		return "GOVERNANCE";
	case S3_LOCK_COMPLIANCE:
		return "COMPLIANCE";
	default:
		return "";
	}
}

int s3_lock_mode_parse(const char *s, enum s3_lock_mode *modep)
{
	if (!strcasecmp(s, "GOVERNANCE"))
		*modep = S3_LOCK_GOVERNANCE;
	else if (!strcasecmp(s, "COMPLIANCE"))
		*modep = S3_LOCK_COMPLIANCE;
	else
		return -EINVAL;
	return 0;
}

/* Content-MD5 (base64) of buf into out[25] */
static int content_md5(const void *buf, size_t len, char *out)
{
	unsigned char md[MD5_LEN];
	int r = digest(EVP_md5(), buf, len, md);

	if (!r)
		base64_encode(md, MD5_LEN, out);
	return r;
}

int s3_create_bucket_locked(struct s3_client *c, const char *bucket)
{
	struct s3_req rq = { .op = "create bucket", .method = "PUT" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	struct sbuf xml = SBUF_INIT(S3_TEXT_MAX);
	int r;

	r = req_bucket(c, &rq, bucket);
	if (r)
		return r;
	req_hdr(&rq, "x-amz-bucket-object-lock-enabled", "true");
	if (strcmp(c->region, "us-east-1")) {
		sbuf_addf(&xml, "<CreateBucketConfiguration xmlns=\"http://"
			  "s3.amazonaws.com/doc/2006-03-01/\"><Location"
			  "Constraint>%s</LocationConstraint>"
			  "</CreateBucketConfiguration>", c->region);
		if (xml.err) {
			r = xml.err;
			goto out;
		}
		rq.body = xml.p;
		rq.body_len = xml.len;
	}
	r = s3_perform(c, &rq, &rs, NULL);
out:
	sbuf_release(&xml);
	resp_release(&rs);
	return r;
}

int s3_get_lock_config(struct s3_client *c, const char *bucket,
		       struct s3_lock_config *cfg)
{
	struct s3_req rq = { .op = "get object lock configuration",
			     .method = "GET" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	struct xspan body, rule;
	char v[32];
	int r;

	memset(cfg, 0, sizeof(*cfg));
	r = req_bucket(c, &rq, bucket);
	if (r)
		return r;
	req_flag(&rq, "object-lock");
	r = s3_perform(c, &rq, &rs, NULL);
	if (r)
		goto out;
	body = (struct xspan){ rs.body.p, rs.body.p + rs.body.len };
	xml_copy(&body, "ObjectLockEnabled", v, sizeof(v));
	cfg->enabled = !strcmp(v, "Enabled");
	if (!xml_find(&body, "DefaultRetention", &rule)) {
		xml_copy(&rule, "Mode", v, sizeof(v));
		s3_lock_mode_parse(v, &cfg->default_mode);
		xml_copy(&rule, "Days", v, sizeof(v));
		cfg->default_days = (unsigned int)strtoul(v, NULL, 10);
		xml_copy(&rule, "Years", v, sizeof(v));
		cfg->default_years = (unsigned int)strtoul(v, NULL, 10);
	}
out:
	resp_release(&rs);
	return r;
}

int s3_put(struct s3_client *c, const char *bucket, const char *key,
	   const void *buf, size_t len, enum s3_lock_mode mode,
	   time_t retain_until, char **version_idp)
{
	struct s3_req rq = { .op = "PUT", .method = "PUT" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	unsigned char sha[SHA256_LEN];
	char md5[32], sha64[48], until[32];
	int r;

	if (version_idp)
		*version_idp = NULL;
	r = req_object(c, &rq, bucket, key, NULL);
	if (r)
		return r;
	if ((uint64_t)len > S3_PUT_MAX || (mode != S3_LOCK_NONE &&
	    retain_until <= 0)) {
		snprintf(c->err, sizeof(c->err), "s3: PUT %s/%s: %s", bucket,
			 key, len > S3_PUT_MAX ? "body too large" :
			 "lock mode without retain-until date");
		return len > S3_PUT_MAX ? -EFBIG : -EINVAL;
	}
	rq.body = buf;
	rq.body_len = len;
	r = content_md5(buf, len, md5);
	if (!r)
		r = digest(EVP_sha256(), buf, len, sha);
	if (r)
		return r;
	base64_encode(sha, SHA256_LEN, sha64);
	rq.body_sha256 = sha;
	req_hdr(&rq, "Content-MD5", md5);
	req_hdr(&rq, "x-amz-checksum-sha256", sha64);
	if (mode != S3_LOCK_NONE) {
		s3_iso8601(retain_until, until);
		req_hdr(&rq, "x-amz-object-lock-mode", s3_lock_mode_name(mode));
		req_hdr(&rq, "x-amz-object-lock-retain-until-date", until);
	}
	r = s3_perform(c, &rq, &rs, NULL);
	if (r)
		goto out;
	if (version_idp && rs.version_id[0]) {
		*version_idp = strdup(rs.version_id);
		if (!*version_idp)
			r = -ENOMEM;
	}
out:
	resp_release(&rs);
	return r;
}

int s3_get(struct s3_client *c, const char *bucket, const char *key,
	   const char *version_id, uint64_t offset, uint64_t range_len,
	   size_t max, void **bufp, size_t *lenp)
{
	struct s3_req rq = { .op = "GET", .method = "GET" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	char range[64];
	int r;

	*bufp = NULL;
	*lenp = 0;
	r = req_object(c, &rq, bucket, key, version_id);
	if (r)
		return r;
	if (range_len && offset + range_len < offset)
		return -EINVAL;
	rq.max_resp = max > S3_ERR_BODY_MAX ? max : S3_ERR_BODY_MAX;
	if (range_len) {
		snprintf(range, sizeof(range), "bytes=%llu-%llu",
			 (unsigned long long)offset,
			 (unsigned long long)(offset + range_len - 1));
		req_hdr(&rq, "Range", range);
	}
	r = s3_perform(c, &rq, &rs, NULL);
	if (r)
		goto out;
	/* a server that ignored Range sent everything: cut it here */
	if (range_len && rs.status == 200) {
		if (offset >= rs.body.len) {
			rs.body.len = 0;
		} else {
			memmove(rs.body.p, rs.body.p + offset,
				rs.body.len - offset);
			rs.body.len -= offset;
			if (rs.body.len > range_len)
				rs.body.len = range_len;
		}
	}
	if (rs.body.len > max) {
		snprintf(c->err, sizeof(c->err), "s3: GET %s/%s: object larger "
			 "than %zu bytes", bucket, key, max);
		r = -EFBIG;
		goto out;
	}
	if (!rs.body.p && sbuf_add(&rs.body, "", 0)) {
		r = rs.body.err;
		goto out;
	}
	rs.body.p[rs.body.len] = '\0';
	*lenp = rs.body.len;
	*bufp = sbuf_detach(&rs.body);
out:
	resp_release(&rs);
	return r;
}

static void lock_from_headers(const struct s3_resp *rs,
			      enum s3_lock_mode *modep, time_t *untilp)
{
	*modep = S3_LOCK_NONE;
	*untilp = 0;
	if (rs->lock_mode[0])
		s3_lock_mode_parse(rs->lock_mode, modep);
	if (rs->retain_until[0] &&
	    s3_parse_iso8601(rs->retain_until, untilp))
		*untilp = curl_getdate(rs->retain_until, NULL);
	if (*untilp < 0)
		*untilp = 0;
}

int s3_head(struct s3_client *c, const char *bucket, const char *key,
	    const char *version_id, struct s3_object_info *info)
{
	struct s3_req rq = { .op = "HEAD", .method = "HEAD" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	int r;

	memset(info, 0, sizeof(*info));
	r = req_object(c, &rq, bucket, key, version_id);
	if (r)
		return r;
	r = s3_perform(c, &rq, &rs, NULL);
	if (r)
		goto out;
	info->size = rs.content_length;
	info->last_modified = rs.last_modified;
	lock_from_headers(&rs, &info->lock_mode, &info->retain_until);
	info->legal_hold = !strcasecmp(rs.legal_hold, "ON");
	snprintf(info->version_id, sizeof(info->version_id), "%s",
		 rs.version_id);
	snprintf(info->etag, sizeof(info->etag), "%s", rs.etag);
out:
	resp_release(&rs);
	return r;
}

int s3_get_retention(struct s3_client *c, const char *bucket,
		     const char *key, const char *version_id,
		     enum s3_lock_mode *modep, time_t *untilp)
{
	struct s3_req rq = { .op = "get retention", .method = "GET" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	struct xspan body;
	char *code = NULL, v[64];
	int r;

	*modep = S3_LOCK_NONE;
	*untilp = 0;
	req_flag(&rq, "retention");
	r = req_object(c, &rq, bucket, key, version_id);
	if (r)
		return r;
	r = s3_perform(c, &rq, &rs, &code);
	/* AWS and radosgw name "no retention on this version" differently */
	if (r == -PHV_ENOTFOUND && code &&
	    (!strcmp(code, "NoSuchObjectLockConfiguration") ||
	     !strcmp(code, "ObjectLockConfigurationNotFoundError"))) {
		c->err[0] = '\0';
		r = 0;
		goto out;
	}
	if (r)
		goto out;
	body = (struct xspan){ rs.body.p, rs.body.p + rs.body.len };
	xml_copy(&body, "Mode", v, sizeof(v));
	if (*v)
		s3_lock_mode_parse(v, modep);
	xml_copy(&body, "RetainUntilDate", v, sizeof(v));
	if (*v && s3_parse_iso8601(v, untilp)) {
		snprintf(c->err, sizeof(c->err), "s3: get retention %s/%s: "
			 "bad RetainUntilDate", bucket, key);
		r = -PHV_EFORMAT;
	}
out:
	free(code);
	resp_release(&rs);
	return r;
}

int s3_put_retention(struct s3_client *c, const char *bucket,
		     const char *key, const char *version_id,
		     enum s3_lock_mode mode, time_t retain_until,
		     unsigned int flags)
{
	struct s3_req rq = { .op = "put retention", .method = "PUT" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	struct sbuf xml = SBUF_INIT(S3_TEXT_MAX);
	char md5[32], until[32];
	int r;

	rq.lock_op = 1;
	req_flag(&rq, "retention");
	r = req_object(c, &rq, bucket, key, version_id);
	if (r)
		return r;
	if (mode == S3_LOCK_NONE || retain_until <= 0)
		return -EINVAL;
	s3_iso8601(retain_until, until);
	sbuf_addf(&xml, "<Retention xmlns=\"http://s3.amazonaws.com/doc/"
		  "2006-03-01/\"><Mode>%s</Mode><RetainUntilDate>%s"
		  "</RetainUntilDate></Retention>", s3_lock_mode_name(mode),
		  until);
	r = xml.err;
	if (!r)
		r = content_md5(xml.p, xml.len, md5);
	if (r)
		goto out;
	rq.body = xml.p;
	rq.body_len = xml.len;
	req_hdr(&rq, "Content-MD5", md5);
	if (flags & S3_BYPASS_GOVERNANCE)
		req_hdr(&rq, "x-amz-bypass-governance-retention", "true");
	r = s3_perform(c, &rq, &rs, NULL);
out:
	sbuf_release(&xml);
	resp_release(&rs);
	return r;
}

int s3_delete(struct s3_client *c, const char *bucket, const char *key,
	      const char *version_id, unsigned int flags, char **marker_idp)
{
	struct s3_req rq = { .op = "DELETE", .method = "DELETE" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	int r;

	if (marker_idp)
		*marker_idp = NULL;
	rq.lock_op = 1;
	r = req_object(c, &rq, bucket, key, version_id);
	if (r)
		return r;
	if (flags & S3_BYPASS_GOVERNANCE)
		req_hdr(&rq, "x-amz-bypass-governance-retention", "true");
	r = s3_perform(c, &rq, &rs, NULL);
	if (!r && marker_idp && !version_id && rs.version_id[0]) {
		*marker_idp = strdup(rs.version_id);
		if (!*marker_idp)
			r = -ENOMEM;
	}
	resp_release(&rs);
	return r;
}

void s3_listing_release(struct s3_listing *page)
{
	size_t i;

	for (i = 0; i < page->n; i++) {
		free(page->entries[i].key);
		free(page->entries[i].version_id);
		free(page->entries[i].etag);
	}
	free(page->entries);
	free(page->next_token);
	free(page->next_key_marker);
	free(page->next_version_marker);
	memset(page, 0, sizeof(*page));
}

static int add_entry(struct s3_listing *page, const struct xspan *s,
		     int versions, int marker)
{
	struct s3_entry *e, *ne;
	size_t cap = page->n ? page->n * 2 : 64;
	char v[64];

	if (page->n >= S3_LIST_MAX)
		return -EFBIG;
	/* capacity is 64, then doubles whenever n reaches a power of two */
	if (!(page->n & (page->n - 1)) && page->n >= 64) {
		ne = realloc(page->entries, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		page->entries = ne;
	} else if (!page->entries) {
		page->entries = malloc(cap * sizeof(*ne));
		if (!page->entries)
			return -ENOMEM;
	}
	e = &page->entries[page->n];
	memset(e, 0, sizeof(*e));
	page->n++;
	e->key = xml_get(s, "Key");
	if (!e->key)
		return -PHV_EFORMAT;
	if (versions) {
		e->version_id = xml_get(s, "VersionId");
		if (!e->version_id)
			return -PHV_EFORMAT;
		xml_copy(s, "IsLatest", v, sizeof(v));
		e->is_latest = !strcmp(v, "true");
	}
	e->is_delete_marker = marker;
	if (!marker) {
		e->etag = xml_get(s, "ETag");
		if (e->etag && e->etag[0] == '"') {
			memmove(e->etag, e->etag + 1, strlen(e->etag));
			e->etag[strcspn(e->etag, "\"")] = '\0';
		}
		xml_copy(s, "Size", v, sizeof(v));
		e->size = strtoull(v, NULL, 10);
	}
	xml_copy(s, "LastModified", v, sizeof(v));
	if (*v && s3_parse_iso8601(v, &e->last_modified))
		e->last_modified = 0;
	return 0;
}

/* the next <Contents>, <Version> or <DeleteMarker> element of *body */
static int next_item(struct xspan *body, int versions, struct xspan *item,
		     int *markerp)
{
	static const char *const obj_tags[] = { "Contents" };
	static const char *const ver_tags[] = { "Version", "DeleteMarker" };

	*markerp = 0;
	if (!versions)
		return xml_find_any(body, obj_tags, 1, markerp, item);
	return xml_find_any(body, ver_tags, 2, markerp, item);
}

static int parse_listing(struct s3_listing *page, const struct s3_resp *rs,
			 int versions)
{
	struct xspan body = { rs->body.p, rs->body.p + rs->body.len };
	struct xspan walk = body, item;
	char v[16];
	int marker, r;

	xml_copy(&body, "IsTruncated", v, sizeof(v));
	page->truncated = !strcmp(v, "true");
	if (versions) {
		page->next_key_marker = xml_get(&body, "NextKeyMarker");
		page->next_version_marker = xml_get(&body,
						    "NextVersionIdMarker");
	} else {
		page->next_token = xml_get(&body, "NextContinuationToken");
	}
	if (page->truncated && !page->next_token && !page->next_key_marker)
		return -PHV_EFORMAT;
	while (!next_item(&walk, versions, &item, &marker)) {
		r = add_entry(page, &item, versions, marker);
		if (r)
			return r;
	}
	return 0;
}

static int list_common(struct s3_client *c, const char *bucket,
		       const char *prefix, unsigned int max_keys,
		       struct s3_listing *page, int versions)
{
	struct s3_req rq = { .method = "GET" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	struct s3_listing old = *page;
	char maxk[16];
	int r;

	memset(page, 0, sizeof(*page));
	r = req_bucket(c, &rq, bucket);
	if (r)
		goto out;
	rq.op = versions ? "list versions" : "list";
	if (versions) {
		req_flag(&rq, "versions");
		if (old.truncated) {
			req_query(&rq, "key-marker", old.next_key_marker);
			req_query(&rq, "version-id-marker",
				  old.next_version_marker);
		}
	} else {
		req_query(&rq, "list-type", "2");
		if (old.truncated)
			req_query(&rq, "continuation-token", old.next_token);
	}
	if (prefix && *prefix)
		req_query(&rq, "prefix", prefix);
	if (max_keys) {
		snprintf(maxk, sizeof(maxk), "%u", max_keys);
		req_query(&rq, "max-keys", maxk);
	}
	r = s3_perform(c, &rq, &rs, NULL);
	if (!r)
		r = parse_listing(page, &rs, versions);
	if (r == -PHV_EFORMAT || r == -EFBIG)
		snprintf(c->err, sizeof(c->err), "s3: %s %s: malformed or "
			 "oversized listing", rq.op, bucket);
	if (r)
		s3_listing_release(page);
out:
	s3_listing_release(&old);
	resp_release(&rs);
	return r;
}

int s3_list(struct s3_client *c, const char *bucket, const char *prefix,
	    unsigned int max_keys, struct s3_listing *page)
{
	return list_common(c, bucket, prefix, max_keys, page, 0);
}

int s3_list_versions(struct s3_client *c, const char *bucket,
		     const char *prefix, unsigned int max_keys,
		     struct s3_listing *page)
{
	return list_common(c, bucket, prefix, max_keys, page, 1);
}

int s3_server_time(struct s3_client *c, const char *bucket, time_t *nowp)
{
	struct s3_req rq = { .op = "read server time" };
	struct s3_resp rs = { .body = SBUF_INIT(0) };
	int r;

	*nowp = 0;
	rq.method = bucket ? "HEAD" : "GET";
	rq.bucket = bucket;
	r = s3_perform(c, &rq, &rs, NULL);
	if (rs.cc == CURLE_OK && rs.date > 0) {
		*nowp = rs.date;
		c->err[0] = '\0';
		r = 0;
	} else if (!r) {
		snprintf(c->err, sizeof(c->err), "s3: read server time: no "
			 "Date header in the answer");
		r = -PHV_ES3;
	}
	resp_release(&rs);
	return r;
}
