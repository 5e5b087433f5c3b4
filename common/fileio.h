/* SPDX-License-Identifier: MIT */
/*
 * fileio.h - writing whole files safely: a write loop that survives short
 * writes and signals, and the atomic replacement of a small file (temp in
 * the same directory, fsync, rename, fsync of the directory), so a reader
 * or a crash sees the old contents or the new, never a mix (a cache may
 * opt out of the fsyncs, and so of the crash half of that promise).
 *
 * Nothing here logs or allocates beyond a path copy; every function
 * returns 0 or -errno and is thread-safe.
 */
#ifndef COMMON_FILEIO_H
#define COMMON_FILEIO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Temporary names start with this; buffers for them hold this many. */
#define FILE_TMP_PREFIX		".phivault.tmp."
#define FILE_TMP_NAME_MAX	64

enum file_replace_flags {
	/* skip the directory fsync: the caller syncs it later itself */
	FILE_REPLACE_NO_DIRSYNC	= 1U << 0,
	/*
	 * skip both fsyncs, for files that can be rebuilt and are checked
	 * when read (caches): readers still see old or new contents, but
	 * after a crash the name may hold an empty or partial file
	 */
	FILE_REPLACE_NO_SYNC	= 1U << 1,
	/*
	 * create, never replace: fail with -EEXIST when name exists (the
	 * rename is renameat2(RENAME_NOREPLACE)), for files such as keys
	 * that must not overwrite one already there
	 */
	FILE_REPLACE_CREATE	= 1U << 2,
};

/*
 * Write all len bytes of buf to fd at its current offset, retrying short
 * writes and EINTR.  Returns 0 or -errno (the file may then hold part of
 * the data).
 */
int fd_write_all(int fd, const void *buf, size_t len);

/*
 * A fresh random name FILE_TMP_PREFIX + 16 characters of base64url into
 * buf (FILE_TMP_NAME_MAX bytes, NUL-terminated).  Never fails: without
 * the kernel's random source the name is still unique per process.
 */
void file_tmp_name(char *buf);

/*
 * Replace name in the directory dirfd with the concatenation of iov:
 * create a temporary there with O_EXCL | O_CLOEXEC and mode, write it
 * all, fsync (unless FILE_REPLACE_NO_SYNC), close, rename over name and
 * fsync dirfd (unless either flag).  On failure name is untouched and the
 * temporary removed.  Returns 0 or -errno; an error from the directory
 * fsync means the new file is in place but maybe not yet durable.
 */
int file_replace_at(int dirfd, const char *name, const struct iovec *iov,
		    int iovcnt, mode_t mode, unsigned int flags);

/* file_replace_at() for a path: its directory is opened for the call. */
int file_replace(const char *path, const struct iovec *iov, int iovcnt,
		 mode_t mode);

/* file_replace() with FILE_REPLACE_CREATE: a new file, durable, or none. */
int file_create(const char *path, const struct iovec *iov, int iovcnt,
		mode_t mode);

/*
 * A malloc'ed copy of a directory path without trailing slashes ("/"
 * stays "/"), for code that joins names onto a root.  NULL when out of
 * memory; the caller frees it.
 */
char *file_dir_dup(const char *path);

#endif /* COMMON_FILEIO_H */
