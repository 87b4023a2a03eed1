#!/bin/bash
# login-ejabberd.sh BUILD_DIR [SECONDS [LOGIN_LOAD OPTIONS...]]: the login
# benchmark of tools/bench/login.sh, run against ejabberd instead of
# switchboard, for comparison (issue 5). Needs the Debian ejabberd package
# (apt-get install ejabberd; 23.01 on Debian 12; the system service need
# not run) and root, which ejabberdctl turns into the ejabberd user.
#
# Makes a temporary directory (owned by ejabberd) with the same kind of
# certificate as login.sh (ECDSA P-256, self-signed, certtool), an
# ejabberd.yml with one STARTTLS-required c2s listener on a free port,
# internal auth with SCRAM storage and the Debian default modules minus
# those a login does not touch (HTTP, BOSH, MQTT, MUC, pubsub, push,
# s2s, STUN, admin; fail2ban, which would ban 127.0.0.1); its own Erlang
# node on its own distribution port (no epmd) and its own Mnesia spool.
# Registers bench1..benchM (password "bench") over rpc, runs login_load -x
# (no router, no sm1: ejabberd does the whole login) with the beam.smp pid
# for the CPU figures, and always stops ejabberd and removes the directory.
#
#   bash tools/bench/login-ejabberd.sh build          10 s, 20 slots, SCRAM-SHA-1
#   ACCOUNTS=200 bash tools/bench/login-ejabberd.sh build 10 -n 400
#
# ejabberd answers </stream:stream> about 100 ms late, so it needs several
# hundred slots to be busy; keep -n below ~1000: the ejabberd user's file
# limit (1024) makes its listener fail with EMFILE and ejabberd stop.
set -eu
build=$1
seconds=${2:-10}
shift $(( $# > 1 ? 2 : 1 ))
accounts=${ACCOUNTS:-1000}
domain=localhost
node=sbbench$$@localhost
cookie=sbbench$RANDOM$RANDOM

command -v ejabberdctl >/dev/null || { echo "login-ejabberd.sh: no ejabberdctl" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "login-ejabberd.sh: run as root" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-login-ejabberd-XXXXXX")
ejpid=
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cport=$(free_port)
dport=$(free_port)

ctl() {
	ejabberdctl -c "$dir/ejabberdctl.cfg" -f "$dir/ejabberd.yml" -s "$dir/spool" \
		-l "$dir/log" -n "$node" "$@"
}
cleanup() {
	if [ -n "$ejpid" ] && kill -0 "$ejpid" 2>/dev/null; then
		ctl stop >/dev/null 2>&1 || true
		for _ in $(seq 100); do kill -0 "$ejpid" 2>/dev/null || break; sleep 0.1; done
		kill "$ejpid" 2>/dev/null || true
		wait "$ejpid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

mkdir -p "$dir/spool" "$dir/log"
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
	--outfile "$dir/$domain.key" 2>/dev/null
printf 'cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\ntls_www_server\nsigning_key\n' \
	"$domain" "$domain" > "$dir/cert.tmpl"
certtool --generate-self-signed --load-privkey "$dir/$domain.key" \
	--template "$dir/cert.tmpl" --outfile "$dir/$domain.crt" 2>/dev/null

# ejabberdctl reads this after its options: it must name our files again.
cat > "$dir/ejabberdctl.cfg" <<CFG
ERLANG_NODE=$node
ERL_DIST_PORT=$dport
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -setcookie $cookie"
EJABBERD_CONFIG_PATH=$dir/ejabberd.yml
EJABBERD_PID_PATH=$dir/ejabberd.pid
CONTRIB_MODULES_PATH=$dir/contrib
CFG

# The Debian defaults for c2s, without the shaper (3000 B/s per connection
# would measure the shaper) and with the listen backlog of switchboard's
# listener (ejabberd's default of 5 drops SYNs: 1 s retransmits).
cat > "$dir/ejabberd.yml" <<YML
loglevel: warning
log_rotate_count: 0
hosts:
  - $domain
certfiles:
  - "$dir/$domain.crt"
  - "$dir/$domain.key"
c2s_ciphers: "HIGH:!aNULL:!eNULL:!3DES:@STRENGTH"
c2s_protocol_options:
  - "no_sslv3"
  - "no_tlsv1"
  - "no_tlsv1_1"
  - "cipher_server_preference"
  - "no_compression"
listen:
  -
    port: $cport
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    access: c2s
    starttls_required: true
    backlog: 511
disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
auth_method: internal
# The default cache size (1000) churns with 1000 accounts ("Shrinking cache").
cache_size: 10000
auth_password_format: scram
auth_scram_hash: sha
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    deny: blocked
    allow: all
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 100
modules:
  mod_adhoc: {}
  mod_blocking: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_client_state: {}
  mod_disco: {}
  mod_last: {}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
  mod_privacy: {}
  mod_private: {}
  mod_roster:
    versioning: true
  mod_stream_mgmt:
    resend_on_timeout: if_offline
  mod_vcard:
    search: false
  mod_vcard_xupdate: {}
  mod_version: {}
YML
chown -R ejabberd: "$dir"

ctl foreground >"$dir/foreground.log" 2>&1 &
ejpid=$!
for i in $(seq 300); do
	if (exec 3<>/dev/tcp/127.0.0.1/"$cport") 2>/dev/null && [ -s "$dir/ejabberd.pid" ]; then
		break
	fi
	if ! kill -0 "$ejpid" 2>/dev/null || [ "$i" = 300 ]; then
		echo "login-ejabberd.sh: ejabberd did not start; its logs:" >&2
		tail -30 "$dir/foreground.log" "$dir/log/"*.log >&2 2>/dev/null || true
		exit 1
	fi
	sleep 0.1
done
beam=$(cat "$dir/ejabberd.pid")

# The accounts, in one rpc session (ejabberdctl register starts an Erlang
# node per account). try_register stores SCRAM keys (4096 iterations).
(cd "$dir" && erl -sname "sbreg$$" -setcookie "$cookie" -erl_epmd_port "$dport" \
	-start_epmd false -dist_listen false -hidden -noinput -eval "
	N = '$node',
	R = [rpc:call(N, ejabberd_auth, try_register,
	    [list_to_binary(\"bench\" ++ integer_to_list(I)), <<\"$domain\">>, <<\"bench\">>])
	    || I <- lists:seq(1, $accounts)],
	case lists:usort(R) of
	[ok] -> halt(0);
	U -> io:format(\"register: ~p~n\", [U]), halt(1)
	end.") || { echo "login-ejabberd.sh: registering the accounts failed" >&2; exit 1; }

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
