/* SPDX-License-Identifier: MIT */
/*
 * keycmd.h - wrap and unwrap a key slot's secret through an external key
 * service command (AWS KMS, Vault transit, an in-house KMS...), so
 * phivault needs none of their SDKs.
 *
 * Protocol (docs/KEYS.md, "Key command protocol"): the configured command
 * line is run by /bin/sh with one more argument, "wrap" or "unwrap".  Its
 * standard input is one line of standard base64 (RFC 4648 section 4, with
 * padding): the 32-byte secret for wrap, the wrapped blob for unwrap.  It
 * prints one line of base64 on standard output: the wrapped blob (1 to
 * KEYCMD_BLOB_MAX bytes, opaque to phivault) or the 32-byte secret.  Exit
 * status 0 means success; anything else is failure, and its standard
 * error passes through to the user.  The environment carries
 * PHIVAULT_KEY_OP (wrap/unwrap) and PHIVAULT_VOLUME_ID (hex), which a
 * service should bind as encryption context.  The command runs in its
 * own process group, which is killed when the time-out expires.
 *
 * The clear secret is only in secmem buffers here.  Nothing here logs.
 */
#ifndef CRYPTO_KEYCMD_H
#define CRYPTO_KEYCMD_H

#include <stddef.h>
#include <stdint.h>

#define KEYCMD_SECRET_LEN	32
#define KEYCMD_BLOB_MAX		2048
#define KEYCMD_TIMEOUT_MS	30000

/*
 * Run `cmd wrap` on secret; the blob (*bloblen bytes) goes to blob, which
 * holds KEYCMD_BLOB_MAX.  context is the volume ID in hex (or NULL).
 * timeout_ms <= 0 means KEYCMD_TIMEOUT_MS.  *exitp receives the exit
 * status (128 + signal when killed by one, -1 when it never ran).
 * Returns 0, -ETIMEDOUT (killed after the time-out), -PHV_EKEYCMD (exit
 * status not 0), -PHV_EFORMAT (output not one line of base64 of a valid
 * length), -ENOEXEC (cannot start /bin/sh) or -errno.
 */
int keycmd_wrap(const char *cmd, const char *context, int timeout_ms,
		const uint8_t secret[static KEYCMD_SECRET_LEN],
		uint8_t *blob, size_t *bloblen, int *exitp);

/*
 * Run `cmd unwrap` on blob[0..bloblen); the 32-byte result goes to
 * secret.  Returns as keycmd_wrap(); secret is wiped on failure.  A key
 * service that refuses the blob should exit non-zero (-PHV_EKEYCMD); a
 * wrong secret it returns is caught by the key slot (-PHV_EBADKEY).
 */
int keycmd_unwrap(const char *cmd, const char *context, int timeout_ms,
		  const uint8_t *blob, size_t bloblen,
		  uint8_t secret[static KEYCMD_SECRET_LEN], int *exitp);

#endif /* CRYPTO_KEYCMD_H */
