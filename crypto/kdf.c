// SPDX-License-Identifier: MIT
/*
 * kdf.c - HKDF-SHA-256 and Argon2id (see kdf.h).
 */
#include <errno.h>
#include <string.h>

#include <argon2.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "common/err.h"
#include "kdf.h"

int kdf_hkdf(const void *ikm, size_t ikmlen, const void *salt,
	     size_t saltlen, const void *info, size_t infolen,
	     void *out, size_t outlen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5], *p = params;
	int r = -PHV_ECRYPTO;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		goto out;
	ctx = EVP_KDF_CTX_new(kdf);
	if (!ctx)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)ikm, ikmlen);
	if (saltlen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							 (void *)salt,
							 saltlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						 (void *)info, infolen);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) == 1)
		r = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

int kdf_argon2id(const void *pass, size_t passlen,
		 const void *salt, size_t saltlen,
		 const void *secret, size_t secretlen,
		 const void *ad, size_t adlen,
		 const struct kdf_argon2_params *params,
		 void *out, size_t outlen)
{
	argon2_context ctx;

	if (!params->t_cost || params->m_cost < 8 * params->lanes ||
	    !params->lanes || params->lanes > 64 || saltlen < 8)
		return -EINVAL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	ctx.outlen = (uint32_t)outlen;
	ctx.pwd = (uint8_t *)pass;
	ctx.pwdlen = (uint32_t)passlen;
	ctx.salt = (uint8_t *)salt;
	ctx.saltlen = (uint32_t)saltlen;
	ctx.secret = (uint8_t *)secret;
	ctx.secretlen = (uint32_t)secretlen;
	ctx.ad = (uint8_t *)ad;
	ctx.adlen = (uint32_t)adlen;
	ctx.t_cost = params->t_cost;
	ctx.m_cost = params->m_cost;
	ctx.lanes = params->lanes;
	ctx.threads = params->lanes;
	ctx.version = ARGON2_VERSION_13;
	ctx.flags = ARGON2_DEFAULT_FLAGS;
	if (argon2_ctx(&ctx, Argon2_id) != ARGON2_OK)
		return -PHV_ECRYPTO;
	return 0;
}
