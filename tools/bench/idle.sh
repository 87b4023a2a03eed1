#!/bin/bash
# idle.sh BUILD_DIR [SESSIONS [MSG_LOAD OPTIONS...]]: the server's memory per
# idle TLS session (issue 9's "idle" scenario).
#
# Sets up and starts the server of messages.sh (lib.sh's single_server:
# sb-router, sb-sm and sb-c2s, accounts bench1..benchSESSIONS) and runs
# msg_load -I: the server processes' RSS is read before the first client
# connects, then SESSIONS clients log in (STARTTLS, SCRAM-SHA-1, bind,
# initial presence) and send nothing; 3 s after the last login the RSS is
# read again and the sessions are held for 60 s, the RSS read each second.
# msg_load prints (RSS with the sessions - RSS empty) / SESSIONS in KiB per
# process and summed, whether the RSS stayed flat over the hold, and that
# every session is still connected at the end; its last line is for
# scripts ("idle: sessions=N ... per_session_kib=D errors=E ...").
#
#   bash tools/bench/idle.sh build                 2000 sessions, held 60 s
#   bash tools/bench/idle.sh build 10000 -t 120
#   PING=10s bash tools/bench/idle.sh build 2000   c2s pings every 10 s of silence
#
# The workers (-j) are as many as the descriptor limit needs; more clients
# than one process may hold (about 20,000 here) need more of them. The
# options (-t hold, -w settle time, -j, -n logins in flight, ...) follow
# SESSIONS and override these defaults. PING: c2s's <ping-interval>
# (default 2m, longer than the hold: no ping then); SB_SM_BIN and
# SB_BENCH_DB as for messages.sh.
set -eu
. "$(dirname "$0")/lib.sh"
build=$1
sessions=${2:-2000}
shift $(( $# > 1 ? 2 : 1 ))
c2s_limits=${PING:+<ping-interval>$PING</ping-interval>}

bench_init sb-idle-bench-XXXXXX
[ $((sessions % 2)) -eq 0 ] && [ "$sessions" -ge 2 ] || die "SESSIONS must be even"
# Per worker: its connections, the pipes and the loop's own descriptors.
per_job=$(( $(ulimit -n) - 100 ))
jobs=$(( (sessions + per_job - 1) / per_job ))
single_server "$build" "$sessions"

status=0
set -o pipefail
"$build/bench/msg_load" -I -1 -u "$sessions" -t 60 -j "$jobs" "$@" "$cport" \
	router="$router_pid" c2s="$c2s_pid" sm="$sm_pid" | tee "$dir/msg_load.out" || status=1
set +o pipefail
single_server_end
# The figure once more, last: "idle.sh: N sessions: D KiB per session (router d1, ...)".
awk '/^idle: / {
	for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	p = v["per_process_kib"]; gsub(":", " ", p); gsub(",", ", ", p)
	printf "idle.sh: %s sessions: %s KiB per session (%s); %s errors\n",
	    v["sessions"], v["per_session_kib"], p, v["errors"]
}' "$dir/msg_load.out"
exit $status
