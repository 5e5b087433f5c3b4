// SPDX-License-Identifier: MIT
/*
 * alert.c - per-user rolling counters, alert records and the hook worker
 * (alert.h).
 *
 * Lock order: a->lock is never held while calling into the audit log or
 * running the hook.  The worker thread owns the hook process: it writes
 * the JSON to the hook's stdin and waits for it, so a slow hook delays
 * only later hook runs, never a file system request.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/hookenv.h"
#include "common/log.h"
#include "alert.h"

#define SLOTS		256	/* users tracked at once */
#define QUEUE_LEN	32
#define KINDS		8

extern char **environ;

struct slot {
	uint32_t uid;
	int used;
	time_t start;		/* of the current minute */
	unsigned long long n[3];
	unsigned int fired;	/* bit per enum alert_count this minute */
	time_t last_hook[KINDS];
};

struct alerts {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t worker;
	int stopping;			/* guarded by lock */
	char *hook;
	struct audit_log *log;
	struct policy_alerts lim;	/* guarded by lock */
	struct slot slots[SLOTS];	/* guarded by lock */
	char *queue[QUEUE_LEN];		/* guarded by lock */
	int qhead, qlen;		/* guarded by lock */
	unsigned long runs;		/* guarded by lock */
};

static const char *const kind_names[KINDS] = {
	"bulk-opens", "bulk-bytes", "denial-burst", "break-glass",
	"outside-window", "other",
};

static int kind_index(const char *kind)
{
	int i;

	for (i = 0; i < KINDS - 1 && kind_names[i]; i++)
		if (!strcmp(kind, kind_names[i]))
			return i;
	return KINDS - 1;
}

#define ALERT_ENV_MAX	256

static void run_hook(const char *hook, const char *json)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { "sh", "-c", (char *)hook, NULL };
	const char *envp[ALERT_ENV_MAX];
	int pfd[2], status;
	pid_t pid;
	size_t n = strlen(json);
	ssize_t w;

	if (pipe(pfd))
		return;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	posix_spawn_file_actions_addclose(&fa, pfd[1]);
	/* the hook gets no passphrase files, tokens or S3 keys */
	hookenv_build(envp, ALERT_ENV_MAX, 0);
	if (posix_spawn(&pid, "/bin/sh", &fa, NULL, argv,
			(char *const *)envp)) {
		log_warn("alert hook could not be started");
		pid = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[0]);
	while (pid > 0 && n) {
		w = write(pfd[1], json, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		json += w;
		n -= w;
	}
	close(pfd[1]);
	if (pid > 0 && waitpid(pid, &status, 0) == pid &&
	    (!WIFEXITED(status) || WEXITSTATUS(status)))
		log_warn("alert hook exited with status %d", status);
}

static void *worker(void *arg)
{
	struct alerts *a = arg;
	char *json;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->qlen && !a->stopping)
			pthread_cond_wait(&a->cond, &a->lock);
		if (!a->qlen)
			break;
		json = a->queue[a->qhead];
		a->qhead = (a->qhead + 1) % QUEUE_LEN;
		a->qlen--;
		pthread_mutex_unlock(&a->lock);
		run_hook(a->hook, json);
		free(json);
		pthread_mutex_lock(&a->lock);
		a->runs++;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int alerts_start(const char *hook, struct audit_log *log,
		 struct alerts **ap)
{
	struct alerts *a;

	*ap = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	a->log = log;
	a->lim.hook_interval = 300;
	if (hook) {
		a->hook = strdup(hook);
		if (!a->hook || pthread_create(&a->worker, NULL, worker, a)) {
			free(a->hook);
			free(a);
			return -ENOMEM;
		}
	}
	*ap = a;
	return 0;
}

void alerts_stop(struct alerts *a)
{
	if (!a)
		return;
	if (a->hook) {
		pthread_mutex_lock(&a->lock);
		a->stopping = 1;
		pthread_cond_signal(&a->cond);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->worker, NULL);
	}
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a->hook);
	free(a);
}

void alerts_set_limits(struct alerts *a, const struct policy_alerts *lim)
{
	pthread_mutex_lock(&a->lock);
	a->lim = *lim;
	pthread_mutex_unlock(&a->lock);
}

unsigned long alerts_hook_runs(struct alerts *a)
{
	unsigned long n;

	pthread_mutex_lock(&a->lock);
	n = a->runs;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* caller holds a->lock; the table is small, collisions evict */
static struct slot *slot_for(struct alerts *a, uint32_t uid, time_t now)
{
	struct slot *s = &a->slots[(uid * 2654435761U) % SLOTS];

	if (!s->used || s->uid != uid) {
		memset(s, 0, sizeof(*s));
		s->used = 1;
		s->uid = uid;
		s->start = now;
	}
	if (now - s->start >= 60) {
		s->start = now;
		memset(s->n, 0, sizeof(s->n));
		s->fired = 0;
	}
	return s;
}

void alerts_raise(struct alerts *a, uint32_t uid, const char *user,
		  const char *kind, const struct jbuf *detail, time_t now)
{
	struct jbuf *j = malloc(sizeof(*j));
	struct slot *s;
	char *json = NULL;
	int k = kind_index(kind), queue = 0;

	if (!j)
		return;
	jbuf_init(j);
	jbuf_str(j, "type", "alert");
	jbuf_str(j, "level", "alert");
	jbuf_str(j, "alert", kind);
	jbuf_int(j, "uid", uid);
	jbuf_str(j, "user", user);
	if (detail && detail->len && j->len + detail->len + 2 < JBUF_MAX) {
		j->b[j->len++] = ',';
		memcpy(j->b + j->len, detail->b, detail->len + 1);
		j->len += detail->len;
	}
	if (a->log)
		audit_emit(a->log, AUDIT_ALERT, j);
	log_ratelimited(LOG_ALERT, "%s by uid %u", kind, uid);

	pthread_mutex_lock(&a->lock);
	s = slot_for(a, uid, now);
	if (a->hook && a->qlen < QUEUE_LEN &&
	    (!s->last_hook[k] || now - s->last_hook[k] >=
	     a->lim.hook_interval)) {
		s->last_hook[k] = now;
		queue = 1;
	}
	pthread_mutex_unlock(&a->lock);
	if (queue && asprintf(&json, "{%s}\n", j->b) < 0)
		json = NULL;
	free(j);
	if (!json)
		return;
	pthread_mutex_lock(&a->lock);
	if (a->qlen < QUEUE_LEN && !a->stopping) {
		a->queue[(a->qhead + a->qlen) % QUEUE_LEN] = json;
		a->qlen++;
		json = NULL;
		pthread_cond_signal(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	free(json);
}

void alerts_note(struct alerts *a, uint32_t uid, const char *user,
		 enum alert_count kind, unsigned long long n, time_t now)
{
	static const char *const names[] = {
		"bulk-opens", "bulk-bytes", "denial-burst",
	};
	unsigned long long limit = 0, count;
	struct jbuf j;
	struct slot *s;
	int fire = 0;

	pthread_mutex_lock(&a->lock);
	if (kind == ALERT_OPEN)
		limit = a->lim.opens_per_min;
	else if (kind == ALERT_BYTES)
		limit = a->lim.bytes_per_min;
	else
		limit = a->lim.denials_per_min;
	s = slot_for(a, uid, now);
	s->n[kind] += n;
	count = s->n[kind];
	if (limit && count >= limit && !(s->fired & (1U << kind))) {
		s->fired |= 1U << kind;
		fire = 1;
	}
	pthread_mutex_unlock(&a->lock);
	if (!fire)
		return;
	jbuf_init(&j);
	jbuf_int(&j, "count", (long long)count);
	jbuf_int(&j, "threshold", (long long)limit);
	jbuf_int(&j, "window_s", 60);
	alerts_raise(a, uid, user, names[kind], &j, now);
}
