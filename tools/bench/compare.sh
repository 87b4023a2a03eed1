#!/bin/bash
# compare.sh BUILD_DIR [SECONDS]: what `make bench-compare` runs. The same
# load generators, against switchboard, Prosody and ejabberd one after the
# other, on this machine, with the same ECDSA P-256 certificate, TLS on and
# SCRAM-SHA-1 for every login, and one table of the figures of issue 9
# with the ratios that are its targets:
#
#   logins/s            20 slots logging in again and again (login_load -x:
#                       STARTTLS, full handshake, SCRAM-SHA-1 from a cached
#                       SaltedPassword, bind, presence, close)
#   messages/s, p99     100 clients, 1 message in flight per pair; 1000
#                       clients, 10 in flight (msg_load: chat messages to the
#                       partner's bare JID, closed loop)
#   KiB per idle session  IDLE sessions logged in and held IDLE_HOLD
#                       seconds (msg_load -I): the servers' summed RSS at
#                       the end of the hold over the empty server's. An
#                       idle session is what it costs once it has been
#                       silent a while: switchboard's c2s releases a silent
#                       client's parser after 5 s and trims its heap every
#                       10 s, so the hold (default 30 s) covers both; the
#                       others are held as long and measured the same way.
#
# Each server is started by tools/bench/servers/NAME.sh in a directory of
# its own and stopped before the next starts, so they never share the
# cores. SERVERS="switchboard ejabberd" picks some; a server whose start
# fails is reported and skipped. SECONDS (default 10) is each measured
# window; IDLE (default 10000: at 2,000 each server's fixed growth, its
# tables and caches, still weighs on the figure) the idle sessions. The
# raw outputs are kept in the printed directory with SB_KEEP=1.
#
# The load generator shares the 2 cores with the server: absolute figures
# are what this machine gives; the ratios are the point.
set -u
build=$(cd "${1:-build}" && pwd)
seconds=${2:-10}
servers=${SERVERS:-switchboard prosody ejabberd}
idle=${IDLE:-10000}
idle_hold=${IDLE_HOLD:-30}
accounts=$(( idle > 1000 ? idle : 1000 ))
src=$(cd "$(dirname "$0")/../.." && pwd)
bench=$src/tools/bench

top=$(mktemp -d "${TMPDIR:-/tmp}/sb-compare-XXXXXX")
chmod 755 "$top"
current=
cleanup() {
	if [ -n "$current" ]; then bash "$bench/servers/$current.sh" stop "$top/$current" \
	    >/dev/null 2>&1; fi
	if [ -n "${SB_KEEP:-}" ]; then echo "compare.sh: kept $top"; else rm -rf "$top"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One certificate for all, as a real deployment would have.
tmpl=$top/cert.tmpl
printf 'cn = "localhost"\ndns_name = "localhost"\nexpiration_days = 30\ntls_www_server\nsigning_key\n' >"$tmpl"
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$top/key.pem" 2>/dev/null
certtool --generate-self-signed --load-privkey "$top/key.pem" --template "$tmpl" \
    --outfile "$top/cert.pem" 2>/dev/null || { echo "compare.sh: certtool failed" >&2; exit 1; }

# "NAME=PID ..." of a server's processes; the first is the one login_load
# measures (c2s for switchboard: it does the handshakes).
pids_of() { tr '\n' ' ' <"$1/pids"; }
login_pid() { sed -n 's/^\(c2s\|prosody\|ejabberd\|beam\)[^=]*=//p' "$1/pids" | head -1; }

run_server() {
	local s=$1 d=$top/$1 port
	mkdir -p "$d" && chmod 755 "$d"
	cp "$top/cert.pem" "$top/key.pem" "$d/"
	port=$(free_port)
	echo "== $s: starting (port $port, $accounts accounts)" >&2
	if ! bash "$bench/servers/$s.sh" start "$d" "$port" "$accounts" >"$d/start.out" 2>&1; then
		echo "compare.sh: $s did not start:" >&2
		tail -5 "$d/start.out" >&2
		return 1
	fi
	current=$s
	echo "== $s: logins" >&2
	"$build/bench/login_load" -x -a 1000 -n 20 -t "$seconds" "$port" "$(login_pid "$d")" \
	    >"$d/login.out" 2>&1
	echo "== $s: messages, 100 clients x 1" >&2
	# shellcheck disable=SC2046
	"$build/bench/msg_load" -1 -u 100 -W 1 -t "$seconds" "$port" $(pids_of "$d") \
	    >"$d/m1.out" 2>&1
	echo "== $s: messages, 1000 clients x 10" >&2
	# shellcheck disable=SC2046
	"$build/bench/msg_load" -1 -u 1000 -W 10 -t "$seconds" "$port" $(pids_of "$d") \
	    >"$d/m10.out" 2>&1
	# Memory on a fresh instance: the message runs leave caches and heaps behind.
	bash "$bench/servers/$s.sh" stop "$d" >/dev/null 2>&1
	current=
	if ! bash "$bench/servers/$s.sh" start "$d" "$port" "$accounts" >"$d/start2.out" 2>&1; then
		echo "compare.sh: $s did not start again for the idle run" >&2
		return 1
	fi
	current=$s
	echo "== $s: $idle idle sessions" >&2
	# shellcheck disable=SC2046
	"$build/bench/msg_load" -1 -I -u "$idle" -t "$idle_hold" "$port" $(pids_of "$d") \
	    >"$d/idle.out" 2>&1
	bash "$bench/servers/$s.sh" stop "$d" >/dev/null 2>&1
	current=
}

# Figures out of the generators' outputs ("-" when a run failed).
fig() {
	local file=$1 what=$2 v=
	[ -f "$file" ] || { echo -; return; }
	case $what in
	logins) v=$(awk '/^  logins\/s/ {print $2}' "$file") ;;
	lfail) v=$(awk '/^  failures/ {print $2}' "$file") ;;
	rate) v=$(awk '/^  delivered\/s/ {print $2}' "$file") ;;
	p99) v=$(awk '/^  latency p50/ {print $11}' "$file") ;;
	lost) v=$(awk '/^  whole run/ {for (i = 1; i < NF; i++) if ($(i+1) ~ /^lost/) print $i}' "$file") ;;
	idle) v=$(awk '/^idle: / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		if (f["sessions"] > 0 && f["errors"] == 0)
			printf "%.1f", (f["end_kib"] - f["empty_kib"]) / f["sessions"] }' "$file") ;;
	ierr) v=$(sed -n 's/^idle: .* errors=\([0-9]*\).*/\1/p' "$file") ;;
	esac
	echo "${v:--}"
}

ratio() {	# a / b with two decimals, "-" when either is missing
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-";
	    else printf "%.2f", a / b }'
}

for s in $servers; do
	run_server "$s" || true
done

declare -A F
rows="logins rate1 p99_1 rate10 p99_10 idle"
for s in $servers; do
	d=$top/$s
	F[$s,logins]=$(fig "$d/login.out" logins)
	F[$s,rate1]=$(fig "$d/m1.out" rate)
	F[$s,p99_1]=$(fig "$d/m1.out" p99)
	F[$s,rate10]=$(fig "$d/m10.out" rate)
	F[$s,p99_10]=$(fig "$d/m10.out" p99)
	F[$s,idle]=$(fig "$d/idle.out" idle)
done

declare -A LABEL=(
	[logins]="logins/s, 20 concurrent"
	[rate1]="messages/s, 100 clients x 1"
	[p99_1]="p99 ms, 100 clients x 1"
	[rate10]="messages/s, 1000 clients x 10"
	[p99_10]="p99 ms, 1000 clients x 10"
	[idle]="KiB per idle TLS session ($idle, ${idle_hold} s)"
)
# The target of each row, as the ratio to compute and the bound it must meet.
target() {
	local r=$1 sb=${F[switchboard,$1]:--} pr=${F[prosody,$1]:--} ej=${F[ejabberd,$1]:--}
	case $r in
	logins|rate1|rate10) echo "$(ratio "$sb" "$ej") x ejabberd (>= 2)" ;;
	p99_1|p99_10)
		best=$(printf '%s\n%s\n' "$pr" "$ej" | grep -v '^-$' | sort -g | head -1)
		echo "$(ratio "$sb" "${best:--}") x the best (<= 0.5)" ;;
	idle) echo "$(ratio "$sb" "$pr") x Prosody (<= 0.33)" ;;
	esac
}

echo
echo "machine: $(nproc) cores; $seconds s per measurement; SCRAM-SHA-1, TLS, ECDSA P-256"
printf '%-40s' "figure"
for s in $servers; do printf '%14s' "$s"; done
printf '   %s\n' "switchboard: target"
for r in $rows; do
	printf '%-40s' "${LABEL[$r]}"
	for s in $servers; do printf '%14s' "${F[$s,$r]}"; done
	printf '   %s\n' "$(target "$r")"
done
for s in $servers; do
	d=$top/$s
	echo "$s: login failures $(fig "$d/login.out" lfail), messages lost $(fig "$d/m1.out" lost)" \
	    "/ $(fig "$d/m10.out" lost), idle sessions lost $(fig "$d/idle.out" ierr)"
done
