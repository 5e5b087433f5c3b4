// SPDX-License-Identifier: MIT
/*
 * cliaudit.c - audit records for offline CLI actions (cliaudit.h).
 *
 * Two ways in: the running mount's control socket, or the log file
 * itself when the volume is not mounted.  The log takes appends from
 * several processes at once and keeps one chain (policy/audit_log.c,
 * file_lock()).
 *
 * Whether the volume is mounted is the cipherdir's flock(2), which a
 * mount holds exclusively for its life (tools/cmd_volume.c): the CLI
 * takes it shared, without waiting, and keeps it while it writes, so no
 * mount can start (with a log elsewhere) in the middle.  When it is
 * held, the mount's own socket and log come from the file it published,
 * CIPHERDIR/.phivault.mount (sealed under the volume's "mount-info" key,
 * docs/FORMAT.md); the CLI never guesses a log for a mounted volume, and
 * never creates one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "fs/vol.h"
#include "policy/audit.h"
#include "policy/ctl.h"
#include "policy/guard.h"
#include "policy/jsonl.h"
#include "policy/sealed.h"
#include "cliaudit.h"
#include "mount_guard.h"

#define PUBLISH_KIND	"mount"

/* What a live mount published: its socket and log. */
struct published {
	long pid;
	char socket[PATH_MAX];
	char audit_path[PATH_MAX];
};

/*
 * 0 when the mount took the record, 1 when no mount answered (nothing
 * reached it), else < 0: refused, or sent without an answer (-ETIMEDOUT,
 * -EPROTO: the mount may still write it).
 */
static int via_mount(const char *sock, const char *type, const char *detail)
{
	char *args[3] = { "event", (char *)type,
			  (char *)(detail && *detail ? detail : "-") };
	FILE *out = fopen("/dev/null", "w");
	int r;

	if (!out)
		return -errno;
	r = ctl_call(sock, 3, args, out);
	fclose(out);
	if (r == -ETIMEDOUT || r == -EPROTO)
		return r;
	if (r < 0)
		return 1;
	if (r == CTL_BUSY)
		return -EBUSY;
	return r == CTL_OK ? 0 : r == CTL_DENIED ? -PHV_EDENIED : -EIO;
}

static int direct(struct vol *vol, const char *log_path,
		  const struct mount_guard_where *w, const char *type,
		  const char *detail)
{
	struct audit_opts ao = {
		.path = log_path, .volume = w->name,
		.state_path = w->state_path,
	};
	struct audit_log *l = NULL;
	uint8_t *key = secmem_alloc(AUDIT_KEY_LEN);
	struct passwd *pw = getpwuid(getuid());
	struct jbuf j;
	int r;

	if (!key)
		return -ENOMEM;
	r = vol_derive_key(vol, "audit", key, AUDIT_KEY_LEN);
	if (!r)
		r = audit_open(&ao, key, &l);
	secmem_free(key, AUDIT_KEY_LEN);
	if (r)
		return r;
	jbuf_init(&j);
	jbuf_str(&j, "type", type);
	jbuf_int(&j, "uid", getuid());
	if (pw)
		jbuf_str(&j, "user", pw->pw_name);
	jbuf_int(&j, "gid", getgid());
	jbuf_int(&j, "pid", getpid());
	jbuf_str(&j, "comm", "phivault");
	if (detail)
		jbuf_str(&j, "detail", detail);
	jbuf_str(&j, "via", "cli");
	r = audit_emit(l, AUDIT_NOTICE, &j);
	if (!r)
		r = audit_checkpoint(l);
	audit_close(l);
	return r;
}

/* --- the published mount info --------------------------------------- */

static int publish_key(struct vol *vol, uint8_t **keyp)
{
	uint8_t *key = secmem_alloc(SEALED_KEY_LEN);
	int r;

	*keyp = NULL;
	if (!key)
		return -ENOMEM;
	r = vol_derive_key(vol, "mount-info", key, SEALED_KEY_LEN);
	if (r) {
		secmem_free(key, SEALED_KEY_LEN);
		return r;
	}
	*keyp = key;
	return 0;
}

static void publish_path(const char *cipherdir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/" CLIAUDIT_MOUNT_FILE, cipherdir);
}

/* An absolute path of printable characters, shorter than PATH_MAX. */
static int path_ok(const char *p)
{
	const unsigned char *c;

	if (p[0] != '/' || strlen(p) >= PATH_MAX)
		return 0;
	for (c = (const unsigned char *)p; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return 0;
	return 1;
}

int cliaudit_publish(struct vol *vol, const struct mount_guard_where *w)
{
	char path[PATH_MAX + 32], *body = NULL;
	uint8_t *key = NULL;
	int n, r;

	if (!path_ok(w->socket) || !path_ok(w->audit_path))
		return -EINVAL;
	n = asprintf(&body, "pid %ld\nsocket %s\naudit-log %s\n",
		     (long)getpid(), w->socket, w->audit_path);
	if (n < 0)
		return -ENOMEM;
	publish_path(w->cipherdir, path, sizeof(path));
	r = publish_key(vol, &key);
	if (!r)
		r = sealed_write(path, PUBLISH_KIND, key, body, n);
	if (key)
		secmem_free(key, SEALED_KEY_LEN);
	free(body);
	return r;
}

void cliaudit_unpublish(const struct mount_guard_where *w)
{
	char path[PATH_MAX + 32];

	publish_path(w->cipherdir, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		log_warn("cannot remove %s: %s", path, strerror(errno));
}

/* One "key value" line of the body into dst (PATH_MAX); 0 or -1. */
static int body_field(const char *body, const char *key, char *dst)
{
	size_t klen = strlen(key), vlen;
	const char *p = body, *nl;

	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			return -1;
		if (!strncmp(p, key, klen) && p[klen] == ' ') {
			vlen = nl - (p + klen + 1);
			if (vlen >= PATH_MAX)
				return -1;
			memcpy(dst, p + klen + 1, vlen);
			dst[vlen] = '\0';
			return 0;
		}
	}
	return -1;
}

/*
 * Read and check what the live mount published: sealed under this
 * volume's key, a regular 0600 file, well formed, its pid alive.
 * Returns 0, or a negative code (-ENOENT: nothing published).
 */
static int published_read(struct vol *vol, const char *cipherdir,
			  struct published *m)
{
	char path[PATH_MAX + 32], pid[32], *body = NULL, *end;
	uint8_t *key = NULL;
	struct stat st;
	size_t len;
	int r;

	publish_path(cipherdir, path, sizeof(path));
	if (lstat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
		return -PHV_EFORMAT;
	r = publish_key(vol, &key);
	if (!r)
		r = sealed_read(path, PUBLISH_KIND, key, &body, &len);
	if (key)
		secmem_free(key, SEALED_KEY_LEN);
	if (r)
		return r;
	r = -PHV_EFORMAT;
	if (body_field(body, "pid", pid) ||
	    body_field(body, "socket", m->socket) ||
	    body_field(body, "audit-log", m->audit_path) ||
	    !path_ok(m->socket) || !path_ok(m->audit_path))
		goto out;
	m->pid = strtol(pid, &end, 10);
	if (*end || m->pid <= 0)
		goto out;
	/* left behind by a daemon that was killed */
	r = kill(m->pid, 0) && errno == ESRCH ? -ESRCH : 0;
out:
	free(body);
	return r;
}

/*
 * Is the volume mounted?  1 (a mount holds the cipherdir lock), or 0
 * with *fdp holding the lock shared, so that none starts until it is
 * closed (-1 when the directory cannot be opened: treated as unmounted,
 * and unlocking it failed already anyway).
 */
static int is_mounted(const char *cipherdir, int *fdp)
{
	int fd;

	*fdp = -1;
	fd = open(cipherdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		close(fd);
		return errno == EWOULDBLOCK;
	}
	*fdp = fd;
	return 0;
}

/*
 * The log at path exists: append there; else warn if one was due (and
 * set *warnedp).
 */
static int to_log(struct vol *vol, const char *log_path,
		  const struct mount_guard_where *w, const char *type,
		  const char *detail, int *warnedp)
{
	struct stat st;

	/*
	 * XXX: a log removed between this check and audit_open() is
	 * created again; only an unmounted volume gets here, where nothing
	 * else removes logs.
	 */
	if (!stat(log_path, &st))
		return direct(vol, log_path, w, type, detail);
	if (stat(w->policy_path, &st))
		return 0;	/* never audited: no record is due */
	fprintf(stderr, "phivault: warning: the %s record was not written: "
		"there is no audit log at %s, and only a mount starts one "
		"(set PHIVAULT_AUDIT_LOG or use --volume if the log is "
		"elsewhere)\n", type, log_path);
	*warnedp = 1;
	return -ENOENT;
}

/* Mounted: the record goes to that mount's socket or log, or nowhere. */
static int to_mount(struct vol *vol, const struct mount_guard_where *w,
		    const char *type, const char *detail, int *warnedp)
{
	struct published m;
	int have, r;

	have = !published_read(vol, w->cipherdir, &m);
	r = have ? via_mount(m.socket, type, detail) : 1;
	if (r == 1 && (!have || strcmp(m.socket, w->socket)))
		r = via_mount(w->socket, type, detail);
	/* a mount without a policy has no socket; its log is safe to
	 * extend, every writer holds the segment's lock */
	if (r == 1 && have)
		return to_log(vol, m.audit_path, w, type, detail, warnedp);
	if (r == 1) {
		fprintf(stderr, "phivault: warning: the %s record was NOT "
			"written to the audit log: %s is mounted, but no "
			"mount answered on %s and the mount did not say "
			"where its log is (writing to %s could start a "
			"second log).  The action itself goes ahead: keys "
			"matter more than the record.  Next time reach the "
			"mount with PHIVAULT_SOCKET=SOCKET (its "
			"--control-socket) or --volume NAME\n", type,
			w->cipherdir, w->socket, w->audit_path);
		*warnedp = 1;
		return -EHOSTUNREACH;
	}
	return r;
}

int cliaudit_event(struct vol *vol, const char *cipherdir, const char *type,
		   const char *detail)
{
	struct mount_guard_opts o = { 0 };
	struct mount_guard_where *w = calloc(1, sizeof(*w));
	int r, lockfd = -1, warned = 0;

	r = w ? mount_guard_paths(cipherdir, &o, w) : -ENOMEM;
	if (!r && is_mounted(w->cipherdir, &lockfd))
		r = to_mount(vol, w, type, detail, &warned);
	else if (!r)
		r = to_log(vol, w->audit_path, w, type, detail, &warned);
	if (lockfd >= 0)
		close(lockfd);
	if (r && !warned)
		fprintf(stderr, "phivault: warning: the %s record did not "
			"reach the audit log%s%s: %s%s\n", type,
			w ? " of " : "", w ? w->cipherdir : "",
			phv_strerror(r), r == -ETIMEDOUT || r == -EPROTO ?
			" (the mount may still write it)" : "");
	free(w);
	return r;
}
