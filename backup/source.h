/* SPDX-License-Identifier: MIT */
/*
 * source.h - where a backup reads its tree from: a small vtable so the
 * backup engine does not care whether it walks a plain directory
 * (source_dir.c) or reads an encrypted volume directly through the
 * volume library (a second implementation on fs/vol.h).
 *
 * Paths are relative to the source root, '/'-separated, "" for the
 * root.  Metadata comes back as struct stat (lstat semantics: symlinks
 * are not followed).  A handle is used by one thread.
 * Every hook returns 0 (or a count) or -errno.
 */
#ifndef BACKUP_SOURCE_H
#define BACKUP_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct source;
struct source_file;

/* Called once per directory entry name (not "." or ".."). */
typedef int (*source_dirent_fn)(const char *name, void *arg);

struct source_ops {
	int (*lstat)(struct source *s, const char *path, struct stat *sb);
	/* Call fn for each entry of directory path, in any order. */
	int (*readdir)(struct source *s, const char *path,
		       source_dirent_fn fn, void *arg);
	/* Symlink text into buf (NUL-terminated); returns its length. */
	int (*readlink)(struct source *s, const char *path, char *buf,
			size_t size);
	/* NUL-separated xattr names, as llistxattr(2); size 0 asks. */
	ssize_t (*listxattr)(struct source *s, const char *path, char *buf,
			     size_t size);
	ssize_t (*getxattr)(struct source *s, const char *path,
			    const char *name, void *buf, size_t size);
	int (*open)(struct source *s, const char *path,
		    struct source_file **fp);
	int (*fstat)(struct source_file *f, struct stat *sb);
	ssize_t (*pread)(struct source_file *f, void *buf, size_t len,
			 uint64_t off);
	/*
	 * Next data region at or after off: *datap its start, *holep the
	 * next hole after it (file size if none).  -ENXIO past the last
	 * data.  Sources that cannot tell report one region: everything.
	 */
	int (*next_data)(struct source_file *f, uint64_t off,
			 uint64_t *datap, uint64_t *holep);
	void (*close)(struct source_file *f);
	void (*destroy)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	const char *kind;		/* "directory" or "volume" */
};

/* A plain directory tree rooted at path; the root must exist. */
int source_dir_open(const char *path, struct source **sp);

/*
 * A phivault volume's plaintext, read through fs/vol.h from its backing
 * directory (mounted or not), unlocked with secret of secret_type (enum
 * keyslot_type: KEYSLOT_PASSPHRASE or KEYSLOT_KEYFILE).  Returns 0 or
 * vol_open()'s codes (-PHV_EBADKEY for a wrong secret).
 */
int source_vol_open(const char *cipherdir, int secret_type,
		    const void *secret, size_t secretlen, struct source **sp);

/*
 * Pick the source for path: a phivault volume (CIPHERDIR with a
 * .phivault.conf), unlocked with the secret, or else a plain directory.
 */
int source_open(const char *path, int secret_type, const void *secret,
		size_t secretlen, struct source **sp);

/* 1 when path looks like a phivault volume (CIPHERDIR/.phivault.conf). */
int source_is_volume(const char *path);

void source_free(struct source *s);

#endif /* BACKUP_SOURCE_H */
