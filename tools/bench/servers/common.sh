# shellcheck shell=bash
# servers/common.sh: what servers/switchboard.sh, prosody.sh and ejabberd.sh
# share; sourced after "set -eu". It sources ../lib.sh (die, free_port,
# alive, port_open, await, the switchboard set-up). The command line of
# each, checked by main "$@", its last line:
#
#   NAME.sh start DIR PORT ACCOUNTS
#   NAME.sh stop DIR
#
# sets $dir (DIR, absolute, links resolved), then runs the script's
#
#   start PORT ACCOUNTS   begin_start first, started last
#   stop_server           ends what DIR/pids (or DIR/pids.starting) names,
#                         with terminate; stop_all then checks that
#                         nothing of it runs any more
#   log_tail              (optional) for fail without logs: the ends of
#                         the server's logs, on stdout
#
# Only processes whose command line names DIR are signalled (ours), so
# stopping a stopped DIR does nothing.

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

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

# terminate NAME PID SECONDS: if it is ours, SIGTERM, SECONDS for it to
# end, then SIGKILL (5 s); once it has ended, until it is reaped.
terminate() {
	ours "$2" || return 0
	kill -TERM "$2" 2>/dev/null || true
	for _ in $(seq $(( $3 * 10 ))); do ours "$2" || break; sleep 0.1; done
	if ours "$2"; then
		echo "$me: $1 (pid $2) did not stop within $3 s of SIGTERM; SIGKILL" >&2
		kill -KILL "$2" 2>/dev/null || true
		for _ in $(seq 50); do ours "$2" || break; sleep 0.1; done
	fi
	ours "$2" || reaped "$2"
}

# A start that fails leaves nothing running.
on_exit() {
	local st=$?
	[ $st -eq 0 ] || stop_all || true
}

stop_all() {
	local p left=''
	stop_server
	for p in $(instance_pids); do ours "$p" && left="$left $p"; done
	[ -z "$left" ] || die "processes still running:$left"
	rm -f "$dir/pids" "$dir/pids.starting"
}

# begin_start PORT PATH...: refuses a DIR whose instance still runs and a
# PORT something accepts on; removes PATH... and the pid files; from here
# a start that fails stops what it started (on_exit). Every client
# connection is a descriptor (in c2s, Prosody, the Erlang VM): the file
# limit goes up to the hard limit (setpriv keeps it).
begin_start() {
	local port=$1 p
	shift
	for p in $(instance_pids); do ours "$p" && die "an instance runs in $dir (pid $p)"; done
	rm -rf "$dir/pids" "$dir/pids.starting" "$@"
	if port_open "$port"; then
		die "127.0.0.1:$port is in use"
	fi
	trap on_exit EXIT
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# started NAME=PID...: DIR/pids, one a line; the start is complete.
started() {
	printf '%s\n' "$@" >"$dir/pids"
	rm -f "$dir/pids.starting"
}

# tail_logs TITLE FILE...: "the end of TITLE:" and the last 15 lines of
# each FILE (relative to DIR), on stdout.
tail_logs() {
	local title=$1
	shift
	echo "$me: the end of $title:"
	(cd "$dir" && tail -n 15 "$@") 2>/dev/null || true
}

# fail MESSAGE [LOG...]: the ends of those logs in DIR (none named: the
# script's log_tail), then the message; status 1.
fail() {
	local msg=$1
	shift
	if [ $# -gt 0 ]; then tail_logs "$*" "$@"; else log_tail; fi >&2
	echo "$me: $msg" >&2
	exit 1
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

main() {
	[ $# -ge 2 ] || usage
	[ -d "$2" ] || die "no directory $2"
	dir=$(cd "$2" && pwd -P)
	case $1 in
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
}
