/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the mount's control socket: a Unix stream socket on which the
 * CLI asks for grants, revocations, break-glass and reloads.
 *
 * Protocol (one request per connection): the client sends its arguments
 * separated by TAB and ended by one newline; arguments may not contain
 * TAB or newline.  The server answers with a status line "N\n" (0 ok,
 * 1 failed, 2 bad request, 13 denied, 16 busy) and free text, then
 * closes.  The whole request must arrive within CTL_REQ_TIMEOUT_MS of
 * the connection being accepted, with nothing after its newline; it is
 * carried out only then, and only while the client still holds the
 * connection open for the answer: a client may shut down its sending
 * side after the newline (shutdown(SHUT_WR), as socat and nc -N do) and
 * is answered, one that closed the connection is not.  A request that is
 * late, too long or cut short is never carried out (a late one is
 * answered with status 2).
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

#define CTL_MAX_CLIENTS		64	/* connections open at once */
#define CTL_MAX_PER_UID		4	/* of them, from one uid */
/* of them, kept for root and the mount's own uid: others share the rest */
#define CTL_RESERVED		(2 * CTL_MAX_PER_UID)
#define CTL_REQ_TIMEOUT_MS	2000	/* accept to whole request */
#define CTL_REPLY_TIMEOUT_MS	2000	/* for the client to take the answer */
#define CTL_CALL_TIMEOUT_MS	10000	/* the client's wait, all in all */

enum {
	CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2, CTL_DENIED = 13,
	CTL_BUSY = 16,	/* too many connections: nothing was done */
};

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
 * Listen on path (its parent directory is created 0755 if missing) and
 * serve requests on a thread.  Whatever is at path already is replaced
 * only if it is a socket nobody answers on (a dead mount's); a live one
 * gives -EADDRINUSE and anything that is not a socket -EEXIST, both
 * logged with the path and left alone.  Clients are served side by side,
 * at most CTL_MAX_CLIENTS at once, CTL_MAX_PER_UID of one uid, and
 * CTL_MAX_CLIENTS - CTL_RESERVED of all uids but 0 and the caller's
 * effective uid together (others are answered CTL_BUSY), each within the
 * deadlines above, so a slow client cannot hold up another and a crowd
 * of users cannot lock root out.  fn is called on that thread, one
 * request at a time.  Returns 0 or -errno.
 */
int ctl_server_start(const char *path, ctl_handler_fn *fn, void *ctx,
		     struct ctl_server **sp);

/*
 * Stop the thread, remove the socket file if it is still the one we
 * bound (not a file someone put in its place), free; NULL-safe.
 */
void ctl_server_stop(struct ctl_server *s);

/*
 * Client: send argv[0..argc) to the server at path, copy the reply text
 * to out and return its status (>= 0), all within CTL_CALL_TIMEOUT_MS.
 * Negative codes: the server could not be reached (-ENOENT,
 * -ECONNREFUSED, ...: nothing was done); -ETIMEDOUT, no answer in time,
 * or -EPROTO, the connection ended without a status (in both cases the
 * request may or may not have been carried out); -EINVAL, an argument
 * holds a TAB or newline.
 */
int ctl_call(const char *path, int argc, char *const *argv, FILE *out);

#endif /* POLICY_CTL_H */
