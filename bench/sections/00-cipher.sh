# SPDX-License-Identifier: MIT
#
# bench/sections/00-cipher.sh - the cipher limit: what one core does with
# AES-256-GCM on 16 KiB buffers (openssl speed, EVP interface), measured
# on the application CPU. No encrypted filesystem can stream faster than
# this on one core, so it frames the volume figures that follow.

cipher_speed() {
	local out kbs

	out=$(pinned openssl speed -evp aes-256-gcm \
		-seconds "$BENCH_OPENSSL_SECS" 2>/dev/null) || {
		bench_record cipher aes-256-gcm-16KiB MB/s higher openssl n/a
		bench_note "openssl speed failed"
		return
	}
	# the last column is 16384-byte blocks, in 1000s of bytes per second
	kbs=$(printf '%s\n' "$out" |
		awk 'toupper($1) == "AES-256-GCM" { sub(/k$/, "", $NF);
						    print $NF }')
	bench_record cipher aes-256-gcm-16KiB MB/s higher openssl \
		"$(awk -v k="$kbs" 'BEGIN { printf "%.0f", k / 1000 }')"
}

cipher_speed
bench_table cipher
