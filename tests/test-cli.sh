# SPDX-License-Identifier: GPL-2.0-or-later
# The nfqe command line: --version, --check, and the `nfqe rules` text.
# usage: test-cli.sh NFQE_BINARY CONFIG_DATA_DIR
set -uo pipefail

NFQE=${1:?usage: test-cli.sh NFQE_BINARY CONFIG_DATA_DIR}
DATA=${2:?usage: test-cli.sh NFQE_BINARY CONFIG_DATA_DIR}
T=$(mktemp -d /tmp/nfqe-test-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
nfail=0

fail() { echo "FAIL: $*" >&2; nfail=$((nfail + 1)); }
ok() { echo "ok: $*"; }

# run NAME WANT_RC ARGS...: output in $T/out, $T/err
run() {
	local name=$1 want=$2 rc
	shift 2
	"$NFQE" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$name: nfqe $* exited $rc, want $want"
		sed 's/^/    /' "$T/out" "$T/err" >&2
		return 1
	fi
	ok "$name: exit $rc"
}

has() {
	local name=$1 file=$2 text=$3
	if grep -qF -- "$text" "$file"; then
		ok "$name: has '$text'"
	else
		fail "$name: no '$text' in"
		sed 's/^/    /' "$file" >&2
	fi
}

hasnt() {
	local name=$1 file=$2 text=$3
	if grep -qF -- "$text" "$file"; then
		fail "$name: unexpected '$text' in"
		sed 's/^/    /' "$file" >&2
	else
		ok "$name: no '$text'"
	fi
}

# rule lines are whole lines, so match them exactly
line() {
	local name=$1 file=$2 text=$3
	if grep -qxF -- "$text" "$file"; then
		ok "$name: line '$text'"
	else
		fail "$name: no line '$text' in"
		sed 's/^/    /' "$file" >&2
	fi
}

run version 0 --version && has version "$T/out" "nfqe 0."
run help 0 --help && has help "$T/out" "usage: nfqe"
run bad-option 2 --no-such-option

run check-good 0 --check -c "$DATA/good.conf" &&
	has check-good "$T/out" "OK (queues 0:3)"
if run check-bad 1 --check -c "$DATA/bad.conf"; then
	has check-bad "$T/err" "$DATA/bad.conf:4: queues"
	has check-bad "$T/err" "$DATA/bad.conf:7: batch_max"
fi
run check-missing 1 --check -c "$T/no-such.conf"
run check-queues-override 0 --check -c "$DATA/good.conf" -q 8:9 &&
	has check-queues-override "$T/out" "OK (queues 8:9)"
run check-bad-queues 2 --check -c "$DATA/good.conf" -q 5:2

if run rules-raw 0 rules --queues 0:3 --mode raw; then
	line rules-raw "$T/out" "*raw"
	line rules-raw "$T/out" "-A PREROUTING -j NFQE"
	line rules-raw "$T/out" "-A OUTPUT -j NFQE"
	line rules-raw "$T/out" ":NFQE - [0:0]"
	line rules-raw "$T/out" "COMMIT"
	# raw mode: no cpu fanout, a flow must stay on one queue
	line rules-raw "$T/out" \
		"-A NFQE -j NFQUEUE --queue-balance 0:3 --queue-bypass"
	hasnt rules-raw "$T/out" "--queue-cpu-fanout"
	hasnt rules-raw "$T/out" "*filter"
	hasnt rules-raw "$T/out" "FORWARD -j"
fi

if run rules-forward 0 rules --queues 2:5 --mode forward; then
	line rules-forward "$T/out" "*filter"
	line rules-forward "$T/out" "-A FORWARD -j NFQE"
	line rules-forward "$T/out" \
		"-A NFQE -j NFQUEUE --queue-balance 2:5 --queue-bypass --queue-cpu-fanout"
	hasnt rules-forward "$T/out" "*raw"
	hasnt rules-forward "$T/out" "PREROUTING -j"
fi

# the defaults: forward, queues 0:1
if run rules-default 0 rules; then
	line rules-default "$T/out" "*filter"
	has rules-default "$T/out" "--queue-balance 0:1 "
fi

if run rules-single 0 rules --queues 7; then
	line rules-single "$T/out" "-A NFQE -j NFQUEUE --queue-num 7 --queue-bypass"
	hasnt rules-single "$T/out" "--queue-balance"
	hasnt rules-single "$T/out" "--queue-cpu-fanout"
fi

if run rules-options 0 rules --queues 0:1 --no-bypass --no-fanout; then
	line rules-options "$T/out" "-A NFQE -j NFQUEUE --queue-balance 0:1"
fi

if run rules-raw-fanout 0 rules --queues 0:1 --mode raw --fanout; then
	line rules-raw-fanout "$T/out" \
		"-A NFQE -j NFQUEUE --queue-balance 0:1 --queue-bypass --queue-cpu-fanout"
fi

# mode and queues from a config file, the command line wins over it
if run rules-config 0 rules -c "$DATA/good.conf"; then
	line rules-config "$T/out" "*raw"
	has rules-config "$T/out" "--queue-balance 0:3 "
fi
run rules-bad-config 1 rules -c "$DATA/bad.conf"

# offload: bypass rules before the queue rule (connmark in forward mode,
# nfqe's ipsets in raw mode); none without it
if run rules-offload-forward 0 rules --queues 0:1 --offload; then
	line rules-offload-forward "$T/out" \
		"-A NFQE -m connmark --mark 0x40000000/0x40000000 -j ACCEPT"
	line rules-offload-forward "$T/out" \
		"-A NFQE -m mark --mark 0x40000000/0x40000000 -j CONNMARK --save-mark --nfmask 0x40000000 --ctmask 0x40000000"
	line rules-offload-forward "$T/out" \
		"-A NFQE -m mark --mark 0x40000000/0x40000000 -j ACCEPT"
	line rules-offload-forward "$T/out" \
		"-A NFQE -j NFQUEUE --queue-balance 0:1 --queue-bypass --queue-cpu-fanout"
fi
if run rules-offload-raw 0 rules --queues 0:1 --mode raw --offload; then
	line rules-offload-raw "$T/out" \
		"-A NFQE -m set --match-set nfqe_offload-4s src,src,dst -m set --match-set nfqe_offload-4d src,dst,dst -j ACCEPT"
	line rules-offload-raw "$T/out" \
		"-A NFQE -m set --match-set nfqe_offload-4s dst,dst,src -m set --match-set nfqe_offload-4d dst,src,src -j ACCEPT"
	hasnt rules-offload-raw "$T/out" "connmark"
fi
if run rules-offload-raw6 0 rules --mode raw --offload --ipv6; then
	has rules-offload-raw6 "$T/out" "--match-set nfqe_offload-6s src,src,dst"
	has rules-offload-raw6 "$T/out" "ip6tables-restore"
fi
if run rules-no-offload 0 rules --queues 0:1 --mode raw; then
	hasnt rules-no-offload "$T/out" "match-set"
	hasnt rules-no-offload "$T/out" "connmark"
fi

for q in 1:x 5:2 0:300 70000 ""; do
	run "rules-bad-queues '$q'" 2 rules --queues "$q"
done
run rules-bad-mode 2 rules --mode bridge
run rules-extra-arg 2 rules extra

if [ "$nfail" -ne 0 ]; then
	echo "$nfail check(s) failed" >&2
	exit 1
fi
echo "all passed"
