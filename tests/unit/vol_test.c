// SPDX-License-Identifier: MIT
/*
 * vol_test.c - unit tests of fs/vol.h and the records of fs/crypt.c on a
 * real (temporary) backing directory: create/open/wrong key, config MAC,
 * key derivation, random plaintext I/O against a reference buffer, holes,
 * truncation, tamper detection, long names, symlinks and xattrs; the
 * grants-generation config line, and the config lock between processes
 * (a rewrite waits for a lock another process holds; two processes
 * rewriting at once lose nothing).
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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "crypto/secmem.h"
#include "fs/vol.h"

static const char pass[] = "unit test passphrase";

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
	if (vol_create(f->dir, &o, KEYSLOT_PASSPHRASE, pass, strlen(pass)))
		return -1;
	if (vol_open(f->dir, KEYSLOT_PASSPHRASE, pass, strlen(pass), &f->vol))
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

static void test_open_wrong_key(void **state)
{
	struct fix *f = *state;
	struct vol *v = NULL;
	struct vol_create_opts o = { 0 };

	assert_int_equal(vol_open(f->dir, KEYSLOT_PASSPHRASE, "nope", 4, &v),
			 -PHV_EBADKEY);
	assert_null(v);
	assert_int_equal(vol_create(f->dir, &o, KEYSLOT_PASSPHRASE, "x", 1),
			 -ENOTEMPTY);
}

static void test_config_mac(void **state)
{
	struct fix *f = *state;
	char path[128], buf[4096];
	struct vol *v = NULL;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/.phivault.conf", f->dir);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	n = pread(fd, buf, sizeof(buf), 0);
	assert_true(n > 0);
	/* "block-size 4096" -> "block-size 8192": MAC must catch it */
	{
		char *p = strstr(buf, "block-size 4096");

		assert_non_null(p);
		memcpy(p, "block-size 8192", 15);
		assert_int_equal(pwrite(fd, buf, (size_t)n, 0), n);
		assert_int_equal(vol_open(f->dir, KEYSLOT_PASSPHRASE, pass,
					  strlen(pass), &v), -PHV_EAUTH);
		memcpy(p, "block-size 4096", 15);
		assert_int_equal(pwrite(fd, buf, (size_t)n, 0), n);
	}
	close(fd);
	assert_int_equal(vol_open(f->dir, KEYSLOT_PASSPHRASE, pass,
				  strlen(pass), &v), 0);
	vol_close(v);
}

static void test_derive(void **state)
{
	struct fix *f = *state;
	uint8_t a[32], b[32];

	assert_int_equal(vol_derive_key(f->vol, "names", a, 32), -EPERM);
	assert_int_equal(vol_derive_key(f->vol, "policy", a, 32), 0);
	assert_int_equal(vol_derive_key(f->vol, "audit", b, 32), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(vol_derive_key(f->vol, "policy", b, 32), 0);
	assert_memory_equal(a, b, 32);
}

static void test_random_io(void **state)
{
	struct fix *f = *state;
	size_t max = 200000;
	uint8_t *ref = calloc(1, max + 70000), *buf = malloc(max + 70000);
	struct vol_file *vf;
	size_t size = 0;
	int i;

	srandom(42);
	assert_int_equal(vol_file_open(f->vol, "rand", O_RDWR | O_CREAT, 0600,
				       &vf), 0);
	for (i = 0; i < 2000; i++) {
		int op = (int)(random() % 10);
		size_t off = (size_t)random() % max;
		size_t len = 1 + (size_t)random() % 20000;
		ssize_t n;
		size_t k;

		if (op < 5) {
			for (k = 0; k < len; k++)
				buf[k] = (uint8_t)random();
			assert_int_equal(vol_file_pwrite(vf, buf, len,
							 (off_t)off), len);
			memcpy(ref + off, buf, len);
			if (off + len > size)
				size = off + len;
		} else if (op < 7) {
			if (off < size)
				memset(ref + off, 0, size - off);
			else
				memset(ref + size, 0, off - size);
			assert_int_equal(vol_file_truncate(vf, (off_t)off), 0);
			size = off;
		} else {
			n = vol_file_pread(vf, buf, len, (off_t)off, NULL);
			k = off >= size ? 0 : (size - off < len ? size - off :
					       len);
			assert_int_equal(n, k);
			assert_memory_equal(buf, ref + off, k);
		}
	}
	{
		struct stat st;

		assert_int_equal(vol_file_stat(vf, &st), 0);
		assert_int_equal(st.st_size, size);
	}
	vol_file_close(vf);
	free(ref);
	free(buf);
}

static void test_tamper(void **state)
{
	struct fix *f = *state;
	struct vol_dirent e;
	struct vol_dir *d;
	struct vol_file *vf;
	uint8_t buf[3 * 4096];
	char path[1024];
	uint64_t bad = 99;
	int fd;

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(vol_mkdir(f->vol, "t", 0700), 0);
	assert_int_equal(vol_file_open(f->vol, "t/f", O_RDWR | O_CREAT, 0600,
				       &vf), 0);
	assert_int_equal(vol_file_pwrite(vf, buf, sizeof(buf), 0),
			 sizeof(buf));
	vol_file_close(vf);

	/* find the backing file and flip a byte in block 1 */
	assert_int_equal(vol_dir_open(f->vol, "t", &d), 0);
	assert_int_equal(vol_dir_next(d, &e), 1);
	vol_dir_close(d);
	{
		struct vol_dir *r;
		struct vol_dirent re;

		assert_int_equal(vol_dir_open(f->vol, "", &r), 0);
		while (vol_dir_next(r, &re) == 1)
			if (!strcmp(re.name, "t"))
				snprintf(path, sizeof(path), "%s/%s/%s",
					 f->dir, re.backing, e.backing);
		vol_dir_close(r);
	}
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "Z", 1, 88 + 4096 + 28 + 50), 1);
	close(fd);

	assert_int_equal(vol_file_open(f->vol, "t/f", O_RDONLY, 0, &vf), 0);
	assert_int_equal(vol_file_pread(vf, buf, 4096, 0, &bad), 4096);
	assert_int_equal(vol_file_pread(vf, buf, sizeof(buf), 0, &bad),
			 -PHV_EAUTH);
	assert_int_equal(bad, 1);
	assert_int_equal(vol_file_pread(vf, buf, 4096, 8192, &bad), 4096);
	vol_file_close(vf);
}

static void test_names_links_xattrs(void **state)
{
	struct fix *f = *state;
	char name[300], target[4096], out[4097];
	struct vol_dirent e;
	struct vol_dir *d;
	struct vol_file *vf;
	int found = 0;

	memset(name, 'n', 255);
	name[255] = '\0';
	assert_int_equal(vol_file_open(f->vol, name, O_RDWR | O_CREAT, 0600,
				       &vf), 0);
	vol_file_close(vf);
	name[255] = 'n';
	name[256] = '\0';
	assert_int_equal(vol_file_open(f->vol, name, O_RDWR | O_CREAT, 0600,
				       &vf), -ENAMETOOLONG);
	name[255] = '\0';
	assert_int_equal(vol_dir_open(f->vol, "/", &d), 0);
	while (vol_dir_next(d, &e) == 1) {
		assert_false(e.damaged);
		if (!strcmp(e.name, name))
			found = 1;
	}
	vol_dir_close(d);
	assert_true(found);

	/* PATH_MAX-long targets fit thanks to compression */
	memset(target, 0, sizeof(target));
	for (int i = 0; i < 4095; i++)
		target[i] = i % 10 == 9 ? '/' : 'a';
	assert_int_equal(vol_symlink(f->vol, target, "ln"), 0);
	assert_int_equal(vol_readlink(f->vol, "ln", out, sizeof(out)), 4095);
	assert_string_equal(out, target);

	assert_int_equal(vol_setxattr(f->vol, name, "user.a", "val", 3, 0), 0);
	assert_int_equal(vol_getxattr(f->vol, name, "user.a", out, 10), 3);
	assert_memory_equal(out, "val", 3);
	assert_int_equal(vol_listxattr(f->vol, name, out, sizeof(out)), 7);
	assert_string_equal(out, "user.a");
	assert_int_equal(vol_getxattr(f->vol, name, "user.b", out, 10),
			 -ENODATA);
	assert_int_equal(vol_remove(f->vol, name), 0);
}

/* The config file's text into buf (NUL-terminated). */
static void read_conf(const struct fix *f, char *buf, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/" VOL_CONF_NAME, f->dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
}

static void test_grants_gen(void **state)
{
	struct fix *f = *state;
	char buf[8192], path[128];
	struct vol *v = NULL;
	char *p;
	int fd;

	/* absent means 0, and a config without grants writes no line */
	assert_true(vol_grants_gen(f->vol) == 0);
	read_conf(f, buf, sizeof(buf));
	assert_null(strstr(buf, "grants-generation"));

	assert_int_equal(vol_grants_gen_set(f->vol, 5), 0);
	read_conf(f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\ngrants-generation 5\n"));
	assert_true(vol_grants_gen(f->vol) == 5);
	/* it never goes back */
	assert_int_equal(vol_grants_gen_set(f->vol, 4), -EINVAL);
	assert_true(vol_grants_gen(f->vol) == 5);

	/* another handle reads it at open, and takes in a later change */
	assert_int_equal(vol_open(f->dir, KEYSLOT_PASSPHRASE, pass,
				  strlen(pass), &v), 0);
	assert_true(vol_grants_gen(v) == 5);
	assert_int_equal(vol_grants_gen_set(f->vol, 1ULL << 40), 0);
	assert_true(vol_grants_gen(v) == 1ULL << 40);
	/* other rewrites keep it */
	assert_int_equal(vol_retention_set(v, "keep 7y /patients\n"), 0);
	vol_close(v);
	v = NULL;
	assert_true(vol_grants_gen(f->vol) == 1ULL << 40);

	/* the line is under the MAC: lowering it refuses the config */
	read_conf(f, buf, sizeof(buf));
	p = strstr(buf, "grants-generation 1099511627776\n");
	assert_non_null(p);
	p[strlen("grants-generation ")] = '0';
	snprintf(path, sizeof(path), "%s/" VOL_CONF_NAME, f->dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	close(fd);
	assert_int_equal(vol_open(f->dir, KEYSLOT_PASSPHRASE, pass,
				  strlen(pass), &v), -PHV_EAUTH);
	assert_null(v);
}

/*
 * A child that rewrites the config (grants generation 7) and exits 0.  It
 * first closes its copy of the parent's lock descriptor: a flock belongs
 * to the open file, which the copy would keep locked after the parent
 * closes its own.
 */
static pid_t spawn_gen_writer(struct fix *f, int lockfd)
{
	pid_t pid = fork();

	if (pid == 0) {
		close(lockfd);
		_exit(vol_grants_gen_set(f->vol, 7) ? 1 : 0);
	}
	return pid;
}

static void test_conf_lock_waits(void **state)
{
	struct fix *f = *state;
	struct timespec pause = { 0, 300 * 1000 * 1000 };
	char path[128], buf[8192];
	struct stat st;
	int fd, status;
	pid_t pid;

	alarm(60);	/* a lock that is never released fails, not hangs */
	/* the first rewrite creates the lock file, 0600, beside the config */
	assert_int_equal(vol_grants_gen_set(f->vol, 1), 0);
	snprintf(path, sizeof(path), "%s/" VOL_CONF_LOCK_NAME, f->dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* while another process holds it, a rewrite waits */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	pid = spawn_gen_writer(f, fd);
	assert_true(pid > 0);
	nanosleep(&pause, NULL);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	read_conf(f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\ngrants-generation 1\n"));
	close(fd);	/* releases the lock */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(vol_grants_gen(f->vol) == 7);
	alarm(0);
}

#define RACE_ROUNDS	6

/*
 * Two processes rewrite the config at once, one adding slots, the other
 * raising the grants generation (a mount recording grants while `key add`
 * runs): neither change may be lost.
 */
static void test_conf_lock_no_lost_update(void **state)
{
	struct fix *f = *state;
	struct keyslot tmpl = { .type = KEYSLOT_PASSPHRASE,
				.argon = { 1, 8192, 1 } };
	struct vol_info info;
	struct vol *v = NULL;
	int go[2], status, i;
	uint32_t id;
	pid_t pid;
	char c = 0;

	alarm(60);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		alarm(60);
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		for (i = 1; i <= RACE_ROUNDS * 20 && !bad; i++)
			bad = vol_grants_gen_set(f->vol, (uint64_t)i) != 0;
		_exit(bad);
	}
	close(go[0]);
	assert_int_equal(write(go[1], &c, 1), 1);
	close(go[1]);
	for (i = 0; i < RACE_ROUNDS; i++)
		assert_int_equal(vol_slot_add(f->vol, &tmpl, "another pass",
					      12, NULL, &id), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	assert_int_equal(vol_info_read(f->dir, &info), 0);
	assert_int_equal(info.nslots, 1 + RACE_ROUNDS);
	assert_int_equal(vol_open(f->dir, KEYSLOT_PASSPHRASE, pass,
				  strlen(pass), &v), 0);
	assert_true(vol_grants_gen(v) == RACE_ROUNDS * 20);
	vol_close(v);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_wrong_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_config_mac, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_derive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_io, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_links_xattrs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_grants_gen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_conf_lock_waits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_conf_lock_no_lost_update,
						setup, teardown),
	};

	secmem_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
