/* SPDX-License-Identifier: MIT */
/*
 * secmem.h - memory for key material: locked, excluded from core dumps,
 * wiped when freed; plus wiping and constant-time comparison.
 *
 * Backed by OpenSSL's secure heap (CRYPTO_secure_malloc_init), which mlocks
 * one arena, guards it with inaccessible pages and keeps it out of core
 * dumps.  We use it rather than a hand-written allocator because it is
 * well reviewed and already linked.  When the arena cannot be created (no
 * CAP_IPC_LOCK and a small RLIMIT_MEMLOCK) secmem_alloc() still wipes on
 * free but the memory is not locked; secmem_locked() tells which.
 */
#ifndef CRYPTO_SECMEM_H
#define CRYPTO_SECMEM_H

#include <stddef.h>

/* Set up the secure arena once per process; safe to call again. */
void secmem_init(void);

/* 1 when key memory is mlocked, 0 when it fell back to the plain heap. */
int secmem_locked(void);

/* Zeroed allocation for secrets; NULL on failure. */
void *secmem_alloc(size_t len);

/* Wipe and free; NULL-safe. len must be the allocated length. */
void secmem_free(void *p, size_t len);

/* Wipe memory in a way the compiler cannot elide. */
void secmem_wipe(void *p, size_t len);

/* Constant-time comparison: 0 when equal, nonzero otherwise. */
int secmem_cmp(const void *a, const void *b, size_t len);

/* Fill with cryptographically strong random bytes; 0 or -PHV_ECRYPTO. */
int secmem_random(void *p, size_t len);

#endif /* CRYPTO_SECMEM_H */
