// SPDX-License-Identifier: MIT
/*
 * drill_restore.c - restore a drill's files through the restore engine
 * (see drill.h, drill_restore(), and restore.h).
 *
 * A drill must exercise the code a real recovery would run, so this is
 * only an adapter: the selection becomes restore_run()'s path list (or
 * no list for a whole-snapshot drill), and the engine's per-file results
 * are handed to the drill's callback in selection order.  Both lists are
 * in manifest order and the engine's paths point into the manifest, so
 * one forward walk pairs them.
 *
 * XXX: restore_run() matches each path against every node, so a sample
 * of k files out of n costs k * n comparisons; fine up to some hundred
 * thousand files, slow beyond.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "drill.h"
#include "restore.h"

int drill_restore(struct repo *r, const struct manifest *m,
		  const size_t *sel, size_t nsel, const char *dir,
		  drill_file_fn fn, void *arg, uint64_t *bytesp)
{
	struct restore_opts ro = { .target = dir, .overwrite = RESTORE_NEVER };
	struct restore_result res;
	const char **paths = NULL;	/* borrowed from the manifest */
	size_t i, j = 0, nfiles = 0;
	int ret;

	memset(&res, 0, sizeof(res));
	for (i = 0; i < m->nnodes; i++)
		nfiles += m->nodes[i].type == MF_FILE;
	if (!nsel)
		return 0;
	if (nsel < nfiles) {
		paths = calloc(nsel, sizeof(*paths));
		if (!paths)
			return -ENOMEM;
		for (i = 0; i < nsel; i++)
			paths[i] = m->nodes[sel[i]].path;
		ro.paths = paths;
		ro.npaths = nsel;
	}
	ret = restore_run(r, m, &ro, &res);
	if (ret && ret != -EIO && !res.nfiles)
		goto out;

	for (i = 0; i < nsel; i++) {
		const struct mf_node *n = &m->nodes[sel[i]];
		const struct restore_file *f = NULL;
		size_t j0 = j;

		while (j < res.nfiles && res.files[j].path != n->path &&
		       strcmp(res.files[j].path, n->path))
			j++;
		if (j < res.nfiles)
			f = &res.files[j++];
		else
			j = j0;
		if (!f)
			fn(n, -PHV_ENOTFOUND, "the restore engine did not "
			   "restore it", arg);
		else if (f->status == RESTORE_OK)
			fn(n, 0, "", arg);
		else
			fn(n, f->err ? f->err : -EIO, f->detail, arg);
		if (f)
			*bytesp += f->bytes;
	}
	ret = 0;
out:
	restore_result_release(&res);
	free(paths);
	return ret;
}
