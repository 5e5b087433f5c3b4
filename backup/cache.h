/* SPDX-License-Identifier: MIT */
/*
 * cache.h - a local cache of repository metadata objects (index records
 * and snapshot manifests), so that a backup or restore on the same host
 * need not download them again.
 *
 * What is cached is byte for byte the object the store returned: sealed
 * ciphertext, never plaintext and never a key.  Entries are named by the
 * object's key and version id, and S3 versions never change, so an entry
 * is valid for exactly the object version it names.  The cache is not
 * trusted: the caller opens every entry with the same authenticated
 * decryption as a downloaded object, and on failure drops the entry
 * (cache_drop()) and downloads the object again.  Entries of another
 * repository fail that check too (the repository id is in every AAD),
 * and each repository has its own directory anyway.
 *
 * Location (docs/REPOSITORY.md, "Local cache"): $PHIVAULT_CACHE_DIR if
 * set ("off" disables the cache), else /var/cache/phivault for root,
 * else $XDG_CACHE_HOME/phivault, else $HOME/.cache/phivault; then one
 * directory per repository id (hex).  Directories are made 0700, files
 * 0600, written to a temporary name and renamed into place.  A cache
 * that cannot be created or written only costs speed: every function
 * here fails soft, and nothing logs above debug level.
 */
#ifndef BACKUP_CACHE_H
#define BACKUP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

struct cache;

/*
 * The cache of repository id, or NULL (*cp) when caching is off or the
 * directory cannot be made.  Returns 0 or -ENOMEM.
 */
int cache_open(const uint8_t repo_id[MF_ID_LEN], struct cache **cp);
void cache_free(struct cache *c);

/* The repository's cache directory ("" for a NULL cache). */
const char *cache_dir(const struct cache *c);

/*
 * Read the entry of key at version vid (NULL: unversioned) into a
 * malloc'ed buffer (*bufp, with a NUL after the data).  Returns 0,
 * -PHV_ENOTFOUND (no entry, or no cache), -EFBIG (more than max) or
 * -errno.
 */
int cache_get(struct cache *c, const char *key, const char *vid,
	      size_t max, void **bufp, size_t *lenp);

/* Store an entry (best effort; 0 or a negative code). */
int cache_put(struct cache *c, const char *key, const char *vid,
	      const void *buf, size_t len);

/* Remove an entry (it failed authentication, or is stale). */
void cache_drop(struct cache *c, const char *key, const char *vid);

/*
 * Remove every entry under dir ("index" or "snapshots") whose key and
 * version is not in keys[] / vids[] (n of them): objects that left the
 * repository.  Best effort.
 */
void cache_sweep(struct cache *c, const char *dir, const char *const *keys,
		 const char *const *vids, size_t n);

#endif /* BACKUP_CACHE_H */
