# SPDX-License-Identifier: MIT
#
# bench/sections/30-keys.sh - key rotation without re-encryption: how long
# `phivault key rewrap` takes to move every file's data key to a new KEK
# version. A rewrap reads and rewrites one 88-byte header per file and
# never touches content, so it should take seconds for 10,000 files, not
# minutes. Measured cold (caches dropped) and warm, on an unmounted volume
# filled through a mount. No anchor has an equivalent operation.

keys_rewrap() {
	local n=$BENCH_REWRAP_FILES base=$BENCH_TMP/keys
	local cold warm i d

	if [ ! -x "$PHIVAULT" ]; then
		bench_record keys "rewrap_${n}_cold" s lower phivault n/a
		return
	fi
	rm -rf "$base"
	mkdir -p "$base/cipher" "$base/mnt"
	"$PHIVAULT" init --passphrase-file "$BENCH_PASSFILE" \
		$PHIVAULT_INIT_ARGS "$base/cipher" >/dev/null 2>&1 &&
	"$PHIVAULT" mount --passphrase-file "$BENCH_PASSFILE" \
		"$base/cipher" "$base/mnt" >/dev/null 2>&1 || {
		bench_record keys "rewrap_${n}_cold" s lower phivault n/a
		bench_note "keys: phivault init or mount failed"
		return
	}
	for ((i = 0; i < n; i++)); do
		d=$base/mnt/d$((i / 100))
		[ -d "$d" ] || mkdir "$d"
		printf 'record %d\n' "$i" >"$d/f$i"
	done
	fusermount3 -u "$base/mnt"
	"$PHIVAULT" key rotate --passphrase-file "$BENCH_PASSFILE" \
		"$base/cipher" >/dev/null 2>&1
	drop_caches
	bench_time cold "$PHIVAULT" key rewrap \
		--passphrase-file "$BENCH_PASSFILE" "$base/cipher"
	"$PHIVAULT" key rotate --passphrase-file "$BENCH_PASSFILE" \
		"$base/cipher" >/dev/null 2>&1
	bench_time warm "$PHIVAULT" key rewrap \
		--passphrase-file "$BENCH_PASSFILE" "$base/cipher"
	bench_record keys "rewrap_${n}_cold" s lower phivault "$cold"
	bench_record keys "rewrap_${n}_warm" s lower phivault "$warm"
	rm -rf "$base"
}

: "${BENCH_REWRAP_FILES:=$([ "${BENCH_QUICK:-0}" = 1 ] && echo 1000 || echo 10000)}"
keys_rewrap >/dev/null
bench_table keys
