// SPDX-License-Identifier: MIT
/*
 * chunker_test.c - content-defined chunking: boundaries are a function of
 * content and key, respect min/max, and survive an insertion; and the
 * manifest codec round-trips and rejects unsafe paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backup/chunker.h"
#include "backup/manifest.h"

#define LEN	(24U << 20)

static size_t cuts(const struct chunker *c, const uint8_t *p, size_t len,
		   size_t *out, size_t max)
{
	size_t off = 0, n = 0, k;

	while (off < len && n < max) {
		k = chunker_next(c, p + off, len - off, 1);
		assert_true(k > 0 && k <= c->max);
		off += k;
		out[n++] = off;
	}
	return n;
}

static uint8_t *random_data(size_t len, unsigned int seed)
{
	uint8_t *p = malloc(len);
	size_t i;

	srand(seed);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rand();
	return p;
}

static void test_boundaries(void **state)
{
	static uint8_t seed[CHUNKER_GEAR_BYTES], seed2[CHUNKER_GEAR_BYTES];
	struct chunker c, c2;
	uint8_t *d = random_data(LEN, 1), *s = malloc(LEN + 100);
	size_t a[256], b[256], e[256], na, nb, ne, i, j, common = 0;

	memset(seed, 7, sizeof(seed));
	for (i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 131 + 7), seed2[i] = (uint8_t)(i * 17);
	assert_int_equal(chunker_init(&c, seed, CHUNKER_MIN, CHUNKER_AVG,
				      CHUNKER_MAX), 0);
	assert_int_equal(chunker_init(&c2, seed2, CHUNKER_MIN, CHUNKER_AVG,
				      CHUNKER_MAX), 0);
	na = cuts(&c, d, LEN, a, 256);
	nb = cuts(&c, d, LEN, b, 256);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * sizeof(*a));	/* deterministic */
	for (i = 1; i + 1 < na; i++)
		assert_true(a[i] - a[i - 1] >= CHUNKER_MIN);
	assert_true(na > 8 && na < 60);			/* about 1 MiB avg */

	/* a different key gives different boundaries */
	ne = cuts(&c2, d, LEN, e, 256);
	assert_false(ne == na && !memcmp(a, e, na * sizeof(*a)));

	/* insert 100 bytes near the start: later boundaries shift by 100 */
	memcpy(s, d, 1000);
	memset(s + 1000, 0x55, 100);
	memcpy(s + 1100, d + 1000, LEN - 1000);
	nb = cuts(&c, s, LEN + 100, b, 256);
	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++)
			if (b[j] == a[i] + 100)
				common++;
	assert_true(common + 3 >= na);
	free(d);
	free(s);
}

static void test_manifest_round_trip(void **state)
{
	struct manifest m = { 0 }, d;
	struct mf_node *n;
	struct mf_extent *x;
	struct mf_pack *p;
	uint8_t *buf;
	size_t len;

	m.host = strdup("h");
	m.source = strdup("/src");
	m.time = 1700000000;
	p = manifest_add_pack(&m);
	p->version_id = strdup("v1");
	n = manifest_add_node(&m);
	n->path = strdup("");
	n->type = MF_DIR;
	n = manifest_add_node(&m);
	n->path = strdup("a/b.txt");
	n->type = MF_FILE;
	n->size = 5000;
	n->uname = strdup("alice");
	x = mf_node_add_extent(n);
	x->len = 4096;
	x->pack = 0;
	x->blob_off = 100;
	x->blob_len = 4124;
	x = mf_node_add_extent(n);
	x->off = 4096;
	x->len = 904;
	x->pack = MF_HOLE;
	assert_int_equal(manifest_encode(&m, &buf, &len), 0);
	assert_int_equal(manifest_decode(buf, len, &d), 0);
	assert_int_equal(d.nnodes, 2);
	assert_string_equal(d.nodes[1].path, "a/b.txt");
	assert_string_equal(d.nodes[1].uname, "alice");
	assert_int_equal(d.nodes[1].next, 2);
	assert_int_equal(d.nodes[1].ext[1].pack, MF_HOLE);
	assert_string_equal(d.packs[0].version_id, "v1");
	/* every truncation is rejected, never read past the end */
	for (; len > 0; len--)
		assert_int_not_equal(manifest_decode(buf, len - 1, &d), 0);
	free(buf);
	manifest_release(&d);

	free(m.nodes[1].path);
	m.nodes[1].path = strdup("a/../../etc");
	assert_int_equal(manifest_encode(&m, &buf, &len), 0);
	assert_int_not_equal(manifest_decode(buf, len, &d), 0);
	free(buf);
	manifest_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_manifest_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
