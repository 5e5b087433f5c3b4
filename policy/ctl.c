// SPDX-License-Identifier: MIT
/*
 * ctl.c - control socket server thread and client (ctl.h).
 *
 * The server polls its listening socket and a wake-up pipe; ctl_server_stop
 * writes to the pipe and joins.  Requests are served one at a time: they
 * are rare (a person typing a command) and each is bounded by time-outs,
 * so a slow client delays others by at most a few seconds and never
 * touches the file system path.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl.h"

struct ctl_server {
	int lfd;
	int wake[2];
	char *path;
	ctl_handler_fn *fn;
	void *ctx;
	pthread_t thread;
};

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static int peer_of(int fd, struct ctl_peer *peer)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	memset(peer, 0, sizeof(*peer));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		return -errno;
	peer->uid = cr.uid;
	peer->gid = cr.gid;
	peer->pid = cr.pid;
	len = sizeof(peer->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, peer->groups, &len))
		len = 0;	/* XXX: pre-4.13 kernels: primary group only */
	peer->ngroups = len / sizeof(gid_t);
	return 0;
}

static int read_request(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < size) {
		n = recv(fd, buf + got, size - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += n;
		if (memchr(buf, '\n', got)) {
			*(char *)memchr(buf, '\n', got) = '\0';
			return 0;
		}
	}
	return -1;
}

static void serve_one(struct ctl_server *s, int fd)
{
	char req[CTL_MAX_REQ], *argv[CTL_MAX_ARGS + 1], *p, *text = NULL;
	struct ctl_peer peer;
	size_t len = 0;
	FILE *out;
	int argc = 0, st;
	char head[16];

	set_timeouts(fd);
	if (peer_of(fd, &peer) || read_request(fd, req, sizeof(req)))
		return;
	for (p = req; argc < CTL_MAX_ARGS; argc++) {
		argv[argc] = p;
		p = strchr(p, '\t');
		if (!p) {
			argc++;
			break;
		}
		*p++ = '\0';
	}
	argv[argc] = NULL;
	out = open_memstream(&text, &len);
	if (!out)
		return;
	st = s->fn(s->ctx, &peer, argc, argv, out);
	fclose(out);
	snprintf(head, sizeof(head), "%d\n", st);
	if (!write_all(fd, head, strlen(head)))
		write_all(fd, text, len);
	free(text);
}

static void *server_main(void *arg)
{
	struct ctl_server *s = arg;
	struct pollfd pf[2] = {
		{ .fd = s->lfd, .events = POLLIN },
		{ .fd = s->wake[0], .events = POLLIN },
	};
	int fd;

	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		if (!(pf[0].revents & POLLIN))
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(s, fd);
		close(fd);
	}
	return NULL;
}

int ctl_server_start(const char *path, ctl_handler_fn *fn, void *ctx,
		     struct ctl_server **sp)
{
	struct ctl_server *s;
	struct sockaddr_un sa;
	char *dir = NULL;
	int r;

	*sp = NULL;
	r = make_addr(path, &sa);
	if (r)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lfd = -1;
	s->wake[0] = s->wake[1] = -1;
	s->fn = fn;
	s->ctx = ctx;
	s->path = strdup(path);
	dir = strdup(path);
	r = -ENOMEM;
	if (!s->path || !dir)
		goto out;
	mkdir(dirname(dir), 0755);
	unlink(path);
	r = -errno;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || pipe2(s->wake, O_CLOEXEC))
		goto out;
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0666) || listen(s->lfd, 16)) {
		r = -errno;
		goto out;
	}
	r = -pthread_create(&s->thread, NULL, server_main, s);
	if (r)
		goto out;
	*sp = s;
	s = NULL;
	r = 0;
out:
	free(dir);
	if (s) {
		if (s->lfd >= 0)
			close(s->lfd);
		if (s->wake[0] >= 0) {
			close(s->wake[0]);
			close(s->wake[1]);
		}
		free(s->path);
		free(s);
	}
	return r;
}

void ctl_server_stop(struct ctl_server *s)
{
	if (!s)
		return;
	if (write(s->wake[1], "x", 1) != 1)
		log_warn("control socket: wake-up failed");
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	unlink(s->path);
	free(s->path);
	free(s);
}

int ctl_call(const char *path, int argc, char *const *argv, FILE *out)
{
	char req[CTL_MAX_REQ], buf[4096], *nl;
	struct sockaddr_un sa;
	size_t used = 0, n;
	ssize_t got;
	int fd = -1, i, st = -1, r;

	r = make_addr(path, &sa);
	if (r)
		return r;
	for (i = 0; i < argc; i++) {
		n = strlen(argv[i]);
		if (strpbrk(argv[i], "\t\n") || used + n + 2 > sizeof(req))
			return -EINVAL;
		memcpy(req + used, argv[i], n);
		used += n;
		req[used++] = i + 1 < argc ? '\t' : '\n';
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		goto out;
	}
	set_timeouts(fd);
	r = -EIO;
	if (write_all(fd, req, used))
		goto out;
	used = 0;
	while ((got = recv(fd, buf + used, sizeof(buf) - 1 - used, 0)) > 0) {
		used += got;
		buf[used] = '\0';
		if (st < 0) {
			nl = strchr(buf, '\n');
			if (!nl)
				continue;
			st = atoi(buf);
			fwrite(nl + 1, 1, used - (nl + 1 - buf), out);
		} else {
			fwrite(buf, 1, used, out);
		}
		used = 0;
	}
	r = st;
out:
	close(fd);
	return r;
}
