#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# conf/nfqe.sysusers through systemd-sysusers, always with --root into an
# empty temporary directory (this host's user database is never touched):
# the dry run and the real run pass without a warning; the real run creates
# the system group nfqe and the system user nfqe with that primary group,
# home /, a nologin shell and a locked password; a second run changes
# nothing. Exits 77 when systemd-sysusers is missing.
set -euo pipefail
: "${NFQE_SOURCE_ROOT:?run through meson test}"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

command -v systemd-sysusers >/dev/null || skip "systemd-sysusers not installed"
SRC=$NFQE_SOURCE_ROOT/conf/nfqe.sysusers
[ -r "$SRC" ] || fail "$SRC missing"
T=$(mktemp -d /tmp/nfqe-sysusers.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/etc"

# sysusers [ARGS...]: on the temporary root only; warnings and errors
# (anything above notice, e.g. "Unknown modifier") are failures
sysusers() {
	SYSTEMD_LOG_LEVEL=warning systemd-sysusers --root "$T" "$@" "$SRC" \
		>"$T/out" 2>&1 || fail "systemd-sysusers $*: $(cat "$T/out")"
	[ ! -s "$T/out" ] || fail "systemd-sysusers $* warned: $(cat "$T/out")"
}

sysusers --dry-run
[ ! -e "$T/etc/passwd" ] || fail "the dry run wrote $T/etc/passwd"
ok "dry run"

sysusers
IFS=: read -r _ pw uid gid gecos home shell < <(grep '^nfqe:' "$T/etc/passwd") ||
	fail "no user nfqe: $(cat "$T/etc/passwd")"
IFS=: read -r _ _ ggid members < <(grep '^nfqe:' "$T/etc/group") ||
	fail "no group nfqe: $(cat "$T/etc/group")"
[ "$gid" = "$ggid" ] || fail "user nfqe's primary gid $gid is not group nfqe's $ggid"
# systemd-sysusers allocates from the system range (below 1000 on Debian)
[ "$uid" -lt 1000 ] && [ "$gid" -lt 1000 ] || fail "uid $uid / gid $gid outside the system range"
[ "$home" = / ] || fail "home $home, want /"
[[ $shell == */nologin ]] || fail "shell $shell, want nologin"
[ "$pw" = x ] && grep -q '^nfqe:!' "$T/etc/shadow" || fail "password not locked: $(grep '^nfqe:' "$T/etc/shadow")"
[ -z "$members" ] || fail "group nfqe has members: $members"
ok "user nfqe ($uid:$gid, \"$gecos\", $home, $shell), group nfqe ($ggid), locked"

cp "$T/etc/passwd" "$T/passwd.1"
cp "$T/etc/group" "$T/group.1"
sysusers
cmp -s "$T/etc/passwd" "$T/passwd.1" && cmp -s "$T/etc/group" "$T/group.1" ||
	fail "a second run changed the user database"
ok "a second run changes nothing"
