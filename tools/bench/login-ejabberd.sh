#!/bin/bash
# login-ejabberd.sh BUILD_DIR [SECONDS [LOGIN_LOAD OPTIONS...]]: the login
# benchmark of tools/bench/login.sh, run against ejabberd instead of
# switchboard, for comparison (issue 5). Needs the Debian ejabberd package
# (apt-get install ejabberd; 23.01 on Debian 12; the system service need
# not run) and root: ejabberd runs as the ejabberd user.
#
# Makes a temporary directory with the same kind of certificate as
# login.sh (ECDSA P-256, self-signed: lib.sh's self_signed) and starts a
# private ejabberd in it on a free port with tools/bench/servers/ejabberd.sh
# (see there: STARTTLS required, SCRAM-SHA-1 storage, no shaper, no
# fail2ban, no s2s, no epmd), which registers bench1..benchM (password
# "bench").
# Runs login_load -x (no router, no sm1: ejabberd does the whole login)
# with the beam.smp pid for the CPU figures, and always stops ejabberd and
# removes the directory.
#
#   bash tools/bench/login-ejabberd.sh build          10 s, 20 slots, SCRAM-SHA-1
#   ACCOUNTS=200 bash tools/bench/login-ejabberd.sh build 10 -n 400
#
# ejabberd answers </stream:stream> about 100 ms late after a login, so
# it needs several hundred slots to be busy (20 slots measure that delay:
# about 180 logins/s here at half a core).
set -eu
. "$(dirname "$0")/lib.sh"
build=$1
seconds=${2:-10}
shift $(( $# > 1 ? 2 : 1 ))
accounts=${ACCOUNTS:-1000}
domain=localhost
server=$(dirname "$0")/servers/ejabberd.sh

dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-login-ejabberd-XXXXXX")
cleanup() {
	bash "$server" stop "$dir" || true
	rm -rf "$dir"
}
trap cleanup EXIT

cport=$(free_port)
self_signed "$domain" "$dir/key.pem" "$dir/cert.pem"

bash "$server" start "$dir" "$cport" "$accounts" ||
	{ echo "login-ejabberd.sh: ejabberd did not start" >&2; exit 1; }
beam=$(sed -n 's/^ejabberd=//p' "$dir/pids")

echo "ejabberd $(dpkg-query -W -f '${Version}' ejabberd 2>/dev/null), $(erl -noshell \
	-eval 'io:format("OTP ~s", [erlang:system_info(otp_release)]), halt().'), beam.smp pid $beam, \
$(grep -c '^processor' /proc/cpuinfo) cores"
"$build/bench/login_load" -x -a "$accounts" -t "$seconds" "$@" "$cport" "$beam" || {
	echo "login-ejabberd.sh: login_load failed; ejabberd log tail:" >&2
	tail -20 "$dir/log/ejabberd.log" >&2 2>/dev/null || true
	exit 1
}
if [ -s "$dir/log/error.log" ]; then
	echo "  ejabberd error.log: $(wc -l < "$dir/log/error.log") lines; the last:"
	tail -3 "$dir/log/error.log" | sed 's/^/    /'
fi
