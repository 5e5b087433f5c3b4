/* SPDX-License-Identifier: MIT */
/*
 * keyslot.h - key slots: one master key, many ways to unlock it.
 *
 * A volume (and, later, a backup repository) has one random 32-byte master
 * key.  Each slot holds that key sealed (AES-256-GCM) under a slot key
 * derived from one secret: a passphrase (Argon2id), a key file
 * (HKDF-SHA-256), and later a PKCS#11 token or an external key command.
 * Adding, removing or changing a slot never touches anything sealed under
 * the master key, so a passphrase change rewrites one line of config.
 *
 * The seal's associated data binds the container ID (volume or repository
 * ID), the slot ID, its type, its KDF parameters and its salt, so a slot
 * cannot be moved to another container or have its parameters lowered.
 * A slot serialises to one text line (keyslot_format/keyslot_parse) for
 * the container's configuration file; layout in docs/FORMAT.md.
 * Nothing here logs or reads files: callers obtain the secret.
 */
#ifndef CRYPTO_KEYSLOT_H
#define CRYPTO_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#include "aead.h"
#include "kdf.h"

#define KEYSLOT_MASTER_LEN	32
#define KEYSLOT_CONTAINER_LEN	16
#define KEYSLOT_SALT_LEN	16
#define KEYSLOT_LABEL_MAX	128
#define KEYSLOT_LINE_MAX	512

enum keyslot_type {
	KEYSLOT_PASSPHRASE = 1,
	KEYSLOT_KEYFILE = 2,
	KEYSLOT_PKCS11 = 3,
	KEYSLOT_COMMAND = 4,
};

struct keyslot {
	uint32_t id;
	enum keyslot_type type;
	int64_t created;			/* Unix seconds */
	struct kdf_argon2_params argon;		/* KEYSLOT_PASSPHRASE only */
	uint8_t salt[KEYSLOT_SALT_LEN];
	uint8_t nonce[AEAD_NONCE_LEN];
	uint8_t sealed[KEYSLOT_MASTER_LEN];
	uint8_t tag[AEAD_TAG_LEN];
	char label[KEYSLOT_LABEL_MAX];		/* free text, no secrets */
};

/* Default Argon2id cost for new passphrase slots: 3 passes, 256 MiB. */
extern const struct kdf_argon2_params keyslot_default_argon;

/* Name of a slot type ("passphrase", "keyfile", ...). */
const char *keyslot_type_name(enum keyslot_type type);

/*
 * Seal master into slot s under secret.  The caller sets s->id, s->type,
 * s->argon (passphrase slots) and s->label; this sets the rest.
 * Returns 0, -EINVAL or -PHV_ECRYPTO.
 */
int keyslot_seal(struct keyslot *s,
		 const uint8_t container[static KEYSLOT_CONTAINER_LEN],
		 const void *secret, size_t secretlen,
		 const uint8_t master[static KEYSLOT_MASTER_LEN]);

/*
 * Recover the master key from slot s with secret.  Returns 0,
 * -PHV_EBADKEY when the secret is wrong or the slot was altered (the two
 * cannot be told apart), or -PHV_ECRYPTO.  master is wiped on failure.
 */
int keyslot_open(const struct keyslot *s,
		 const uint8_t container[static KEYSLOT_CONTAINER_LEN],
		 const void *secret, size_t secretlen,
		 uint8_t master[static KEYSLOT_MASTER_LEN]);

/* One text line without newline; returns its length or -ENOSPC. */
int keyslot_format(const struct keyslot *s, char *buf, size_t size);

/* Parse the fields after the "slot " keyword; 0 or -PHV_EFORMAT. */
int keyslot_parse(const char *line, struct keyslot *s);

#endif /* CRYPTO_KEYSLOT_H */
