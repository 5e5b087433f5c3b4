// SPDX-License-Identifier: MIT
/*
 * volkey_test.c - unit tests of the key-management part of fs/vol.h on a
 * real temporary backing directory: slots with recipes, removal rules,
 * a preset volume ID, reading recipes without unlocking, a second open
 * volume taking in a rotation made by the first (what a mount does), and
 * file headers staying byte for byte the same across slot changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "fs/vol.h"

static const char pass[] = "unit test passphrase";
static const uint8_t tok[32] = { 1, 2, 3, 4, 5, 6, 7, 8 };

struct fix {
	char dir[64];
	struct vol *vol;
};

static int setup(void **state)
{
	struct vol_create_opts o = { .block_size = 4096,
				     .argon = { 1, 8192, 1 } };
	struct fix *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/phv-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (vol_create_open(f->dir, &o, KEYSLOT_PASSPHRASE, pass,
			    strlen(pass), &f->vol))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	vol_close(f->vol);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static void read_file(const char *dir, const char *name, char *buf,
		      size_t size, size_t *lenp)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, size);
	assert_true(n >= 0);
	*lenp = (size_t)n;
	close(fd);
}

static void test_add_remove_recipe(void **state)
{
	struct fix *f = *state;
	struct keyslot t = { .type = KEYSLOT_COMMAND };
	struct vol *v = NULL;
	char buf[VOL_SLOT_RECIPE_MAX];
	uint32_t id = 0;

	strcpy(t.label, "kms");
	/* a command slot without a recipe, or a bad recipe, is refused */
	assert_int_equal(vol_slot_add(f->vol, &t, tok, 32, NULL, &id),
			 -EINVAL);
	assert_int_equal(vol_slot_add(f->vol, &t, tok, 32, "a\nb", &id),
			 -EINVAL);
	assert_int_equal(vol_slot_add(f->vol, &t, tok, 32,
				      "command blob=AAAA", &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(vol_slot_recipe(f->dir, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "command blob=AAAA");
	assert_int_equal(vol_slot_recipe(f->dir, 1, buf, sizeof(buf)),
			 -PHV_ENOTFOUND);
	assert_int_equal(vol_slot_recipe(f->dir, 2, buf, 4), -ENOSPC);

	/* the new slot opens, the MAC covers the recipe line */
	assert_int_equal(vol_open(f->dir, KEYSLOT_COMMAND, tok, 32, &v), 0);
	vol_close(v);

	assert_int_equal(vol_slot_remove(f->vol, 7), -PHV_ENOTFOUND);
	assert_int_equal(vol_slot_remove(f->vol, 1), 0);
	assert_int_equal(vol_open(f->dir, KEYSLOT_PASSPHRASE, pass,
				  strlen(pass), &v), -PHV_EBADKEY);
	assert_int_equal(vol_slot_remove(f->vol, 2), -EBUSY);
	assert_int_equal(vol_open(f->dir, KEYSLOT_COMMAND, tok, 32, &v), 0);
	vol_close(v);
	/* ids are never reused while higher ones exist */
	t.type = KEYSLOT_KEYFILE;
	assert_int_equal(vol_slot_add(f->vol, &t, tok, 32, NULL, &id), 0);
	assert_int_equal(id, 3);
}

static void test_recipe_tamper(void **state)
{
	struct fix *f = *state;
	struct keyslot t = { .type = KEYSLOT_COMMAND };
	char path[128], buf[8192], *p;
	struct vol *v = NULL;
	size_t len;
	FILE *fp;

	assert_int_equal(vol_slot_add(f->vol, &t, tok, 32,
				      "command blob=AAAA", NULL), 0);
	read_file(f->dir, VOL_CONF_NAME, buf, sizeof(buf) - 1, &len);
	buf[len] = '\0';
	p = strstr(buf, "blob=AAAA");
	assert_non_null(p);
	p[5] = 'B';
	snprintf(path, sizeof(path), "%s/%s", f->dir, VOL_CONF_NAME);
	fp = fopen(path, "w");
	fwrite(buf, 1, len, fp);
	fclose(fp);
	assert_int_equal(vol_open(f->dir, KEYSLOT_COMMAND, tok, 32, &v),
			 -PHV_EAUTH);
	assert_null(v);
}

static void test_preset_id_token_first(void **state)
{
	struct fix *f = *state;
	struct vol_create_opts o = { .block_size = 4096 };
	uint8_t id[VOL_ID_LEN] = "0123456789abcdef", got[VOL_ID_LEN];
	char dir[64], buf[64], cmd[96];
	struct vol_info info;
	struct vol *v = NULL;

	(void)f;
	snprintf(dir, sizeof(dir), "/tmp/phv-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	o.id = id;
	/* token slots need their recipe */
	assert_int_equal(vol_create(dir, &o, KEYSLOT_PKCS11, tok, 32),
			 -EINVAL);
	o.recipe = "pkcs11 token=dA key=aw blob=AAAA";
	o.label = "hsm";
	assert_int_equal(vol_create(dir, &o, KEYSLOT_PKCS11, tok, 32), 0);
	assert_int_equal(vol_open(dir, KEYSLOT_PKCS11, tok, 32, &v), 0);
	vol_get_id(v, got);
	assert_memory_equal(got, id, VOL_ID_LEN);
	vol_close(v);
	assert_int_equal(vol_info_read(dir, &info), 0);
	assert_string_equal(info.slots[0].label, "hsm");
	assert_int_equal(vol_slot_recipe(dir, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, o.recipe);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_second_open_sees_rotation(void **state)
{
	struct fix *f = *state;
	struct vol *mnt = NULL;
	struct vol_file *fp = NULL;
	struct vol_info info;
	uint32_t v = 0;

	assert_int_equal(vol_open(f->dir, KEYSLOT_PASSPHRASE, pass,
				  strlen(pass), &mnt), 0);
	assert_int_equal(vol_kek_rotate(f->vol, &v), 0);
	assert_int_equal(v, 2);
	/* the "mount" creates a file: it must use KEK 2 without reopening */
	assert_int_equal(vol_file_open(mnt, "new", O_RDWR | O_CREAT, 0600,
				       &fp), 0);
	assert_int_equal(vol_file_pwrite(fp, "x", 1, 0), 1);
	vol_file_close(fp);
	assert_int_equal(vol_info_read(f->dir, &info), 0);
	assert_int_equal(info.current_kek, 2);
	{
		char name[256], hdr[88];
		struct vol_dirent e;
		struct vol_dir *d;
		size_t len;

		assert_int_equal(vol_dir_open(mnt, "", &d), 0);
		assert_int_equal(vol_dir_next(d, &e), 1);
		strcpy(name, e.backing);
		vol_dir_close(d);
		read_file(f->dir, name, hdr, sizeof(hdr), &len);
		assert_int_equal(len, 88);
		assert_int_equal(hdr[27], 2);	/* u32 KEK version */
	}
	vol_close(mnt);
}

static void test_headers_untouched_by_slots(void **state)
{
	struct fix *f = *state;
	struct keyslot t = { .type = KEYSLOT_KEYFILE };
	struct vol_file *fp = NULL;
	char before[4096], after[4096], name[256];
	struct vol_dirent e;
	struct vol_dir *d;
	size_t l1, l2;
	uint32_t id;

	assert_int_equal(vol_file_open(f->vol, "a", O_RDWR | O_CREAT, 0600,
				       &fp), 0);
	assert_int_equal(vol_file_pwrite(fp, "hello", 5, 0), 5);
	vol_file_close(fp);
	assert_int_equal(vol_dir_open(f->vol, "", &d), 0);
	assert_int_equal(vol_dir_next(d, &e), 1);
	strcpy(name, e.backing);
	vol_dir_close(d);
	read_file(f->dir, name, before, sizeof(before), &l1);
	assert_int_equal(vol_slot_add(f->vol, &t, tok, 32, NULL, &id), 0);
	assert_int_equal(vol_slot_remove(f->vol, 1), 0);
	read_file(f->dir, name, after, sizeof(after), &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(before, after, l1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_remove_recipe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recipe_tamper, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_preset_id_token_first,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_open_sees_rotation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers_untouched_by_slots,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
