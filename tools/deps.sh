#!/bin/sh
# deps.sh: check what switchboard needs to build and test, and install what
# is missing from Debian's archive with apt-get (one 'apt-get update' first).
#
#   tools/deps.sh           check, install what is missing, exit non-zero on failure
#   tools/deps.sh --check   check only; print the missing packages, exit 1 if any
#
# Each line of the table below is: a check (shell) and the Debian package
# that satisfies it. Keep the table in step with docs/ARCHITECTURE.md.
set -u

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

has_pc()     { pkg-config --exists "$1" 2>/dev/null; }
has_header() { [ -f "/usr/include/$1" ] || [ -f "/usr/include/x86_64-linux-gnu/$1" ]; }
has_cmd()    { command -v "$1" >/dev/null 2>&1; }
# A module directory is enough to know the package is there, and much faster
# than starting python on every make.
has_py()     { [ -d "/usr/lib/python3/dist-packages/$1" ] || /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }

missing=""
need() {  # need CHECK PACKAGE
	if ! eval "$1"; then missing="$missing $2"; fi
}

need 'has_cmd pkg-config'            pkg-config
need 'has_cmd cc'                    gcc
need 'has_cmd make'                  make
need 'has_pc libxml-2.0'             libxml2-dev
need 'has_pc gnutls'                 libgnutls28-dev
need 'has_pc libsasl2'               libsasl2-dev
need 'has_cmd pluginviewer || [ -d /usr/lib/x86_64-linux-gnu/sasl2 ]' libsasl2-modules
need 'has_pc libpq'                  libpq-dev
need 'has_pc libidn2'                libidn2-dev
need 'has_header unistr.h'           libunistring-dev
need 'has_pc libuv'                  libuv1-dev
need 'has_pc sqlite3'                libsqlite3-dev
need 'has_pc libcares'               libc-ares-dev
need 'has_cmd prove'                 perl
need 'has_cmd certtool'              gnutls-bin
need '[ -x /usr/bin/python3 ]'       python3
need 'has_py slixmpp'                python3-slixmpp
need '[ -n "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ]' postgresql
need 'has_cmd clang'                 clang
# Federation tests: real peers (Prosody, ejabberd) and the DNS server they
# and s2s resolve through. dnsmasq-base is the program without the system
# service; lunbound.so (lua-unbound) is the resolver Prosody is pointed at.
need 'has_cmd dnsmasq || [ -x /usr/sbin/dnsmasq ]' dnsmasq-base
need '[ -x /usr/bin/prosody ]'       prosody
need '[ -f /usr/lib/x86_64-linux-gnu/lua/5.4/lunbound.so ]' lua-unbound
need '[ -x /usr/sbin/ejabberdctl ]'  ejabberd
need 'has_cmd node'                  nodejs
need 'has_cmd npm'                   npm
need '[ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ]' libclang-rt-dev

# npm packages of the test components (t/js/package-lock.json), after apt.
top=$(cd "$(dirname "$0")/.." && pwd)
npm_missing() { [ ! -f "$top/t/js/node_modules/@xmpp/component/package.json" ]; }
npm_install() {
	echo "deps: npm ci --prefix t/js"
	npm ci --prefix "$top/t/js" --no-audit --no-fund >/dev/null ||
		{ echo "deps: npm ci --prefix t/js failed" >&2; exit 1; }
}

if [ -z "$missing" ]; then
	if npm_missing; then
		[ $check_only = 1 ] && { echo "missing: t/js/node_modules"; exit 1; }
		npm_install
	fi
	exit 0
fi

if [ $check_only = 1 ]; then
	echo "missing:$missing"
	exit 1
fi

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; run as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
# The servers installed for the tests (prosody, ejabberd) must not start as
# system services: they would hold ports 5222/5269 the tests use. A
# policy-rc.d that refuses every start is in place during the install
# unless the machine already has one.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e $policy ]; then
	printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && own_policy=1
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
rc=$?
[ $own_policy = 1 ] && rm -f $policy
[ $rc = 0 ] || { echo "deps: apt-get install$missing failed" >&2; exit 1; }

# Check again: a package that installed but did not satisfy its check is a bug here.
missing=""
need 'has_pc libxml-2.0 && has_pc gnutls && has_pc libsasl2 && has_pc libpq && has_pc libidn2 && has_header unistr.h && has_pc libuv && has_pc sqlite3 && has_pc libcares' 'libraries'
need 'has_cmd prove && has_py slixmpp && has_cmd clang' 'tools'
if [ -n "$missing" ]; then
	echo "deps: still missing after install:$missing" >&2
	exit 1
fi
npm_missing && npm_install
echo "deps: ok"
