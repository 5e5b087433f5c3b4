// SPDX-License-Identifier: MIT
/*
 * cache.c - the local metadata cache (see cache.h).
 *
 * An entry of key "index/<hex>" at version v is the file
 * <dir>/index/<hex>.<h>, h being 16 hex digits of SHA-256(v) ("0" for an
 * unversioned object), so odd characters in version ids never reach a
 * path.  Only keys of the form <word>/<hex> are cached.
 *
 * Entries are replaced by temporary file and rename (common/fileio) but
 * not fsync'ed: the repository authenticates every cached object when it
 * opens it and downloads one that fails again, so a torn entry after a
 * crash costs a download, never a wrong answer.  cache_sweep() removes
 * temporaries an interrupted write left behind along with stale entries.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/log.h"
#include "cache.h"

#define CACHE_NAME_MAX	128

struct cache {
	char *dir;			/* .../<repository id hex> */
};

/* mkdir -p with mode 0700 for the components we make. */
static int mkdirs(const char *path)
{
	char *p = strdup(path), *s, ch;
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1; !r; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		ch = *s;
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST)
			r = -errno;
		*s = ch;
		if (!ch)
			break;
	}
	free(p);
	return r;
}

static char *base_dir(void)
{
	const char *env = getenv("PHIVAULT_CACHE_DIR"), *x;
	char *out = NULL;

	if (env && *env)
		return strcmp(env, "off") ? strdup(env) : NULL;
	if (geteuid() == 0)
		return strdup("/var/cache/phivault");
	x = getenv("XDG_CACHE_HOME");
	if (x && *x == '/') {
		if (asprintf(&out, "%s/phivault", x) < 0)
			out = NULL;
		return out;
	}
	x = getenv("HOME");
	if (x && *x == '/' && asprintf(&out, "%s/.cache/phivault", x) < 0)
		out = NULL;
	return out;
}

int cache_open(const uint8_t repo_id[MF_ID_LEN], struct cache **cp)
{
	char hex[HEX_ENCLEN(MF_ID_LEN) + 1], *base;
	struct cache *c;
	struct stat sb;

	*cp = NULL;
	base = base_dir();
	if (!base)
		return 0;
	hex_encode(repo_id, MF_ID_LEN, hex);
	c = calloc(1, sizeof(*c));
	if (!c || asprintf(&c->dir, "%s/%s", base, hex) < 0) {
		free(c);
		free(base);
		return -ENOMEM;
	}
	free(base);
	/* a directory someone else could write into is not used */
	if (mkdirs(c->dir) || stat(c->dir, &sb) || !S_ISDIR(sb.st_mode) ||
	    sb.st_uid != geteuid() || (sb.st_mode & 077)) {
		log_debug("cache: %s is not usable; running without a cache",
			  c->dir);
		cache_free(c);
		return 0;
	}
	*cp = c;
	return 0;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	free(c->dir);
	free(c);
}

const char *cache_dir(const struct cache *c)
{
	return c ? c->dir : "";
}

static int safe_word(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* "<sub>/<name>.<h>" for key and vid into out; -EINVAL for odd keys. */
static int entry_name(const char *key, const char *vid, char *out,
		      size_t size)
{
	const char *slash = strchr(key, '/');
	unsigned char md[EVP_MAX_MD_SIZE];
	char h[HEX_ENCLEN(8) + 1] = "0";
	unsigned int mdlen = 0;
	int n;

	if (!slash || !safe_word(key, (size_t)(slash - key)) ||
	    !safe_word(slash + 1, strlen(slash + 1)))
		return -EINVAL;
	if (vid) {
		if (!EVP_Digest(vid, strlen(vid), md, &mdlen, EVP_sha256(),
				NULL) || mdlen < 8)
			return -EINVAL;
		hex_encode(md, 8, h);
	}
	n = snprintf(out, size, "%s.%s", key, h);
	return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

static char *entry_path(struct cache *c, const char *key, const char *vid)
{
	char name[CACHE_NAME_MAX], *p;

	if (!c || entry_name(key, vid, name, sizeof(name)))
		return NULL;
	if (asprintf(&p, "%s/%s", c->dir, name) < 0)
		return NULL;
	return p;
}

int cache_get(struct cache *c, const char *key, const char *vid,
	      size_t max, void **bufp, size_t *lenp)
{
	char *p = entry_path(c, key, vid);
	uint8_t *buf = NULL;
	struct stat sb;
	size_t got = 0;
	ssize_t n;
	int fd = -1, r = -PHV_ENOTFOUND;

	*bufp = NULL;
	*lenp = 0;
	if (!p)
		return r;
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		goto out;
	r = -EIO;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode))
		goto out;
	r = -EFBIG;
	if ((uint64_t)sb.st_size > max)
		goto out;
	r = -ENOMEM;
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf)
		goto out;
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	r = -EIO;
	if (got != (size_t)sb.st_size)
		goto out;
	buf[got] = '\0';
	*bufp = buf;
	*lenp = got;
	buf = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(p);
	return r;
}

int cache_put(struct cache *c, const char *key, const char *vid,
	      const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	char *p = entry_path(c, key, vid), *slash;
	int dfd = -1, r;

	if (!p)
		return c ? -EINVAL : 0;
	slash = strrchr(p, '/');
	*slash = '\0';
	r = mkdirs(p);
	if (!r) {
		dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = dfd < 0 ? -errno : 0;
	}
	/* no fsync: an entry is authenticated when it is read back */
	if (!r)
		r = file_replace_at(dfd, slash + 1, &iov, 1, 0600,
				    FILE_REPLACE_NO_SYNC);
	if (dfd >= 0)
		close(dfd);
	if (r)
		log_debug("cache: cannot store %s: %s", key, phv_strerror(r));
	free(p);
	return r;
}

void cache_drop(struct cache *c, const char *key, const char *vid)
{
	char *p = entry_path(c, key, vid);

	if (p && unlink(p) && errno != ENOENT)
		log_debug("cache: cannot remove %s", p);
	free(p);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void cache_sweep(struct cache *c, const char *dir, const char *const *keys,
		 const char *const *vids, size_t n)
{
	char **want = NULL, name[CACHE_NAME_MAX], *path = NULL, *key;
	const char *slash;
	struct dirent *de;
	DIR *d = NULL;
	size_t i, nw = 0;

	if (!c)
		return;
	want = calloc(n + 1, sizeof(*want));
	if (!want || asprintf(&path, "%s/%s", c->dir, dir) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (entry_name(keys[i], vids[i], name, sizeof(name)))
			continue;
		slash = strchr(name, '/');
		want[nw] = strdup(slash + 1);
		if (!want[nw])
			goto out;
		nw++;
	}
	qsort(want, nw, sizeof(*want), str_cmp);
	d = opendir(path);
	if (!d)
		goto out;
	while ((de = readdir(d))) {
		/* hidden names are not ours, but stale temporaries are */
		if (de->d_name[0] == '.' && strncmp(de->d_name,
		    FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)))
			continue;
		key = de->d_name;
		if (bsearch(&key, want, nw, sizeof(*want), str_cmp))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0))
			log_debug("cache: cannot remove %s/%s", path,
				  de->d_name);
	}
out:
	if (d)
		closedir(d);
	for (i = 0; want && i < nw; i++)
		free(want[i]);
	free(want);
	free(path);
}
