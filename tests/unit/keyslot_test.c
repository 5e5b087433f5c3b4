// SPDX-License-Identifier: MIT
/*
 * keyslot_test.c - crypto/keyslot: seal and open a master key under a
 * passphrase and a key file, refuse a wrong secret and every altered
 * field, and round-trip the one-line text form, rejecting malformed lines
 * without writing past any buffer.  Argon2 runs at 1 pass, 64 KiB so the
 * whole file takes well under a second.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/b64.h"
#include "common/err.h"
#include "crypto/keyslot.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct kdf_argon2_params test_argon = {
	.t_cost = 1, .m_cost = 64, .lanes = 1,
};

static const char passphrase[] = "correct horse battery staple";
static const uint8_t keyfile[64] = {
	0x5b, 0x0e, 0x91, 0x2c, 0xd4, 0x77, 0x13, 0xa8, 0x3f, 0x60, 0xbe,
};

struct fixture {
	uint8_t container[KEYSLOT_CONTAINER_LEN];
	uint8_t master[KEYSLOT_MASTER_LEN];
	struct keyslot pass;	/* slot 1: passphrase */
	struct keyslot file;	/* slot 2: key file */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	size_t i;

	if (!f)
		return -1;
	for (i = 0; i < sizeof(f->container); i++)
		f->container[i] = (uint8_t)(0xc0 + i);
	for (i = 0; i < sizeof(f->master); i++)
		f->master[i] = (uint8_t)(i * 29 + 1);
	f->pass.id = 1;
	f->pass.type = KEYSLOT_PASSPHRASE;
	f->pass.argon = test_argon;
	snprintf(f->pass.label, sizeof(f->pass.label), "admin passphrase");
	f->file.id = 2;
	f->file.type = KEYSLOT_KEYFILE;
	if (keyslot_seal(&f->pass, f->container, passphrase,
			 strlen(passphrase), f->master) ||
	    keyslot_seal(&f->file, f->container, keyfile, sizeof(keyfile),
			 f->master)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static int slot_open(const struct fixture *f, const struct keyslot *s,
		     uint8_t out[KEYSLOT_MASTER_LEN])
{
	if (s->type == KEYSLOT_PASSPHRASE)
		return keyslot_open(s, f->container, passphrase,
				    strlen(passphrase), out);
	return keyslot_open(s, f->container, keyfile, sizeof(keyfile), out);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t out[KEYSLOT_MASTER_LEN];

	assert_int_equal(slot_open(f, &f->pass, out), 0);
	assert_memory_equal(out, f->master, sizeof(out));
	memset(out, 0, sizeof(out));
	assert_int_equal(slot_open(f, &f->file, out), 0);
	assert_memory_equal(out, f->master, sizeof(out));
	/* a key file slot carries no Argon2 cost */
	assert_int_equal(f->file.argon.t_cost, 0);
	/* the sealed key is not the key */
	assert_memory_not_equal(f->pass.sealed, f->master, sizeof(out));
}

static void test_two_seals_differ(void **state)
{
	struct fixture *f = *state;
	struct keyslot s = f->pass;

	assert_int_equal(keyslot_seal(&s, f->container, passphrase,
				      strlen(passphrase), f->master), 0);
	assert_memory_not_equal(s.salt, f->pass.salt, sizeof(s.salt));
	assert_memory_not_equal(s.nonce, f->pass.nonce, sizeof(s.nonce));
	assert_memory_not_equal(s.sealed, f->pass.sealed, sizeof(s.sealed));
}

static void test_wrong_secret(void **state)
{
	struct fixture *f = *state;
	uint8_t out[KEYSLOT_MASTER_LEN], kf[sizeof(keyfile)];

	memset(out, 0x55, sizeof(out));
	assert_int_equal(keyslot_open(&f->pass, f->container, "correct horse",
				      13, out), -PHV_EBADKEY);
	/* master is wiped on failure */
	assert_memory_not_equal(out, f->master, sizeof(out));
	assert_int_equal(keyslot_open(&f->pass, f->container, passphrase,
				      strlen(passphrase) - 1, out),
			 -PHV_EBADKEY);
	assert_int_equal(keyslot_open(&f->pass, f->container, "", 0, out),
			 -PHV_EBADKEY);
	memcpy(kf, keyfile, sizeof(kf));
	kf[63] ^= 1;
	assert_int_equal(keyslot_open(&f->file, f->container, kf, sizeof(kf),
				      out), -PHV_EBADKEY);
	/* the passphrase does not open the key file slot, nor vice versa */
	assert_int_equal(keyslot_open(&f->file, f->container, passphrase,
				      strlen(passphrase), out), -PHV_EBADKEY);
	assert_int_equal(keyslot_open(&f->pass, f->container, keyfile,
				      sizeof(keyfile), out), -PHV_EBADKEY);
}

/* Each field the seal binds, altered in turn, must make the slot refuse. */
static void test_tampered_fields(void **state)
{
	struct fixture *f = *state;
	uint8_t out[KEYSLOT_MASTER_LEN], other[KEYSLOT_CONTAINER_LEN];
	const struct keyslot *orig;
	struct keyslot s;
	int k;

	for (k = 0; k < 2; k++) {
		orig = k ? &f->file : &f->pass;

		s = *orig;
		s.id++;
		assert_int_equal(slot_open(f, &s, out), -PHV_EBADKEY);

		s = *orig;
		s.salt[3] ^= 0x10;
		assert_int_equal(slot_open(f, &s, out), -PHV_EBADKEY);

		s = *orig;
		s.nonce[0] ^= 1;
		assert_int_equal(slot_open(f, &s, out), -PHV_EBADKEY);

		s = *orig;
		s.sealed[31] ^= 0x80;
		assert_int_equal(slot_open(f, &s, out), -PHV_EBADKEY);

		s = *orig;
		s.tag[15] ^= 1;
		assert_int_equal(slot_open(f, &s, out), -PHV_EBADKEY);

		/* the same slot presented for another volume */
		memcpy(other, f->container, sizeof(other));
		other[0] ^= 1;
		if (orig->type == KEYSLOT_PASSPHRASE)
			assert_int_equal(keyslot_open(orig, other, passphrase,
						      strlen(passphrase), out),
					 -PHV_EBADKEY);
		else
			assert_int_equal(keyslot_open(orig, other, keyfile,
						      sizeof(keyfile), out),
					 -PHV_EBADKEY);
	}

	/* lowering (or changing) the Argon2 cost is caught */
	s = f->pass;
	s.argon.m_cost = 32;
	assert_int_equal(slot_open(f, &s, out), -PHV_EBADKEY);
	s = f->pass;
	s.argon.t_cost = 2;
	assert_int_equal(slot_open(f, &s, out), -PHV_EBADKEY);
	s = f->pass;
	s.argon.lanes = 2;
	s.argon.m_cost = 64;
	assert_int_equal(slot_open(f, &s, out), -PHV_EBADKEY);

	/* a key file slot relabelled as a token, and the other way round */
	s = f->file;
	s.type = KEYSLOT_PKCS11;
	assert_int_equal(keyslot_open(&s, f->container, keyfile,
				      sizeof(keyfile), out), -PHV_EBADKEY);
	s = f->file;
	s.type = KEYSLOT_PASSPHRASE;
	s.argon = test_argon;
	assert_int_equal(keyslot_open(&s, f->container, keyfile,
				      sizeof(keyfile), out), -PHV_EBADKEY);

	/* the untouched slots still open */
	assert_int_equal(slot_open(f, &f->pass, out), 0);
	assert_int_equal(slot_open(f, &f->file, out), 0);
}

static void test_format_parse(void **state)
{
	struct fixture *f = *state;
	char line[KEYSLOT_LINE_MAX], again[KEYSLOT_LINE_MAX];
	uint8_t out[KEYSLOT_MASTER_LEN];
	struct keyslot p;
	int n, k;

	for (k = 0; k < 2; k++) {
		const struct keyslot *s = k ? &f->file : &f->pass;

		n = keyslot_format(s, line, sizeof(line));
		assert_true(n > 0);
		assert_int_equal((size_t)n, strlen(line));
		assert_null(strchr(line, '\n'));
		assert_int_equal(keyslot_parse(line, &p), 0);
		assert_int_equal(p.id, s->id);
		assert_int_equal(p.type, s->type);
		assert_int_equal(p.created, s->created);
		assert_memory_equal(&p.argon, &s->argon, sizeof(p.argon));
		assert_memory_equal(p.salt, s->salt, sizeof(p.salt));
		assert_memory_equal(p.nonce, s->nonce, sizeof(p.nonce));
		assert_memory_equal(p.sealed, s->sealed, sizeof(p.sealed));
		assert_memory_equal(p.tag, s->tag, sizeof(p.tag));
		assert_string_equal(p.label, s->label);
		assert_int_equal(slot_open(f, &p, out), 0);
		assert_memory_equal(out, f->master, sizeof(out));
		/* formatting the parsed slot gives the same line */
		assert_int_equal(keyslot_format(&p, again, sizeof(again)), n);
		assert_string_equal(again, line);
	}
	/* the line never shows the label or any key in the clear */
	n = keyslot_format(&f->pass, line, sizeof(line));
	assert_null(strstr(line, "admin"));
	/* too small a buffer */
	assert_int_equal(keyslot_format(&f->pass, line, 20), -ENOSPC);
}

/* The longest label a slot can hold survives the round trip. */
static void test_long_label(void **state)
{
	struct fixture *f = *state;
	char line[KEYSLOT_LINE_MAX];
	struct keyslot s = f->file, p;

	memset(s.label, 'L', sizeof(s.label) - 1);
	s.label[sizeof(s.label) - 1] = '\0';
	assert_true(keyslot_format(&s, line, sizeof(line)) > 0);
	assert_int_equal(keyslot_parse(line, &p), 0);
	assert_string_equal(p.label, s.label);
}

/*
 * Parsed into a keyslot with guard bytes after it: a parser that writes
 * past the struct (or aborts on a smashed stack) fails here.
 */
struct guarded {
	struct keyslot s;
	uint8_t guard[256];
};

static int parse_guarded(const char *line)
{
	struct guarded *g = malloc(sizeof(*g));
	size_t i;
	int r;

	assert_non_null(g);
	memset(g->guard, 0xee, sizeof(g->guard));
	r = keyslot_parse(line, &g->s);
	for (i = 0; i < sizeof(g->guard); i++)
		if (g->guard[i] != 0xee)
			fail_msg("keyslot_parse wrote past the slot for '%.60s'",
				 line);
	free(g);
	return r;
}

static void test_garbage_lines(void **state)
{
	struct fixture *f = *state;
	char good[KEYSLOT_LINE_MAX], bad[3000], tok[7][400];
	static const char *const lines[] = {
		"",
		"garbage",
		"1 passphrase",
		"1 passphrase 1700000000 argon2id:1:64:1",
		"slot 1 passphrase 1700000000 argon2id:1:64:1 AAAA AAAA -",
		"1 password 1700000000 argon2id:1:64:1 AAAAAAAAAAAAAAAAAAAAAA "
		"AAAA -",
	};
	size_t i;
	int n, j;

	for (i = 0; i < NELEM(lines); i++)
		assert_int_equal(parse_guarded(lines[i]), -PHV_EFORMAT);

	/* take a good line apart and spoil one field at a time */
	assert_true(keyslot_format(&f->pass, good, sizeof(good)) > 0);
	n = sscanf(good, "%399s %399s %399s %399s %399s %399s %399s", tok[0],
		   tok[1], tok[2], tok[3], tok[4], tok[5], tok[6]);
	assert_int_equal(n, 7);
	assert_int_equal(parse_guarded(good), 0);

	for (j = 0; j < 7; j++) {
		const char *const *subst;
		char saved[400];
		size_t k;
		/* per field: replacements that must all be refused */
		static const char *const id_bad[] = { "0", "one", NULL };
		static const char *const type_bad[] = { "passw0rd", "",
							NULL };
		static const char *const kdf_bad[] = {
			"hkdf", "argon2id", "argon2id:1:64", "scrypt:1:2:3",
			NULL };
		static const char *const b64_bad[] = {
			"AAAA", "A", "AAAAAAAAAAAAAAAAAAAAAA==", "AAAA+/AAAAA",
			"AAAAAAAAAAAAAAAAAAAAAB", NULL };
		static const char *const label_bad[] = { "%%%", "A", NULL };

		switch (j) {
		case 0: subst = id_bad; break;
		case 1: subst = type_bad; break;
		case 2: continue;	/* any integer is a valid time */
		case 3: subst = kdf_bad; break;
		case 4: case 5: subst = b64_bad; break;
		default: subst = label_bad; break;
		}
		memcpy(saved, tok[j], sizeof(saved));
		for (k = 0; subst[k]; k++) {
			snprintf(tok[j], sizeof(tok[j]), "%s", subst[k]);
			snprintf(bad, sizeof(bad), "%s %s %s %s %s %s %s",
				 tok[0], tok[1], tok[2], tok[3], tok[4],
				 tok[5], tok[6]);
			if (parse_guarded(bad) != -PHV_EFORMAT)
				fail_msg("accepted field %d = '%s'", j,
					 subst[k]);
		}
		memcpy(tok[j], saved, sizeof(saved));
	}

	/* overlong base64 fields: valid alphabet, far too many characters */
	for (j = 4; j < 7; j++) {
		char saved[400];

		memcpy(saved, tok[j], sizeof(saved));
		memset(tok[j], 'A', 300);
		tok[j][300] = '\0';
		snprintf(bad, sizeof(bad), "%s %s %s %s %s %s %s", tok[0],
			 tok[1], tok[2], tok[3], tok[4], tok[5], tok[6]);
		if (parse_guarded(bad) != -PHV_EFORMAT)
			fail_msg("accepted a 300-character field %d", j);
		/* just over each field's size, the likeliest off-by-one */
		for (n = 20; n < 180; n++) {
			memset(tok[j], 'A', (size_t)n);
			tok[j][n] = '\0';
			snprintf(bad, sizeof(bad), "%s %s %s %s %s %s %s",
				 tok[0], tok[1], tok[2], tok[3], tok[4],
				 tok[5], tok[6]);
			(void)parse_guarded(bad);
		}
		memcpy(tok[j], saved, sizeof(saved));
	}
	/* the label may hold at most KEYSLOT_LABEL_MAX - 1 bytes */
	memset(tok[6], 'A', B64_ENCLEN(KEYSLOT_LABEL_MAX));
	tok[6][B64_ENCLEN(KEYSLOT_LABEL_MAX)] = '\0';
	snprintf(bad, sizeof(bad), "%s %s %s %s %s %s %s", tok[0], tok[1],
		 tok[2], tok[3], tok[4], tok[5], tok[6]);
	assert_int_equal(parse_guarded(bad), -PHV_EFORMAT);
}

static void test_type_names(void **state)
{
	assert_string_equal(keyslot_type_name(KEYSLOT_PASSPHRASE),
			    "passphrase");
	assert_string_equal(keyslot_type_name(KEYSLOT_KEYFILE), "keyfile");
	assert_string_equal(keyslot_type_name((enum keyslot_type)99),
			    "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_seals_differ, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrong_secret, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tampered_fields, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_format_parse, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_long_label, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_garbage_lines, setup,
						teardown),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests_name("keyslot", tests, NULL, NULL);
}
