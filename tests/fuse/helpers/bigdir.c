// SPDX-License-Identifier: MIT
/*
 * bigdir.c - test helper: fill a directory and check that readdir lists
 * every entry once and that seekdir/telldir resume where they left off.
 *
 *   bigdir create DIR N     create files e000000 .. e(N-1)
 *   bigdir check DIR N      list DIR: exit 0 when each of the N names is
 *                           seen exactly once (plus . and ..) and seekdir
 *                           to positions saved by telldir replays the same
 *                           names; otherwise print what went wrong, exit 1
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NMARKS 8

static int create(const char *dir, long n)
{
	char path[4096];
	long i;
	int fd;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/e%06ld", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			fprintf(stderr, "create %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		close(fd);
	}
	return 0;
}

static int check(const char *dir, long n)
{
	unsigned char *seen = calloc((size_t)n, 1);
	long pos[NMARKS], idx = 0, i, k, dots = 0, bad = 0;
	char names[NMARKS][256] = { { 0 } };
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d || !seen) {
		perror("opendir");
		return 1;
	}
	for (k = 0; k < NMARKS; k++)
		pos[k] = -1;
	for (;;) {
		/* remember a position at eight points spread over the listing */
		k = idx * NMARKS / (n + 2);
		if (k < NMARKS && pos[k] < 0 && idx % ((n + 2) / NMARKS + 1) == 7)
			pos[k] = telldir(d);
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (k < NMARKS && pos[k] >= 0 && names[k][0] == '\0')
			snprintf(names[k], sizeof(names[k]), "%s", de->d_name);
		idx++;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			dots++;
			continue;
		}
		if (de->d_name[0] != 'e' || strlen(de->d_name) != 7) {
			fprintf(stderr, "unexpected name '%s'\n", de->d_name);
			bad++;
			continue;
		}
		i = strtol(de->d_name + 1, NULL, 10);
		if (i < 0 || i >= n || seen[i]++) {
			fprintf(stderr, "duplicate or out of range '%s'\n",
				de->d_name);
			bad++;
		}
	}
	if (errno) {
		perror("readdir");
		bad++;
	}
	for (i = 0; i < n; i++)
		if (!seen[i]) {
			if (bad < 20)
				fprintf(stderr, "missing e%06ld\n", i);
			bad++;
		}
	if (dots != 2) {
		fprintf(stderr, "saw %ld of '.' and '..'\n", dots);
		bad++;
	}
	/* seekdir back to each saved position: the same entry comes next */
	for (k = NMARKS - 1; k >= 0; k--) {
		if (pos[k] < 0 || !names[k][0])
			continue;
		seekdir(d, pos[k]);
		de = readdir(d);
		if (!de || strcmp(de->d_name, names[k])) {
			fprintf(stderr, "seekdir(%ld): got '%s', want '%s'\n",
				pos[k], de ? de->d_name : "(end)", names[k]);
			bad++;
		}
	}
	/* rewind and count again */
	rewinddir(d);
	for (i = 0; readdir(d); i++)
		;
	if (i != n + 2) {
		fprintf(stderr, "after rewinddir: %ld entries, want %ld\n", i,
			n + 2);
		bad++;
	}
	closedir(d);
	free(seen);
	printf("listed %ld entries, %ld problems\n", idx, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	long n;

	if (argc != 4) {
		fprintf(stderr, "usage: bigdir create|check DIR N\n");
		return 2;
	}
	n = strtol(argv[3], NULL, 10);
	if (!strcmp(argv[1], "create"))
		return create(argv[2], n);
	if (!strcmp(argv[1], "check"))
		return check(argv[2], n);
	return 2;
}
