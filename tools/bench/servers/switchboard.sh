#!/bin/bash
# servers/switchboard.sh: a private switchboard for the benchmarks that
# compare servers (tools/bench/compare.sh). The same interface as
# servers/prosody.sh and servers/ejabberd.sh:
#
#   switchboard.sh start DIR PORT ACCOUNTS
#   switchboard.sh stop DIR
#
# start: DIR holds cert.pem and key.pem (ECDSA P-256, self-signed for
# localhost, made by the caller). Writes into DIR switchboard.xml (SQLite,
# DIR/sb.db), router.xml (sm1 sharing localhost, c2s1; on a free port of
# 127.0.0.1), sm1.xml and c2s.xml (STARTTLS required on 127.0.0.1:PORT with
# that certificate, TLS 1.2 and 1.3, no in-band registration; no read rate
# and no per-address limit, since every client comes from 127.0.0.1 as fast
# as it can), every log at level notice, as messages.sh; makes the accounts
# bench1..benchACCOUNTS (password "bench", SCRAM-SHA-1 and -256, sbctl
# adduser --batch) and starts sb-router, sb-sm and sb-c2s: no s2s. Returns
# once a SCRAM-SHA-1 login as bench1 (a tiny /usr/bin/python3 slixmpp
# client that checks the certificate against DIR/cert.pem) has bound a
# resource, after writing DIR/pids: "router=PID", "sm=PID", "c2s=PID", one
# a line. Nothing on stdout; on failure a message on stderr, status 1 and
# nothing left running. Needs no root.
#
# Each process runs in a session of its own under a small sh that waits for
# it: its log is DIR/NAME.log (router, sm, c2s), its pid DIR/NAME.pid and,
# once it has ended, its exit status DIR/NAME.exit (so a caller can tell a
# clean stop from a crash, as messages.sh does with sm). DIR/setup.log has
# sbctl's output and how long the accounts took. A start in a DIR whose
# instance still runs is refused; otherwise the previous database and logs
# are replaced.
#
# stop: SIGTERM to c2s (clients get <system-shutdown/>), then sm, then the
# router, each waited for (10 s, then SIGKILL) until it has left the process
# table. Only processes whose command line names DIR are signalled;
# stopping a stopped DIR does nothing.
#
# SB_BUILD: the build directory (default: build in this source tree);
# SB_SM_BIN: the sm binary (default SB_BUILD/sb-sm); SB_BENCH_STORAGE: a
# <storage> element for switchboard.xml instead of SQLite in DIR (e.g.
# PostgreSQL from t/lib/pgserver.sh).
set -eu
me=switchboard.sh
src=$(cd "$(dirname "$0")/../../.." && pwd)
domain=localhost
secret=bench-secret

die() {
	echo "$me: $*" >&2
	exit 1
}

usage() {
	echo "usage: $me start DIR PORT ACCOUNTS | stop DIR" >&2
	exit 2
}

# ours PID: the process lives and its command line names $dir (a pid file
# may outlive its process and the pid be someone else's by now).
ours() {
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "$dir/"
}

# reaped PID: a process that has ended stays in the process table (ps shows
# it <defunct>) until init, its parent since start returned, reaps it:
# wait for that, 5 s at most.
reaped() {
	for _ in $(seq 50); do
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null || return 0
		sleep 0.1
	done
}

# The pids of this instance: DIR/pids, or what a start under way (or
# killed) has launched so far.
instance_pids() {
	cat "$dir/pids" "$dir/pids.starting" 2>/dev/null | sed -n 's/^[a-z0-9]*=\([0-9][0-9]*\)$/\1/p'
}

pid_of() {
	cat "$dir/pids" "$dir/pids.starting" 2>/dev/null | sed -n "s/^$1=\([0-9][0-9]*\)\$/\1/p" |
		head -1
}

# stop_one NAME: SIGTERM, 10 s, SIGKILL; then its wrapper's exit file (2 s)
# and the end of both (the wrapper leads the session).
stop_one() {
	local pid sid
	pid=$(pid_of "$1")
	[ -n "$pid" ] && ours "$pid" || return 0
	sid=$(ps -o sid= -p "$pid" | tr -d ' ')
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do ours "$pid" || break; sleep 0.1; done
	if ours "$pid"; then
		echo "$me: $1 (pid $pid) did not stop within 10 s of SIGTERM; SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 50); do ours "$pid" || break; sleep 0.1; done
	fi
	for _ in $(seq 20); do [ -e "$dir/$1.exit" ] && break; sleep 0.1; done
	reaped "$pid"
	[ -z "$sid" ] || reaped "$sid"
}

# A start that fails leaves nothing running.
on_exit() {
	local st=$?
	[ $st -eq 0 ] || stop_all || true
}

stop_all() {
	stop_one c2s
	stop_one sm
	stop_one router
	local left=
	for p in $(instance_pids); do ours "$p" && left="$left $p"; done
	[ -z "$left" ] || die "processes still running:$left"
	rm -f "$dir/pids" "$dir/pids.starting"
}

# launch NAME ARGV...: ARGV in a session of its own under a sh that records
# its pid and exit status; its stderr goes to DIR/NAME.log.
launch() {
	local name=$1 pid=
	shift
	rm -f "$dir/$name.pid" "$dir/$name.exit"
	# shellcheck disable=SC2016
	setsid sh -c '"$@" </dev/null >/dev/null 2>"$0.log" &
		echo $! >"$0.pid.tmp" && mv "$0.pid.tmp" "$0.pid"
		wait $!
		echo $? >"$0.exit"' "$dir/$name" "$@" </dev/null >/dev/null 2>&1 &
	for _ in $(seq 50); do
		[ -s "$dir/$name.pid" ] && pid=$(cat "$dir/$name.pid") && break
		sleep 0.02
	done
	[ -n "$pid" ] || die "$name: no pid"
	echo "$name=$pid" >>"$dir/pids.starting"
	echo "$pid"
}

# fail MESSAGE LOG...: the ends of those logs in DIR, then the message.
fail() {
	local msg=$1
	shift
	echo "$me: the end of $*:" >&2
	(cd "$dir" && tail -n 15 "$@") >&2 2>/dev/null || true
	echo "$me: $msg" >&2
	exit 1
}

# wait_log NAME PID REGEX: until the process's log shows REGEX (10 s).
wait_log() {
	for _ in $(seq 100); do
		if grep -qE "$3" "$dir/$1.log" 2>/dev/null; then return 0; fi
		ours "$2" || break
		sleep 0.1
	done
	fail "$1 did not start" "$1.log"
}

# wait_port PORT PID NAME: until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		ours "$2" || break
		sleep 0.1
	done
	fail "$3 does not accept connections on 127.0.0.1:$1" "$3.log"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# login_check PORT: one SCRAM-SHA-1 login (STARTTLS, the certificate checked
# against DIR/cert.pem for localhost, bind) as bench1, with slixmpp.
login_check() {
	/usr/bin/python3 - "$dir/cert.pem" "$1" <<'PY'
import asyncio, logging, sys
logging.disable(logging.CRITICAL)
import slixmpp
cert, port = sys.argv[1], int(sys.argv[2])
x = slixmpp.ClientXMPP("bench1@localhost/check", "bench")
x.ca_certs = cert
fm = x["feature_mechanisms"]
fm.use_mechs = {"SCRAM-SHA-1"}
creds = fm.sasl_callback
def no_binding(required, optional):  # slixmpp binds only with tls-unique: no 'y' flag
    r = creds(required, optional)
    r["channel_binding"] = None
    return r
fm.sasl_callback = no_binding
x.whitespace_keepalive = False
loop = asyncio.get_event_loop()
done, gone = loop.create_future(), asyncio.Event()
def settle(result):
    if not done.done():
        done.set_result(result)
x.add_event_handler("session_start", lambda _: settle(None))
x.add_event_handler("failed_all_auth", lambda _: settle("SCRAM-SHA-1 authentication failed"))
x.add_event_handler("connection_failed", lambda e: settle("connection failed: %s" % e))
x.add_event_handler("ssl_invalid_chain", lambda e: settle("the certificate is not %s: %s" % (cert, e)))
x.add_event_handler("disconnected", lambda _: (gone.set(), settle("disconnected")))
x.connect(("127.0.0.1", port))
try:
    err = loop.run_until_complete(asyncio.wait_for(done, 20))
except asyncio.TimeoutError:
    err = "no session within 20 s"
if err is None:
    x.disconnect()
    try:
        loop.run_until_complete(asyncio.wait_for(gone.wait(), 5))
    except asyncio.TimeoutError:
        pass
    sys.exit(0)
print("login as bench1 on port %d: %s" % (port, err), file=sys.stderr)
sys.exit(1)
PY
}

start() {
	local port=$1 accounts=$2 build sm_bin storage rport t0 router_pid sm_pid c2s_pid p
	build=${SB_BUILD:-$src/build}
	sm_bin=${SB_SM_BIN:-$build/sb-sm}
	for p in "$build/sb-router" "$sm_bin" "$build/sb-c2s" "$build/sbctl"; do
		[ -x "$p" ] || die "no $p (make; or set SB_BUILD / SB_SM_BIN)"
	done
	for p in $(instance_pids); do ours "$p" && die "an instance runs in $dir (pid $p)"; done
	rm -f "$dir/pids" "$dir/pids.starting" "$dir/sb.db" "$dir/sb.db-wal" "$dir/sb.db-shm" \
		"$dir"/{router,sm,c2s}.{log,pid,exit}
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "127.0.0.1:$port is in use"
	fi
	trap on_exit EXIT
	# Every client connection is a descriptor in c2s.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

	storage=${SB_BENCH_STORAGE:-"<storage driver='sqlite'><path>$dir/sb.db</path></storage>"}
	rport=$(free_port)
	cat >"$dir/switchboard.xml" <<XML
<switchboard>
  $storage
</switchboard>
XML
	cat >"$dir/router.xml" <<XML
<router>
  <log level='notice'/>
  <listen address='127.0.0.1' port='$rport'/>
  <component name='sm1' secret='$secret' internal='yes'>
    <bind name='$domain' share='yes'/>
  </component>
  <component name='c2s1' secret='$secret' internal='yes'/>
</router>
XML
	cat >"$dir/sm1.xml" <<XML
<sm>
  <log level='notice'/>
  <router address='127.0.0.1' port='$rport' name='sm1' secret='$secret'/>
  <domain name='$domain'/>
</sm>
XML
	cat >"$dir/c2s.xml" <<XML
<c2s>
  <log level='notice'/>
  <router address='127.0.0.1' port='$rport' name='c2s1' secret='$secret'/>
  <listen address='127.0.0.1' port='$port' tls='starttls'/>
  <domain name='$domain'>
    <certificate>$dir/cert.pem</certificate>
    <key>$dir/key.pem</key>
    <registration>no</registration>
  </domain>
  <limits>
    <connections-per-address>0</connections-per-address>
    <read-rate>0</read-rate>
  </limits>
</c2s>
XML

	t0=$(date +%s%N)
	"$build/sbctl" -c "$dir/switchboard.xml" db init >"$dir/setup.log" 2>&1 ||
		{ cat "$dir/setup.log" >&2; die "sbctl db init failed"; }
	seq 1 "$accounts" | sed "s/.*/bench&@$domain bench/" |
		"$build/sbctl" -c "$dir/switchboard.xml" adduser --batch >>"$dir/setup.log" 2>&1 ||
		{ tail -20 "$dir/setup.log" >&2; die "sbctl adduser --batch failed"; }
	echo "accounts: $accounts made in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >>"$dir/setup.log"

	router_pid=$(launch router "$build/sb-router" -c "$dir/router.xml")
	wait_log router "$router_pid" "started with"
	sm_pid=$(launch sm "$sm_bin" -c "$dir/sm1.xml" -s "$dir/switchboard.xml")
	wait_log sm "$sm_pid" "router link up"
	c2s_pid=$(launch c2s "$build/sb-c2s" -c "$dir/c2s.xml" -s "$dir/switchboard.xml")
	wait_log c2s "$c2s_pid" "router link up"
	wait_port "$port" "$c2s_pid" c2s
	login_check "$port" || fail "the login check failed" c2s.log sm.log
	for p in router sm c2s; do ours "$(pid_of $p)" || fail "$p has died" "$p.log"; done
	printf 'router=%s\nsm=%s\nc2s=%s\n' "$router_pid" "$sm_pid" "$c2s_pid" >"$dir/pids"
	rm -f "$dir/pids.starting"
}

[ $# -ge 2 ] || usage
cmd=$1
[ -d "$2" ] || die "no directory $2"
dir=$(cd "$2" && pwd -P)
case $cmd in
start)
	[ $# -eq 4 ] || usage
	[[ $3 =~ ^[0-9]+$ ]] && [ "$3" -gt 0 ] && [ "$3" -lt 65536 ] || die "bad port '$3'"
	[[ $4 =~ ^[0-9]+$ ]] && [ "$4" -ge 1 ] || die "bad account count '$4'"
	[ -r "$dir/cert.pem" ] && [ -r "$dir/key.pem" ] || die "no $dir/cert.pem and $dir/key.pem"
	start "$3" "$4"
	;;
stop)
	[ $# -eq 2 ] || usage
	stop_all
	;;
*)
	usage
	;;
esac
