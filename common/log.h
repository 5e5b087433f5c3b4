/* SPDX-License-Identifier: MIT */
/*
 * log.h - the one diagnostic logger for fs/, backup/ and tools/.
 *
 * Levels are syslog's.  The sink is stderr until log_use_syslog() is
 * called (the mount daemon does so when it detaches).  crypto/ never logs.
 * Never pass key bytes, passphrases or signed URLs to these functions.
 * The audit trail is a separate, structured stream (fs/audit.h), not this.
 *
 * log_*_r() append ": <phv_strerror(code)>" for a negative code.
 * log_ratelimited() drops repeats of the same call site beyond a few per
 * second, for per-request error paths.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <syslog.h>

void log_set_ident(const char *ident);
void log_set_level(int level);		/* LOG_ERR .. LOG_DEBUG */
int log_get_level(void);
void log_use_syslog(int on);

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_msg_r(int level, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_err_r(code, ...)	log_msg_r(LOG_ERR, (code), __VA_ARGS__)
#define log_warn_r(code, ...)	log_msg_r(LOG_WARNING, (code), __VA_ARGS__)

/* At most a burst of 5, then 1 per second, per call site. */
#define log_ratelimited(level, ...) do {				\
	static struct log_rl log_rl_state_;				\
	if (log_rl_allow(&log_rl_state_))				\
		log_msg((level), __VA_ARGS__);				\
} while (0)

struct log_rl {
	long long window;	/* second the count applies to */
	unsigned int count;
	unsigned int dropped;
};
int log_rl_allow(struct log_rl *rl);

#endif /* COMMON_LOG_H */
