/* SPDX-License-Identifier: MIT */
/*
 * conf.h - the per-volume configuration file, /etc/phivault/NAME.conf.
 *
 * One file per volume names everything the commands need to run without
 * arguments: the backing directory and mount point, where the secrets
 * are (files and commands, never the secrets themselves), the policy and
 * audit log, the backup repository and its retention, the drill targets
 * and the alert hook.  Every setting and its default: docs/CONFIG.md.
 *
 * Format: "key = value" lines; blank lines and lines whose first
 * non-blank character is '#' are ignored.  The value runs to the end of
 * the line with surrounding blanks removed; there is no quoting and no
 * trailing comment (a command may contain '#').  Unknown keys, repeated
 * keys and malformed values are errors with the line number, so a typo
 * never silently falls back to a default.  Keys that would hold a secret
 * ("passphrase", "pin", "secret-key", ...) are refused by name.
 *
 * Trust: the file names commands that run as whoever runs phivault
 * (often root), so conf_load() refuses a file that is world-writable,
 * group-writable by a group other than root's, owned by anyone but root
 * or the caller, not a regular file, or reached through a symbolic link
 * owned by anyone but root or the caller.
 *
 * Nothing here prints; failures come back as a negative code and one
 * line in the caller's msg buffer that names the file (and line).
 */
#ifndef COMMON_CONF_H
#define COMMON_CONF_H

#include <stddef.h>
#include <stdint.h>

#define CONF_DEFAULT_DIR	"/etc/phivault"
#define CONF_DIR_ENV		"PHIVAULT_CONFIG_DIR"
#define CONF_NAME_MAX		64
#define CONF_FILE_MAX		(64 * 1024)

/* Every setting, in the order docs/CONFIG.md lists them. */
enum conf_key {
	CONF_CIPHERDIR = 0,
	CONF_MOUNTPOINT,
	CONF_MOUNT_OPTIONS,
	CONF_PASSPHRASE_FILE,
	CONF_PASSPHRASE_COMMAND,
	CONF_KEYFILE,
	CONF_PKCS11_MODULE,
	CONF_TOKEN_LABEL,
	CONF_KEY_LABEL,
	CONF_PIN_FILE,
	CONF_PIN_COMMAND,
	CONF_KEY_COMMAND,
	CONF_POLICY,
	CONF_AUDIT_LOG,
	CONF_AUDIT_PUBKEY,
	CONF_AUDIT_ROTATE_SIZE,
	CONF_AUDIT_ROTATE_AGE,
	CONF_AUDIT_SYSLOG,
	CONF_SOCKET,
	CONF_REPOSITORY,
	CONF_REPO_PASSPHRASE_FILE,
	CONF_ENDPOINT,
	CONF_REGION,
	CONF_AWS_PROFILE,
	CONF_AWS_CREDENTIALS_FILE,
	CONF_LOCK_MODE,
	CONF_RETENTION,
	CONF_KEEP_LAST,
	CONF_KEEP_DAILY,
	CONF_KEEP_WEEKLY,
	CONF_KEEP_MONTHLY,
	CONF_BACKUP_SOURCE,
	CONF_RPO,
	CONF_RTO,
	CONF_DRILL_INTERVAL,
	CONF_DRILL_SAMPLE,
	CONF_ALERT_HOOK,
	CONF_NKEYS
};

/* How a value is checked. */
enum conf_type {
	CONF_T_PATH,		/* absolute path */
	CONF_T_STRING,		/* any non-empty text */
	CONF_T_COMMAND,		/* a shell command line, run by /bin/sh */
	CONF_T_REPO,		/* s3://bucket[/prefix] or an absolute path */
	CONF_T_URL,		/* http:// or https:// */
	CONF_T_COUNT,		/* integer 0..100000 */
	CONF_T_DURATION,	/* N[s|m|h|d|w|y], N > 0 (bare N: days) */
	CONF_T_LOCK_MODE,	/* governance, compliance or none */
	CONF_T_FRACTION,	/* decimal in (0, 1] */
	CONF_T_SIZE,		/* N[K|M|G|T] (powers of 1024) or off */
	CONF_T_AGE,		/* a duration as above, or off */
	CONF_T_BOOL,		/* yes or no */
};

struct conf_key_info {
	const char *name;	/* as written in the file */
	enum conf_type type;
	const char *env;	/* variable main() exports, or NULL */
	const char *def;	/* default as documented, or NULL: unset */
};

struct conf;

/* The table row of key k (k < CONF_NKEYS). */
const struct conf_key_info *conf_key_info(enum conf_key k);

/* The key called name, or -1. */
int conf_key_find(const char *name);

/*
 * 1 when name is a valid volume name: 1..CONF_NAME_MAX characters of
 * [A-Za-z0-9._-], not starting with '.' or '-'.  Names become file names
 * and systemd instance names, so nothing else is allowed.
 */
int conf_name_valid(const char *name);

/*
 * The path of NAME's file: $PHIVAULT_CONFIG_DIR (when set and non-empty)
 * or CONF_DEFAULT_DIR, then "/NAME.conf".  Returns 0, -EINVAL for a bad
 * name, -ENAMETOOLONG.
 */
int conf_path(const char *name, char *buf, size_t size);

/*
 * Load and check NAME's file (see "Trust" above).  On success *confp owns
 * the settings; release with conf_free().  Returns 0, -ENOENT (no such
 * file), -EPERM (unsafe ownership, mode or symlink), -PHV_ECONFIG (syntax
 * or value error), -EINVAL (bad name), -ENOMEM or another -errno; msg
 * gets one line naming the file and, for syntax errors, the line.
 * *confp is NULL on failure.
 */
int conf_load(const char *name, struct conf **confp, char *msg,
	      size_t msgsize);

/* The same for an explicit path (tests, `doctor --config`). */
int conf_load_file(const char *path, struct conf **confp, char *msg,
		   size_t msgsize);

/* NULL-safe. */
void conf_free(struct conf *c);

/* The volume name and the path it was loaded from. */
const char *conf_name(const struct conf *c);
const char *conf_file(const struct conf *c);

/* The value of k as written, or NULL when the file does not set it. */
const char *conf_get(const struct conf *c, enum conf_key k);

/* The value, else the documented default (may still be NULL). */
const char *conf_get_def(const struct conf *c, enum conf_key k);

/* A duration or count setting (or its default) in seconds / units;
 * -1 when neither the file nor the default sets it. */
int64_t conf_get_num(const struct conf *c, enum conf_key k);

/* Parse "90d", "26h", "30m", "45s", "2w", "1y", "7" (days) to seconds,
 * at most 1000000 of the unit (duration_parse()); 0 or -EINVAL. */
int conf_parse_duration(const char *s, int64_t *secsp);

/* Audit rotation limits: a byte count "4096", "512K", "64M", "2G", "1T"
 * (powers of 1024, at least CONF_SIZE_MIN), or a duration as above (at
 * least CONF_AGE_MIN seconds); "off" is 0.  0 or -EINVAL. */
#define CONF_SIZE_MIN	4096
#define CONF_AGE_MIN	60
int conf_parse_size(const char *s, uint64_t *bytesp);
int conf_parse_age(const char *s, int64_t *secsp);

/* "yes" is 1 and "no" is 0; 0 or -EINVAL. */
int conf_parse_bool(const char *s, int *onp);

/*
 * Export every set value with an env name as that variable, without
 * replacing a variable that is already set (the caller's environment
 * wins over the file).  Returns 0 or -errno from setenv().
 */
int conf_export_env(const struct conf *c);

#endif /* COMMON_CONF_H */
