// SPDX-License-Identifier: MIT
/*
 * log.c - stderr/syslog sink for log.h.
 *
 * One mutex serialises whole lines so that threads of the FUSE loop never
 * interleave.  The rate limiter is approximate by design: it uses relaxed
 * updates and may let one extra line through under contention.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *log_ident = "phivault";
static int log_level = LOG_NOTICE;
static int log_syslog;

void log_set_ident(const char *ident)
{
	log_ident = ident;
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

void log_use_syslog(int on)
{
	if (on && !log_syslog)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
	log_syslog = on;
}

static const char *log_level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
		return "alert";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
	case LOG_INFO:
		return NULL;
	default:
		return "debug";
	}
}

static void log_vemit(int level, int code, const char *fmt, va_list ap)
{
	char line[1024];
	const char *name;
	int n;

	if (level > log_level)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (code < 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, ": %s",
			 phv_strerror(code));

	if (log_syslog) {
		syslog(level, "%s", line);
		return;
	}
	name = log_level_name(level);
	pthread_mutex_lock(&log_lock);
	if (name)
		fprintf(stderr, "%s: %s: %s\n", log_ident, name, line);
	else
		fprintf(stderr, "%s: %s\n", log_ident, line);
	pthread_mutex_unlock(&log_lock);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vemit(level, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_msg_r(int level, int code, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vemit(level, code, fmt, ap);
	va_end(ap);
	errno = saved;
}

int log_rl_allow(struct log_rl *rl)
{
	struct timespec ts;
	long long now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = ts.tv_sec;
	if (rl->window != now) {
		rl->window = now;
		rl->count = 0;
	}
	if (rl->count >= 5) {
		rl->dropped++;
		return 0;
	}
	rl->count++;
	return 1;
}
