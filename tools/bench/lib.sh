# shellcheck shell=bash
# lib.sh: what the benchmark scripts share; sourced after "set -eu" by
# messages.sh, idle.sh, federation.sh, login.sh, login-ejabberd.sh and
# servers/common.sh (so by servers/*.sh).
#
#   bench_init TEMPLATE      a temporary directory $dir (mktemp TEMPLATE),
#                            removed on exit with every process in $pids and
#                            the PostgreSQL server of $pgdir, if any
#   die, free_port, show_log NAME, wait_log NAME PID REGEX
#   alive PID, port_open PORT, await PID SECONDS CHECK...
#   self_signed DOMAIN KEY CERT  an ECDSA P-256 certificate for DOMAIN
#   sb_config, sb_accounts, sb_start, start_logged: one switchboard server's
#                            configuration, accounts and processes (router,
#                            sm, c2s), as every script here sets them up
#   single_server BUILD USERS [K]  messages.sh's server: certificate,
#                            database with bench1..benchUSERS, sb-router,
#                            sb-sm and sb-c2s started ($cport, $router_pid,
#                            $sm_pid, $c2s_pid); with K, K c2s processes
#                            ($cports, $c2s_pids, $c2s_names: scale.sh)
#   single_server_end        its counters, logs and sm's clean stop
#   log_summary NAME...      each log's lines, warnings and errors
#   stop_sm NAME PID         SIGTERM, then sm must end with status 0
#   check_sanitizers NAME... sanitizer reports in those logs
#
# A failure in the last three sets status=1. Messages start with the
# script's name. $secret is the components' secret with their router.

me=${0##*/}
bench_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secret=bench-secret

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
	await "$2" 10 grep -sqE "$3" "$dir/$1.log" && return
	show_log "$1"
	die "$1 did not start"
}

# alive PID: the process runs (not a zombie; its command line may not be
# the server's yet).
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# await PID SECONDS CHECK...: runs CHECK every 0.1 s until it succeeds;
# status 1 once PID has ended (alive) or SECONDS have passed.
await() {
	local pid=$1 n=$(( $2 * 10 ))
	shift 2
	for _ in $(seq "$n"); do
		"$@" && return 0
		alive "$pid" || return 1
		sleep 0.1
	done
	return 1
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

# self_signed DOMAIN KEY CERT: an ECDSA P-256 key and a certificate for
# DOMAIN signed with it (30 days; the template is CERT's name with .tmpl).
self_signed() {
	local tmpl=${3%.*}.tmpl
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$2" 2>/dev/null
	printf 'cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\ntls_www_server\nsigning_key\n' \
		"$1" "$1" > "$tmpl"
	certtool --generate-self-signed --load-privkey "$2" --template "$tmpl" --outfile "$3" \
		2>/dev/null
}

# sb_config [-l LEVEL] [-r XML] [-d XML] [-L XML] CONFDIR DOMAIN RPORT CPORT
# CERT KEY [STORAGE]: one switchboard server's configuration in CONFDIR,
# every log at LEVEL (default notice): switchboard.xml (STORAGE, a
# <storage> element; default SQLite in CONFDIR/sb.db), router.xml
# (listening on 127.0.0.1:RPORT; sm1 sharing DOMAIN, c2s1, then -r's XML),
# sm1.xml and c2s.xml (STARTTLS on 127.0.0.1:CPORT; DOMAIN with CERT, KEY
# and -d's XML; in <limits> no per-address limit, since every client comes
# from loopback, then -L's XML: by default <read-rate>0</read-rate>, no
# read rate either, as the clients send as fast as they can). CPORT may be
# a list, "P1,P2,...,PK": then K c2s processes, c2s1..c2sK in router.xml,
# each with its file c2s1.xml..c2sK.xml (instead of c2s.xml) and port.
sb_config() {
	local level=notice router_more='' domain_more='' limits='<read-rate>0</read-rate>'
	local OPTIND=1 OPTARG o conf domain rport cport cert key storage
	local ports file name c2s_components='' i
	while getopts l:r:d:L: o; do
		case $o in
		l) level=$OPTARG ;;
		r) router_more=$OPTARG ;;
		d) domain_more=$OPTARG ;;
		L) limits=$OPTARG ;;
		*) die "sb_config: bad option" ;;
		esac
	done
	shift $((OPTIND - 1))
	conf=$1 domain=$2 rport=$3 cport=$4 cert=$5 key=$6
	storage=${7:-"<storage driver='sqlite'><path>$conf/sb.db</path></storage>"}
	IFS=, read -r -a ports <<<"$cport"
	for i in "${!ports[@]}"; do
		c2s_components+="
  <component name='c2s$((i + 1))' secret='$secret' internal='yes'/>"
	done

	cat > "$conf/switchboard.xml" <<XML
<switchboard>
  $storage
</switchboard>
XML

	cat > "$conf/router.xml" <<XML
<router>
  <log level='$level'/>
  <listen address='127.0.0.1' port='$rport'/>
  <component name='sm1' secret='$secret' internal='yes'>
    <bind name='$domain' share='yes'/>
  </component>$c2s_components${router_more:+
  $router_more}
</router>
XML

	cat > "$conf/sm1.xml" <<XML
<sm>
  <log level='$level'/>
  <router address='127.0.0.1' port='$rport' name='sm1' secret='$secret'/>
  <domain name='$domain'/>
</sm>
XML

	for i in "${!ports[@]}"; do
		name=c2s$((i + 1))
		file=$conf/$name.xml
		if [ ${#ports[@]} -eq 1 ]; then file=$conf/c2s.xml; fi
		cat > "$file" <<XML
<c2s>
  <log level='$level'/>
  <router address='127.0.0.1' port='$rport' name='$name' secret='$secret'/>
  <listen address='127.0.0.1' port='${ports[i]}' tls='starttls'/>
  <domain name='$domain'>
    <certificate>$cert</certificate>
    <key>$key</key>${domain_more:+
    $domain_more}
  </domain>
  <limits>
    <connections-per-address>0</connections-per-address>${limits:+
    $limits}
  </limits>
</c2s>
XML
	done
}

# sb_accounts BUILD CONFDIR DOMAIN N: CONFDIR/switchboard.xml's database
# made (sbctl db init) with the accounts bench1..benchN@DOMAIN (password
# "bench", sbctl adduser --batch); sbctl's output on stdout and stderr;
# $made_ms: how long it took, in ms; on failure $sb_step names the command
# that failed.
# shellcheck disable=SC2034 # sb_step: read by servers/switchboard.sh
sb_accounts() {
	local t0
	t0=$(date +%s%N)
	sb_step="sbctl db init"
	"$1/sbctl" -c "$2/switchboard.xml" db init || return
	sb_step="sbctl adduser --batch"
	seq 1 "$4" | sed "s/.*/bench&@$3 bench/" |
		"$1/sbctl" -c "$2/switchboard.xml" adduser --batch || return
	made_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# start_logged NAME REGEX ARGV...: ARGV in the background, its stderr in
# $dir/NAME.log, its pid added to $pids and left in $last_pid; returns once
# the log shows REGEX (wait_log).
start_logged() {
	local name=$1 regex=$2
	shift 2
	"$@" 2>"$dir/$name.log" &
	last_pid=$!
	pids+=("$last_pid")
	wait_log "$name" "$last_pid" "$regex"
}

# sb_start STARTER BUILD SM_BIN CONFDIR [N]: sb-router, SM_BIN and sb-c2s
# with CONFDIR's configuration, each started once the one before is up:
# STARTER NAME REGEX ARGV... (start_logged, or servers/switchboard.sh's
# own) starts them as routerN, smN and c2sN and leaves each pid in
# $last_pid. Their pids in $sb_pids: router, sm, c2s.
sb_start() {
	local run=$1 build=$2 sm_bin=$3 conf=$4 n=${5:-}
	sb_pids=()
	"$run" "router$n" "started with" "$build/sb-router" -c "$conf/router.xml"
	sb_pids+=("$last_pid")
	"$run" "sm$n" "router link up" "$sm_bin" -c "$conf/sm1.xml" -s "$conf/switchboard.xml"
	sb_pids+=("$last_pid")
	"$run" "c2s$n" "router link up" "$build/sb-c2s" -c "$conf/c2s.xml" -s "$conf/switchboard.xml"
	sb_pids+=("$last_pid")
}

# single_server BUILD USERS [K]: in $dir an ECDSA P-256 self-signed
# certificate for localhost, a database (SB_BENCH_DB: sqlite, or pgsql for
# a throwaway PostgreSQL) with the accounts bench1..benchUSERS (password
# "bench"), router.xml (sm1 sharing localhost, c2s1), sm1.xml and c2s.xml
# (log level notice; no read rate and no per-address limit, since every
# client comes from loopback as fast as it can; $c2s_limits, if set, is
# added to <limits>): sb_config. Starts sb-router, SB_SM_BIN (default
# BUILD/sb-sm) and sb-c2s on free ports.
#
# With K (scale.sh), K c2s processes c2s1..c2sK instead of one, each a
# component of the router with its own port, c2sI.xml and log c2sI.log:
# $cports is their ports as msg_load takes them ("P1,P2,..."), $c2s_pids
# and $c2s_names the arrays of their pids and names ($cport and $c2s_pid
# are c2s1's). A c2s holds one descriptor per client under the limit
# bench_init raised: USERS / K must stay 1,000 below it.
single_server() {
	local build=$1 users=$2 k=${3:-} domain=localhost storage conninfo i p
	sm_bin=${SB_SM_BIN:-$build/sb-sm}
	db=${SB_BENCH_DB:-sqlite}
	[ -x "$sm_bin" ] || die "no sm binary at $sm_bin (set SB_SM_BIN)"
	if [ -n "$k" ] && [ $(( (users + k - 1) / k )) -gt $(( $(ulimit -n) - 1000 )) ]; then
		die "$users clients over $k c2s processes: more than $(( $(ulimit -n) - 1000 )) each" \
			"(descriptor limit $(ulimit -n)); use more c2s processes"
	fi

	rport=$(free_port)
	cport=$(free_port)
	cports=$cport
	for ((i = 2; i <= ${k:-1}; i++)); do
		while p=$(free_port) && [[ ",$cports," == *",$p,"* ]]; do :; done
		cports+=",$p"
	done
	self_signed "$domain" "$dir/$domain.key" "$dir/$domain.crt"

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

	sb_config -L "<read-rate>0</read-rate>${c2s_limits:-}" \
		"$dir" "$domain" "$rport" "$cports" "$domain.crt" "$domain.key" "$storage"
	sb_accounts "$build" "$dir" "$domain" "$users" >/dev/null
	echo "$me: $users accounts ($db) made in $made_ms ms; sm is $sm_bin"

	if [ -z "$k" ]; then
		sb_start start_logged "$build" "$sm_bin" "$dir"
		router_pid=${sb_pids[0]} sm_pid=${sb_pids[1]} c2s_pid=${sb_pids[2]}
		c2s_pids=("$c2s_pid") c2s_names=(c2s)
		return
	fi
	start_logged router "started with" "$build/sb-router" -c "$dir/router.xml"
	router_pid=$last_pid
	start_logged sm "router link up" "$sm_bin" -c "$dir/sm1.xml" -s "$dir/switchboard.xml"
	sm_pid=$last_pid
	c2s_pids=() c2s_names=()
	for ((i = 1; i <= k; i++)); do
		p=$dir/c2s$i.xml
		if [ "$k" -eq 1 ]; then p=$dir/c2s.xml; fi	# sb_config's name for one
		start_logged "c2s$i" "router link up" "$build/sb-c2s" -c "$p" -s "$dir/switchboard.xml"
		c2s_pids+=("$last_pid") c2s_names+=("c2s$i")
	done
	c2s_pid=${c2s_pids[0]}
}

# single_server_end: the counters, then each log summed up (what went wrong
# shows here); sm stops first; on failure (status) the logs' ends.
single_server_end() {
	local p
	kill -USR1 "$router_pid" "${c2s_pids[@]}" "$sm_pid" 2>/dev/null || true
	sleep 0.5
	log_summary router "${c2s_names[@]}" sm
	grep -E 'counters: ' "$dir/sm.log" | tail -1 | sed -E 's/^[^ ]+ /  sm /'
	for p in "${c2s_names[@]}"; do
		grep -E 'connections, .* sessions' "$dir/$p.log" | tail -1 |
			sed -E "s/^[^ ]+ /  $p /"
	done
	stop_sm sm "$sm_pid"
	check_sanitizers sm
	if [ $status -ne 0 ]; then
		for p in router "${c2s_names[@]}" sm; do show_log "$p"; done
	fi
}
