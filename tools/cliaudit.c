// SPDX-License-Identifier: MIT
/*
 * cliaudit.c - audit records for offline CLI actions (cliaudit.h).
 *
 * Two ways in: the running mount's control socket, or the log file
 * itself when no mount answers (a mount started without a policy has no
 * socket).  The log takes appends from several processes at once and
 * keeps one chain (policy/audit_log.c, file_lock()).
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "crypto/secmem.h"
#include "fs/vol.h"
#include "policy/audit.h"
#include "policy/ctl.h"
#include "policy/guard.h"
#include "policy/jsonl.h"
#include "cliaudit.h"
#include "mount_guard.h"

/* 0 when the mount took the record, 1 when no mount answered, else < 0 */
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
	if (r < 0)
		return 1;
	return r == CTL_OK ? 0 : r == CTL_DENIED ? -PHV_EDENIED : -EIO;
}

static int direct(struct vol *vol, const struct mount_guard_where *w,
		  const char *type, const char *detail)
{
	struct audit_opts ao = {
		.path = w->audit_path, .volume = w->name,
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

int cliaudit_event(struct vol *vol, const char *cipherdir, const char *type,
		   const char *detail)
{
	struct mount_guard_opts o = { 0 };
	struct mount_guard_where *w = calloc(1, sizeof(*w));
	struct stat st;
	int r;

	r = w ? mount_guard_paths(cipherdir, &o, w) : -ENOMEM;
	if (!r)
		r = via_mount(w->socket, type, detail);
	if (r == 1) {
		r = 0;
		if (!stat(w->audit_path, &st) || !stat(w->policy_path, &st))
			r = direct(vol, w, type, detail);
	}
	if (r)
		fprintf(stderr, "phivault: warning: the %s record did not reach "
			"the audit log %s: %s\n", type,
			w ? w->audit_path : "", phv_strerror(r));
	free(w);
	return r;
}
