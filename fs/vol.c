// SPDX-License-Identifier: MIT
/*
 * vol.c - the volume configuration, its key slots, the versioned KEKs and
 * the subkeys derived from the volume master key (VMK).
 *
 * Design: `.phivault.conf` is a text file of keyword lines ending in a
 * `mac` line, HMAC-SHA-256 under the config MAC key of every byte before
 * it.  Nothing parsed from it is trusted until the MAC verifies, which can
 * only happen after a slot has yielded the VMK; vol_info_read() parses
 * without trusting, for `phivault info`.  Rewrites are atomic (temp file,
 * fsync, rename, fsync of the directory).  Every rewrite is a
 * read-modify-write between conf_begin() and conf_end(): an exclusive
 * flock(2) on CIPHERDIR/.phivault.conf.lock serialises it against other
 * processes (a mount recording a grant, `phivault key add`), the file is
 * taken in again under that lock (vol_conf_refresh()), and conf_lock
 * serialises the threads of this process.  Readers take no file lock:
 * the rename makes each version appear whole.
 *
 * Invariants: every key lives in secmem and is wiped by vol_close(); the
 * derived keys are set once in vol_open() and only read afterwards, so
 * readers need no lock.  KEK slots may be added or removed (conf_lock).
 * Lock order: the config file lock, then conf_lock; conf_lock is a leaf.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "crypto/kdf.h"
#include "crypto/secmem.h"
#include "vol_i.h"

#define CONF_MAX	(128 * 1024)	/* 16 slots with long recipes fit */
#define MAC_LEN		32

static const char conf_magic[] = "phivault-volume";

/* info strings of the subkeys the volume uses itself */
static const char *const vol_own_purposes[] = {
	"kek-wrap", "names", "meta", "config-mac",
};

int vol_block_size_valid(uint32_t bs)
{
	return bs == 4096 || bs == 8192 || bs == 16384 || bs == 32768 ||
	       bs == 65536 || bs == 131072;
}

static int vol_hkdf(const uint8_t *vmk, const char *purpose, void *out,
		    size_t len)
{
	char info[96];
	int n;

	n = snprintf(info, sizeof(info), "phivault v1 %s", purpose);
	if (n < 0 || (size_t)n >= sizeof(info))
		return -EINVAL;
	return kdf_hkdf(vmk, VOL_KEY_LEN, NULL, 0, info, (size_t)n, out, len);
}

int vol_derive_key(struct vol *vol, const char *purpose, void *out,
		   size_t len)
{
	size_t i;

	if (!vol || !purpose || !*purpose || !len || len > 64)
		return -EINVAL;
	for (i = 0; i < sizeof(vol_own_purposes) / sizeof(char *); i++)
		if (!strcmp(purpose, vol_own_purposes[i]))
			return -EPERM;
	return vol_hkdf(vol->vmk, purpose, out, len);
}

uint32_t vol_block_size(const struct vol *vol)
{
	return vol->block_size;
}

void vol_get_id(const struct vol *vol, uint8_t id[static VOL_ID_LEN])
{
	memcpy(id, vol->id, VOL_ID_LEN);
}

const char *vol_cipherdir(const struct vol *vol)
{
	return vol->cipherdir;
}

const struct vol_kek *vol_kek_get(struct vol *vol, uint32_t v)
{
	const struct vol_kek *k = NULL;
	unsigned int i;

	pthread_mutex_lock(&vol->conf_lock);
	for (i = 0; i < vol->nkeks; i++)
		if (vol->keks[i].version == v && vol->keks[i].key &&
		    !vol->keks[i].retired)
			k = &vol->keks[i];
	pthread_mutex_unlock(&vol->conf_lock);
	return k;
}

uint32_t vol_kek_current(struct vol *vol)
{
	uint32_t v;

	/* a `key rotate` by another process takes effect here at once */
	vol_conf_refresh(vol);
	pthread_mutex_lock(&vol->conf_lock);
	v = vol->current_kek;
	pthread_mutex_unlock(&vol->conf_lock);
	return v;
}

/* ---- KEK sealing ---------------------------------------------------- */

static void kek_ad(const uint8_t id[static VOL_ID_LEN], uint32_t version,
		   uint8_t ad[static VOL_ID_LEN + 4])
{
	memcpy(ad, id, VOL_ID_LEN);
	ad[VOL_ID_LEN] = (uint8_t)(version >> 24);
	ad[VOL_ID_LEN + 1] = (uint8_t)(version >> 16);
	ad[VOL_ID_LEN + 2] = (uint8_t)(version >> 8);
	ad[VOL_ID_LEN + 3] = (uint8_t)version;
}

/* Make a fresh KEK version v in k (key in secmem) sealed under wrap. */
static int kek_new(struct vol *vol, struct vol_kek *k, uint32_t v)
{
	uint8_t adbuf[VOL_ID_LEN + 4];
	struct aead_ad ad = { adbuf, sizeof(adbuf) };
	int r;

	memset(k, 0, sizeof(*k));
	k->key = secmem_alloc(VOL_KEY_LEN);
	if (!k->key)
		return -ENOMEM;
	k->version = v;
	k->created = (int64_t)time(NULL);
	kek_ad(vol->id, v, adbuf);
	r = secmem_random(k->key, VOL_KEY_LEN);
	if (!r)
		r = secmem_random(k->nonce, sizeof(k->nonce));
	if (!r)
		r = aead_seal(vol->kek_wrap, k->nonce, &ad, 1, k->key,
			      VOL_KEY_LEN, k->sealed, k->tag);
	if (r) {
		secmem_free(k->key, VOL_KEY_LEN);
		k->key = NULL;
	}
	return r;
}

static int kek_unseal(struct vol *vol, struct vol_kek *k)
{
	uint8_t adbuf[VOL_ID_LEN + 4];
	struct aead_ad ad = { adbuf, sizeof(adbuf) };
	int r;

	k->key = secmem_alloc(VOL_KEY_LEN);
	if (!k->key)
		return -ENOMEM;
	kek_ad(vol->id, k->version, adbuf);
	r = aead_open(vol->kek_wrap, k->nonce, &ad, 1, k->sealed, VOL_KEY_LEN,
		      k->key, k->tag);
	if (r) {
		secmem_free(k->key, VOL_KEY_LEN);
		k->key = NULL;
	}
	return r;
}

/* ---- config text ---------------------------------------------------- */

static int conf_mac_compute(const uint8_t *key, const char *buf, size_t len,
			    uint8_t mac[static MAC_LEN])
{
	unsigned int maclen = MAC_LEN;

	if (!HMAC(EVP_sha256(), key, VOL_KEY_LEN, (const unsigned char *)buf,
		  len, mac, &maclen) || maclen != MAC_LEN)
		return -PHV_ECRYPTO;
	return 0;
}

/* Append printf output to buf (size CONF_MAX) at *pos. */
static int conf_add(char *buf, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int conf_add(char *buf, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, CONF_MAX - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= CONF_MAX - *pos)
		return -ENOSPC;
	*pos += (size_t)n;
	return 0;
}

static int conf_write_retention(const struct vol *vol, char *buf,
				size_t *pos);
static int conf_parse_recipe(struct vol *vol, const char *rest);
static int conf_parse_retain(struct vol *vol, const char *rest);
static int conf_write_policy(const struct vol *vol, char *buf, size_t *pos);
static int conf_parse_policy(struct vol *vol, const char *rest);
static int conf_parse_grants_gen(struct vol *vol, const char *rest,
				 int *seenp);
static void conf_stamp(struct vol *vol);
static int slot_recipe_check(enum keyslot_type type, const char *recipe);

/* Serialise and atomically write the config (caller holds conf_lock or
 * owns vol exclusively). */
static int conf_write(struct vol *vol)
{
	char *buf = malloc(CONF_MAX);
	char line[KEYSLOT_LINE_MAX], b64[128];
	uint8_t seal[AEAD_NONCE_LEN + VOL_KEY_LEN + AEAD_TAG_LEN];
	uint8_t mac[MAC_LEN];
	size_t pos = 0;
	unsigned int i;
	int r;

	if (!buf)
		return -ENOMEM;
	b64_encode(vol->id, VOL_ID_LEN, b64);
	r = conf_add(buf, &pos, "%s %u\nid %s\nblock-size %u\n"
		     "created %" PRId64 "\n", conf_magic, vol->format, b64,
		     vol->block_size, vol->created);
	for (i = 0; !r && i < vol->nslots; i++) {
		r = keyslot_format(&vol->slots[i], line, sizeof(line));
		if (r >= 0)
			r = conf_add(buf, &pos, "slot %s\n", line);
		if (r >= 0 && vol->recipes[i])
			r = conf_add(buf, &pos, "recipe %" PRIu32 " %s\n",
				     vol->slots[i].id, vol->recipes[i]);
	}
	for (i = 0; !r && i < vol->nkeks; i++) {
		const struct vol_kek *k = &vol->keks[i];

		memcpy(seal, k->nonce, AEAD_NONCE_LEN);
		memcpy(seal + AEAD_NONCE_LEN, k->sealed, VOL_KEY_LEN);
		memcpy(seal + AEAD_NONCE_LEN + VOL_KEY_LEN, k->tag,
		       AEAD_TAG_LEN);
		b64_encode(seal, sizeof(seal), b64);
		r = conf_add(buf, &pos, "kek %u %" PRId64 " %s\n", k->version,
			     k->created, b64);
	}
	if (!r)
		r = conf_add(buf, &pos, "current-kek %u\n", vol->current_kek);
	if (!r)
		r = conf_write_retention(vol, buf, &pos);
	if (!r)
		r = conf_write_policy(vol, buf, &pos);
	if (!r && vol->grants_gen)
		r = conf_add(buf, &pos, "grants-generation %" PRIu64 "\n",
			     vol->grants_gen);
	if (!r)
		r = conf_mac_compute(vol->conf_mac, buf, pos, mac);
	if (!r) {
		b64_encode(mac, MAC_LEN, b64);
		r = conf_add(buf, &pos, "mac %s\n", b64);
	}
	if (!r) {
		struct iovec iov = { .iov_base = buf, .iov_len = pos };

		r = file_replace_at(vol->rootfd, VOL_CONF_NAME, &iov, 1, 0600,
				    0);
	}
	if (!r)
		conf_stamp(vol);
	free(buf);
	return r;
}

/* Read the whole config of rootfd into a malloc'd NUL-terminated buffer. */
static int conf_read(int rootfd, char **bufp, size_t *lenp)
{
	char *buf = NULL;
	ssize_t n;
	int fd, r;

	*bufp = NULL;
	fd = openat(rootfd, VOL_CONF_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -PHV_ECONFIG : -errno;
	buf = malloc(CONF_MAX + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	n = pread_all(fd, buf, CONF_MAX + 1, 0);
	if (n < 0 || n > CONF_MAX) {
		r = n < 0 ? (int)n : -PHV_ECONFIG;
		goto out;
	}
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n) {
		r = -PHV_ECONFIG;
		goto out;
	}
	*bufp = buf;
	*lenp = (size_t)n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

static int conf_parse_kek(const char *rest, struct vol_kek *k)
{
	uint8_t seal[AEAD_NONCE_LEN + VOL_KEY_LEN + AEAD_TAG_LEN + 3];
	char b64[128];

	memset(k, 0, sizeof(*k));
	if (sscanf(rest, "%" SCNu32 " %" SCNd64 " %127s", &k->version,
		   &k->created, b64) != 3 || !k->version)
		return -PHV_EFORMAT;
	if (b64_decode(b64, strlen(b64), seal) !=
	    AEAD_NONCE_LEN + VOL_KEY_LEN + AEAD_TAG_LEN)
		return -PHV_EFORMAT;
	memcpy(k->nonce, seal, AEAD_NONCE_LEN);
	memcpy(k->sealed, seal + AEAD_NONCE_LEN, VOL_KEY_LEN);
	memcpy(k->tag, seal + AEAD_NONCE_LEN + VOL_KEY_LEN, AEAD_TAG_LEN);
	return 0;
}

/*
 * Parse config text into vol's public fields.  *maclenp receives the
 * offset of the mac line (the authenticated prefix), mac its value.
 */
static int conf_parse(struct vol *vol, char *buf, size_t *maclenp,
		      uint8_t mac[static MAC_LEN])
{
	char *line = buf, *nl, *sp;
	int have_mac = 0, have_id = 0, have_bs = 0, have_gg = 0, first = 1;
	char b64[128];

	while (*line) {
		nl = strchr(line, '\n');
		if (!nl)
			return -PHV_ECONFIG;
		*nl = '\0';
		if (have_mac)
			return -PHV_ECONFIG;	/* bytes after the mac */
		sp = strchr(line, ' ');
		if (!sp)
			return -PHV_ECONFIG;
		*sp++ = '\0';
		if (first) {
			if (strcmp(line, conf_magic) ||
			    sscanf(sp, "%" SCNu32, &vol->format) != 1)
				return -PHV_ECONFIG;
			if (vol->format != VOL_FORMAT)
				return -PHV_EFORMAT;
			first = 0;
		} else if (!strcmp(line, "id")) {
			if (b64_decode(sp, strlen(sp), vol->id) != VOL_ID_LEN)
				return -PHV_ECONFIG;
			have_id = 1;
		} else if (!strcmp(line, "block-size")) {
			if (sscanf(sp, "%" SCNu32, &vol->block_size) != 1 ||
			    !vol_block_size_valid(vol->block_size))
				return -PHV_ECONFIG;
			have_bs = 1;
		} else if (!strcmp(line, "created")) {
			if (sscanf(sp, "%" SCNd64, &vol->created) != 1)
				return -PHV_ECONFIG;
		} else if (!strcmp(line, "slot")) {
			if (vol->nslots >= VOL_MAX_SLOTS ||
			    keyslot_parse(sp, &vol->slots[vol->nslots]))
				return -PHV_ECONFIG;
			vol->nslots++;
		} else if (!strcmp(line, "kek")) {
			if (vol->nkeks >= VOL_MAX_KEKS ||
			    conf_parse_kek(sp, &vol->keks[vol->nkeks]))
				return -PHV_ECONFIG;
			vol->nkeks++;
		} else if (!strcmp(line, "recipe")) {
			if (conf_parse_recipe(vol, sp))
				return -PHV_ECONFIG;
		} else if (!strcmp(line, "retain")) {
			if (conf_parse_retain(vol, sp))
				return -PHV_ECONFIG;
		} else if (!strcmp(line, "policy-required")) {
			if (conf_parse_policy(vol, sp))
				return -PHV_ECONFIG;
		} else if (!strcmp(line, "grants-generation")) {
			if (conf_parse_grants_gen(vol, sp, &have_gg))
				return -PHV_ECONFIG;
		} else if (!strcmp(line, "current-kek")) {
			if (sscanf(sp, "%" SCNu32, &vol->current_kek) != 1)
				return -PHV_ECONFIG;
		} else if (!strcmp(line, "mac")) {
			if (sscanf(sp, "%127s", b64) != 1 ||
			    b64_decode(b64, strlen(b64), mac) != MAC_LEN)
				return -PHV_ECONFIG;
			*maclenp = (size_t)(line - buf);
			have_mac = 1;
		}
		/* unknown keywords are authenticated and ignored */
		line = nl + 1;
	}
	if (first || !have_id || !have_bs || !have_mac || !vol->nslots ||
	    !vol->nkeks || !vol->current_kek)
		return -PHV_ECONFIG;
	return 0;
}

/* ---- the config lock between processes ------------------------------ */

/*
 * Start a read-modify-write of the config: take the exclusive flock(2) on
 * CIPHERDIR/.phivault.conf.lock, waiting while another process rewrites
 * the config, take in what it wrote, then take conf_lock.  *lockfdp
 * receives the lock for conf_end().  Returns 0, or -errno with nothing
 * held: a config whose lock cannot be taken is not rewritten.  The lock
 * is a file of its own because a mount holds a flock on the cipherdir
 * itself for its whole life (tools/cmd_volume.c).
 */
static int conf_begin(struct vol *vol, int *lockfdp)
{
	struct stat st;
	int fd, r;

	*lockfdp = -1;
	/* no symlink followed; O_NONBLOCK: a FIFO put there cannot hang us */
	fd = openat(vol->rootfd, VOL_CONF_LOCK_NAME, O_RDONLY | O_CREAT |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	r = -PHV_ECONFIG;
	if (!S_ISREG(st.st_mode))
		goto out;
	do {
		r = flock(fd, LOCK_EX) ? -errno : 0;
	} while (r == -EINTR);
	if (r)
		goto out;
	vol_conf_refresh(vol);	/* never write back a stale config */
	pthread_mutex_lock(&vol->conf_lock);
	*lockfdp = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* End what conf_begin() started: conf_lock, then the file lock. */
static void conf_end(struct vol *vol, int lockfd)
{
	pthread_mutex_unlock(&vol->conf_lock);
	close(lockfd);
}

/* ---- lifecycle ------------------------------------------------------ */

static struct vol *vol_alloc(const char *cipherdir)
{
	struct vol *vol = calloc(1, sizeof(*vol));

	if (!vol)
		return NULL;
	vol->rootfd = -1;
	pthread_mutex_init(&vol->conf_lock, NULL);
	vol->cipherdir = strdup(cipherdir);
	vol->vmk = secmem_alloc(VOL_KEY_LEN);
	vol->kek_wrap = secmem_alloc(VOL_KEY_LEN);
	vol->name_key = secmem_alloc(SIV_KEY_LEN);
	vol->meta_key = secmem_alloc(VOL_KEY_LEN);
	vol->conf_mac = secmem_alloc(VOL_KEY_LEN);
	if (!vol->cipherdir || !vol->vmk || !vol->kek_wrap ||
	    !vol->name_key || !vol->meta_key || !vol->conf_mac) {
		vol_close(vol);
		return NULL;
	}
	return vol;
}

void vol_close(struct vol *vol)
{
	unsigned int i;

	if (!vol)
		return;
	for (i = 0; i < vol->nkeks; i++)
		secmem_free(vol->keks[i].key, VOL_KEY_LEN);
	for (i = 0; i < VOL_MAX_SLOTS; i++)
		free(vol->recipes[i]);
	free(vol->retention);
	secmem_free(vol->vmk, VOL_KEY_LEN);
	secmem_free(vol->kek_wrap, VOL_KEY_LEN);
	secmem_free(vol->name_key, SIV_KEY_LEN);
	secmem_free(vol->meta_key, VOL_KEY_LEN);
	secmem_free(vol->conf_mac, VOL_KEY_LEN);
	if (vol->rootfd >= 0)
		close(vol->rootfd);
	pthread_mutex_destroy(&vol->conf_lock);
	free(vol->cipherdir);
	free(vol);
}

/* Derive every subkey from vol->vmk. */
static int vol_derive_all(struct vol *vol)
{
	int r;

	r = vol_hkdf(vol->vmk, "kek-wrap", vol->kek_wrap, VOL_KEY_LEN);
	if (!r)
		r = vol_hkdf(vol->vmk, "names", vol->name_key, SIV_KEY_LEN);
	if (!r)
		r = vol_hkdf(vol->vmk, "meta", vol->meta_key, VOL_KEY_LEN);
	if (!r)
		r = vol_hkdf(vol->vmk, "config-mac", vol->conf_mac,
			     VOL_KEY_LEN);
	return r;
}

static int vol_open_root(struct vol *vol)
{
	vol->rootfd = open(vol->cipherdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return vol->rootfd < 0 ? -errno : 0;
}

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int r = 1;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

int vol_create(const char *cipherdir, const struct vol_create_opts *o,
	       enum keyslot_type type, const void *secret, size_t len)
{
	return vol_create_open(cipherdir, o, type, secret, len, NULL);
}

int vol_create_open(const char *cipherdir, const struct vol_create_opts *o,
		    enum keyslot_type type, const void *secret, size_t len,
		    struct vol **volp)
{
	struct vol *vol = NULL;
	struct keyslot *s;
	uint8_t dirid[DIRID_LEN];
	int r, dfd = -1;

	if (volp)
		*volp = NULL;
	if (o->block_size && !vol_block_size_valid(o->block_size))
		return -EINVAL;
	if (type < KEYSLOT_PASSPHRASE || type > KEYSLOT_COMMAND ||
	    slot_recipe_check(type, o->recipe))
		return -EINVAL;
	r = dir_is_empty(cipherdir);
	if (r <= 0)
		return r ? r : -ENOTEMPTY;
	vol = vol_alloc(cipherdir);
	if (!vol)
		return -ENOMEM;
	r = vol_open_root(vol);
	if (r)
		goto out;
	vol->format = VOL_FORMAT;
	vol->block_size = o->block_size ? o->block_size : VOL_DEFAULT_BLOCK;
	vol->created = (int64_t)time(NULL);
	r = 0;
	if (o->id)
		memcpy(vol->id, o->id, VOL_ID_LEN);
	else
		r = secmem_random(vol->id, VOL_ID_LEN);
	if (!r)
		r = secmem_random(vol->vmk, VOL_KEY_LEN);
	if (!r)
		r = vol_derive_all(vol);
	if (r)
		goto out;

	s = &vol->slots[0];
	s->id = 1;
	s->type = type;
	if (type == KEYSLOT_PASSPHRASE)
		s->argon = o->argon.t_cost ? o->argon : keyslot_default_argon;
	if (o->label)
		snprintf(s->label, sizeof(s->label), "%s", o->label);
	r = keyslot_seal(s, vol->id, secret, len, vol->vmk);
	if (!r && o->recipe && !(vol->recipes[0] = strdup(o->recipe)))
		r = -ENOMEM;
	if (r)
		goto out;
	vol->nslots = 1;
	r = kek_new(vol, &vol->keks[0], 1);
	if (r)
		goto out;
	vol->nkeks = 1;
	vol->current_kek = 1;

	dfd = open(cipherdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		goto out;
	}
	r = dirid_create(dfd, dirid);
	if (!r)
		r = conf_write(vol);
	if (!r && volp) {
		*volp = vol;
		vol = NULL;
	}
out:
	if (dfd >= 0)
		close(dfd);
	vol_close(vol);
	return r;
}

int vol_open(const char *cipherdir, enum keyslot_type type,
	     const void *secret, size_t len, struct vol **volp)
{
	struct vol *vol = NULL;
	uint8_t mac[MAC_LEN], want[MAC_LEN];
	size_t blen = 0, maclen = 0;
	char *buf = NULL, *copy = NULL;
	unsigned int i;
	int r;

	*volp = NULL;
	vol = vol_alloc(cipherdir);
	if (!vol)
		return -ENOMEM;
	r = vol_open_root(vol);
	if (!r) {
		/* stamp before the read: a change after it reloads */
		conf_stamp(vol);
		r = conf_read(vol->rootfd, &buf, &blen);
	}
	if (!r) {
		/* conf_parse() cuts its input; the MAC covers the original */
		copy = strdup(buf);
		r = copy ? conf_parse(vol, copy, &maclen, mac) : -ENOMEM;
	}
	if (r)
		goto out;

	/* try every slot of the secret's type */
	r = -PHV_EBADKEY;
	for (i = 0; i < vol->nslots && r; i++) {
		if (vol->slots[i].type != type)
			continue;
		r = keyslot_open(&vol->slots[i], vol->id, secret, len,
				 vol->vmk);
		if (r && r != -PHV_EBADKEY)
			goto out;
	}
	if (r)
		goto out;
	r = vol_derive_all(vol);
	if (!r)
		r = conf_mac_compute(vol->conf_mac, buf, maclen, want);
	if (r)
		goto out;
	if (secmem_cmp(mac, want, MAC_LEN)) {
		r = -PHV_EAUTH;
		goto out;
	}
	for (i = 0; i < vol->nkeks; i++) {
		r = kek_unseal(vol, &vol->keks[i]);
		if (r)
			goto out;
	}
	if (!vol_kek_get(vol, vol->current_kek)) {
		r = -PHV_ECONFIG;
		goto out;
	}
	*volp = vol;
	vol = NULL;
	r = 0;
out:
	free(buf);
	free(copy);
	vol_close(vol);
	return r;
}

int vol_info_read(const char *cipherdir, struct vol_info *info)
{
	struct vol *vol = vol_alloc(cipherdir);
	uint8_t mac[MAC_LEN];
	size_t blen, maclen;
	char *buf = NULL;
	unsigned int i;
	int r;

	memset(info, 0, sizeof(*info));
	if (!vol)
		return -ENOMEM;
	r = vol_open_root(vol);
	if (!r)
		r = conf_read(vol->rootfd, &buf, &blen);
	if (!r)
		r = conf_parse(vol, buf, &maclen, mac);
	if (!r) {
		info->format = vol->format;
		memcpy(info->id, vol->id, VOL_ID_LEN);
		info->block_size = vol->block_size;
		info->created = vol->created;
		info->nslots = vol->nslots;
		for (i = 0; i < vol->nslots; i++) {
			info->slots[i] = vol->slots[i];
			secmem_wipe(info->slots[i].sealed,
				    sizeof(info->slots[i].sealed));
		}
		info->nkeks = vol->nkeks;
		for (i = 0; i < vol->nkeks; i++) {
			info->kek_versions[i] = vol->keks[i].version;
			info->kek_created[i] = vol->keks[i].created;
		}
		info->current_kek = vol->current_kek;
	}
	free(buf);
	vol_close(vol);
	return r;
}

int vol_kek_rotate(struct vol *vol, uint32_t *versionp)
{
	uint32_t v = 0;
	unsigned int i;
	int r, lockfd;

	r = conf_begin(vol, &lockfd);
	if (r)
		return r;
	if (vol->nkeks >= VOL_MAX_KEKS) {
		r = -ENOSPC;
		goto out;
	}
	for (i = 0; i < vol->nkeks; i++)
		if (vol->keks[i].version > v)
			v = vol->keks[i].version;
	r = kek_new(vol, &vol->keks[vol->nkeks], v + 1);
	if (r)
		goto out;
	vol->nkeks++;
	vol->current_kek = v + 1;
	r = conf_write(vol);
	if (r) {
		/* XXX: the new KEK stays usable in memory but is not saved */
		goto out;
	}
	if (versionp)
		*versionp = v + 1;
out:
	conf_end(vol, lockfd);
	return r;
}

int vol_kek_retire(struct vol *vol, uint32_t version)
{
	unsigned int i;
	int r, lockfd;

	r = conf_begin(vol, &lockfd);
	if (r)
		return r;
	r = -PHV_ENOTFOUND;
	if (version == vol->current_kek) {
		r = -EBUSY;
		goto out;
	}
	for (i = 0; i < vol->nkeks; i++) {
		if (vol->keks[i].version != version)
			continue;
		/* XXX: a live reader may still hold this key pointer */
		secmem_free(vol->keks[i].key, VOL_KEY_LEN);
		memmove(&vol->keks[i], &vol->keks[i + 1],
			(vol->nkeks - i - 1) * sizeof(vol->keks[0]));
		vol->nkeks--;
		r = conf_write(vol);
		break;
	}
out:
	conf_end(vol, lockfd);
	return r;
}

/* ==== key management: slots, recipes, retention, reload ================
 *
 * Everything below is for `phivault key`, `shred` and `retention`
 * (tools/cmd_key.c, docs/KEYS.md).  A slot's recipe is one printable
 * line kept as "recipe ID TEXT" right after its slot line, so it falls
 * under the config MAC like everything else.  Retention rules are
 * "retain B64" lines: the rule text sealed under the meta key, because a
 * rule names a plaintext path and the config is public.  A process that
 * keeps a volume open (the mount) notices a config rewritten by another
 * process through vol_conf_refresh(), which vol_kek_current() calls.
 */

static int slot_recipe_check(enum keyslot_type type, const char *recipe)
{
	const char *p;

	if ((type == KEYSLOT_PKCS11 || type == KEYSLOT_COMMAND) != !!recipe)
		return -EINVAL;
	if (!recipe)
		return 0;
	if (!*recipe || strlen(recipe) >= VOL_SLOT_RECIPE_MAX)
		return -EINVAL;
	for (p = recipe; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return -EINVAL;
	return 0;
}

static int conf_parse_recipe(struct vol *vol, const char *rest)
{
	unsigned int i;
	uint32_t id;
	char *end;
	unsigned long v;

	v = strtoul(rest, &end, 10);
	if (end == rest || *end != ' ' || v > UINT32_MAX)
		return -PHV_EFORMAT;
	id = (uint32_t)v;
	/* its slot line comes first; one recipe per slot */
	for (i = 0; i < vol->nslots; i++) {
		if (vol->slots[i].id != id)
			continue;
		if (vol->recipes[i] ||
		    slot_recipe_check(vol->slots[i].type, end + 1))
			return -PHV_EFORMAT;
		vol->recipes[i] = strdup(end + 1);
		return vol->recipes[i] ? 0 : -ENOMEM;
	}
	return -PHV_EFORMAT;
}

/* Retention lines are kept as their b64 text, '\n'-separated. */
static int conf_parse_retain(struct vol *vol, const char *rest)
{
	size_t len = strlen(rest);
	char *n;

	if (!len || strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
			   "qrstuvwxyz0123456789-_") != len)
		return -PHV_EFORMAT;
	n = realloc(vol->retention, vol->retention_len + len + 2);
	if (!n)
		return -ENOMEM;
	memcpy(n + vol->retention_len, rest, len);
	n[vol->retention_len + len] = '\n';
	n[vol->retention_len + len + 1] = '\0';
	vol->retention = n;
	vol->retention_len += len + 1;
	return 0;
}

static int conf_write_retention(const struct vol *vol, char *buf,
				size_t *pos)
{
	const char *p = vol->retention, *nl;
	int r = 0;

	while (!r && p && *p) {
		nl = strchr(p, '\n');
		r = conf_add(buf, pos, "retain %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
	return r;
}

static void conf_stamp(struct vol *vol)
{
	struct stat st;

	if (fstatat(vol->rootfd, VOL_CONF_NAME, &st, 0))
		return;
	vol->conf_dev = st.st_dev;
	vol->conf_ino = st.st_ino;
	vol->conf_mtime = st.st_mtim;
}

int vol_slot_add(struct vol *vol, const struct keyslot *tmpl,
		 const void *secret, size_t len, const char *recipe,
		 uint32_t *idp)
{
	struct keyslot *s;
	char *copy = NULL;
	uint32_t id = 0;
	unsigned int i, n;
	int r, lockfd;

	if (slot_recipe_check(tmpl->type, recipe) ||
	    tmpl->type < KEYSLOT_PASSPHRASE || tmpl->type > KEYSLOT_COMMAND)
		return -EINVAL;
	if (recipe && !(copy = strdup(recipe)))
		return -ENOMEM;
	r = conf_begin(vol, &lockfd);
	if (r) {
		free(copy);
		return r;
	}
	n = vol->nslots;
	r = -ENOSPC;
	if (n >= VOL_MAX_SLOTS)
		goto out;
	for (i = 0; i < n; i++)
		if (vol->slots[i].id > id)
			id = vol->slots[i].id;
	s = &vol->slots[n];
	*s = *tmpl;
	s->id = id + 1;
	s->label[sizeof(s->label) - 1] = '\0';
	r = keyslot_seal(s, vol->id, secret, len, vol->vmk);
	if (r)
		goto out;
	vol->recipes[n] = copy;
	vol->nslots = n + 1;
	r = conf_write(vol);
	if (r) {
		/* the file still has the old slots: so must memory */
		vol->nslots = n;
		vol->recipes[n] = NULL;
		goto out;
	}
	copy = NULL;
	if (idp)
		*idp = s->id;
out:
	if (r)
		secmem_wipe(&vol->slots[n], sizeof(vol->slots[n]));
	conf_end(vol, lockfd);
	free(copy);
	return r;
}

int vol_slot_remove(struct vol *vol, uint32_t id)
{
	struct keyslot gone;
	char *recipe;
	unsigned int i, n;
	int r, lockfd;

	r = conf_begin(vol, &lockfd);
	if (r)
		return r;
	r = -PHV_ENOTFOUND;
	n = vol->nslots;
	for (i = 0; i < n && vol->slots[i].id != id; i++)
		;
	if (i == n)
		goto out;
	r = -EBUSY;
	if (n == 1)
		goto out;
	gone = vol->slots[i];
	recipe = vol->recipes[i];
	memmove(&vol->slots[i], &vol->slots[i + 1],
		(n - i - 1) * sizeof(vol->slots[0]));
	memmove(&vol->recipes[i], &vol->recipes[i + 1],
		(n - i - 1) * sizeof(vol->recipes[0]));
	vol->recipes[n - 1] = NULL;
	vol->nslots = n - 1;
	r = conf_write(vol);
	if (r) {
		memmove(&vol->slots[i + 1], &vol->slots[i],
			(n - i - 1) * sizeof(vol->slots[0]));
		memmove(&vol->recipes[i + 1], &vol->recipes[i],
			(n - i - 1) * sizeof(vol->recipes[0]));
		vol->slots[i] = gone;
		vol->recipes[i] = recipe;
		vol->nslots = n;
	} else {
		free(recipe);
	}
	secmem_wipe(&gone, sizeof(gone));
out:
	conf_end(vol, lockfd);
	return r;
}

int vol_slot_recipe(const char *cipherdir, uint32_t id, char *buf,
		    size_t size)
{
	struct vol *vol = calloc(1, sizeof(*vol));
	uint8_t mac[MAC_LEN];
	size_t blen, maclen;
	char *text = NULL;
	unsigned int i;
	int r;

	if (!vol)
		return -ENOMEM;
	vol->rootfd = open(cipherdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = vol->rootfd < 0 ? -errno : conf_read(vol->rootfd, &text, &blen);
	if (!r)
		r = conf_parse(vol, text, &maclen, mac);
	for (i = 0; !r && i < vol->nslots; i++) {
		if (vol->slots[i].id != id)
			continue;
		if (!vol->recipes[i])
			break;
		if (strlen(vol->recipes[i]) >= size)
			r = -ENOSPC;
		else
			strcpy(buf, vol->recipes[i]);
		goto out;
	}
	if (!r)
		r = -PHV_ENOTFOUND;
out:
	for (i = 0; i < VOL_MAX_SLOTS; i++)
		free(vol->recipes[i]);
	free(vol->retention);
	if (vol->rootfd >= 0)
		close(vol->rootfd);
	free(vol);
	free(text);
	return r;
}

/* Take the KEK table of a freshly verified config (nv) into vol: unseal
 * new versions, retire in place the versions nv no longer has. */
static int refresh_keks(struct vol *vol, struct vol *nv)
{
	unsigned int i, j;
	int r;

	for (i = 0; i < vol->nkeks; i++) {
		for (j = 0; j < nv->nkeks; j++)
			if (nv->keks[j].version == vol->keks[i].version)
				break;
		if (j == nv->nkeks && vol->keks[i].key &&
		    !vol->keks[i].retired) {
			/* a reader may hold the pointer: wipe, keep */
			secmem_wipe(vol->keks[i].key, VOL_KEY_LEN);
			vol->keks[i].retired = 1;
		}
	}
	for (j = 0; j < nv->nkeks; j++) {
		for (i = 0; i < vol->nkeks; i++)
			if (vol->keks[i].version == nv->keks[j].version)
				break;
		if (i < vol->nkeks)
			continue;
		if (vol->nkeks >= VOL_MAX_KEKS)
			return -ENOSPC;
		vol->keks[i] = nv->keks[j];
		vol->keks[i].key = NULL;
		r = kek_unseal(vol, &vol->keks[i]);
		if (r)
			return r;
		vol->nkeks++;
	}
	for (i = 0; i < vol->nkeks; i++)
		if (vol->keks[i].version == nv->current_kek &&
		    !vol->keks[i].retired)
			vol->current_kek = nv->current_kek;
	return 0;
}

int vol_conf_refresh(struct vol *vol)
{
	struct vol *nv = NULL;
	uint8_t mac[MAC_LEN], want[MAC_LEN];
	size_t blen = 0, maclen = 0;
	char *buf = NULL, *copy = NULL;
	struct stat st;
	unsigned int i;
	int r;

	if (fstatat(vol->rootfd, VOL_CONF_NAME, &st, 0))
		return -errno;
	pthread_mutex_lock(&vol->conf_lock);
	r = 0;
	if (st.st_ino == vol->conf_ino && st.st_dev == vol->conf_dev &&
	    st.st_mtim.tv_sec == vol->conf_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == vol->conf_mtime.tv_nsec)
		goto out;
	conf_stamp(vol);	/* one attempt per change, even a bad one */
	nv = calloc(1, sizeof(*nv));
	r = nv ? conf_read(vol->rootfd, &buf, &blen) : -ENOMEM;
	if (!r) {
		copy = strdup(buf);
		r = copy ? conf_parse(nv, copy, &maclen, mac) : -ENOMEM;
	}
	if (!r)
		r = conf_mac_compute(vol->conf_mac, buf, maclen, want);
	if (!r && (secmem_cmp(mac, want, MAC_LEN) ||
		   memcmp(nv->id, vol->id, VOL_ID_LEN)))
		r = -PHV_EAUTH;
	if (!r)
		r = refresh_keks(vol, nv);
	if (r)
		goto out;
	/* slots and recipes as the file has them now */
	for (i = 0; i < VOL_MAX_SLOTS; i++) {
		free(vol->recipes[i]);
		vol->recipes[i] = nv->recipes[i];
		nv->recipes[i] = NULL;
	}
	memcpy(vol->slots, nv->slots, sizeof(vol->slots));
	vol->nslots = nv->nslots;
	free(vol->retention);
	vol->retention = nv->retention;
	vol->retention_len = nv->retention_len;
	nv->retention = NULL;
	vol->policy_state = nv->policy_state;
	memcpy(vol->policy_pin, nv->policy_pin, VOL_PIN_LEN);
	vol->grants_gen = nv->grants_gen;
out:
	pthread_mutex_unlock(&vol->conf_lock);
	if (r)
		log_warn("%s/%s changed but cannot be taken in: %s; keeping "
			 "the keys loaded before", vol->cipherdir,
			 VOL_CONF_NAME, phv_strerror(r));
	if (nv) {
		for (i = 0; i < VOL_MAX_SLOTS; i++)
			free(nv->recipes[i]);
		free(nv->retention);
		secmem_wipe(nv, sizeof(*nv));
		free(nv);
	}
	free(buf);
	free(copy);
	return r;
}

/* ---- retention rules ------------------------------------------------ */

#define RETAIN_AD	"phivault v1 retain"
#define RETAIN_LINE_MAX	(VOL_NAME_MAX * 16)

/* Open one sealed rule (b64 of nonce || ct || tag) into out. */
static int retain_open(struct vol *vol, const char *b64, size_t len,
		       char *out, size_t size)
{
	struct aead_ad ad = { RETAIN_AD, sizeof(RETAIN_AD) - 1 };
	uint8_t *raw = malloc(len);
	long n;
	int r = -PHV_EFORMAT;

	if (!raw)
		return -ENOMEM;
	n = b64_decode(b64, len, raw);
	if (n > AEAD_NONCE_LEN + AEAD_TAG_LEN &&
	    (size_t)n - AEAD_NONCE_LEN - AEAD_TAG_LEN < size) {
		n -= AEAD_NONCE_LEN + AEAD_TAG_LEN;
		r = aead_open(vol->meta_key, raw, &ad, 1, raw + AEAD_NONCE_LEN,
			      (size_t)n, out, raw + AEAD_NONCE_LEN + n);
		if (!r)
			out[n] = '\0';
	}
	free(raw);
	return r;
}

int vol_retention_get(struct vol *vol, char *buf, size_t size)
{
	char line[RETAIN_LINE_MAX + 1];
	const char *p, *nl;
	size_t pos = 0, n;
	int r = 0;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	vol_conf_refresh(vol);
	pthread_mutex_lock(&vol->conf_lock);
	for (p = vol->retention; !r && p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		r = retain_open(vol, p, (size_t)(nl - p), line, sizeof(line));
		n = strlen(line);
		if (!r && pos + n + 2 > size)
			r = -ENOSPC;
		if (!r) {
			memcpy(buf + pos, line, n);
			buf[pos + n] = '\n';
			buf[pos + n + 1] = '\0';
			pos += n + 1;
		}
	}
	pthread_mutex_unlock(&vol->conf_lock);
	return r;
}

/* Seal every line of text into a new retention buffer. */
static int retain_seal_all(struct vol *vol, const char *text, char **outp,
			   size_t *lenp)
{
	struct aead_ad ad = { RETAIN_AD, sizeof(RETAIN_AD) - 1 };
	uint8_t raw[AEAD_NONCE_LEN + RETAIN_LINE_MAX + AEAD_TAG_LEN];
	size_t len = 0, n, cap = 1;
	const char *p, *nl;
	char *out = calloc(1, 1), *grown;
	int r = 0;

	for (p = text; out && !r && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		n = (size_t)(nl - p);
		r = -EINVAL;
		if (!n || n > RETAIN_LINE_MAX || memchr(p, '\0', n))
			break;
		r = secmem_random(raw, AEAD_NONCE_LEN);
		if (!r)
			r = aead_seal(vol->meta_key, raw, &ad, 1, p, n,
				      raw + AEAD_NONCE_LEN,
				      raw + AEAD_NONCE_LEN + n);
		cap = len + B64_ENCLEN(n + AEAD_NONCE_LEN + AEAD_TAG_LEN) + 2;
		grown = r ? NULL : realloc(out, cap);
		if (!r && !grown)
			r = -ENOMEM;
		if (r)
			break;
		out = grown;
		len += b64_encode(raw, n + AEAD_NONCE_LEN + AEAD_TAG_LEN,
				  out + len);
		out[len++] = '\n';
		out[len] = '\0';
		if (!*nl)
			break;
	}
	if (!out)
		return -ENOMEM;
	if (r) {
		free(out);
		return r;
	}
	*outp = len ? out : NULL;
	if (!len)
		free(out);
	*lenp = len;
	return 0;
}

int vol_retention_set(struct vol *vol, const char *text)
{
	char *sealed = NULL, *old;
	size_t len = 0, oldlen;
	int r, lockfd;

	r = retain_seal_all(vol, text, &sealed, &len);
	if (r)
		return r;
	r = conf_begin(vol, &lockfd);
	if (r) {
		free(sealed);
		return r;
	}
	old = vol->retention;
	oldlen = vol->retention_len;
	vol->retention = sealed;
	vol->retention_len = len;
	r = conf_write(vol);
	if (r) {
		vol->retention = old;
		vol->retention_len = oldlen;
		old = sealed;
	}
	conf_end(vol, lockfd);
	free(old);
	return r;
}

/* ==== the access policy's pin =========================================
 *
 * One config line, "policy-required B64" or "policy-required none",
 * written by `phivault policy set|remove` and read by the mount
 * (tools/mount_guard.c) each time it loads the policy.  It sits under the
 * config MAC with everything else; the policy file itself is sealed with
 * a key derived from the master key (policy/sealed.h), which proves it
 * genuine but not current.  The pin makes it current.
 */

static int conf_write_policy(const struct vol *vol, char *buf, size_t *pos)
{
	char b64[B64_ENCLEN(VOL_PIN_LEN) + 1];

	if (vol->policy_state == VOL_POLICY_NONE)
		return conf_add(buf, pos, "policy-required none\n");
	if (vol->policy_state != VOL_POLICY_REQUIRED)
		return 0;
	b64_encode(vol->policy_pin, VOL_PIN_LEN, b64);
	return conf_add(buf, pos, "policy-required %s\n", b64);
}

static int conf_parse_policy(struct vol *vol, const char *rest)
{
	uint8_t pin[VOL_PIN_LEN + 3];

	if (vol->policy_state != VOL_POLICY_UNKNOWN)
		return -PHV_EFORMAT;	/* one line only */
	if (!strcmp(rest, "none")) {
		vol->policy_state = VOL_POLICY_NONE;
		return 0;
	}
	if (strlen(rest) != B64_ENCLEN(VOL_PIN_LEN) ||
	    b64_decode(rest, strlen(rest), pin) != VOL_PIN_LEN)
		return -PHV_EFORMAT;
	memcpy(vol->policy_pin, pin, VOL_PIN_LEN);
	vol->policy_state = VOL_POLICY_REQUIRED;
	return 0;
}

int vol_policy_pin(struct vol *vol, uint8_t pin[static VOL_PIN_LEN])
{
	int state;

	vol_conf_refresh(vol);
	pthread_mutex_lock(&vol->conf_lock);
	state = (int)vol->policy_state;
	memcpy(pin, vol->policy_pin, VOL_PIN_LEN);
	pthread_mutex_unlock(&vol->conf_lock);
	return state;
}

int vol_policy_pin_set(struct vol *vol, const uint8_t *pin)
{
	enum vol_policy_state old_state;
	uint8_t old[VOL_PIN_LEN];
	int r, lockfd;

	r = conf_begin(vol, &lockfd);
	if (r)
		return r;
	old_state = vol->policy_state;
	memcpy(old, vol->policy_pin, VOL_PIN_LEN);
	vol->policy_state = pin ? VOL_POLICY_REQUIRED : VOL_POLICY_NONE;
	if (pin)
		memcpy(vol->policy_pin, pin, VOL_PIN_LEN);
	else
		memset(vol->policy_pin, 0, VOL_PIN_LEN);
	r = conf_write(vol);
	if (r) {
		vol->policy_state = old_state;
		memcpy(vol->policy_pin, old, VOL_PIN_LEN);
	}
	conf_end(vol, lockfd);
	return r;
}

/* ==== the live grants' generation =====================================
 *
 * One config line, "grants-generation N", written through the mount's
 * guard (tools/mount_guard.c) before each save of the sealed grants file,
 * whose first line carries the same N.  The grants file is sealed with a
 * key derived from the master key, which proves it genuine but not
 * current; the line makes it current, as the policy pin does for the
 * policy.  0 is never written: a config without the line is generation 0,
 * and the config of a volume that never saved a grant stays as it was.
 */

static int conf_parse_grants_gen(struct vol *vol, const char *rest,
				 int *seenp)
{
	unsigned long long v;
	char *end;

	if (*seenp || *rest < '0' || *rest > '9')
		return -PHV_EFORMAT;	/* one line, digits only */
	errno = 0;
	v = strtoull(rest, &end, 10);
	if (errno || *end || v > UINT64_MAX)
		return -PHV_EFORMAT;
	vol->grants_gen = (uint64_t)v;
	*seenp = 1;
	return 0;
}

uint64_t vol_grants_gen(struct vol *vol)
{
	uint64_t gen;

	vol_conf_refresh(vol);
	pthread_mutex_lock(&vol->conf_lock);
	gen = vol->grants_gen;
	pthread_mutex_unlock(&vol->conf_lock);
	return gen;
}

int vol_grants_gen_set(struct vol *vol, uint64_t gen)
{
	uint64_t old;
	int r, lockfd;

	r = conf_begin(vol, &lockfd);
	if (r)
		return r;
	old = vol->grants_gen;
	r = -EINVAL;
	if (gen < old)
		goto out;
	vol->grants_gen = gen;
	r = conf_write(vol);
	if (r)
		vol->grants_gen = old;
out:
	conf_end(vol, lockfd);
	return r;
}
