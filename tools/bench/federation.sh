#!/bin/bash
# federation.sh BUILD_DIR [SECONDS [MSG_LOAD OPTIONS...]]: the one-to-one
# message benchmark of messages.sh across federation: two complete servers,
# sb1.example and sb2.example, each with its own sb-router, sb-sm, sb-c2s
# and sb-s2s. The senders log in to sb1, the receivers to sb2, so every
# message goes client -> c2s1 -> router1 -> sm1 (the sender's sm handles
# its outbound stanzas) -> router1 -> s2s1 -> s2s2 -> router2 -> sm2 ->
# router2 -> c2s2 -> client.
#
# Makes a temporary directory with a small CA (certtool) and an ECDSA P-256
# certificate from it for each domain (used by its c2s and its s2s), a
# database per server with the accounts bench1..benchUSERS of its domain
# (password "bench", made with sbctl adduser --batch), and for each server
# router.xml (sm1 sharing the domain, c2s1, s2s1 the default route),
# sm1.xml, c2s.xml (lib.sh's sb_config, as messages.sh: no read rate, no
# per-address limit) and s2s.xml: listening on FED_NET.1:5269 (sb1) and
# FED_NET.2:5269 (sb2), the CA as ca-file, policy require-cert (the
# default: SASL EXTERNAL with the CA's certificates, XEP-0288 bidi) and a
# static <host/> for the other domain, so no DNS is needed; every log at
# level notice. Starts the eight processes and runs msg_load with -d
# sb1.example -D sb2.example -P (sb2's c2s port): it measures all eight.
# Before the burst, every sender pings sb2.example and waits for the
# answer, so the s2s stream is up (a domain's queue while its stream is
# set up holds only <queue/>, 1000 stanzas). Then each server log is
# summed up (warnings, errors, sm's, c2s's and s2s's counters), each sm is
# stopped first to see that it ends cleanly.
# Everything is stopped and removed on exit, also on failure.
#
#   bash tools/bench/federation.sh build                 200 users, 10 s, window 32
#   USERS=2000 bash tools/bench/federation.sh build 10 -W 8
#   SB_FED_POLICY=dialback bash tools/bench/federation.sh build
#
# USERS/2 x window is the burst at "go", and it all crosses one s2s stream:
# s2s's write buffer is bounded (<write-buffer/>, 4 MiB per stream), as is
# each router link (4 MiB); past that a link or stream is cut.
#
# FED_NET: the first three octets of the loopback addresses the two s2s
# listen on (default 127.0.7, away from the tests' 127.0.3-5 blocks);
# SB_FED_POLICY=dialback: self-signed certificates and policy dialback
# instead of the CA and require-cert. msg_load's options (-W window, -b
# body bytes, -j processes, -w warm-up, ...) follow SECONDS; its -u comes
# from USERS.
set -eu
. "$(dirname "$0")/lib.sh"
build=$1
seconds=${2:-10}
shift $(( $# > 1 ? 2 : 1 ))
users=${USERS:-200}
net=${FED_NET:-127.0.7}
policy=${SB_FED_POLICY:-require-cert}
domains=(sb1.example sb2.example)

bench_init sb-fed-bench-XXXXXX
[ -x "$build/sb-s2s" ] || die "no s2s binary at $build/sb-s2s"
[ $((users % 2)) -eq 0 ] && [ "$users" -ge 2 ] || die "USERS must be even"
case $policy in
require-cert|dialback) ;;
*) die "SB_FED_POLICY: require-cert or dialback, not '$policy'" ;;
esac

# port_busy IP PORT: something listens there already (another run, a test).
# SO_REUSEADDR, as the servers set it: a previous run's TIME-WAIT is no obstacle.
port_busy() {
	python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1" "$2"
}

certtool_q() {
	certtool "$@" >"$dir/certtool.out" 2>&1 || { cat "$dir/certtool.out" >&2; die "certtool $*"; }
}

# The CA (require-cert) or nothing (dialback); then a certificate per domain.
if [ "$policy" = require-cert ]; then
	certtool_q --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$dir/ca.key"
	printf 'cn = "Switchboard Bench CA"\nca\ncert_signing_key\nexpiration_days = 30\n' \
		> "$dir/ca.tmpl"
	certtool_q --generate-self-signed --load-privkey "$dir/ca.key" --template "$dir/ca.tmpl" \
		--outfile "$dir/ca.crt"
	ca_file=$dir/ca.crt
else
	ca_file=
fi
for d in "${domains[@]}"; do
	certtool_q --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$dir/$d.key"
	printf 'cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\ntls_www_server\ntls_www_client\nsigning_key\n' \
		"$d" "$d" > "$dir/$d.tmpl"
	if [ -n "$ca_file" ]; then
		certtool_q --generate-certificate --load-privkey "$dir/$d.key" \
			--load-ca-certificate "$dir/ca.crt" --load-ca-privkey "$dir/ca.key" \
			--template "$dir/$d.tmpl" --outfile "$dir/$d.crt"
	else
		certtool_q --generate-self-signed --load-privkey "$dir/$d.key" \
			--template "$dir/$d.tmpl" --outfile "$dir/$d.crt"
	fi
done
# Without a CA of our own, the peers' self-signed certificates are untrusted anyway.
tls_line="<tls${ca_file:+ ca-file='$ca_file'}/>"

rport=()
cport=()
router_pid=()
sm_pid=()
c2s_pid=()
s2s_pid=()
for i in 1 2; do
	port_busy "$net.$i" 5269 && die "$net.$i:5269 is in use (another run? set FED_NET)"
	rport[i]=$(free_port)
	cport[i]=$(free_port)
done

for i in 1 2; do
	d=${domains[i-1]}
	o=${domains[2-i]}		# the other domain
	oi=$((3 - i))
	s=$dir/sb$i
	mkdir "$s"

	sb_config -r "<component name='s2s1' secret='$secret' internal='yes' default-route='yes'/>" \
		"$s" "$d" "${rport[i]}" "${cport[i]}" "$dir/$d.crt" "$dir/$d.key"

	cat > "$s/s2s.xml" <<XML
<s2s>
  <log level='notice'/>
  <router address='127.0.0.1' port='${rport[i]}' name='s2s1' secret='$secret'/>
  <listen address='$net.$i' port='5269'/>
  <domain name='$d'>
    <certificate>$dir/$d.crt</certificate>
    <key>$dir/$d.key</key>
  </domain>
  $tls_line
  <policy default='$policy'/>
  <host domain='$o' address='$net.$oi' port='5269'/>
</s2s>
XML

	sb_accounts "$build" "$s" "$d" "$users" >/dev/null
	echo "federation.sh: $d: $users accounts made in $made_ms ms"
done

for i in 1 2; do
	s=$dir/sb$i
	sb_start start_logged "$build" "$build/sb-sm" "$s" "$i"
	router_pid[i]=${sb_pids[0]} sm_pid[i]=${sb_pids[1]} c2s_pid[i]=${sb_pids[2]}
	start_logged "s2s$i" "router link up" "$build/sb-s2s" -c "$s/s2s.xml"
	s2s_pid[i]=$last_pid
done
echo "federation.sh: ${domains[0]} (s2s on $net.1:5269) and ${domains[1]} (s2s on" \
	"$net.2:5269), policy $policy"

status=0
"$build/bench/msg_load" -u "$users" -t "$seconds" -d "${domains[0]}" -D "${domains[1]}" \
	-P "${cport[2]}" "$@" "${cport[1]}" \
	c2s1="${c2s_pid[1]}" router1="${router_pid[1]}" sm1="${sm_pid[1]}" s2s1="${s2s_pid[1]}" \
	s2s2="${s2s_pid[2]}" router2="${router_pid[2]}" sm2="${sm_pid[2]}" c2s2="${c2s_pid[2]}" ||
	status=1

# The counters, then each log summed up: what went wrong shows here.
kill -USR1 "${router_pid[@]}" "${c2s_pid[@]}" "${sm_pid[@]}" "${s2s_pid[@]}" 2>/dev/null || true
sleep 0.5
logs=(router1 c2s1 sm1 s2s1 s2s2 router2 sm2 c2s2)
log_summary "${logs[@]}"
for i in 1 2; do
	grep -E 'counters: ' "$dir/sm$i.log" | tail -1 | sed -E "s/^[^ ]+ /  sm$i /"
	grep -E 'connections, .* sessions' "$dir/c2s$i.log" | tail -1 | sed -E "s/^[^ ]+ /  c2s$i /"
	grep -E 'streams: ' "$dir/s2s$i.log" | tail -1 | sed -E "s/^[^ ]+ /  s2s$i /"
done

# Each sm stops first: every session should have ended with the clients' logouts.
stop_sm sm1 "${sm_pid[1]}"
stop_sm sm2 "${sm_pid[2]}"
check_sanitizers "${logs[@]}"
if [ $status -ne 0 ]; then
	for p in "${logs[@]}"; do show_log "$p"; done
fi
exit $status
