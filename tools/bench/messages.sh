#!/bin/bash
# messages.sh BUILD_DIR [SECONDS [MSG_LOAD OPTIONS...]]: the one-to-one message
# benchmark through the whole server: client -> c2s -> router -> sm -> router
# -> c2s -> client.
#
# Makes a temporary directory with an ECDSA P-256 self-signed certificate for
# localhost, a database with the accounts bench1..benchUSERS (password
# "bench", made with sbctl adduser --batch), router.xml (sm1 sharing
# localhost, c2s1), sm1.xml and c2s.xml (log level notice; no read rate and
# no per-address limit, since every client comes from 127.0.0.1 as fast as
# it can); starts sb-router, sb-sm and sb-c2s on free ports and runs
# msg_load against them: USERS/2 senders each keep a window of chat
# messages in flight to their receiver's bare JID. msg_load prints the
# rate, the latency, the server's CPU per delivered message (each process's
# and their sum, from /proc/PID/stat) and its RSS; then each server log is
# summed up (warnings, errors, sm's counters) and sm is stopped first, to
# see that it ends cleanly. Everything is stopped and removed on exit, also
# on failure.
#
#   bash tools/bench/messages.sh build                 200 users, 10 s, window 32
#   USERS=4000 bash tools/bench/messages.sh build 20 -W 8
#   SB_SM_BIN=/tmp/sb-sm SB_BENCH_DB=pgsql bash tools/bench/messages.sh build
#
# USERS/2 x window is the burst sent at once: past about 30,000 (fewer with
# a slow sm, such as an ASan build) the router's queue to sm1 or c2s1 passes
# its 4 MiB write-buffer bound and the link is dropped (no backpressure yet).
# -W 1 measures the cost of sparse traffic (a TLS record and a system call
# per message), the default window 32 batched throughput (see msg_load.c).
#
# SB_SM_BIN: the sm binary (default BUILD_DIR/sb-sm); SB_BENCH_DB=pgsql: a
# throwaway PostgreSQL (t/lib/pgserver.sh) instead of SQLite. msg_load's
# options (-W window, -b body bytes, -j processes, -w warm-up, ...) follow
# SECONDS; its -u comes from USERS.
set -eu
build=$1
seconds=${2:-10}
shift $(( $# > 1 ? 2 : 1 ))
users=${USERS:-200}
sm_bin=${SB_SM_BIN:-$build/sb-sm}
db=${SB_BENCH_DB:-sqlite}
secret=bench-secret
domain=localhost
src=$(cd "$(dirname "$0")/../.." && pwd)

dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-msg-bench-XXXXXX")
chmod 755 "$dir"
pgdir=
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$pgdir" ]; then "$src/t/lib/pgserver.sh" stop "$pgdir" >/dev/null 2>&1 || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT

die() {
	echo "messages.sh: $*" >&2
	exit 1
}

[ -x "$sm_bin" ] || die "no sm binary at $sm_bin (set SB_SM_BIN)"
[ $((users % 2)) -eq 0 ] && [ "$users" -ge 2 ] || die "USERS must be even"

# Every client connection is a descriptor in c2s and in the load generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

show_log() {
	echo "messages.sh: $1's log (last 30 lines):" >&2
	tail -30 "$dir/$1.log" >&2
}

# wait_log NAME PID REGEX: until the process's log shows REGEX (10 s).
wait_log() {
	for _ in $(seq 100); do
		if grep -qE "$3" "$dir/$1.log" 2>/dev/null; then return 0; fi
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	show_log "$1"
	die "$1 did not start"
}

rport=$(free_port)
cport=$(free_port)

certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
	--outfile "$dir/$domain.key" 2>/dev/null
printf 'cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\ntls_www_server\nsigning_key\n' \
	"$domain" "$domain" > "$dir/cert.tmpl"
certtool --generate-self-signed --load-privkey "$dir/$domain.key" \
	--template "$dir/cert.tmpl" --outfile "$dir/$domain.crt" 2>/dev/null

case $db in
sqlite)
	storage="<storage driver='sqlite'><path>$dir/sb.db</path></storage>" ;;
pgsql)
	pgdir=$(mktemp -d "${TMPDIR:-/tmp}/sb-msg-bench-pg-XXXXXX")
	chmod 755 "$pgdir"
	conninfo=$("$src/t/lib/pgserver.sh" start "$pgdir" 2>"$dir/pg.log") ||
		{ cat "$dir/pg.log" >&2; die "PostgreSQL did not start"; }
	storage="<storage driver='pgsql'><conninfo>$conninfo</conninfo></storage>" ;;
*)
	die "SB_BENCH_DB: sqlite or pgsql, not '$db'" ;;
esac

cat > "$dir/switchboard.xml" <<XML
<switchboard>
  $storage
</switchboard>
XML

cat > "$dir/router.xml" <<XML
<router>
  <log level='notice'/>
  <listen address='127.0.0.1' port='$rport'/>
  <component name='sm1' secret='$secret' internal='yes'>
    <bind name='$domain' share='yes'/>
  </component>
  <component name='c2s1' secret='$secret' internal='yes'/>
</router>
XML

cat > "$dir/sm1.xml" <<XML
<sm>
  <log level='notice'/>
  <router address='127.0.0.1' port='$rport' name='sm1' secret='$secret'/>
  <domain name='$domain'/>
</sm>
XML

cat > "$dir/c2s.xml" <<XML
<c2s>
  <log level='notice'/>
  <router address='127.0.0.1' port='$rport' name='c2s1' secret='$secret'/>
  <listen address='127.0.0.1' port='$cport' tls='starttls'/>
  <domain name='$domain'>
    <certificate>$domain.crt</certificate>
    <key>$domain.key</key>
  </domain>
  <limits>
    <connections-per-address>0</connections-per-address>
    <read-rate>0</read-rate>
  </limits>
</c2s>
XML

t0=$(date +%s%N)
"$build/sbctl" -c "$dir/switchboard.xml" db init >/dev/null
seq 1 "$users" | sed "s/.*/bench&@$domain bench/" |
	"$build/sbctl" -c "$dir/switchboard.xml" adduser --batch >/dev/null
echo "messages.sh: $users accounts ($db) made in $(( ($(date +%s%N) - t0) / 1000000 )) ms;" \
	"sm is $sm_bin"

"$build/sb-router" -c "$dir/router.xml" 2>"$dir/router.log" &
pids+=($!)
router_pid=$!
wait_log router "$router_pid" "started with"
"$sm_bin" -c "$dir/sm1.xml" -s "$dir/switchboard.xml" 2>"$dir/sm.log" &
pids+=($!)
sm_pid=$!
wait_log sm "$sm_pid" "router link up"
"$build/sb-c2s" -c "$dir/c2s.xml" -s "$dir/switchboard.xml" 2>"$dir/c2s.log" &
pids+=($!)
c2s_pid=$!
wait_log c2s "$c2s_pid" "router link up"

status=0
"$build/bench/msg_load" -u "$users" -t "$seconds" "$@" "$cport" \
	router="$router_pid" c2s="$c2s_pid" sm="$sm_pid" || status=1

# The counters, then each log summed up: what went wrong shows here.
kill -USR1 "$router_pid" "$c2s_pid" "$sm_pid" 2>/dev/null || true
sleep 0.5
for p in router c2s sm; do
	log=$dir/$p.log
	printf '  %-6s log: %d lines, %d warn, %d error\n' "$p" "$(wc -l < "$log")" \
		"$(grep -c ' warn: ' "$log" || true)" "$(grep -c ' error: ' "$log" || true)"
	grep -E ' (warn|error): ' "$log" | sed -E 's/^[^ ]+ //' | sort | uniq -c |
		sort -rn | head -5 | sed 's/^/      /'
done
grep -E 'counters: ' "$dir/sm.log" | tail -1 | sed -E 's/^[^ ]+ /  sm /'
grep -E 'connections, .* sessions' "$dir/c2s.log" | tail -1 | sed -E 's/^[^ ]+ /  c2s /'

# sm stops first: every session should have ended with the clients' logouts.
if ! kill -0 "$sm_pid" 2>/dev/null; then
	set +e
	wait "$sm_pid"
	echo "  sm had died (status $?)" >&2
	set -e
	status=1
else
	kill -TERM "$sm_pid"
	for _ in $(seq 100); do kill -0 "$sm_pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$sm_pid" 2>/dev/null; then
		echo "  sm did not stop within 10 s of SIGTERM" >&2
		status=1
	else
		set +e
		wait "$sm_pid"
		sm_status=$?
		set -e
		echo "  sm stopped with status $sm_status: $(grep -E 'shutting down' \
			"$dir/sm.log" | tail -1 | sed -E 's/^.*: (shutting down)/\1/')"
		[ "$sm_status" -eq 0 ] || status=1
	fi
fi
if grep -qE 'Sanitizer|runtime error' "$dir/sm.log"; then
	echo "  sm's log has sanitizer reports:" >&2
	grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error' "$dir/sm.log" | head -40 >&2
	status=1
fi
if [ $status -ne 0 ]; then
	for p in router c2s sm; do show_log "$p"; done
fi
exit $status
