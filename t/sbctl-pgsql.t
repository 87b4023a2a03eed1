#!/bin/sh
# sbctl-pgsql.t: t/sbctl.t's checks against PostgreSQL. Starts a throwaway
# server with t/lib/pgserver.sh, runs t/sbctl.t with the pgsql driver and
# that server's conninfo, and removes the server again.
set -u

src=${SB_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
pgserver=$src/t/lib/pgserver.sh

dir=$(mktemp -d /tmp/sbctl-pgsql.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
trap '"$pgserver" stop "$dir" >/dev/null 2>&1' EXIT
trap 'exit 1' INT TERM

conninfo=$("$pgserver" start "$dir" 2>"$dir.log")
status=$?
if [ $status -eq 2 ]; then
	echo "1..0 # SKIP PostgreSQL is not installed (make deps)"
	rm -f "$dir.log"
	exit 0
fi
if [ $status -ne 0 ] || [ -z "$conninfo" ]; then
	echo "Bail out! pgserver.sh could not start PostgreSQL:"
	sed 's/^/# /' "$dir.log"
	rm -f "$dir.log"
	exit 1
fi
rm -f "$dir.log"

SB_SBCTL_DRIVER=pgsql SB_SBCTL_CONNINFO=$conninfo "$src/t/sbctl.t"
