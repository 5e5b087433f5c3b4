/* SPDX-License-Identifier: MIT */
/*
 * audit_i.h - pieces shared by the audit writer and verifier.
 */
#ifndef POLICY_AUDIT_I_H
#define POLICY_AUDIT_I_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define AUDIT_MAC_FIELD	",\"mac\":\""
#define AUDIT_FORMAT	1

/* The HMAC key and Ed25519 seed, both from the audit key by HKDF. */
struct audit_keys {
	uint8_t hmac[32];
	uint8_t seed[32];
};

int audit_keys_derive(const uint8_t key[32], struct audit_keys *k);

/* Ed25519 key pair from the seed; EVP_PKEY_free() it. */
EVP_PKEY *audit_signer(const uint8_t seed[32]);

/* mac = HMAC(hmac, prev || prefix) */
int audit_record_mac(const uint8_t hmac[32], const uint8_t prev[32],
		     const char *prefix, size_t len, uint8_t mac[32]);

/* chain = SHA-256(chain || line), in place */
int audit_chain_step(uint8_t chain[32], const char *line, size_t len);

/* The message a checkpoint signs: domain, seq (big endian), chain. */
size_t audit_cp_message(unsigned long long seq, const uint8_t chain[32],
			uint8_t *msg);
#define AUDIT_CP_MSG_MAX 64

/* Decode base64url of exactly n bytes; 0 or -1. */
int audit_b64_exact(const char *s, void *out, size_t n);

#endif /* POLICY_AUDIT_I_H */
