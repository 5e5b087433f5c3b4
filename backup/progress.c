// SPDX-License-Identifier: MIT
/*
 * progress.c - the progress line (see progress.h).
 */
#include <stdio.h>
#include <sys/time.h>

#include "progress.h"

static double mono(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

const char *progress_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

void progress_start(struct progress *p, int on, const char *what)
{
	p->on = on;
	p->what = what;
	p->items = p->bytes = 0;
	p->t0 = p->last = mono();
	pthread_mutex_init(&p->mu, NULL);
}

void progress_add(struct progress *p, uint64_t items, uint64_t bytes)
{
	char b1[32], b2[32];
	double now, el;

	if (!p->on)
		return;
	pthread_mutex_lock(&p->mu);
	p->items += items;
	p->bytes += bytes;
	now = mono();
	if (now - p->last >= 0.2) {
		p->last = now;
		el = now - p->t0 > 0.001 ? now - p->t0 : 0.001;
		fprintf(stderr, "\r\033[K%s: %llu items, %s, %s/s", p->what,
			(unsigned long long)p->items,
			progress_bytes(p->bytes, b1, sizeof(b1)),
			progress_bytes((uint64_t)(p->bytes / el), b2,
				       sizeof(b2)));
		fflush(stderr);
	}
	pthread_mutex_unlock(&p->mu);
}

void progress_end(struct progress *p)
{
	if (!p->on)
		return;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	p->on = 0;
	pthread_mutex_destroy(&p->mu);
}
