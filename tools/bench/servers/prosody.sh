#!/bin/bash
# servers/prosody.sh: a private Prosody (the Debian package, 0.12) for the
# benchmarks that compare servers (tools/bench/compare.sh). The same
# interface as servers/switchboard.sh and servers/ejabberd.sh:
#
#   prosody.sh start DIR PORT ACCOUNTS
#   prosody.sh stop DIR
#
# start: DIR holds cert.pem and key.pem (ECDSA P-256, self-signed for
# localhost, made by the caller). Writes DIR/prosody.cfg.lua: domain
# localhost, c2s on 127.0.0.1:PORT with STARTTLS required (that
# certificate; tls_profile intermediate: TLS 1.2 and 1.3), internal_hashed
# auth (SCRAM-SHA-1) on internal storage in DIR/data, log level warn to
# DIR/prosody.log, pid file DIR/prosody.pid, no s2s (mod_s2s disabled, no
# port), no HTTP, no component port, no DNS (unbound without resolv.conf
# or hosts file). Its modules are the Debian defaults minus limits (rate
# limits would throttle 127.0.0.1), dialback (no s2s), register and invites
# (no in-band registration), the admin modules and the PEP ones (pep,
# bookmarks, vcard4: the ejabberd of servers/ejabberd.sh has no pubsub);
# vcard (XEP-0054) instead of vcard_legacy; offline and presence are
# Prosody's own. The accounts bench1..benchACCOUNTS (password "bench") are
# written straight into DIR/data/localhost/accounts/ in the form
# mod_auth_internal_hashed keeps (stored_key, server_key, salt,
# iteration_count: 4096, as sbctl and ejabberd; Prosody's default is
# 10000), computed with Python's hashlib on every core: 10,000 accounts in
# about 6 s, where `prosodyctl register` (a process per account) takes 5 min.
#
# Prosody runs as the prosody user (setpriv: this script runs as root), in
# the foreground in a session of its own, with the caller's file limit
# raised to its hard limit; DIR, cert.pem and key.pem become the prosody
# user's. Its console goes to DIR/prosody.out. start returns once a
# SCRAM-SHA-1 login as bench1 (a tiny slixmpp client that checks the
# certificate against DIR/cert.pem) has bound a resource, after writing
# DIR/pids: "prosody=PID". Nothing on stdout; on failure a message on
# stderr, status 1 and nothing left running. A start in a DIR whose
# instance still runs is refused; otherwise the previous data is replaced.
#
# stop: SIGTERM (Prosody closes its sessions and exits), 15 s, then SIGKILL,
# until it has left the process table; only a process whose command line
# names DIR is signalled, so stopping a stopped DIR does nothing.
set -eu
me=prosody.sh
user=prosody
domain=localhost
iterations=4096

die() {
	echo "$me: $*" >&2
	exit 1
}

usage() {
	echo "usage: $me start DIR PORT ACCOUNTS | stop DIR" >&2
	exit 2
}

# ours PID: the process lives and its command line names $dir.
ours() {
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "$dir/"
}

# alive PID: our child runs (not a zombie; its command line may not be the server's yet).
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
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

# A start that fails leaves nothing running.
on_exit() {
	local st=$?
	[ $st -eq 0 ] || stop_all || true
}

stop_all() {
	local pid left=''
	for pid in $(instance_pids); do
		ours "$pid" || continue
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 150); do ours "$pid" || break; sleep 0.1; done
		if ours "$pid"; then
			echo "$me: prosody (pid $pid) did not stop within 15 s of SIGTERM; SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
			for _ in $(seq 50); do ours "$pid" || break; sleep 0.1; done
		fi
		if ours "$pid"; then left="$left $pid"; else reaped "$pid"; fi
	done
	[ -z "$left" ] || die "processes still running:$left"
	rm -f "$dir/pids" "$dir/pids.starting"
}

# fail MESSAGE: the ends of Prosody's log and console, then the message.
fail() {
	echo "$me: the end of Prosody's log and console:" >&2
	(cd "$dir" && tail -n 15 prosody.log prosody.out) >&2 2>/dev/null || true
	echo "$me: $1" >&2
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

# make_accounts N: bench1..benchN in DIR/data/localhost/accounts/*.dat.
make_accounts() {
	/usr/bin/python3 - "$dir/data/$domain/accounts" "$1" "$iterations" <<'PY'
import hashlib, hmac, multiprocessing, os, sys, uuid
path, n, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def account(i):
    salt = str(uuid.uuid4())  # what Prosody's generate_uuid() gives
    salted = hashlib.pbkdf2_hmac("sha1", b"bench", salt.encode(), iterations)
    client_key = hmac.new(salted, b"Client Key", "sha1").digest()
    server_key = hmac.new(salted, b"Server Key", "sha1").hexdigest()
    text = ('return {\n\t["iteration_count"] = %d;\n\t["salt"] = "%s";\n'
            '\t["server_key"] = "%s";\n\t["stored_key"] = "%s";\n};\n' % (
                iterations, salt, server_key, hashlib.sha1(client_key).hexdigest()))
    with open(os.path.join(path, "bench%d.dat" % i), "w") as f:
        f.write(text)

os.makedirs(path)
with multiprocessing.Pool() as pool:
    pool.map(account, range(1, n + 1), chunksize=64)
PY
}

start() {
	local port=$1 accounts=$2 pid t0 p
	command -v prosody >/dev/null || die "no prosody (apt-get install prosody)"
	[ "$(id -u)" = 0 ] || die "run as root (Prosody runs as the $user user)"
	id "$user" >/dev/null 2>&1 || die "no $user user"
	for p in $(instance_pids); do ours "$p" && die "an instance runs in $dir (pid $p)"; done
	rm -rf "$dir/pids" "$dir/pids.starting" "$dir/data" "$dir/prosody.log" "$dir/prosody.out" \
		"$dir/prosody.pid"
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "127.0.0.1:$port is in use"
	fi
	trap on_exit EXIT
	# Every client connection is a descriptor; setpriv keeps the limit.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

	cat >"$dir/prosody.cfg.lua" <<LUA
-- written by tools/bench/servers/prosody.sh
daemonize = false
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
plugin_paths = { }
log = {
  { levels = { min = "warn" }, to = "file", filename = "$dir/prosody.log" };
}
admins = { }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $port }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
unbound = { resolvconf = false; hoststxt = false }
use_dane = false
tls_profile = "intermediate"
modules_enabled = {
  "disco"; "roster"; "saslauth"; "tls"; "blocklist"; "carbons"; "private";
  "smacks"; "vcard"; "csi_simple"; "ping"; "time"; "uptime"; "version";
  "lastactivity"; "posix";
}
modules_disabled = { "s2s"; "s2s_auth_certs" }
allow_registration = false
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = true

VirtualHost "$domain"
  ssl = {
    certificate = "$dir/cert.pem";
    key = "$dir/key.pem";
  }
LUA

	# Prosody indexes this directory at start; empty: the VirtualHost's ssl is the certificate.
	mkdir -p "$dir/certs"
	t0=$(date +%s%N)
	make_accounts "$accounts" || die "writing the accounts failed"
	echo "accounts: $accounts written in $(( ($(date +%s%N) - t0) / 1000000 )) ms" \
		>"$dir/setup.log"
	chown -R "$user:" "$dir/data"
	chown "$user:" "$dir" "$dir/cert.pem" "$dir/key.pem"
	setpriv --reuid="$user" --regid="$user" --init-groups test -r "$dir/key.pem" ||
		die "the $user user cannot read $dir/key.pem (a parent directory closed to it?)"

	setsid setpriv --reuid="$user" --regid="$user" --init-groups \
		env HOME="$dir/data" prosody -F --config "$dir/prosody.cfg.lua" \
		</dev/null >"$dir/prosody.out" 2>&1 &
	pid=$!
	echo "prosody=$pid" >"$dir/pids.starting"
	for _ in $(seq 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
		alive "$pid" || fail "Prosody did not start"
		sleep 0.1
	done
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null ||
		fail "Prosody does not accept connections on 127.0.0.1:$port"
	login_check "$port" || fail "the login check failed"
	ours "$pid" || fail "Prosody has died"
	echo "prosody=$pid" >"$dir/pids"
	rm -f "$dir/pids.starting"
}

[ $# -ge 2 ] || usage
cmd=$1
[ -d "$2" ] || die "no directory $2"
dir=$(cd "$2" && pwd -P)
case $cmd in
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
