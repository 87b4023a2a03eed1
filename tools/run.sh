#!/bin/sh
# run.sh: what `make run` does: start a working server for the domain
# localhost from etc/*.xml in the foreground, with its data in ./var:
#
#   var/component.secret   the shared secret of the router links, made once
#   var/localhost.crt/.key a self-signed certificate, made on the first run
#   var/switchboard.db     the SQLite database, created (or migrated) here
#
# then sb-router, sb-sm and sb-c2s, each logging to the terminal. Ctrl-C
# (or SIGTERM) stops them all; if one of them exits, the others are
# stopped too. Usage: tools/run.sh [BUILD_DIR]
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
var=$src/var
etc=$src/etc

mkdir -p "$var"
if [ ! -s "$var/component.secret" ]; then
	umask 077
	od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$var/component.secret"
	umask 022
fi
SB_COMPONENT_SECRET=$(cat "$var/component.secret")
export SB_COMPONENT_SECRET

if [ ! -s "$var/localhost.crt" ] || [ ! -s "$var/localhost.key" ]; then
	echo "run.sh: making a self-signed certificate for localhost in $var"
	tmpl=$(mktemp)
	printf 'cn = "localhost"\ndns_name = "localhost"\nexpiration_days = 3650\ntls_www_server\nsigning_key\nencryption_key\n' >"$tmpl"
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
	    --outfile "$var/localhost.key" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$var/localhost.key" \
	    --template "$tmpl" --outfile "$var/localhost.crt" 2>/dev/null
	rm -f "$tmpl"
	chmod 600 "$var/localhost.key"
fi

if [ ! -s "$var/switchboard.db" ]; then
	echo "run.sh: creating the database $var/switchboard.db"
	"$build/sbctl" -c "$etc/switchboard.xml" db init
else
	"$build/sbctl" -c "$etc/switchboard.xml" db migrate
fi

pids=""
stop() {
	trap - INT TERM EXIT
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

"$build/sb-router" -c "$etc/router.xml" & pids="$pids $!"
sleep 0.3
"$build/sb-sm" -c "$etc/sm.xml" -s "$etc/switchboard.xml" & pids="$pids $!"
"$build/sb-c2s" -c "$etc/c2s.xml" -s "$etc/switchboard.xml" & pids="$pids $!"

cat <<MSG
run.sh: switchboard is running for localhost: clients on port 5222 (STARTTLS)
        and 5223 (direct TLS), with a self-signed certificate. Make an account:
          $build/sbctl -c $etc/switchboard.xml adduser alice@localhost
        Ctrl-C stops the server.
MSG

# When any of them exits, stop the rest.
while :; do
	for p in $pids; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "run.sh: process $p exited; stopping the others" >&2
			stop
			exit 1
		fi
	done
	sleep 1
done
