/* SPDX-License-Identifier: MIT */
/*
 * vol_i.h - internals of the encrypted volume, shared by the fs/ files.
 *
 * Three layers, each on backing file descriptors, never on paths:
 *   vol.c    configuration, key slots, KEKs and the derived subkeys;
 *   crypt.c  the on-disk records: file headers, content blocks, directory
 *            IDs, encrypted names (with long-name sidecars), symlink
 *            targets and xattr names and values;
 *   tree.c / fuse_ops.c  the two users: the path API of vol.h and the
 *            FUSE daemon.
 * The layout of every record is in docs/FORMAT.md.
 */
#ifndef FS_VOL_I_H
#define FS_VOL_I_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/fileio.h"
#include "crypto/aead.h"
#include "crypto/keyslot.h"
#include "vol.h"

#define VOL_FORMAT		1
#define VOL_KEY_LEN		32

struct vol_kek {
	uint32_t version;
	int64_t created;
	uint8_t nonce[AEAD_NONCE_LEN];
	uint8_t sealed[VOL_KEY_LEN];
	uint8_t tag[AEAD_TAG_LEN];
	uint8_t *key;			/* secmem, VOL_KEY_LEN; NULL if locked */
	int retired;			/* retired by another process: key wiped,
					 * kept allocated for racing readers */
};

struct vol {
	char *cipherdir;
	int rootfd;			/* O_PATH of the cipherdir */
	uint32_t format;
	uint8_t id[VOL_ID_LEN];
	uint32_t block_size;
	int64_t created;
	unsigned int nslots;
	struct keyslot slots[VOL_MAX_SLOTS];
	unsigned int nkeks;
	struct vol_kek keks[VOL_MAX_KEKS];
	uint32_t current_kek;		/* guarded by conf_lock */
	pthread_mutex_t conf_lock;	/* config rewrites, KEK table */

	/* key management (vol.c, "slots and reload"); conf_lock */
	char *recipes[VOL_MAX_SLOTS];	/* parallel to slots[]; NULL: none */
	char *retention;		/* "retain" lines, NUL-separated */
	size_t retention_len;
	dev_t conf_dev;			/* the config file last read/written */
	ino_t conf_ino;
	struct timespec conf_mtime;
	enum vol_policy_state policy_state;	/* conf_lock */
	uint8_t policy_pin[VOL_PIN_LEN];	/* conf_lock */
	uint64_t grants_gen;			/* conf_lock */

	/* secmem, set once by vol_open(), read-only afterwards */
	uint8_t *vmk;			/* VOL_KEY_LEN */
	uint8_t *kek_wrap;		/* VOL_KEY_LEN */
	uint8_t *name_key;		/* SIV_KEY_LEN */
	uint8_t *meta_key;		/* VOL_KEY_LEN */
	uint8_t *conf_mac;		/* VOL_KEY_LEN */
};

/* The KEK for version v, or NULL when the config has no such version. */
const struct vol_kek *vol_kek_get(struct vol *vol, uint32_t v);

/* Current KEK version (under conf_lock). */
uint32_t vol_kek_current(struct vol *vol);

/* ---- crypt.c: file headers ------------------------------------------ */

#define HDR_MAGIC		"PHVF"
#define HDR_VERSION		1
#define HDR_LEN			88	/* 4+2+2+16+4+12+32+16 */
#define FILE_ID_LEN		16
#define BLK_OVERHEAD		(AEAD_NONCE_LEN + AEAD_TAG_LEN)

/* What a reader or writer of one file needs. */
struct fcrypt {
	struct vol *vol;
	int fd;				/* backing, O_RDWR or O_RDONLY */
	uint32_t bs;			/* plaintext block size */
	int has_hdr;			/* 0: empty file, header not yet written */
	uint8_t file_id[FILE_ID_LEN];
	uint32_t kek_version;
	uint8_t *dek;			/* secmem VOL_KEY_LEN, or NULL */
};

/*
 * Load the header of fd into fc (fc->vol and fc->fd set by the caller).
 * A zero-length backing file has no header yet: has_hdr = 0, dek = NULL.
 * Returns 0, -PHV_EAUTH (header fails), -PHV_EFORMAT, -errno.
 */
int fc_load(struct fcrypt *fc);

/* Give fc a fresh file ID and DEK and write the header (one pwrite at 0).
 * Only for a zero-length backing file. */
int fc_init_header(struct fcrypt *fc);

/* Wipe the DEK; the fd is the caller's. */
void fc_release(struct fcrypt *fc);

/* Plaintext size of a backing file of bsize bytes; -PHV_EFORMAT when the
 * size is impossible (it is then rounded down in *sizep). */
int fc_plain_size(uint64_t bsize, uint32_t bs, uint64_t *sizep);

/* Backing size for a plaintext size (header included, 0 for 0 without
 * header). */
uint64_t fc_backing_size(uint64_t size, uint32_t bs);

/*
 * Plaintext I/O.  fc_pread returns bytes read or -PHV_EAUTH with *badp set
 * to the failing block.  fc_pwrite and fc_truncate need exclusive access
 * to the file (caller's lock); fc_pread may run concurrently with other
 * readers.
 */
ssize_t fc_pread(struct fcrypt *fc, void *buf, size_t len, uint64_t off,
		 uint64_t *badp);
ssize_t fc_pwrite(struct fcrypt *fc, const void *buf, size_t len,
		  uint64_t off, uint64_t *badp);
int fc_truncate(struct fcrypt *fc, uint64_t size, uint64_t *badp);

/* Re-seal the header under KEK version `kek` (one pwrite). */
int fc_rewrap(struct fcrypt *fc, uint32_t kek);

/* ---- crypt.c: directory IDs and names -------------------------------- */

#define DIRID_LEN		16
#define DIRID_FILE_LEN		24	/* "PHVD" + u16 version + u16 0 + id */
#define NAME_ENC_MAX		400	/* encoded SIV of a 255-byte name */
#define LONG_PREFIX		"L."
#define LONG_SUFFIX		".name"
#define TMP_PREFIX		FILE_TMP_PREFIX

/* Read the directory ID of dirfd; -PHV_EAUTH when missing or damaged. */
int dirid_read(int dirfd, uint8_t id[static DIRID_LEN]);

/* Write a fresh random ID into the new, empty directory dirfd (temp file,
 * fsync, rename).  id receives it. */
int dirid_create(int dirfd, uint8_t id[static DIRID_LEN]);

/*
 * Encrypt a plaintext name for directory dirid.  bname (256 bytes)
 * receives the backing name.  When the encoded name is longer than 255
 * bytes, bname is "L.<hash>", the full encoding goes to longenc
 * (NAME_ENC_MAX bytes; may be NULL only if the caller does not create)
 * and 1 is returned; otherwise 0.  -ENAMETOOLONG for names over 255
 * bytes, -EINVAL for "", ".", ".." or names with '/'.
 */
int name_encrypt(struct vol *vol, const uint8_t dirid[static DIRID_LEN],
		 const char *name, char *bname, char *longenc);

/* Decrypt backing name bname of directory dirfd/dirid into plain (256
 * bytes).  -PHV_EAUTH when it fails; 1 when bname is a reserved name
 * (our own files, sidecars) that is never listed. */
int name_decrypt(struct vol *vol, int dirfd,
		 const uint8_t dirid[static DIRID_LEN], const char *bname,
		 char *plain);

/* 1 when bname is one of the volume's own entries. */
int name_reserved(const char *bname);

/* Write (atomically) the sidecar of long backing name bname. */
int name_sidecar_write(int dirfd, const char *bname, const char *longenc);

/* Remove the sidecar of bname when bname is a long name; ignores ENOENT. */
void name_sidecar_remove(int dirfd, const char *bname);

/* A random temporary name with TMP_PREFIX into buf (64 bytes):
 * file_tmp_name() of common/fileio.h. */
void name_tmp(char *buf);

/* ---- crypt.c: symlinks and xattrs ------------------------------------ */

/* Encrypt a symlink target into the backing target enc (size bytes). */
int symlink_encrypt(struct vol *vol, const char *target, char *enc,
		    size_t size);

/* Decrypt a backing target (NUL-terminated) into plain (size bytes);
 * returns the plaintext length. */
int symlink_decrypt(struct vol *vol, const char *enc, char *plain,
		    size_t size);

#define XATTR_BACKING_MAX	512

/* Backing xattr name for a plaintext one; -EOPNOTSUPP for namespaces
 * we do not store (security., system.). */
int xattr_name_encrypt(struct vol *vol, const char *name, char *bname);

/* Plaintext name of a backing xattr name; 1 when not ours (skip),
 * -PHV_EAUTH when damaged. */
int xattr_name_decrypt(struct vol *vol, const char *bname, char *name);

/* The plaintext names of the xattrs of the object at path p (a
 * /proc/self/fd link), NUL-separated, skipping names not ours, into
 * *listp (malloc'd; the caller frees it).  Returns its length or
 * -errno; *listp is NULL on failure. */
ssize_t xattr_list_plain(struct vol *vol, const char *p, char **listp);

/* Seal/open a value bound to the object ID and the plaintext name.
 * Sealed size is len + BLK_OVERHEAD. */
int xattr_seal(struct vol *vol, const uint8_t oid[static FILE_ID_LEN],
	       const char *name, const void *val, size_t len, uint8_t *out);
int xattr_open(struct vol *vol, const uint8_t oid[static FILE_ID_LEN],
	       const char *name, const uint8_t *in, size_t inlen, void *val);

/* ---- small helpers ---------------------------------------------------- */

/* Write all of buf at off (retrying short writes and EINTR). */
int pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* Read up to len at off, retrying short reads; returns the count. */
ssize_t pread_all(int fd, void *buf, size_t len, uint64_t off);


#endif /* FS_VOL_I_H */
