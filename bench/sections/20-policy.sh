# SPDX-License-Identifier: MIT
#
# bench/sections/20-policy.sh - what enforcing an access policy costs: the
# same workloads on two fresh phivault volumes, one without a policy
# ("phivault") and one with bench/bench.policy installed ("phivault-policy":
# every request decided for the caller, every open, close and change
# audited to a log beside the volume).  The table's ratios are
# phivault-policy as a multiple of phivault (1.00: enforcement is free).
#
# Workloads (bench/volume.sh): seq_write and seq_read, the tree workloads
# (untar, ls -lR cold, cat every file cold, rm -rf) and the many-files pass
# (create $BENCH_POLICY_FILES files, then ls -lR them warm).
#
# Expect data I/O to cost nothing (a file is decided once per open) and
# metadata to cost round trips: under a policy the kernel may not cache
# names (its cache is shared by all callers), so every path component of
# every walk is a LOOKUP decided by the daemon (docs/PERFORMANCE.md).

# shellcheck source=bench/volume.sh
. "$BENCH_ROOT/bench/volume.sh"

: "${BENCH_POLICY_FILES:=$([ "$BENCH_QUICK" = 1 ] && echo 3000 || echo 20000)}"

pol_main() {
	local t
	# dynamic scope: bench/volume.sh sees these, later sections do not
	local VOL_SECTION=policy VOL_RANDOM=0
	local BENCH_MANYFILES=$BENCH_POLICY_FILES
	local BENCH_MANYFILES_TARGETS="phivault phivault-policy"
	local -a VOL_WORKLOADS=() VOL_TREES=()

	vol_workload seq_write MB/s higher
	vol_workload seq_read MB/s higher
	vol_make_trees
	vol_tree_workloads
	echo "seq: $BENCH_SEQ_MB MiB; many files: $BENCH_MANYFILES"
	for t in phivault phivault-policy; do
		bench_log "policy: $t"
		vol_target "$t"
	done
	echo
	bench_table policy phivault-policy phivault
}

pol_main
