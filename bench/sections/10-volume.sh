# SPDX-License-Identifier: MIT
#
# bench/sections/10-volume.sh - the volume workloads, run on every target
# in $BENCH_TARGETS, one target at a time, each freshly created and mounted.
#
# For each target and each of $BENCH_RUNS runs:
#   seq_write    dd of $BENCH_SEQ_MB MiB of zeros in 1 MiB writes, fsync at
#                the end; MB/s (MiB counted as 1,048,576 bytes)
#   seq_read     the same file after a cold remount; MB/s
#   rand_read    fio, 4 KiB psync random reads for $BENCH_RAND_SECS on a
#                $BENCH_RAND_MB MiB file, after a cold remount; IOPS
#   rand_write   the same with random writes and an fsync at the end; IOPS
#   T_untar      extract tarball T, then sync the filesystem; seconds
#   T_ls_cold    ls -lR of the tree after a cold remount; seconds
#   T_read_cold  cat every file of it after a cold remount; seconds
#   T_rm         rm -rf the tree, then sync; seconds
# where T is "tree" ($BENCH_TREE_SRC, /usr/include by default) and, when
# $BENCH_SMALLFILES is above zero, "smallN" (N synthetic small files).
# Once per target in $BENCH_MANYFILES_TARGETS, on a fresh mount: create
# $BENCH_MANYFILES files of 100 bytes (1,000 per directory), ls -lR them,
# and read the daemon's VmRSS and VmHWM; then remove them.
#
# A cold remount is: unmount, sync, drop the kernel caches, mount again;
# the native target just syncs and drops caches.


# shellcheck source=bench/volume.sh
. "$BENCH_ROOT/bench/volume.sh"

vol_main() {
	local t

	vol_workload seq_write MB/s higher
	vol_workload seq_read MB/s higher
	vol_workload rand_read IOPS higher
	vol_workload rand_write IOPS higher
	vol_make_trees
	vol_tree_workloads
	echo "seq: $BENCH_SEQ_MB MiB; random: $BENCH_RAND_MB MiB for" \
		"$BENCH_RAND_SECS s; many files: $BENCH_MANYFILES"
	for t in $BENCH_TARGETS; do
		bench_log "volume: $t"
		vol_target "$t"
	done
	echo
	bench_table volume
}

vol_main
