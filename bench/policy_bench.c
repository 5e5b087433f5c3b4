// SPDX-License-Identifier: MIT
/*
 * policy_bench.c - decisions per second of policy_decide() on a policy
 * of realistic size (20 roles, 200 rules, windows, one deny rule).
 *
 * bench/%.c links only $(LDLIBS), not libphv.a, so the policy sources
 * are included directly.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.c"
#include "policy/policy_glob.c"
#include "policy/policy_parse.c"
#include "policy/policy_decide.c"

#define ROLES	20
#define RULES	10

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	static char text[65536];
	struct policy *pol = NULL;
	struct policy_caller c = { .uid = 1019, .gid = 100 };
	struct policy_decision d;
	static const char *const paths[] = {
		"/dept19/patients/4711/notes/2024-01-03.txt",
		"/dept19/patients/4711/labs/x.pdf",
		"/dept3/patients/1/chart",
		"/dept19",
	};
	size_t n = 0;
	long i, iters = 2000000, allowed = 0;
	double t0, dt;
	int r, k;

	n += snprintf(text + n, sizeof(text) - n,
		      "[windows]\noffice = mon-fri 08:00-18:00\n");
	for (r = 0; r < ROLES; r++) {
		n += snprintf(text + n, sizeof(text) - n, "[role r%d]\n", r);
		for (k = 0; k < RULES; k++)
			n += snprintf(text + n, sizeof(text) - n,
				      "allow read,list /dept%d/patients/*/"
				      "part%d/**%s\n", r, k,
				      k == 3 ? " during office" : "");
		n += snprintf(text + n, sizeof(text) - n,
			      "allow write,create /dept%d/patients/*/notes/**\n"
			      "deny read /dept%d/vip/**\n", r, r);
	}
	n += snprintf(text + n, sizeof(text) - n, "[users]\n");
	for (r = 0; r < ROLES; r++)
		n += snprintf(text + n, sizeof(text) - n, "%d = r%d\n",
			      1000 + r, r);
	if (policy_parse(text, n, NULL, NULL, &pol)) {
		fprintf(stderr, "policy_bench: bad generated policy\n");
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < iters; i++)
		allowed += !policy_decide(pol, NULL, 0, &c, paths[i & 3],
					  (i & 3) == 3 ? POLICY_TRAVERSE :
					  POLICY_READ, 1704283200, &d);
	dt = now_s() - t0;
	printf("policy_decide: %ld decisions in %.3f s = %.0f/s "
	       "(%.0f ns each; %d rules; %ld allowed)\n", iters, dt,
	       iters / dt, dt / iters * 1e9, pol->nrules, allowed);
	policy_free(pol);
	return 0;
}
