// SPDX-License-Identifier: MIT
/*
 * keysrc.c - token and key-command slot secrets (see keysrc.h).
 *
 * The PIN is read by secret_get() with the PIN options in place of the
 * passphrase ones, so it gets the same rules: a file, a command with a
 * time-out, or the terminal with echo off, never the command line.  The
 * token binds "phivault token slot v1" and the volume ID as GCM
 * associated data; the key command gets the volume ID in its environment.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/hex.h"
#include "crypto/keycmd.h"
#include "crypto/shamir.h"
#include "crypto/secmem.h"
#include "fs/vol.h"
#include "keysrc.h"

#define KEYSRC_AD_PREFIX	"phivault token slot v1"

int keysrc_opt(struct keysrc_opts *o, int opt, const char *arg)
{
	char *end;
	long v;

	switch (opt) {
	case 0x1101: o->pkcs11_module = arg; return 1;
	case 0x1102: o->token_label = arg; return 1;
	case 0x1103: o->key_label = arg; return 1;
	case 0x1104: o->pin_file = arg; return 1;
	case 0x1105: o->pin_command = arg; return 1;
	case 0x1106: o->key_command = arg; return 1;
	case 0x1107:
		v = strtol(arg, &end, 10);
		if (*end || v < 1 || v > 3600) {
			fprintf(stderr, "phivault: --key-command-timeout "
				"wants seconds from 1 to 3600, not '%s'\n", arg);
			return -1;
		}
		o->timeout_ms = (int)v * 1000;
		return 1;
	default:
		return 0;
	}
}

enum keyslot_type keysrc_type(const struct keysrc_opts *o)
{
	if (o->token_label)
		return KEYSLOT_PKCS11;
	if (o->key_command)
		return KEYSLOT_COMMAND;
	return 0;
}

/* The value of environment variable name, or NULL when unset or empty. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void keysrc_env(struct secret_opts *so, struct keysrc_opts *ko)
{
	/* helpers of a source, never a source themselves */
	if (!ko->key_label)
		ko->key_label = env("PHIVAULT_KEY_LABEL");
	if (!ko->pin_file && !ko->pin_command)
		ko->pin_file = env("PHIVAULT_PIN_FILE");
	if (!ko->pin_file && !ko->pin_command)
		ko->pin_command = env("PHIVAULT_PIN_COMMAND");
	if (so->keyfile || so->passphrase_file || so->passphrase_command ||
	    ko->token_label || ko->key_command)
		return;
	if ((ko->token_label = env("PHIVAULT_TOKEN_LABEL")))
		return;
	if ((ko->key_command = env("PHIVAULT_KEY_COMMAND")))
		return;
	if ((so->keyfile = env("PHIVAULT_KEYFILE")))
		return;
	if (so->env_file && env(so->env_file))
		return;		/* secret_get() reads it */
	so->passphrase_command = env("PHIVAULT_PASSPHRASE_COMMAND");
}

void keysrc_id_hex(const uint8_t id[static KEYSRC_ID_LEN],
		   char out[static 2 * KEYSRC_ID_LEN + 1])
{
	hex_encode(id, KEYSRC_ID_LEN, out);
}

/* ---- recipe codec --------------------------------------------------- */

/* Decode "name=<b64>" field value into out (size bytes, NUL added when
 * text).  Returns the byte count or -PHV_EFORMAT. */
static long recipe_field(const char *val, size_t vlen, void *out,
			 size_t size, int text)
{
	long n;

	if (vlen > B64_ENCLEN(size - (size_t)text))
		return -PHV_EFORMAT;
	n = b64_decode(val, vlen, out);
	if (n < 0 || (text && (memchr(out, '\0', (size_t)n))))
		return -PHV_EFORMAT;
	if (text)
		((char *)out)[n] = '\0';
	return n;
}

int keysrc_recipe_parse(const char *text, struct keysrc_recipe *rc)
{
	const char *p = text, *eq, *end;
	long n = 0;

	memset(rc, 0, sizeof(*rc));
	if (!strncmp(p, "pkcs11 ", 7))
		rc->type = KEYSLOT_PKCS11;
	else if (!strncmp(p, "command ", 8))
		rc->type = KEYSLOT_COMMAND;
	else
		return -PHV_EFORMAT;
	p = strchr(p, ' ');
	while (p && *p == ' ') {
		p++;
		end = p + strcspn(p, " ");
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			return -PHV_EFORMAT;
		eq++;
		if (!strncmp(p, "token=", 6))
			n = recipe_field(eq, (size_t)(end - eq), rc->token,
					 sizeof(rc->token), 1);
		else if (!strncmp(p, "key=", 4))
			n = recipe_field(eq, (size_t)(end - eq), rc->key,
					 sizeof(rc->key), 1);
		else if (!strncmp(p, "cmd=", 4))
			n = recipe_field(eq, (size_t)(end - eq), rc->cmd,
					 sizeof(rc->cmd), 1);
		else if (!strncmp(p, "blob=", 5) &&
			 (n = recipe_field(eq, (size_t)(end - eq), rc->blob,
					   sizeof(rc->blob), 0)) >= 0)
			rc->bloblen = (size_t)n;
		/* unknown fields are kept for newer versions: ignored */
		if (n < 0)
			return -PHV_EFORMAT;
		p = *end ? end : NULL;
	}
	if (!rc->bloblen)
		return -PHV_EFORMAT;
	if (rc->type == KEYSLOT_PKCS11 &&
	    (!rc->token[0] || !rc->key[0] || rc->bloblen != P11_BLOB_LEN))
		return -PHV_EFORMAT;
	return 0;
}

/* Append " name=<b64>" to buf at *pos. */
static int recipe_add(char *buf, size_t size, size_t *pos, const char *name,
		      const void *p, size_t len)
{
	size_t need = 1 + strlen(name) + 1 + B64_ENCLEN(len) + 1;

	if (*pos + need > size)
		return -ENOSPC;
	*pos += (size_t)sprintf(buf + *pos, " %s=", name);
	*pos += b64_encode(p, len, buf + *pos);
	buf[*pos] = '\0';
	return 0;
}

int keysrc_recipe_format(const struct keysrc_recipe *rc, char *buf,
			 size_t size)
{
	size_t pos;
	int r = 0;

	if (size < 8)
		return -ENOSPC;
	pos = (size_t)sprintf(buf, "%s", rc->type == KEYSLOT_PKCS11 ?
			      "pkcs11" : "command");
	if (rc->type == KEYSLOT_PKCS11) {
		r = recipe_add(buf, size, &pos, "token", rc->token,
			       strlen(rc->token));
		if (!r)
			r = recipe_add(buf, size, &pos, "key", rc->key,
				       strlen(rc->key));
	} else if (rc->cmd[0]) {
		r = recipe_add(buf, size, &pos, "cmd", rc->cmd,
			       strlen(rc->cmd));
	}
	if (!r)
		r = recipe_add(buf, size, &pos, "blob", rc->blob,
			       rc->bloblen);
	return r ? r : (int)pos;
}

/*
 * The option's value, else $env; NULL when that is unset or empty, with
 * "no <what>: give <flag> or set <env>" printed.  For what is *run*: the
 * PKCS#11 module and the key command.
 */
static const char *opt_or_env(const char *opt, const char *env,
			      const char *what, const char *flag)
{
	const char *v = opt ? opt : getenv(env);

	if (v && *v)
		return v;
	fprintf(stderr, "phivault: no %s: give %s or set %s\n", what, flag,
		env);
	return NULL;
}

/* ---- token ------------------------------------------------------------ */

static const char *keysrc_module(const struct keysrc_opts *o)
{
	return opt_or_env(o->pkcs11_module, "PHIVAULT_PKCS11_MODULE",
			  "PKCS#11 module", "--pkcs11-module PATH");
}

static void keysrc_ad(const uint8_t id[static KEYSRC_ID_LEN],
		      uint8_t ad[static sizeof(KEYSRC_AD_PREFIX) - 1 +
				 KEYSRC_ID_LEN])
{
	memcpy(ad, KEYSRC_AD_PREFIX, sizeof(KEYSRC_AD_PREFIX) - 1);
	memcpy(ad + sizeof(KEYSRC_AD_PREFIX) - 1, id, KEYSRC_ID_LEN);
}

/* Print why a token call failed. */
static int token_fail(struct p11 *p, int r, const char *what,
		      const struct keysrc_opts *o, const char *token,
		      const char *key)
{
	const char *rv = p ? p11_rv_name(p11_last_rv(p)) : "";

	if (r == -PHV_ENOTFOUND && key)
		fprintf(stderr, "phivault: token '%s' has no key labelled "
			"'%s'\n", token, key);
	else if (r == -PHV_ENOTFOUND)
		fprintf(stderr, "phivault: no token labelled '%s' in module "
			"'%s' (is it plugged in?)\n", token,
			o->pkcs11_module ? o->pkcs11_module :
			getenv("PHIVAULT_PKCS11_MODULE"));
	else if (r == -PHV_EBADKEY && !key)
		fprintf(stderr, "phivault: wrong PIN for token '%s'\n", token);
	else if (r == -PHV_EBADKEY)
		fprintf(stderr, "phivault: token '%s' key '%s' refused this "
			"slot's wrapped key (another key, or the slot was "
			"altered) [%s]\n", token, key, rv);
	else if (r == -EACCES)
		fprintf(stderr, "phivault: the PIN of token '%s' is locked\n",
			token);
	else
		fprintf(stderr, "phivault: %s: %s%s%s%s\n", what,
			phv_strerror(r), *rv ? " [" : "", rv, *rv ? "]" : "");
	return r;
}

/* Open the token by label and log in with the PIN from o. */
static int token_open(const struct keysrc_opts *o, const char *token,
		      struct p11 **pp)
{
	struct secret_opts so = {
		.passphrase_file = o->pin_file,
		.passphrase_command = o->pin_command,
		.what = "token PIN",
		.hint = "--pin-file FILE, --pin-command CMD or "
			"PHIVAULT_PIN_FILE",
	};
	struct secret pin = { 0 };
	const char *module = keysrc_module(o);
	char prompt[96];
	int r;

	*pp = NULL;
	if (!module)
		return -PHV_ECONFIG;
	r = p11_open(module, token, pp);
	if (r == -PHV_ETOKEN && !*pp) {
		fprintf(stderr, "phivault: cannot load PKCS#11 module '%s' or "
			"initialise it\n", module);
		return r;
	}
	if (r)
		return token_fail(NULL, r, "opening token", o, token, NULL);
	snprintf(prompt, sizeof(prompt), "PIN for token '%s': ", token);
	r = secret_get(&so, prompt, 0, &pin);
	if (!r) {
		r = p11_login(*pp, pin.data, pin.len);
		if (r)
			token_fail(*pp, r, "logging in", o, token, NULL);
	}
	secret_release(&pin);
	if (r) {
		p11_close(*pp);
		*pp = NULL;
	}
	return r;
}

int keysrc_token_keygen(const struct keysrc_opts *o)
{
	struct p11 *p;
	int r;

	if (!o->token_label || !o->key_label) {
		fprintf(stderr, "phivault: --token-label and --key-label are "
			"needed\n");
		return -EINVAL;
	}
	r = token_open(o, o->token_label, &p);
	if (r)
		return r;
	r = p11_keygen(p, o->key_label);
	if (r == -EEXIST)
		fprintf(stderr, "phivault: token '%s' already has a key "
			"labelled '%s'\n", o->token_label, o->key_label);
	else if (r)
		token_fail(p, r, "creating the key", o, o->token_label, NULL);
	p11_close(p);
	return r;
}

/* ---- new slots and unlocking ------------------------------------------ */

static const char *keysrc_command(const struct keysrc_opts *o)
{
	return opt_or_env(o->key_command, "PHIVAULT_KEY_COMMAND",
			  "key command", "--key-command CMD");
}

static int command_fail(int r, int status, const char *cmd, int timeout_ms)
{
	if (r == -ETIMEDOUT)
		fprintf(stderr, "phivault: key command '%s' did not answer "
			"within %d s and was killed\n", cmd,
			(timeout_ms ? timeout_ms : KEYCMD_TIMEOUT_MS) / 1000);
	else if (r == -PHV_EKEYCMD)
		fprintf(stderr, "phivault: key command '%s' failed (exit "
			"status %d)\n", cmd, status);
	else if (r == -ENOEXEC)
		fprintf(stderr, "phivault: key command '%s' could not be run "
			"(not found?)\n", cmd);
	else if (r == -PHV_EFORMAT)
		fprintf(stderr, "phivault: key command '%s' did not print one "
			"line of base64 of the right length\n", cmd);
	else
		fprintf(stderr, "phivault: key command '%s': %s\n", cmd,
			phv_strerror(r));
	return r;
}

static int keysrc_new_token(const struct keysrc_opts *o,
			    const uint8_t id[static KEYSRC_ID_LEN],
			    const uint8_t *secret, struct keysrc_recipe *rc)
{
	uint8_t ad[sizeof(KEYSRC_AD_PREFIX) - 1 + KEYSRC_ID_LEN];
	struct p11 *p;
	int r;

	if (!o->key_label || strlen(o->token_label) >= sizeof(rc->token) ||
	    strlen(o->key_label) >= sizeof(rc->key)) {
		fprintf(stderr, "phivault: a token slot needs --token-label "
			"(<= 32 bytes) and --key-label\n");
		return -EINVAL;
	}
	r = token_open(o, o->token_label, &p);
	if (r)
		return r;
	keysrc_ad(id, ad);
	r = p11_wrap(p, o->key_label, ad, sizeof(ad), secret, rc->blob);
	if (r)
		token_fail(p, r, "wrapping the slot key", o, o->token_label,
			   o->key_label);
	p11_close(p);
	rc->bloblen = P11_BLOB_LEN;
	strcpy(rc->token, o->token_label);
	strcpy(rc->key, o->key_label);
	return r;
}

int keysrc_new(const struct keysrc_opts *o,
	       const uint8_t id[static KEYSRC_ID_LEN],
	       uint8_t secret[static KEYSRC_SECRET_LEN], char *buf,
	       size_t size)
{
	struct keysrc_recipe *rc = calloc(1, sizeof(*rc));
	char hex[2 * KEYSRC_ID_LEN + 1];
	const char *cmd;
	int r, status;

	if (!rc)
		return -ENOMEM;
	r = secmem_random(secret, KEYSRC_SECRET_LEN);
	if (r)
		goto out;
	rc->type = keysrc_type(o);
	if (rc->type == KEYSLOT_PKCS11) {
		r = keysrc_new_token(o, id, secret, rc);
	} else if (rc->type == KEYSLOT_COMMAND) {
		r = -PHV_ECONFIG;
		cmd = keysrc_command(o);
		if (!cmd)
			goto out;
		keysrc_id_hex(id, hex);
		r = keycmd_wrap(cmd, hex, o->timeout_ms, secret, rc->blob,
				&rc->bloblen, &status);
		if (r)
			command_fail(r, status, cmd, o->timeout_ms);
		if (strlen(cmd) < sizeof(rc->cmd))
			strcpy(rc->cmd, cmd);
	} else {
		r = -EINVAL;
	}
	if (!r) {
		r = keysrc_recipe_format(rc, buf, size);
		r = r < 0 ? r : 0;
	}
out:
	if (r)
		secmem_wipe(secret, KEYSRC_SECRET_LEN);
	free(rc);
	return r;
}

int keysrc_unwrap(const struct keysrc_opts *o,
		  const struct keysrc_recipe *rc,
		  const uint8_t id[static KEYSRC_ID_LEN],
		  uint8_t secret[static KEYSRC_SECRET_LEN])
{
	uint8_t ad[sizeof(KEYSRC_AD_PREFIX) - 1 + KEYSRC_ID_LEN];
	char hex[2 * KEYSRC_ID_LEN + 1];
	struct p11 *p = NULL;
	const char *cmd;
	int r, status;

	secmem_wipe(secret, KEYSRC_SECRET_LEN);
	if (rc->type == KEYSLOT_PKCS11) {
		r = token_open(o, rc->token, &p);
		if (r)
			return r;
		keysrc_ad(id, ad);
		r = p11_unwrap(p, rc->key, ad, sizeof(ad), rc->blob, secret);
		if (r)
			token_fail(p, r, "unwrapping the slot key", o,
				   rc->token, rc->key);
		p11_close(p);
		return r;
	}
	cmd = keysrc_command(o);
	if (!cmd)
		return -PHV_ECONFIG;
	keysrc_id_hex(id, hex);
	r = keycmd_unwrap(cmd, hex, o->timeout_ms, rc->blob, rc->bloblen,
			  secret, &status);
	if (r)
		command_fail(r, status, cmd, o->timeout_ms);
	return r;
}

static int unlock_fail(const char *cipherdir, int r)
{
	if (r == -PHV_EBADKEY)
		fprintf(stderr, "phivault: no key slot of '%s' opens with that "
			"secret (wrong passphrase or key file?)\n", cipherdir);
	else if (r == -PHV_EAUTH)
		fprintf(stderr, "phivault: %s/%s failed its integrity check "
			"(MAC mismatch): the configuration was altered; "
			"refusing to use it\n", cipherdir, VOL_CONF_NAME);
	else if (r == -PHV_ECONFIG)
		fprintf(stderr, "phivault: %s/%s is missing or damaged: not "
			"a phivault volume?\n", cipherdir, VOL_CONF_NAME);
	else if (r)
		fprintf(stderr, "phivault: cannot unlock '%s': %s\n",
			cipherdir, phv_strerror(r));
	return r;
}

/* Try every token or command slot that the options can serve. */
static int unlock_wrapped(const char *cipherdir,
			  const struct keysrc_opts *ko, struct vol **volp)
{
	enum keyslot_type type = keysrc_type(ko);
	struct keysrc_recipe *rc = calloc(1, sizeof(*rc));
	uint8_t *s = secmem_alloc(KEYSRC_SECRET_LEN);
	char *text = malloc(VOL_SLOT_RECIPE_MAX);
	struct vol_info *info = calloc(1, sizeof(*info));
	unsigned int i;
	int r;

	r = rc && s && text && info ? vol_info_read(cipherdir, info) : -ENOMEM;
	if (!r)
		r = -PHV_ENOTFOUND;
	for (i = 0; info && i < info->nslots && r; i++) {
		if (info->slots[i].type != type ||
		    vol_slot_recipe(cipherdir, info->slots[i].id, text,
				    VOL_SLOT_RECIPE_MAX) ||
		    keysrc_recipe_parse(text, rc) ||
		    (type == KEYSLOT_PKCS11 &&
		     strcmp(rc->token, ko->token_label)))
			continue;
		r = keysrc_unwrap(ko, rc, info->id, s);
		if (!r)
			r = vol_open(cipherdir, type, s, KEYSRC_SECRET_LEN,
				     volp);
		if (r && r != -PHV_EBADKEY)
			break;
	}
	if (r == -PHV_ENOTFOUND)
		fprintf(stderr, "phivault: '%s' has no %s slot%s%s\n",
			cipherdir, keyslot_type_name(type),
			type == KEYSLOT_PKCS11 ? " for token " : "",
			type == KEYSLOT_PKCS11 ? ko->token_label : "");
	else
		unlock_fail(cipherdir, r);
	secmem_free(s, KEYSRC_SECRET_LEN);
	free(rc);
	free(text);
	free(info);
	return r;
}

int keysrc_unlock(const char *cipherdir, const struct secret_opts *so,
		  const struct keysrc_opts *ko, struct vol **volp)
{
	struct secret_opts so2 = *so;
	struct keysrc_opts ko2 = *ko;
	struct secret s = { 0 };
	char prompt[PATH_MAX + 32];
	int r;

	*volp = NULL;
	keysrc_env(&so2, &ko2);
	if (keysrc_type(&ko2))
		return unlock_wrapped(cipherdir, &ko2, volp);
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", cipherdir);
	r = secret_get(&so2, prompt, 0, &s);
	if (r)
		return r;
	r = vol_open(cipherdir, s.type, s.data, s.len, volp);
	secret_release(&s);
	return unlock_fail(cipherdir, r);
}

int keysrc_recovery_print(const uint8_t *key, size_t len, unsigned int n,
			  unsigned int m)
{
	struct shamir_share *sh = NULL;
	char text[SHAMIR_TEXT_MAX(SHAMIR_SECRET_MAX) + 1];
	unsigned int i;
	int r;

	if (!n) {
		r = shamir_key_encode(key, len, text, sizeof(text));
		if (r > 0)
			printf("%s\n", text);
		secmem_wipe(text, sizeof(text));
		return r > 0 ? 0 : r;
	}
	sh = secmem_alloc(n * sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	r = shamir_share_split(key, len, n, m, sh);
	for (i = 0; i < n && !r; i++) {
		r = shamir_share_encode(&sh[i], text, sizeof(text));
		if (r >= 0) {
			printf("share %u of %u (any %u restore): %s\n", i + 1,
			       n, m, text);
			r = 0;
		}
	}
	fflush(stdout);
	secmem_wipe(text, sizeof(text));
	secmem_free(sh, n * sizeof(*sh));
	return r;
}
