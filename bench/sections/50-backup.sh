# SPDX-License-Identifier: MIT
#
# bench/sections/50-backup.sh - phivault backup and restore against restic,
# side by side, on one radosgw (tests/s3server/rgw-start) on loopback and
# the same generated data set.
#
# Data: $BENCH_BACKUP_MB MiB (300, or 48 with BENCH_QUICK=1) of mixed
# files from a fixed seed: random binary files of 1-8 MiB (incompressible,
# about half the bytes), text records of 16-512 KiB (compressible) and
# many small files of 1-16 KiB.  Each tool gets its own bucket; phivault's
# is under Object Lock (governance, 1d), restic's is a plain one.
#
# Figures, one run each (a backup changes the repository, so runs are not
# repeatable in place):
#   first_backup      MB/s of the data set into an empty repository
#   unchanged_backup  MB/s (data set size / time) with nothing changed
#   changed_backup    MB/s after rewriting 1% of the files
#   backup_max_rss    peak RSS of the first backup (KiB, /usr/bin/time)
#   full_restore      MB/s of restoring the latest snapshot
#   restore_max_rss   peak RSS of the full restore (KiB)
#   small_restore     seconds to restore one small file
#   small_restore_dl  bytes radosgw sent for that restore (its perf
#                     counter get_b, so repository metadata counts too)
# The kernel's caches are dropped before every backup and restore; each
# tool's own metadata cache (restic's --cache-dir, PHIVAULT_CACHE_DIR)
# lives in the scratch directory and is kept, as it would be on a host.  Each figure is
# printed with phivault's ratio to restic (higher is better for MB/s).

BK_DIR=$BENCH_TMP/backup
if [ "$BENCH_QUICK" = 1 ]; then
	: "${BENCH_BACKUP_MB:=48}"
else
	: "${BENCH_BACKUP_MB:=300}"
fi

bk_log() {
	bench_log "  [backup] $*"
}

# Generate the data set in $1 (deterministic for a given size).
bk_make_data() {
	/usr/bin/python3 - "$1" "$BENCH_BACKUP_MB" <<'EOF'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(50)
total = mb << 20
words = [("w%d" % i).encode() for i in range(4000)]
made = 0
n = 0
def put(path, data):
    global made, n
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    made += len(data)
    n += 1
while made < total:
    d = os.path.join(root, "d%03d" % (n // 50))
    kind = rnd.random()
    if kind < 0.12:
        size = rnd.randint(1 << 20, 8 << 20)
        put(os.path.join(d, "scan%05d.bin" % n), rnd.randbytes(size))
    elif kind < 0.45:
        size = rnd.randint(16 << 10, 512 << 10)
        lines = []
        got = 0
        while got < size:
            line = b" ".join(rnd.choice(words) for _ in range(12)) + \
                b" %d\n" % rnd.randint(0, 10**9)
            lines.append(line)
            got += len(line)
        put(os.path.join(d, "note%05d.txt" % n), b"".join(lines))
    else:
        put(os.path.join(d, "small%05d.dat" % n),
            rnd.randbytes(rnd.randint(1 << 10, 16 << 10)))
print(n)
EOF
}

# Rewrite 1% of the files (every 100th, sorted) with new content.
bk_change_data() {
	find "$1" -type f | sort | awk 'NR % 100 == 1' | while read -r f; do
		head -c "$(stat -c %s "$f")" /dev/urandom >"$f.new" &&
			mv "$f.new" "$f"
	done
}

# radosgw's count of bytes sent for GETs.
bk_get_bytes() {
	ceph --admin-daemon "$BK_RGW/run/client.rgw.phv.asok" perf dump \
		2>/dev/null | /usr/bin/python3 -c \
		'import json,sys; print(json.load(sys.stdin)["rgw"]["get_b"])' \
		2>/dev/null || echo n/a
}

# bk_run NAME cmd...: drop caches, run cmd under /usr/bin/time; sets
# BK_SECS, BK_RSS (KiB); output in $BK_DIR/NAME.out/.err.
bk_run() {
	local name=$1

	shift
	drop_caches
	if pinned /usr/bin/time -f '%e %M' -o "$BK_DIR/$name.time" "$@" \
		>"$BK_DIR/$name.out" 2>"$BK_DIR/$name.err"; then
		read -r BK_SECS BK_RSS <"$BK_DIR/$name.time"
	else
		bench_note "backup: $name failed: $(tail -1 "$BK_DIR/$name.err")"
		bk_log "$name failed: $(tail -3 "$BK_DIR/$name.err")"
		BK_SECS=fail
		BK_RSS=n/a
	fi
}

# MiB per second of the data set in $1 seconds.
bk_mbs() {
	awk -v mb="$BENCH_BACKUP_MB" -v s="$1" 'BEGIN {
		if (s !~ /^[0-9.]+$/ || s + 0 == 0) print "fail"
		else printf "%.1f", mb / s
	}'
}

# bk_fig WORKLOAD UNIT BETTER PHIVAULT RESTIC: record both, print a line.
bk_fig() {
	local w=$1 unit=$2 better=$3 p=$4 r=$5 rat

	bench_record backup "$w" "$unit" "$better" phivault "$p" "$p"
	bench_record backup "$w" "$unit" "$better" restic "$r" "$r"
	if [ "$better" = higher ]; then
		rat=$(ratio "$p" "$r")
	else
		rat=$(ratio "$r" "$p")
	fi
	printf '%-18s %12s %12s %-6s x%s\n' "$w" "$p" "$r" "$unit" "$rat"
}

bk_main() {
	local nfiles
	declare -A P=() R=()

	command -v restic >/dev/null || { bench_note "backup: restic missing"
		bk_log "restic is not installed; skipped"; return; }
	command -v radosgw >/dev/null || { bench_note "backup: no radosgw"
		bk_log "radosgw is not installed; skipped"; return; }
	mkdir -p "$BK_DIR"
	BK_DATA=$BK_DIR/data
	nfiles=$(bk_make_data "$BK_DATA")
	BK_SMALL=$(cd "$BK_DATA" && find . -name 'small*' | sort | head -1)
	BK_SMALL=${BK_SMALL#./}
	echo "data set: $BENCH_BACKUP_MB MiB in $nfiles files; one run each"

	BK_RGW=$BK_DIR/rgw
	eval "$("$BENCH_ROOT/tests/s3server/rgw-start" "$BK_RGW" \
		2>"$BK_DIR/rgw.log")" || { bk_log "rgw-start failed"; return; }
	# shellcheck disable=SC2064
	trap "'$BENCH_ROOT/tests/s3server/rgw-stop' '$BK_RGW' >/dev/null 2>&1" \
		EXIT
	export HOME=/nonexistent

	bk_log "phivault and restic: first and unchanged backups"
	bk_lockstep P R
	echo
	printf '%-18s %12s %12s %-6s %s\n' workload phivault restic unit \
		"phivault/restic"
	bk_fig first_backup MB/s higher "${P[first]}" "${R[first]}"
	bk_fig unchanged_backup MB/s higher "${P[unchanged]}" \
		"${R[unchanged]}"
	bk_fig changed_backup MB/s higher "${P[changed]}" "${R[changed]}"
	bk_fig backup_max_rss KiB lower "${P[rss]}" "${R[rss]}"
	bk_fig full_restore MB/s higher "${P[restore]}" "${R[restore]}"
	bk_fig restore_max_rss KiB lower "${P[rrss]}" "${R[rrss]}"
	bk_fig small_restore s lower "${P[small]}" "${R[small]}"
	bk_fig small_restore_dl bytes lower "${P[small_dl]}" "${R[small_dl]}"
}

# Run both tools' backups so that each sees the same data at each step.
bk_lockstep() {
	local -n p=$1 r=$2
	local phv=("$PHIVAULT") rs

	export PHIVAULT_REPOSITORY=s3://phv-bench/repo
	export PHIVAULT_REPO_PASSPHRASE_FILE=$BENCH_PASSFILE
	export RESTIC_PASSWORD_FILE=$BENCH_PASSFILE
	# both tools keep their local metadata cache in the scratch space
	export PHIVAULT_CACHE_DIR=$BK_DIR/phivault-cache
	# restic keeps its default local metadata cache, as installed
	rs=(restic -r "s3:$AWS_ENDPOINT_URL/restic-bench" --cache-dir \
		"$BK_DIR/restic-cache")
	"${phv[@]}" repo init --argon2 1:65536:1 --lock-mode governance \
		--retention 1d >"$BK_DIR/p-init.log" 2>&1 ||
		bk_log "phivault repo init failed: $(tail -1 "$BK_DIR/p-init.log")"
	"${rs[@]}" init >"$BK_DIR/r-init.log" 2>&1 ||
		bk_log "restic init failed: $(tail -1 "$BK_DIR/r-init.log")"

	bk_run p-first "${phv[@]}" backup --json "$BK_DATA"
	p[first]=$(bk_mbs "$BK_SECS") p[rss]=$BK_RSS
	bk_run r-first "${rs[@]}" backup -q "$BK_DATA"
	r[first]=$(bk_mbs "$BK_SECS") r[rss]=$BK_RSS
	bk_run p-unchanged "${phv[@]}" backup --json "$BK_DATA"
	p[unchanged]=$(bk_mbs "$BK_SECS")
	bk_run r-unchanged "${rs[@]}" backup -q "$BK_DATA"
	r[unchanged]=$(bk_mbs "$BK_SECS")
	bk_change_data "$BK_DATA"
	bk_run p-changed "${phv[@]}" backup --json "$BK_DATA"
	p[changed]=$(bk_mbs "$BK_SECS")
	bk_run r-changed "${rs[@]}" backup -q "$BK_DATA"
	r[changed]=$(bk_mbs "$BK_SECS")

	bk_log "full restores"
	rm -rf "$BK_DIR/p-out" "$BK_DIR/r-out"
	bk_run p-restore "${phv[@]}" restore latest --target "$BK_DIR/p-out"
	p[restore]=$(bk_mbs "$BK_SECS") p[rrss]=$BK_RSS
	bk_run r-restore "${rs[@]}" restore latest --target "$BK_DIR/r-out"
	r[restore]=$(bk_mbs "$BK_SECS") r[rrss]=$BK_RSS
	bk_check_restore p "$BK_DIR/p-out"
	bk_check_restore r "$BK_DIR/r-out${BK_DATA}"
	rm -rf "$BK_DIR/p-out" "$BK_DIR/r-out"

	bk_log "single small file restores"
	local g0 g1
	g0=$(bk_get_bytes)
	bk_run p-small "${phv[@]}" restore latest "$BK_SMALL" --target \
		"$BK_DIR/p-out"
	g1=$(bk_get_bytes)
	p[small]=$BK_SECS
	p[small_dl]=$(awk -v a="$g0" -v b="$g1" 'BEGIN { print b - a }')
	g0=$(bk_get_bytes)
	bk_run r-small "${rs[@]}" restore latest --target "$BK_DIR/r-out" \
		--include "$BK_DATA/$BK_SMALL"
	g1=$(bk_get_bytes)
	r[small]=$BK_SECS
	r[small_dl]=$(awk -v a="$g0" -v b="$g1" 'BEGIN { print b - a }')
	rm -rf "$BK_DIR/p-out" "$BK_DIR/r-out"
}

# Compare a restored tree with the data set (first existing candidate).
bk_check_restore() {
	local who=$1 d

	shift
	for d in "$@"; do
		if [ -d "$d" ] && diff -rq "$BK_DATA" "$d" >/dev/null 2>&1; then
			return 0
		fi
	done
	bench_note "backup: $who restore differs from the data set"
	bk_log "$who: restored tree differs from the data set"
}

# A subshell: its EXIT trap stops radosgw without touching bench/run's.
(bk_main)
