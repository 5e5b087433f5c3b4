// SPDX-License-Identifier: MIT
/*
 * keyslot.c - seal and open the master key in key slots (see keyslot.h).
 *
 * Slot line: "<id> <type> <created> <kdf> <salt> <sealed> <label>", where
 * kdf is "argon2id:T:M:P" or "hkdf", salt and sealed (nonce, sealed key,
 * tag) are base64url, and label is base64url of the label text or "-".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/err.h"
#include "keyslot.h"
#include "secmem.h"

const struct kdf_argon2_params keyslot_default_argon = {
	.t_cost = 3, .m_cost = 256 * 1024, .lanes = 2,
};

static const char *const keyslot_names[] = {
	[KEYSLOT_PASSPHRASE] = "passphrase",
	[KEYSLOT_KEYFILE] = "keyfile",
	[KEYSLOT_PKCS11] = "pkcs11",
	[KEYSLOT_COMMAND] = "command",
};

const char *keyslot_type_name(enum keyslot_type type)
{
	if (type >= KEYSLOT_PASSPHRASE && type <= KEYSLOT_COMMAND)
		return keyslot_names[type];
	return "unknown";
}

static int keyslot_type_parse(const char *name)
{
	int t;

	for (t = KEYSLOT_PASSPHRASE; t <= KEYSLOT_COMMAND; t++)
		if (!strcmp(name, keyslot_names[t]))
			return t;
	return -1;
}

/* Derive the 32-byte key that seals the master key in this slot. */
static int keyslot_derive(const struct keyslot *s, const void *secret,
			  size_t secretlen, uint8_t key[static AEAD_KEY_LEN])
{
	static const char info[] = "phivault keyslot v1";

	if (s->type == KEYSLOT_PASSPHRASE)
		return kdf_argon2id(secret, secretlen, s->salt,
				    sizeof(s->salt), NULL, 0, NULL, 0,
				    &s->argon, key, AEAD_KEY_LEN);
	/* key files, tokens and key commands yield high-entropy secrets */
	return kdf_hkdf(secret, secretlen, s->salt, sizeof(s->salt), info,
			sizeof(info) - 1, key, AEAD_KEY_LEN);
}

/* The associated data: container, slot ID, type and KDF cost (the salt
 * goes in as a second component). */
#define KEYSLOT_AD_LEN	(KEYSLOT_CONTAINER_LEN + 5 * 4)

static void keyslot_ad(const struct keyslot *s,
		       const uint8_t container[static KEYSLOT_CONTAINER_LEN],
		       uint8_t ad[static KEYSLOT_AD_LEN])
{
	uint32_t v[5] = { s->id, s->type, s->argon.t_cost, s->argon.m_cost,
			  s->argon.lanes };
	uint8_t *p = ad + KEYSLOT_CONTAINER_LEN;
	int i;

	memcpy(ad, container, KEYSLOT_CONTAINER_LEN);
	for (i = 0; i < 5; i++, p += 4) {
		p[0] = (uint8_t)(v[i] >> 24);
		p[1] = (uint8_t)(v[i] >> 16);
		p[2] = (uint8_t)(v[i] >> 8);
		p[3] = (uint8_t)v[i];
	}
}

int keyslot_seal(struct keyslot *s,
		 const uint8_t container[static KEYSLOT_CONTAINER_LEN],
		 const void *secret, size_t secretlen,
		 const uint8_t master[static KEYSLOT_MASTER_LEN])
{
	uint8_t *key = secmem_alloc(AEAD_KEY_LEN);
	uint8_t adbuf[KEYSLOT_AD_LEN];
	struct aead_ad ad[2] = {
		{ adbuf, sizeof(adbuf) },
		{ s->salt, sizeof(s->salt) },
	};
	int r;

	if (!key)
		return -ENOMEM;
	if (s->type != KEYSLOT_PASSPHRASE)
		memset(&s->argon, 0, sizeof(s->argon));
	s->created = (int64_t)time(NULL);
	r = secmem_random(s->salt, sizeof(s->salt));
	if (!r)
		r = secmem_random(s->nonce, sizeof(s->nonce));
	if (!r)
		r = keyslot_derive(s, secret, secretlen, key);
	if (!r) {
		keyslot_ad(s, container, adbuf);
		r = aead_seal(key, s->nonce, ad, 2, master, KEYSLOT_MASTER_LEN,
			      s->sealed, s->tag);
	}
	secmem_free(key, AEAD_KEY_LEN);
	return r;
}

int keyslot_open(const struct keyslot *s,
		 const uint8_t container[static KEYSLOT_CONTAINER_LEN],
		 const void *secret, size_t secretlen,
		 uint8_t master[static KEYSLOT_MASTER_LEN])
{
	uint8_t *key = secmem_alloc(AEAD_KEY_LEN);
	uint8_t adbuf[KEYSLOT_AD_LEN];
	struct aead_ad ad[2] = {
		{ adbuf, sizeof(adbuf) },
		{ s->salt, sizeof(s->salt) },
	};
	int r;

	if (!key)
		return -ENOMEM;
	r = keyslot_derive(s, secret, secretlen, key);
	if (!r) {
		keyslot_ad(s, container, adbuf);
		r = aead_open(key, s->nonce, ad, 2, s->sealed,
			      KEYSLOT_MASTER_LEN, master, s->tag);
		if (r == -PHV_EAUTH)
			r = -PHV_EBADKEY;
	}
	if (r)
		secmem_wipe(master, KEYSLOT_MASTER_LEN);
	secmem_free(key, AEAD_KEY_LEN);
	return r;
}

int keyslot_format(const struct keyslot *s, char *buf, size_t size)
{
	uint8_t seal[AEAD_NONCE_LEN + KEYSLOT_MASTER_LEN + AEAD_TAG_LEN];
	char salt[B64_ENCLEN(KEYSLOT_SALT_LEN) + 1];
	char sealed[B64_ENCLEN(sizeof(seal)) + 1];
	char label[B64_ENCLEN(KEYSLOT_LABEL_MAX) + 1] = "-";
	char kdf[64] = "hkdf";
	int n;

	memcpy(seal, s->nonce, AEAD_NONCE_LEN);
	memcpy(seal + AEAD_NONCE_LEN, s->sealed, KEYSLOT_MASTER_LEN);
	memcpy(seal + AEAD_NONCE_LEN + KEYSLOT_MASTER_LEN, s->tag,
	       AEAD_TAG_LEN);
	b64_encode(s->salt, sizeof(s->salt), salt);
	b64_encode(seal, sizeof(seal), sealed);
	if (s->label[0])
		b64_encode(s->label, strnlen(s->label, KEYSLOT_LABEL_MAX - 1),
			   label);
	if (s->type == KEYSLOT_PASSPHRASE)
		snprintf(kdf, sizeof(kdf), "argon2id:%" PRIu32 ":%" PRIu32
			 ":%" PRIu32, s->argon.t_cost, s->argon.m_cost,
			 s->argon.lanes);
	n = snprintf(buf, size, "%" PRIu32 " %s %" PRId64 " %s %s %s %s",
		     s->id, keyslot_type_name(s->type), s->created, kdf, salt,
		     sealed, label);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

/* Encoded lengths of the fixed-size fields and the longest label. */
#define KEYSLOT_SEAL_LEN	(AEAD_NONCE_LEN + KEYSLOT_MASTER_LEN + AEAD_TAG_LEN)
#define KEYSLOT_SALT_B64	B64_ENCLEN(KEYSLOT_SALT_LEN)
#define KEYSLOT_SEAL_B64	B64_ENCLEN(KEYSLOT_SEAL_LEN)
#define KEYSLOT_LABEL_B64	B64_ENCLEN(KEYSLOT_LABEL_MAX - 1)

int keyslot_parse(const char *line, struct keyslot *s)
{
	char type[16], kdf[64], salt[64], sealed[128], label[256];
	uint8_t seal[KEYSLOT_SEAL_LEN];
	long n;
	int t;

	memset(s, 0, sizeof(*s));
	/*
	 * The line comes from a file an attacker may have edited: every
	 * field is length-checked before it is decoded into a fixed buffer
	 * (b64_decode writes first and reports the length afterwards).
	 */
	if (sscanf(line, "%" SCNu32 " %15s %" SCNd64 " %63s %63s %127s %255s",
		   &s->id, type, &s->created, kdf, salt, sealed, label) != 7)
		return -PHV_EFORMAT;
	if (strlen(salt) != KEYSLOT_SALT_B64 ||
	    strlen(sealed) != KEYSLOT_SEAL_B64 ||
	    strlen(label) > KEYSLOT_LABEL_B64)
		return -PHV_EFORMAT;
	t = keyslot_type_parse(type);
	if (t < 0 || !s->id)
		return -PHV_EFORMAT;
	s->type = (enum keyslot_type)t;
	if (t == KEYSLOT_PASSPHRASE) {
		if (sscanf(kdf, "argon2id:%" SCNu32 ":%" SCNu32 ":%" SCNu32,
			   &s->argon.t_cost, &s->argon.m_cost,
			   &s->argon.lanes) != 3)
			return -PHV_EFORMAT;
	} else if (strcmp(kdf, "hkdf")) {
		return -PHV_EFORMAT;
	}
	if (b64_decode(salt, strlen(salt), s->salt) != KEYSLOT_SALT_LEN)
		return -PHV_EFORMAT;
	n = b64_decode(sealed, strlen(sealed), seal);
	if (n != KEYSLOT_SEAL_LEN)
		return -PHV_EFORMAT;
	memcpy(s->nonce, seal, AEAD_NONCE_LEN);
	memcpy(s->sealed, seal + AEAD_NONCE_LEN, KEYSLOT_MASTER_LEN);
	memcpy(s->tag, seal + AEAD_NONCE_LEN + KEYSLOT_MASTER_LEN,
	       AEAD_TAG_LEN);
	if (strcmp(label, "-")) {
		n = b64_decode(label, strlen(label), s->label);
		if (n < 0 || n >= KEYSLOT_LABEL_MAX)
			return -PHV_EFORMAT;
		s->label[n] = '\0';
	}
	return 0;
}
