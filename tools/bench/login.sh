#!/bin/bash
# login.sh BUILD_DIR [SECONDS [LOGIN_LOAD OPTIONS...]]: the login benchmark.
#
# Makes a temporary directory with an ECDSA P-256 self-signed certificate
# for localhost, a SQLite database with the accounts bench1..benchM
# (password "bench", made with sbctl adduser --batch), router.xml (c2s1,
# sm1 sharing localhost) and c2s.xml (one STARTTLS listener; log level
# warn; no per-address limit, c2s's default read rate): lib.sh's
# sb_config, whose sm1.xml goes unused. Starts sb-router and sb-c2s on free
# ports, runs login_load against them (it also plays sm1), and always stops
# them and removes the directory.
#
#   bash tools/bench/login.sh build            10 s, 20 slots, SCRAM-SHA-1
#   bash tools/bench/login.sh build 30 -2      30 s, SCRAM-SHA-256
#   ACCOUNTS=5000 bash tools/bench/login.sh build 10 -n 40
set -eu
. "$(dirname "$0")/lib.sh"
build=$1
seconds=${2:-10}
shift $(( $# > 1 ? 2 : 1 ))
accounts=${ACCOUNTS:-1000}
domain=localhost

bench_init sb-login-bench-XXXXXX

# wait_port PORT PID NAME: until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
	await "$2" 10 port_open "$1" && return
	echo "login.sh: $3 did not start; its log:" >&2
	cat "$dir/$3.log" >&2
	exit 1
}

rport=$(free_port)
cport=$(free_port)

self_signed "$domain" "$dir/$domain.key" "$dir/$domain.crt"
# -L '': no <read-rate>, c2s's default.
sb_config -l warn -L '' "$dir" "$domain" "$rport" "$cport" "$domain.crt" "$domain.key"
sb_accounts "$build" "$dir" "$domain" "$accounts" >/dev/null

"$build/sb-router" -c "$dir/router.xml" 2>"$dir/router.log" &
pids+=($!)
router_pid=$!
wait_port "$rport" "$router_pid" router
"$build/sb-c2s" -c "$dir/c2s.xml" -s "$dir/switchboard.xml" 2>"$dir/c2s.log" &
pids+=($!)
c2s_pid=$!
wait_port "$cport" "$c2s_pid" c2s

"$build/bench/login_load" -a "$accounts" -t "$seconds" "$@" \
	"$cport" "$rport" "$secret" "$c2s_pid" "$router_pid" || {
	echo "login.sh: login_load failed; c2s log tail:" >&2
	tail -20 "$dir/c2s.log" >&2
	exit 1
}
if [ -s "$dir/c2s.log" ]; then
	echo "  c2s log: $(wc -l < "$dir/c2s.log") lines at warn level; the last:"
	tail -3 "$dir/c2s.log" | sed 's/^/    /'
fi
