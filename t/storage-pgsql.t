#!/bin/sh
# storage-pgsql.t: the driver test suite (t/unit/storage.c, built as
# $SB_BUILD/t/storage.t) on PostgreSQL, against a throwaway server that
# t/lib/pgserver.sh starts in a temporary directory and always removes.
# Skips when PostgreSQL is not installed (`make deps` installs it).
#
# The suite runs twice: over the unix socket, then over TCP with the server
# named "localhost", which the driver resolves itself (libpq would resolve
# it synchronously, blocking the loop); "localhost" may resolve to ::1
# first, where nothing listens, so the driver must try every address.
set -u
SB_SRC=${SB_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
SB_BUILD=${SB_BUILD:-$SB_SRC/build}
pgserver=$SB_SRC/t/lib/pgserver.sh
suite=$SB_BUILD/t/storage.t

if [ ! -x "$suite" ]; then
	echo "1..0 # SKIP $suite is not built"
	exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-pgsql-XXXXXX") || exit 1
log=$(mktemp "${TMPDIR:-/tmp}/sb-pgsql-log-XXXXXX") || exit 1
cleanup() {
	"$pgserver" stop "$dir" >/dev/null 2>&1
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# A TCP port unlikely to be taken by a parallel test.
port=$((20000 + $$ % 20000))
conninfo=$(PGSERVER_TCP_PORT=$port "$pgserver" start "$dir" 2>"$log")
rc=$?
if [ $rc -eq 2 ]; then
	echo "1..0 # SKIP PostgreSQL is not installed"
	exit 0
fi
if [ $rc -ne 0 ] || [ -z "$conninfo" ]; then
	echo "1..1"
	echo "not ok 1 - start a PostgreSQL server with t/lib/pgserver.sh"
	sed 's/^/# /' "$log"
	exit 1
fi

# The suite prints TAP; its exit status is the result. A hang is a failure.
# Two runs, one TAP stream: the second run's lines are renumbered after the first's.
out1=$(SB_TEST_STORE="pgsql:$conninfo" timeout 300 "$suite"); rc1=$?
"$pgserver" stop "$dir" >/dev/null 2>&1
conninfo=$(PGSERVER_TCP_PORT=$port "$pgserver" start "$dir" 2>>"$log") || rc1=1
out2=$(SB_TEST_STORE="pgsql:host=localhost port=$port dbname=switchboard user=postgres" \
    timeout 300 "$suite"); rc2=$?
printf '%s\n%s\n' "$out1" "$out2" | awk '
	/^1\.\.[0-9]+$/ { next }
	/^(not )?ok [0-9]+/ { n++; sub(/ok [0-9]+/, "ok " n) }
	{ print }
	END { print "1.." n }'
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
