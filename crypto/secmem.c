// SPDX-License-Identifier: MIT
/*
 * secmem.c - locked key memory on OpenSSL's secure heap (see secmem.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "secmem.h"

/* 1 MiB of locked memory holds thousands of keys. */
#define SECMEM_ARENA	(1U << 20)
#define SECMEM_MINSIZE	32

static pthread_once_t secmem_once = PTHREAD_ONCE_INIT;
static int secmem_arena_ok;

static void secmem_setup(void)
{
	secmem_arena_ok = CRYPTO_secure_malloc_init(SECMEM_ARENA,
						    SECMEM_MINSIZE) == 1;
}

void secmem_init(void)
{
	pthread_once(&secmem_once, secmem_setup);
}

int secmem_locked(void)
{
	secmem_init();
	return secmem_arena_ok && CRYPTO_secure_malloc_initialized();
}

void *secmem_alloc(size_t len)
{
	secmem_init();
	/* falls back to a wiped plain allocation when the arena is full */
	return OPENSSL_secure_zalloc(len ? len : 1);
}

void secmem_free(void *p, size_t len)
{
	if (p)
		OPENSSL_secure_clear_free(p, len ? len : 1);
}

void secmem_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

int secmem_cmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len);
}

int secmem_random(void *p, size_t len)
{
	if (RAND_bytes(p, (int)len) != 1)
		return -PHV_ECRYPTO;
	return 0;
}
