/* SPDX-License-Identifier: MIT */
/*
 * keysrc.h - the key sources beyond passphrase and key file: a PKCS#11
 * token and an external key command.  Shared by `phivault key add` and by
 * every subcommand that unlocks a volume (keysrc_unlock).
 *
 * A token or command slot's secret is 32 random bytes S.  S itself is
 * never stored: the slot's "recipe", one text line kept with the slot in
 * the volume's configuration, holds S wrapped by the token key or the key
 * service, and what is needed to find that key again:
 *
 *   pkcs11 token=<b64> key=<b64> blob=<b64>
 *   command blob=<b64> [cmd=<b64>]
 *
 * (base64url of the token label, key label, wrapped blob, and the command
 * line as given at `key add`, shown by `key list` only).  The module path
 * and the command that are *run* always come from the command line or the
 * environment (PHIVAULT_PKCS11_MODULE, PHIVAULT_KEY_COMMAND), never from
 * the volume: whoever can write a volume's directory must not be able to
 * make the unlocking user load a library or run a program.
 * Errors are printed to stderr with what failed named.
 */
#ifndef TOOLS_KEYSRC_H
#define TOOLS_KEYSRC_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keyslot.h"
#include "crypto/pkcs11.h"
#include "secret.h"

#define KEYSRC_SECRET_LEN	32
#define KEYSRC_RECIPE_MAX	4096
#define KEYSRC_ID_LEN		16	/* volume or repository ID */

struct keysrc_opts {
	const char *pkcs11_module;	/* NULL: $PHIVAULT_PKCS11_MODULE */
	const char *token_label;
	const char *key_label;
	const char *pin_file;		/* else pin_command, else terminal */
	const char *pin_command;
	const char *key_command;	/* NULL: $PHIVAULT_KEY_COMMAND */
	int timeout_ms;			/* key command; 0 = default 30 s */
};

/* getopt_long rows for the options above, and their handler. */
#define KEYSRC_LONGOPTS							\
	{ "pkcs11-module", required_argument, NULL, 0x1101 },		\
	{ "token-label", required_argument, NULL, 0x1102 },		\
	{ "key-label", required_argument, NULL, 0x1103 },		\
	{ "pin-file", required_argument, NULL, 0x1104 },		\
	{ "pin-command", required_argument, NULL, 0x1105 },		\
	{ "key-command", required_argument, NULL, 0x1106 },		\
	{ "key-command-timeout", required_argument, NULL, 0x1107 }

/* Returns 1 when opt was one of KEYSRC_LONGOPTS (stored), -1 for a bad
 * value (message printed), 0 otherwise. */
int keysrc_opt(struct keysrc_opts *o, int opt, const char *arg);

/* The slot type the options ask for: KEYSLOT_PKCS11 when a token label
 * is given, KEYSLOT_COMMAND when a key command is, else 0.  The
 * environment is not consulted: call keysrc_env() first for that. */
enum keyslot_type keysrc_type(const struct keysrc_opts *o);

/*
 * Environment fallbacks for unlocking (`phivault --volume NAME` exports
 * a profile's settings under these names, common/conf.c).  The helpers
 * PHIVAULT_KEY_LABEL, PHIVAULT_PIN_FILE and PHIVAULT_PIN_COMMAND fill
 * what the command line left unset.  A source is taken from the
 * environment only when the command line named none, in this order:
 * PHIVAULT_TOKEN_LABEL, PHIVAULT_KEY_COMMAND, PHIVAULT_KEYFILE,
 * so->env_file (read by secret_get), PHIVAULT_PASSPHRASE_COMMAND.
 * PHIVAULT_PKCS11_MODULE is read when a token is opened.
 */
void keysrc_env(struct secret_opts *so, struct keysrc_opts *ko);

/* Print a recovery key (n == 0) or its n shares with threshold m on
 * stdout, once.  0 or a negative code. */
int keysrc_recovery_print(const uint8_t *key, size_t len, unsigned int n,
			  unsigned int m);

/* A parsed recipe. */
struct keysrc_recipe {
	enum keyslot_type type;		/* KEYSLOT_PKCS11 or _COMMAND */
	char token[33];			/* PKCS#11 labels are <= 32 bytes */
	char key[128];
	char cmd[1024];			/* informational */
	uint8_t blob[2048];
	size_t bloblen;
};

/* Parse a recipe line; 0 or -PHV_EFORMAT. */
int keysrc_recipe_parse(const char *text, struct keysrc_recipe *rc);

/* Format a recipe line into buf; its length or -ENOSPC. */
int keysrc_recipe_format(const struct keysrc_recipe *rc, char *buf,
			 size_t size);

/*
 * For a new slot of type keysrc_type(o): draw a random S into
 * secret[0..KEYSRC_SECRET_LEN) (the caller's secmem) and wrap it with the
 * token or the key command, binding id; the recipe goes to buf.  Returns
 * 0 or a negative code, with the reason printed.
 */
int keysrc_new(const struct keysrc_opts *o,
	       const uint8_t id[static KEYSRC_ID_LEN],
	       uint8_t secret[static KEYSRC_SECRET_LEN], char *buf,
	       size_t size);

/*
 * Unwrap a recipe's S into secret, asking for the PIN if needed.  Returns
 * 0, -PHV_EBADKEY (wrong PIN, or the token or service refuses the blob),
 * -PHV_ENOTFOUND (no such token or key), -PHV_ETOKEN, -PHV_EKEYCMD,
 * -ETIMEDOUT, -PHV_ECONFIG (no module or command configured), with the
 * reason printed.  secret is wiped on failure.
 */
int keysrc_unwrap(const struct keysrc_opts *o,
		  const struct keysrc_recipe *rc,
		  const uint8_t id[static KEYSRC_ID_LEN],
		  uint8_t secret[static KEYSRC_SECRET_LEN]);

/*
 * Create an AES-256 wrapping key labelled o->key_label on the token
 * (non-extractable, sensitive, encrypt/decrypt only).  For
 * `phivault key token-keygen`; real HSMs usually have their own tools.
 */
int keysrc_token_keygen(const struct keysrc_opts *o);

struct vol;

/*
 * Unlock the volume in cipherdir for any subcommand.  With a token label
 * or a key command in ko, each token (or command) slot whose recipe
 * matches is unwrapped and tried; otherwise secret_get(so) and every slot
 * of that type.  Returns as vol_open() plus the keysrc_unwrap() codes,
 * with the reason printed; *volp is NULL on failure.
 */
int keysrc_unlock(const char *cipherdir, const struct secret_opts *so,
		  const struct keysrc_opts *ko, struct vol **volp);

/* Hex of a volume ID for PHIVAULT_VOLUME_ID and messages. */
void keysrc_id_hex(const uint8_t id[static KEYSRC_ID_LEN],
		   char out[static 2 * KEYSRC_ID_LEN + 1]);

#endif /* TOOLS_KEYSRC_H */
