#!/bin/bash
# router.sh BUILD_DIR [COUNT]: start a router on a free port with two
# benchmark components (a.bench, b.bench), run router_load against it, stop it.
set -eu
build=$1
count=${2:-500000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-router-bench-XXXXXX")
port=$((30000 + $$ % 20000))
cat > "$dir/router.xml" <<XML
<router>
  <log level='warn'/>
  <listen address='127.0.0.1' port='$port'/>
  <limits><write-buffer>64M</write-buffer></limits>
  <component name='a.bench' secret='bench'/>
  <component name='b.bench' secret='bench'/>
</router>
XML
"$build/sb-router" -c "$dir/router.xml" 2>"$dir/router.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
# Wait for the listener.
for i in $(seq 50); do
	if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then break; fi
	sleep 0.1
done
"$build/bench/router_load" "$port" bench "$pid" "$count" || { cat "$dir/router.log" >&2; exit 1; }
