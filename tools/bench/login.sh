#!/bin/bash
# login.sh BUILD_DIR [SECONDS [LOGIN_LOAD OPTIONS...]]: the login benchmark.
#
# Makes a temporary directory with an ECDSA P-256 self-signed certificate
# for localhost, a SQLite database with the accounts bench1..benchM
# (password "bench", made with sbctl adduser --batch), router.xml (c2s1,
# sm1 sharing localhost) and c2s.xml (one STARTTLS listener); starts
# sb-router and sb-c2s on free ports, runs login_load against them (it
# also plays sm1), and always stops them and removes the directory.
#
#   bash tools/bench/login.sh build            10 s, 20 slots, SCRAM-SHA-1
#   bash tools/bench/login.sh build 30 -2      30 s, SCRAM-SHA-256
#   ACCOUNTS=5000 bash tools/bench/login.sh build 10 -n 40
set -eu
build=$1
seconds=${2:-10}
shift $(( $# > 1 ? 2 : 1 ))
accounts=${ACCOUNTS:-1000}
secret=bench-secret
domain=localhost

dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-login-bench-XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1 (bound and released; nothing else races us here).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "login.sh: $3 did not start; its log:" >&2
	cat "$dir/$3.log" >&2
	exit 1
}

rport=$(free_port)
cport=$(free_port)

# The certificate: ECDSA P-256, self-signed for the domain.
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
	--outfile "$dir/$domain.key" 2>/dev/null
printf 'cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\ntls_www_server\nsigning_key\n' \
	"$domain" "$domain" > "$dir/cert.tmpl"
certtool --generate-self-signed --load-privkey "$dir/$domain.key" \
	--template "$dir/cert.tmpl" --outfile "$dir/$domain.crt" 2>/dev/null

cat > "$dir/switchboard.xml" <<XML
<switchboard>
  <storage driver='sqlite'><path>$dir/sb.db</path></storage>
</switchboard>
XML

cat > "$dir/router.xml" <<XML
<router>
  <log level='warn'/>
  <listen address='127.0.0.1' port='$rport'/>
  <component name='sm1' secret='$secret' internal='yes'>
    <bind name='$domain' share='yes'/>
  </component>
  <component name='c2s1' secret='$secret' internal='yes'/>
</router>
XML

# No per-address limit: every benchmark client comes from 127.0.0.1.
cat > "$dir/c2s.xml" <<XML
<c2s>
  <log level='warn'/>
  <router address='127.0.0.1' port='$rport' name='c2s1' secret='$secret'/>
  <listen address='127.0.0.1' port='$cport' tls='starttls'/>
  <domain name='$domain'>
    <certificate>$domain.crt</certificate>
    <key>$domain.key</key>
  </domain>
  <limits>
    <connections-per-address>0</connections-per-address>
  </limits>
</c2s>
XML

"$build/sbctl" -c "$dir/switchboard.xml" db init >/dev/null
seq 1 "$accounts" | sed "s/.*/bench&@$domain bench/" |
	"$build/sbctl" -c "$dir/switchboard.xml" adduser --batch >/dev/null

"$build/sb-router" -c "$dir/router.xml" 2>"$dir/router.log" &
pids+=($!)
router_pid=$!
wait_port "$rport" "$router_pid" router
"$build/sb-c2s" -c "$dir/c2s.xml" -s "$dir/switchboard.xml" 2>"$dir/c2s.log" &
pids+=($!)
c2s_pid=$!
wait_port "$cport" "$c2s_pid" c2s

"$build/bench/login_load" -a "$accounts" -t "$seconds" "$@" \
	"$cport" "$rport" "$secret" "$c2s_pid" "$router_pid" || {
	echo "login.sh: login_load failed; c2s log tail:" >&2
	tail -20 "$dir/c2s.log" >&2
	exit 1
}
if [ -s "$dir/c2s.log" ]; then
	echo "  c2s log: $(wc -l < "$dir/c2s.log") lines at warn level; the last:"
	tail -3 "$dir/c2s.log" | sed 's/^/    /'
fi
