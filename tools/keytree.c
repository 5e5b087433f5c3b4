// SPDX-License-Identifier: MIT
/*
 * keytree.c - tree walks and progress for key management (keytree.h).
 *
 * Paths are built in one buffer of PATH_MAX * 2 bytes that grows and
 * shrinks as the walk descends; nothing is kept per directory but the
 * vol_dir handle, so memory is bounded by the depth (at most 256).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "fs/vol.h"
#include "keytree.h"

#define KEYTREE_DEPTH	256

struct walk {
	struct vol *vol;
	keytree_fn leaf, post;
	void *ctx;
	char *path;
	size_t size;
};

static int walk_dir(struct walk *w, size_t len, int depth)
{
	struct vol_dirent *e = malloc(sizeof(*e));
	struct vol_dir *d = NULL;
	size_t n;
	int r;

	if (!e)
		return -ENOMEM;
	r = vol_dir_open(w->vol, w->path, &d);
	if (r) {
		fprintf(stderr, "phivault: cannot list '/%s': %s\n", w->path,
			phv_strerror(r));
		goto out;
	}
	while ((r = vol_dir_next(d, e)) > 0) {
		if (e->damaged)
			continue;
		n = strlen(e->name);
		if (len + 1 + n + 1 > w->size) {
			r = -ENAMETOOLONG;
			break;
		}
		snprintf(w->path + len, w->size - len, "%s%s", len ? "/" : "",
			 e->name);
		n += len ? len + 1 : 0;
		if (S_ISDIR(e->st.st_mode) && depth < KEYTREE_DEPTH) {
			r = walk_dir(w, n, depth + 1);
			if (!r && w->post)
				r = w->post(w->vol, w->path, &e->st, w->ctx);
		} else if (!S_ISDIR(e->st.st_mode) && w->leaf) {
			r = w->leaf(w->vol, w->path, &e->st, w->ctx);
		}
		w->path[len] = '\0';
		if (r)
			break;
	}
out:
	vol_dir_close(d);
	free(e);
	return r;
}

int keytree_walk(struct vol *vol, const char *root, keytree_fn leaf,
		 keytree_fn post, void *ctx)
{
	struct walk w = { vol, leaf, post, ctx, NULL, PATH_MAX * 2 };
	int r;

	while (*root == '/')
		root++;
	if (strlen(root) >= w.size)
		return -ENAMETOOLONG;
	w.path = malloc(w.size);
	if (!w.path)
		return -ENOMEM;
	strcpy(w.path, root);
	r = walk_dir(&w, strlen(root), 0);
	free(w.path);
	return r;
}

double keytree_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void keytree_progress(struct keytree_progress *p, int final)
{
	double now;

	if (!p->tty)
		return;
	now = keytree_now();
	if (!final && now - p->last < 0.1)
		return;
	p->last = now;
	if (p->total)
		fprintf(stderr, "\r%s: %llu/%llu files (%u%%)", p->what,
			(unsigned long long)p->done,
			(unsigned long long)p->total,
			(unsigned int)(p->done * 100 / p->total));
	else
		fprintf(stderr, "\r%s: %llu files", p->what,
			(unsigned long long)p->done);
	if (final)
		fputc('\n', stderr);
}

int keytree_sync(const char *cipherdir)
{
	int fd = open(cipherdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (syncfs(fd))
		r = -errno;
	close(fd);
	return r;
}
