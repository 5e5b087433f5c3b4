/* SPDX-License-Identifier: MIT */
/*
 * manifest.h - a snapshot's manifest: what was backed up and where each
 * byte of it lives, in memory and as a binary record.
 *
 * A manifest is self-sufficient for restore: its pack table names every
 * pack the snapshot needs with that pack's S3 version id and the pack's
 * data key (wrapped under the repository's key-wrap key), and every file
 * extent names its pack, its blob's offset and length in the pack and its
 * chunk id.  So a restore needs neither the indexes nor a listing, and
 * fetches exactly the blobs of the files asked for (ranged GETs).
 *
 * Nodes are in pre-order, parents before children, paths relative to the
 * source root with '/' separators ("" is the root itself).  The decoder
 * rejects paths with empty, "." or ".." components or a leading '/', so a
 * manifest can never direct a restore outside its target.
 *
 * The encoding (version 1) is documented in docs/REPOSITORY.md; it is
 * compressed and encrypted by the caller (snapshot.c).  Nothing here
 * logs.  Functions return 0, -ENOMEM or -PHV_EFORMAT.
 */
#ifndef BACKUP_MANIFEST_H
#define BACKUP_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MF_ID_LEN	16	/* snapshot and pack ids */
#define MF_CHUNK_ID_LEN	32	/* HMAC-SHA-256 */
#define MF_FP_LEN	16	/* XXH3-128 */
#define MF_WRAP_LEN	60	/* nonce, sealed 32-byte key, tag */
#define MF_HOLE		UINT32_MAX

enum mf_type {
	MF_FILE = 1,
	MF_DIR,
	MF_SYMLINK,
	MF_HARDLINK,	/* another name of an earlier MF_FILE (target) */
	MF_FIFO,
	MF_CHR,
	MF_BLK,
};

enum mf_node_flags {
	MF_CHANGED = 1U << 0,	/* the file changed while it was read */
};

enum mf_blob_flags {
	MF_ZSTD = 1U << 0,	/* the blob's plaintext is zstd-compressed */
};

struct mf_xattr {
	char *name;
	uint8_t *value;
	size_t len;
};

/* A run of a file: data stored in a blob, or a hole (pack == MF_HOLE). */
struct mf_extent {
	uint64_t off, len;		/* in the file */
	uint32_t pack;			/* index into manifest.packs */
	uint32_t flags;			/* enum mf_blob_flags */
	uint64_t blob_off;		/* in the pack */
	uint32_t blob_len;		/* nonce + ciphertext + tag */
	uint8_t id[MF_CHUNK_ID_LEN];
};

struct mf_node {
	char *path;
	enum mf_type type;
	uint32_t mode;			/* st_mode permission and type bits */
	uint32_t uid, gid;
	char *uname, *gname;		/* NULL when unknown */
	uint64_t size;
	int64_t mtime_ns, atime_ns, ctime_ns;
	uint64_t ino, dev, rdev;
	uint32_t flags;			/* enum mf_node_flags */
	char *target;			/* symlink text or hard link path */
	uint8_t fp[MF_FP_LEN];		/* XXH3-128 of the plaintext */
	struct mf_xattr *xattrs;
	size_t nxattrs;
	struct mf_extent *ext;
	size_t next, ext_cap;
};

struct mf_pack {
	uint8_t id[MF_ID_LEN];
	uint8_t key_id[MF_ID_LEN];	/* the snapshot whose key seals it */
	uint8_t wrapped[MF_WRAP_LEN];
	char *version_id;		/* NULL on unversioned stores */
};

struct manifest {
	uint8_t id[MF_ID_LEN];
	int64_t time;			/* server clock, Unix seconds */
	int64_t retain_until;		/* 0: not locked */
	char *host;
	char *source;
	int has_parent;
	uint8_t parent[MF_ID_LEN];
	uint64_t files, dirs, bytes;	/* totals of the tree */
	struct mf_pack *packs;
	size_t npacks, packs_cap;
	struct mf_node *nodes;
	size_t nnodes, nodes_cap;
};

/* Serialise m into a malloc'ed buffer. */
int manifest_encode(const struct manifest *m, uint8_t **bufp, size_t *lenp);

/* Parse buf into *m (zeroed first); on failure *m is released. */
int manifest_decode(const void *buf, size_t len, struct manifest *m);

/* Free everything m owns and zero it. */
void manifest_release(struct manifest *m);

/* Append a zeroed node / extent / pack; NULL on -ENOMEM. */
struct mf_node *manifest_add_node(struct manifest *m);
struct mf_extent *mf_node_add_extent(struct mf_node *n);
struct mf_pack *manifest_add_pack(struct manifest *m);

/* Free what one node owns (used when a node is dropped). */
void mf_node_release(struct mf_node *n);

/* 1 if path is a safe relative path ("" allowed), else 0. */
int mf_path_ok(const char *path);

#endif /* BACKUP_MANIFEST_H */
