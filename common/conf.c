// SPDX-License-Identifier: MIT
/*
 * conf.c - parse and check /etc/phivault/NAME.conf (conf.h).
 *
 * The file is read whole (at most CONF_FILE_MAX bytes) from a descriptor
 * opened after the symlink check and checked again with fstat, so what is
 * parsed is the file whose owner and mode were judged.  Values are kept
 * as written; their checks only decide whether the file is accepted.
 * Defaults containing "%n" are expanded with the volume name when the
 * file is loaded, so conf_get_def() never allocates.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "duration.h"
#include "err.h"

/* "1000000d" is already absurd; larger numbers are typos. */
#define CONF_DURATION_COUNT_MAX	1000000

struct conf {
	char name[CONF_NAME_MAX + 1];
	char file[PATH_MAX];
	char *val[CONF_NKEYS];		/* as written, or NULL */
	char *def[CONF_NKEYS];		/* defaults with %n expanded */
};

static const struct conf_key_info keys[CONF_NKEYS] = {
	[CONF_CIPHERDIR] = { "cipherdir", CONF_T_PATH,
		"PHIVAULT_CIPHERDIR", NULL },
	[CONF_MOUNTPOINT] = { "mountpoint", CONF_T_PATH,
		"PHIVAULT_MOUNTPOINT", NULL },
	[CONF_MOUNT_OPTIONS] = { "mount-options", CONF_T_STRING,
		"PHIVAULT_MOUNT_OPTIONS", NULL },
	[CONF_PASSPHRASE_FILE] = { "passphrase-file", CONF_T_PATH,
		"PHIVAULT_PASSPHRASE_FILE", NULL },
	[CONF_PASSPHRASE_COMMAND] = { "passphrase-command", CONF_T_COMMAND,
		"PHIVAULT_PASSPHRASE_COMMAND", NULL },
	[CONF_KEYFILE] = { "keyfile", CONF_T_PATH,
		"PHIVAULT_KEYFILE", NULL },
	[CONF_PKCS11_MODULE] = { "pkcs11-module", CONF_T_PATH,
		"PHIVAULT_PKCS11_MODULE", NULL },
	[CONF_TOKEN_LABEL] = { "token-label", CONF_T_STRING,
		"PHIVAULT_TOKEN_LABEL", NULL },
	[CONF_KEY_LABEL] = { "key-label", CONF_T_STRING,
		"PHIVAULT_KEY_LABEL", NULL },
	[CONF_PIN_FILE] = { "pin-file", CONF_T_PATH,
		"PHIVAULT_PIN_FILE", NULL },
	[CONF_PIN_COMMAND] = { "pin-command", CONF_T_COMMAND,
		"PHIVAULT_PIN_COMMAND", NULL },
	[CONF_KEY_COMMAND] = { "key-command", CONF_T_COMMAND,
		"PHIVAULT_KEY_COMMAND", NULL },
	[CONF_POLICY] = { "policy", CONF_T_PATH,
		"PHIVAULT_POLICY", NULL },
	[CONF_AUDIT_LOG] = { "audit-log", CONF_T_PATH,
		"PHIVAULT_AUDIT_LOG", "/var/log/phivault/%n.audit.jsonl" },
	[CONF_AUDIT_PUBKEY] = { "audit-pubkey", CONF_T_STRING,
		"PHIVAULT_AUDIT_PUBKEY", NULL },
	[CONF_AUDIT_ROTATE_SIZE] = { "audit-rotate-size", CONF_T_SIZE,
		"PHIVAULT_AUDIT_ROTATE_SIZE", "64M" },
	[CONF_AUDIT_ROTATE_AGE] = { "audit-rotate-age", CONF_T_AGE,
		"PHIVAULT_AUDIT_ROTATE_AGE", "1d" },
	[CONF_AUDIT_SYSLOG] = { "audit-syslog", CONF_T_BOOL,
		"PHIVAULT_AUDIT_SYSLOG", "no" },
	[CONF_SOCKET] = { "socket", CONF_T_PATH,
		"PHIVAULT_SOCKET", NULL },
	[CONF_REPOSITORY] = { "repository", CONF_T_REPO,
		"PHIVAULT_REPOSITORY", NULL },
	[CONF_REPO_PASSPHRASE_FILE] = { "repo-passphrase-file", CONF_T_PATH,
		"PHIVAULT_REPO_PASSPHRASE_FILE", NULL },
	[CONF_ENDPOINT] = { "endpoint", CONF_T_URL,
		"AWS_ENDPOINT_URL", NULL },
	[CONF_REGION] = { "region", CONF_T_STRING,
		"AWS_REGION", NULL },
	[CONF_AWS_PROFILE] = { "aws-profile", CONF_T_STRING,
		"AWS_PROFILE", NULL },
	[CONF_AWS_CREDENTIALS_FILE] = { "aws-credentials-file", CONF_T_PATH,
		"AWS_SHARED_CREDENTIALS_FILE", NULL },
	[CONF_LOCK_MODE] = { "lock-mode", CONF_T_LOCK_MODE,
		"PHIVAULT_LOCK_MODE", "governance" },
	[CONF_RETENTION] = { "retention", CONF_T_DURATION,
		"PHIVAULT_RETENTION", "90d" },
	[CONF_KEEP_LAST] = { "keep-last", CONF_T_COUNT,
		"PHIVAULT_KEEP_LAST", NULL },
	[CONF_KEEP_DAILY] = { "keep-daily", CONF_T_COUNT,
		"PHIVAULT_KEEP_DAILY", NULL },
	[CONF_KEEP_WEEKLY] = { "keep-weekly", CONF_T_COUNT,
		"PHIVAULT_KEEP_WEEKLY", NULL },
	[CONF_KEEP_MONTHLY] = { "keep-monthly", CONF_T_COUNT,
		"PHIVAULT_KEEP_MONTHLY", NULL },
	[CONF_BACKUP_SOURCE] = { "backup-source", CONF_T_PATH,
		"PHIVAULT_BACKUP_SOURCE", NULL },
	[CONF_RPO] = { "rpo", CONF_T_DURATION,
		"PHIVAULT_RPO", "26h" },
	[CONF_RTO] = { "rto", CONF_T_DURATION,
		"PHIVAULT_RTO", "4h" },
	[CONF_DRILL_INTERVAL] = { "drill-interval", CONF_T_DURATION,
		"PHIVAULT_DRILL_INTERVAL", "7d" },
	[CONF_DRILL_SAMPLE] = { "drill-sample", CONF_T_FRACTION,
		"PHIVAULT_DRILL_SAMPLE", NULL },
	[CONF_ALERT_HOOK] = { "alert-hook", CONF_T_COMMAND,
		"PHIVAULT_ALERT_HOOK", NULL },
};

/* Keys people might be tempted to write a secret into. */
static const char *const secret_keys[] = {
	"passphrase", "password", "pin", "key", "secret", "secret-key",
	"access-key", "aws-access-key-id", "aws-secret-access-key",
	"repo-passphrase", "session-token", "token",
};

const struct conf_key_info *conf_key_info(enum conf_key k)
{
	return (unsigned int)k < CONF_NKEYS ? &keys[k] : NULL;
}

int conf_key_find(const char *name)
{
	int i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (!strcmp(keys[i].name, name))
			return i;
	return -1;
}

int conf_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > CONF_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return 0;
	}
	return 1;
}

int conf_path(const char *name, char *buf, size_t size)
{
	const char *dir = getenv(CONF_DIR_ENV);
	int n;

	if (!conf_name_valid(name))
		return -EINVAL;
	if (!dir || !*dir)
		dir = CONF_DEFAULT_DIR;
	n = snprintf(buf, size, "%s/%s.conf", dir, name);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int conf_parse_duration(const char *s, int64_t *secsp)
{
	return duration_parse(s, DURATION_BARE_DAYS, CONF_DURATION_COUNT_MAX,
			      secsp);
}

int conf_parse_size(const char *s, uint64_t *bytesp)
{
	static const char units[] = "KMGT";
	const char *u;
	uint64_t v;
	char *end;
	int shift;

	if (!strcmp(s, "off")) {
		*bytesp = 0;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	shift = 0;
	if (*end) {
		u = strchr(units, *end);
		if (!u || end[1])
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
	}
	if (v > (UINT64_MAX >> shift) || (v << shift) < CONF_SIZE_MIN)
		return -EINVAL;
	*bytesp = v << shift;
	return 0;
}

int conf_parse_age(const char *s, int64_t *secsp)
{
	int64_t n;

	if (!strcmp(s, "off")) {
		*secsp = 0;
		return 0;
	}
	if (conf_parse_duration(s, &n) || n < CONF_AGE_MIN)
		return -EINVAL;
	*secsp = n;
	return 0;
}

int conf_parse_bool(const char *s, int *onp)
{
	if (!strcmp(s, "yes"))
		*onp = 1;
	else if (!strcmp(s, "no"))
		*onp = 0;
	else
		return -EINVAL;
	return 0;
}

static int parse_count(const char *s, int64_t *np)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > 100000)
		return -EINVAL;
	*np = v;
	return 0;
}

static int parse_fraction(const char *s)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -EINVAL;
	v = strtod(s, &end);
	if (*end || !(v > 0.0 && v <= 1.0))
		return -EINVAL;
	return 0;
}

/* Check v as a value of type t; a reason on failure, NULL when fine. */
static const char *check_value(enum conf_type t, const char *v)
{
	uint64_t u;
	int64_t n;
	int b;

	switch (t) {
	case CONF_T_PATH:
		return v[0] == '/' ? NULL : "must be an absolute path";
	case CONF_T_STRING:
	case CONF_T_COMMAND:
		return NULL;
	case CONF_T_REPO:
		if (v[0] == '/' || (!strncmp(v, "s3://", 5) && v[5] &&
				    v[5] != '/'))
			return NULL;
		return "must be s3://BUCKET[/PREFIX] or an absolute path";
	case CONF_T_URL:
		if (!strncmp(v, "http://", 7) || !strncmp(v, "https://", 8))
			return NULL;
		return "must be an http:// or https:// URL";
	case CONF_T_COUNT:
		return parse_count(v, &n) ? "must be a whole number" : NULL;
	case CONF_T_DURATION:
		return conf_parse_duration(v, &n) ?
			"must be a duration like 90d, 26h, 30m, 2w or 1y" :
			NULL;
	case CONF_T_LOCK_MODE:
		if (!strcmp(v, "governance") || !strcmp(v, "compliance") ||
		    !strcmp(v, "none"))
			return NULL;
		return "must be governance, compliance or none";
	case CONF_T_FRACTION:
		return parse_fraction(v) ?
			"must be a fraction in (0, 1], like 0.1" : NULL;
	case CONF_T_SIZE:
		return conf_parse_size(v, &u) ?
			"must be a size of at least 4K, like 64M or 1G, or "
			"off" : NULL;
	case CONF_T_AGE:
		return conf_parse_age(v, &n) ?
			"must be a duration of at least 1m, like 1d or 12h, "
			"or off" : NULL;
	case CONF_T_BOOL:
		return conf_parse_bool(v, &b) ? "must be yes or no" : NULL;
	}
	return "has an unknown type";
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int is_secret_key(const char *k)
{
	size_t i;

	for (i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++)
		if (!strcmp(secret_keys[i], k))
			return 1;
	return 0;
}

/* Parse one line (already NUL-terminated); 0 or -PHV_ECONFIG + msg. */
static int parse_line(struct conf *c, char *line, int lineno, char *msg,
		      size_t msgsize)
{
	char *k, *v, *eq;
	const char *why;
	int i;

	k = trim(line);
	if (!*k || *k == '#')
		return 0;
	eq = strchr(k, '=');
	if (!eq) {
		snprintf(msg, msgsize, "%s:%d: expected 'key = value'",
			 c->file, lineno);
		return -PHV_ECONFIG;
	}
	*eq = '\0';
	k = trim(k);
	v = trim(eq + 1);
	i = conf_key_find(k);
	if (i < 0 && is_secret_key(k)) {
		snprintf(msg, msgsize, "%s:%d: '%s': secrets do not belong in "
			 "the configuration file; put the secret in a file "
			 "readable only by root and name that file (see "
			 "docs/CONFIG.md)", c->file, lineno, k);
		return -PHV_ECONFIG;
	}
	if (i < 0) {
		snprintf(msg, msgsize, "%s:%d: unknown setting '%.64s'",
			 c->file, lineno, k);
		return -PHV_ECONFIG;
	}
	if (c->val[i]) {
		snprintf(msg, msgsize, "%s:%d: '%s' is set twice", c->file,
			 lineno, k);
		return -PHV_ECONFIG;
	}
	why = *v ? check_value(keys[i].type, v) : "has no value";
	if (why) {
		snprintf(msg, msgsize, "%s:%d: %s %s", c->file, lineno, k,
			 why);
		return -PHV_ECONFIG;
	}
	c->val[i] = strdup(v);
	return c->val[i] ? 0 : -ENOMEM;
}

static int parse_text(struct conf *c, char *text, char *msg, size_t msgsize)
{
	char *line = text, *nl;
	int lineno = 0, r;

	while (line && *line) {
		lineno++;
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		r = parse_line(c, line, lineno, msg, msgsize);
		if (r)
			return r;
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* Expand "%n" in the documented defaults. */
static int expand_defaults(struct conf *c)
{
	char buf[PATH_MAX];
	const char *d, *p;
	size_t o;
	int i;

	for (i = 0; i < CONF_NKEYS; i++) {
		d = keys[i].def;
		if (!d)
			continue;
		o = 0;
		for (p = d; *p && o < sizeof(buf) - 1; p++) {
			if (p[0] == '%' && p[1] == 'n') {
				o += snprintf(buf + o, sizeof(buf) - o, "%s",
					      c->name);
				p++;
			} else {
				buf[o++] = *p;
			}
		}
		buf[o < sizeof(buf) ? o : sizeof(buf) - 1] = '\0';
		c->def[i] = strdup(buf);
		if (!c->def[i])
			return -ENOMEM;
	}
	return 0;
}

static int owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The trust checks of conf.h on the opened file (and the link, if any). */
static int check_trust(const char *path, int fd, char *msg, size_t msgsize)
{
	struct stat lst, st;

	if (lstat(path, &lst) || fstat(fd, &st))
		return -errno;
	if (S_ISLNK(lst.st_mode) && !owner_ok(lst.st_uid)) {
		snprintf(msg, msgsize, "%s is a symbolic link owned by uid %u, "
			 "not by root or you: refusing to use it", path,
			 (unsigned int)lst.st_uid);
		return -EPERM;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, msgsize, "%s is not a regular file", path);
		return -EPERM;
	}
	if (!owner_ok(st.st_uid)) {
		snprintf(msg, msgsize, "%s is owned by uid %u, not by root or "
			 "you: refusing to use it", path,
			 (unsigned int)st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid)) {
		snprintf(msg, msgsize, "%s is writable by %s: refusing to use "
			 "it (chmod go-w %s)", path,
			 (st.st_mode & S_IWOTH) ? "everyone" : "its group",
			 path);
		return -EPERM;
	}
	return 0;
}

/* Read the whole of fd (at most CONF_FILE_MAX) into a NUL-ended buffer. */
static int read_all(int fd, const char *path, char **textp, char *msg,
		    size_t msgsize)
{
	char *buf = malloc(CONF_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n;

	*textp = NULL;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = read(fd, buf + len, CONF_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len > CONF_FILE_MAX) {
			snprintf(msg, msgsize, "%s is larger than %d bytes",
				 path, CONF_FILE_MAX);
			free(buf);
			return -PHV_ECONFIG;
		}
	}
	if (n < 0) {
		n = -errno;
		snprintf(msg, msgsize, "cannot read %s: %s", path,
			 strerror(errno));
		free(buf);
		return (int)n;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(msg, msgsize, "%s contains a NUL byte", path);
		free(buf);
		return -PHV_ECONFIG;
	}
	buf[len] = '\0';
	*textp = buf;
	return 0;
}

/* The name is the file's base name without ".conf" (or all of it). */
static void name_from_path(struct conf *c, const char *path)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 5 && !strcmp(b + n - 5, ".conf"))
		n -= 5;
	if (n > CONF_NAME_MAX)
		n = CONF_NAME_MAX;
	memcpy(c->name, b, n);
	c->name[n] = '\0';
}

int conf_load_file(const char *path, struct conf **confp, char *msg,
		   size_t msgsize)
{
	struct conf *c = NULL;
	char *text = NULL;
	int fd = -1, r;

	*confp = NULL;
	msg[0] = '\0';
	c = calloc(1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(c->file, sizeof(c->file), "%s", path);
	name_from_path(c, path);

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msgsize, "cannot open %s: %s", path,
			 strerror(errno));
		goto out;
	}
	r = check_trust(path, fd, msg, msgsize);
	if (r)
		goto out;
	r = read_all(fd, path, &text, msg, msgsize);
	if (r)
		goto out;
	r = parse_text(c, text, msg, msgsize);
	if (r)
		goto out;
	r = expand_defaults(c);
	if (r)
		goto out;
	*confp = c;
	c = NULL;
out:
	if (r && !msg[0])
		snprintf(msg, msgsize, "%s: %s", path, phv_strerror(r));
	if (fd >= 0)
		close(fd);
	free(text);
	conf_free(c);
	return r;
}

int conf_load(const char *name, struct conf **confp, char *msg,
	      size_t msgsize)
{
	char path[PATH_MAX];
	int r;

	*confp = NULL;
	r = conf_path(name, path, sizeof(path));
	if (r == -EINVAL)
		snprintf(msg, msgsize, "'%.80s' is not a valid volume name "
			 "(letters, digits, '.', '_', '-'; at most %d)", name,
			 CONF_NAME_MAX);
	else if (r)
		snprintf(msg, msgsize, "configuration path for '%.80s' is "
			 "too long", name);
	if (r)
		return r;
	r = conf_load_file(path, confp, msg, msgsize);
	if (!r)
		snprintf((*confp)->name, sizeof((*confp)->name), "%s", name);
	return r;
}

void conf_free(struct conf *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < CONF_NKEYS; i++) {
		free(c->val[i]);
		free(c->def[i]);
	}
	free(c);
}

const char *conf_name(const struct conf *c)
{
	return c->name;
}

const char *conf_file(const struct conf *c)
{
	return c->file;
}

const char *conf_get(const struct conf *c, enum conf_key k)
{
	return (unsigned int)k < CONF_NKEYS ? c->val[k] : NULL;
}

const char *conf_get_def(const struct conf *c, enum conf_key k)
{
	if ((unsigned int)k >= CONF_NKEYS)
		return NULL;
	if (c->val[k])
		return c->val[k];
	if (k == CONF_BACKUP_SOURCE)
		return c->val[CONF_CIPHERDIR];
	return c->def[k];
}

int64_t conf_get_num(const struct conf *c, enum conf_key k)
{
	const char *v = conf_get_def(c, k);
	int64_t n;

	if (!v)
		return -1;
	if (keys[k].type == CONF_T_DURATION)
		return conf_parse_duration(v, &n) ? -1 : n;
	if (keys[k].type == CONF_T_COUNT)
		return parse_count(v, &n) ? -1 : n;
	return -1;
}

int conf_export_env(const struct conf *c)
{
	int i;

	for (i = 0; i < CONF_NKEYS; i++) {
		const char *v = conf_get_def(c, i);

		if (!keys[i].env || !v)
			continue;
		if (setenv(keys[i].env, v, 0))
			return -errno;
	}
	return 0;
}
