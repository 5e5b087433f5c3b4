// SPDX-License-Identifier: MIT
/*
 * sealed.c - HMAC-authenticated small files in the volume (sealed.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/fileio.h"
#include "crypto/secmem.h"
#include "sealed.h"

#define SEALED_MAGIC	"phivault-sealed v1 "
#define SEALED_DOMAIN	"phivault sealed v1"
#define SEALED_MAXFILE	(16U << 20)

int sealed_hmac(const uint8_t *key, size_t keylen,
		const struct sealed_piece *pieces, int n, uint8_t out[32])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	EVP_MAC *mac = NULL;
	size_t outlen = 0;
	int i, r = -PHV_ECRYPTO;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		goto out;
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, keylen, params) != 1)
		goto out;
	for (i = 0; i < n; i++)
		if (EVP_MAC_update(ctx, pieces[i].p, pieces[i].len) != 1)
			goto out;
	if (EVP_MAC_final(ctx, out, &outlen, 32) != 1 || outlen != 32)
		goto out;
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

static int sealed_mac(const char *kind, const uint8_t *key,
		      const char *body, size_t len, uint8_t out[32])
{
	struct sealed_piece p[3] = {
		{ SEALED_DOMAIN, sizeof(SEALED_DOMAIN) },
		{ kind, strlen(kind) + 1 },
		{ body, len },
	};

	return sealed_hmac(key, SEALED_KEY_LEN, p, 3, out);
}

int sealed_write(const char *path, const char *kind,
		 const uint8_t key[static SEALED_KEY_LEN],
		 const char *body, size_t len)
{
	char hdr[128], mac64[B64_ENCLEN(32) + 1];
	struct iovec iov[2];
	uint8_t mac[32];
	int r, n;

	r = sealed_mac(kind, key, body, len, mac);
	if (r)
		return r;
	b64_encode(mac, sizeof(mac), mac64);
	n = snprintf(hdr, sizeof(hdr), SEALED_MAGIC "%s %s\n", kind, mac64);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -EINVAL;
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = len;
	return file_replace(path, iov, 2, 0600);
}

int sealed_slurp(const char *path, char **bufp, size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, r;

	*bufp = NULL;
	*lenp = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = -PHV_EFORMAT;
	if (fstat(fd, &st) || st.st_size > SEALED_MAXFILE)
		goto out;
	r = -ENOMEM;
	buf = malloc(st.st_size + 1);
	if (!buf)
		goto out;
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += n;
	}
	buf[got] = '\0';
	*bufp = buf;
	*lenp = got;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int sealed_read(const char *path, const char *kind,
		const uint8_t key[static SEALED_KEY_LEN],
		char **bodyp, size_t *lenp)
{
	char *buf = NULL, *nl, *sp;
	uint8_t want[32], got[48];
	size_t len, klen = strlen(kind), hlen;
	long glen;
	int r;

	*bodyp = NULL;
	*lenp = 0;
	r = sealed_slurp(path, &buf, &len);
	if (r)
		return r;
	r = -PHV_EFORMAT;
	nl = memchr(buf, '\n', len);
	hlen = sizeof(SEALED_MAGIC) - 1;
	if (!nl || (size_t)(nl - buf) < hlen + klen + 2 ||
	    memcmp(buf, SEALED_MAGIC, hlen) ||
	    memcmp(buf + hlen, kind, klen) || buf[hlen + klen] != ' ')
		goto out;
	sp = buf + hlen + klen + 1;
	glen = b64_decode(sp, nl - sp, got);
	if (glen != 32)
		goto out;
	r = sealed_mac(kind, key, nl + 1, len - (nl + 1 - buf), want);
	if (r)
		goto out;
	if (secmem_cmp(want, got, 32)) {
		r = -PHV_EAUTH;
		goto out;
	}
	len -= nl + 1 - buf;
	memmove(buf, nl + 1, len + 1);
	*bodyp = buf;
	*lenp = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}
