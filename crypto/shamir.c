// SPDX-License-Identifier: MIT
/*
 * shamir.c - secret sharing over GF(2^8) and the recovery text codec
 * (see shamir.h).
 *
 * Multiplication is the schoolbook shift-and-add with the reduction and
 * the conditional add done by masks, and inversion is a^254 by a fixed
 * chain of squarings, so neither depends on its operands' values for
 * timing.  Coefficients live in secmem and are wiped.  Hex goes through
 * common/hex, which does not branch on the data either (not ctype).
 *
 * Text body: version 1, then for a share M, x, fingerprint, y; for a key
 * the key bytes; then SHA-256(domain || body) truncated to 4 bytes.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "common/hex.h"
#include "secmem.h"
#include "shamir.h"

#define SHAMIR_TEXT_VERSION	1
#define SHAMIR_CHECK_LEN	4
#define SHAMIR_BODY_MAX		(3 + SHAMIR_FPR_LEN + SHAMIR_SECRET_MAX + \
				 SHAMIR_CHECK_LEN)

static const char shamir_share_prefix[] = "phvs-";
static const char shamir_key_prefix[] = "phvk-";
static const char shamir_share_domain[] = "phivault recovery share v1";
static const char shamir_key_domain[] = "phivault recovery key v1";
static const char shamir_fpr_domain[] = "phivault recovery fingerprint v1";

static int (*shamir_rnd)(void *p, size_t len) = secmem_random;

void shamir_set_random(int (*rnd)(void *p, size_t len))
{
	shamir_rnd = rnd ? rnd : secmem_random;
}

uint8_t shamir_gf_mul(uint8_t a, uint8_t b)
{
	uint8_t p = 0;
	int i;

	for (i = 0; i < 8; i++) {
		p ^= (uint8_t)(a & -(b & 1));
		b >>= 1;
		a = (uint8_t)((a << 1) ^ (0x1b & -(a >> 7)));
	}
	return p;
}

/* a^254 = a^-1 for a != 0 (and 0 for 0): square-and-multiply, fixed. */
static uint8_t gf_inv(uint8_t a)
{
	uint8_t r, sq = a;
	int i;

	/* 254 = 0b11111110: r = a^2 * a^4 * ... * a^128 */
	sq = shamir_gf_mul(sq, sq);
	r = sq;
	for (i = 0; i < 6; i++) {
		sq = shamir_gf_mul(sq, sq);
		r = shamir_gf_mul(r, sq);
	}
	return r;
}

/* Horner evaluation of coef[0..m) at x. */
static uint8_t gf_eval(const uint8_t *coef, unsigned int m, uint8_t x)
{
	uint8_t y = 0;
	unsigned int i;

	for (i = m; i-- > 0;)
		y = (uint8_t)(shamir_gf_mul(y, x) ^ coef[i]);
	return y;
}

int shamir_split(const uint8_t *secret, size_t len, unsigned int n,
		 unsigned int m, uint8_t *ys)
{
	uint8_t *coef;
	unsigned int i;
	size_t b;
	int r;

	if (!len || len > SHAMIR_SECRET_MAX || !m || m > n ||
	    n > SHAMIR_SHARES_MAX)
		return -EINVAL;
	coef = secmem_alloc(SHAMIR_SHARES_MAX);
	if (!coef)
		return -ENOMEM;

	r = 0;
	for (b = 0; b < len && !r; b++) {
		coef[0] = secret[b];
		if (m > 1)
			r = shamir_rnd(coef + 1, m - 1);
		for (i = 0; i < n && !r; i++)
			ys[i * len + b] = gf_eval(coef, m, (uint8_t)(i + 1));
	}
	if (r)
		secmem_wipe(ys, (size_t)n * len);
	secmem_free(coef, SHAMIR_SHARES_MAX);
	return r;
}

int shamir_combine(const uint8_t *xs, const uint8_t *const *ys,
		   unsigned int k, size_t len, uint8_t *secret)
{
	uint8_t lj[SHAMIR_SHARES_MAX];
	uint8_t num, den;
	unsigned int j, i;
	size_t b;

	if (!k || k > SHAMIR_SHARES_MAX || !len)
		return -EINVAL;
	for (j = 0; j < k; j++) {
		if (!xs[j])
			return -EINVAL;
		for (i = 0; i < j; i++)
			if (xs[i] == xs[j])
				return -EINVAL;
	}

	/* Lagrange basis at 0: l_j = prod_{i != j} x_i / (x_i - x_j) */
	for (j = 0; j < k; j++) {
		num = 1;
		den = 1;
		for (i = 0; i < k; i++) {
			if (i == j)
				continue;
			num = shamir_gf_mul(num, xs[i]);
			den = shamir_gf_mul(den, xs[i] ^ xs[j]);
		}
		lj[j] = shamir_gf_mul(num, gf_inv(den));
	}
	for (b = 0; b < len; b++) {
		uint8_t s = 0;

		for (j = 0; j < k; j++)
			s ^= shamir_gf_mul(lj[j], ys[j][b]);
		secret[b] = s;
	}
	return 0;
}

/* First n bytes of SHA-256(domain || p[0..len)). */
static int shamir_digest(const char *domain, const uint8_t *p, size_t len,
			 uint8_t *out, size_t n)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int mdlen = 0;
	int r = -PHV_ECRYPTO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, domain, strlen(domain)) != 1 ||
	    EVP_DigestUpdate(ctx, p, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < n)
		goto out;
	memcpy(out, md, n);
	r = 0;
out:
	secmem_wipe(md, sizeof(md));
	EVP_MD_CTX_free(ctx);
	return r;
}

int shamir_share_split(const uint8_t *secret, size_t len, unsigned int n,
		       unsigned int m, struct shamir_share *sh)
{
	uint8_t fpr[SHAMIR_FPR_LEN];
	uint8_t *ys;
	unsigned int i;
	int r;

	if (!len || len > SHAMIR_SECRET_MAX || n > SHAMIR_SHARES_MAX)
		return -EINVAL;
	ys = secmem_alloc((size_t)SHAMIR_SHARES_MAX * SHAMIR_SECRET_MAX);
	if (!ys)
		return -ENOMEM;
	r = shamir_digest(shamir_fpr_domain, secret, len, fpr, sizeof(fpr));
	if (!r)
		r = shamir_split(secret, len, n, m, ys);
	for (i = 0; i < n && !r; i++) {
		memset(&sh[i], 0, sizeof(sh[i]));
		sh[i].threshold = (uint8_t)m;
		sh[i].index = (uint8_t)(i + 1);
		memcpy(sh[i].fpr, fpr, sizeof(fpr));
		sh[i].len = len;
		memcpy(sh[i].y, ys + i * len, len);
	}
	secmem_free(ys, (size_t)SHAMIR_SHARES_MAX * SHAMIR_SECRET_MAX);
	return r;
}

int shamir_share_combine(const struct shamir_share *sh, unsigned int k,
			 uint8_t *secret, size_t *lenp)
{
	const uint8_t *ys[SHAMIR_SHARES_MAX];
	uint8_t xs[SHAMIR_SHARES_MAX];
	uint8_t fpr[SHAMIR_FPR_LEN];
	unsigned int j;
	int r;

	*lenp = 0;
	if (!k || k > SHAMIR_SHARES_MAX)
		return -EINVAL;
	for (j = 0; j < k; j++) {
		if (sh[j].threshold != sh[0].threshold ||
		    sh[j].len != sh[0].len ||
		    memcmp(sh[j].fpr, sh[0].fpr, SHAMIR_FPR_LEN))
			return -PHV_EFORMAT;
		xs[j] = sh[j].index;
		ys[j] = sh[j].y;
	}
	if (k < sh[0].threshold)
		return -ENOENT;

	r = shamir_combine(xs, ys, k, sh[0].len, secret);
	if (!r)
		r = shamir_digest(shamir_fpr_domain, secret, sh[0].len, fpr,
				  sizeof(fpr));
	if (!r && secmem_cmp(fpr, sh[0].fpr, SHAMIR_FPR_LEN))
		r = -PHV_EBADKEY;
	if (r) {
		secmem_wipe(secret, SHAMIR_SECRET_MAX);
		return r;
	}
	*lenp = sh[0].len;
	return 0;
}

/* Lowercase hex of body and its checksum, in dash-separated groups. */
static int shamir_text_encode(const char *prefix, const char *domain,
			      uint8_t *body, size_t len, char *out,
			      size_t size)
{
	size_t i, o, plen = strlen(prefix);
	int r;

	r = shamir_digest(domain, body, len, body + len, SHAMIR_CHECK_LEN);
	if (r)
		return r;
	len += SHAMIR_CHECK_LEN;
	if (size < plen + len * 2 + len / 4 + 1)
		return -ENOSPC;
	memcpy(out, prefix, plen);
	o = plen;
	for (i = 0; i < len; i += 4) {
		if (i)
			out[o++] = '-';
		o += hex_encode(body + i, len - i < 4 ? len - i : 4, out + o);
	}
	return (int)o;
}

/*
 * Strip prefix (any case), decode hex ignoring blanks and dashes, check
 * the checksum.  Returns the body length without checksum, or a code.
 */
static int shamir_text_decode(const char *prefix, const char *domain,
			      const char *text, uint8_t *body, size_t size)
{
	uint8_t check[SHAMIR_CHECK_LEN];
	size_t plen = strlen(prefix), n = 0;
	int hi = -1, v, r;

	while (*text == ' ' || *text == '\t' || *text == '\n')
		text++;
	if (strncasecmp(text, prefix, plen))
		return -PHV_EFORMAT;
	for (text += plen; *text; text++) {
		if (strchr("- \t\r\n", *text))
			continue;
		v = hex_digit((unsigned char)*text, HEX_ANY_CASE);
		if (v < 0 || n == size)
			return -PHV_EFORMAT;
		if (hi < 0) {
			hi = v;
			continue;
		}
		body[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0 || n < 1 + SHAMIR_CHECK_LEN)
		return -PHV_EFORMAT;
	n -= SHAMIR_CHECK_LEN;
	r = shamir_digest(domain, body, n, check, sizeof(check));
	if (r)
		return r;
	if (secmem_cmp(check, body + n, SHAMIR_CHECK_LEN))
		return -EBADMSG;
	if (body[0] != SHAMIR_TEXT_VERSION)
		return -PHV_EFORMAT;
	return (int)n;
}

int shamir_share_encode(const struct shamir_share *sh, char *out,
			size_t size)
{
	uint8_t body[SHAMIR_BODY_MAX];
	size_t n = 0;
	int r;

	if (!sh->len || sh->len > SHAMIR_SECRET_MAX)
		return -EINVAL;
	body[n++] = SHAMIR_TEXT_VERSION;
	body[n++] = sh->threshold;
	body[n++] = sh->index;
	memcpy(body + n, sh->fpr, SHAMIR_FPR_LEN);
	n += SHAMIR_FPR_LEN;
	memcpy(body + n, sh->y, sh->len);
	n += sh->len;
	r = shamir_text_encode(shamir_share_prefix, shamir_share_domain, body,
			       n, out, size);
	secmem_wipe(body, sizeof(body));
	return r;
}

int shamir_share_decode(const char *text, struct shamir_share *sh)
{
	uint8_t body[SHAMIR_BODY_MAX];
	int n;

	memset(sh, 0, sizeof(*sh));
	n = shamir_text_decode(shamir_share_prefix, shamir_share_domain, text,
			       body, sizeof(body));
	if (n >= 0 && (n < 3 + SHAMIR_FPR_LEN + 1 || !body[1] || !body[2]))
		n = -PHV_EFORMAT;
	if (n >= 0) {
		sh->threshold = body[1];
		sh->index = body[2];
		memcpy(sh->fpr, body + 3, SHAMIR_FPR_LEN);
		sh->len = (size_t)n - 3 - SHAMIR_FPR_LEN;
		memcpy(sh->y, body + 3 + SHAMIR_FPR_LEN, sh->len);
		n = 0;
	}
	secmem_wipe(body, sizeof(body));
	return n;
}

int shamir_key_encode(const uint8_t *key, size_t len, char *out,
		      size_t size)
{
	uint8_t body[SHAMIR_BODY_MAX];
	int r;

	if (!len || len > SHAMIR_SECRET_MAX)
		return -EINVAL;
	body[0] = SHAMIR_TEXT_VERSION;
	memcpy(body + 1, key, len);
	r = shamir_text_encode(shamir_key_prefix, shamir_key_domain, body,
			       len + 1, out, size);
	secmem_wipe(body, sizeof(body));
	return r;
}

int shamir_key_decode(const char *text, uint8_t *key, size_t *lenp)
{
	uint8_t body[SHAMIR_BODY_MAX];
	int n;

	*lenp = 0;
	n = shamir_text_decode(shamir_key_prefix, shamir_key_domain, text,
			       body, sizeof(body));
	if (n >= 0 && n < 2)
		n = -PHV_EFORMAT;
	if (n >= 0) {
		*lenp = (size_t)n - 1;
		memcpy(key, body + 1, *lenp);
		n = 0;
	}
	secmem_wipe(body, sizeof(body));
	return n;
}
