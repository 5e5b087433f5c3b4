// SPDX-License-Identifier: MIT
/*
 * guard.c - the mount-side runtime of the policy: snapshots, decisions
 * with their audit records, grants, break-glass, reload, periodic work
 * and the control socket handler (guard.h).
 *
 * Snapshot protocol (RCU-like, no reader ever waits):
 *   reader: g = gen; active[g & 1]++; if gen != g undo and retry;
 *           use snap; active[g & 1]--.
 *   writer (under wlock): old = exchange(snap, new); gen++;
 *           wait until active[old_gen & 1] == 0; free old.
 * A reader counted in the old parity may hold the old snapshot; one that
 * registered after the bump sees the new pointer, since the exchange
 * comes first.  Because writers are serialised and each waits for its own
 * parity to drain, a parity is empty of older readers when it is reused.
 *
 * Grants on disk: the sealed body is "generation N" and one tab-separated
 * line per grant.  A save records N in the volume first (guard_gen_fn,
 * which takes the volume's config lock) and writes the file second, under
 * wlock; a start loads no grant from a file older than the record.
 *
 * Lock order: wlock, then the audit log's lock; never the other way.
 * wlock, then the volume's config lock (through grants_gen_set).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <openssl/evp.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "alert.h"
#include "ctl.h"
#include "guard.h"
#include "sealed.h"

#define GRANT_TEXT	256
#define GRANT_PATH	1024
#define MAX_GRANTS	1024

struct grant {
	char id[16];
	uint32_t uid;
	char user[POLICY_NAME_MAX];
	char role[POLICY_NAME_MAX];
	char path[GRANT_PATH];
	long long created;
	long long expires;
	uint32_t by;
	int break_glass;
	char ticket[GRANT_TEXT];
	char reason[GRANT_TEXT];
};

#define GCACHE_SLOTS	256	/* callers' groups, by pid */
#define GCACHE_MAX	64
#define GCACHE_SECS	1
#define NCACHE_SLOTS	64	/* user names, by uid */
#define NCACHE_SECS	60

struct group_slot {
	pid_t pid;
	uint32_t uid, gid;
	struct timespec at;		/* CLOCK_MONOTONIC_COARSE */
	int n;
	gid_t groups[GCACHE_MAX];
};

struct name_slot {
	uint32_t uid;
	time_t at;			/* 0: empty */
	char name[POLICY_NAME_MAX];
};

struct polref {
	struct policy *pol;
	int refs;			/* guarded by guard.wlock */
	char sha[B64_ENCLEN(32) + 1];	/* of the sealed body */
};

struct snap {
	struct polref *pr;
	struct grant *grants;
	struct policy_grant_ref *refs;
	int ngrants;
};

struct guard {
	_Atomic(struct snap *) snap;
	atomic_uint gen;
	atomic_int active[2];
	pthread_mutex_t wlock;		/* serialises writers */
	char *cipherdir;
	char *volume;
	char *policy_path;
	char *grants_path;
	char *state_path;
	uint8_t *pkey;			/* secmem, GUARD_KEY_LEN */
	time_t (*clock)(void);
	struct audit_log *log;
	struct alerts *alerts;
	struct ctl_server *ctl;
	pthread_t tick;
	int have_tick;
	pthread_mutex_t tlock;
	pthread_cond_t tcond;
	int stopping;			/* guarded by tlock */
	struct stat pst;		/* policy file seen; guarded by wlock */
	guard_pin_fn *pin;		/* NULL: no pin check */
	void *pin_ctx;
	guard_gen_get_fn *gen_get;	/* NULL: no grants generation check */
	guard_gen_set_fn *gen_set;
	void *gen_ctx;
	uint64_t grants_gen;		/* of the file loaded or saved; wlock */
	pthread_mutex_t clock_;		/* the two caches below */
	struct group_slot gcache[GCACHE_SLOTS];	/* clock_ */
	struct name_slot ncache[NCACHE_SLOTS];	/* clock_ */
};

struct guard_file {
	uint32_t uid, gid;
	pid_t pid;
	int flags;
	atomic_ullong rd, wr;
	char grant_id[16];
	char ticket[GRANT_TEXT];
	char reason[GRANT_TEXT];
	int rule_line;
	int break_glass;	/* opened under a break-glass session */
	char path[];
};

static const char *const op_names[GUARD_NOPS] = {
	[GUARD_LOOKUP] = "lookup", [GUARD_READDIR] = "readdir",
	[GUARD_READLINK] = "readlink", [GUARD_MKDIR] = "mkdir",
	[GUARD_MKNOD] = "mknod", [GUARD_SYMLINK] = "symlink",
	[GUARD_LINK] = "link", [GUARD_UNLINK] = "unlink",
	[GUARD_RMDIR] = "rmdir", [GUARD_RENAME] = "rename",
	[GUARD_SETATTR] = "setattr", [GUARD_GETXATTR] = "getxattr",
	[GUARD_SETXATTR] = "setxattr", [GUARD_OPEN] = "open",
	[GUARD_CREATE] = "create",
};

static time_t now_of(struct guard *g)
{
	return g->clock ? g->clock() : time(NULL);
}

/* --- snapshots ------------------------------------------------------ */

static struct snap *snap_get(struct guard *g, int *slotp)
{
	unsigned int gen;

	for (;;) {
		gen = atomic_load(&g->gen);
		atomic_fetch_add(&g->active[gen & 1], 1);
		if (atomic_load(&g->gen) == gen)
			break;
		atomic_fetch_sub(&g->active[gen & 1], 1);
	}
	*slotp = gen & 1;
	return atomic_load(&g->snap);
}

static void snap_put(struct guard *g, int slot)
{
	atomic_fetch_sub(&g->active[slot], 1);
}

static void snap_free(struct snap *s)
{
	if (!s)
		return;
	if (s->pr && --s->pr->refs == 0) {
		policy_free(s->pr->pol);
		free(s->pr);
	}
	free(s->grants);
	free(s->refs);
	free(s);
}

/* build and publish a snapshot; takes the grants array; holds wlock */
static int publish_locked(struct guard *g, struct polref *pr,
			  struct grant *grants, int n)
{
	struct snap *s, *old;
	unsigned int gen;
	int i;

	s = calloc(1, sizeof(*s));
	if (!s || (n && !(s->refs = calloc(n, sizeof(*s->refs))))) {
		free(s);
		free(grants);
		return -ENOMEM;
	}
	s->pr = pr;
	pr->refs++;
	s->grants = grants;
	s->ngrants = n;
	for (i = 0; i < n; i++) {
		s->refs[i].uid = grants[i].uid;
		s->refs[i].role = policy_role_find(pr->pol, grants[i].role);
		s->refs[i].expires = grants[i].expires;
		s->refs[i].path = grants[i].path;
		s->refs[i].pathlen = strlen(grants[i].path);
		s->refs[i].cookie = &grants[i];
		s->refs[i].break_glass = grants[i].break_glass;
	}
	old = atomic_exchange(&g->snap, s);
	gen = atomic_fetch_add(&g->gen, 1);
	while (atomic_load(&g->active[gen & 1]))
		sched_yield();
	snap_free(old);
	return 0;
}

/* --- records -------------------------------------------------------- */

static void user_name_nss(uint32_t uid, char *buf, size_t size)
{
	char pwbuf[4096];
	struct passwd pw, *pwp = NULL;

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp)
		snprintf(buf, size, "%s", pwp->pw_name);
	else
		snprintf(buf, size, "%u", uid);
}

/* The name of uid for a record: one NSS lookup a minute per uid. */
static void user_name_of(struct guard *g, uint32_t uid, char *buf,
			 size_t size)
{
	struct name_slot *ns = &g->ncache[uid % NCACHE_SLOTS];
	time_t now = time(NULL);

	pthread_mutex_lock(&g->clock_);
	if (ns->at && ns->uid == uid && now - ns->at < NCACHE_SECS) {
		snprintf(buf, size, "%s", ns->name);
		pthread_mutex_unlock(&g->clock_);
		return;
	}
	pthread_mutex_unlock(&g->clock_);
	user_name_nss(uid, buf, size);
	pthread_mutex_lock(&g->clock_);
	ns->uid = uid;
	ns->at = now;
	snprintf(ns->name, sizeof(ns->name), "%s", buf);
	pthread_mutex_unlock(&g->clock_);
}

/* does the live policy look at supplementary groups at all? */
static int needs_groups(struct guard *g)
{
	const struct policy *pol;
	struct snap *s;
	int slot, r;

	s = snap_get(g, &slot);
	pol = s->pr->pol;
	r = pol->ngroups > 0 || pol->nbg_groups > 0;
	snap_put(g, slot);
	return r;
}

static long ms_since(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000L +
	       (b->tv_nsec - a->tv_nsec) / 1000000L;
}

int guard_groups(struct guard *g, fuse_req_t req, gid_t *list, int max)
{
	const struct fuse_ctx *x = fuse_req_ctx(req);
	struct group_slot *gs;
	struct timespec now;
	int n;

	if (!g || !needs_groups(g))
		return 0;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	gs = &g->gcache[(unsigned int)x->pid % GCACHE_SLOTS];
	pthread_mutex_lock(&g->clock_);
	if (gs->pid == x->pid && gs->uid == x->uid && gs->gid == x->gid &&
	    ms_since(&gs->at, &now) < GCACHE_SECS * 1000L) {
		n = gs->n < max ? gs->n : max;
		memcpy(list, gs->groups, n * sizeof(*list));
		pthread_mutex_unlock(&g->clock_);
		return n;
	}
	pthread_mutex_unlock(&g->clock_);
	n = fuse_req_getgroups(req, max, list);
	if (n < 0)
		return n;
	if (n > max)
		n = max;
	if (n <= GCACHE_MAX) {
		pthread_mutex_lock(&g->clock_);
		gs->pid = x->pid;
		gs->uid = x->uid;
		gs->gid = x->gid;
		gs->at = now;
		gs->n = n;
		memcpy(gs->groups, list, n * sizeof(*list));
		pthread_mutex_unlock(&g->clock_);
	}
	return n;
}

static void proc_comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	buf[0] = '\0';
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n <= 0)
		n = 0;
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

static void who(struct guard *g, struct jbuf *j, uint32_t uid, uint32_t gid, pid_t pid)
{
	char name[POLICY_NAME_MAX * 2], comm[32];

	user_name_of(g, uid, name, sizeof(name));
	proc_comm(pid, comm, sizeof(comm));
	jbuf_int(j, "uid", uid);
	jbuf_str(j, "user", name);
	if (gid != (uint32_t)-1)	/* -1: not known (a policy reload) */
		jbuf_int(j, "gid", gid);
	jbuf_int(j, "pid", pid);
	jbuf_str(j, "comm", comm);
}

static void who_caller(struct guard *g, struct jbuf *j, const struct policy_caller *c)
{
	who(g, j, c->uid, c->gid, c->pid);
}

static void why(struct jbuf *j, const struct policy *pol,
		const struct policy_decision *d)
{
	const struct grant *gr;

	if (d->rule >= 0) {
		jbuf_int(j, "rule_line", pol->rules[d->rule].line);
		jbuf_str(j, "role", pol->roles[pol->rules[d->rule].role].name);
	}
	if (!d->grant)
		return;
	gr = d->grant->cookie;
	jbuf_str(j, "grant", gr->id);
	jbuf_str(j, "ticket", gr->ticket);
	jbuf_str(j, "reason", gr->reason);
	if (gr->break_glass)
		jbuf_bool(j, "break_glass", 1);
}

static void result_field(struct jbuf *j, int result)
{
	jbuf_str(j, "result", result ? "error" : "ok");
	if (result)
		jbuf_str(j, "error", phv_strerror(result));
}

/*
 * No access to PHI goes unrecorded: while the audit log cannot be
 * written (disk full, file made immutable, its directory gone), every
 * policed request fails with EIO; the log is retried once a second and
 * work resumes by itself when a record goes through.
 */
static int audit_ok(struct guard *g)
{
	int r = audit_usable(g->log);

	if (!r)
		return 0;
	log_ratelimited(LOG_ERR, "audit log cannot be written (%s): "
			"refusing every audited operation until it can",
			phv_strerror(r));
	return -EIO;
}

static void emit(struct guard *g, enum audit_level lvl, struct jbuf *j)
{
	int r = audit_emit(g->log, lvl, j);

	if (r)
		log_ratelimited(LOG_ERR, "audit: %s", phv_strerror(r));
}

static void deny_record(struct guard *g, const struct snap *s,
			const struct policy_caller *c, enum guard_op op,
			const char *path, const struct policy_decision *d)
{
	char ops[80], text[PGLOB_MAX_LEN + 600], name[POLICY_NAME_MAX * 2];
	struct jbuf j;
	time_t now = now_of(g);

	jbuf_init(&j);
	jbuf_str(&j, "type", "deny");
	who_caller(g, &j, c);
	jbuf_str(&j, "op", op_names[op]);
	jbuf_str(&j, "path", path);
	jbuf_str(&j, "need", policy_ops_str(d->need, ops, sizeof(ops)));
	why(&j, s->pr->pol, d);
	jbuf_str(&j, "why", policy_explain(s->pr->pol, d, text,
					   sizeof(text)));
	emit(g, AUDIT_INFO, &j);
	user_name_of(g, c->uid, name, sizeof(name));
	alerts_note(g->alerts, c->uid, name, ALERT_DENIAL, 1, now);
	if (d->why == POLICY_WHY_WINDOW &&
	    s->pr->pol->alerts.outside_window) {
		jbuf_init(&j);
		jbuf_str(&j, "path", path);
		jbuf_int(&j, "rule_line", s->pr->pol->rules[d->rule].line);
		alerts_raise(g->alerts, c->uid, name, "outside-window", &j,
			     now);
	}
}

/* --- decisions ------------------------------------------------------ */

unsigned int guard_need(enum guard_op op, int arg, unsigned int *need2)
{
	unsigned int need = 0;

	*need2 = 0;
	switch (op) {
	case GUARD_LOOKUP:
		return POLICY_TRAVERSE;
	case GUARD_READDIR:
		return POLICY_LIST;
	case GUARD_READLINK:
	case GUARD_GETXATTR:
		return POLICY_READ;
	case GUARD_MKDIR:
	case GUARD_MKNOD:
	case GUARD_SYMLINK:
	case GUARD_CREATE:
		return POLICY_CREATE;
	case GUARD_LINK:
		/* whoever may write the new name may write the file through
		 * it: only someone who may write the file can give it one */
		*need2 = POLICY_CREATE;
		return POLICY_READ | POLICY_WRITE;
	case GUARD_UNLINK:
	case GUARD_RMDIR:
		return POLICY_DELETE;
	case GUARD_RENAME:
		*need2 = POLICY_CREATE | (arg ? POLICY_DELETE : 0);
		return POLICY_DELETE;
	case GUARD_SETATTR:
		/* the kernel adds ctime (writeback cache) to every change:
		 * bookkeeping, not a request of its own */
		arg &= ~FUSE_SET_ATTR_CTIME;
		if (arg & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			   FUSE_SET_ATTR_GID))
			need |= POLICY_ADMIN;
		if (arg & ~(FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			    FUSE_SET_ATTR_GID))
			need |= POLICY_WRITE;
		return need ? need : POLICY_WRITE;
	case GUARD_SETXATTR:
		return POLICY_WRITE;
	case GUARD_OPEN:
		if ((arg & O_ACCMODE) != O_WRONLY)
			need |= POLICY_READ;
		if ((arg & O_ACCMODE) != O_RDONLY || (arg & O_TRUNC))
			need |= POLICY_WRITE;
		return need;
	default:
		return POLICY_ADMIN | POLICY_WRITE | POLICY_READ;
	}
}

/* decide op on both paths; d gets the failing (or last) decision */
static int decide2(struct guard *g, const struct snap *s,
		   const struct policy_caller *c, enum guard_op op,
		   const char *path, const char *path2, int arg,
		   struct policy_decision *d, const char **deniedp)
{
	unsigned int need, need2;
	time_t now = now_of(g);
	int r;

	need = guard_need(op, arg, &need2);
	*deniedp = path;
	r = policy_decide(s->pr->pol, s->refs, s->ngrants, c, path, need,
			  now, d);
	if (r || !path2 || !need2)
		return r;
	*deniedp = path2;
	return policy_decide(s->pr->pol, s->refs, s->ngrants, c, path2,
			     need2, now, d);
}

int guard_check(struct guard *g, const struct policy_caller *caller,
		enum guard_op op, const char *path, const char *path2,
		int arg)
{
	struct policy_decision d;
	const char *denied;
	struct snap *s;
	int slot, r;

	if ((unsigned int)op >= GUARD_NOPS)
		return -PHV_EDENIED;
	r = audit_ok(g);
	if (r)
		return r;
	s = snap_get(g, &slot);
	r = decide2(g, s, caller, op, path, path2, arg, &d, &denied);
	if (r)
		deny_record(g, s, caller, op, denied, &d);
	snap_put(g, slot);
	return r;
}

void guard_done(struct guard *g, const struct policy_caller *caller,
		enum guard_op op, const char *path, const char *path2,
		int arg, int result)
{
	struct policy_decision d;
	const char *denied;
	struct jbuf j;
	struct snap *s;
	int slot;

	if ((unsigned int)op >= GUARD_NOPS)
		return;
	jbuf_init(&j);
	jbuf_str(&j, "type", op_names[op]);
	who_caller(g, &j, caller);
	jbuf_str(&j, "path", path);
	if (path2)
		jbuf_str(&j, op == GUARD_LINK || op == GUARD_RENAME ?
			 "path2" : "target", path2);
	if (op == GUARD_SETATTR)
		jbuf_int(&j, "attrs", arg);
	s = snap_get(g, &slot);
	if (!decide2(g, s, caller, op, path, path2, arg, &d, &denied))
		why(&j, s->pr->pol, &d);
	snap_put(g, slot);
	result_field(&j, result);
	emit(g, AUDIT_INFO, &j);
}

int guard_file_open(struct guard *g, const struct policy_caller *caller,
		    const char *path, int flags, struct guard_file **gfp)
{
	enum guard_op op = (flags & O_CREAT) ? GUARD_CREATE : GUARD_OPEN;
	const struct grant *gr;
	struct policy_decision d;
	struct guard_file *gf;
	const char *denied;
	struct snap *s;
	int slot, r;

	*gfp = NULL;
	r = audit_ok(g);
	if (r)
		return r;
	s = snap_get(g, &slot);
	r = decide2(g, s, caller, op, path, NULL, flags, &d, &denied);
	if (r) {
		deny_record(g, s, caller, op, path, &d);
		goto out;
	}
	r = -ENOMEM;
	gf = calloc(1, sizeof(*gf) + strlen(path) + 1);
	if (!gf)
		goto out;
	gf->uid = caller->uid;
	gf->gid = caller->gid;
	gf->pid = caller->pid;
	gf->flags = flags;
	gf->rule_line = d.rule >= 0 ? s->pr->pol->rules[d.rule].line : 0;
	strcpy(gf->path, path);
	if (d.grant) {
		gr = d.grant->cookie;
		memcpy(gf->grant_id, gr->id, sizeof(gf->grant_id));
		memcpy(gf->ticket, gr->ticket, sizeof(gf->ticket));
		memcpy(gf->reason, gr->reason, sizeof(gf->reason));
		gf->break_glass = gr->break_glass;
	}
	*gfp = gf;
	r = 0;
out:
	snap_put(g, slot);
	return r;
}

static void file_fields(struct guard *g, struct jbuf *j,
			const struct guard_file *gf)
{
	static const char *const modes[] = { "r", "w", "rw", "?" };

	who(g, j, gf->uid, gf->gid, gf->pid);
	jbuf_str(j, "path", gf->path);
	jbuf_str(j, "mode", modes[gf->flags & O_ACCMODE]);
	if (gf->rule_line)
		jbuf_int(j, "rule_line", gf->rule_line);
	if (gf->grant_id[0]) {
		jbuf_str(j, "grant", gf->grant_id);
		jbuf_str(j, "ticket", gf->ticket);
		jbuf_str(j, "reason", gf->reason);
		if (gf->break_glass)
			jbuf_bool(j, "break_glass", 1);
	}
}

void guard_file_opened(struct guard *g, struct guard_file *gf, int result)
{
	char name[POLICY_NAME_MAX * 2];
	struct jbuf j;

	jbuf_init(&j);
	jbuf_str(&j, "type", (gf->flags & O_CREAT) ? "create" : "open");
	file_fields(g, &j, gf);
	jbuf_int(&j, "flags", gf->flags);
	if (gf->flags & O_TRUNC)
		jbuf_bool(&j, "truncate", 1);
	result_field(&j, result);
	emit(g, AUDIT_INFO, &j);
	if (result) {
		free(gf);
		return;
	}
	user_name_of(g, gf->uid, name, sizeof(name));
	alerts_note(g->alerts, gf->uid, name, ALERT_OPEN, 1, now_of(g));
}

void guard_file_io(struct guard_file *gf, size_t read, size_t written)
{
	if (read)
		atomic_fetch_add(&gf->rd, read);
	if (written)
		atomic_fetch_add(&gf->wr, written);
}

void guard_file_release(struct guard *g, struct guard_file *gf,
			unsigned long long read, unsigned long long written)
{
	char name[POLICY_NAME_MAX * 2];
	struct jbuf j;

	if (!gf)
		return;
	read += atomic_load(&gf->rd);
	written += atomic_load(&gf->wr);
	jbuf_init(&j);
	jbuf_str(&j, "type", "close");
	file_fields(g, &j, gf);
	jbuf_int(&j, "bytes_read", (long long)read);
	jbuf_int(&j, "bytes_written", (long long)written);
	emit(g, AUDIT_INFO, &j);
	user_name_of(g, gf->uid, name, sizeof(name));
	alerts_note(g->alerts, gf->uid, name, ALERT_BYTES, read, now_of(g));
	free(gf);
}

void guard_event(struct guard *g, const struct policy_caller *caller,
		 const char *type, const char *detail)
{
	struct jbuf j;

	jbuf_init(&j);
	jbuf_str(&j, "type", type);
	if (caller)
		who_caller(g, &j, caller);
	if (detail)
		jbuf_str(&j, "detail", detail);
	emit(g, AUDIT_NOTICE, &j);
}

struct audit_log *guard_audit(struct guard *g)
{
	return g->log;
}

/* --- policy and grants on disk -------------------------------------- */

static void diag_log(void *ctx, int line, enum policy_sev sev,
		     const char *msg)
{
	log_msg(sev == POLICY_ERROR ? LOG_ERR : LOG_WARNING,
		"policy line %d: %s", line, msg);
}

static void sha_b64(const char *p, size_t n, char *out)
{
	uint8_t md[32];
	unsigned int len = 0;

	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != 32)
		memset(md, 0, sizeof(md));
	b64_encode(md, 32, out);
}

int guard_pin_of(const char *body, size_t len,
		 uint8_t out[static GUARD_PIN_LEN])
{
	unsigned int n = 0;

	if (!EVP_Digest(body, len, out, &n, EVP_sha256(), NULL) ||
	    n != GUARD_PIN_LEN)
		return -PHV_ECRYPTO;
	return 0;
}

int guard_pin_check(int state, const uint8_t want[static GUARD_PIN_LEN],
		    int r, const char *body, size_t len)
{
	uint8_t got[GUARD_PIN_LEN];
	int e;

	if (r && r != -ENOENT)
		return r;
	switch (state) {
	case GUARD_PIN_UNKNOWN:
		return r;
	case GUARD_PIN_NONE:
		return r ? r : -PHV_EPOLICY;
	case GUARD_PIN_REQUIRED:
		if (r)
			return -PHV_EPOLICY;
		e = guard_pin_of(body, len, got);
		if (e)
			return e;
		return memcmp(got, want, GUARD_PIN_LEN) ? -PHV_EPOLICY : 0;
	default:
		return state < 0 ? state : -EINVAL;
	}
}

/* sealed_read() of the policy, then the volume's pin when there is one */
static int read_policy(struct guard *g, char **bodyp, size_t *lenp)
{
	uint8_t want[GUARD_PIN_LEN];
	int r, state;

	r = sealed_read(g->policy_path, "policy", g->pkey, bodyp, lenp);
	if (!g->pin)
		return r;
	state = g->pin(g->pin_ctx, want);
	r = guard_pin_check(state, want, r, *bodyp, *lenp);
	if (r && r != -ENOENT) {
		free(*bodyp);
		*bodyp = NULL;
	}
	return r;
}

static int load_policy(struct guard *g, struct polref **prp)
{
	struct polref *pr;
	char *body = NULL;
	size_t len = 0;
	int r;

	*prp = NULL;
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	r = read_policy(g, &body, &len);
	if (r == -ENOENT) {
		log_warn("no policy installed in %s: every access is denied",
			 g->cipherdir);
		r = 0;
	}
	if (!r)
		r = policy_parse(body ? body : "", len, diag_log, NULL,
				 &pr->pol);
	if (!r) {
		sha_b64(body ? body : "", len, pr->sha);
		*prp = pr;
		pr = NULL;
	}
	free(body);
	free(pr);
	return r;
}

static int grants_serialise(uint64_t gen, const struct grant *gr, int n,
			    char **bufp, size_t *lenp)
{
	FILE *f = open_memstream(bufp, lenp);
	int i;

	if (!f)
		return -ENOMEM;
	fprintf(f, "generation %llu\n", (unsigned long long)gen);
	for (i = 0; i < n; i++)
		fprintf(f, "%s\t%u\t%s\t%s\t%s\t%lld\t%lld\t%u\t%d\t%s\t%s\n",
			gr[i].id, gr[i].uid, gr[i].user, gr[i].role,
			gr[i].path, gr[i].created, gr[i].expires, gr[i].by,
			gr[i].break_glass, gr[i].ticket, gr[i].reason);
	return fclose(f) ? -ENOMEM : 0;
}

static int grant_parse_line(char *line, struct grant *gr)
{
	char *f[11], *save = NULL;
	int i;

	memset(gr, 0, sizeof(*gr));
	for (i = 0; i < 11; i++) {
		f[i] = strtok_r(i ? NULL : line, "\t", &save);
		if (!f[i])
			return -PHV_EFORMAT;
	}
	snprintf(gr->id, sizeof(gr->id), "%s", f[0]);
	gr->uid = strtoul(f[1], NULL, 10);
	snprintf(gr->user, sizeof(gr->user), "%s", f[2]);
	snprintf(gr->role, sizeof(gr->role), "%s", f[3]);
	snprintf(gr->path, sizeof(gr->path), "%s", f[4]);
	gr->created = strtoll(f[5], NULL, 10);
	gr->expires = strtoll(f[6], NULL, 10);
	gr->by = strtoul(f[7], NULL, 10);
	gr->break_glass = atoi(f[8]);
	snprintf(gr->ticket, sizeof(gr->ticket), "%s", f[9]);
	snprintf(gr->reason, sizeof(gr->reason), "%s", f[10]);
	return 0;
}

int guard_grants_generation(const char *body, size_t len, uint64_t *genp,
			    size_t *offp)
{
	static const char key[] = "generation ";
	const size_t klen = sizeof(key) - 1;
	unsigned long long v;
	const char *nl;
	char *end;

	*genp = 0;
	*offp = 0;
	if (len < klen || memcmp(body, key, klen))
		return 0;	/* from before generations: 0 */
	nl = memchr(body, '\n', len);
	if (!nl || body[klen] < '0' || body[klen] > '9')
		return -PHV_EFORMAT;
	errno = 0;
	v = strtoull(body + klen, &end, 10);
	if (errno || end != nl)
		return -PHV_EFORMAT;
	*genp = (uint64_t)v;
	*offp = (size_t)(nl + 1 - body);
	return 0;
}

/* Why a grants file the volume does not vouch for loads nothing: once in
 * the audit log (alert level) and once in the log. */
static void grants_refused(struct guard *g, int missing, uint64_t found,
			   uint64_t want)
{
	struct jbuf j;

	jbuf_init(&j);
	jbuf_str(&j, "type", missing ? "grants-missing" : "grants-rollback");
	jbuf_str(&j, "path", g->grants_path);
	if (!missing)
		jbuf_int(&j, "generation", (long long)found);
	jbuf_int(&j, "expected", (long long)want);
	jbuf_str(&j, "action", "no grants loaded");
	emit(g, AUDIT_ALERT, &j);
	/* and the alert hook: someone tampered with the backing directory */
	alerts_raise(g->alerts, (uint32_t)getuid(), "phivault",
		     missing ? "grants-missing" : "grants-rollback", NULL,
		     now_of(g));
	if (missing)
		log_err("%s is missing, but the volume recorded grants "
			"generation %llu: no grants are loaded; give the "
			"grants that should be live again (phivault grant)",
			g->grants_path, (unsigned long long)want);
	else
		log_err("%s is generation %llu, older than the %llu the volume "
			"recorded (an older copy was put back, or a save was "
			"cut short): no grants are loaded; give the grants "
			"that should be live again (phivault grant)",
			g->grants_path, (unsigned long long)found,
			(unsigned long long)want);
}

/*
 * The grants the volume vouches for: with a generation record, a file
 * older than the record (or missing while the record is above 0) gives
 * no grants and is reported (grants_refused()); it is overwritten by the
 * next save.  Returns 0 or why the file cannot be used at all.
 */
static int load_grants(struct guard *g, struct grant **grp, int *np)
{
	char *body = NULL, *line, *save = NULL;
	struct grant *gr = NULL;
	uint64_t want = 0, found = 0;
	size_t len = 0, off = 0;
	int n = 0, r;

	*grp = NULL;
	*np = 0;
	if (g->gen_get) {
		r = g->gen_get(g->gen_ctx, &want);
		if (r)
			return r;
	}
	r = sealed_read(g->grants_path, "grants", g->pkey, &body, &len);
	if (r == -ENOENT) {
		if (want)
			grants_refused(g, 1, 0, want);
		return 0;
	}
	if (!r)
		r = guard_grants_generation(body, len, &found, &off);
	if (r)
		goto out;
	g->grants_gen = found;
	if (found < want) {
		grants_refused(g, 0, found, want);
		goto out;
	}
	r = -ENOMEM;
	gr = calloc(MAX_GRANTS, sizeof(*gr));
	if (!gr)
		goto out;
	r = 0;
	for (line = strtok_r(body + off, "\n", &save); line && n < MAX_GRANTS;
	     line = strtok_r(NULL, "\n", &save)) {
		r = grant_parse_line(line, &gr[n]);
		if (r)
			goto out;
		if (gr[n].expires > now_of(g))
			n++;
	}
	*grp = gr;
	*np = n;
	gr = NULL;
out:
	free(gr);
	free(body);
	return r;
}

/*
 * Record the next generation in the volume, then write the file with it
 * (guard_gen_fn).  In that order every failure fails closed: a record
 * that cannot be written leaves the file untouched, and a file that then
 * cannot be written is older than the record, so its grants are not
 * loaded at the next start; only a later save that succeeds vouches for
 * a file again.
 */
static int save_grants_locked(struct guard *g, const struct grant *gr,
			      int n)
{
	uint64_t gen = 0;
	char *buf = NULL;
	size_t len = 0;
	int r = 0;

	if (g->gen_get)
		r = g->gen_get(g->gen_ctx, &gen);
	if (r)
		return r;
	if (gen < g->grants_gen)
		gen = g->grants_gen;
	if (gen == UINT64_MAX)
		return -EOVERFLOW;
	gen++;
	r = grants_serialise(gen, gr, n, &buf, &len);
	if (!r && g->gen_set)
		r = g->gen_set(g->gen_ctx, gen);
	if (!r) {
		g->grants_gen = gen;
		r = sealed_write(g->grants_path, "grants", g->pkey, buf, len);
	}
	if (r)
		log_err("%s: cannot save the grants: %s", g->grants_path,
			phv_strerror(r));
	free(buf);
	return r;
}

/* copy of the current grants with room for one more; holds wlock */
static struct grant *grants_copy(struct guard *g, int *np)
{
	struct snap *s = atomic_load(&g->snap);
	struct grant *gr;

	gr = calloc(s->ngrants + 1, sizeof(*gr));
	if (gr && s->ngrants)
		memcpy(gr, s->grants, s->ngrants * sizeof(*gr));
	*np = s->ngrants;
	return gr;
}

static void policy_record(struct guard *g, const char *type, uid_t by,
			  const struct polref *pr, int result)
{
	struct jbuf j;

	jbuf_init(&j);
	jbuf_str(&j, "type", type);
	who(g, &j, by, (uint32_t)-1, 0);
	if (pr)
		jbuf_str(&j, "policy_sha256", pr->sha);
	result_field(&j, result);
	emit(g, AUDIT_NOTICE, &j);
}

int guard_reload(struct guard *g, uid_t by)
{
	struct polref *pr = NULL;
	struct grant *gr;
	int n, r;

	pthread_mutex_lock(&g->wlock);
	if (stat(g->policy_path, &g->pst)) {
		r = -errno;	/* gone: keep what is loaded */
		goto out;
	}
	r = load_policy(g, &pr);
	if (r)
		goto out;
	r = -ENOMEM;
	gr = grants_copy(g, &n);
	if (!gr)
		goto out;
	alerts_set_limits(g->alerts, &pr->pol->alerts);
	r = publish_locked(g, pr, gr, n);
out:
	policy_record(g, "policy-reload", by, r ? NULL : pr, r);
	if (r && pr) {
		policy_free(pr->pol);
		free(pr);
	}
	pthread_mutex_unlock(&g->wlock);
	return r;
}

/* --- grants --------------------------------------------------------- */

static int text_ok(const char *s, size_t max)
{
	return s && *s && strlen(s) < max && !strpbrk(s, "\t\n\r");
}

static void grant_record(struct guard *g, const char *type,
			 const struct policy_caller *by,
			 const struct grant *gr, int result)
{
	struct jbuf j;

	jbuf_init(&j);
	jbuf_str(&j, "type", type);
	who_caller(g, &j, by);
	jbuf_str(&j, "grant", gr->id);
	jbuf_int(&j, "grantee_uid", gr->uid);
	jbuf_str(&j, "grantee", gr->user);
	jbuf_str(&j, "role", gr->role);
	jbuf_str(&j, "path", gr->path);
	jbuf_int(&j, "expires", gr->expires);
	jbuf_str(&j, "ticket", gr->ticket);
	jbuf_str(&j, "reason", gr->reason);
	if (gr->break_glass)
		jbuf_bool(&j, "break_glass", 1);
	result_field(&j, result);
	emit(g, gr->break_glass ? AUDIT_ALERT : AUDIT_NOTICE, &j);
}

static int add_grant_locked(struct guard *g, struct grant *ng)
{
	struct snap *s = atomic_load(&g->snap);
	struct grant *gr;
	uint8_t rnd[4];
	int n, r;

	if (s->ngrants >= MAX_GRANTS)
		return -ENOSPC;
	r = secmem_random(rnd, sizeof(rnd));
	if (r)
		return r;
	snprintf(ng->id, sizeof(ng->id), "g-%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3]);
	gr = grants_copy(g, &n);
	if (!gr)
		return -ENOMEM;
	gr[n++] = *ng;
	r = save_grants_locked(g, gr, n);
	if (r) {
		free(gr);
		return r;
	}
	return publish_locked(g, s->pr, gr, n);
}

static int norm_path(const char *in, char *out, size_t size)
{
	size_t n = strlen(in);

	if (n >= size || policy_path_valid(in))
		return -EINVAL;
	memcpy(out, in, n + 1);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

int guard_grant(struct guard *g, const struct policy_caller *by,
		const char *user, const char *role, const char *path,
		long secs, const char *ticket, const char *reason,
		char *idbuf)
{
	struct policy_caller who_c;
	struct policy_decision d;
	struct grant ng = { 0 };
	struct snap *s;
	gid_t groups[64];
	int ri, r;

	if (!text_ok(ticket, GRANT_TEXT) || !text_ok(reason, GRANT_TEXT) ||
	    !text_ok(user, POLICY_NAME_MAX) || secs <= 0 ||
	    norm_path(path, ng.path, sizeof(ng.path)))
		return -EINVAL;
	if (policy_caller_lookup(user, &who_c, groups, 64))
		return -EINVAL;
	pthread_mutex_lock(&g->wlock);
	s = atomic_load(&g->snap);
	ri = policy_role_find(s->pr->pol, role);
	r = -EINVAL;
	if (ri < 0 || secs > s->pr->pol->roles[ri].max_grant)
		goto out;
	r = policy_decide(s->pr->pol, s->refs, s->ngrants, by, ng.path,
			  POLICY_ADMIN, now_of(g), &d);
	if (r)
		goto out;
	ng.uid = who_c.uid;
	user_name_of(g, ng.uid, ng.user, sizeof(ng.user));
	snprintf(ng.role, sizeof(ng.role), "%s", role);
	ng.created = now_of(g);
	ng.expires = ng.created + secs;
	ng.by = by->uid;
	snprintf(ng.ticket, sizeof(ng.ticket), "%s", ticket);
	snprintf(ng.reason, sizeof(ng.reason), "%s", reason);
	r = add_grant_locked(g, &ng);
	if (!r && idbuf)
		memcpy(idbuf, ng.id, sizeof(ng.id));
out:
	grant_record(g, "grant", by, &ng, r);
	pthread_mutex_unlock(&g->wlock);
	return r;
}

int guard_break_glass(struct guard *g, const struct policy_caller *by,
		      const char *reason, char *idbuf, time_t *untilp)
{
	const struct policy *pol;
	struct grant ng = { 0 };
	struct jbuf j;
	int r = -PHV_EDENIED;

	if (!text_ok(reason, GRANT_TEXT))
		return -EINVAL;
	pthread_mutex_lock(&g->wlock);
	pol = atomic_load(&g->snap)->pr->pol;
	ng.uid = by->uid;
	user_name_of(g, ng.uid, ng.user, sizeof(ng.user));
	strcpy(ng.path, "/");
	snprintf(ng.ticket, sizeof(ng.ticket), "break-glass");
	snprintf(ng.reason, sizeof(ng.reason), "%s", reason);
	ng.break_glass = 1;
	if (!policy_bg_eligible(pol, by))
		goto out;
	snprintf(ng.role, sizeof(ng.role), "%s",
		 pol->roles[pol->bg_role].name);
	ng.created = now_of(g);
	ng.expires = ng.created + pol->bg_duration;
	r = add_grant_locked(g, &ng);
	if (!r && idbuf)
		memcpy(idbuf, ng.id, sizeof(ng.id));
	if (!r && untilp)
		*untilp = ng.expires;
out:
	grant_record(g, "break-glass", by, &ng, r);
	pthread_mutex_unlock(&g->wlock);
	jbuf_init(&j);
	jbuf_str(&j, "reason", reason);
	jbuf_str(&j, "result", r ? "denied" : "granted");
	if (!r) {
		jbuf_str(&j, "grant", ng.id);
		jbuf_int(&j, "expires", ng.expires);
	}
	alerts_raise(g->alerts, by->uid, ng.user, "break-glass", &j,
		     now_of(g));
	return r;
}

static int may_manage(const struct snap *s, const struct policy_caller *by,
		      const struct grant *gr, time_t now)
{
	struct policy_decision d;

	return by->uid == gr->uid ||
	       !policy_decide(s->pr->pol, s->refs, s->ngrants, by, gr->path,
			      POLICY_ADMIN, now, &d);
}

int guard_revoke(struct guard *g, const struct policy_caller *by,
		 const char *id)
{
	struct grant *gr = NULL, old = { 0 };
	struct snap *s;
	int i, n, r = -PHV_ENOTFOUND;

	pthread_mutex_lock(&g->wlock);
	s = atomic_load(&g->snap);
	for (i = 0; i < s->ngrants; i++)
		if (!strcmp(s->grants[i].id, id))
			break;
	snprintf(old.id, sizeof(old.id), "%.15s", id);
	if (i == s->ngrants)
		goto out;
	old = s->grants[i];
	r = -PHV_EDENIED;
	if (!may_manage(s, by, &old, now_of(g)))
		goto out;
	r = -ENOMEM;
	gr = grants_copy(g, &n);
	if (!gr)
		goto out;
	memmove(&gr[i], &gr[i + 1], (n - i - 1) * sizeof(*gr));
	n--;
	r = save_grants_locked(g, gr, n);
	if (!r) {
		r = publish_locked(g, s->pr, gr, n);
		gr = NULL;
	}
out:
	free(gr);
	old.break_glass = 0;
	grant_record(g, "revoke", by, &old, r);
	pthread_mutex_unlock(&g->wlock);
	return r;
}

/* "2h 5m", "4m", "35s": what is left of a grant */
static const char *left_text(time_t secs, char *buf, size_t size)
{
	if (secs >= 3600)
		snprintf(buf, size, "%lldh %lldm", (long long)secs / 3600,
			 (long long)secs % 3600 / 60);
	else if (secs >= 60)
		snprintf(buf, size, "%lldm", (long long)secs / 60);
	else
		snprintf(buf, size, "%llds", (long long)secs);
	return buf;
}

int guard_list_grants(struct guard *g, const struct policy_caller *by,
		      FILE *out)
{
	const struct grant *gr;
	time_t now = now_of(g);
	struct snap *s;
	char left[32];
	int slot, i, shown = 0;

	s = snap_get(g, &slot);
	for (i = 0; i < s->ngrants; i++) {
		gr = &s->grants[i];
		if (gr->expires <= now || !may_manage(s, by, gr, now))
			continue;
		fprintf(out, "%s\t%s\t%s\t%s\t%s left\t%s%s\t%s\n", gr->id,
			gr->user, gr->role, gr->path,
			left_text(gr->expires - now, left, sizeof(left)),
			gr->break_glass ? "BREAK-GLASS " : "", gr->ticket,
			gr->reason);
		shown++;
	}
	snap_put(g, slot);
	return shown;
}

int guard_explain(struct guard *g, uid_t uid, const char *path,
		  unsigned int need, FILE *out)
{
	char name[32], text[PGLOB_MAX_LEN + 600];
	struct policy_caller c;
	struct policy_decision d;
	gid_t groups[64];
	struct snap *s;
	int slot, r;

	if (policy_path_valid(path)) {
		fprintf(out, "'%s' is not an absolute path without '.' or "
			"'..' components; give it as the mount sees it, "
			"e.g. /patients/7\n", path);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "%u", (unsigned int)uid);
	r = policy_caller_lookup(name, &c, groups, 64);
	if (r)
		return r;
	s = snap_get(g, &slot);
	r = policy_decide(s->pr->pol, s->refs, s->ngrants, &c, path, need,
			  now_of(g), &d);
	fprintf(out, "%s\n", policy_explain(s->pr->pol, &d, text,
					    sizeof(text)));
	if (d.grant)
		fprintf(out, "grant %s (ticket %s)\n",
			((const struct grant *)d.grant->cookie)->id,
			((const struct grant *)d.grant->cookie)->ticket);
	snap_put(g, slot);
	return r;
}

/* --- periodic work -------------------------------------------------- */

static void expire_grants(struct guard *g)
{
	struct policy_caller sys = { .uid = 0, .gid = 0 };
	struct grant *gr;
	struct snap *s;
	time_t now = now_of(g);
	int i, n, k = 0;

	pthread_mutex_lock(&g->wlock);
	s = atomic_load(&g->snap);
	for (i = 0; i < s->ngrants; i++)
		k += s->grants[i].expires <= now;
	if (!k)
		goto out;
	gr = grants_copy(g, &n);
	if (!gr)
		goto out;
	for (i = 0, n = 0; i < s->ngrants; i++) {
		if (s->grants[i].expires > now)
			gr[n++] = s->grants[i];
		else
			grant_record(g, "grant-expired", &sys, &s->grants[i],
				     0);
	}
	save_grants_locked(g, gr, n);
	publish_locked(g, s->pr, gr, n);
out:
	pthread_mutex_unlock(&g->wlock);
}

/* The policy file went away under a running mount: say so once, keep
 * enforcing what is loaded (guard.h). */
static void policy_missing(struct guard *g)
{
	struct jbuf j;
	int seen;

	pthread_mutex_lock(&g->wlock);
	seen = g->pst.st_ino != 0;
	memset(&g->pst, 0, sizeof(g->pst));
	if (seen) {
		jbuf_init(&j);
		jbuf_str(&j, "type", "policy-missing");
		jbuf_str(&j, "path", g->policy_path);
		jbuf_str(&j, "action", "loaded policy kept until unmount");
		emit(g, AUDIT_ALERT, &j);
		log_warn("%s disappeared; the loaded policy stays in force "
			 "until unmount", g->policy_path);
	}
	pthread_mutex_unlock(&g->wlock);
}

static int policy_changed(struct guard *g)
{
	struct stat st;
	int changed;

	if (stat(g->policy_path, &st)) {
		if (errno == ENOENT)
			policy_missing(g);
		return 0;
	}
	pthread_mutex_lock(&g->wlock);
	changed = st.st_ino != g->pst.st_ino ||
		  st.st_mtim.tv_sec != g->pst.st_mtim.tv_sec ||
		  st.st_mtim.tv_nsec != g->pst.st_mtim.tv_nsec ||
		  st.st_size != g->pst.st_size;
	if (changed)
		g->pst = st;
	pthread_mutex_unlock(&g->wlock);
	return changed;
}

void guard_tick(struct guard *g)
{
	if (policy_changed(g))
		guard_reload(g, 0);
	expire_grants(g);
	audit_tick(g->log);
}

static void *tick_main(void *arg)
{
	struct guard *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->tlock);
	while (!g->stopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&g->tcond, &g->tlock, &ts);
		if (g->stopping)
			break;
		pthread_mutex_unlock(&g->tlock);
		guard_tick(g);
		pthread_mutex_lock(&g->tlock);
	}
	pthread_mutex_unlock(&g->tlock);
	return NULL;
}

/* --- control socket ------------------------------------------------- */

static int ctl_status(int r, FILE *out)
{
	if (!r)
		return CTL_OK;
	fprintf(out, "%s\n", phv_strerror(r));
	if (r == -PHV_EDENIED)
		return CTL_DENIED;
	return r == -EINVAL ? CTL_USAGE : CTL_FAIL;
}

/* Records the CLI may ask the mount to write for it (tools/cliaudit.h):
 * actions on the volume's keys and files that need no mount. */
static const char *const cli_events[] = {
	"key-rotate", "key-rewrap", "key-retire", "key-add", "key-remove",
	"shred", "retention-set", "retention-apply", "policy-remove",
};

/* Root or the mount's own user only: anyone else could flood the log. */
static int cli_event(struct guard *g, const struct policy_caller *c,
		     const char *type, const char *detail)
{
	size_t i;

	if (c->uid != 0 && c->uid != getuid())
		return -PHV_EDENIED;
	for (i = 0; i < sizeof(cli_events) / sizeof(cli_events[0]); i++)
		if (!strcmp(type, cli_events[i]))
			break;
	if (i == sizeof(cli_events) / sizeof(cli_events[0]) ||
	    !text_ok(detail, GRANT_PATH))
		return -EINVAL;
	guard_event(g, c, type, detail);
	return audit_failed(g->log);
}

static int ctl_handle(void *ctx, const struct ctl_peer *peer, int argc,
		      char **argv, FILE *out)
{
	struct guard *g = ctx;
	struct policy_caller c = {
		.uid = peer->uid, .gid = peer->gid, .pid = peer->pid,
		.groups = peer->groups, .ngroups = peer->ngroups,
	};
	char id[16] = "";
	unsigned int ops;
	time_t until;
	long secs;
	int r;

	if (argc == 7 && !strcmp(argv[0], "grant")) {
		if (policy_duration_parse(argv[4], &secs))
			return ctl_status(-EINVAL, out);
		r = guard_grant(g, &c, argv[1], argv[2], argv[3], secs,
				argv[5], argv[6], id);
		if (!r)
			fprintf(out, "%s\n", id);
		return ctl_status(r, out);
	}
	if (argc == 1 && !strcmp(argv[0], "grants")) {
		if (!guard_list_grants(g, &c, out))
			fprintf(out, "no live grants you may see\n");
		return CTL_OK;
	}
	if (argc == 2 && !strcmp(argv[0], "revoke"))
		return ctl_status(guard_revoke(g, &c, argv[1]), out);
	if (argc == 2 && !strcmp(argv[0], "break-glass")) {
		r = guard_break_glass(g, &c, argv[1], id, &until);
		if (!r) {
			struct tm tm;
			char when[32] = "?";

			if (gmtime_r(&until, &tm))
				strftime(when, sizeof(when),
					 "%Y-%m-%d %H:%M:%S UTC", &tm);
			fprintf(out, "%s\tuntil %s; every access is recorded "
				"at alert level\n", id, when);
		} else if (r == -PHV_EDENIED) {
			fprintf(out, "break-glass is only for the users and "
				"groups the policy's [break-glass] section "
				"names; your attempt is recorded\n");
		}
		return ctl_status(r, out);
	}
	if (argc == 1 && !strcmp(argv[0], "reload")) {
		/* anyone may ask (the file itself is authenticated), but
		 * only a changed file is read and recorded: asking in a loop
		 * must not flood the audit log */
		if (!policy_changed(g))
			return CTL_OK;
		return ctl_status(guard_reload(g, c.uid), out);
	}
	if (argc == 4 && !strcmp(argv[0], "explain")) {
		if (policy_ops_parse(argv[3], &ops))
			return ctl_status(-EINVAL, out);
		/* only for oneself, or with admin on the path */
		if (strtoul(argv[1], NULL, 10) != c.uid &&
		    guard_check(g, &c, GUARD_SETATTR, argv[2], NULL,
				FUSE_SET_ATTR_MODE))
			return ctl_status(-PHV_EDENIED, out);
		guard_explain(g, strtoul(argv[1], NULL, 10), argv[2], ops,
			      out);
		return CTL_OK;
	}
	if (argc == 3 && !strcmp(argv[0], "event"))
		return ctl_status(cli_event(g, &c, argv[1], argv[2]), out);
	if (argc == 1 && !strcmp(argv[0], "ping")) {
		fprintf(out, "phivault %s\n", g->volume);
		return CTL_OK;
	}
	fprintf(out, "unknown request\n");
	return CTL_USAGE;
}

/* --- life cycle ----------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static int guard_init(struct guard *g, const struct guard_config *cfg)
{
	struct audit_opts ao = cfg->audit;
	struct polref *pr = NULL;
	struct grant *gr = NULL;
	int n = 0, r;

	g->clock = cfg->clock;
	g->pin = cfg->pin;
	g->pin_ctx = cfg->pin_ctx;
	g->gen_get = cfg->grants_gen;
	g->gen_set = cfg->grants_gen_set;
	g->gen_ctx = cfg->grants_gen_ctx;
	g->cipherdir = strdup(cfg->cipherdir);
	g->volume = strdup(cfg->volume ? cfg->volume : "phivault");
	g->policy_path = path_join(cfg->cipherdir, GUARD_POLICY_FILE);
	g->grants_path = path_join(cfg->cipherdir, GUARD_GRANTS_FILE);
	g->state_path = path_join(cfg->cipherdir, GUARD_STATE_FILE);
	g->pkey = secmem_alloc(GUARD_KEY_LEN);
	if (!g->cipherdir || !g->volume || !g->policy_path ||
	    !g->grants_path || !g->state_path || !g->pkey)
		return -ENOMEM;
	memcpy(g->pkey, cfg->policy_key, GUARD_KEY_LEN);
	if (!ao.state_path)
		ao.state_path = g->state_path;
	if (!ao.volume)
		ao.volume = g->volume;
	r = audit_open(&ao, cfg->audit_key, &g->log);
	if (r)
		return r;
	r = alerts_start(cfg->alert_hook, g->log, &g->alerts);
	if (r)
		return r;
	stat(g->policy_path, &g->pst);
	r = load_policy(g, &pr);
	if (!r)
		r = load_grants(g, &gr, &n);
	if (r) {
		policy_record(g, "policy-load", getuid(), NULL, r);
		goto out;
	}
	alerts_set_limits(g->alerts, &pr->pol->alerts);
	pthread_mutex_lock(&g->wlock);
	r = publish_locked(g, pr, gr, n);
	pthread_mutex_unlock(&g->wlock);
	gr = NULL;
	if (r)
		goto out;
	pr = NULL;
	guard_event(g, NULL, "mount", g->cipherdir);
	policy_record(g, "policy-load", getuid(), atomic_load(&g->snap)->pr,
		      0);
out:
	free(gr);
	if (pr) {
		policy_free(pr->pol);
		free(pr);
	}
	return r;
}

int guard_start(const struct guard_config *cfg, struct guard **gp)
{
	struct guard *g;
	int r;

	*gp = NULL;
	if (!cfg->cipherdir || !cfg->policy_key || !cfg->audit_key ||
	    !cfg->audit.path)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->wlock, NULL);
	pthread_mutex_init(&g->tlock, NULL);
	pthread_mutex_init(&g->clock_, NULL);
	pthread_cond_init(&g->tcond, NULL);
	r = guard_init(g, cfg);
	if (!r && !cfg->no_thread) {
		r = -pthread_create(&g->tick, NULL, tick_main, g);
		g->have_tick = !r;
	}
	if (!r && !cfg->no_thread && cfg->socket_path)
		r = ctl_server_start(cfg->socket_path, ctl_handle, g,
				     &g->ctl);
	if (r) {
		guard_stop(g);
		return r;
	}
	*gp = g;
	return 0;
}

void guard_stop(struct guard *g)
{
	struct snap *s;

	if (!g)
		return;
	ctl_server_stop(g->ctl);
	if (g->have_tick) {
		pthread_mutex_lock(&g->tlock);
		g->stopping = 1;
		pthread_cond_signal(&g->tcond);
		pthread_mutex_unlock(&g->tlock);
		pthread_join(g->tick, NULL);
	}
	alerts_stop(g->alerts);
	if (g->log && atomic_load(&g->snap))
		guard_event(g, NULL, "unmount", g->cipherdir);
	audit_close(g->log);
	s = atomic_exchange(&g->snap, NULL);
	snap_free(s);
	secmem_free(g->pkey, GUARD_KEY_LEN);
	free(g->cipherdir);
	free(g->volume);
	free(g->policy_path);
	free(g->grants_path);
	free(g->state_path);
	pthread_cond_destroy(&g->tcond);
	pthread_mutex_destroy(&g->tlock);
	pthread_mutex_destroy(&g->wlock);
	pthread_mutex_destroy(&g->clock_);
	free(g);
}
