// SPDX-License-Identifier: MIT
/*
 * cmd_key.c - `phivault key`: list, add and remove key slots, create
 * token keys, and split or combine recovery keys.
 *
 * Subcommands are a second table, like the top-level one.  Secrets are
 * read from files, commands or the terminal (secret.h, keysrc.h), never
 * from the command line, and never printed, except a new recovery key
 * or its shares, which are printed once on purpose.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "crypto/secmem.h"
#include "crypto/shamir.h"
#include "fs/vol.h"
#include "cliaudit.h"
#include "cmd.h"
#include "keysrc.h"
#include "keytree.h"
#include "secret.h"
#include "unlock.h"

#define RECOVERY_LEN	32

/* ---- list ----------------------------------------------------------- */

static int key_list(int argc, char **argv)
{
	struct vol_info *info;
	char when[32];
	unsigned int i;
	struct tm tm;
	time_t t;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: phivault key list CIPHERDIR\n");
		return EXIT_USAGE;
	}
	info = calloc(1, sizeof(*info));
	if (!info)
		return EXIT_FAIL;
	r = vol_info_read(argv[1], info);
	if (r) {
		fprintf(stderr, "phivault: cannot read the configuration of "
			"'%s': %s\n", argv[1], phv_strerror(r));
		free(info);
		return EXIT_FAIL;
	}
	printf("%-4s  %-10s  %-20s  %s\n", "slot", "type", "created (UTC)",
	       "label");
	for (i = 0; i < info->nslots; i++) {
		const struct keyslot *s = &info->slots[i];

		t = (time_t)s->created;
		if (!gmtime_r(&t, &tm) ||
		    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
			strcpy(when, "?");
		printf("%-4u  %-10s  %-20s  %s\n", s->id,
		       keyslot_type_name(s->type), when,
		       s->label[0] ? s->label : "-");
	}
	free(info);
	return EXIT_OK;
}

/* ---- recovery keys ---------------------------------------------------- */

/* Read all of stdin (a few lines of text) into secmem buf. */
static int read_stdin(char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "Enter the recovery text, then Ctrl-D:\n");
	for (;;) {
		n = read(STDIN_FILENO, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size - 1)
			return -EFBIG;
	}
	buf[len] = '\0';
	return 0;
}

static int parse_count(const char *arg, const char *what, unsigned int *v)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (*end || n < 1 || n > SHAMIR_SHARES_MAX) {
		fprintf(stderr, "phivault: %s must be 1 to %d, not '%s'\n",
			what, SHAMIR_SHARES_MAX, arg);
		return -1;
	}
	*v = (unsigned int)n;
	return 0;
}

/* key recovery split --shares N --threshold M  (recovery key on stdin) */
static int recovery_split(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shares", required_argument, NULL, 'n' },
		{ "threshold", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	char *text = secmem_alloc(4096);
	uint8_t *key = secmem_alloc(SHAMIR_SECRET_MAX);
	unsigned int n = 0, m = 0;
	int c, r, st = EXIT_USAGE;
	size_t len;

	if (!text || !key)
		goto out;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n' && !parse_count(optarg, "--shares", &n))
			continue;
		if (c == 'm' && !parse_count(optarg, "--threshold", &m))
			continue;
		goto out;
	}
	if (optind != argc || !n || !m || m > n || m < 2) {
		fprintf(stderr, "usage: phivault key recovery split --shares N "
			"--threshold M  (2 <= M <= N; the key on stdin)\n");
		goto out;
	}
	st = EXIT_FAIL;
	r = read_stdin(text, 4096);
	if (!r)
		r = shamir_key_decode(text, key, &len);
	if (r == -EBADMSG)
		fprintf(stderr, "phivault: the recovery key's checksum does "
			"not match: a character was mistyped\n");
	else if (r)
		fprintf(stderr, "phivault: no recovery key (phvk-...) on "
			"standard input: %s\n", phv_strerror(r));
	if (!r)
		r = keysrc_recovery_print(key, len, n, m);
	if (!r)
		st = EXIT_OK;
out:
	secmem_free(text, 4096);
	secmem_free(key, SHAMIR_SECRET_MAX);
	return st;
}

/* Decode every non-blank line of text as a share; returns the count. */
static int decode_shares(char *text, struct shamir_share *sh)
{
	char *line, *save = NULL;
	int k = 0, r;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!line[strspn(line, " \t\r")])
			continue;
		if (k == SHAMIR_SHARES_MAX)
			return -E2BIG;
		/* allow "share 2 of 5 (...): phvs-..." as printed */
		if (strcasestr(line, "phvs-"))
			line = strcasestr(line, "phvs-");
		r = shamir_share_decode(line, &sh[k]);
		if (r == -EBADMSG) {
			fprintf(stderr, "phivault: share on line '%.16s...' "
				"has a wrong checksum: a character was "
				"mistyped\n", line);
			return r;
		}
		if (r) {
			fprintf(stderr, "phivault: '%.16s...' is not a "
				"phivault share\n", line);
			return r;
		}
		k++;
	}
	return k;
}

static void combine_fail(int r, const struct shamir_share *sh, int k)
{
	if (r == -ENOENT)
		fprintf(stderr, "phivault: %d share(s) given, %u needed\n", k,
			sh[0].threshold);
	else if (r == -PHV_EFORMAT)
		fprintf(stderr, "phivault: the shares come from different "
			"splits\n");
	else if (r == -EINVAL)
		fprintf(stderr, "phivault: the same share was given twice\n");
	else if (r == -PHV_EBADKEY)
		fprintf(stderr, "phivault: the shares do not fit together: "
			"one of them is wrong\n");
	else
		fprintf(stderr, "phivault: combining shares: %s\n",
			phv_strerror(r));
}

/* key recovery combine  (shares on stdin, one per line) */
static int recovery_combine(int argc, char **argv)
{
	size_t tsize = 64 * 1024, shsize;
	char *text = secmem_alloc(tsize);
	struct shamir_share *sh;
	uint8_t key[SHAMIR_SECRET_MAX];
	char out[SHAMIR_TEXT_MAX(SHAMIR_SECRET_MAX) + 1];
	int k, r, st = EXIT_FAIL;
	size_t len;

	shsize = SHAMIR_SHARES_MAX * sizeof(*sh);
	sh = secmem_alloc(shsize);
	if (argc != 1) {
		fprintf(stderr, "usage: phivault key recovery combine  "
			"(shares on stdin, one per line)\n");
		st = EXIT_USAGE;
		goto out;
	}
	if (!text || !sh)
		goto out;
	r = read_stdin(text, tsize);
	k = r ? r : decode_shares(text, sh);
	if (k == 0)
		fprintf(stderr, "phivault: no shares on standard input\n");
	if (k <= 0)
		goto out;
	r = shamir_share_combine(sh, (unsigned int)k, key, &len);
	if (r) {
		combine_fail(r, sh, k);
		goto out;
	}
	r = shamir_key_encode(key, len, out, sizeof(out));
	if (r > 0) {
		printf("%s\n", out);
		st = EXIT_OK;
	}
out:
	secmem_wipe(key, sizeof(key));
	secmem_wipe(out, sizeof(out));
	secmem_free(text, tsize);
	secmem_free(sh, shsize);
	return st;
}

/*
 * key recovery keyfile OUT: the recovery key on stdin, written as a raw
 * key file (mode 0600, must not exist) for --keyfile.
 */
static int recovery_keyfile(int argc, char **argv)
{
	char *text = secmem_alloc(4096);
	uint8_t key[SHAMIR_SECRET_MAX];
	int r, st = EXIT_FAIL;
	struct iovec iov;
	size_t len = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: phivault key recovery keyfile OUT  "
			"(the recovery key on stdin)\n");
		st = EXIT_USAGE;
		goto out;
	}
	r = text ? read_stdin(text, 4096) : -ENOMEM;
	if (!r)
		r = shamir_key_decode(text, key, &len);
	if (r) {
		fprintf(stderr, "phivault: no valid recovery key on standard "
			"input: %s\n", r == -EBADMSG ? "checksum mismatch "
			"(mistyped?)" : phv_strerror(r));
		goto out;
	}
	/* an existing key file is never replaced; a failed or interrupted
	 * write leaves no partial key behind, a finished one is durable */
	iov.iov_base = key;
	iov.iov_len = len;
	r = file_create(argv[1], &iov, 1, 0600);
	if (r) {
		fprintf(stderr, "phivault: writing '%s': %s\n", argv[1],
			r == -EEXIST ? "a file of that name exists; choose "
			"another name (an existing key file is never "
			"overwritten)" : strerror(-r));
		goto out;
	}
	st = EXIT_OK;
out:
	secmem_wipe(key, sizeof(key));
	secmem_free(text, 4096);
	return st;
}

/* key recovery new [--shares N --threshold M]: print a fresh key. */
static int recovery_new(int argc, char **argv)
{
	uint8_t key[RECOVERY_LEN];
	char text[SHAMIR_TEXT_MAX(RECOVERY_LEN) + 1];
	int r;

	if (argc != 1) {
		fprintf(stderr, "usage: phivault key recovery new\n");
		return EXIT_USAGE;
	}
	r = secmem_random(key, sizeof(key));
	if (!r)
		r = shamir_key_encode(key, sizeof(key), text, sizeof(text));
	if (r > 0)
		printf("%s\n", text);
	secmem_wipe(key, sizeof(key));
	secmem_wipe(text, sizeof(text));
	return r > 0 ? EXIT_OK : EXIT_FAIL;
}

static int key_recovery(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "split"))
		return recovery_split(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "combine"))
		return recovery_combine(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "keyfile"))
		return recovery_keyfile(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "new"))
		return recovery_new(argc - 1, argv + 1);
	fprintf(stderr, "usage: phivault key recovery "
		"new|split|combine|keyfile ...\n");
	return EXIT_USAGE;
}

/* ---- token keys --------------------------------------------------------- */

static int key_token_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		KEYSRC_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct keysrc_opts ko = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (keysrc_opt(&ko, c, optarg) != 1)
			return EXIT_USAGE;
	if (optind != argc || !ko.token_label || !ko.key_label) {
		fprintf(stderr, "usage: phivault key token-keygen "
			"--pkcs11-module PATH --token-label L --key-label K "
			"[--pin-file F | --pin-command CMD]\n");
		return EXIT_USAGE;
	}
	r = keysrc_token_keygen(&ko);
	if (r == -PHV_EBADKEY)
		return EXIT_BADKEY;
	if (r)
		return EXIT_FAIL;
	printf("created AES-256 key '%s' on token '%s' (not extractable)\n",
	       ko.key_label, ko.token_label);
	return EXIT_OK;
}

/* ---- add and remove ----------------------------------------------------- */

/*
 * Unlock with the existing-slot options, then seal the master key into a
 * new slot whose secret comes from the --new-* options.
 */
static int key_add(int argc, char **argv)
{
	static const struct option opts[] = {
		UNLOCK_LONGOPTS,
		{ "new-keyfile", required_argument, NULL, 'k' },
		{ "new-passphrase-file", required_argument, NULL, 'p' },
		{ "new-token", no_argument, NULL, 't' },
		{ "new-key-command", required_argument, NULL, 'c' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct secret_opts nso = {
		.what = "new passphrase",
		.hint = "--new-passphrase-file FILE or --new-keyfile FILE",
	};
	struct keysrc_opts ko = { 0 }, nko = { 0 };
	struct keyslot tmpl = { 0 };
	struct secret ns = { 0 };
	char *recipe = calloc(1, VOL_SLOT_RECIPE_MAX), detail[64];
	uint8_t id[VOL_ID_LEN];
	struct vol *vol = NULL;
	int c, r, st = EXIT_USAGE, token = 0;
	uint32_t slot;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (unlock_opt(&so, &ko, c, optarg))
			continue;
		if (c == 'k')
			nso.keyfile = optarg;
		else if (c == 'p')
			nso.passphrase_file = optarg;
		else if (c == 't')
			token = 1;
		else if (c == 'c')
			nko.key_command = optarg;
		else if (c == 'l')
			snprintf(tmpl.label, sizeof(tmpl.label), "%s", optarg);
		else
			goto out;
	}
	if (optind + 1 != argc || !recipe)
		goto out;
	st = EXIT_FAIL;
	if (token) {
		/* the token options name the new slot's token; the existing
		 * slot is opened by the other options */
		nko = ko;
		nko.key_command = NULL;
		ko.token_label = NULL;
	}
	r = keysrc_unlock(argv[optind], &so, &ko, &vol);
	if (r) {
		st = unlock_exit(r);
		goto out;
	}
	vol_get_id(vol, id);
	if (keysrc_type(&nko)) {
		ns.data = secmem_alloc(KEYSRC_SECRET_LEN);
		ns.len = KEYSRC_SECRET_LEN;
		ns.type = keysrc_type(&nko);
		r = ns.data ? keysrc_new(&nko, id, ns.data, recipe,
					 VOL_SLOT_RECIPE_MAX) : -ENOMEM;
	} else {
		r = secret_get(&nso, "New passphrase: ", 1, &ns);
	}
	if (r)
		goto out;
	tmpl.type = ns.type;
	if (tmpl.type == KEYSLOT_PASSPHRASE)
		tmpl.argon = keyslot_default_argon;
	r = vol_slot_add(vol, &tmpl, ns.data, ns.len,
			 recipe[0] ? recipe : NULL, &slot);
	if (r) {
		fprintf(stderr, "phivault: adding the slot: %s\n",
			phv_strerror(r));
		goto out;
	}
	printf("added %s slot %u\n", keyslot_type_name(tmpl.type), slot);
	snprintf(detail, sizeof(detail), "slot %u (%s)", slot,
		 keyslot_type_name(tmpl.type));
	cliaudit_event(vol, argv[optind], "key-add", detail);
	st = EXIT_OK;
out:
	if (ns.data && ns.len == KEYSRC_SECRET_LEN && keysrc_type(&nko))
		secmem_free(ns.data, KEYSRC_SECRET_LEN);
	else
		secret_release(&ns);
	vol_close(vol);
	free(recipe);
	return st;
}

static int key_remove(int argc, char **argv)
{
	static const struct option opts[] = {
		UNLOCK_LONGOPTS,
		{ "slot", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct vol *vol = NULL;
	unsigned int slot = 0;
	char detail[64];
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (unlock_opt(&so, &ko, c, optarg))
			continue;
		if (c != 's' || parse_count(optarg, "--slot", &slot))
			return EXIT_USAGE;
	}
	if (optind + 1 != argc || !slot) {
		fprintf(stderr, "usage: phivault key remove --slot N "
			"[unlock options] CIPHERDIR\n");
		return EXIT_USAGE;
	}
	r = keysrc_unlock(argv[optind], &so, &ko, &vol);
	if (r)
		return unlock_exit(r);
	r = vol_slot_remove(vol, slot);
	if (!r) {
		snprintf(detail, sizeof(detail), "slot %u", slot);
		cliaudit_event(vol, argv[optind], "key-remove", detail);
	}
	vol_close(vol);
	if (r == -EBUSY)
		fprintf(stderr, "phivault: slot %u is the last one; add "
			"another before removing it\n", slot);
	else if (r == -PHV_ENOTFOUND)
		fprintf(stderr, "phivault: no slot %u\n", slot);
	else if (r)
		fprintf(stderr, "phivault: removing slot %u: %s\n", slot,
			phv_strerror(r));
	if (!r)
		printf("removed slot %u\n", slot);
	return r ? EXIT_FAIL : EXIT_OK;
}

/* ---- KEK versions: rotate, rewrap, retire ------------------------------ */

/* Parse the unlock options and the positional arguments of a KEK
 * subcommand (want of them), then unlock argv[optind]. */
static int kek_unlock(int argc, char **argv, int want, const char *usage,
		      struct vol **volp)
{
	static const struct option opts[] = {
		UNLOCK_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	int c, r;

	*volp = NULL;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (!unlock_opt(&so, &ko, c, optarg))
			goto usage;
	if (argc - optind != want)
		goto usage;
	r = keysrc_unlock(argv[optind], &so, &ko, volp);
	if (r)
		return unlock_exit(r);
	return EXIT_OK;
usage:
	fprintf(stderr, "usage: phivault key %s\n", usage);
	return EXIT_USAGE;
}

/* The current KEK version as the config says (0 when unreadable). */
static uint32_t kek_current(const char *dir)
{
	struct vol_info *info = calloc(1, sizeof(*info));
	uint32_t v = 0;

	if (info && !vol_info_read(dir, info))
		v = info->current_kek;
	free(info);
	return v;
}

static int key_rotate(int argc, char **argv)
{
	struct vol *vol;
	uint32_t v = 0;
	char detail[64];
	int r, st;

	st = kek_unlock(argc, argv, 1, "rotate [unlock options] CIPHERDIR",
			&vol);
	if (st)
		return st;
	r = vol_kek_rotate(vol, &v);
	if (!r) {
		snprintf(detail, sizeof(detail), "kek version %u", v);
		cliaudit_event(vol, argv[optind], "key-rotate", detail);
	}
	vol_close(vol);
	if (r == -ENOSPC) {
		fprintf(stderr, "phivault: %s already has %d KEK versions; "
			"retire old ones first\n", argv[optind], VOL_MAX_KEKS);
		return EXIT_FAIL;
	}
	if (r) {
		fprintf(stderr, "phivault: rotating the KEK of %s: %s\n",
			argv[optind], phv_strerror(r));
		return EXIT_FAIL;
	}
	printf("KEK version %u is current: new files use it now, also in a "
	       "running mount.\nExisting files keep their version until "
	       "'phivault key rewrap %s'.\n", v, argv[optind]);
	return EXIT_OK;
}

struct rewrap {
	struct keytree_progress prog;
	uint64_t rewrapped, current, failed;
	int count_only;
};

static int rewrap_leaf(struct vol *vol, const char *path,
		       const struct stat *st, void *ctx)
{
	struct rewrap *rw = ctx;
	uint32_t from;
	int r, tries = 0;

	if (!S_ISREG(st->st_mode))
		return 0;
	if (rw->count_only) {
		rw->prog.total++;
		return 0;
	}
	do
		r = vol_file_rewrap_old(vol, path, &from);
	while (r == -EAGAIN && ++tries < 5);
	if (r == 1)
		rw->rewrapped++;
	else if (r == 0 || r == -ENOENT)
		rw->current++;	/* removed meanwhile: nothing to rewrap */
	if (r < 0 && r != -ENOENT) {
		rw->failed++;
		if (rw->prog.tty)
			fputc('\n', stderr);
		fprintf(stderr, "phivault: rewrapping '/%s': %s\n", path,
			phv_strerror(r));
	}
	rw->prog.done++;
	keytree_progress(&rw->prog, 0);
	return 0;
}

static int key_rewrap(int argc, char **argv)
{
	struct rewrap rw = { .prog = { .what = "rewrap" } };
	char detail[128];
	struct vol *vol;
	double t0 = keytree_now();
	int r, st;

	st = kek_unlock(argc, argv, 1, "rewrap [unlock options] CIPHERDIR",
			&vol);
	if (st)
		return st;
	rw.prog.tty = isatty(STDERR_FILENO);
	if (rw.prog.tty) {
		rw.count_only = 1;
		keytree_walk(vol, "", rewrap_leaf, NULL, &rw);
		rw.count_only = 0;
	}
	r = keytree_walk(vol, "", rewrap_leaf, NULL, &rw);
	keytree_progress(&rw.prog, 1);
	/* retire trusts what is on disk: make the new headers durable */
	if (!r)
		r = keytree_sync(argv[optind]);
	printf("rewrap: %llu file(s) rewrapped to KEK version %u, %llu "
	       "already on it, %llu failed, in %.1f s\n",
	       (unsigned long long)rw.rewrapped, kek_current(argv[optind]),
	       (unsigned long long)rw.current,
	       (unsigned long long)rw.failed, keytree_now() - t0);
	snprintf(detail, sizeof(detail), "%llu rewrapped to kek version %u, "
		 "%llu failed%s", (unsigned long long)rw.rewrapped,
		 kek_current(argv[optind]), (unsigned long long)rw.failed,
		 r ? ", stopped" : "");
	cliaudit_event(vol, argv[optind], "key-rewrap", detail);
	vol_close(vol);
	if (r) {
		fprintf(stderr, "phivault: rewrap stopped: %s (run it again "
			"to go on)\n", phv_strerror(r));
		return EXIT_FAIL;
	}
	return rw.failed ? EXIT_PARTIAL : EXIT_OK;
}

#define RETIRE_SHOW	10

struct retire {
	uint32_t version;
	uint64_t users, unreadable;
	char *show[RETIRE_SHOW];
};

static int retire_leaf(struct vol *vol, const char *path,
		       const struct stat *st, void *ctx)
{
	struct retire *rt = ctx;
	uint32_t v;
	int r;

	if (!S_ISREG(st->st_mode))
		return 0;
	r = vol_file_kek(vol, path, &v);
	if (r == -ENOENT)
		return 0;
	if (r) {
		rt->unreadable++;
		fprintf(stderr, "phivault: warning: '/%s' has no readable "
			"header (%s); it cannot use any KEK\n", path,
			phv_strerror(r));
		return 0;
	}
	if (v != rt->version)
		return 0;
	if (rt->users < RETIRE_SHOW)
		rt->show[rt->users] = strdup(path);
	rt->users++;
	return 0;
}

static int retire_refuse(const char *dir, const struct retire *rt)
{
	unsigned int i;

	fprintf(stderr, "phivault: %llu file(s) still use KEK version %u; "
		"run 'phivault key rewrap %s' first.  Some of them:\n",
		(unsigned long long)rt->users, rt->version, dir);
	for (i = 0; i < RETIRE_SHOW && rt->show[i]; i++)
		fprintf(stderr, "  /%s\n", rt->show[i]);
	return EXIT_FAIL;
}

static int key_retire(int argc, char **argv)
{
	struct retire rt = { 0 };
	struct vol_info *info = NULL;
	struct vol *vol;
	unsigned int i;
	char *end, detail[64];
	int r, st;
	long v;

	st = kek_unlock(argc, argv, 2, "retire [unlock options] CIPHERDIR "
			"VERSION", &vol);
	if (st)
		return st;
	st = EXIT_FAIL;
	v = strtol(argv[optind + 1], &end, 10);
	info = calloc(1, sizeof(*info));
	r = info ? vol_info_read(argv[optind], info) : -ENOMEM;
	for (i = 0; !r && i < info->nkeks; i++)
		if (info->kek_versions[i] == (uint32_t)v)
			break;
	if (r || *end || v < 1 || v > UINT32_MAX || i == info->nkeks) {
		fprintf(stderr, "phivault: %s has no KEK version '%s' (see "
			"'phivault info')\n", argv[optind], argv[optind + 1]);
		goto out;
	}
	rt.version = (uint32_t)v;
	if (rt.version == info->current_kek) {
		fprintf(stderr, "phivault: KEK version %u is the current one; "
			"'phivault key rotate' first\n", rt.version);
		goto out;
	}
	/* what rewrap wrote must be on disk before we believe it */
	r = keytree_sync(argv[optind]);
	if (!r)
		r = keytree_walk(vol, "", retire_leaf, NULL, &rt);
	if (r) {
		fprintf(stderr, "phivault: cannot check every file: %s; "
			"nothing retired\n", phv_strerror(r));
		goto out;
	}
	if (rt.users) {
		st = retire_refuse(argv[optind], &rt);
		goto out;
	}
	r = vol_kek_retire(vol, rt.version);
	if (r) {
		fprintf(stderr, "phivault: retiring KEK version %u: %s\n",
			rt.version, phv_strerror(r));
		goto out;
	}
	printf("KEK version %u destroyed: its sealed key is gone from %s/%s; "
	       "no file used it\n", rt.version, argv[optind], VOL_CONF_NAME);
	snprintf(detail, sizeof(detail), "kek version %u", rt.version);
	cliaudit_event(vol, argv[optind], "key-retire", detail);
	st = EXIT_OK;
out:
	for (i = 0; i < RETIRE_SHOW; i++)
		free(rt.show[i]);
	free(info);
	vol_close(vol);
	return st;
}

static const struct cmd_sub key_cmds[] = {
	{ "list", key_list },
	{ "add", key_add },
	{ "remove", key_remove },
	{ "rotate", key_rotate },
	{ "rewrap", key_rewrap },
	{ "retire", key_retire },
	{ "recovery", key_recovery },
	{ "token-keygen", key_token_keygen },
};

int cmd_key(int argc, char **argv)
{
	const struct cmd_sub *s;

	if (argc < 2)
		return cmd_usage("key", EXIT_USAGE);
	s = cmd_sub_find(key_cmds, sizeof(key_cmds) / sizeof(key_cmds[0]),
			 argc, argv);
	if (s)
		return s->fn(argc - 1, argv + 1);
	fprintf(stderr, "phivault: unknown key subcommand '%s'; see "
		"'phivault help key'\n", argv[1]);
	return EXIT_USAGE;
}
