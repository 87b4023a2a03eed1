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
# adduser --batch) and starts sb-router, sb-sm and sb-c2s: no s2s (the
# set-up of messages.sh: lib.sh's sb_config, sb_accounts, sb_start). Returns
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
#
# The machinery all three servers/*.sh share (pid files, the login check,
# the command line, stopping) is servers/common.sh.
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
domain=localhost

pid_of() {
	cat "$dir/pids" "$dir/pids.starting" 2>/dev/null | sed -n "s/^$1=\([0-9][0-9]*\)\$/\1/p" |
		head -1
}

# stop_one NAME: terminate (10 s); then its wrapper's exit file (2 s) and
# the end of both (the wrapper leads the session).
stop_one() {
	local pid sid
	pid=$(pid_of "$1")
	[ -n "$pid" ] && ours "$pid" || return 0
	sid=$(ps -o sid= -p "$pid" | tr -d ' ')
	terminate "$1" "$pid" 10
	for _ in $(seq 20); do [ -e "$dir/$1.exit" ] && break; sleep 0.1; done
	[ -z "$sid" ] || reaped "$sid"
}

stop_server() {
	stop_one c2s
	stop_one sm
	stop_one router
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

# start_detached NAME REGEX ARGV... (lib.sh's sb_start calls it): ARGV
# launched; returns once DIR/NAME.log shows REGEX (10 s), its pid in
# $last_pid.
start_detached() {
	local name=$1 regex=$2
	shift 2
	last_pid=$(launch "$name" "$@")
	await "$last_pid" 10 grep -sqE "$regex" "$dir/$name.log" ||
		fail "$name did not start" "$name.log"
}

start() {
	local port=$1 accounts=$2 build sm_bin rport router_pid sm_pid c2s_pid p
	build=${SB_BUILD:-$bench_src/build}
	sm_bin=${SB_SM_BIN:-$build/sb-sm}
	for p in "$build/sb-router" "$sm_bin" "$build/sb-c2s" "$build/sbctl"; do
		[ -x "$p" ] || die "no $p (make; or set SB_BUILD / SB_SM_BIN)"
	done
	begin_start "$port" "$dir/sb.db" "$dir/sb.db-wal" "$dir/sb.db-shm" \
		"$dir"/{router,sm,c2s}.{log,pid,exit}

	rport=$(free_port)
	sb_config -d '<registration>no</registration>' "$dir" "$domain" "$rport" "$port" \
		"$dir/cert.pem" "$dir/key.pem" "${SB_BENCH_STORAGE:-}"
	sb_accounts "$build" "$dir" "$domain" "$accounts" >"$dir/setup.log" 2>&1 ||
		{ tail -20 "$dir/setup.log" >&2; die "$sb_step failed"; }
	echo "accounts: $accounts made in $made_ms ms" >>"$dir/setup.log"

	sb_start start_detached "$build" "$sm_bin" "$dir"
	router_pid=${sb_pids[0]} sm_pid=${sb_pids[1]} c2s_pid=${sb_pids[2]}
	await "$c2s_pid" 10 port_open "$port" ||
		fail "c2s does not accept connections on 127.0.0.1:$port" c2s.log
	login_check "$port" || fail "the login check failed" c2s.log sm.log
	for p in router sm c2s; do ours "$(pid_of $p)" || fail "$p has died" "$p.log"; done
	started "router=$router_pid" "sm=$sm_pid" "c2s=$c2s_pid"
}

main "$@"
