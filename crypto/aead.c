// SPDX-License-Identifier: MIT
/*
 * aead.c - AES-256-GCM and AES-256-SIV with per-thread cached contexts.
 *
 * The GCM and SIV EVP_CIPHER objects are fetched once (implicit fetches
 * inside EVP_*Init would take a global lock on every block).  Each thread
 * keeps one EVP_CIPHER_CTX per cipher; every call re-keys it, so no key
 * outlives the call in a context that another caller could reach.  The
 * pthread key destructor frees the contexts, which wipes their key
 * schedules.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "aead.h"
#include "secmem.h"

enum { CTX_GCM, CTX_SIV, CTX_SIV128, CTX_SIV192, CTX_MAX };

struct aead_tls {
	EVP_CIPHER_CTX *ctx[CTX_MAX];
};

static pthread_once_t aead_once = PTHREAD_ONCE_INIT;
static pthread_key_t aead_key;
static EVP_CIPHER *aead_cipher[CTX_MAX];

static void aead_tls_free(void *p)
{
	struct aead_tls *tls = p;
	int i;

	for (i = 0; i < CTX_MAX; i++)
		EVP_CIPHER_CTX_free(tls->ctx[i]);
	free(tls);
}

static void aead_setup(void)
{
	pthread_key_create(&aead_key, aead_tls_free);
	aead_cipher[CTX_GCM] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	aead_cipher[CTX_SIV] = EVP_CIPHER_fetch(NULL, "AES-256-SIV", NULL);
	aead_cipher[CTX_SIV128] = EVP_CIPHER_fetch(NULL, "AES-128-SIV", NULL);
	aead_cipher[CTX_SIV192] = EVP_CIPHER_fetch(NULL, "AES-192-SIV", NULL);
}

/* This thread's context for cipher `which`, or NULL. */
static EVP_CIPHER_CTX *aead_ctx(int which)
{
	struct aead_tls *tls;

	pthread_once(&aead_once, aead_setup);
	if (!aead_cipher[which])
		return NULL;
	tls = pthread_getspecific(aead_key);
	if (!tls) {
		tls = calloc(1, sizeof(*tls));
		if (!tls)
			return NULL;
		pthread_setspecific(aead_key, tls);
	}
	if (!tls->ctx[which])
		tls->ctx[which] = EVP_CIPHER_CTX_new();
	return tls->ctx[which];
}

static int aead_add_ad(EVP_CIPHER_CTX *ctx, const struct aead_ad *ad,
		       size_t nad)
{
	size_t i;
	int len;

	for (i = 0; i < nad; i++) {
		if (EVP_CipherUpdate(ctx, NULL, &len, ad[i].p,
				     (int)ad[i].len) != 1)
			return -PHV_ECRYPTO;
	}
	return 0;
}

int aead_seal(const uint8_t key[static AEAD_KEY_LEN],
	      const uint8_t nonce[static AEAD_NONCE_LEN],
	      const struct aead_ad *ad, size_t nad,
	      const void *pt, size_t len, void *ct,
	      uint8_t tag[static AEAD_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = aead_ctx(CTX_GCM);
	int outl, r = -PHV_ECRYPTO;

	if (!ctx || len > INT32_MAX)
		return r;
	if (EVP_EncryptInit_ex2(ctx, aead_cipher[CTX_GCM], key, nonce,
				NULL) != 1)
		goto out;
	if (aead_add_ad(ctx, ad, nad) < 0)
		goto out;
	if (len && EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, (uint8_t *)ct + len, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN,
				tag) != 1)
		goto out;
	r = 0;
out:
	return r;
}

int aead_open(const uint8_t key[static AEAD_KEY_LEN],
	      const uint8_t nonce[static AEAD_NONCE_LEN],
	      const struct aead_ad *ad, size_t nad,
	      const void *ct, size_t len, void *pt,
	      const uint8_t tag[static AEAD_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = aead_ctx(CTX_GCM);
	int outl, r = -PHV_ECRYPTO;

	if (!ctx || len > INT32_MAX)
		return r;
	if (EVP_DecryptInit_ex2(ctx, aead_cipher[CTX_GCM], key, nonce,
				NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN,
				(void *)tag) != 1)
		goto out;
	if (aead_add_ad(ctx, ad, nad) < 0)
		goto out;
	if (len && EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)len) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, (uint8_t *)pt + len, &outl) != 1) {
		secmem_wipe(pt, len);
		r = -PHV_EAUTH;
		goto out;
	}
	r = 0;
out:
	return r;
}

/* The SIV cipher slot for a key of keylen bytes, or -1. */
static int siv_which(size_t keylen)
{
	switch (keylen) {
	case 32:
		return CTX_SIV128;
	case 48:
		return CTX_SIV192;
	case SIV_KEY_LEN:
		return CTX_SIV;
	}
	return -1;
}

int siv_seal(const uint8_t key[static SIV_KEY_LEN],
	     const struct aead_ad *ad, size_t nad,
	     const void *pt, size_t len, uint8_t *out)
{
	return siv_seal_k(key, SIV_KEY_LEN, ad, nad, pt, len, out);
}

int siv_open(const uint8_t key[static SIV_KEY_LEN],
	     const struct aead_ad *ad, size_t nad,
	     const uint8_t *in, size_t inlen, void *pt)
{
	return siv_open_k(key, SIV_KEY_LEN, ad, nad, in, inlen, pt);
}

int siv_seal_k(const uint8_t *key, size_t keylen,
	       const struct aead_ad *ad, size_t nad,
	       const void *pt, size_t len, uint8_t *out)
{
	int which = siv_which(keylen);
	EVP_CIPHER_CTX *ctx;
	int outl, r = -PHV_ECRYPTO;

	/* XXX: OpenSSL 3.0's SIV provider never computes the tag of an
	 * empty plaintext (its update skips zero-length input and final
	 * then fails), so refuse it plainly rather than fail as a crypto or
	 * an authentication error.  Names are never empty. */
	if (which < 0 || len == 0)
		return -EINVAL;
	ctx = aead_ctx(which);
	if (!ctx || len > INT32_MAX)
		return r;
	if (EVP_EncryptInit_ex2(ctx, aead_cipher[which], key, NULL,
				NULL) != 1)
		goto out;
	if (aead_add_ad(ctx, ad, nad) < 0)
		goto out;
	/* SIV takes the whole plaintext in a single update */
	if (EVP_EncryptUpdate(ctx, out + SIV_TAG_LEN, &outl, pt,
			      (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + SIV_TAG_LEN + len, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SIV_TAG_LEN,
				out) != 1)
		goto out;
	r = 0;
out:
	return r;
}

int siv_open_k(const uint8_t *key, size_t keylen,
	       const struct aead_ad *ad, size_t nad,
	       const uint8_t *in, size_t inlen, void *pt)
{
	int which = siv_which(keylen);
	EVP_CIPHER_CTX *ctx;
	size_t len = inlen - SIV_TAG_LEN;
	int outl, r = -PHV_ECRYPTO;

	/* see siv_seal_k() for why an empty plaintext is refused */
	if (which < 0 || inlen == SIV_TAG_LEN)
		return -EINVAL;
	ctx = aead_ctx(which);
	if (!ctx || inlen < SIV_TAG_LEN || inlen > INT32_MAX)
		return inlen < SIV_TAG_LEN ? -PHV_EAUTH : r;
	if (EVP_DecryptInit_ex2(ctx, aead_cipher[which], key, NULL,
				NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SIV_TAG_LEN,
				(void *)in) != 1)
		goto out;
	if (aead_add_ad(ctx, ad, nad) < 0)
		goto out;
	/* the tag is checked during the update for SIV */
	if (EVP_DecryptUpdate(ctx, pt, &outl, in + SIV_TAG_LEN,
			      (int)len) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (uint8_t *)pt + len, &outl) != 1) {
		secmem_wipe(pt, len);
		r = -PHV_EAUTH;
		goto out;
	}
	r = 0;
out:
	return r;
}
