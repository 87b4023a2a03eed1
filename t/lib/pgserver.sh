#!/bin/sh
# pgserver.sh: a throwaway PostgreSQL server for tests.
#
#   pgserver.sh start DIR     make a cluster in DIR/data, start it with its unix
#                             socket in DIR (no TCP), create database "switchboard",
#                             print the conninfo on stdout
#   pgserver.sh stop DIR      stop it (immediate) and remove DIR
#   pgserver.sh kill DIR      stop it immediately, keep DIR (for restart tests)
#   pgserver.sh restart DIR   start it again after kill (or restart a running one)
#
# With PGSERVER_TCP_PORT=N in the environment, start also listens on
# 127.0.0.1 port N (for tests that connect by host name).
#
# Run as root, the server runs as the postgres user (PostgreSQL refuses root),
# so DIR must be reachable by that user (a mktemp -d under /tmp is). Exits 2
# when PostgreSQL is not installed, so that tests can report a skip; `make
# deps` installs it. Everything but the conninfo goes to stderr.
set -eu

usage() {
	echo "usage: pgserver.sh start|stop|kill|restart DIR" >&2
	exit 64
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

# The newest installed version's binaries.
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
	echo "pgserver.sh: PostgreSQL is not installed (make deps installs it)" >&2
	exit 2
fi

# Run a server binary as the postgres user when we are root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_ctl_() {
	as_pg "$bin/pg_ctl" -D "$dir/data" "$@"
}

running() {
	pg_ctl_ status >/dev/null 2>&1
}

start_server() {
	# -w waits until it accepts connections; the log stays in DIR for post-mortems.
	pg_ctl_ -w -t 60 -l "$dir/server.log" start >&2 || {
		echo "pgserver.sh: the server did not start; its log:" >&2
		tail -n 20 "$dir/server.log" >&2 || true
		exit 1
	}
}

start() {
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$dir"
	fi
	# No fsync anywhere: the cluster is thrown away after the test.
	as_pg "$bin/initdb" -D "$dir/data" --auth=trust -U postgres -E UTF8 --locale=C \
	    --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	cat >>"$dir/data/postgresql.conf" <<-EOF
		# pgserver.sh: a test server on a unix socket only. No fsync: only a
		# machine crash could lose data. synchronous_commit stays on, so that
		# what was committed survives "kill" (an immediate shutdown).
		listen_addresses = '${PGSERVER_TCP_PORT:+127.0.0.1}'
		port = ${PGSERVER_TCP_PORT:-5432}
		unix_socket_directories = '$dir'
		fsync = off
		full_page_writes = off
		max_connections = 100
	EOF
	start_server
	as_pg "$bin/createdb" -h "$dir" -p "${PGSERVER_TCP_PORT:-5432}" -U postgres switchboard >&2
	echo "host=$dir port=${PGSERVER_TCP_PORT:-5432} dbname=switchboard user=postgres"
}

case $cmd in
start)
	start
	;;
stop)
	[ -d "$dir/data" ] && pg_ctl_ -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
kill)
	[ -d "$dir/data" ] || { echo "pgserver.sh: no cluster in $dir" >&2; exit 1; }
	pg_ctl_ -m immediate stop >&2
	;;
restart)
	[ -d "$dir/data" ] || { echo "pgserver.sh: no cluster in $dir" >&2; exit 1; }
	if running; then
		pg_ctl_ -m immediate stop >&2
	fi
	start_server
	;;
*)
	usage
	;;
esac
