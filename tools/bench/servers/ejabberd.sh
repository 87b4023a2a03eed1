#!/bin/bash
# servers/ejabberd.sh: a private ejabberd (the Debian package, 23.01) for
# the benchmarks that compare servers (tools/bench/compare.sh,
# login-ejabberd.sh). The same interface as servers/switchboard.sh and
# servers/prosody.sh:
#
#   ejabberd.sh start DIR PORT ACCOUNTS
#   ejabberd.sh stop DIR
#
# start: DIR holds cert.pem and key.pem (ECDSA P-256, self-signed for
# localhost, made by the caller). Writes DIR/ejabberd.yml: domain
# localhost, one c2s listener on 127.0.0.1:PORT with STARTTLS required
# (that certificate, TLS 1.2 and 1.3; backlog 511 as switchboard's: the
# default of 5 drops SYNs, 1 s retransmits), no shaper (the Debian 3000 B/s
# per connection would measure the shaper), max_fsm_queue 100000, internal
# auth with SCRAM storage (auth_scram_hash sha: SCRAM-SHA-1, what the
# comparison logs in with), no in-band registration (mod_register is not
# loaded), log level warning, ACME off, and the Debian default modules
# minus those no client of the benchmarks touches (HTTP, BOSH, MQTT, MUC,
# pubsub, push, s2s, STUN, admin) and fail2ban (it would ban 127.0.0.1):
# offline messages, roster, vCards, carbons, stream management stay. No s2s
# listener and no epmd: the node is sbbench-PID@localhost with its
# distribution on a free port of 127.0.0.1 and its own cookie (DIR/cookie),
# its Mnesia spool in DIR/spool, its logs in DIR/log (ejabberd.log,
# error.log; the console in DIR/ejabberd.out), its pid in
# DIR/log/ejabberd.pid; DIR/inetrc makes Erlang resolve localhost from
# itself, never from DNS. Registers bench1..benchACCOUNTS (password "bench")
# in one rpc session: ejabberd_auth:try_register with SCRAM secrets the
# calling node computes (16 random bytes of salt, 4096 iterations, as
# ejabberd makes them; ejabberd's own PBKDF2 is an Erlang loop, 8 ms an
# account), one caller per core; `ejabberdctl register` would start an
# Erlang node per account. DIR/setup.log says how long it took.
#
# ejabberd runs as the ejabberd user: this script runs as root and starts
# what `ejabberdctl foreground` would (erl -s ejabberd) through setpriv,
# not su, so the caller's file limit, raised to its hard limit, holds (su
# gives the ejabberd user 1024 descriptors, and the listener fails with
# EMFILE past that), with ERL_MAX_PORTS 65536; DIR and everything in it
# become the ejabberd user's. Nothing in /etc/ejabberd or /var/lib/ejabberd
# is read or written. start returns once a SCRAM-SHA-1 login as bench1 (a
# tiny /usr/bin/python3 slixmpp client that checks the certificate against
# DIR/cert.pem) has bound a resource, after writing DIR/pids:
# "ejabberd=PID" (beam.smp). Nothing on stdout; on failure a message on
# stderr, status 1 and nothing left running. A start in a DIR whose
# instance still runs is refused; otherwise the previous spool and logs
# are replaced.
#
# stop: SIGTERM (the VM runs init:stop(), ejabberd's clean shutdown), 20 s,
# then SIGKILL, and what is left of its session (erl_child_setup), until
# it has left the process table; only a process whose command line names
# DIR is signalled, so stopping a stopped DIR does nothing.
#
# ejabberd answers a client's </stream:stream> about 100 ms late after a
# login: login_load needs a few hundred slots to keep it busy.
#
# The machinery all three servers/*.sh share (pid files, the login check,
# the command line, stopping) is servers/common.sh.
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
user=ejabberd
domain=localhost

# session_left SID: the processes left in the session beam.smp led.
session_left() {
	ps -o pid= -s "$1" 2>/dev/null | tr -d ' ' | grep -v "^$1\$" || true
}

stop_server() {
	local pid p
	for pid in $(instance_pids); do
		terminate ejabberd "$pid" 20
		# erl_child_setup ends with the VM; anything else of its session goes now.
		for _ in $(seq 20); do [ -n "$(session_left "$pid")" ] || break; sleep 0.1; done
		for p in $(session_left "$pid"); do kill -KILL "$p" 2>/dev/null || true; done
	done
}

# log_tail (fail's): the end of ejabberd's log, or of its console, where
# the VM's own complaints go.
log_tail() {
	local f=$dir/log/ejabberd.log
	[ -s "$f" ] || f=$dir/ejabberd.out
	tail_logs "$f" "$f"
}

# ejabberd_up PORT: ejabberd has written its pid file and accepts on PORT.
ejabberd_up() {
	[ -s "$dir/log/ejabberd.pid" ] && port_open "$1"
}

# erl_libs: where the Debian package keeps ejabberd's applications (ejabberdctl says).
erl_libs() {
	sed -n "s/^ERL_LIBS='\{0,1\}\([^']*\)'\{0,1\}\$/\1/p" "$(command -v ejabberdctl)" | head -1
}

start() {
	local port=$1 accounts=$2 node dport cookie libs pid beam t0
	command -v ejabberdctl >/dev/null && command -v erl >/dev/null ||
		die "no ejabberd (apt-get install ejabberd)"
	[ "$(id -u)" = 0 ] || die "run as root (ejabberd runs as the $user user)"
	id "$user" >/dev/null 2>&1 || die "no $user user"
	begin_start "$port" "$dir/spool" "$dir/log" "$dir/ejabberd.out" "$dir/register.out"

	node=sbbench-$$@localhost
	dport=$(free_port)
	cookie=sbbench$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
	libs=$(erl_libs)
	libs=${libs:-/usr/lib/x86_64-linux-gnu}
	mkdir -p "$dir/spool" "$dir/log"
	(umask 077 && echo "$cookie" >"$dir/cookie")
	# Erlang's resolver: localhost (the node names) from here, nothing from DNS.
	printf '{lookup, [file]}.\n{host, {127,0,0,1}, ["localhost"]}.\n' >"$dir/inetrc"

	cat >"$dir/ejabberd.yml" <<YML
# written by tools/bench/servers/ejabberd.sh
loglevel: warning
log_rotate_count: 0
hosts:
  - $domain
certfiles:
  - "$dir/cert.pem"
  - "$dir/key.pem"
c2s_ciphers: "HIGH:!aNULL:!eNULL:!3DES:@STRENGTH"
c2s_protocol_options:
  - "no_sslv3"
  - "no_tlsv1"
  - "no_tlsv1_1"
  - "cipher_server_preference"
  - "no_compression"
listen:
  -
    port: $port
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    access: c2s
    starttls_required: true
    backlog: 511
max_fsm_queue: 100000
acme:
  auto: false
disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
auth_method: internal
# The default cache size (1000) churns with 1000 accounts ("Shrinking cache").
cache_size: $(( accounts > 10000 ? accounts : 10000 ))
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
	chown -R "$user:" "$dir"
	setpriv --reuid="$user" --regid="$user" --init-groups test -r "$dir/key.pem" ||
		die "the $user user cannot read $dir/key.pem (a parent directory closed to it?)"

	# What 'ejabberdctl foreground' runs, as the ejabberd user, without epmd:
	# the node listens for distribution on a free port of 127.0.0.1.
	(cd "$dir/spool" && exec setsid setpriv --reuid="$user" --regid="$user" --init-groups \
		env HOME="$dir" ERL_LIBS="$libs" ERL_INETRC="$dir/inetrc" \
		EJABBERD_CONFIG_PATH="$dir/ejabberd.yml" EJABBERD_LOG_PATH="$dir/log/ejabberd.log" \
		EJABBERD_PID_PATH="$dir/log/ejabberd.pid" ERL_CRASH_DUMP="$dir/log/erl_crash.dump" \
		ERL_MAX_PORTS=65536 ERL_MAX_ETS_TABLES=1400 CONTRIB_MODULES_PATH="$dir/contrib" \
		CONTRIB_MODULES_CONF_DIR="$dir/contrib/conf" \
		erl -sname "$node" -setcookie "$cookie" +K true +P 250000 \
		-env ERL_CRASH_DUMP_BYTES 0 -erl_epmd_port "$dport" -start_epmd false \
		-kernel inet_dist_use_interface '{127,0,0,1}' \
		-mnesia dir "\"$dir/spool\"" -ejabberd log_rotate_count 0 -s ejabberd -noinput \
		</dev/null >"$dir/ejabberd.out" 2>&1) &
	pid=$!
	echo "ejabberd=$pid" >"$dir/pids.starting"
	await "$pid" 60 ejabberd_up "$port" || {
		alive "$pid" || fail "ejabberd did not start"
		fail "ejabberd does not accept connections on 127.0.0.1:$port within 60 s"
	}
	beam=$(cat "$dir/log/ejabberd.pid")
	[ "$beam" = "$pid" ] || die "ejabberd's pid file says $beam, not $pid"

	# The accounts over rpc, each a try_register with its SCRAM secrets (salt
	# of 16 random bytes, 4096 iterations, as ejabberd makes them): ejabberd's
	# own PBKDF2 is an Erlang loop of 8 ms, crypto:pbkdf2_hmac here takes 1 ms,
	# on every core of this node.
	t0=$(date +%s%N)
	(cd "$dir" && HOME=$dir ERL_INETRC=$dir/inetrc erl -sname "sbreg-$$" -setcookie "$cookie" \
		-erl_epmd_port "$dport" -start_epmd false -dist_listen false -hidden -noinput -eval "
	N = '$node', Parent = self(), Workers = erlang:system_info(schedulers_online),
	Scram = fun() ->
	    Salt = crypto:strong_rand_bytes(16),
	    SP = crypto:pbkdf2_hmac(sha, <<\"bench\">>, Salt, 4096, 20),
	    {scram, base64:encode(crypto:hash(sha, crypto:mac(hmac, sha, SP, <<\"Client Key\">>))),
	        base64:encode(crypto:mac(hmac, sha, SP, <<\"Server Key\">>)),
	        base64:encode(Salt), sha, 4096}
	    end,
	Reg = fun(I) -> rpc:call(N, ejabberd_auth, try_register,
	    [list_to_binary(\"bench\" ++ integer_to_list(I)), <<\"$domain\">>, Scram()])
	    end,
	Ws = [spawn_link(fun() -> Parent ! {self(), [Reg(I) || I <- lists:seq(K, $accounts, Workers)]} end)
	    || K <- lists:seq(1, Workers)],
	R = lists:append([receive {W, L} -> L end || W <- Ws]),
	case lists:usort(R) of
	[ok] -> halt(0);
	U -> io:format(\"register: ~p~n\", [U]), halt(1)
	end.") >"$dir/register.out" 2>&1 ||
		{ cat "$dir/register.out" >&2; fail "registering the accounts failed"; }
	echo "accounts: $accounts registered in $(( ($(date +%s%N) - t0) / 1000000 )) ms" \
		>"$dir/setup.log"

	login_check "$port" || fail "the login check failed"
	ours "$pid" || fail "ejabberd has died"
	started "ejabberd=$pid"
}

main "$@"
