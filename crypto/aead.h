/* SPDX-License-Identifier: MIT */
/*
 * aead.h - AES-256-GCM and AES-256-SIV (RFC 5297) on OpenSSL 3.
 *
 * GCM seals file blocks, wrapped keys, xattr values and symlink targets;
 * callers supply a fresh random nonce for every seal.  SIV is the
 * deterministic cipher for file names: the same (key, associated data,
 * name) always gives the same output, which is what lets a lookup find an
 * entry without listing the directory.
 *
 * The cipher objects are fetched once per process and a context is cached
 * per thread, so a call costs one key schedule, not a provider lookup.
 * The cached context is wiped and freed when its thread exits.
 * Nothing here logs.  Every function returns 0, -PHV_EAUTH when a tag does
 * not verify (tampering or damage, never "just an I/O error"), or
 * -PHV_ECRYPTO when the library fails.
 */
#ifndef CRYPTO_AEAD_H
#define CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN	32
#define AEAD_NONCE_LEN	12
#define AEAD_TAG_LEN	16
#define SIV_KEY_LEN	64
#define SIV_TAG_LEN	16

/* A run of associated data: pieces are authenticated in order. */
struct aead_ad {
	const void *p;
	size_t len;
};

/*
 * GCM encrypt len bytes of pt into ct (same length; may alias pt) and
 * write the tag.  The associated data ad[0..nad) is authenticated, not
 * encrypted.
 */
int aead_seal(const uint8_t key[static AEAD_KEY_LEN],
	      const uint8_t nonce[static AEAD_NONCE_LEN],
	      const struct aead_ad *ad, size_t nad,
	      const void *pt, size_t len, void *ct,
	      uint8_t tag[static AEAD_TAG_LEN]);

/* GCM decrypt and verify; on -PHV_EAUTH the output is wiped. */
int aead_open(const uint8_t key[static AEAD_KEY_LEN],
	      const uint8_t nonce[static AEAD_NONCE_LEN],
	      const struct aead_ad *ad, size_t nad,
	      const void *ct, size_t len, void *pt,
	      const uint8_t tag[static AEAD_TAG_LEN]);

/*
 * SIV encrypt: out receives the 16-byte synthetic IV followed by len bytes
 * of ciphertext (RFC 5297 layout), so out must hold len + SIV_TAG_LEN.
 * Each element of ad is one associated-data component of the RFC (an
 * empty component counts).  len must be at least 1: OpenSSL 3.0 cannot
 * seal an empty plaintext with SIV, so both directions return -EINVAL
 * for it (siv_open: inlen == SIV_TAG_LEN) instead of a misleading code.
 */
int siv_seal(const uint8_t key[static SIV_KEY_LEN],
	     const struct aead_ad *ad, size_t nad,
	     const void *pt, size_t len, uint8_t *out);

/* SIV decrypt in (inlen >= SIV_TAG_LEN) into pt (inlen - SIV_TAG_LEN). */
int siv_open(const uint8_t key[static SIV_KEY_LEN],
	     const struct aead_ad *ad, size_t nad,
	     const uint8_t *in, size_t inlen, void *pt);

/*
 * siv_seal/siv_open with an explicit key length: 32 bytes (AES-128-SIV,
 * the size RFC 5297's examples use), 48 (AES-192-SIV) or 64 (AES-256-SIV,
 * what siv_seal uses).  For known-answer tests and interoperability;
 * phivault's own names always use SIV_KEY_LEN.  Returns -EINVAL for any
 * other length, otherwise as siv_seal/siv_open.
 */
int siv_seal_k(const uint8_t *key, size_t keylen,
	       const struct aead_ad *ad, size_t nad,
	       const void *pt, size_t len, uint8_t *out);
int siv_open_k(const uint8_t *key, size_t keylen,
	       const struct aead_ad *ad, size_t nad,
	       const uint8_t *in, size_t inlen, void *pt);

#endif /* CRYPTO_AEAD_H */
