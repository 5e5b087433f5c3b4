// SPDX-License-Identifier: MIT
/*
 * fileio.c - whole-file writes and atomic replacement (fileio.h).
 *
 * The temporary gets a random name and O_EXCL, so two writers never
 * share one and a planted file or symbolic link is refused rather than
 * followed.  Durability is git's lock-file discipline plus the directory
 * fsync that makes the rename itself survive a crash; a cache may give up
 * both fsyncs (FILE_REPLACE_NO_SYNC) and keep only the atomic rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "fileio.h"

#define TMP_RANDOM_LEN	12	/* 16 base64url characters */
#define TMP_TRIES	8

int fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t w;

	while (len) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

void file_tmp_name(char *buf)
{
	static unsigned int counter;
	uint8_t rnd[TMP_RANDOM_LEN];
	char b64[B64_ENCLEN(TMP_RANDOM_LEN) + 1];
	uint64_t v;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		v = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL) ^
		    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
		memset(rnd, 0, sizeof(rnd));
		memcpy(rnd, &v, sizeof(v));
	}
	b64_encode(rnd, sizeof(rnd), b64);
	snprintf(buf, FILE_TMP_NAME_MAX, FILE_TMP_PREFIX "%s", b64);
}

static int fsync_dirfd(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		r = -errno;
	close(fd);
	return r;
}

static int open_tmp(int dirfd, char *tmp, mode_t mode)
{
	int fd = -1, i;

	for (i = 0; i < TMP_TRIES && fd < 0; i++) {
		file_tmp_name(tmp);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
			    O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	return fd < 0 ? -EEXIST : fd;
}

int file_replace_at(int dirfd, const char *name, const struct iovec *iov,
		    int iovcnt, mode_t mode, unsigned int flags)
{
	char tmp[FILE_TMP_NAME_MAX];
	int fd, i, r = 0;

	fd = open_tmp(dirfd, tmp, mode);
	if (fd < 0)
		return fd;
	for (i = 0; !r && i < iovcnt; i++)
		r = fd_write_all(fd, iov[i].iov_base, iov[i].iov_len);
	if (!r && !(flags & FILE_REPLACE_NO_SYNC) && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r && (flags & FILE_REPLACE_CREATE ?
		   renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) :
		   renameat(dirfd, tmp, dirfd, name)))
		r = -errno;
	if (r) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (flags & (FILE_REPLACE_NO_DIRSYNC | FILE_REPLACE_NO_SYNC))
		return 0;
	return fsync_dirfd(dirfd);
}

static int replace_path(const char *path, const struct iovec *iov,
			int iovcnt, mode_t mode, unsigned int flags)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char *dir = NULL;
	int dirfd, r;

	if (!*name)
		return -EISDIR;
	if (slash) {
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
		if (!dir)
			return -ENOMEM;
	}
	dirfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dirfd < 0)
		return -errno;
	r = file_replace_at(dirfd, name, iov, iovcnt, mode, flags);
	close(dirfd);
	return r;
}

int file_replace(const char *path, const struct iovec *iov, int iovcnt,
		 mode_t mode)
{
	return replace_path(path, iov, iovcnt, mode, 0);
}

int file_create(const char *path, const struct iovec *iov, int iovcnt,
		mode_t mode)
{
	return replace_path(path, iov, iovcnt, mode, FILE_REPLACE_CREATE);
}

char *file_dir_dup(const char *path)
{
	char *d = strdup(path);
	size_t n;

	if (!d)
		return NULL;
	n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}
