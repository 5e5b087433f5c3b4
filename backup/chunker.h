/* SPDX-License-Identifier: MIT */
/*
 * chunker.h - content-defined chunking (a FastCDC-style gear hash).
 *
 * A cut point is where a 64-bit gear hash of the preceding bytes has its
 * top bits all zero.  The gear table (256 random words) is derived from
 * the repository key, so boundaries depend on a secret: someone who knows
 * a file's contents cannot predict its chunk sizes, and chunk sizes seen
 * in the bucket do not fingerprint known plaintext.  Normalised chunking
 * (a stricter mask before the average size, a looser one after) narrows
 * the size spread around avg.  Since the hash only looks at the last 64
 * bytes, an insertion moves the boundaries near it and leaves the rest
 * where they were: the property dedup relies on.
 *
 * The chunker is a pure function of (table, bytes): no state between
 * calls, no allocation, no logging; safe from any number of threads.
 */
#ifndef BACKUP_CHUNKER_H
#define BACKUP_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKER_MIN	(512U << 10)
#define CHUNKER_AVG	(1U << 20)
#define CHUNKER_MAX	(8U << 20)
#define CHUNKER_GEAR_BYTES	(256 * 8)

struct chunker {
	uint64_t gear[256];
	size_t min, avg, max;	/* avg must be a power of two */
	uint64_t mask_s;	/* before avg: more bits, harder to cut */
	uint64_t mask_l;	/* after avg: fewer bits, easier to cut */
};

/*
 * Set up c from CHUNKER_GEAR_BYTES of key-derived randomness and the
 * sizes (min < avg < max, avg a power of two >= 256).
 * Returns 0 or -EINVAL.
 */
int chunker_init(struct chunker *c, const uint8_t seed[CHUNKER_GEAR_BYTES],
		 size_t min, size_t avg, size_t max);

/*
 * Length of the next chunk at the start of buf[0..len).  When no cut
 * point is found and len < max, returns 0 unless eof is set ("give me
 * more data"); at eof the rest (at most max) is the chunk.  Never
 * returns more than max or len.
 */
size_t chunker_next(const struct chunker *c, const uint8_t *buf, size_t len,
		    int eof);

#endif /* BACKUP_CHUNKER_H */
