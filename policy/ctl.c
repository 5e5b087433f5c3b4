// SPDX-License-Identifier: MIT
/*
 * ctl.c - control socket server thread and client (ctl.h).
 *
 * The server is one thread running a poll(2) loop over its listening
 * socket, a wake-up pipe and up to CTL_MAX_CLIENTS connections, all
 * non-blocking.  Every connection gets one deadline for its whole
 * request (CTL_REQ_TIMEOUT_MS from accept, not per byte) and another for
 * taking its answer, so a client that dribbles bytes, or never reads,
 * only ever holds its own slot, and never for long.  At most
 * CTL_MAX_PER_UID connections of one uid are open at once; more are
 * answered "busy" and closed.  The last CTL_RESERVED slots are kept for
 * root and the uid the mount runs as: other users together hold at most
 * CTL_MAX_CLIENTS - CTL_RESERVED connections, and as the two privileged
 * uids hold at most CTL_MAX_PER_UID each, a crowd of local users can
 * never lock root's grants or break-glass out.
 *
 * A request is carried out only once it is complete (its newline came,
 * nothing after it) and while its client is still connected (a client
 * that shut down only its sending side, as socat and nc -N do, still
 * reads the answer; one that closed the connection does not); the handler
 * runs on this thread, so requests are handled one at a time as before,
 * but only the handler's own work, never a client's pace, is waited for.
 * ctl_server_stop() writes to the pipe and joins.
 *
 * The socket path is never taken from someone else: at start, whatever
 * is there must be a socket nobody answers on (a mount that died) to be
 * replaced, and at stop the file is removed only if it is still the one
 * we bound (same device and inode).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl.h"

struct ctl_client {
	int fd;
	struct ctl_peer peer;
	int64_t deadline;		/* monotonic ms */
	int answering;			/* request done, sending the answer */
	size_t got;			/* bytes of req received */
	char req[CTL_MAX_REQ];
	char *ans;			/* status line and text (malloc'd) */
	size_t anslen, sent;
};

struct ctl_server {
	int lfd;
	int wake[2];
	char *path;
	dev_t dev;			/* of the socket file we bound */
	ino_t ino;
	uid_t self;			/* the mount's uid: a reserved one */
	ctl_handler_fn *fn;
	void *ctx;
	pthread_t thread;
	struct ctl_client *cl[CTL_MAX_CLIENTS];	/* server thread only */
	int ncl;
	int nothers;			/* of them, not of a reserved uid */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
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

/* --- server --------------------------------------------------------- */

/* A short answer to a client that gets no more: best effort, no wait. */
static void say_and_close(int fd, const char *text)
{
	if (send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("control socket: %s", strerror(errno));
	close(fd);
}

static int reserved_uid(const struct ctl_server *s, uid_t uid)
{
	return uid == 0 || uid == s->self;
}

static void client_drop(struct ctl_server *s, int i, const char *text)
{
	struct ctl_client *c = s->cl[i];

	s->nothers -= !reserved_uid(s, c->peer.uid);
	if (text)
		say_and_close(c->fd, text);
	else
		close(c->fd);
	free(c->ans);
	free(c);
	s->cl[i] = s->cl[--s->ncl];
	s->cl[s->ncl] = NULL;
}

/* Split the request line in place and run the handler; 0 or -ENOMEM. */
static int client_run(struct ctl_server *s, struct ctl_client *c)
{
	char *argv[CTL_MAX_ARGS + 1], *p, *text = NULL;
	size_t len = 0;
	int argc = 0, st, n;
	FILE *out;

	for (p = c->req; argc < CTL_MAX_ARGS; argc++) {
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
		return -ENOMEM;
	st = s->fn(s->ctx, &c->peer, argc, argv, out);
	fclose(out);
	if (!text)
		return -ENOMEM;
	c->ans = malloc(len + 16);
	if (c->ans) {
		n = snprintf(c->ans, 16, "%d\n", st);
		memcpy(c->ans + n, text, len);
		c->anslen = n + len;
	}
	free(text);
	return c->ans ? 0 : -ENOMEM;
}

/* Send what the socket takes; 1 when all is sent, 0 for more, -1 lost. */
static int client_send(struct ctl_client *c)
{
	ssize_t w;

	while (c->sent < c->anslen) {
		w = send(c->fd, c->ans + c->sent, c->anslen - c->sent,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -1;
		c->sent += w;
	}
	return 1;
}

/*
 * Whether the client closed its whole connection (not only its sending
 * side): then nobody would read an answer.
 */
static int client_gone(int fd)
{
	struct pollfd pf = { .fd = fd, .events = 0 };

	return poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLERR));
}

/*
 * Take what the client sent.  The request is whole when its newline has
 * come with nothing after it, followed or not by the end of what the
 * client sends (shutdown(SHUT_WR)); only then, and only if the client is
 * still there to read the answer, is it carried out.  Returns 0 to keep
 * the client, or 1 to drop it (*whyp: what to tell it, may be NULL).
 */
static int client_read(struct ctl_server *s, struct ctl_client *c,
		       const char **whyp)
{
	char *nl, peek;
	ssize_t n;
	int eof = 0;

	*whyp = NULL;
	n = recv(c->fd, c->req + c->got, sizeof(c->req) - 1 - c->got,
		 MSG_DONTWAIT);
	if (n < 0)
		return errno != EAGAIN && errno != EWOULDBLOCK &&
		       errno != EINTR;
	if (n == 0)
		eof = 1;
	c->got += n;
	nl = memchr(c->req, '\n', c->got);
	if (!nl) {
		if (eof)
			return 1;	/* ended before its request was whole */
		if (c->got + 1 < sizeof(c->req))
			return 0;
		*whyp = "2\nrequest too long; nothing was done\n";
		return 1;
	}
	if (nl + 1 != c->req + c->got) {
		*whyp = "2\nbad request: data after the newline; nothing "
			"was done\n";
		return 1;
	}
	*nl = '\0';
	if (!eof) {
		n = recv(c->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n > 0) {
			*whyp = "2\nbad request: data after the newline; "
				"nothing was done\n";
			return 1;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return 1;
	}
	/* an end of input: fine if only the client's sending side ended */
	if (client_gone(c->fd))
		return 1;
	if (client_run(s, c)) {
		*whyp = "1\nout of memory\n";
		return 1;
	}
	c->answering = 1;
	c->deadline = now_ms() + CTL_REPLY_TIMEOUT_MS;
	return client_send(c) != 0;
}

static int uid_count(const struct ctl_server *s, uid_t uid)
{
	int i, n = 0;

	for (i = 0; i < s->ncl; i++)
		n += s->cl[i]->peer.uid == uid;
	return n;
}

static void accept_some(struct ctl_server *s)
{
	struct ctl_client *c;
	struct ctl_peer peer;
	int fd, k, other;

	for (k = 0; k < CTL_MAX_CLIENTS; k++) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (peer_of(fd, &peer)) {
			close(fd);
			continue;
		}
		other = !reserved_uid(s, peer.uid);
		if (s->ncl == CTL_MAX_CLIENTS ||
		    (other && s->nothers >= CTL_MAX_CLIENTS - CTL_RESERVED) ||
		    uid_count(s, peer.uid) >= CTL_MAX_PER_UID) {
			log_info("control socket: busy, refused uid %u pid %d",
				 (unsigned int)peer.uid, (int)peer.pid);
			say_and_close(fd, "16\nthe mount is busy (too many "
				      "control connections); nothing was "
				      "done, try again\n");
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer = peer;
		c->deadline = now_ms() + CTL_REQ_TIMEOUT_MS;
		s->cl[s->ncl++] = c;
		s->nothers += other;
	}
}

/* One round of the loop over the clients after poll() returned. */
static void serve_clients(struct ctl_server *s, const struct pollfd *pf)
{
	struct ctl_client *c;
	const char *why;
	int i, r;

	/* backwards: client_drop() moves the last (already served)
	 * client into slot i */
	for (i = s->ncl - 1; i >= 0; i--) {
		c = s->cl[i];
		r = 0;
		why = NULL;
		if (c->answering && pf[i + 2].revents)
			r = client_send(c) != 0;
		else if (pf[i + 2].revents)
			r = client_read(s, c, &why);
		if (!r && now_ms() >= c->deadline) {
			r = 1;
			if (!c->answering)
				why = "2\nrequest not complete within the "
				      "time allowed; nothing was done\n";
		}
		if (r)
			client_drop(s, i, why);
	}
}

static void *server_main(void *arg)
{
	struct ctl_server *s = arg;
	struct pollfd pf[CTL_MAX_CLIENTS + 2];
	int64_t next, now;
	int i, n, timeout;

	for (;;) {
		pf[0] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		next = INT64_MAX;
		for (i = 0; i < s->ncl; i++) {
			pf[i + 2] = (struct pollfd){
				.fd = s->cl[i]->fd,
				.events = s->cl[i]->answering ? POLLOUT
							      : POLLIN,
			};
			if (s->cl[i]->deadline < next)
				next = s->cl[i]->deadline;
		}
		n = s->ncl;
		now = now_ms();
		timeout = next == INT64_MAX ? -1 :
			  next <= now ? 0 : (int)(next - now);
		if (poll(pf, n + 2, timeout) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		/* clients before accepting: pf[i + 2] is s->cl[i] */
		serve_clients(s, pf);
		if (pf[0].revents & POLLIN)
			accept_some(s);
	}
	while (s->ncl)
		client_drop(s, s->ncl - 1, NULL);
	return NULL;
}

/*
 * Make room for our socket at path: nothing there, or a socket nobody
 * answers on (left by a mount that died), which is removed.  Anything
 * else stays: a live socket is another mount's, and a file that is not
 * a socket was never ours.  Returns 0, -EADDRINUSE, -EEXIST or -errno.
 *
 * XXX: a second mount starting at the very same moment may still find
 * the same stale socket gone and bind its own after our check; the
 * loser's bind() then fails with EADDRINUSE, nothing is taken over.
 */
static int clear_path(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("control socket %s: there is a file there that is "
			"not a socket; not removing it, give another path",
			path);
		return -EEXIST;
	}
	/* non-blocking: a live mount with a full backlog says EAGAIN */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno
								   : 0;
	close(fd);
	if (r == -ECONNREFUSED) {
		log_info("control socket %s: removing a stale socket", path);
		if (unlink(path) && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (!r || r == -EAGAIN || r == -EINPROGRESS) {
		log_err("control socket %s: another mount listens there; "
			"not taking it over (unmount it, or give this mount "
			"another --control-socket)", path);
		return -EADDRINUSE;
	}
	log_err("control socket %s: cannot tell whether another mount "
		"listens there (%s); not removing it", path, strerror(-r));
	return r;
}

/* Bind and listen on path, remembering which file we made; 0/-errno. */
static int listen_on(struct ctl_server *s, const struct sockaddr_un *sa)
{
	struct stat st;
	int r;

	if (bind(s->lfd, (const struct sockaddr *)sa, sizeof(*sa)))
		return -errno;
	r = 0;
	if (lstat(s->path, &st) || chmod(s->path, 0666) ||
	    listen(s->lfd, 64))
		r = -errno;
	if (r) {
		unlink(s->path);	/* ours: bind() made it just now */
		return r;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
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
	s->self = geteuid();
	s->path = strdup(path);
	dir = strdup(path);
	r = -ENOMEM;
	if (!s->path || !dir)
		goto out;
	mkdir(dirname(dir), 0755);
	r = clear_path(path, &sa);
	if (r)
		goto out;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	if (s->lfd < 0 || pipe2(s->wake, O_CLOEXEC)) {
		r = -errno;
		goto out;
	}
	r = listen_on(s, &sa);
	if (r) {
		if (r == -EADDRINUSE)
			log_err("control socket %s: another socket appeared "
				"there; not taking it over", path);
		goto out;
	}
	r = -pthread_create(&s->thread, NULL, server_main, s);
	if (r) {
		unlink(path);
		goto out;
	}
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
	struct stat st;

	if (!s)
		return;
	if (write(s->wake[1], "x", 1) != 1)
		log_warn("control socket: wake-up failed");
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	/* only our own socket: someone may have put another in its place */
	if (lstat(s->path, &st))
		st.st_mode = 0;		/* gone already */
	if (S_ISSOCK(st.st_mode) && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	else if (st.st_mode)
		log_notice("control socket %s: replaced by another file, "
			   "left in place", s->path);
	free(s->path);
	free(s);
}

/* --- client --------------------------------------------------------- */

/* Wait for events on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pf = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pf, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	ssize_t w;
	int r;

	while (n) {
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			r = wait_fd(fd, POLLOUT, deadline);
			if (r)
				return r;
			continue;
		}
		if (w <= 0)
			return -errno;
		p += w;
		n -= w;
	}
	return 0;
}

/* The request line for argv, in req; its length, or -EINVAL. */
static int build_request(int argc, char *const *argv, char *req,
			 size_t size)
{
	size_t used = 0, n;
	int i;

	for (i = 0; i < argc; i++) {
		n = strlen(argv[i]);
		if (strpbrk(argv[i], "\t\n") || used + n + 2 > size)
			return -EINVAL;
		memcpy(req + used, argv[i], n);
		used += n;
		req[used++] = i + 1 < argc ? '\t' : '\n';
	}
	return argc ? (int)used : -EINVAL;
}

/*
 * Read the answer until the server closes: the status line, then text
 * copied to out.  Returns the status, -ETIMEDOUT, or -EPROTO when the
 * connection ended before a whole status line.
 */
static int read_answer(int fd, FILE *out, int64_t deadline)
{
	char buf[4096], *nl;
	size_t used = 0;
	ssize_t got;
	int st = -EPROTO, r;

	for (;;) {
		r = wait_fd(fd, POLLIN, deadline);
		if (r)
			return r;
		got = recv(fd, buf + used, sizeof(buf) - 1 - used,
			   MSG_DONTWAIT);
		if (got < 0 && (errno == EINTR || errno == EAGAIN ||
				errno == EWOULDBLOCK))
			continue;
		if (got <= 0)
			break;
		used += got;
		buf[used] = '\0';
		if (st < 0) {
			nl = strchr(buf, '\n');
			if (!nl) {
				if (used + 1 < sizeof(buf))
					continue;
				return -EPROTO;
			}
			st = atoi(buf);
			fwrite(nl + 1, 1, used - (nl + 1 - buf), out);
		} else {
			fwrite(buf, 1, used, out);
		}
		used = 0;
	}
	return st;
}

int ctl_call(const char *path, int argc, char *const *argv, FILE *out)
{
	int64_t deadline = now_ms() + CTL_CALL_TIMEOUT_MS;
	struct timeval tv = { .tv_sec = CTL_CALL_TIMEOUT_MS / 1000 };
	char req[CTL_MAX_REQ];
	struct sockaddr_un sa;
	int fd = -1, len, st, r;

	r = make_addr(path, &sa);
	if (r)
		return r;
	len = build_request(argc, argv, req, sizeof(req));
	if (len < 0)
		return len;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a full backlog makes connect() wait: bound it too */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT
							    : -errno;
		goto out;
	}
	/* a refusal ("busy") may be waiting even when the send failed */
	r = send_all(fd, req, len, deadline);
	if (r != -ETIMEDOUT) {
		st = read_answer(fd, out, deadline);
		if (!r || st >= 0)
			r = st;
	}
out:
	close(fd);
	return r;
}
