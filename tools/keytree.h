/* SPDX-License-Identifier: MIT */
/*
 * keytree.h - walking an unlocked volume's tree for key management:
 * `key rewrap`, `key retire`, `shred` and `retention apply`.
 *
 * The walk is depth first through vol_dir_*; directories are reported
 * after their contents, so a callback may remove what it visits.  Damaged
 * names are skipped (fsck reports them).  A progress line on stderr is
 * drawn only when stderr is a terminal.
 */
#ifndef TOOLS_KEYTREE_H
#define TOOLS_KEYTREE_H

#include <stdint.h>
#include <sys/stat.h>

struct vol;

/*
 * Called with the plaintext path (no leading '/') and its lstat.  Return
 * 0 to go on or a negative code to stop the walk with it.
 */
typedef int (*keytree_fn)(struct vol *vol, const char *path,
			  const struct stat *st, void *ctx);

/* Walk everything below root ("" for the volume root): files, symlinks
 * and the like through leaf, directories (root excluded) through post
 * after their contents.  Either callback may be NULL.  Returns 0, the
 * first callback error, or a walk error (printed). */
int keytree_walk(struct vol *vol, const char *root, keytree_fn leaf,
		 keytree_fn post, void *ctx);

struct keytree_progress {
	const char *what;
	uint64_t done, total;
	int tty;
	double last;
};

/* Redraw "what: done/total" at most 10 times a second (terminal only);
 * final != 0 draws the last state and ends the line. */
void keytree_progress(struct keytree_progress *p, int final);

/* Seconds on the monotonic clock. */
double keytree_now(void);

/* syncfs() of the backing filesystem of cipherdir; 0 or -errno. */
int keytree_sync(const char *cipherdir);

#endif /* TOOLS_KEYTREE_H */
