# shellcheck shell=bash
# lib.sh: what the benchmark scripts around msg_load share; sourced by
# messages.sh, idle.sh and federation.sh after "set -eu".
#
#   bench_init TEMPLATE      a temporary directory $dir (mktemp TEMPLATE),
#                            removed on exit with every process in $pids and
#                            the PostgreSQL server of $pgdir, if any
#   die, free_port, show_log NAME, wait_log NAME PID REGEX
#   single_server BUILD USERS  messages.sh's server: certificate, database
#                            with bench1..benchUSERS, sb-router, sb-sm and
#                            sb-c2s started ($cport, $router_pid, $sm_pid,
#                            $c2s_pid)
#   single_server_end        its counters, logs and sm's clean stop
#   log_summary NAME...      each log's lines, warnings and errors
#   stop_sm NAME PID         SIGTERM, then sm must end with status 0
#   check_sanitizers NAME... sanitizer reports in those logs
#
# A failure in the last three sets status=1. Messages start with the
# script's name.

me=${0##*/}
bench_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

bench_init() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/$1")
	chmod 755 "$dir"
	pgdir=
	pids=()
	trap bench_cleanup EXIT
	# Every client connection is a descriptor in c2s and in the load generator.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

bench_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$pgdir" ]; then "$bench_src/t/lib/pgserver.sh" stop "$pgdir" >/dev/null 2>&1 || true; fi
	rm -rf "$dir"
}

die() {
	echo "$me: $*" >&2
	exit 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

show_log() {
	echo "$me: $1's log (last 30 lines):" >&2
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

# log_summary NAME...: lines, warnings and errors of each log, the commonest five.
log_summary() {
	local p log w=0
	for p in "$@"; do
		if [ ${#p} -gt $w ]; then w=${#p}; fi
	done
	for p in "$@"; do
		log=$dir/$p.log
		printf "  %-${w}s log: %d lines, %d warn, %d error\n" "$p" "$(wc -l < "$log")" \
			"$(grep -c ' warn: ' "$log" || true)" "$(grep -c ' error: ' "$log" || true)"
		grep -E ' (warn|error): ' "$log" | sed -E 's/^[^ ]+ //' | sort | uniq -c |
			sort -rn | head -5 | sed 's/^/      /'
	done
}

# stop_sm NAME PID: sm stops first; every session should have ended with the clients' logouts.
stop_sm() {
	local name=$1 pid=$2 st
	if ! kill -0 "$pid" 2>/dev/null; then
		set +e
		wait "$pid"
		echo "  $name had died (status $?)" >&2
		set -e
		status=1
		return
	fi
	kill -TERM "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		echo "  $name did not stop within 10 s of SIGTERM" >&2
		status=1
		return
	fi
	set +e
	wait "$pid"
	st=$?
	set -e
	echo "  $name stopped with status $st: $(grep -E 'shutting down' "$dir/$name.log" |
		tail -1 | sed -E 's/^.*: (shutting down)/\1/')"
	[ "$st" -eq 0 ] || status=1
}

check_sanitizers() {
	local p
	for p in "$@"; do
		if grep -qE 'Sanitizer|runtime error' "$dir/$p.log"; then
			echo "  $p's log has sanitizer reports:" >&2
			grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error' "$dir/$p.log" |
				head -40 >&2
			status=1
		fi
	done
}

# single_server BUILD USERS: in $dir an ECDSA P-256 self-signed certificate
# for localhost, a database (SB_BENCH_DB: sqlite, or pgsql for a throwaway
# PostgreSQL) with the accounts bench1..benchUSERS (password "bench"),
# router.xml (sm1 sharing localhost, c2s1), sm1.xml and c2s.xml (log level
# notice; no read rate and no per-address limit, since every client comes
# from 127.0.0.1 as fast as it can; $c2s_limits, if set, is added to
# <limits>). Starts sb-router, SB_SM_BIN (default BUILD/sb-sm) and sb-c2s
# on free ports.
single_server() {
	local build=$1 users=$2 secret=bench-secret domain=localhost storage conninfo t0
	sm_bin=${SB_SM_BIN:-$build/sb-sm}
	db=${SB_BENCH_DB:-sqlite}
	[ -x "$sm_bin" ] || die "no sm binary at $sm_bin (set SB_SM_BIN)"

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
		conninfo=$("$bench_src/t/lib/pgserver.sh" start "$pgdir" 2>"$dir/pg.log") ||
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
    <read-rate>0</read-rate>${c2s_limits:+
    $c2s_limits}
  </limits>
</c2s>
XML

	t0=$(date +%s%N)
	"$build/sbctl" -c "$dir/switchboard.xml" db init >/dev/null
	seq 1 "$users" | sed "s/.*/bench&@$domain bench/" |
		"$build/sbctl" -c "$dir/switchboard.xml" adduser --batch >/dev/null
	echo "$me: $users accounts ($db) made in $(( ($(date +%s%N) - t0) / 1000000 )) ms;" \
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
}

# single_server_end: the counters, then each log summed up (what went wrong
# shows here); sm stops first; on failure (status) the logs' ends.
single_server_end() {
	kill -USR1 "$router_pid" "$c2s_pid" "$sm_pid" 2>/dev/null || true
	sleep 0.5
	log_summary router c2s sm
	grep -E 'counters: ' "$dir/sm.log" | tail -1 | sed -E 's/^[^ ]+ /  sm /'
	grep -E 'connections, .* sessions' "$dir/c2s.log" | tail -1 | sed -E 's/^[^ ]+ /  c2s /'
	stop_sm sm "$sm_pid"
	check_sanitizers sm
	local p
	if [ $status -ne 0 ]; then
		for p in router c2s sm; do show_log "$p"; done
	fi
}
