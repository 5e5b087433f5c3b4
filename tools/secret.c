// SPDX-License-Identifier: MIT
/*
 * secret.c - read passphrases and key files (see secret.h).
 *
 * Buffers that ever held a secret come from secmem and are wiped.  A
 * passphrase command gets 30 seconds; its stderr passes through so the
 * user sees why it failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "crypto/secmem.h"
#include "secret.h"

#define SECRET_MAX	4096
#define SECRET_CMD_TIMEOUT_MS	30000

/* The names used in messages when the caller gives none (secret.h). */
static const struct secret_name {
	const char *env_file, *what, *hint;
} secret_names[] = {
	{ "PHIVAULT_PASSPHRASE_FILE", "volume passphrase",
	  "--passphrase-file FILE, --passphrase-command CMD, --keyfile FILE "
	  "or PHIVAULT_PASSPHRASE_FILE" },
	{ "PHIVAULT_REPO_PASSPHRASE_FILE", "repository passphrase",
	  "--repo-passphrase-file FILE or PHIVAULT_REPO_PASSPHRASE_FILE" },
	{ NULL, "passphrase", "--passphrase-file FILE or "
	  "--passphrase-command CMD" },
};

static const struct secret_name *secret_name(const struct secret_opts *o)
{
	const struct secret_name *n = secret_names;

	while (n->env_file && (!o->env_file ||
			       strcmp(n->env_file, o->env_file)))
		n++;
	return n;
}

static const char *secret_what(const struct secret_opts *o)
{
	return o->what ? o->what : secret_name(o)->what;
}

static const char *secret_hint(const struct secret_opts *o)
{
	return o->hint ? o->hint : secret_name(o)->hint;
}

int secret_opt(struct secret_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 0x1001:
		o->keyfile = arg;
		return 1;
	case 0x1002:
		o->passphrase_file = arg;
		return 1;
	case 0x1003:
		o->passphrase_command = arg;
		return 1;
	default:
		return 0;
	}
}

void secret_release(struct secret *s)
{
	secmem_free(s->data, SECRET_MAX);
	s->data = NULL;
	s->len = 0;
}

/* Read all of fd (at most SECRET_MAX bytes) into s; -EFBIG if longer. */
static int secret_read_fd(int fd, struct secret *s, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		if (timeout_ms >= 0) {
			n = poll(&pfd, 1, timeout_ms);
			if (n == 0)
				return -ETIMEDOUT;
		}
		n = read(fd, s->data + s->len, SECRET_MAX - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		s->len += (size_t)n;
		if (s->len == SECRET_MAX)
			return -EFBIG;
	}
}

static void secret_chomp(struct secret *s)
{
	if (s->len && s->data[s->len - 1] == '\n')
		s->len--;
	if (s->len && s->data[s->len - 1] == '\r')
		s->len--;
}

static int secret_from_file(const struct secret_opts *o, const char *path,
			    int keyfile, struct secret *s)
{
	const char *what = keyfile ? "key" : secret_what(o);
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		fprintf(stderr, "phivault: cannot open %s file '%s': %s\n",
			what, path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) &&
	    (keyfile || S_ISREG(st.st_mode))) {
		fprintf(stderr, "phivault: %s%s file '%s' is readable by group "
			"or others (mode %04o); run 'chmod 600 %s'%s\n",
			keyfile ? "" : "warning: ", what, path,
			st.st_mode & 07777, path, keyfile ? " first" : "");
		if (keyfile) {
			close(fd);
			return -EPERM;
		}
	}
	r = secret_read_fd(fd, s, -1);
	close(fd);
	if (r == -EFBIG)
		fprintf(stderr, "phivault: %s file '%s' is longer than %d "
			"bytes\n", what, path, SECRET_MAX - 1);
	else if (r < 0)
		fprintf(stderr, "phivault: reading %s file '%s': %s\n", what,
			path, strerror(-r));
	if (!r && !keyfile)
		secret_chomp(s);
	if (!r && !s->len) {
		fprintf(stderr, "phivault: %s file '%s' is empty\n", what,
			path);
		r = -EINVAL;
	}
	return r;
}

static int secret_from_command(const char *cmd, struct secret *s)
{
	int pfd[2], status, r;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	r = secret_read_fd(pfd[0], s, SECRET_CMD_TIMEOUT_MS);
	close(pfd[0]);
	if (r == -ETIMEDOUT)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "phivault: passphrase command '%s' did not "
			"finish within %d s\n", cmd, SECRET_CMD_TIMEOUT_MS / 1000);
		return r;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "phivault: passphrase command '%s' failed "
			"(exit status %d)\n", cmd,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -PHV_EBADKEY;
	}
	secret_chomp(s);
	if (r == 0 && !s->len) {
		fprintf(stderr, "phivault: passphrase command '%s' printed "
			"nothing\n", cmd);
		r = -EINVAL;
	}
	return r;
}

static int secret_prompt_once(int tty, const char *prompt, struct secret *s)
{
	struct termios old, quiet;
	int r;

	if (write(tty, prompt, strlen(prompt)) < 0)
		return -errno;
	if (tcgetattr(tty, &old) < 0)
		return -errno;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	tcsetattr(tty, TCSAFLUSH, &quiet);
	s->len = 0;
	for (;;) {
		ssize_t n = read(tty, s->data + s->len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || s->data[s->len] == '\n')
			break;
		if (++s->len == SECRET_MAX - 1)
			break;
	}
	r = -errno;
	tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0)
		r = -errno;
	return s->len ? 0 : (r ? r : -EINVAL);
}

static int secret_from_tty(const struct secret_opts *o, const char *prompt,
			   int confirm, struct secret *s)
{
	struct secret again = { 0 };
	int tty, r;

	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		fprintf(stderr, "phivault: no terminal to ask for the %s; "
			"supply it with %s\n", secret_what(o), secret_hint(o));
		return -ENOTTY;
	}
	r = secret_prompt_once(tty, prompt, s);
	if (!r && confirm) {
		again.data = secmem_alloc(SECRET_MAX);
		r = again.data ? secret_prompt_once(tty, "Repeat passphrase: ",
						    &again) : -ENOMEM;
		if (!r && (again.len != s->len ||
			   secmem_cmp(again.data, s->data, s->len))) {
			fprintf(stderr, "phivault: the passphrases differ\n");
			r = -EINVAL;
		}
		secret_release(&again);
	}
	if (r == -EINVAL && !s->len)
		fprintf(stderr, "phivault: empty %s refused\n",
			secret_what(o));
	close(tty);
	return r;
}

/* Warn about a new passphrase shorter than SECRET_WEAK_LEN characters. */
static void secret_warn_weak(const struct secret_opts *o,
			     const struct secret *s)
{
	size_t i, chars = 0;

	for (i = 0; i < s->len; i++)
		chars += (s->data[i] & 0xc0) != 0x80;	/* UTF-8 lead bytes */
	if (chars < SECRET_WEAK_LEN)
		fprintf(stderr, "phivault: warning: the new %s has only %zu "
			"characters; use %d or more (a few random words), or "
			"a key file\n", secret_what(o), chars,
			SECRET_WEAK_LEN);
}

int secret_get(const struct secret_opts *o, const char *prompt, int confirm,
	       struct secret *s)
{
	const char *file = o->passphrase_file;
	int r;

	memset(s, 0, sizeof(*s));
	s->data = secmem_alloc(SECRET_MAX);
	if (!s->data)
		return -ENOMEM;
	s->type = KEYSLOT_PASSPHRASE;
	if (!file && !o->keyfile && !o->passphrase_command && o->env_file)
		file = getenv(o->env_file);

	if (o->keyfile) {
		s->type = KEYSLOT_KEYFILE;
		r = secret_from_file(o, o->keyfile, 1, s);
	} else if (file && *file) {
		r = secret_from_file(o, file, 0, s);
	} else if (o->passphrase_command) {
		r = secret_from_command(o->passphrase_command, s);
	} else {
		r = secret_from_tty(o, prompt, confirm, s);
	}
	if (r < 0)
		secret_release(s);
	else if (confirm && s->type == KEYSLOT_PASSPHRASE)
		secret_warn_weak(o, s);
	return r;
}
