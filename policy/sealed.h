/* SPDX-License-Identifier: MIT */
/*
 * sealed.h - small text files kept in the volume's backing directory and
 * authenticated with a volume-derived key: the active policy, the live
 * grants and the audit log's trusted tail.
 *
 * Layout: one header line "phivault-sealed v1 KIND MAC" and the body.
 * MAC is base64url of HMAC-SHA-256(key, "phivault sealed v1" NUL KIND NUL
 * body); KIND ("policy", "grants", "audit-state") keeps one file from
 * being passed off as another.  The body is not encrypted: the policy is
 * no secret, and grants hold ticket numbers, not health information.
 * A seal proves a file genuine, not current: an older, genuinely sealed
 * file put back in place passes here.  Callers that care pin the current
 * one in the MAC'd volume config (the policy by its SHA-256, the grants
 * by a generation number; docs/POLICY.md).
 * Writes go to a temporary file that is fsynced and renamed into place,
 * then the directory is fsynced.  Files are created 0600.
 */
#ifndef POLICY_SEALED_H
#define POLICY_SEALED_H

#include <stddef.h>
#include <stdint.h>

#define SEALED_KEY_LEN	32

/* Seal body[0..len) under kind and key and write it atomically to path. */
int sealed_write(const char *path, const char *kind,
		 const uint8_t key[static SEALED_KEY_LEN],
		 const char *body, size_t len);

/*
 * Read path, check its kind and MAC, and return the body in *bodyp
 * (malloc'd, NUL-terminated; free it) with its length in *lenp.
 * Returns 0, -ENOENT, -PHV_EFORMAT (not a sealed file of this kind),
 * -PHV_EAUTH (edited or sealed with another key) or -errno.
 */
int sealed_read(const char *path, const char *kind,
		const uint8_t key[static SEALED_KEY_LEN],
		char **bodyp, size_t *lenp);

/* HMAC-SHA-256 over the concatenation of n pieces; 0 or -PHV_ECRYPTO. */
struct sealed_piece {
	const void *p;
	size_t len;
};
int sealed_hmac(const uint8_t *key, size_t keylen,
		const struct sealed_piece *pieces, int n, uint8_t out[32]);

/* Read a whole (small, < 16 MiB) file; *bufp malloc'd and NUL-ended. */
int sealed_slurp(const char *path, char **bufp, size_t *lenp);

#endif /* POLICY_SEALED_H */
