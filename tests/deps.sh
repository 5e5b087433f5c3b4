#!/bin/bash
# SPDX-License-Identifier: MIT
#
# deps.sh - install what building phivault and running all of its tests
# needs on Debian 12, and nothing when it is all there already.
#
#   tests/deps.sh            build, unit, FUSE and S3 test dependencies
#   tests/deps.sh --bench    also the benchmark anchors (restic, gocryptfs,
#                            securefs, fio)
#   tests/deps.sh --check    only report what is missing; exit 1 if any
#
# Runs as root (or through sudo when it is available), with no terminal:
# apt-get runs non-interactively and `apt-get update` runs at most once,
# and only when something has to be installed.  Also loads the fuse
# module when /dev/fuse is missing.

set -euo pipefail

bench=0
check=0
for arg in "$@"; do
	case $arg in
	--bench) bench=1 ;;
	--check) check=1 ;;
	-h|--help) sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "deps.sh: unknown option '$arg'" >&2; exit 2 ;;
	esac
done

# build: compiler, make, pkg-config and the libraries the Makefile links
pkgs=(build-essential pkg-config libfuse3-dev libssl-dev
      libcurl4-openssl-dev libxxhash-dev libzstd-dev libargon2-dev
      libcmocka-dev)
# tests: FUSE userspace, Python and pytest, tools the suites drive
pkgs+=(fuse3 kmod python3 python3-pytest sqlite3 git attr acl tar procps
       coreutils util-linux)
# key slots on a PKCS#11 token (SoftHSM) and the S3 test server (radosgw)
pkgs+=(softhsm2 libp11-kit-dev python3-cryptography ceph-mon ceph-osd radosgw)
# packaging tests: man pages, the .deb, a Debian 12 chroot, unit checks
pkgs+=(scdoc lintian debootstrap systemd passwd)
if [ "$bench" = 1 ]; then
	pkgs+=(restic gocryptfs securefs fio)
fi

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ "$check" = 1 ]; then
	if [ ${#missing[@]} -gt 0 ]; then
		echo "deps.sh: missing: ${missing[*]}"
		exit 1
	fi
	echo "deps.sh: all ${#pkgs[@]} packages present"
	exit 0
fi

as_root=()
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then
		as_root=(sudo -n)
	elif [ ${#missing[@]} -gt 0 ]; then
		echo "deps.sh: not root and no sudo; install: ${missing[*]}" >&2
		exit 1
	fi
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt_opts=(-y -q -o Dpkg::Options::=--force-confdef
		  -o Dpkg::Options::=--force-confold)
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q \
		</dev/null >&2
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install \
		"${apt_opts[@]}" "${missing[@]}" \
		</dev/null >&2
else
	echo "deps.sh: all ${#pkgs[@]} packages already installed" >&2
fi

# FUSE needs the kernel module; in a container it is the host's to load
if [ ! -e /dev/fuse ]; then
	"${as_root[@]}" modprobe fuse 2>/dev/null || true
	if [ ! -e /dev/fuse ]; then
		echo "deps.sh: /dev/fuse is missing and 'modprobe fuse'" \
		     "did not create it: FUSE tests will be skipped" >&2
	fi
fi
exit 0
