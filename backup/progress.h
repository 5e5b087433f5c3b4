/* SPDX-License-Identifier: MIT */
/*
 * progress.h - a one-line progress display on stderr for backup and
 * restore: items, bytes and rate, redrawn at most five times a second,
 * only when enabled (the CLI enables it when stderr is a terminal).
 * Counters may be bumped from several threads.
 */
#ifndef BACKUP_PROGRESS_H
#define BACKUP_PROGRESS_H

#include <pthread.h>
#include <stdint.h>

struct progress {
	int on;
	const char *what;
	pthread_mutex_t mu;
	uint64_t items, bytes;
	double t0, last;
};

void progress_start(struct progress *p, int on, const char *what);
void progress_add(struct progress *p, uint64_t items, uint64_t bytes);
/* Erase the line; safe on a progress never started. */
void progress_end(struct progress *p);

/* "12.3 MiB" style text into buf (at least 16 bytes). */
const char *progress_bytes(uint64_t n, char *buf, size_t size);

#endif /* BACKUP_PROGRESS_H */
