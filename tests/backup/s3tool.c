// SPDX-License-Identifier: MIT
/*
 * s3tool.c - command-line driver of backup/s3.h for the integration tests
 * in tests/backup/test_s3.py.  Not installed.
 *
 * Settings come from the environment exactly as the backup engine reads
 * them (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).  PHV_S3_ATTEMPTS and
 * PHV_S3_BACKOFF_MS tune the retry loop so tests stay fast.  Results are
 * printed as "name=value" lines on stdout (object bodies raw); a failure
 * prints the client's last error and the code's text on stderr and exits
 * with 3 for -PHV_ELOCKED, 4 for -PHV_ENOTFOUND, 5 for -PHV_EBADKEY,
 * 2 for usage errors and 1 otherwise.
 */
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backup/s3.h"

struct opts {
	const char *version;
	const char *mode;
	const char *range;
	const char *prefix;
	long retain_days;
	long retain_seconds;
	unsigned int max;
	int bypass;
	char *pos[4];
	int npos;
};

struct cmd {
	const char *name;
	int nargs;
	int (*fn)(struct s3_client *c, const struct opts *o);
};

static int usage(void)
{
	fprintf(stderr,
		"usage: s3tool mb-lock BUCKET | lockcfg BUCKET\n"
		"       s3tool put BUCKET KEY FILE [--mode M (--retain-days N"
		" | --retain-seconds N)]\n"
		"       s3tool get BUCKET KEY [--version V] [--range A-B]\n"
		"       s3tool head|retention BUCKET KEY [--version V]\n"
		"       s3tool extend-retention BUCKET KEY --version V"
		" (--retain-days N | --retain-seconds N) [--mode M]"
		" [--bypass]\n"
		"       s3tool ls|versions BUCKET [--prefix P] [--max N]\n"
		"       s3tool rm BUCKET KEY [--version V] [--bypass]\n"
		"       s3tool date [BUCKET]\n");
	return 2;
}

static time_t retain_until(const struct opts *o)
{
	if (o->retain_seconds)
		return time(NULL) + o->retain_seconds;
	if (o->retain_days)
		return time(NULL) + o->retain_days * 86400;
	return 0;
}

static void print_time(const char *name, time_t t)
{
	char buf[32];
	struct tm tm;

	if (!t) {
		printf("%s=\n", name);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s=%s\n%s_epoch=%lld\n", name, buf, name, (long long)t);
}

static int read_file(const char *path, char **bufp, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	int r = -errno;

	*bufp = NULL;
	if (!f)
		return r;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	r = ferror(f) ? -EIO : 0;
	if (!r) {
		*bufp = buf;
		*lenp = len;
		buf = NULL;
	}
out:
	free(buf);
	fclose(f);
	return r;
}

static int cmd_mb_lock(struct s3_client *c, const struct opts *o)
{
	return s3_create_bucket_locked(c, o->pos[0]);
}

static int cmd_lockcfg(struct s3_client *c, const struct opts *o)
{
	struct s3_lock_config cfg;
	int r = s3_get_lock_config(c, o->pos[0], &cfg);

	if (r)
		return r;
	printf("enabled=%d\nmode=%s\ndays=%u\nyears=%u\n", cfg.enabled,
	       s3_lock_mode_name(cfg.default_mode), cfg.default_days,
	       cfg.default_years);
	return 0;
}

static int cmd_put(struct s3_client *c, const struct opts *o)
{
	enum s3_lock_mode mode = S3_LOCK_NONE;
	char *buf = NULL, *vid = NULL;
	size_t len = 0;
	int r;

	if (o->mode && s3_lock_mode_parse(o->mode, &mode))
		return -EINVAL;
	r = read_file(o->pos[2], &buf, &len);
	if (r)
		return r;
	r = s3_put(c, o->pos[0], o->pos[1], buf, len, mode, retain_until(o),
		   &vid);
	if (!r)
		printf("version=%s\n", vid ? vid : "");
	free(vid);
	free(buf);
	return r;
}

static int cmd_get(struct s3_client *c, const struct opts *o)
{
	unsigned long long a = 0, b = 0;
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (o->range && (sscanf(o->range, "%llu-%llu", &a, &b) != 2 || b < a))
		return -EINVAL;
	r = s3_get(c, o->pos[0], o->pos[1], o->version, a,
		   o->range ? b - a + 1 : 0, 64U << 20, &buf, &len);
	if (!r && fwrite(buf, 1, len, stdout) != len)
		r = -EIO;
	free(buf);
	return r;
}

static int cmd_head(struct s3_client *c, const struct opts *o)
{
	struct s3_object_info info;
	int r = s3_head(c, o->pos[0], o->pos[1], o->version, &info);

	if (r)
		return r;
	printf("size=%llu\nversion=%s\netag=%s\nmode=%s\nlegal_hold=%d\n",
	       (unsigned long long)info.size, info.version_id, info.etag,
	       s3_lock_mode_name(info.lock_mode), info.legal_hold);
	print_time("retain_until", info.retain_until);
	print_time("last_modified", info.last_modified);
	return 0;
}

static int cmd_retention(struct s3_client *c, const struct opts *o)
{
	enum s3_lock_mode mode;
	time_t until;
	int r;

	r = s3_get_retention(c, o->pos[0], o->pos[1], o->version, &mode,
			     &until);
	if (r)
		return r;
	printf("mode=%s\n", s3_lock_mode_name(mode));
	print_time("retain_until", until);
	return 0;
}

static int cmd_extend(struct s3_client *c, const struct opts *o)
{
	enum s3_lock_mode mode = S3_LOCK_GOVERNANCE;

	if (o->mode && s3_lock_mode_parse(o->mode, &mode))
		return -EINVAL;
	return s3_put_retention(c, o->pos[0], o->pos[1], o->version, mode,
				retain_until(o),
				o->bypass ? S3_BYPASS_GOVERNANCE : 0);
}

static int cmd_list(struct s3_client *c, const struct opts *o, int versions)
{
	struct s3_listing page = S3_LISTING_INIT;
	const struct s3_entry *e;
	size_t i;
	int r;

	do {
		if (versions)
			r = s3_list_versions(c, o->pos[0], o->prefix, o->max,
					     &page);
		else
			r = s3_list(c, o->pos[0], o->prefix, o->max, &page);
		if (r)
			break;
		for (i = 0; i < page.n; i++) {
			e = &page.entries[i];
			printf("key=%s version=%s size=%llu latest=%d "
			       "delete_marker=%d etag=%s\n", e->key,
			       e->version_id ? e->version_id : "",
			       (unsigned long long)e->size, e->is_latest,
			       e->is_delete_marker, e->etag ? e->etag : "");
		}
	} while (page.truncated);
	s3_listing_release(&page);
	return r;
}

static int cmd_ls(struct s3_client *c, const struct opts *o)
{
	return cmd_list(c, o, 0);
}

static int cmd_versions(struct s3_client *c, const struct opts *o)
{
	return cmd_list(c, o, 1);
}

static int cmd_rm(struct s3_client *c, const struct opts *o)
{
	char *marker = NULL;
	int r;

	r = s3_delete(c, o->pos[0], o->pos[1], o->version,
		      o->bypass ? S3_BYPASS_GOVERNANCE : 0, &marker);
	if (!r)
		printf("delete_marker_version=%s\n", marker ? marker : "");
	free(marker);
	return r;
}

static int cmd_date(struct s3_client *c, const struct opts *o)
{
	time_t t;
	int r = s3_server_time(c, o->npos ? o->pos[0] : NULL, &t);

	if (r)
		return r;
	print_time("server_date", t);
	printf("local_epoch=%lld\n", (long long)time(NULL));
	return 0;
}

static const struct cmd cmds[] = {
	{ "mb-lock", 1, cmd_mb_lock },
	{ "lockcfg", 1, cmd_lockcfg },
	{ "put", 3, cmd_put },
	{ "get", 2, cmd_get },
	{ "head", 2, cmd_head },
	{ "retention", 2, cmd_retention },
	{ "extend-retention", 2, cmd_extend },
	{ "ls", 1, cmd_ls },
	{ "versions", 1, cmd_versions },
	{ "rm", 2, cmd_rm },
	{ "date", -1, cmd_date },
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--bypass")) {
			o->bypass = 1;
			continue;
		}
		if (a[0] == '-' && a[1] == '-' && !v)
			return -EINVAL;
		if (!strcmp(a, "--version"))
			o->version = v;
		else if (!strcmp(a, "--mode"))
			o->mode = v;
		else if (!strcmp(a, "--range"))
			o->range = v;
		else if (!strcmp(a, "--prefix"))
			o->prefix = v;
		else if (!strcmp(a, "--retain-days"))
			o->retain_days = strtol(v, NULL, 10);
		else if (!strcmp(a, "--retain-seconds"))
			o->retain_seconds = strtol(v, NULL, 10);
		else if (!strcmp(a, "--max"))
			o->max = (unsigned int)strtoul(v, NULL, 10);
		else if (a[0] == '-' && a[1] == '-')
			return -EINVAL;
		else if (o->npos < 4)
			o->pos[o->npos++] = argv[i];
		else
			return -EINVAL;
		if (a[0] == '-' && a[1] == '-')
			i++;
	}
	return 0;
}

static int exit_code(int r)
{
	switch (-r) {
	case PHV_ELOCKED:
		return 3;
	case PHV_ENOTFOUND:
		return 4;
	case PHV_EBADKEY:
		return 5;
	default:
		return 1;
	}
}

int main(int argc, char **argv)
{
	struct s3_config cfg;
	struct s3_client *c = NULL;
	const struct cmd *cmd = NULL;
	struct opts o;
	const char *env;
	size_t i;
	int r;

	if (argc < 2)
		return usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			cmd = &cmds[i];
	if (!cmd || parse_opts(argc - 2, argv + 2, &o) ||
	    (cmd->nargs >= 0 && o.npos != cmd->nargs) ||
	    (cmd->nargs < 0 && o.npos > 1))
		return usage();

	memset(&cfg, 0, sizeof(cfg));
	env = getenv("PHV_S3_ATTEMPTS");
	if (env)
		cfg.attempts = (unsigned int)strtoul(env, NULL, 10);
	env = getenv("PHV_S3_BACKOFF_MS");
	if (env)
		cfg.backoff_ms = (unsigned int)strtoul(env, NULL, 10);
	r = s3_client_new(&cfg, &c);
	if (r) {
		fprintf(stderr, "s3tool: %s (%s)\n", s3_config_error(),
			phv_strerror(r));
		return 1;
	}
	r = cmd->fn(c, &o);
	fflush(stdout);
	fprintf(stderr, "retries=%lu status=%d\n", s3_retry_count(c),
		s3_last_status(c));
	if (r) {
		fprintf(stderr, "s3tool: %s (%s, %d)\n",
			*s3_last_error(c) ? s3_last_error(c) : argv[1],
			phv_strerror(r), r);
		r = exit_code(r);
	}
	s3_client_free(c);
	return r;
}
