/* SPDX-License-Identifier: MIT */
/*
 * vol.h - the encrypted volume as a library: create, unlock, derive keys,
 * and read or write the plaintext tree without going through FUSE.
 *
 * The FUSE daemon (fs/fuse_ops.c), `phivault fsck`, the backup engine
 * (reading a volume, mounted or not) and restore `--into VOLUME` (writing
 * one) all use this interface.  On-disk layout: docs/FORMAT.md.
 *
 * Paths are plaintext, relative to the volume root, '/'-separated, with no
 * "." or ".." components; "" or "/" is the root.  Symbolic links inside a
 * path are never followed: a path names the link itself (lstat semantics).
 *
 * Errors: every int-returning function gives 0 (or a count) on success, or
 * a negative code: -errno from the backing filesystem, -PHV_EAUTH when
 * something fails authentication (tampering or damage), -PHV_EFORMAT for a
 * malformed record, -PHV_EBADKEY for a wrong secret, -PHV_ECONFIG for a
 * missing or damaged configuration.  Nothing here prints; damage found by
 * the read paths is also logged through common/log.h (rate-limited).
 *
 * Thread-safety: a struct vol may be shared by any number of threads once
 * vol_open() returns; every function taking only a struct vol * is
 * thread-safe.  A struct vol_dir or struct vol_file belongs to one thread
 * at a time.  Concurrent writers to the same file through two vol_file
 * handles (or this API and a live mount) are not serialised against each
 * other: the caller must not do that.  Readers may run alongside a mount.
 *
 * Processes: every function that rewrites the configuration (slots,
 * KEKs, retention, the policy pin, the grants generation) holds an
 * exclusive flock(2) on CIPHERDIR/.phivault.conf.lock (created 0600 on
 * first use) from taking in the current file (vol_conf_refresh()) until
 * its own rewrite is in place, so a mount recording a grant and a
 * `phivault key add` in another process never lose each other's change.
 * Such a function may therefore wait for another process's rewrite
 * (an Argon2id seal in `key add` takes about a second).
 */
#ifndef FS_VOL_H
#define FS_VOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "crypto/kdf.h"
#include "crypto/keyslot.h"

#define VOL_ID_LEN		16
#define VOL_NAME_MAX		255	/* longest plaintext name, bytes */
#define VOL_CONF_NAME		".phivault.conf"
#define VOL_CONF_LOCK_NAME	".phivault.conf.lock"	/* flock(2) only */
#define VOL_DIRID_NAME		".phivault.dirid"
#define VOL_MAX_SLOTS		16
#define VOL_MAX_KEKS		64

struct vol;
struct vol_dir;
struct vol_file;

/* ---- creating, unlocking, closing ---------------------------------- */

struct vol_create_opts {
	uint32_t block_size;		/* 0 = default (VOL_DEFAULT_BLOCK) */
	struct kdf_argon2_params argon;	/* all zero = keyslot_default_argon */
	const uint8_t *id;		/* VOL_ID_LEN bytes; NULL = random */
	const char *recipe;		/* token/command first slot, else NULL */
	const char *label;		/* first slot's label; NULL = none */
};

/* Block sizes accepted by vol_create(); the default is measured, see
 * docs/FORMAT.md "Block size". */
#define VOL_DEFAULT_BLOCK	(16U * 1024)
int vol_block_size_valid(uint32_t block_size);

/*
 * Create a new volume in cipherdir, which must exist and be empty
 * (-ENOTEMPTY otherwise).  A random master key is sealed into key slot 1
 * with the secret (type KEYSLOT_PASSPHRASE or KEYSLOT_KEYFILE); KEK
 * version 1 is created; the root directory ID is written.  Returns 0,
 * -EINVAL (bad block size or type), -ENOTEMPTY, -errno or -PHV_ECRYPTO.
 */
int vol_create(const char *cipherdir, const struct vol_create_opts *o,
	       enum keyslot_type type, const void *secret, size_t len);

/*
 * vol_create(), and on success *volp (when not NULL) is the new volume,
 * unlocked, as vol_open() would give it: for adding a second slot (the
 * recovery key at init) without asking for the first secret again.
 * The first slot may be of any type; KEYSLOT_PKCS11 and KEYSLOT_COMMAND
 * need o->recipe (see vol_slot_add()) and o->id, the ID the token or key
 * service bound when it wrapped the secret.
 */
int vol_create_open(const char *cipherdir, const struct vol_create_opts *o,
		    enum keyslot_type type, const void *secret, size_t len,
		    struct vol **volp);

/*
 * Unlock the volume in cipherdir with the secret, trying every slot of
 * that type.  Verifies the configuration MAC before trusting anything in
 * it.  On success *volp owns all keys (locked memory); release with
 * vol_close().  Returns 0, -PHV_ECONFIG (missing or malformed config),
 * -PHV_EBADKEY (no slot opens), -PHV_EAUTH (config MAC mismatch: the
 * configuration was altered), -PHV_EFORMAT (unknown format version) or
 * -errno.  *volp is NULL on failure.
 */
int vol_open(const char *cipherdir, enum keyslot_type type,
	     const void *secret, size_t len, struct vol **volp);

/* Wipe every key and free; NULL-safe.  No vol_dir or vol_file may
 * remain open. */
void vol_close(struct vol *vol);

/*
 * Derive a purpose key from the volume master key with HKDF-SHA-256:
 * info = "phivault v1 " + purpose (so "policy" and "audit" give the
 * reserved "phivault v1 policy" and "phivault v1 audit").  The purposes
 * the volume uses itself ("kek-wrap", "names", "meta", "config-mac") are
 * refused with -EPERM.  out receives len (1..64) bytes; the caller wipes
 * it (secmem_wipe).  Returns 0, -EINVAL, -EPERM or -PHV_ECRYPTO.
 */
int vol_derive_key(struct vol *vol, const char *purpose, void *out,
		   size_t len);

/* The volume's block size and ID (never secret). */
uint32_t vol_block_size(const struct vol *vol);
void vol_get_id(const struct vol *vol, uint8_t id[static VOL_ID_LEN]);

/* The backing directory path given to vol_open(); owned by vol. */
const char *vol_cipherdir(const struct vol *vol);

/* ---- reading the configuration without unlocking ------------------- */

struct vol_info {
	uint32_t format;
	uint8_t id[VOL_ID_LEN];
	uint32_t block_size;
	int64_t created;
	unsigned int nslots;
	struct keyslot slots[VOL_MAX_SLOTS];	/* public fields only */
	unsigned int nkeks;
	uint32_t kek_versions[VOL_MAX_KEKS];
	int64_t kek_created[VOL_MAX_KEKS];
	uint32_t current_kek;
};

/*
 * Parse cipherdir's configuration without any secret (the MAC is not
 * checked: nothing read here is trusted).  Returns 0, -PHV_ECONFIG or
 * -PHV_EFORMAT.
 */
int vol_info_read(const char *cipherdir, struct vol_info *info);

/* ---- key management (used by `phivault key ...`) ------------------- */

/*
 * Add a new random KEK with the next version number and make it current;
 * the config is rewritten atomically.  New files use it at once, also in
 * a live mount of another process (vol_conf_refresh()).  *versionp
 * receives the version.
 */
int vol_kek_rotate(struct vol *vol, uint32_t *versionp);

/*
 * Re-seal the DEK of the regular file at path under the current KEK (the
 * header is rewritten in place with one pwrite; the contents are not
 * touched).  Returns 0, -PHV_EAUTH (header damaged), or -errno.
 * XXX: not safe against a mounted daemon that caches the header; do it
 * on an unmounted volume.
 */
int vol_file_rewrap(struct vol *vol, const char *path);

/* Delete KEK version v from the config; -EBUSY for the current one.
 * The caller must have rewrapped every file first (fsck finds leftovers). */
int vol_kek_retire(struct vol *vol, uint32_t version);

/* ---- key slots, recipes, reload (key management) ------------------- */

#define VOL_SLOT_RECIPE_MAX	4096	/* one line, printable ASCII */

/*
 * Seal the open volume's master key into a new slot.  tmpl gives the
 * type, argon (passphrase slots) and label; the library assigns the next
 * id (highest + 1), seals with keyslot_seal(), keeps recipe (required for
 * KEYSLOT_PKCS11 and KEYSLOT_COMMAND, NULL otherwise) under the config
 * MAC, and rewrites the config atomically; nothing else changes, no file
 * header included.  *idp receives the id.  Returns 0, -ENOSPC
 * (VOL_MAX_SLOTS reached), -EINVAL, -errno or -PHV_ECRYPTO; on failure
 * the config and vol are as before.
 */
int vol_slot_add(struct vol *vol, const struct keyslot *tmpl,
		 const void *secret, size_t len, const char *recipe,
		 uint32_t *idp);

/* Remove slot id and its recipe (atomic rewrite).  -PHV_ENOTFOUND, or
 * -EBUSY when it is the last slot: a volume always keeps one. */
int vol_slot_remove(struct vol *vol, uint32_t id);

/*
 * Read slot id's recipe without unlocking, into buf (NUL-terminated).
 * Not trusted: the MAC is not checked, but a recipe only ever yields a
 * secret that must then open the slot.  Returns 0, -PHV_ENOTFOUND (no
 * such slot or no recipe), -ENOSPC, -PHV_ECONFIG.
 */
int vol_slot_recipe(const char *cipherdir, uint32_t id, char *buf,
		    size_t size);

/*
 * Take in a config another process rewrote since vol last read or wrote
 * it (`key rotate`, `key retire`, `key add` while mounted): verifies its
 * MAC, unseals new KEK versions, makes the file's current KEK current,
 * and wipes versions the file no longer has (kept allocated, never
 * returned again).  Cheap when nothing changed (one fstatat);
 * vol_kek_current() calls it, so a mount's new files use a rotated KEK
 * at once.  Returns 0 or a negative code (the old state is kept, and a
 * warning logged).
 */
int vol_conf_refresh(struct vol *vol);

/*
 * Retention rules (`phivault retention`): free text, one rule per line,
 * kept in the config sealed under the volume's meta key (a rule names a
 * plaintext path, and the config is public) and under its MAC.
 * vol_retention_get() writes every line, each ending in '\n', into buf
 * (NUL-terminated; "" for none): 0, -ENOSPC, -PHV_EAUTH (a rule was
 * altered).  vol_retention_set() replaces all rules with text (lines up
 * to 4080 bytes, no empty lines) and rewrites the config atomically:
 * 0, -EINVAL, -errno.  Which rules make sense is the caller's business.
 */
int vol_retention_get(struct vol *vol, char *buf, size_t size);
int vol_retention_set(struct vol *vol, const char *text);

/* ---- the access policy's pin (`phivault policy set|remove`) -------- */

#define VOL_PIN_LEN		32	/* SHA-256 */

enum vol_policy_state {
	VOL_POLICY_UNKNOWN,	/* config from before pins: not recorded */
	VOL_POLICY_NONE,	/* removed on purpose: no policy expected */
	VOL_POLICY_REQUIRED,	/* the policy whose body hashes to the pin */
};

/*
 * Whether the volume requires an access policy, and which one: the
 * config line "policy-required B64" (SHA-256 of the sealed policy's body)
 * or "policy-required none", covered by the config MAC, so that whoever
 * can write the backing directory can neither delete the policy file nor
 * put an older sealed one back unnoticed (policy/guard.h checks it).
 * vol_policy_pin() takes in a config rewritten by another process first
 * (vol_conf_refresh()) and returns the state (pin filled for
 * VOL_POLICY_REQUIRED).  vol_policy_pin_set() records pin, or NULL for
 * VOL_POLICY_NONE, and rewrites the config atomically: 0 or -errno.
 */
int vol_policy_pin(struct vol *vol, uint8_t pin[static VOL_PIN_LEN]);
int vol_policy_pin_set(struct vol *vol, const uint8_t *pin);

/*
 * The generation of the live grants file (CIPHERDIR/.phivault.grants)
 * the volume last recorded: config line "grants-generation N", covered
 * by the config MAC; absent means 0.  The mount's guard records a new
 * generation before each save of the grants file and refuses to load a
 * file whose own generation is lower (an older file put back;
 * policy/guard.h).  vol_grants_gen() takes in a config rewritten by
 * another process first (vol_conf_refresh()) and returns N.
 * vol_grants_gen_set() records gen and rewrites the config atomically:
 * 0, -EINVAL when gen is below the recorded generation (it never goes
 * back), or -errno; on failure the config and vol are as before.
 */
uint64_t vol_grants_gen(struct vol *vol);
int vol_grants_gen_set(struct vol *vol, uint64_t gen);

/* ---- files and keys (key management) ------------------------------- */

/* KEK version in the header of the regular file at path; 0 for an empty
 * file (no header yet).  Reads 88 bytes, no key needed.  Returns 0,
 * -PHV_EAUTH (no valid header), -EISDIR, -EINVAL (not a regular file),
 * -errno. */
int vol_file_kek(struct vol *vol, const char *path, uint32_t *vp);

/*
 * Re-seal the DEK of the file at path under the current KEK if its header
 * names an older one (one pwrite of the 88-byte header; contents, file ID
 * and DEK unchanged; no fsync: the caller syncs the filesystem once).
 * *fromp receives the old version.  Returns 1 rewrapped, 0 nothing to do
 * (already current, or empty), -EAGAIN when the header changed under us
 * (a mount rewrote the file: try again), -PHV_EAUTH, -errno.  Safe to
 * repeat after a crash or kill.  May run while mounted: docs/KEYS.md.
 */
int vol_file_rewrap_old(struct vol *vol, const char *path, uint32_t *fromp);

/*
 * Destroy the regular file at path for good: overwrite its whole header
 * (the only sealed copy of its DEK) with random bytes and fdatasync, then
 * remove the name: through unlink_fn(ctx) when given (a caller going
 * through a live mount, so the kernel forgets the name and its cached
 * pages), else by unlinking the backing file and fsyncing its directory.
 * The blocks can then never be decrypted, from this disk or from a copy
 * of the backing directory taken afterwards.  Returns 0, -EMLINK when the
 * file has other hard links (they share the header; nothing is done),
 * -EISDIR, -EINVAL (not a regular file), unlink_fn's code (the header is
 * destroyed by then), -errno.
 */
int vol_file_shred(struct vol *vol, const char *path,
		   int (*unlink_fn)(void *ctx), void *ctx);

/* ---- reading the tree ---------------------------------------------- */

/* lstat() of path: plaintext size for files and symlinks.  st_ino is the
 * backing inode number. */
int vol_stat(struct vol *vol, const char *path, struct stat *st);

struct vol_dirent {
	char name[VOL_NAME_MAX + 1];	/* plaintext, "" when damaged */
	char backing[256];		/* the encrypted name on disk */
	struct stat st;			/* as vol_stat() */
	int damaged;			/* 1: the name did not authenticate */
};

/*
 * List the directory at path.  vol_dir_next() returns 1 with *ent filled,
 * 0 at the end, or a negative code.  "." and ".." and the volume's own
 * files are never returned.  An entry whose name fails to authenticate is
 * returned with damaged = 1 and only backing set (so fsck and backup can
 * report it); the FUSE view hides such entries.  Opening a directory whose
 * ID file is missing or damaged fails with -PHV_EAUTH.
 */
int vol_dir_open(struct vol *vol, const char *path, struct vol_dir **dp);
int vol_dir_next(struct vol_dir *d, struct vol_dirent *ent);
void vol_dir_close(struct vol_dir *d);

/* Plaintext target of the symlink at path into buf (NUL-terminated);
 * returns the target length, -ENAMETOOLONG when size is too small,
 * -EINVAL when path is not a symlink, -PHV_EAUTH when damaged. */
int vol_readlink(struct vol *vol, const char *path, char *buf, size_t size);

/*
 * Extended attributes, with listxattr/getxattr semantics: size 0 returns
 * the size needed; -ERANGE when buf is too small; -ENODATA when absent.
 * The list is NUL-separated plaintext names.  Values fail with -PHV_EAUTH
 * when damaged or moved from another object.
 */
ssize_t vol_listxattr(struct vol *vol, const char *path, char *buf,
		      size_t size);
ssize_t vol_getxattr(struct vol *vol, const char *path, const char *name,
		     void *buf, size_t size);
int vol_setxattr(struct vol *vol, const char *path, const char *name,
		 const void *value, size_t size, int flags);

/*
 * Open the regular file at path.  flags: O_RDONLY, or O_RDWR optionally
 * with O_CREAT, O_EXCL and O_TRUNC (mode applies when created; the file is
 * owned by the calling process's uid/gid).  *fp owns a backing descriptor
 * and the file's DEK (locked memory).  Returns 0, -EISDIR, -EINVAL (not a
 * regular file), -PHV_EAUTH (header damaged), -errno.
 */
int vol_file_open(struct vol *vol, const char *path, int flags,
		  mode_t mode, struct vol_file **fp);

/*
 * Read up to len plaintext bytes at off.  Returns the count (short only at
 * end of file), or -PHV_EAUTH when a block fails authentication: nothing
 * of that block is returned and *badp (when not NULL) receives its index.
 */
ssize_t vol_file_pread(struct vol_file *f, void *buf, size_t len, off_t off,
		       uint64_t *badp);

/* Write len bytes at off (holes are filled with zeros); returns len or a
 * negative code (-PHV_EAUTH when a partial block to merge is damaged). */
ssize_t vol_file_pwrite(struct vol_file *f, const void *buf, size_t len,
			off_t off);

/* Change the plaintext size; grows with a hole. */
int vol_file_truncate(struct vol_file *f, off_t size);

/* Plaintext stat of the open file. */
int vol_file_stat(struct vol_file *f, struct stat *st);

/* fsync the backing file (datasync: fdatasync). */
int vol_file_fsync(struct vol_file *f, int datasync);

/* Close and wipe the DEK; NULL-safe. */
void vol_file_close(struct vol_file *f);

/* ---- writing the tree (restore) ------------------------------------ */

/* mkdir with a fresh directory ID; -EEXIST when path exists. */
int vol_mkdir(struct vol *vol, const char *path, mode_t mode);

/* Create a symlink at path pointing to the plaintext target. */
int vol_symlink(struct vol *vol, const char *target, const char *path);

/* Hard link newpath to the existing oldpath. */
int vol_link(struct vol *vol, const char *oldpath, const char *newpath);

/* Remove a file, symlink or empty directory (rmdir when a directory). */
int vol_remove(struct vol *vol, const char *path);

enum vol_meta_flags {
	VOL_META_MODE = 1U << 0,	/* permission bits of st_mode */
	VOL_META_OWNER = 1U << 1,	/* st_uid, st_gid */
	VOL_META_TIMES = 1U << 2,	/* st_atim, st_mtim */
};

/* Set metadata of path (never following a final symlink; modes are not
 * applied to symlinks). */
int vol_set_meta(struct vol *vol, const char *path, const struct stat *st,
		 unsigned int what);

#endif /* FS_VOL_H */
