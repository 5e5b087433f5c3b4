/* SPDX-License-Identifier: MIT */
/*
 * hex.h - base16 (RFC 4648, section 8) as phivault writes it: lower
 * case, two digits a byte, no separators.  It spells repository object
 * and snapshot ids, cache entry names, SigV4 digests, drill report
 * signatures, recovery shares and keys, and volume ids for key commands.
 *
 * Decoding is strict: an odd length or any character that is not a hex
 * digit is an error.  Upper case is refused unless the caller passes
 * HEX_ANY_CASE, so that names the program writes (object keys, report
 * signatures) have exactly one spelling, while text people type (recovery
 * shares) may be in capitals.  Neither direction branches on the data or
 * indexes a table with it, so secrets may pass through; on a failed
 * decode the output holds garbage, which the caller wipes if it matters.
 * Nothing here allocates or logs.
 */
#ifndef COMMON_HEX_H
#define COMMON_HEX_H

#include <stddef.h>

/* Characters needed to encode n bytes, without the NUL. */
#define HEX_ENCLEN(n)	(2 * (n))

enum hex_flags {
	/* also accept 'A'-'F' when decoding */
	HEX_ANY_CASE	= 1U << 0,
};

/*
 * Encode n bytes as lower-case hex into out (HEX_ENCLEN(n) + 1 bytes,
 * NUL-terminated).  Returns HEX_ENCLEN(n).
 */
size_t hex_encode(const void *in, size_t n, char *out);

/*
 * The value (0 to 15) of the hex digit c, or -1 when c is not one: '0' to
 * '9', 'a' to 'f', and 'A' to 'F' with HEX_ANY_CASE.  For callers that
 * skip separators or look for a run of digits themselves.
 */
int hex_digit(int c, unsigned int flags);

/*
 * Decode len characters of in into out (room for len / 2 bytes).
 * Returns the byte count, or -EINVAL when len is odd or a character is
 * not a hex digit (per flags); a NUL within len is such a character.
 */
long hex_decode(const char *in, size_t len, void *out, unsigned int flags);

#endif /* COMMON_HEX_H */
