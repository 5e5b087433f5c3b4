// SPDX-License-Identifier: MIT
/*
 * fileio_test.c - common/fileio: a replacement lands whole with its mode,
 * leaves no temporary behind, and a failed one leaves the target alone;
 * the same holds without the fsyncs (FILE_REPLACE_NO_SYNC).
 */
#include <dirent.h>
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

#include "common/fileio.h"

static char dir[] = "/tmp/fileio_test.XXXXXX";

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* path holds exactly want with mode, and is the directory's only entry. */
static void assert_only_file(const char *path, const char *want, mode_t mode)
{
	char buf[64];
	struct stat st;

	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, mode);
	assert_int_equal(entries(), 1);
}

static void test_replace(void **state)
{
	struct iovec iov[2] = {
		{ .iov_base = "hello ", .iov_len = 6 },
		{ .iov_base = "world\n", .iov_len = 6 },
	};
	char path[64];

	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(file_replace(path, iov, 2, 0640), 0);
	assert_int_equal(file_replace(path, iov + 1, 1, 0600), 0);
	assert_only_file(path, "world\n", 0600);
	unlink(path);
}

static void test_failure_cleans_up(void **state)
{
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	char path[64];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	assert_true(dfd >= 0);
	snprintf(path, sizeof(path), "%s/d", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(file_replace_at(dfd, "d", &iov, 1, 0600, 0),
			 -EISDIR);
	assert_int_equal(entries(), 1);
	assert_int_equal(file_replace_at(dfd, "d", &iov, 1, 0600,
					 FILE_REPLACE_NO_SYNC), -EISDIR);
	assert_int_equal(entries(), 1);
	close(dfd);
	rmdir(path);
}

/* Without fsyncs (caches): the same replacement and mode. */
static void test_replace_no_sync(void **state)
{
	struct iovec iov = { .iov_base = "cached\n", .iov_len = 7 };
	char path[64];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	assert_true(dfd >= 0);
	snprintf(path, sizeof(path), "%s/c", dir);
	assert_int_equal(file_replace_at(dfd, "c", &iov, 1, 0640,
					 FILE_REPLACE_NO_SYNC), 0);
	iov.iov_base = "again\n";
	iov.iov_len = 6;
	assert_int_equal(file_replace_at(dfd, "c", &iov, 1, 0600,
					 FILE_REPLACE_NO_SYNC |
					 FILE_REPLACE_NO_DIRSYNC), 0);
	assert_only_file(path, "again\n", 0600);
	unlink(path);
	close(dfd);
}

static void test_create_never_replaces(void **state)
{
	struct iovec a = { .iov_base = "key one\n", .iov_len = 8 };
	struct iovec b = { .iov_base = "key two\n", .iov_len = 8 };
	char path[300];

	snprintf(path, sizeof(path), "%s/key", dir);
	assert_int_equal(file_create(path, &a, 1, 0600), 0);
	assert_only_file(path, "key one\n", 0600);
	/* the second refuses and leaves neither its data nor a temporary */
	assert_int_equal(file_create(path, &b, 1, 0600), -EEXIST);
	assert_only_file(path, "key one\n", 0600);
	unlink(path);
}

static void test_tmp_name(void **state)
{
	char a[FILE_TMP_NAME_MAX], b[FILE_TMP_NAME_MAX];

	file_tmp_name(a);
	file_tmp_name(b);
	assert_int_equal(strncmp(a, FILE_TMP_PREFIX,
				 strlen(FILE_TMP_PREFIX)), 0);
	assert_int_equal(strlen(a), strlen(FILE_TMP_PREFIX) + 16);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_failure_cleans_up),
		cmocka_unit_test(test_replace_no_sync),
		cmocka_unit_test(test_create_never_replaces),
		cmocka_unit_test(test_tmp_name),
	};
	int r;

	umask(022);
	if (!mkdtemp(dir))
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return r;
}
