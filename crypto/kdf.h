/* SPDX-License-Identifier: MIT */
/*
 * kdf.h - key derivation: HKDF-SHA-256 (RFC 5869) through OpenSSL's
 * EVP_KDF, and Argon2id (RFC 9106) through Debian's libargon2.
 *
 * HKDF turns one random master key into independent subkeys, one per
 * purpose, told apart by the info string ("phivault content", ...).
 * Argon2id stretches passphrases; its parameters are stored with each
 * key slot so they can be raised later without a format change.
 * Nothing here logs.  Returns 0, -EINVAL or -PHV_ECRYPTO.
 */
#ifndef CRYPTO_KDF_H
#define CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

int kdf_hkdf(const void *ikm, size_t ikmlen, const void *salt,
	     size_t saltlen, const void *info, size_t infolen,
	     void *out, size_t outlen);

struct kdf_argon2_params {
	uint32_t t_cost;	/* passes */
	uint32_t m_cost;	/* memory in KiB */
	uint32_t lanes;		/* parallelism */
};

/* Argon2id of pass with salt; secret and ad may be NULL (lengths 0). */
int kdf_argon2id(const void *pass, size_t passlen,
		 const void *salt, size_t saltlen,
		 const void *secret, size_t secretlen,
		 const void *ad, size_t adlen,
		 const struct kdf_argon2_params *params,
		 void *out, size_t outlen);

#endif /* CRYPTO_KDF_H */
