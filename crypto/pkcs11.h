/* SPDX-License-Identifier: MIT */
/*
 * pkcs11.h - wrap and unwrap a key slot's secret inside a PKCS#11 token.
 *
 * A token slot's secret is 32 random bytes S.  The token holds a
 * non-extractable AES-256 key (found by its CKA_LABEL); S is encrypted
 * with it by C_Encrypt/CKM_AES_GCM and only the result, the "wrapped
 * blob", is stored.  At unlock C_Decrypt in the token gives S back, and S
 * opens the slot like a key file (keyslot.h).  The clear S exists only in
 * secmem, briefly.  The token's GCM tag makes a wrong key or an altered
 * blob fail inside the token.
 *
 * Blob layout (P11_BLOB_LEN bytes): version 1, mechanism 1 (AES-GCM),
 * 12-byte IV, 32-byte ciphertext, 16-byte tag.  The associated data,
 * chosen by the caller, binds the blob to its volume.
 *
 * The module is loaded by path with dlopen(); nothing is linked.  One
 * struct p11 is one module, one token and one session, used by one
 * thread.  Nothing here logs; p11_last_rv() gives the PKCS#11 return value
 * behind the last failure so the caller can say what went wrong.
 */
#ifndef CRYPTO_PKCS11_H
#define CRYPTO_PKCS11_H

#include <stddef.h>
#include <stdint.h>

#define P11_SECRET_LEN	32
#define P11_BLOB_LEN	(2 + 12 + P11_SECRET_LEN + 16)

struct p11;

/*
 * Load module (a path to a PKCS#11 shared object), initialise it and open
 * a read-write session on the token whose label is token_label.  Returns
 * 0, -PHV_ETOKEN (the module cannot be loaded or initialised),
 * -PHV_ENOTFOUND (no token with that label), or -ENOMEM.  *pp is NULL on
 * failure.  Release with p11_close().
 */
int p11_open(const char *module, const char *token_label, struct p11 **pp);

/*
 * Log in as the user with pin (not NUL-terminated).  Returns 0,
 * -PHV_EBADKEY (wrong PIN), -EACCES (PIN locked), or -PHV_ETOKEN.
 */
int p11_login(struct p11 *p, const void *pin, size_t pinlen);

/*
 * Create an AES-256 secret key on the token with label key_label:
 * token object, private, sensitive, not extractable, usable for
 * encrypt and decrypt only.  Returns 0, -EEXIST (a key with that label
 * exists), or -PHV_ETOKEN.
 */
int p11_keygen(struct p11 *p, const char *key_label);

/*
 * Encrypt secret with the token key key_label into blob, binding ad.
 * Returns 0, -PHV_ENOTFOUND (no such key), -PHV_ETOKEN, or -PHV_ECRYPTO
 * (no random IV).
 */
int p11_wrap(struct p11 *p, const char *key_label, const void *ad,
	     size_t adlen, const uint8_t secret[static P11_SECRET_LEN],
	     uint8_t blob[static P11_BLOB_LEN]);

/*
 * Decrypt blob with the token key into secret.  Returns 0,
 * -PHV_ENOTFOUND (no such key), -PHV_EFORMAT (unknown blob version),
 * -PHV_EBADKEY (the token refused the blob: another key, another volume,
 * or altered), or -PHV_ETOKEN.  secret is wiped on failure.
 */
int p11_unwrap(struct p11 *p, const char *key_label, const void *ad,
	       size_t adlen, const uint8_t blob[static P11_BLOB_LEN],
	       uint8_t secret[static P11_SECRET_LEN]);

/* The CK_RV of the last failed call on p (0 when none). */
unsigned long p11_last_rv(const struct p11 *p);

/* A name for a CK_RV ("CKR_PIN_INCORRECT", ...); never NULL. */
const char *p11_rv_name(unsigned long rv);

/* Log out, close the session, finalise and unload; NULL-safe. */
void p11_close(struct p11 *p);

#endif /* CRYPTO_PKCS11_H */
