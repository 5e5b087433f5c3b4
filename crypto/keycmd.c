// SPDX-License-Identifier: MIT
/*
 * keycmd.c - run an external key service command (see keycmd.h).
 *
 * The input is written into the pipe before the child exists (it is far
 * below the pipe's capacity), so the parent never blocks on a child that
 * does not read and never sees SIGPIPE; nothing here touches signal
 * dispositions.  The child gets its own process group so a time-out kills
 * the whole shell pipeline, not only /bin/sh.  Output beyond the largest
 * valid answer is an error, never a reason to grow a buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "keycmd.h"
#include "secmem.h"

#define KEYCMD_TEXT_MAX	(4 * KEYCMD_BLOB_MAX / 3 + 8)

extern char **environ;

static long long keycmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Standard base64 of in[0..n) plus '\n' into out; returns the length. */
static size_t keycmd_b64enc(const uint8_t *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	out[len] = '\n';
	return (size_t)len + 1;
}

/*
 * Decode one line of standard base64 (trailing white space allowed) into
 * out (room for size).  Returns the byte count or -PHV_EFORMAT.
 */
static long keycmd_b64dec(char *text, size_t len, uint8_t *out, size_t size)
{
	size_t pad = 0;
	int n;

	while (len && strchr(" \t\r\n", text[len - 1]))
		len--;
	if (!len || len % 4 || len / 4 * 3 > size || memchr(text, '\n', len))
		return -PHV_EFORMAT;
	if (text[len - 1] == '=')
		pad++;
	if (text[len - 2] == '=')
		pad++;
	n = EVP_DecodeBlock(out, (unsigned char *)text, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -PHV_EFORMAT;
	return (long)((size_t)n - pad);
}

/*
 * "CMD "$1"" and the environment: ours, minus any PHIVAULT_KEY_OP or
 * PHIVAULT_VOLUME_ID inherited, plus the two for this call.  *varp is
 * the one allocated string, freed by the caller with env and line.
 */
static int keycmd_prepare(const char *cmd, const char *op,
			  const char *context, char **linep, char ***envp,
			  char **varp)
{
	size_t n = 0, i, k = 0, len = strlen(cmd) + 8;
	char **env;

	while (environ[n])
		n++;
	*linep = malloc(len);
	env = calloc(n + 3, sizeof(*env));
	if (!*linep || !env) {
		free(*linep);
		*linep = NULL;
		free(env);
		return -ENOMEM;
	}
	snprintf(*linep, len, "%s \"$1\"", cmd);
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "PHIVAULT_KEY_OP=", 16) &&
		    strncmp(environ[i], "PHIVAULT_VOLUME_ID=", 19))
			env[k++] = environ[i];
	env[k++] = strcmp(op, "wrap") ? "PHIVAULT_KEY_OP=unwrap" :
					"PHIVAULT_KEY_OP=wrap";
	if (context && asprintf(varp, "PHIVAULT_VOLUME_ID=%s", context) < 0)
		*varp = NULL;
	env[k] = *varp;
	*envp = env;
	return 0;
}

/* Read the child's stdout until EOF, overflow or the deadline. */
static int keycmd_collect(int fd, long long deadline, char *buf, size_t size,
			  size_t *lenp)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long long left;
	ssize_t n;

	*lenp = 0;
	for (;;) {
		left = deadline - keycmd_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		n = read(fd, buf + *lenp, size - *lenp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*lenp += (size_t)n;
		if (*lenp == size)
			return -PHV_EFORMAT;
	}
}

/*
 * Run "cmd op" with in[0..inlen) as base64 on stdin; decode its output
 * into out (room for outsize).  Returns the decoded length or a code.
 */
static long keycmd_run(const char *cmd, const char *op, const char *context,
		       int timeout_ms, const uint8_t *in, size_t inlen,
		       uint8_t *out, size_t outsize, int *exitp)
{
	char *text = secmem_alloc(KEYCMD_TEXT_MAX);
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	char *line = NULL, **env = NULL, *var = NULL;
	int status = 0, waited = 0;
	size_t len;
	pid_t pid = -1;
	long r;

	*exitp = -1;
	if (timeout_ms <= 0)
		timeout_ms = KEYCMD_TIMEOUT_MS;
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	r = keycmd_prepare(cmd, op, context, &line, &env, &var);
	if (r)
		goto out;
	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	len = keycmd_b64enc(in, inlen, text);
	if (write(in_pipe[1], text, len) != (ssize_t)len) {
		r = -EIO;
		goto out;
	}
	secmem_wipe(text, KEYCMD_TEXT_MAX);
	close(in_pipe[1]);
	in_pipe[1] = -1;

	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		setpgid(0, 0);
		dup2(in_pipe[0], STDIN_FILENO);
		dup2(out_pipe[1], STDOUT_FILENO);
		execle("/bin/sh", "sh", "-c", line, "sh", op, (char *)NULL,
		       env);
		_exit(127);
	}
	setpgid(pid, pid);	/* whichever of the two runs first */
	close(out_pipe[1]);
	out_pipe[1] = -1;

	r = keycmd_collect(out_pipe[0], keycmd_now_ms() + timeout_ms, text,
			   KEYCMD_TEXT_MAX, &len);
	if (r == -ETIMEDOUT)
		kill(-pid, SIGKILL);
	close(out_pipe[0]);
	out_pipe[0] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	waited = 1;
	if (WIFEXITED(status))
		*exitp = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		*exitp = 128 + WTERMSIG(status);
	if (r)
		goto out;
	if (*exitp == 127) {
		r = -ENOEXEC;
		goto out;
	}
	if (*exitp != 0) {
		r = -PHV_EKEYCMD;
		goto out;
	}
	r = keycmd_b64dec(text, len, out, outsize);
out:
	if (pid > 0 && !waited) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (in_pipe[0] >= 0)
		close(in_pipe[0]);
	if (in_pipe[1] >= 0)
		close(in_pipe[1]);
	if (out_pipe[0] >= 0)
		close(out_pipe[0]);
	if (out_pipe[1] >= 0)
		close(out_pipe[1]);
	free(line);
	free(env);
	free(var);
	secmem_free(text, KEYCMD_TEXT_MAX);
	return r;
}

int keycmd_wrap(const char *cmd, const char *context, int timeout_ms,
		const uint8_t secret[static KEYCMD_SECRET_LEN],
		uint8_t *blob, size_t *bloblen, int *exitp)
{
	long n;

	*bloblen = 0;
	n = keycmd_run(cmd, "wrap", context, timeout_ms, secret,
		       KEYCMD_SECRET_LEN, blob, KEYCMD_BLOB_MAX, exitp);
	if (n == 0)
		return -PHV_EFORMAT;
	if (n < 0)
		return (int)n;
	*bloblen = (size_t)n;
	return 0;
}

int keycmd_unwrap(const char *cmd, const char *context, int timeout_ms,
		  const uint8_t *blob, size_t bloblen,
		  uint8_t secret[static KEYCMD_SECRET_LEN], int *exitp)
{
	uint8_t *out = secmem_alloc(KEYCMD_BLOB_MAX);
	long n = -ENOMEM;

	*exitp = -1;
	if (!bloblen || bloblen > KEYCMD_BLOB_MAX)
		n = -EINVAL;
	else if (out)
		n = keycmd_run(cmd, "unwrap", context, timeout_ms, blob,
			       bloblen, out, KEYCMD_BLOB_MAX, exitp);
	if (n >= 0 && n != KEYCMD_SECRET_LEN)
		n = -PHV_EFORMAT;
	if (n == KEYCMD_SECRET_LEN) {
		memcpy(secret, out, KEYCMD_SECRET_LEN);
		n = 0;
	} else {
		secmem_wipe(secret, KEYCMD_SECRET_LEN);
	}
	secmem_free(out, KEYCMD_BLOB_MAX);
	return (int)n;
}
