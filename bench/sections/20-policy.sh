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

pol_target() {
	local t=$1 tree

	target_init "$t"
	if ! target_mount "$t"; then
		vol_record_na "$t"
		return
	fi
	vol_seq "$t"
	for tree in "${VOL_TREES[@]}"; do
		vol_tree "$t" "$tree"
	done
	vol_manyfiles "$t"
	target_umount "$t"
	rm -rf "${BENCH_TMP:?}/$t"
}

pol_main() {
	local t tree
	# dynamic scope: bench/volume.sh sees these, later sections do not
	local VOL_SECTION=policy BENCH_MANYFILES=$BENCH_POLICY_FILES
	local BENCH_MANYFILES_TARGETS="phivault phivault-policy"
	local -a VOL_WORKLOADS=() VOL_TREES=()

	vol_workload seq_write MB/s higher
	vol_workload seq_read MB/s higher
	vol_make_trees
	for tree in "${VOL_TREES[@]}"; do
		tree=${tree%%:*}
		vol_workload "${tree}_untar" s lower
		vol_workload "${tree}_ls_cold" s lower
		vol_workload "${tree}_read_cold" s lower
		vol_workload "${tree}_rm" s lower
	done
	echo "seq: $BENCH_SEQ_MB MiB; many files: $BENCH_MANYFILES"
	for t in phivault phivault-policy; do
		bench_log "policy: $t"
		pol_target "$t"
	done
	echo
	bench_table policy phivault-policy phivault
}

pol_main
