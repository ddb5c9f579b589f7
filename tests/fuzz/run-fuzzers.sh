#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the libFuzzer harnesses with clang and run each for SECONDS.
#
# Usage: tests/fuzz/run-fuzzers.sh SECONDS [BUILDDIR]
#
# Every tests/fuzz/fuzz-<name>.c is run, including ones added after this
# script was written, from its seed corpus tests/fuzz/corpus/<name>/ (read
# only: new inputs go to BUILDDIR/fuzz-work/<name>/). Each harness's own
# target is built just before it runs; one that does not build (not in
# tests/fuzz/meson.build yet) is reported and fails the run, the others
# still run. BUILDDIR defaults to build-fuzz/ and is set up when missing. Crashers land in BUILDDIR/fuzz-artifacts/; copy them into
# the corpus as crash-<what> once fixed. Exit status: 0 when every harness
# ran clean.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 SECONDS [BUILDDIR]" >&2
	exit 2
fi
seconds=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${2:-$top/build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$top" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false || exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/fuzz-artifacts"
failed=""
for src in "$here"/fuzz-*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	name=${name#fuzz-}
	exe="$build/tests/fuzz/fuzz-$name"
	# Only the harness's own target: unrelated breakage does not stop it.
	if ! ninja -C "$build" "tests/fuzz/fuzz-$name"; then
		echo "== $name: cannot build $exe (is it in tests/fuzz/meson.build?)" >&2
		failed="$failed $name"
		continue
	fi
	work="$build/fuzz-work/$name"
	mkdir -p "$work" "$here/corpus/$name"
	echo "== $name: ${seconds}s"
	if ! "$exe" -max_total_time="$seconds" -print_final_stats=1 \
	    -artifact_prefix="$build/fuzz-artifacts/$name-" \
	    "$work" "$here/corpus/$name"; then
		echo "== $name: FAILED, see $build/fuzz-artifacts/" >&2
		failed="$failed $name"
	fi
done

if [ -n "$failed" ]; then
	echo "failed:$failed" >&2
	exit 1
fi
echo "all harnesses ran clean"
