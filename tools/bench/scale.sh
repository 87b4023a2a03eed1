#!/bin/bash
# scale.sh BUILD_DIR [SESSIONS [SECONDS [MSG_LOAD OPTIONS...]]]: issue 9's
# scale scenario: SESSIONS concurrent TLS sessions (default 100,000) over
# several c2s processes, one-to-one traffic for SECONDS (default 600) with
# no errors, and whether the server's memory stays flat meanwhile.
#
# Sets up the server of messages.sh with K c2s processes (lib.sh's
# single_server BUILD SESSIONS K: an ECDSA P-256 self-signed certificate
# for localhost, SQLite with the accounts bench1..benchSESSIONS, sb-router,
# sb-sm and c2s1..c2sK, each a component of the router with its own
# configuration and port) and runs msg_load against all of them: client i
# connects to the (i % K)-th c2s, so every message goes from its sender's
# c2s through the router and sm to another c2s (the senders are the even
# i: with K even they are on c2s1, c2s3, ... and the receivers on c2s2,
# c2s4, ...); the clients come from 16 source addresses (127.0.0.2-17),
# so ephemeral ports never run short.
#
# Sizes follow from the descriptor limit (ulimit -n; 20,000 here, and no
# process may raise it): K is SESSIONS / (limit - 1,000) rounded up, at
# least 2 (a c2s holds one descriptor per client plus its own; two, so
# that messages cross between c2s processes in a small run too), and
# msg_load's workers SESSIONS / (limit - 100) rounded up.
#
# The traffic is paced, RATE messages a second in all (default 8,000),
# with one message in flight per pair (-W 1): each pair sends every
# SESSIONS / 2 / RATE seconds, as people chatting do (6.25 s at full
# size: longer than c2s's 5 s of silence before it releases a client's
# parser, so each message wakes its sender's parser, as in a real chat).
# Not the closed loop of messages.sh: 50,000 pairs each keeping a message
# in flight saturate the two cores by construction, and the latency is
# then the queue (in flight / rate, seconds), not the server. At 8,000/s
# the machine is about 60 % busy (at 100,000 sessions the server took
# about 97 us of CPU per message, pings included, and the generator 49
# us), so p99 is what a message takes under load and memory is read in a
# steady state. A pair whose last message has not arrived when its turn
# comes counts as "behind": the server is not keeping up. The warm-up
# (-w 150) covers c2s's first round of pings (<ping-interval> 2 minutes)
# to the receivers, which never send, so the window starts with every
# periodic thing the server does under way; a line a minute shows the
# rate, the latency, the errors so far and the server's RSS.
#
# Prints the time to make the accounts, msg_load's report (the login
# phase, a line a minute, the server's RSS over the window per process:
# start, end, maximum, drift, and the verdict: flat when the lowest summed
# RSS of the window's last 150 s is within 2 % or 16 MiB of the lowest of
# its first 150 s; msg_load/main.c says why), the server logs summed up, and
# one summary line last:
#   scale.sh: N sessions over K c2s: ... msg/s, p50 ..., p99 ..., E errors;
#   server RSS S -> E KiB (max M, drift D KiB, P %; lows L0 -> L1: flat); ...
# Status 1 when msg_load failed (errors, messages lost, clients
# disconnected, a server process gone), memory was not flat, or sm did
# not stop cleanly.
#
#   bash tools/bench/scale.sh build                   100,000 sessions, 600 s
#   bash tools/bench/scale.sh build 4000 30 -w 10     a quick check
#   RATE=20000 bash tools/bench/scale.sh build 20000 120 -i 10
#
# At full size it takes the machine for about 15 minutes (accounts about
# 1 minute, logins 1.5, warm-up 2.5, window 10); `make bench-scale` runs it
# so (not `make bench`). Options after SECONDS go to msg_load and override
# these (-r, -W, -w, -i, -S, -n, -L, ...). SB_SM_BIN and SB_BENCH_DB as
# for messages.sh.
set -eu
. "$(dirname "$0")/lib.sh"
build=$1
sessions=${2:-100000}
seconds=${3:-600}
shift $(( $# > 2 ? 3 : $# ))
rate=${RATE:-8000}

bench_init sb-scale-bench-XXXXXX
[ $((sessions % 2)) -eq 0 ] && [ "$sessions" -ge 4 ] || die "SESSIONS must be even, at least 4"
limit=$(ulimit -n)
per_c2s=$(( limit - 1000 ))
per_job=$(( limit - 100 ))
k=$(( (sessions + per_c2s - 1) / per_c2s ))
if [ "$k" -lt 2 ]; then k=2; fi
jobs=$(( (sessions + per_job - 1) / per_job ))
echo "$me: $sessions sessions over $k c2s processes, $jobs load generator processes" \
	"(descriptor limit $limit); $rate messages/s, $seconds s"
single_server "$build" "$sessions" "$k"

procs=(router="$router_pid" sm="$sm_pid")
for i in "${!c2s_pids[@]}"; do procs+=("${c2s_names[i]}=${c2s_pids[i]}"); done
status=0
set -o pipefail
"$build/bench/msg_load" -u "$sessions" -t "$seconds" -j "$jobs" -S 16 -r "$rate" -W 1 \
	-w 150 -i 60 "$@" "$cports" "${procs[@]}" | tee "$dir/msg_load.out" || status=1
set +o pipefail
single_server_end

# The figures once more, on one line.
awk -v n="$sessions" -v k="$k" -v made="$made_ms" -v me="$me" '/^messages: / {
	for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	verdict = "memory not measured"
	if (v["flat"] == "yes") verdict = "flat"
	if (v["flat"] == "no") verdict = "NOT FLAT"
	printf "%s: %s sessions over %s c2s: accounts %.0f s, logins %s s; ", me, v["sessions"],
	    k, made / 1000, v["login_s"]
	printf "%s msg/s, p50 %s ms, p99 %s ms, %s errors, %s behind; ", v["rate"], v["p50_ms"],
	    v["p99_ms"], v["errors"], v["behind"]
	printf "server RSS %s -> %s KiB (max %s, drift %+d KiB, %+.2f %%; lows %s -> %s: %s); ",
	    v["rss_start_kib"], v["rss_end_kib"], v["rss_max_kib"], v["drift_kib"],
	    v["drift_pct"], v["low_start_kib"], v["low_end_kib"], verdict
	printf "%s KiB per session; server CPU %s %% of a core; generator %s KiB\n",
	    v["per_session_kib"], v["server_cpu_pct"], v["gen_rss_kib"]
	found = 1
}
END { if (!found) printf "%s: %s sessions: msg_load gave no figures (above)\n", me, n }' \
	"$dir/msg_load.out"
grep -q '^messages: .* flat=yes' "$dir/msg_load.out" || status=1
exit $status
