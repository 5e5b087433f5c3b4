/* SPDX-License-Identifier: MIT */
/*
 * b64.h - unpadded base64url (RFC 4648, section 5), the encoding of
 * encrypted names on the backing filesystem and of binary fields in
 * phivault's text configuration files.  The alphabet has no '/' and no
 * '.', so an encoded name is always a valid, non-reserved file name.
 */
#ifndef COMMON_B64_H
#define COMMON_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes, without the NUL. */
#define B64_ENCLEN(n)	(((n) * 4 + 2) / 3)

/* Encode n bytes into out (B64_ENCLEN(n) + 1 bytes); returns the length. */
size_t b64_encode(const void *in, size_t n, char *out);

/*
 * Decode len characters into out (room for len * 3 / 4 bytes).  Returns
 * the byte count, or -EINVAL for a character outside the alphabet or an
 * impossible length.
 */
long b64_decode(const char *in, size_t len, void *out);

#endif /* COMMON_B64_H */
