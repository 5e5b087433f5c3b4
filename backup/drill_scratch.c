// SPDX-License-Identifier: MIT
/*
 * drill_scratch.c - the drill's scratch directory (see drill.h).
 *
 * A drill restores plaintext PHI, so its scratch directory must not
 * outlive it.  Three layers:
 *
 *  - by default it lives in a private directory, <parent>/phivault-drill-
 *    <euid>, mode 0700 and owned by us (checked with lstat, never
 *    followed if it is a symlink), not directly in world-writable /var/tmp;
 *  - each scratch directory phivault-drill.XXXXXX holds an owner record
 *    (OWNER_FILE: pid and the process start time from /proc) next to the
 *    restored tree (TREE_DIR), and every drill first removes the scratch
 *    directories whose owner is gone (kill -9, power loss).  Directories
 *    without a record (older phivault, --keep-scratch) are only named;
 *  - drill_scratch_abort() removes the current one from a signal
 *    handler, with system calls only (openat, getdents64, unlinkat).
 *
 * Removal never follows symlinks: entries are unlinked relative to their
 * parent's descriptor and directories are opened with O_NOFOLLOW.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "drill.h"

#define SCRATCH_PREFIX	"phivault-drill."
#define OWNER_FILE	"owner"
#define TREE_DIR	"tree"
#define RM_DEPTH	48		/* deeper trees: the next sweep */

/* The scratch directory being used, for drill_scratch_abort(). */
static char cur_dir[4096];
static volatile sig_atomic_t cur_set;

struct dent64 {
	unsigned long long ino;
	long long off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* Remove name (relative to parent) and all below it; signal-safe. */
static void rm_at(int parent, const char *name, int depth)
{
	char buf[2048];
	long n, i;
	int fd, pass, found;

	if (!unlinkat(parent, name, 0) || errno == ENOENT)
		return;
	if (errno != EISDIR && errno != EPERM)
		return;
	if (depth >= RM_DEPTH)
		return;
	/* a restored directory may be mode 0500: let us in */
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (fd < 0) {
		if (fchmodat(parent, name, 0700, 0))
			return;
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return;
	}
	fchmod(fd, 0700);	/* best effort; unlinking tells */
	for (pass = 0; pass < 8; pass++) {
		found = 0;
		lseek(fd, 0, SEEK_SET);
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) >
		       0) {
			for (i = 0; i < n;) {
				struct dent64 *d = (struct dent64 *)(buf + i);

				i += d->reclen;
				if (!strcmp(d->name, ".") ||
				    !strcmp(d->name, ".."))
					continue;
				found = 1;
				rm_at(fd, d->name, depth + 1);
			}
		}
		if (!found)
			break;
	}
	close(fd);
	unlinkat(parent, name, AT_REMOVEDIR);
}

/* Remove the path dir (absolute or relative) and all below it. */
static void rm_path(const char *dir)
{
	char copy[sizeof(cur_dir) + 16], *slash;
	size_t len = strlen(dir);
	int pfd;

	if (len >= sizeof(copy))
		return;
	memcpy(copy, dir, len + 1);
	slash = strrchr(copy, '/');
	if (slash && slash != copy) {
		*slash = '\0';
		pfd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd >= 0) {
			rm_at(pfd, slash + 1, 0);
			close(pfd);
		}
	} else if (!slash) {
		rm_at(AT_FDCWD, copy, 0);
	}
}

/* Start time of pid in clock ticks since boot (/proc/PID/stat field 22). */
static unsigned long long proc_start(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the name may hold spaces and ')' */
	if (!p)
		return 0;
	/* field 3 follows ") "; the start time is field 22 */
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	sscanf(p, "%llu", &v);
	return v;
}

/* 1 when the owner recorded in dir/OWNER_FILE is still running. */
static int owner_alive(int dfd, long *pidp)
{
	unsigned long long start = 0;
	char buf[128];
	ssize_t n;
	long pid = 0;
	int fd;

	*pidp = 0;
	fd = openat(dfd, OWNER_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;		/* no record */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "pid %ld start %llu", &pid, &start) != 2 || pid <= 0)
		return -1;
	*pidp = pid;
	if (start)
		return proc_start(pid) == start;
	return !kill((pid_t)pid, 0) || errno == EPERM;
}

/* Log one line and append it to note (one line each). */
static void note_add(char *note, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note_add(char *note, size_t size, const char *fmt, ...)
{
	char line[1024];
	size_t used = strlen(note);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warn("drill: %s", line);
	if (used + strlen(line) + 2 <= size)
		snprintf(note + used, size - used, "%s\n", line);
}

/* Remove the scratch directories in parent whose drill is gone. */
static void sweep(const char *parent, char *note, size_t size)
{
	struct dirent *e;
	struct stat sb;
	DIR *d;
	int pfd, dfd, alive;
	long pid;

	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return;
	d = fdopendir(pfd);
	if (!d) {
		close(pfd);
		return;
	}
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, SCRATCH_PREFIX,
			    sizeof(SCRATCH_PREFIX) - 1))
			continue;
		if (fstatat(pfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
			continue;
		dfd = openat(pfd, e->d_name, O_RDONLY | O_DIRECTORY |
			     O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue;
		alive = owner_alive(dfd, &pid);
		close(dfd);
		if (alive < 0) {
			note_add(note, size, "%s/%s was left by an earlier "
				 "drill (no owner record): it may hold "
				 "plaintext PHI; remove it", parent,
				 e->d_name);
		} else if (!alive) {
			note_add(note, size, "removing %s/%s, the scratch "
				 "directory of drill process %ld, which is "
				 "gone", parent, e->d_name, pid);
			rm_at(pfd, e->d_name, 0);
		}
	}
	closedir(d);
}

/* parent/phivault-drill-<euid>: ours, a directory, mode 0700. */
static int private_dir(const char *parent, char **outp)
{
	struct stat sb;
	char *p = NULL;

	*outp = NULL;
	if (asprintf(&p, "%s/phivault-drill-%u", parent,
		     (unsigned int)geteuid()) < 0)
		return -ENOMEM;
	if (mkdir(p, 0700) && errno != EEXIST) {
		log_err("drill: cannot create %s: %s", p, strerror(errno));
		goto bad;
	}
	if (lstat(p, &sb)) {
		log_err("drill: %s: %s", p, strerror(errno));
		goto bad;
	}
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & 077)) {
		log_err("drill: %s is not a private directory of ours (a "
			"symlink, another owner, or open to others); "
			"remove it or use --scratch", p);
		free(p);
		return -EPERM;
	}
	*outp = p;
	return 0;
bad:
	free(p);
	return -errno;
}

static int write_owner(const char *dir)
{
	char path[4200], line[96];
	int fd, n, ret = 0;

	snprintf(path, sizeof(path), "%s/" OWNER_FILE, dir);
	n = snprintf(line, sizeof(line), "pid %ld start %llu\n",
		     (long)getpid(), proc_start((long)getpid()));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}

int drill_scratch_make(const char *parent, char **dirp, char **treep,
		       char *note, size_t notesize)
{
	char *priv = NULL, *dir = NULL, *tree = NULL;
	const char *base = parent;
	int ret;

	*dirp = NULL;
	*treep = NULL;
	if (!base || !*base) {
		base = getenv("TMPDIR");
		if (!base || !*base)
			base = "/var/tmp";
		sweep(base, note, notesize);	/* older versions' */
		ret = private_dir(base, &priv);
		if (ret)
			return ret;
		base = priv;
	}
	sweep(base, note, notesize);
	ret = -ENOMEM;
	if (asprintf(&dir, "%s/" SCRATCH_PREFIX "XXXXXX", base) < 0)
		goto out;
	if (!mkdtemp(dir)) {
		ret = -errno;
		log_err("drill: cannot create a scratch directory in %s: %s",
			base, strerror(errno));
		free(dir);
		dir = NULL;
		goto out;
	}
	if (strlen(dir) < sizeof(cur_dir)) {
		memcpy(cur_dir, dir, strlen(dir) + 1);
		cur_set = 1;
	}
	ret = write_owner(dir);
	if (!ret && asprintf(&tree, "%s/" TREE_DIR, dir) < 0)
		ret = -ENOMEM;
	if (!ret && mkdir(tree, 0700))
		ret = -errno;
	if (ret) {
		log_err("drill: cannot set up %s: %s", dir, strerror(-ret));
		drill_scratch_remove(dir);
		free(dir);
		dir = NULL;
		free(tree);
		tree = NULL;
		goto out;
	}
	*dirp = dir;
	*treep = tree;
	ret = 0;
out:
	free(priv);
	return ret;
}

void drill_scratch_remove(const char *dir)
{
	cur_set = 0;
	rm_path(dir);
}

void drill_scratch_keep(const char *dir)
{
	char path[4200];

	cur_set = 0;
	/* no owner record: every later drill names it until it is gone */
	snprintf(path, sizeof(path), "%s/" OWNER_FILE, dir);
	unlink(path);
}

void drill_scratch_abort(void)
{
	static const char sfx[] = ".dying";
	char dying[sizeof(cur_dir) + sizeof(sfx)];
	size_t len;

	if (!cur_set)
		return;
	cur_set = 0;
	/*
	 * Rename first: restore workers still running address files by
	 * path and so cannot add any to the tree being removed.  Anything
	 * they manage to leave keeps the owner record and is swept next
	 * time.
	 */
	len = strlen(cur_dir);
	memcpy(dying, cur_dir, len);
	memcpy(dying + len, sfx, sizeof(sfx));
	if (rename(cur_dir, dying))
		memcpy(dying, cur_dir, len + 1);
	rm_path(dying);
}
