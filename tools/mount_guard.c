// SPDX-License-Identifier: MIT
/*
 * mount_guard.c - the access policy of a mount (mount_guard.h).
 *
 * Design: the policy library (policy/guard.h) does the deciding and the
 * auditing; this file only finds its settings, checks in the foreground
 * what would make it refuse to start, and owns its life time in the
 * daemon.  Keys: the policy and audit keys are derived once from the
 * unlocked volume and kept in locked memory until unmount, so that a
 * policy installed later can still be attached.
 *
 * The volume's config pins the policy (vol_policy_pin) and the grants
 * file's generation (vol_grants_gen); this file hands both to the guard
 * as callbacks, so policy/ never depends on fs/.  A policy that fails
 * its pin refuses the mount; a grants file older than its record does
 * not: the guard starts without grants and audits why (guard.h), and the
 * foreground says so on stderr.
 *
 * Invariant: once a guard is attached to the session it stays attached
 * until the session has stopped serving; nothing here detaches it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "fs/fuse_ops.h"
#include "fs/vol.h"
#include "policy/audit.h"
#include "policy/guard.h"
#include "policy/jsonl.h"
#include "policy/policy.h"
#include "policy/sealed.h"
#include "mount_guard.h"
#include "volopt.h"

#define NAME_MAX_LEN	64

struct mount_guard {
	char cipherdir[PATH_MAX];	/* absolute */
	char name[NAME_MAX_LEN];
	char audit_path[PATH_MAX];
	char socket[PATH_MAX];
	char policy_path[PATH_MAX + 32];
	char grants_path[PATH_MAX + 32];
	char state_path[PATH_MAX + 32];
	const char *hook;		/* from argv or the environment */
	unsigned long long rotate_bytes; /* 0: no size rotation */
	unsigned int rotate_secs;	/* 0: no age rotation */
	int use_syslog;
	uint8_t *pkey, *akey;		/* secmem, GUARD_KEY_LEN each */
	struct vol *vol;		/* the caller's; for the pins */
	int has_policy;			/* at prepare time */
	struct vol_fuse *fu;
	struct guard *g;		/* written by start or the watcher */
	pthread_t watch;
	int have_watch;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;			/* lock */
};

static const char *first(const char *a, const char *env)
{
	const char *e = getenv(env);

	if (a && *a)
		return a;
	return e && *e ? e : NULL;
}

static int name_ok(const char *s)
{
	return *s && strlen(s) < NAME_MAX_LEN && !strchr(s, '/') &&
	       strcmp(s, ".") && strcmp(s, "..");
}

/* path made absolute (the daemon runs in "/"); 0 or -ENAMETOOLONG */
static int absolute(char *out, const char *path)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, PATH_MAX, "%s", path);
	else
		n = snprintf(out, PATH_MAX, "%s/%s", cwd, path);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* out = opt, else $env (made absolute either way), else
 * dir/<name><suffix>.  0 or -ENAMETOOLONG. */
static int guard_path(char *out, const char *opt, const char *env,
		      const char *dir, const char *name, const char *suffix)
{
	const char *v = first(opt, env);
	int n;

	if (v)
		return absolute(out, v);
	n = snprintf(out, PATH_MAX, "%s/%s%s", dir, name, suffix);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* One audit setting: *vp from opt, $env or def; the name to blame. */
static const char *setting(const char *opt, const char *optname,
			   const char *env, const char *def, const char **vp)
{
	const char *e = getenv(env);

	if (opt) {
		*vp = opt;
		return optname;
	}
	*vp = e && *e ? e : def;
	return e && *e ? env : "the default";
}

static int audit_settings(const struct mount_guard_opts *o,
			  unsigned long long *bytesp, unsigned int *secsp,
			  int *syslogp)
{
	const char *v, *from;
	uint64_t bytes;
	int64_t secs;

	from = setting(o->rotate_size, "--audit-rotate-size",
		       "PHIVAULT_AUDIT_ROTATE_SIZE", MOUNT_GUARD_ROTATE_SIZE,
		       &v);
	if (conf_parse_size(v, &bytes)) {
		fprintf(stderr, "phivault mount: %s '%s' is not an audit "
			"rotation size: give at least 4K, like 64M or 1G "
			"(K, M, G, T: powers of 1024), or off\n", from, v);
		return -EINVAL;
	}
	from = setting(o->rotate_age, "--audit-rotate-age",
		       "PHIVAULT_AUDIT_ROTATE_AGE", MOUNT_GUARD_ROTATE_AGE, &v);
	if (conf_parse_age(v, &secs) || secs > UINT_MAX) {
		fprintf(stderr, "phivault mount: %s '%s' is not an audit "
			"rotation age: give at least 1m, like 1d, 12h or 1w "
			"(a bare number counts days), or off\n", from, v);
		return -EINVAL;
	}
	from = setting(o->syslog, "--audit-syslog", "PHIVAULT_AUDIT_SYSLOG",
		       "no", &v);
	if (conf_parse_bool(v, syslogp)) {
		fprintf(stderr, "phivault mount: %s '%s' must be yes or no\n",
			from, v);
		return -EINVAL;
	}
	*bytesp = bytes;
	*secsp = (unsigned int)secs;
	return 0;
}

int mount_guard_check_opts(const struct mount_guard_opts *o)
{
	unsigned long long bytes;
	unsigned int secs;
	int on;

	return audit_settings(o, &bytes, &secs, &on);
}

int mount_guard_exposed(const char *cipherdir, uid_t uid, char *why,
			size_t size)
{
	char path[PATH_MAX];
	struct stat st;
	char *slash;

	if (!realpath(cipherdir, path))
		return -errno;
	for (;;) {
		if (stat(path, &st))
			return -errno;
		if (st.st_uid != uid && st.st_uid != 0) {
			snprintf(why, size, "%s belongs to uid %u, who can "
				 "open it to everyone or move it",
				 path, (unsigned int)st.st_uid);
			return 1;
		}
		if (!(st.st_mode & (S_IXGRP | S_IXOTH)))
			return 0;	/* nobody else gets past this one */
		if (!strcmp(path, "/"))
			break;
		slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	snprintf(why, size, "neither it nor any directory above it is "
		 "closed to group and others (mode 0700)");
	return 1;
}

/*
 * A policy is enforced but the backing directory is open to other users:
 * say so loudly, on stderr in the foreground (to_log 0) or in the log.
 * Not a refusal: see docs/OPERATIONS.md, "Where the backing directory
 * lives".
 */
static void warn_exposed(const struct mount_guard *mg, int to_log)
{
	char why[PATH_MAX + 128];
	int r;

	r = mount_guard_exposed(mg->cipherdir, geteuid(), why, sizeof(why));
	if (r <= 0)
		return;
	if (to_log) {
		log_warn("%s: other users can reach the backing directory "
			 "past the access policy (%s): they can delete or "
			 "replace files unaudited; put it inside a directory "
			 "only root can enter (docs/OPERATIONS.md)",
			 mg->cipherdir, why);
		return;
	}
	/* the cipherdir is not repeated: the caller just typed it */
	fprintf(stderr, "phivault mount: warning: other users can reach this "
		"volume's backing directory without going through the "
		"access policy: %s.  They can delete or replace ciphertext, "
		"the policy and the grants file without any audit record, "
		"and read the policy's paths and the grants' tickets and "
		"reasons.  Put CIPHERDIR inside a directory only root can "
		"enter, e.g. `mkdir -m 700 /srv/phivault && mv CIPHERDIR "
		"/srv/phivault/`, and point cipherdir there "
		"(docs/OPERATIONS.md)\n", why);
}

static int resolve(struct mount_guard *mg, const char *cipherdir,
		   const struct mount_guard_opts *o)
{
	const char *name;

	if (!realpath(cipherdir, mg->cipherdir))
		return -errno;
	name = first(o->volume_name, "PHIVAULT_VOLUME_NAME");
	if (!name)
		name = volopt_name();
	if (!name)
		name = strrchr(mg->cipherdir, '/') + 1;
	if (!name_ok(name)) {
		fprintf(stderr, "phivault mount: '%s' cannot name a volume "
			"(give --volume-name NAME)\n", name);
		return -EINVAL;
	}
	snprintf(mg->name, sizeof(mg->name), "%s", name);
	if (guard_path(mg->audit_path, o->audit_log, "PHIVAULT_AUDIT_LOG",
		       MOUNT_GUARD_LOG_DIR, mg->name, ".audit.jsonl") ||
	    guard_path(mg->socket, o->socket, "PHIVAULT_SOCKET",
		       MOUNT_GUARD_RUN_DIR, mg->name, ".sock"))
		return -ENAMETOOLONG;
	mg->hook = first(o->alert_hook, "PHIVAULT_ALERT_HOOK");
	snprintf(mg->policy_path, sizeof(mg->policy_path), "%s/" GUARD_POLICY_FILE,
		 mg->cipherdir);
	snprintf(mg->grants_path, sizeof(mg->grants_path), "%s/" GUARD_GRANTS_FILE,
		 mg->cipherdir);
	snprintf(mg->state_path, sizeof(mg->state_path), "%s/" GUARD_STATE_FILE,
		 mg->cipherdir);
	return 0;
}

int mount_guard_paths(const char *cipherdir,
		      const struct mount_guard_opts *o,
		      struct mount_guard_where *w)
{
	struct mount_guard *mg = calloc(1, sizeof(*mg));
	int r;

	if (!mg)
		return -ENOMEM;
	r = resolve(mg, cipherdir, o);
	if (!r) {
		memcpy(w->cipherdir, mg->cipherdir, PATH_MAX);
		memcpy(w->name, mg->name, sizeof(w->name));
		memcpy(w->audit_path, mg->audit_path, PATH_MAX);
		memcpy(w->socket, mg->socket, PATH_MAX);
		snprintf(w->state_path, sizeof(w->state_path), "%s",
			 mg->state_path);
		snprintf(w->policy_path, sizeof(w->policy_path), "%s",
			 mg->policy_path);
	}
	free(mg);
	return r;
}

static void diag_print(void *ctx, int line, enum policy_sev sev,
		       const char *msg)
{
	const struct mount_guard *mg = ctx;

	if (sev == POLICY_ERROR)
		fprintf(stderr, "phivault mount: %s line %d: %s\n",
			mg->policy_path, line, msg);
}

/* guard_pin_fn: what the volume's config says about its policy */
static int pin_of_vol(void *ctx, uint8_t want[static GUARD_PIN_LEN])
{
	struct mount_guard *mg = ctx;
	int state = vol_policy_pin(mg->vol, want);

	switch (state) {
	case VOL_POLICY_REQUIRED:
		return GUARD_PIN_REQUIRED;
	case VOL_POLICY_NONE:
		return GUARD_PIN_NONE;
	default:
		return GUARD_PIN_UNKNOWN;
	}
}

/* A config from before pins and an authentic policy: pin that policy, so
 * that deleting or replacing it is noticed from now on. */
static void pin_legacy(struct mount_guard *mg, const char *body, size_t len)
{
	uint8_t want[GUARD_PIN_LEN];
	int r;

	if (vol_policy_pin(mg->vol, want) != VOL_POLICY_UNKNOWN)
		return;
	r = guard_pin_of(body, len, want);
	if (!r)
		r = vol_policy_pin_set(mg->vol, want);
	if (r)
		log_warn("%s: cannot record the installed policy in %s: %s",
			 mg->cipherdir, VOL_CONF_NAME, phv_strerror(r));
	else
		log_notice("%s: the installed policy is now required by the "
			   "volume (phivault policy remove to undo)",
			   mg->cipherdir);
}

/* guard_gen_get_fn and guard_gen_set_fn: the grants generation */
static int grants_gen_of_vol(void *ctx, uint64_t *genp)
{
	struct mount_guard *mg = ctx;

	*genp = vol_grants_gen(mg->vol);
	return 0;
}

static int grants_gen_to_vol(void *ctx, uint64_t gen)
{
	struct mount_guard *mg = ctx;

	return vol_grants_gen_set(mg->vol, gen);
}

/*
 * The grants file (r and body from sealed_read()) against the volume's
 * record: an older or missing file does not refuse the mount (the guard
 * starts without grants and audits it), but the person mounting is told
 * here.  Returns 0, or why the file cannot be used at all.
 */
static int check_grants(struct mount_guard *mg, int r, const char *body,
			size_t len)
{
	uint64_t want = vol_grants_gen(mg->vol), found = 0;
	size_t off;

	if (r == -ENOENT) {
		if (want)
			fprintf(stderr, "phivault mount: warning: %s is "
				"missing, but the volume recorded grants "
				"generation %llu: mounting without grants (see "
				"the audit log); give the grants that should "
				"be live again with `phivault grant`\n",
				mg->grants_path, (unsigned long long)want);
		return 0;
	}
	if (!r)
		r = guard_grants_generation(body, len, &found, &off);
	if (r)
		return r;
	if (found < want)
		fprintf(stderr, "phivault mount: warning: %s is generation "
			"%llu, older than the %llu the volume recorded: an "
			"older copy was put back (or a save was cut short); "
			"mounting without grants (see the audit log); give "
			"the grants that should be live again with `phivault "
			"grant`\n", mg->grants_path, (unsigned long long)found,
			(unsigned long long)want);
	return 0;
}

/* 0, -ENOENT (none installed, none required) or why the installed
 * policy is refused. */
static int check_policy(struct mount_guard *mg)
{
	uint8_t want[GUARD_PIN_LEN];
	struct policy *pol = NULL;
	char *body = NULL;
	size_t len = 0;
	int r;

	r = sealed_read(mg->policy_path, "policy", mg->pkey, &body, &len);
	r = guard_pin_check(pin_of_vol(mg, want), want, r, body, len);
	if (!r)
		r = policy_parse(body, len, diag_print, mg, &pol);
	if (!r)
		pin_legacy(mg, body, len);
	policy_free(pol);
	free(body);
	if (r)
		return r;
	body = NULL;
	len = 0;
	r = sealed_read(mg->grants_path, "grants", mg->pkey, &body, &len);
	r = check_grants(mg, r, body, len);
	free(body);
	return r;
}

/* Why a policy that fails its pin is refused, and what to do. */
static void pin_refusal(const struct mount_guard *mg)
{
	uint8_t want[GUARD_PIN_LEN];
	struct stat st;
	int state = pin_of_vol((void *)mg, want);

	if (state == GUARD_PIN_NONE) {
		fprintf(stderr, "phivault mount: refusing to mount %s: %s "
			"is present, but the policy was removed with "
			"`phivault policy remove`; install it with `phivault "
			"policy set` or delete the file\n", mg->cipherdir,
			mg->policy_path);
		return;
	}
	fprintf(stderr, "phivault mount: refusing to mount %s: the volume "
		"requires the access policy last installed with `phivault "
		"policy set`, and %s %s; restore that file, install a "
		"policy again with `phivault policy set`, or lift the "
		"requirement with `phivault policy remove %s`\n",
		mg->cipherdir, mg->policy_path,
		stat(mg->policy_path, &st) ? "is missing" :
		"holds another (older) policy", mg->cipherdir);
}

/* The default log directory is ours to create; others are not. */
static int audit_dir(const struct mount_guard *mg)
{
	if (strncmp(mg->audit_path, MOUNT_GUARD_LOG_DIR "/",
		    sizeof(MOUNT_GUARD_LOG_DIR)))
		return 0;
	if (mkdir(MOUNT_GUARD_LOG_DIR, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Open the audit log, optionally append a refusal, close it. */
static int audit_probe(struct mount_guard *mg, int refused)
{
	struct audit_opts ao = {
		.path = mg->audit_path, .volume = mg->name,
		.state_path = mg->state_path,
		.rotate_bytes = mg->rotate_bytes,
		.rotate_secs = mg->rotate_secs,
		.use_syslog = mg->use_syslog,
	};
	struct audit_log *l = NULL;
	struct jbuf j;
	int r;

	r = audit_dir(mg);
	if (!r)
		r = audit_open(&ao, mg->akey, &l);
	if (r) {
		fprintf(stderr, "phivault mount: cannot open the audit log "
			"%s: %s (choose one with --audit-log)\n",
			mg->audit_path, phv_strerror(r));
		return r;
	}
	if (refused) {
		jbuf_init(&j);
		jbuf_str(&j, "type", "policy-load");
		jbuf_int(&j, "uid", getuid());
		jbuf_str(&j, "detail", mg->cipherdir);
		jbuf_str(&j, "result", "error");
		jbuf_str(&j, "error", phv_strerror(refused));
		jbuf_str(&j, "action", "mount refused");
		r = audit_emit(l, refused == -PHV_EAUTH ||
			       refused == -PHV_EPOLICY ? AUDIT_ALERT :
			       AUDIT_NOTICE, &j);
	}
	audit_close(l);
	return r;
}

int mount_guard_prepare(struct vol *vol, const char *cipherdir,
			const struct mount_guard_opts *o,
			struct mount_guard **mgp)
{
	struct mount_guard *mg = calloc(1, sizeof(*mg));
	int r = -ENOMEM;

	*mgp = NULL;
	if (!mg)
		return -ENOMEM;
	pthread_mutex_init(&mg->lock, NULL);
	pthread_cond_init(&mg->cond, NULL);
	mg->pkey = secmem_alloc(GUARD_KEY_LEN);
	mg->akey = secmem_alloc(GUARD_KEY_LEN);
	if (!mg->pkey || !mg->akey)
		goto fail;
	mg->vol = vol;
	r = audit_settings(o, &mg->rotate_bytes, &mg->rotate_secs,
			   &mg->use_syslog);
	if (!r)
		r = resolve(mg, cipherdir, o);
	if (r) {
		if (r != -EINVAL)
			fprintf(stderr, "phivault mount: %s: %s\n", cipherdir,
				phv_strerror(r));
		goto fail;
	}
	r = vol_derive_key(vol, "policy", mg->pkey, GUARD_KEY_LEN);
	if (!r)
		r = vol_derive_key(vol, "audit", mg->akey, GUARD_KEY_LEN);
	if (r) {
		fprintf(stderr, "phivault mount: cannot derive the policy "
			"keys: %s\n", phv_strerror(r));
		goto fail;
	}
	r = check_policy(mg);
	if (r == -ENOENT) {
		if (o->require) {
			fprintf(stderr, "phivault mount: no access policy is "
				"installed in %s and --policy requires one "
				"(phivault policy set)\n", mg->cipherdir);
			goto fail;
		}
		log_info("no access policy installed in %s: access follows "
			 "mode bits only", mg->cipherdir);
		*mgp = mg;
		return 0;
	}
	if (r == -PHV_EPOLICY) {
		pin_refusal(mg);
		audit_probe(mg, r);
		goto fail;
	}
	if (r) {
		fprintf(stderr, "phivault mount: refusing to mount %s: its "
			"access policy or grants %s: %s\n", mg->cipherdir,
			r == -PHV_EAUTH ? "were altered outside phivault "
			"(authentication failed)" : "cannot be used",
			phv_strerror(r));
		audit_probe(mg, r);
		goto fail;
	}
	mg->has_policy = 1;
	warn_exposed(mg, 0);
	r = audit_probe(mg, 0);
	if (r)
		goto fail;
	*mgp = mg;
	return 0;
fail:
	mount_guard_stop(mg);
	return r;
}

static int attach(struct mount_guard *mg)
{
	struct guard_config cfg = {
		.volume = mg->name,
		.cipherdir = mg->cipherdir,
		.policy_key = mg->pkey,
		.audit_key = mg->akey,
		.audit = {
			.path = mg->audit_path, .volume = mg->name,
			.rotate_bytes = mg->rotate_bytes,
			.rotate_secs = mg->rotate_secs,
			.use_syslog = mg->use_syslog,
		},
		.socket_path = mg->socket,
		.alert_hook = mg->hook,
		.pin = pin_of_vol,
		.pin_ctx = mg,
		.grants_gen = grants_gen_of_vol,
		.grants_gen_set = grants_gen_to_vol,
		.grants_gen_ctx = mg,
	};
	struct guard *g = NULL;
	int r;

	r = audit_dir(mg);
	if (!r)
		r = guard_start(&cfg, &g);
	if (r)
		return r;
	mg->g = g;
	vol_fuse_set_guard(mg->fu, g);
	if (!mg->has_policy)
		warn_exposed(mg, 1);	/* installed into a running mount */
	log_notice("%s: access policy enforced; audit log %s, control "
		   "socket %s", mg->cipherdir, mg->audit_path, mg->socket);
	return 0;
}

/* No policy at mount: attach one as soon as `policy set` installs it. */
static void *watcher(void *arg)
{
	struct mount_guard *mg = arg;
	struct stat st, seen = { 0 };
	struct timespec ts;
	int r;

	pthread_mutex_lock(&mg->lock);
	while (!mg->stopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&mg->cond, &mg->lock, &ts);
		if (mg->stopping || stat(mg->policy_path, &st))
			continue;
		if (st.st_ino == seen.st_ino &&
		    st.st_mtim.tv_sec == seen.st_mtim.tv_sec &&
		    st.st_mtim.tv_nsec == seen.st_mtim.tv_nsec &&
		    st.st_size == seen.st_size)
			continue;	/* refused before and unchanged */
		seen = st;
		r = attach(mg);
		if (!r)
			break;
		log_err("%s: cannot enforce the newly installed access "
			"policy: %s", mg->cipherdir, phv_strerror(r));
	}
	pthread_mutex_unlock(&mg->lock);
	return NULL;
}

int mount_guard_start(struct mount_guard *mg, struct vol_fuse *fu)
{
	int r;

	mg->fu = fu;
	if (mg->has_policy) {
		r = attach(mg);
		if (r)
			log_err("%s: cannot start the access policy: %s",
				mg->cipherdir, phv_strerror(r));
		return r;
	}
	r = -pthread_create(&mg->watch, NULL, watcher, mg);
	mg->have_watch = !r;
	if (r)
		log_err("cannot start the policy watcher: %s",
			phv_strerror(r));
	return r;
}

void mount_guard_stop(struct mount_guard *mg)
{
	if (!mg)
		return;
	if (mg->have_watch) {
		pthread_mutex_lock(&mg->lock);
		mg->stopping = 1;
		pthread_cond_signal(&mg->cond);
		pthread_mutex_unlock(&mg->lock);
		pthread_join(mg->watch, NULL);
	}
	guard_stop(mg->g);
	secmem_free(mg->pkey, GUARD_KEY_LEN);
	secmem_free(mg->akey, GUARD_KEY_LEN);
	pthread_cond_destroy(&mg->cond);
	pthread_mutex_destroy(&mg->lock);
	free(mg);
}
