/* SPDX-License-Identifier: MIT */
/*
 * shamir.h - Shamir's secret sharing over GF(2^8), and the checksummed
 * text form of recovery keys and of their shares.
 *
 * A secret of up to SHAMIR_SECRET_MAX bytes is split byte by byte: each
 * byte is the constant term of a random polynomial of degree M-1 over
 * GF(2^8) (AES polynomial x^8 + x^4 + x^3 + x + 1, 0x11b), and share i is
 * the polynomial evaluated at x = i, for i = 1..N.  Any M shares give the
 * secret back by Lagrange interpolation at x = 0; fewer give no
 * information about it.  Field arithmetic uses no tables and no
 * data-dependent branches, so timing does not depend on share bytes.
 *
 * The text forms are meant to be written down and typed back in: groups
 * of lowercase hex separated by '-', ending in a 4-byte checksum so that a
 * mistyped character is reported instead of giving a wrong key.  A share
 * also carries the threshold M, its index and a 4-byte fingerprint of the
 * secret, so shares of different splits are not mixed silently and a
 * recombined secret is checked.  Layout: docs/KEYS.md, "Recovery key".
 * Nothing here logs.
 */
#ifndef CRYPTO_SHAMIR_H
#define CRYPTO_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#define SHAMIR_SECRET_MAX	64
#define SHAMIR_SHARES_MAX	255
#define SHAMIR_FPR_LEN		4
/* Characters of text for a secret of n bytes, without the NUL. */
#define SHAMIR_TEXT_MAX(n)	(16 + ((n) + 16) * 9 / 4)

/*
 * Multiply in GF(2^8) modulo 0x11b.  Exposed for the known-answer tests.
 */
uint8_t shamir_gf_mul(uint8_t a, uint8_t b);

/*
 * Split secret[0..len) into n shares with threshold m (1 <= m <= n <=
 * SHAMIR_SHARES_MAX, 1 <= len <= SHAMIR_SECRET_MAX).  Share i (0-based)
 * is written to ys + i * len and belongs at x = i + 1.  The random
 * coefficients come from secmem_random() and are wiped.  Returns 0,
 * -EINVAL or -PHV_ECRYPTO; on failure ys is wiped.
 */
int shamir_split(const uint8_t *secret, size_t len, unsigned int n,
		 unsigned int m, uint8_t *ys);

/*
 * Interpolate k shares at x = 0: xs[j] is the x of share j (nonzero,
 * pairwise distinct) and ys[j] points at its len bytes.  Writes len bytes
 * to secret.  With fewer shares than the threshold the result is a value
 * unrelated to the secret; nothing here can tell.  Returns 0 or -EINVAL.
 */
int shamir_combine(const uint8_t *xs, const uint8_t *const *ys,
		   unsigned int k, size_t len, uint8_t *secret);

/*
 * Test hook: replace the source of random coefficients (NULL restores
 * secmem_random).  The function fills p[0..len) and returns 0 or a
 * negative code.  Not for production use.
 */
void shamir_set_random(int (*rnd)(void *p, size_t len));

/* One share in decoded form. */
struct shamir_share {
	uint8_t threshold;		/* M */
	uint8_t index;			/* x, 1..255 */
	uint8_t fpr[SHAMIR_FPR_LEN];	/* of the secret; equal in a split */
	size_t len;			/* bytes of y */
	uint8_t y[SHAMIR_SECRET_MAX];
};

/*
 * Split secret into n shares with threshold m, filled in sh[0..n).
 * Returns as shamir_split().  The caller wipes sh when done.
 */
int shamir_share_split(const uint8_t *secret, size_t len, unsigned int n,
		       unsigned int m, struct shamir_share *sh);

/*
 * Recover the secret from k decoded shares.  Checks that the shares agree
 * on threshold, length and fingerprint (-PHV_EFORMAT: from different
 * splits), have distinct indices (-EINVAL), and number at least the
 * threshold (-ENOENT); then checks the result against the fingerprint
 * (-PHV_EBADKEY: some share is wrong although well formed).  secret must
 * hold SHAMIR_SECRET_MAX bytes; *lenp receives the length.  secret is
 * wiped on failure.
 */
int shamir_share_combine(const struct shamir_share *sh, unsigned int k,
			 uint8_t *secret, size_t *lenp);

/*
 * Share text: "phvs-" then hex groups.  encode writes a NUL-terminated
 * string of at most SHAMIR_TEXT_MAX(sh->len) characters into out and
 * returns its length, or -ENOSPC.  decode ignores case, blanks and
 * dashes; returns 0, -PHV_EFORMAT (not a share), or -EBADMSG (checksum
 * mismatch: a character was mistyped).
 */
int shamir_share_encode(const struct shamir_share *sh, char *out,
			size_t size);
int shamir_share_decode(const char *text, struct shamir_share *sh);

/*
 * Recovery key text: "phvk-" then hex groups of key[0..len) and a
 * checksum.  Same conventions and errors as the share codec; decode needs
 * key to hold SHAMIR_SECRET_MAX bytes and sets *lenp.
 */
int shamir_key_encode(const uint8_t *key, size_t len, char *out,
		      size_t size);
int shamir_key_decode(const char *text, uint8_t *key, size_t *lenp);

#endif /* CRYPTO_SHAMIR_H */
