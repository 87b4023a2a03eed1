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
# per message), the default window 32 batched throughput (see msg_load/main.c).
#
# SB_SM_BIN: the sm binary (default BUILD_DIR/sb-sm); SB_BENCH_DB=pgsql: a
# throwaway PostgreSQL (t/lib/pgserver.sh) instead of SQLite. msg_load's
# options (-W window, -b body bytes, -j processes, -w warm-up, ...) follow
# SECONDS; its -u comes from USERS. The set-up is lib.sh's single_server.
set -eu
. "$(dirname "$0")/lib.sh"
build=$1
seconds=${2:-10}
shift $(( $# > 1 ? 2 : 1 ))
users=${USERS:-200}

bench_init sb-msg-bench-XXXXXX
[ $((users % 2)) -eq 0 ] && [ "$users" -ge 2 ] || die "USERS must be even"
single_server "$build" "$users"

status=0
"$build/bench/msg_load" -u "$users" -t "$seconds" "$@" "$cport" \
	router="$router_pid" c2s="$c2s_pid" sm="$sm_pid" || status=1
single_server_end
exit $status
