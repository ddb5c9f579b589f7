#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the libFuzzer harnesses with clang and run each for SECONDS.
#
# Usage: tests/fuzz/run-fuzzers.sh SECONDS [BUILDDIR]
#
# Every tests/fuzz/fuzz-<name>.c is run, including ones added after this
# script was written, for SECONDS each (the whole run takes about SECONDS
# times the number of harnesses, plus the build), from its seed corpus
# tests/fuzz/corpus/<name>/ (read only: new inputs go to
# BUILDDIR/fuzz-work/<name>/). libFuzzer first runs every seed, so a
# regression input (corpus/<name>/crash-*) that crashes again fails the run
# at once. Each harness's own target is built just before it runs; one that
# does not build (not in tests/fuzz/meson.build yet) is reported and fails
# the run, the others still run. BUILDDIR defaults to build-fuzz/ and is
# set up (clang, ASan+UBSan) when missing.
#
# For CI: the output ends with one line per harness (execs, new inputs,
# result); a crash, sanitizer report, leak, timeout (an input running over
# 25 s) or out-of-memory prints the report's summary, the input that did it
# (BUILDDIR/fuzz-artifacts/<name>-crash-*) and the command that replays it,
# and the exit status is 1. The full log is BUILDDIR/fuzz-logs/<name>.log.
# Once fixed, copy the input into the corpus as crash-<what>.
# Exit status: 0 when every harness ran clean, 1 otherwise, 2 on bad usage.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 SECONDS [BUILDDIR]" >&2
	exit 2
fi
seconds=$1
case $seconds in
''|*[!0-9]*|0)
	echo "$0: SECONDS must be a positive number" >&2
	exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${2:-$top/build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$top" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Djemalloc=disabled || exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
failed=""
summary=""
for src in "$here"/fuzz-*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	name=${name#fuzz-}
	exe="$build/tests/fuzz/fuzz-$name"
	log="$build/fuzz-logs/$name.log"
	# Only the harness's own target: unrelated breakage does not stop it.
	if ! ninja -C "$build" "tests/fuzz/fuzz-$name" >"$log" 2>&1; then
		cat "$log" >&2
		echo "== $name: cannot build $exe (is it in tests/fuzz/meson.build?)" >&2
		failed="$failed $name"
		summary="$summary$name: NOT BUILT
"
		continue
	fi
	work="$build/fuzz-work/$name"
	mkdir -p "$work" "$here/corpus/$name"
	# artifacts of this run only
	rm -f "$build/fuzz-artifacts/$name-"*
	echo "== $name: ${seconds}s"
	"$exe" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
	    -artifact_prefix="$build/fuzz-artifacts/$name-" \
	    "$work" "$here/corpus/$name" >"$log" 2>&1
	status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
	if [ $status = 0 ]; then
		summary="$summary$name: ok, ${execs:-?} execs, ${added:-?} new inputs
"
		continue
	fi
	failed="$failed $name"
	summary="$summary$name: FAILED (exit $status) after ${execs:-?} execs
"
	{
		echo "== $name: FAILED (exit $status); report:"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" |
			head -n 5
		# the first stack without libFuzzer's and libc's frames: where
		# it crashed, or which check of the harness failed
		grep -E '^ +#[0-9]+ ' "$log" | grep -vE \
		    'fuzzer::|__sanitizer|libc\.so|nptl/|signal/|stdlib/|csu/| in main \(| in _start' |
			head -n 6 | tee "$log.top"
		where=$(sed -n '1s/.* \([^ ]*\.c\):\([0-9]*\).*/\1 \2/p' \
			"$log.top")
		set -- $where
		if [ $# = 2 ] && [ -f "$1" ]; then
			echo "$(basename "$1"):$2: $(sed -n "$2{s/^[[:space:]]*//;p}" "$1")"
		fi
		rm -f "$log.top"
		for a in "$build/fuzz-artifacts/$name-"*; do
			[ -e "$a" ] || continue
			echo "input: $a ($(wc -c <"$a") bytes)"
			# a seed that crashes: name it
			for c in "$here/corpus/$name"/*; do
				if cmp -s "$a" "$c"; then
					echo "       = seed $c"
					break
				fi
			done
			echo "replay: $exe $a"
		done
		echo "full log: $log"
	} >&2
done

printf '== summary (%ss per harness)\n%s' "$seconds" "$summary"
if [ -n "$failed" ]; then
	echo "failed:$failed" >&2
	exit 1
fi
echo "all harnesses ran clean"
