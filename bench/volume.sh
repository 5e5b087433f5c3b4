# SPDX-License-Identifier: MIT
#
# bench/volume.sh - the workloads that run on a mounted target, shared by
# the volume section (10-volume.sh: phivault against the anchors) and the
# policy section (20-policy.sh: phivault with and without a policy).
# Sourced, never run; see 10-volume.sh for what each workload measures.
# Rows go to section $VOL_SECTION; VOL_RANDOM=0 leaves out the fio
# workloads.

VOL_SECTION=volume			# where vol_record files its rows
VOL_CACHE=$BENCH_TMP/cache
VOL_ERRORS=$BENCH_TMP/errors.log	# stderr of the measured commands
VOL_TREES=()
VOL_WORKLOADS=()

vol_workload() {
	VOL_WORKLOADS+=("$1|$2|$3")
}

# Record n/a for every workload of a target that could not run.
vol_record_na() {
	local t=$1 spec
	local -a fld

	for spec in "${VOL_WORKLOADS[@]}"; do
		IFS='|' read -r -a fld <<<"$spec"
		bench_record "$VOL_SECTION" "${fld[0]}" "${fld[1]}" \
			"${fld[2]}" "$t" n/a
	done
	if vol_manyfiles_wanted "$t"; then
		for spec in many_create many_ls_warm; do
			bench_record "$VOL_SECTION" "$spec" s lower "$t" n/a
		done
		bench_record "$VOL_SECTION" daemon_rss KiB lower "$t" n/a
		bench_record "$VOL_SECTION" daemon_hwm KiB lower "$t" n/a
	fi
}

vol_record() {
	local workload=$1 unit=$2 better=$3 t=$4

	shift 4
	case " $* " in
	*" fail "*)
		bench_note "$t $workload: a run failed:" \
			"$(tail -1 "$VOL_ERRORS" 2>/dev/null)" ;;
	esac
	bench_record "$VOL_SECTION" "$workload" "$unit" "$better" "$t" \
		"$(median "$@")" "$@"
	bench_log "  [$t] $workload: $(median "$@") $unit ($*)"
}

# MiB per second from a size in MiB and a time in seconds.
vol_mbs() {
	awk -v mb="$1" -v s="$2" 'BEGIN {
		if (s !~ /^[0-9.]+$/ || s + 0 == 0) print "fail"
		else printf "%.1f", mb / s
	}'
}

vol_sync() {
	sync -f "$BENCH_TMP"
}

vol_make_trees() {
	local src=$BENCH_TREE_SRC n

	mkdir -p "$VOL_CACHE"
	tar cf "$VOL_CACHE/tree.tar" -C "$(dirname "$src")" \
		"$(basename "$src")" 2>/dev/null ||
		bench_die "cannot archive $src"
	n=$(tar tf "$VOL_CACHE/tree.tar" | grep -vc '/$')
	VOL_TREES+=("tree:$VOL_CACHE/tree.tar")
	bench_note "tree = $src, $n files"
	echo "tree: $src, $n files," \
		"$(du -m "$VOL_CACHE/tree.tar" | cut -f1) MiB"
	if [ "$BENCH_SMALLFILES" -gt 0 ]; then
		vol_make_small "$BENCH_SMALLFILES"
		VOL_TREES+=("small$BENCH_SMALLFILES:$VOL_CACHE/small.tar")
		echo "small$BENCH_SMALLFILES: $BENCH_SMALLFILES files of" \
			"0-8 KiB, 100 per directory"
	fi
}

# A deterministic tree of N small files, 100 per directory, tarred.
vol_make_small() {
	/usr/bin/python3 - "$1" "$VOL_CACHE/small" <<'EOF'
import os, random, sys
n, root = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 100 // 100), "e%03d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.txt" % i), "wb") as f:
        f.write(rng.randbytes(rng.randrange(8192)))
EOF
	tar cf "$VOL_CACHE/small.tar" -C "$VOL_CACHE" small
	rm -rf "$VOL_CACHE/small"
}

vol_seq() {
	local t=$1 f=${TGT_DIR[$1]}/seq.dat r s size
	local -a w=() rd=()

	for ((r = 1; r <= BENCH_RUNS; r++)); do
		rm -f "$f"
		vol_sync
		bench_time s dd if=/dev/zero of="$f" bs=1M \
			count="$BENCH_SEQ_MB" conv=fsync status=none
		w+=("$(vol_mbs "$BENCH_SEQ_MB" "$s")")
		target_cold "$t" || break
		size=$(stat -c %s "$f" 2>/dev/null)
		bench_time s dd if="$f" of=/dev/null bs=1M status=none
		[ "$size" = $((BENCH_SEQ_MB * 1048576)) ] || s=fail
		rd+=("$(vol_mbs "$BENCH_SEQ_MB" "$s")")
	done
	rm -f "$f"
	vol_record seq_write MB/s higher "$t" "${w[@]}"
	vol_record seq_read MB/s higher "$t" "${rd[@]}"
}

# vol_fio FILE RW: IOPS of one fio job, or "fail".
vol_fio() {
	local json=$BENCH_TMP/fio.json dir=read

	[ "$2" = randwrite ] && dir="write"
	pinned fio --name=bench --filename="$1" --rw="$2" --bs=4k \
		--size="${BENCH_RAND_MB}M" --ioengine=psync --direct=0 \
		--runtime="$BENCH_RAND_SECS" --time_based --end_fsync=1 \
		--output-format=json --output="$json" >/dev/null 2>&1 || {
		echo fail
		return
	}
	/usr/bin/python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0][sys.argv[2]]
print("%.0f" % j["iops"])' "$json" "$dir" 2>/dev/null || echo fail
}

vol_random() {
	local t=$1 f=${TGT_DIR[$1]}/fio.dat r
	local -a rr=() rw=()

	target_available "$t" || return
	pinned dd if=/dev/urandom of="$f" bs=1M count="$BENCH_RAND_MB" \
		conv=fsync status=none
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		target_cold "$t" || break
		rr+=("$(vol_fio "$f" randread)")
		rw+=("$(vol_fio "$f" randwrite)")
	done
	rm -f "$f"
	vol_record rand_read IOPS higher "$t" "${rr[@]}"
	vol_record rand_write IOPS higher "$t" "${rw[@]}"
}

vol_tree() {
	local t=$1 name=${2%%:*} tarball=${2#*:} d=${TGT_DIR[$1]}/tree r s
	local -a untar=() list=() readall=() remove=()

	target_available "$t" || return
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		rm -rf "$d"
		mkdir -p "$d"
		vol_sync
		bench_time s bash -c 'tar xf "$1" -C "$2" && sync -f "$3"' _ \
			"$tarball" "$d" "$BENCH_TMP" 2>>"$VOL_ERRORS"
		untar+=("$s")
		target_cold "$t" || break
		bench_time s bash -c 'ls -lR "$1" >/dev/null' _ "$d" \
			2>>"$VOL_ERRORS"
		list+=("$s")
		target_cold "$t" || break
		bench_time s bash -c 'find "$1" -type f -print0 |
			xargs -0 cat >/dev/null' _ "$d" 2>>"$VOL_ERRORS"
		readall+=("$s")
		bench_time s bash -c 'rm -rf "$1" && sync -f "$2"' _ "$d" \
			"$BENCH_TMP" 2>>"$VOL_ERRORS"
		remove+=("$s")
	done
	rm -rf "$d" 2>>"$VOL_ERRORS"
	vol_record "${name}_untar" s lower "$t" "${untar[@]}"
	vol_record "${name}_ls_cold" s lower "$t" "${list[@]}"
	vol_record "${name}_read_cold" s lower "$t" "${readall[@]}"
	vol_record "${name}_rm" s lower "$t" "${remove[@]}"
}

vol_manyfiles_wanted() {
	case " $BENCH_MANYFILES_TARGETS " in
	*" $1 "*) [ "$BENCH_MANYFILES" -gt 0 ] ;;
	*) return 1 ;;
	esac
}

vol_manyfiles() {
	local t=$1 d=${TGT_DIR[$1]}/many c l mem

	target_available "$t" || return
	target_cold "$t" || return
	bench_time c /usr/bin/python3 -c 'import os, sys
n, root = int(sys.argv[1]), sys.argv[2]
body = b"synthetic test data, not PHI " * 3 + b"\n" + b"." * 12
for i in range(n):
    if i % 1000 == 0:
        d = os.path.join(root, "d%04d" % (i // 1000))
        os.makedirs(d)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(body[:100])' "$BENCH_MANYFILES" "$d" 2>>"$VOL_ERRORS"
	bench_time l bash -c 'ls -lR "$1" >/dev/null' _ "$d" 2>>"$VOL_ERRORS"
	mem=$(target_memory "$t")
	# memory means nothing unless every file was created and listed
	[ "$c" = fail ] || [ "$l" = fail ] && mem="n/a n/a"
	rm -rf "$d" 2>>"$VOL_ERRORS"
	vol_sync
	vol_record many_create s lower "$t" "$c"
	vol_record many_ls_warm s lower "$t" "$l"
	vol_record daemon_rss KiB lower "$t" "${mem% *}"
	vol_record daemon_hwm KiB lower "$t" "${mem#* }"
}

vol_target() {
	local t=$1 tree

	target_init "$t"
	if ! target_mount "$t"; then
		vol_record_na "$t"
		return
	fi
	vol_seq "$t"
	if [ "${VOL_RANDOM:-1}" = 1 ]; then
		vol_random "$t"
	fi
	for tree in "${VOL_TREES[@]}"; do
		vol_tree "$t" "$tree"
	done
	if vol_manyfiles_wanted "$t"; then
		vol_manyfiles "$t"
	fi
	target_umount "$t"
	rm -rf "${BENCH_TMP:?}/$t"
}

# Register the four tree workloads of every tree in VOL_TREES.
vol_tree_workloads() {
	local tree

	for tree in "${VOL_TREES[@]}"; do
		tree=${tree%%:*}
		vol_workload "${tree}_untar" s lower
		vol_workload "${tree}_ls_cold" s lower
		vol_workload "${tree}_read_cold" s lower
		vol_workload "${tree}_rm" s lower
	done
}
