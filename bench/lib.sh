# SPDX-License-Identifier: MIT
#
# bench/lib.sh - helpers shared by bench/run and every bench/sections/*.sh.
#
# Sourced, never run. It owns four things:
#   configuration  BENCH_* variables with their defaults (quick or full);
#   results        bench_record appends one row per (section, workload,
#                  target) to $BENCH_RESULTS, a tab-separated file that
#                  bench_table prints and bench_write_json turns into JSON;
#   timing         bench_time runs a command pinned to the application CPU
#                  and reports wall-clock seconds; median picks the middle;
#   targets        target_init / target_mount / target_umount / target_cold
#                  for the native directory, bench/passthrough, gocryptfs,
#                  securefs (lite and full) and phivault. Every FUSE daemon
#                  runs in the foreground as our child, started under
#                  taskset so that it and all its threads stay on
#                  $BENCH_DAEMON_CPUS; bench_cleanup (the EXIT trap)
#                  unmounts whatever is still mounted.
#
# A target that cannot be set up is marked unavailable with a reason, and
# its figures print as "n/a"; nothing else stops the run.

BENCH_QUICK=${BENCH_QUICK:-0}
if [ "$BENCH_QUICK" = 1 ]; then
	: "${BENCH_RUNS:=1}" "${BENCH_SEQ_MB:=128}" "${BENCH_RAND_MB:=64}"
	: "${BENCH_RAND_SECS:=3}" "${BENCH_TREE_SRC:=/usr/include/linux}"
	: "${BENCH_MANYFILES:=3000}" "${BENCH_OPENSSL_SECS:=1}"
	: "${BENCH_MANYFILES_TARGETS:=passthrough gocryptfs securefs-lite securefs-full phivault}"
else
	: "${BENCH_RUNS:=3}" "${BENCH_SEQ_MB:=1024}" "${BENCH_RAND_MB:=256}"
	: "${BENCH_RAND_SECS:=10}" "${BENCH_TREE_SRC:=/usr/include}"
	: "${BENCH_MANYFILES:=100000}" "${BENCH_OPENSSL_SECS:=3}"
	# 100,000 files take a minute or two per encrypted target
	: "${BENCH_MANYFILES_TARGETS:=passthrough gocryptfs phivault}"
fi
: "${BENCH_SMALLFILES:=0}"
: "${BENCH_TARGETS:=native passthrough gocryptfs securefs-lite securefs-full phivault}"
: "${BENCH_KEEP:=0}"
: "${PHIVAULT:=$BENCH_ROOT/phivault}"
: "${PHIVAULT_INIT_ARGS:=}"
: "${PHIVAULT_MOUNT_ARGS:=}"
: "${BENCH_MOUNT_WAIT:=60}"

# The encrypted anchors, best of which phivault is compared against.
BENCH_ANCHORS="gocryptfs securefs-lite securefs-full"

declare -A TGT_PID TGT_MNT TGT_DIR TGT_NA
BENCH_CACHE_DROP=1

bench_log() {
	printf '%s\n' "$*" >&2
}

bench_die() {
	bench_log "bench: $*"
	exit 1
}

# Choose CPUs: the application on one CPU, the FUSE daemon on the others.
bench_pin_setup() {
	local n

	n=$(nproc)
	if [ "${BENCH_PIN:-1}" = 0 ] || [ "$n" -lt 2 ]; then
		BENCH_APP_CPU=""
		BENCH_DAEMON_CPUS=""
		return
	fi
	: "${BENCH_APP_CPU:=0}"
	if [ "$n" -eq 2 ]; then
		: "${BENCH_DAEMON_CPUS:=1}"
	else
		: "${BENCH_DAEMON_CPUS:=1-$((n - 1))}"
	fi
}

# Run a command on the application CPU (or unpinned when pinning is off).
pinned() {
	if [ -n "$BENCH_APP_CPU" ]; then
		taskset -c "$BENCH_APP_CPU" "$@"
	else
		"$@"
	fi
}

# Start a daemon in the background on the daemon CPUs; sets BENCH_LAST_PID.
spawn_daemon() {
	local log=$1

	shift
	if [ -n "$BENCH_DAEMON_CPUS" ]; then
		taskset -c "$BENCH_DAEMON_CPUS" "$@" >"$log" 2>&1 &
	else
		"$@" >"$log" 2>&1 &
	fi
	BENCH_LAST_PID=$!
}

# bench_time VAR cmd... : run cmd pinned, store elapsed seconds in VAR.
# A failing command stores "fail" instead.
bench_time() {
	local -n out=$1
	local t0 t1

	shift
	t0=$EPOCHREALTIME
	if pinned "$@"; then
		t1=$EPOCHREALTIME
		out=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	else
		out=fail
	fi
}

# median v1 v2 ... : the middle value (mean of the two middle ones for an
# even count); "fail" values are ignored, nothing left prints "n/a".
median() {
	printf '%s\n' "$@" | grep -E '^[0-9.eE+-]+$' | sort -g |
		awk '{ v[NR] = $1 }
		     END {
			if (NR == 0) { print "n/a"; exit }
			if (NR % 2) print v[(NR + 1) / 2]
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2
		     }'
}

# a / b rounded, "n/a" when either is missing or b is zero.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a !~ /^[0-9.eE+-]+$/ || b !~ /^[0-9.eE+-]+$/ || b + 0 == 0)
			print "n/a"
		else
			printf "%.2f", a / b
	}'
}

# Flush dirty data and drop the page, dentry and inode caches.
drop_caches() {
	sync
	if [ "$BENCH_CACHE_DROP" = 1 ] &&
	   ! (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
		bench_log "bench: cannot drop caches (not root?): cold figures" \
			  "are warm"
		BENCH_CACHE_DROP=0
	fi
}

# bench_record SECTION WORKLOAD UNIT BETTER TARGET VALUE [RAW...]
# BETTER is "higher" or "lower". VALUE is a number or "n/a".
bench_record() {
	local section=$1 workload=$2 unit=$3 better=$4 target=$5 value=$6

	shift 6
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$workload" \
		"$unit" "$better" "$target" "$value" "$*" >>"$BENCH_RESULTS"
}

# bench_note TEXT: a line that goes into the JSON "notes" list.
bench_note() {
	printf '%s\n' "$*" >>"$BENCH_NOTES"
}

# Print one section's figures: workloads down, targets across; then, when
# phivault has figures, its ratios against passthrough and the best anchor.
# bench_table SECTION [ME ANCHORS]: the ratios of target ME (default
# phivault) against the targets ANCHORS (default $BENCH_ANCHORS).
bench_table() {
	/usr/bin/python3 "$BENCH_ROOT/bench/report.py" table "$1" \
		"$BENCH_RESULTS" "${3:-$BENCH_ANCHORS}" "${2:-phivault}"
}

# bench_write_json OUT: everything recorded so far, as JSON.
bench_write_json() {
	/usr/bin/python3 "$BENCH_ROOT/bench/report.py" json "$1" \
		"$BENCH_RESULTS" "$BENCH_ANCHORS" "$BENCH_NOTES" \
		"$BENCH_VERSIONS"
}

# ---- targets -----------------------------------------------------------

target_available() {
	[ -z "${TGT_NA[$1]:-}" ]
}

target_fail() {
	TGT_NA[$1]=$2
	bench_log "bench: $1 unavailable: $2"
	bench_note "$1 unavailable: $2"
}

# Prepare the storage of a target; the directory to work in is TGT_DIR.
target_init() {
	local t=$1 base=$BENCH_TMP/$1

	mkdir -p "$base/cipher" "$base/mnt"
	TGT_MNT[$t]=$base/mnt
	TGT_DIR[$t]=$base/mnt
	case $t in
	native)
		TGT_DIR[$t]=$base/cipher
		TGT_MNT[$t]=
		;;
	passthrough)
		[ -x "$BENCH_ROOT/bench/passthrough" ] ||
			target_fail "$t" "bench/passthrough not built" ;;
	gocryptfs)
		# a cheap KDF: it only slows unlocking, never the data path
		gocryptfs -init -q -scryptn 10 -passfile "$BENCH_PASSFILE" \
			"$base/cipher" >"$base/init.log" 2>&1 ||
			target_fail "$t" "gocryptfs -init failed: $(tail -1 \
				"$base/init.log")" ;;
	securefs-lite|securefs-full)
		local fmt=4

		[ "$t" = securefs-full ] && fmt=2
		securefs create --format "$fmt" --keyfile "$BENCH_PASSFILE" \
			--pbkdf pkcs5-pbkdf2-hmac-sha256 -r 1000 \
			"$base/cipher" >"$base/init.log" 2>&1 ||
			target_fail "$t" "securefs create failed: $(tail -1 \
				"$base/init.log")" ;;
	phivault|phivault-policy)
		if [ ! -x "$PHIVAULT" ]; then
			target_fail "$t" "$PHIVAULT not built"
		else
			# shellcheck disable=SC2086  # word splitting wanted
			"$PHIVAULT" init --passphrase-file "$BENCH_PASSFILE" \
				$PHIVAULT_INIT_ARGS "$base/cipher" \
				>"$base/init.log" 2>&1 ||
				target_fail "$t" "phivault init failed: $(tail \
					-1 "$base/init.log")"
		fi
		if [ "$t" = phivault-policy ] && target_available "$t"; then
			"$PHIVAULT" policy set -S "$base/none.sock" \
				--passphrase-file "$BENCH_PASSFILE" \
				"$base/cipher" "$BENCH_ROOT/bench/bench.policy" \
				>>"$base/init.log" 2>&1 ||
				target_fail "$t" "phivault policy set failed:" \
					"$(tail -1 "$base/init.log")"
		fi ;;
	*)
		target_fail "$t" "unknown target" ;;
	esac
}

# Wait until the daemon has mounted, or died, or the time is up.
target_wait_mounted() {
	local t=$1 pid=$2 i

	for ((i = 0; i < BENCH_MOUNT_WAIT * 20; i++)); do
		if mountpoint -q "${TGT_MNT[$t]}"; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

target_mount() {
	local t=$1 base=$BENCH_TMP/$1 mnt=${TGT_MNT[$1]}

	target_available "$t" || return 1
	[ -n "$mnt" ] || return 0
	case $t in
	passthrough)
		spawn_daemon "$base/daemon.log" "$BENCH_ROOT/bench/passthrough" \
			"$base/cipher" "$mnt" -f ;;
	gocryptfs)
		spawn_daemon "$base/daemon.log" gocryptfs -fg -q -nosyslog \
			-passfile "$BENCH_PASSFILE" "$base/cipher" "$mnt" ;;
	securefs-lite|securefs-full)
		spawn_daemon "$base/daemon.log" securefs mount \
			--keyfile "$BENCH_PASSFILE" "$base/cipher" "$mnt" ;;
	phivault)
		# shellcheck disable=SC2086
		spawn_daemon "$base/daemon.log" "$PHIVAULT" mount \
			--passphrase-file "$BENCH_PASSFILE" -f \
			$PHIVAULT_MOUNT_ARGS "$base/cipher" "$mnt" ;;
	phivault-policy)
		# shellcheck disable=SC2086
		spawn_daemon "$base/daemon.log" "$PHIVAULT" mount \
			--passphrase-file "$BENCH_PASSFILE" -f \
			--audit-log "$base/audit.jsonl" \
			--control-socket "$base/ctl.sock" \
			$PHIVAULT_MOUNT_ARGS "$base/cipher" "$mnt" ;;
	esac
	TGT_PID[$t]=$BENCH_LAST_PID
	if ! target_wait_mounted "$t" "${TGT_PID[$t]}"; then
		kill "${TGT_PID[$t]}" 2>/dev/null
		wait "${TGT_PID[$t]}" 2>/dev/null
		TGT_PID[$t]=
		target_fail "$t" "mount failed: $(tail -1 "$base/daemon.log")"
		return 1
	fi
	# threads created before taskset took effect would escape the pin
	if [ -n "$BENCH_DAEMON_CPUS" ]; then
		taskset -a -p -c "$BENCH_DAEMON_CPUS" "${TGT_PID[$t]}" \
			>/dev/null 2>&1
	fi
	return 0
}

target_umount() {
	local t=$1 mnt=${TGT_MNT[$1]} pid=${TGT_PID[$1]:-} i

	[ -n "$mnt" ] || return 0
	if mountpoint -q "$mnt"; then
		sync
		for ((i = 0; i < 50; i++)); do
			fusermount3 -u "$mnt" 2>/dev/null && break
			sleep 0.1
		done
		mountpoint -q "$mnt" && fusermount3 -u -z "$mnt"
	fi
	if [ -n "$pid" ]; then
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	TGT_PID[$t]=
}

# Make the next access cold: unmount, drop caches, mount again.
target_cold() {
	target_umount "$1"
	drop_caches
	target_mount "$1"
}

# Resident memory of a target's daemon, in KiB: "VmRSS VmHWM".
target_memory() {
	local pid=${TGT_PID[$1]:-}

	if [ -z "$pid" ] || [ ! -r "/proc/$pid/status" ]; then
		echo "n/a n/a"
		return
	fi
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 }
	     END { print r, h }' "/proc/$pid/status"
}

bench_cleanup() {
	local t

	for t in "${!TGT_MNT[@]}"; do
		target_umount "$t"
	done
	if [ "$BENCH_KEEP" = 1 ]; then
		bench_log "bench: kept $BENCH_TMP"
	elif [ -n "${BENCH_TMP:-}" ] && [ -d "$BENCH_TMP" ]; then
		rm -rf "$BENCH_TMP"
	fi
}

# Versions of the anchors and tools, one "name<TAB>version" per line.
bench_versions() {
	local p

	printf 'kernel\t%s\n' "$(uname -r)"
	printf 'libfuse\t%s\n' "$(pkg-config --modversion fuse3 2>/dev/null)"
	for p in gocryptfs securefs fio openssl; do
		printf '%s\t%s\n' "$p" "$(dpkg-query -W -f '${Version}' "$p" \
			2>/dev/null || echo missing)"
	done
	if [ -x "$PHIVAULT" ]; then
		printf 'phivault\t%s\n' "$(git -C "$BENCH_ROOT" describe \
			--always --dirty 2>/dev/null || echo unknown)"
	fi
}
