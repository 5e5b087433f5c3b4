// SPDX-License-Identifier: MIT
/*
 * cmd_volume.c - `phivault init`, `mount`, `fsck` and `info`: the
 * encrypted volume's subcommands.
 *
 * Design: thin wrappers over fs/vol.h and fs/fuse_ops.h.  `mount` does
 * everything that can fail (secret, unlock, config MAC, FUSE mount) in the
 * foreground process and only then detaches, so a wrong passphrase is an
 * error message and a non-zero exit with nothing mounted.  Secrets come
 * from tools/secret.h only, never from the command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/secmem.h"
#include "fs/fuse_ops.h"
#include "fs/vol.h"
#include "cliaudit.h"
#include "cmd.h"
#include "keysrc.h"
#include "mount_guard.h"
#include "secret.h"
#include "unlock.h"


/* ---- init ------------------------------------------------------------- */

static int parse_argon(const char *s, struct kdf_argon2_params *a)
{
	if (sscanf(s, "%" SCNu32 ":%" SCNu32 ":%" SCNu32, &a->t_cost,
		   &a->m_cost, &a->lanes) != 3 || !a->t_cost ||
	    a->m_cost < 8 * a->lanes || !a->lanes)
		return -EINVAL;
	return 0;
}

static int parse_size(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	if (*end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* What `init` was asked for beyond the first secret. */
struct init_opts {
	int recovery;			/* --recovery-key */
	unsigned int shares, threshold;	/* 0: print the key whole */
	const char *label;		/* first slot's label */
};

/* Add a "recovery" key-file slot with a fresh random key and print the
 * key (or its shares) once, after the slot is on disk. */
static int init_recovery(struct vol *vol, const struct init_opts *io)
{
	struct keyslot t = { .type = KEYSLOT_KEYFILE, .label = "recovery" };
	uint8_t *key = secmem_alloc(KEYSRC_SECRET_LEN);
	uint32_t id = 0;
	int r;

	r = key ? secmem_random(key, KEYSRC_SECRET_LEN) : -ENOMEM;
	if (!r)
		r = vol_slot_add(vol, &t, key, KEYSRC_SECRET_LEN, NULL, &id);
	if (r) {
		fprintf(stderr, "phivault init: cannot add the recovery key "
			"slot: %s (the volume exists without one; see 'key "
			"add')\n", phv_strerror(r));
		goto out;
	}
	printf("recovery key (slot %u); it is shown only this once:\n", id);
	r = keysrc_recovery_print(key, KEYSRC_SECRET_LEN, io->shares,
				  io->threshold);
out:
	secmem_free(key, KEYSRC_SECRET_LEN);
	return r;
}

/* The first slot's secret: from a token or key service (with its recipe
 * and the volume ID it binds) or from secret_get(). */
static int init_secret(const char *dir, const struct secret_opts *so,
		       const struct keysrc_opts *ko, const uint8_t *id,
		       struct secret *s, char *recipe)
{
	char prompt[PATH_MAX + 48];

	if (keysrc_type(ko)) {
		s->data = secmem_alloc(KEYSRC_SECRET_LEN);
		s->len = KEYSRC_SECRET_LEN;
		s->type = keysrc_type(ko);
		return s->data ? keysrc_new(ko, id, s->data, recipe,
					    VOL_SLOT_RECIPE_MAX) : -ENOMEM;
	}
	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", dir);
	return secret_get(so, prompt, 1, s);
}

static int init_opt(int c, const char *arg, struct vol_create_opts *co,
		    struct init_opts *io)
{
	char *end;
	long v;

	switch (c) {
	case 'b':
		if (!parse_size(arg, &co->block_size) &&
		    vol_block_size_valid(co->block_size))
			return 0;
		fprintf(stderr, "phivault init: block size must be 4096, "
			"8192, 16384, 32768, 65536 or 131072\n");
		return -1;
	case 'a':
		if (!parse_argon(arg, &co->argon))
			return 0;
		fprintf(stderr, "phivault init: --argon2 wants T:M:P "
			"(passes, KiB, lanes)\n");
		return -1;
	case 'r':
		io->recovery = 1;
		return 0;
	case 'l':
		io->label = arg;
		return 0;
	case 'n':
	case 'm':
		v = strtol(arg, &end, 10);
		if (*end || v < 2 || v > 255) {
			fprintf(stderr, "phivault init: --shares and "
				"--threshold want 2 to 255\n");
			return -1;
		}
		*(c == 'n' ? &io->shares : &io->threshold) = (unsigned int)v;
		return 0;
	default:
		return -1;
	}
}

int cmd_init(int argc, char **argv)
{
	static const struct option lo[] = {
		UNLOCK_LONGOPTS,
		{ "block-size", required_argument, NULL, 'b' },
		{ "argon2", required_argument, NULL, 'a' },
		{ "recovery-key", no_argument, NULL, 'r' },
		{ "shares", required_argument, NULL, 'n' },
		{ "threshold", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct vol_create_opts co = { 0 };
	struct init_opts io = { 0 };
	struct secret s = { 0 };
	uint8_t id[VOL_ID_LEN];
	char *recipe = calloc(1, VOL_SLOT_RECIPE_MAX);
	struct vol *vol = NULL;
	int c, r, st = EXIT_USAGE;
	const char *dir;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (unlock_opt(&so, &ko, c, optarg))
			continue;
		if (init_opt(c, optarg, &co, &io))
			goto usage;
	}
	if (optind != argc - 1 || !!io.shares != !!io.threshold ||
	    io.threshold > io.shares || (io.shares && !io.recovery))
		goto usage;
	st = EXIT_FAIL;
	dir = argv[optind];
	keysrc_env(&so, &ko);
	/* the token and the key service bind the ID: draw it first */
	r = recipe ? secmem_random(id, sizeof(id)) : -ENOMEM;
	if (!r)
		r = init_secret(dir, &so, &ko, id, &s, recipe);
	if (r)
		goto out;
	co.id = id;
	co.recipe = recipe[0] ? recipe : NULL;
	co.label = io.label;
	r = vol_create_open(dir, &co, s.type, s.data, s.len, &vol);
	if (r == -ENOTEMPTY)
		fprintf(stderr, "phivault init: %s is not empty; refusing to "
			"create a volume there\n", dir);
	else if (r)
		fprintf(stderr, "phivault init: cannot create a volume in %s: "
			"%s\n", dir, phv_strerror(r));
	if (r)
		goto out;
	printf("created volume in %s (block size %u, %s slot 1)\n", dir,
	       co.block_size ? co.block_size : VOL_DEFAULT_BLOCK,
	       keyslot_type_name(s.type));
	fflush(stdout);
	if (io.recovery && init_recovery(vol, &io))
		goto out;
	st = EXIT_OK;
out:
	if (s.type == KEYSLOT_PKCS11 || s.type == KEYSLOT_COMMAND)
		secmem_free(s.data, KEYSRC_SECRET_LEN);
	else
		secret_release(&s);
	vol_close(vol);
	free(recipe);
	return st;
usage:
	free(recipe);
	return cmd_usage("init", EXIT_USAGE);
}

/* ---- the cipherdir lock ------------------------------------------------ */

/*
 * A mount holds an exclusive flock(2) on the cipherdir itself for the
 * daemon's life (the fork in fuse_daemonize() keeps the open file), so a
 * second daemon on the same volume is refused.  It is the directory, not
 * .phivault.conf: key and policy commands replace that file by rename.
 * Those commands and backup work on a mounted volume and take no lock;
 * fsck only probes it.  Returns 0 with *fdp holding the lock (-1 when the
 * directory cannot be opened: unlocking will say why), -EWOULDBLOCK when
 * another process holds it, or another negative errno.
 */
static int cipherdir_lock(const char *dir, int op, int *fdp)
{
	int fd, r;

	*fdp = -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fd < 3) {
		/* fuse_daemonize() puts /dev/null on 0-2 */
		r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		if (r < 0)
			return -errno;
		fd = r;
	}
	if (flock(fd, op | LOCK_NB) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

/* ---- mount ------------------------------------------------------------ */

/* Undo the \ooo escapes of a /proc/self/mountinfo field, in place. */
static void mountinfo_unescape(char *s)
{
	char *o = s;

	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				    (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = '\0';
}

/*
 * Is the absolute path a mount point?  1 (with the type of the topmost
 * mount, e.g. "fuse.phivault", in type), 0, or -errno when
 * /proc/self/mountinfo cannot be read.
 */
static int mount_type(const char *path, char *type, size_t size)
{
	char *line = NULL, *dash;
	char mp[PATH_MAX], ty[64];
	size_t cap = 0;
	int found = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - TYPE SOURCE ... */
		dash = strstr(line, " - ");
		if (!dash || sscanf(dash, " - %63s", ty) != 1)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		mountinfo_unescape(mp);
		if (strcmp(mp, path))
			continue;
		found = 1;
		snprintf(type, size, "%s", ty);
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * The absolute path of the mount point arg in mnt.  -ENOTCONN when arg is
 * a FUSE mount whose daemon died; mnt then holds the parent's real path
 * and arg's last component, as the mount table has it.
 */
static int mount_point_path(const char *arg, char mnt[PATH_MAX])
{
	char *copy, *slash, *base;
	const char *parent;
	int r = 0;

	if (realpath(arg, mnt))
		return 0;
	if (errno != ENOTCONN)
		return -errno;
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	slash = copy + strlen(copy);
	while (slash > copy + 1 && slash[-1] == '/')
		*--slash = '\0';
	slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	parent = !slash ? "." : slash == copy ? "/" : copy;
	if (slash)
		*slash = '\0';
	if (!realpath(parent, mnt))
		r = -errno;
	else if (snprintf(mnt + strlen(mnt), PATH_MAX - strlen(mnt), "%s%s",
			  strcmp(mnt, "/") ? "/" : "", base) >=
		 (int)(PATH_MAX - strlen(mnt)))
		r = -ENAMETOOLONG;
	free(copy);
	return r ? r : -ENOTCONN;
}

/*
 * Refuse, before asking for a secret, what would stack mounts: a mount
 * point that is already a mount (live, or dead after its daemon was
 * killed) and a cipherdir that another phivault daemon serves.  Fills
 * mnt with the mount point's absolute path and *lockfdp with the
 * cipherdir lock.  Prints why it refuses.
 */
static int mount_check(const char *dir, const char *arg, char mnt[PATH_MAX],
		       int *lockfdp)
{
	char type[64] = "";
	struct statfs sf;
	int r, tries;

	*lockfdp = -1;
	r = mount_point_path(arg, mnt);
	/* the kernel may answer stat from its cache; statfs asks the daemon */
	if (!r && mount_type(mnt, type, sizeof(type)) == 1 &&
	    statfs(mnt, &sf) < 0 && errno == ENOTCONN)
		r = -ENOTCONN;
	if (r == -ENOTCONN) {
		mount_type(mnt, type, sizeof(type));
		if (!type[0] || !strcmp(type, "fuse.phivault"))
			strcpy(type, "phivault");
		fprintf(stderr, "phivault mount: %s is a dead %s mount (its "
			"daemon is gone); run 'fusermount3 -u %s' first\n", arg,
			type, arg);
		return r;
	}
	if (r) {
		fprintf(stderr, "phivault mount: %s: %s\n", arg, strerror(-r));
		return r;
	}
	if (mount_type(mnt, type, sizeof(type)) == 1) {
		fprintf(stderr, "phivault mount: %s is already a mount point "
			"(%s); unmount it first or choose another directory\n",
			arg, type);
		return -EBUSY;
	}
	/*
	 * A daemon whose mount was just removed (fusermount3 -u) holds the
	 * lock until it has finished exiting: give it a few seconds.
	 */
	for (tries = 0; tries < 50; tries++) {
		r = cipherdir_lock(dir, LOCK_EX, lockfdp);
		if (r != -EWOULDBLOCK)
			break;
		usleep(100 * 1000);
	}
	if (r == -EWOULDBLOCK)
		fprintf(stderr, "phivault mount: %s is locked: another "
			"phivault daemon serves it ('findmnt -t "
			"fuse.phivault' lists the mounts; unmount it first), "
			"or some other process holds a lock on the directory "
			"('fuser -v %s' shows which)\n", dir, dir);
	else if (r)
		fprintf(stderr, "phivault mount: cannot lock %s: %s\n", dir,
			strerror(-r));
	return r;
}

/*
 * Tell the CLI where this mount's control socket and audit log are
 * (tools/cliaudit.h), so that its records of key actions reach this
 * mount's log and no other.  w is resolved in the foreground (before the
 * daemon's chdir), published by the serving process (its pid).  Returns
 * w, or NULL after freeing it (logged: the mount goes on, and the CLI
 * writes no record while it runs unless it can reach the socket).
 */
static struct mount_guard_where *publish_mount(struct vol *vol,
					       struct mount_guard_where *w)
{
	int r;

	if (!w)
		return NULL;
	r = cliaudit_publish(vol, w);
	if (r) {
		log_warn("cannot publish the mount's socket and log in %s/"
			 CLIAUDIT_MOUNT_FILE ": %s", w->cipherdir,
			 phv_strerror(r));
		free(w);
		return NULL;
	}
	return w;
}

/*
 * Detach from the terminal as fuse_daemonize() does (fork, new session,
 * "/" as working directory, /dev/null on stdin and stdout), except that
 * the parent exits only when the serving process calls ready(): with 0
 * once its guard and control socket are up, so that a script's next
 * command (`phivault grants`) finds them, or with 1 if it failed.
 * stderr stays the caller's until then, so a failure to start the
 * guard is printed where the user is looking.  Returns the descriptor
 * ready() writes to, or -1.
 */
static int detach(void)
{
	int p[2], null;
	ssize_t n;
	pid_t pid;
	char c = 1;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 && c == 0 ? EXIT_OK : EXIT_FAIL);
	}
	close(p[0]);
	if (setsid() < 0 || chdir("/")) {
		close(p[1]);
		return -1;
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (null > 2)
			close(null);
	}
	return p[1];
}

/* Tell the waiting parent how the start went; -1 is a no-op. */
static void ready(int *fdp, int ok)
{
	char c = ok ? 0 : 1;
	int null;

	if (*fdp < 0)
		return;
	if (ok) {
		log_use_syslog(1);	/* stderr is the caller's no more */
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 2);
			close(null);
		}
	}
	if (write(*fdp, &c, 1) < 0)
		log_warn("cannot tell the starting process: %s",
			 strerror(errno));
	close(*fdp);
	*fdp = -1;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option lo[] = {
		UNLOCK_LONGOPTS,
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "policy", no_argument, NULL, 0x1201 },
		{ "audit-log", required_argument, NULL, 0x1202 },
		{ "control-socket", required_argument, NULL, 0x1203 },
		{ "alert-hook", required_argument, NULL, 0x1204 },
		{ "volume-name", required_argument, NULL, 0x1205 },
		{ "audit-rotate-size", required_argument, NULL, 0x1206 },
		{ "audit-rotate-age", required_argument, NULL, 0x1207 },
		{ "audit-syslog", optional_argument, NULL, 0x1208 },
		{ NULL, 0, NULL, 0 },
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct mount_guard_opts go = { 0 };
	struct mount_guard *mg = NULL;
	struct mount_guard_where *where = NULL;
	struct vol_fuse *fu = NULL;
	struct vol *vol = NULL;
	const char *fopts = NULL;
	char mnt[PATH_MAX];
	int c, r, fg = 0, debug = 0, lockfd = -1, readyfd = -1;

	while ((c = getopt_long(argc, argv, "fdo:", lo, NULL)) != -1) {
		if (unlock_opt(&so, &ko, c, optarg))
			continue;
		if (c == 'f')
			fg = 1;
		else if (c == 'd')
			debug = fg = 1;
		else if (c == 'o')
			fopts = optarg;
		else if (c == 0x1201)
			go.require = 1;
		else if (c == 0x1202)
			go.audit_log = optarg;
		else if (c == 0x1203)
			go.socket = optarg;
		else if (c == 0x1204)
			go.alert_hook = optarg;
		else if (c == 0x1205)
			go.volume_name = optarg;
		else if (c == 0x1206)
			go.rotate_size = optarg;
		else if (c == 0x1207)
			go.rotate_age = optarg;
		else if (c == 0x1208)
			go.syslog = optarg ? optarg : "yes";
		else
			return cmd_usage("mount", EXIT_USAGE);
	}
	if (optind != argc - 2)
		return cmd_usage("mount", EXIT_USAGE);
	if (mount_guard_check_opts(&go))
		return EXIT_USAGE;
	if (debug)
		log_set_level(LOG_DEBUG);

	/* mnt absolute: the daemon runs in "/" and unmounts by path */
	if (mount_check(argv[optind], argv[optind + 1], mnt, &lockfd))
		return EXIT_FAIL;
	r = keysrc_unlock(argv[optind], &so, &ko, &vol);
	if (r) {
		close(lockfd);
		return unlock_exit(r);
	}
	/* an installed policy is always enforced: refuse here, before
	 * mounting, when it cannot be (docs/POLICY.md) */
	if (mount_guard_prepare(vol, argv[optind], &go, &mg)) {
		vol_close(vol);
		close(lockfd);
		return EXIT_FAIL;
	}
	where = calloc(1, sizeof(*where));
	if (where && mount_guard_paths(argv[optind], &go, where)) {
		free(where);
		where = NULL;
	}
	r = vol_fuse_new(vol, mnt, fopts, geteuid() == 0, debug, &fu);
	if (r) {
		fprintf(stderr, "phivault mount: cannot mount %s on %s\n",
			argv[optind], argv[optind + 1]);
		free(where);
		mount_guard_stop(mg);
		vol_close(vol);
		close(lockfd);
		return EXIT_FAIL;
	}
	if (!fg) {
		readyfd = detach();
		if (readyfd < 0) {
			fprintf(stderr, "phivault mount: cannot detach: %s\n",
				strerror(errno));
			free(where);
			vol_fuse_free(fu);
			mount_guard_stop(mg);
			vol_close(vol);
			close(lockfd);
			return EXIT_FAIL;
		}
		/* fork() dropped the secure heap's page locks: re-lock what
		 * is resident (and whatever of it gets touched later) */
		if (mlockall(MCL_CURRENT | MCL_ONFAULT))
			log_warn("cannot lock key memory after detaching: %s",
				 strerror(errno));
		prctl(PR_SET_DUMPABLE, 0);
	}
	where = publish_mount(vol, where);
	/* threads (guard, socket, watcher) start in the serving process */
	r = mount_guard_start(mg, fu);
	ready(&readyfd, !r);
	if (!r)
		r = vol_fuse_run(fu);
	mount_guard_stop(mg);
	if (where)
		cliaudit_unpublish(where);
	free(where);
	vol_fuse_free(fu);
	vol_close(vol);
	close(lockfd);		/* after the last write to the cipherdir */
	return r ? EXIT_FAIL : EXIT_OK;
}

/* ---- info ------------------------------------------------------------- */

static void print_time(const char *label, int64_t t)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, sizeof(buf), "%" PRId64, t);
	printf("%s%s", label, buf);
}

int cmd_info(int argc, char **argv)
{
	struct vol_info *vi;
	char id[B64_ENCLEN(VOL_ID_LEN) + 1];
	unsigned int i;
	int r;

	if (argc != 2)
		return cmd_usage("info", EXIT_USAGE);
	vi = malloc(sizeof(*vi));
	if (!vi)
		return EXIT_FAIL;
	r = vol_info_read(argv[1], vi);
	if (r) {
		fprintf(stderr, "phivault info: %s/%s is missing or damaged: "
			"%s\n", argv[1], VOL_CONF_NAME, phv_strerror(r));
		free(vi);
		return EXIT_FAIL;
	}
	b64_encode(vi->id, VOL_ID_LEN, id);
	printf("volume:      %s\nformat:      %u\nblock size:  %u\n", argv[1],
	       vi->format, vi->block_size);
	printf("volume id:   %s\n", id);
	print_time("created:     ", vi->created);
	printf("\nkey slots:   %u\n", vi->nslots);
	for (i = 0; i < vi->nslots; i++) {
		const struct keyslot *s = &vi->slots[i];

		printf("  slot %u: %s", s->id, keyslot_type_name(s->type));
		if (s->type == KEYSLOT_PASSPHRASE)
			printf(" (argon2id t=%u m=%u KiB p=%u)",
			       s->argon.t_cost, s->argon.m_cost,
			       s->argon.lanes);
		print_time(", created ", s->created);
		printf("%s%s\n", s->label[0] ? ", label " : "", s->label);
	}
	printf("KEK versions: %u (current %u)\n", vi->nkeks, vi->current_kek);
	for (i = 0; i < vi->nkeks; i++) {
		printf("  kek %u", vi->kek_versions[i]);
		print_time(", created ", vi->kek_created[i]);
		printf("%s\n", vi->kek_versions[i] == vi->current_kek ?
		       " (current)" : "");
	}
	printf("(the configuration MAC is checked only when unlocking)\n");
	free(vi);
	return EXIT_OK;
}

/* ---- fsck ------------------------------------------------------------- */

struct fsck {
	struct vol *vol;
	unsigned long files, dirs, links, damaged;
	char *buf;
	size_t bufsize;
};

static void fsck_bad(struct fsck *k, const char *path, const char *backing,
		     const char *what)
{
	k->damaged++;
	printf("DAMAGED %s: %s (backing %s/%s)\n", path, what,
	       vol_cipherdir(k->vol), backing);
}

static void fsck_file(struct fsck *k, const char *path, const char *bpath)
{
	struct vol_file *f = NULL;
	uint64_t off = 0, bad;
	char what[96];
	ssize_t n;
	int r;

	k->files++;
	r = vol_file_open(k->vol, path, O_RDONLY, 0, &f);
	if (r) {
		fsck_bad(k, path, bpath, r == -PHV_EAUTH ?
			 "header fails authentication" : phv_strerror(r));
		return;
	}
	for (;;) {
		n = vol_file_pread(f, k->buf, k->bufsize, (off_t)off, &bad);
		if (n == -PHV_EAUTH) {
			snprintf(what, sizeof(what), "block %" PRIu64
				 " fails authentication", bad);
			fsck_bad(k, path, bpath, what);
			/* skip the block and go on */
			off = (bad + 1) * vol_block_size(k->vol);
			continue;
		}
		if (n < 0) {
			fsck_bad(k, path, bpath, phv_strerror((int)n));
			break;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
	}
	{
		struct stat st;

		if (!vol_file_stat(f, &st) && (uint64_t)st.st_size < off)
			fsck_bad(k, path, bpath, "impossible backing size");
	}
	vol_file_close(f);
}

static void fsck_dir(struct fsck *k, const char *path, const char *bpath,
		     int depth)
{
	struct vol_dirent *e = malloc(sizeof(*e));
	struct vol_dir *d = NULL;
	char *cpath = NULL, *cb = NULL;
	int r;

	k->dirs++;
	if (!e)
		return;
	r = vol_dir_open(k->vol, path, &d);
	if (r) {
		fsck_bad(k, *path ? path : "/", bpath,
			 r == -PHV_EAUTH ? "directory ID missing or damaged" :
			 phv_strerror(r));
		goto out;
	}
	cpath = malloc(PATH_MAX * 2);
	cb = malloc(PATH_MAX * 2);
	if (!cpath || !cb)
		goto out;
	while ((r = vol_dir_next(d, e)) > 0) {
		snprintf(cb, PATH_MAX * 2, "%s%s%s", bpath, *bpath ? "/" : "",
			 e->backing);
		if (e->damaged) {
			snprintf(cpath, PATH_MAX * 2, "%s/?", path);
			fsck_bad(k, cpath, cb, "name fails authentication");
			continue;
		}
		snprintf(cpath, PATH_MAX * 2, "%s/%s", path, e->name);
		if (S_ISDIR(e->st.st_mode) && depth < 256) {
			fsck_dir(k, cpath, cb, depth + 1);
		} else if (S_ISREG(e->st.st_mode)) {
			fsck_file(k, cpath, cb);
		} else if (S_ISLNK(e->st.st_mode)) {
			k->links++;
			r = vol_readlink(k->vol, cpath, k->buf, k->bufsize);
			if (r < 0)
				fsck_bad(k, cpath, cb, "symlink target fails "
					 "authentication");
		}
	}
	if (r < 0)
		fsck_bad(k, path, bpath, phv_strerror(r));
out:
	vol_dir_close(d);
	free(cpath);
	free(cb);
	free(e);
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option lo[] = {
		UNLOCK_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct secret_opts so = { .env_file = UNLOCK_ENV_PASSFILE };
	struct keysrc_opts ko = { 0 };
	struct fsck k = { 0 };
	int c, r, lockfd;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (!unlock_opt(&so, &ko, c, optarg))
			return cmd_usage("fsck", EXIT_USAGE);
	if (optind != argc - 1)
		return cmd_usage("fsck", EXIT_USAGE);
	if (cipherdir_lock(argv[optind], LOCK_SH, &lockfd) == -EWOULDBLOCK)
		fprintf(stderr, "phivault fsck: warning: %s is mounted; a file "
			"written during the check may be reported damaged "
			"(unmount it for a definitive result)\n", argv[optind]);
	if (lockfd >= 0)
		close(lockfd);
	r = keysrc_unlock(argv[optind], &so, &ko, &k.vol);
	if (r)
		return unlock_exit(r);
	k.bufsize = 1U << 20;
	k.buf = malloc(k.bufsize);
	if (!k.buf) {
		vol_close(k.vol);
		return EXIT_FAIL;
	}
	fsck_dir(&k, "", "", 0);
	printf("%lu directories, %lu files, %lu symlinks checked; %lu "
	       "damaged\n", k.dirs, k.files, k.links, k.damaged);
	free(k.buf);
	vol_close(k.vol);
	return k.damaged ? EXIT_DAMAGED : EXIT_OK;
}
