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
#
# The machinery all three servers/*.sh share (pid files, the login check,
# the command line, stopping) is servers/common.sh.
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
user=prosody
domain=localhost
iterations=4096

stop_server() {
	local pid
	for pid in $(instance_pids); do terminate prosody "$pid" 15; done
}

# log_tail (fail's): the ends of Prosody's log and console.
log_tail() {
	tail_logs "Prosody's log and console" prosody.log prosody.out
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
	local port=$1 accounts=$2 pid t0
	command -v prosody >/dev/null || die "no prosody (apt-get install prosody)"
	[ "$(id -u)" = 0 ] || die "run as root (Prosody runs as the $user user)"
	id "$user" >/dev/null 2>&1 || die "no $user user"
	begin_start "$port" "$dir/data" "$dir/prosody.log" "$dir/prosody.out" "$dir/prosody.pid"

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
	await "$pid" 15 port_open "$port" || {
		alive "$pid" || fail "Prosody did not start"
		fail "Prosody does not accept connections on 127.0.0.1:$port"
	}
	login_check "$port" || fail "the login check failed"
	ours "$pid" || fail "Prosody has died"
	started "prosody=$pid"
}

main "$@"
