/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the mount's control socket: a Unix stream socket on which the
 * CLI asks for grants, revocations, break-glass and reloads.
 *
 * Protocol (one request per connection): the client sends its arguments
 * separated by TAB and ended by one newline; arguments may not contain
 * TAB or newline.  The server answers with a status line "N\n" (0 ok,
 * 1 failed, 2 bad request, 13 denied) and free text, then closes.
 * The caller's identity is taken from the kernel (SO_PEERCRED and
 * SO_PEERGROUPS), never from the request.  The socket file is made
 * 0666 so that any local user can ask; the handler decides.
 */
#ifndef POLICY_CTL_H
#define POLICY_CTL_H

#include <stdio.h>
#include <sys/types.h>

#define CTL_MAX_ARGS	16
#define CTL_MAX_GROUPS	256
#define CTL_MAX_REQ	8192

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2, CTL_DENIED = 13 };

struct ctl_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t groups[CTL_MAX_GROUPS];
	int ngroups;
};

/* Handle one request; write the reply text to out; return a status. */
typedef int ctl_handler_fn(void *ctx, const struct ctl_peer *peer,
			   int argc, char **argv, FILE *out);

struct ctl_server;

/*
 * Listen on path (an existing socket file there is replaced; its parent
 * directory is created 0755 if missing) and serve requests on a thread,
 * one at a time, each with a 5-second I/O time-out.  Returns 0 or -errno.
 */
int ctl_server_start(const char *path, ctl_handler_fn *fn, void *ctx,
		     struct ctl_server **sp);

/* Stop the thread, remove the socket file, free; NULL-safe. */
void ctl_server_stop(struct ctl_server *s);

/*
 * Client: send argv[0..argc) to the server at path, copy the reply text
 * to out and return its status (>= 0), or a negative code when the
 * server could not be reached (-ENOENT, -ECONNREFUSED, ...) or an
 * argument holds a TAB or newline (-EINVAL).
 */
int ctl_call(const char *path, int argc, char *const *argv, FILE *out);

#endif /* POLICY_CTL_H */
