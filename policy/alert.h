/* SPDX-License-Identifier: MIT */
/*
 * alert.h - thresholds over a rolling minute per user, alert records and
 * the alert hook.
 *
 * Counters live in a fixed table (no allocation on the FUSE path) under
 * one mutex held for a few instructions.  When a threshold is crossed the
 * alert is written to the audit log at alert level and queued for the
 * hook, a command run by /bin/sh on a worker thread with the alert JSON
 * on its standard input.  Hook runs are rate-limited per kind and user
 * (policy [alerts] hook-interval) and the queue is bounded: when it is
 * full, alerts are still audited but the hook is skipped.
 */
#ifndef POLICY_ALERT_H
#define POLICY_ALERT_H

#include <stdint.h>
#include <time.h>

#include "audit.h"
#include "policy.h"

struct alerts;

/* hook may be NULL (alerts only audited); log must outlive the result. */
int alerts_start(const char *hook, struct audit_log *log,
		 struct alerts **ap);
/* Stop the worker after it finishes the queue; NULL-safe. */
void alerts_stop(struct alerts *a);

/* Replace the thresholds (on policy reload). */
void alerts_set_limits(struct alerts *a, const struct policy_alerts *lim);

enum alert_count { ALERT_OPEN, ALERT_BYTES, ALERT_DENIAL };

/* Count n events of kind for uid at now; may raise a threshold alert. */
void alerts_note(struct alerts *a, uint32_t uid, const char *user,
		 enum alert_count kind, unsigned long long n, time_t now);

/*
 * Raise an alert at once: kind is "break-glass", "outside-window", ...;
 * detail is extra fields (may be NULL).  Audited and sent to the hook.
 */
void alerts_raise(struct alerts *a, uint32_t uid, const char *user,
		  const char *kind, const struct jbuf *detail, time_t now);

/* Hook runs started so far (tests). */
unsigned long alerts_hook_runs(struct alerts *a);

#endif /* POLICY_ALERT_H */
