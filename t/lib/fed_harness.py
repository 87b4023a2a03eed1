# fed_harness.py: what the federation tests share: real peer servers (Prosody
# 0.12, ejabberd 23.01) for our s2s to federate with, each on its own loopback
# address, with certificates from a test CA and name resolution that only the
# test controls. Run with /usr/bin/python3 (Debian's, with python3-slixmpp).
#
#   import fed_harness as F
#   net = F.Block(2)              # 127.0.2.0/24: net.dns .ours .prosody .ejabberd
#   ca = F.CA()
#   dns = F.DNS(net.dns)
#   dns.srv("_xmpp-server._tcp.prosody.example", "xmpp.prosody.example", 5269)
#   dns.host_record("xmpp.prosody.example", net.prosody)
#   dns.host_record("ejabberd.example", net.ejabberd)    # no SRV: A fallback
#   dns.start()
#   pro = F.Prosody("prosody.example", net.prosody, dns, ca, secure_auth=True)
#   eja = F.Ejabberd("ejabberd.example", net.ejabberd, dns, ca, dialback=False)
#   F.start_all(pro, eja)         # or pro.start(); eja.start()
#   pro.adduser("romeo", "pw"); eja.adduser("juliet", "pw")
#   async def messages():
#       r = await pro.client("romeo", "pw")   # or F.login(jid, pw, host, port)
#       j = await eja.client("juliet", "pw")
#       r.send("<message to='juliet@ejabberd.example' type='chat'><body>hi</body></message>")
#       st = await j.expect(lambda s: F.tag(s) == "message", timeout=20)
#       await r.close(); await j.close()
#   def main():
#       ...set up as above...
#       F.check_async("a message crosses", messages)  # one TAP line (c2s_harness.ok)
#       F.ok(eja.wait_log(r"Accepted inbound s2s EXTERNAL"), "SASL EXTERNAL")
#       return F.done()           # stops everything, prints the plan
#   F.run(main, watchdog=300)     # exit status; a hang fails and still cleans up
#
# Block(n): the addresses of one test: 127.0.n.53 its DNS, 127.0.n.1 our
#   server, 127.0.n.2 Prosody, 127.0.n.3 ejabberd, addr(k) 127.0.n.k. Tests
#   that may run at once (prove -j2) take different n. Nothing here uses a
#   fixed port or address outside the block: c2s ports and the Erlang
#   distribution port are free ports on 127.0.0.1; no epmd, no global node
#   name or cookie, no /etc file is touched.
#
# CA(key_type="ecdsa"|"rsa"): a certificate authority made with certtool in a
#   temporary directory (ECDSA P-256 by default; both servers take either).
#   ca.file: its PEM. ca.issue(domain, extra_dns=(), expired=False) ->
#   (certfile, keyfile): DNS-ID domain (+ extra_dns), serverAuth+clientAuth,
#   signed by the CA. ca.self_signed(domain, extra_dns=()) -> (certfile,
#   keyfile): the same names, signed by itself (a "wrong certificate").
#
# DNS(ip, zone="example"): a dnsmasq on ip:53 (UDP and TCP), in the
#   foreground, that knows only what the test declares before start():
#   host_record(name, ip) (A, or AAAA for an IPv6 ip), srv(name, target, port,
#   priority=0, weight=0) (target "." : no such service). Every other name
#   in the zone is NXDOMAIN; nothing is forwarded (no upstream, no
#   resolv.conf, no /etc/hosts; names outside the zone get REFUSED); no
#   cache, TTL 0. start(), stop(), restart() (takes records declared since),
#   queries() -> [(type, name, client)] it was asked, logtext().
#   dns.wrap(argv) -> argv that runs the program in a private mount
#   namespace (unshare) where /etc/resolv.conf names only this dnsmasq,
#   /etc/hosts has only localhost and the host name, and nsswitch.conf says
#   "hosts: files dns": for programs that resolve with the C library
#   (getaddrinfo), e.g. our own s2s. Both peers run inside it.
#
# Prosody(domain, ip, dns, ca, cert=None, secure_auth=True, modules=(),
#   extra_config="", loglevel="debug", require_encryption=True): a private
#   Prosody: prosody -F --config <tmp>/prosody.cfg.lua, run_as_root, its own
#   data, pid and log files in a temporary directory. c2s on
#   127.0.0.1:pro.cport, s2s on ip:5269. cert=(certfile, keyfile) or
#   ca.issue(domain); ca.file is its trust store. It resolves only through
#   dns: libunbound (lua-unbound) with unbound = { resolvconf = false;
#   hoststxt = false; forward = { dns.ip } }. Modules: roster saslauth tls
#   dialback disco ping presence s2s_bidi posix (+ modules); offline off
#   (a message to an absent user bounces). secure_auth=True:
#   s2s_secure_auth (certificates required: SASL EXTERNAL, no dialback);
#   False: dialback allowed. extra_config: Lua lines in the global section
#   (a later assignment wins).
#
# Ejabberd(domain, ip, dns, ca, cert=None, dialback=False, loglevel="info",
#   modules="", extra_config="", starttls="required"): a private ejabberd
#   node: erl run directly (what "ejabberdctl foreground" runs, without its
#   su to the ejabberd user), node sbtest-<pid>-<k>@localhost, its own cookie
#   in its own HOME, no epmd (-erl_epmd_port: distribution on a free port of
#   127.0.0.1), mnesia spool, logs and ejabberd.yml in a temporary
#   directory. c2s on 127.0.0.1:eja.cport, s2s on ip:5269 (and outgoing s2s
#   from ip), certfiles [cert, key], ca_file, s2s_use_starttls: starttls.
#   dialback=False leaves mod_s2s_dialback out (certificates required),
#   True loads it. DNS: its SRV look-ups go through Erlang's inet_res
#   (ERL_INETRC: nameserver dns.ip only, no resolv.conf, no hosts file), its
#   A/AAAA look-ups through getaddrinfo inside dns.wrap(). modules: YAML
#   lines under modules: ("  mod_x: {}\n"); extra_config: top-level YAML.
#   ctl(*args) runs an ejabberdctl command (a hidden, non-listening node).
#
# Both peers: start() (returns when they listen; raises RuntimeError with
#   the tail of the log when they do not), launch()+wait_started() (what
#   start_all does), adduser(user, pw), client(user, pw, resource=None),
#   stop() (SIGTERM to the process group, then SIGKILL; .rc is the exit
#   status, .start_time/.stop_time in seconds), logtext(), tail(n),
#   wait_log(regexp, timeout) -> match or None, .tmp, .cport, .domain, .ip.
#
# Clients: await login(jid, password, host, port, resource=None) -> Client:
#   slixmpp to any server at host:port (certificates not verified, SCRAM
#   or PLAIN without channel binding, every automatic behaviour off: no
#   roster fetch, no presence, no answer to subscriptions).
#   c.send(xml), await c.expect(pred, timeout=WAIT, what=...) -> the first
#   stanza matching pred (removed from c.inbox), await c.nothing(pred,
#   timeout), await c.iq(xml) -> result/error, c.clear(), await c.close().
#   Stanzas are ElementTree elements in jabber:client; tag(st) is the local
#   name, bare(jid) the bare JID. Servers deliver roster pushes and
#   subscription states only to resources that fetched the roster: fetch
#   it (c.iq("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>"))
#   before presence. check_async(desc, fn) runs one async check: one TAP line.
#
# Everything started is stopped at exit, on exceptions, on SIGTERM/SIGHUP
# (prove's timeout), SIGINT, and by F.run()'s watchdog; temporary directories
# (/tmp/sb-fed-*) are removed unless SB_KEEP_TMP=1. Started servers also get
# SIGTERM if this process is SIGKILLed (PR_SET_PDEATHSIG; their directories
# then stay). When a check failed or the test crashed, the tails of every
# log are printed at the end.

import atexit
import ctypes
import itertools
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c2s_harness as H  # noqa: E402
from c2s_harness import ok, free_port, check_async  # noqa: E402,F401

WAIT = 20.0                 # default wait for a stanza (federation is slower than c2s)
PROSODY = "/usr/bin/prosody"
PROSODYCTL = "/usr/bin/prosodyctl"
ERL = "/usr/bin/erl"
DNSMASQ = "/usr/sbin/dnsmasq"
EJABBERDCTL = "/usr/sbin/ejabberdctl"
KEEP = bool(os.environ.get("SB_KEEP_TMP"))
NS_CLIENT = "jabber:client"


# --- bookkeeping: everything started is stopped ---

_live = []                  # started things, in order; each has _cleanup()
_tmpdirs = []
_lock = threading.RLock()
_cleaning = False


def _mktmp(prefix):
    d = tempfile.mkdtemp(prefix="sb-fed-%s-" % prefix)
    os.chmod(d, 0o755)
    with _lock:
        _tmpdirs.append(d)
    return d


def cleanup_all(show_logs=None):
    """Stop every server this process started (newest first) and remove the
    temporary directories (kept with SB_KEEP_TMP). Idempotent."""
    global _cleaning
    with _lock:
        if _cleaning:
            return
        _cleaning = True
        try:
            if show_logs is None:
                show_logs = H.nfailed > 0 or _crashed
            items = list(reversed(_live))
            if show_logs:
                for it in items:
                    it.dump_log()
            for it in items:
                try:
                    it._cleanup()
                except Exception:
                    traceback.print_exc(file=sys.stderr)
            _live.clear()
            for d in _tmpdirs:
                if KEEP:
                    print("# kept %s" % d, flush=True)
                else:
                    shutil.rmtree(d, ignore_errors=True)
            _tmpdirs.clear()
        finally:
            _cleaning = False


def _on_signal(signum, frame):
    if _cleaning:
        return                      # a cleanup is under way: let it finish
    print("# fed_harness: signal %d: stopping the servers" % signum, flush=True)
    cleanup_all(show_logs=True)
    os._exit(128 + signum)


_crashed = False
_excepthook = sys.excepthook


def _on_uncaught(*args):
    global _crashed
    _crashed = True                 # the atexit cleanup shows the log tails
    _excepthook(*args)


sys.excepthook = _on_uncaught
atexit.register(cleanup_all)
if threading.current_thread() is threading.main_thread():
    for _s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(_s, _on_signal)


def done():
    """Stop everything (log tails when a check failed), print the TAP plan,
    return the exit status."""
    cleanup_all()
    print("1..%d" % H.ntests, flush=True)
    return 1 if H.nfailed else 0


def run(main, watchdog):
    """sys.exit(main()) under a watchdog that fails the test, stops the
    servers and exits when it takes longer than watchdog seconds."""
    def expired(signum, frame):
        print("not ok - watchdog: the test took more than %d s" % watchdog, flush=True)
        cleanup_all(show_logs=True)
        os._exit(1)
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(watchdog)
    try:
        rc = main()
    except KeyboardInterrupt:
        rc = 130
    except Exception:
        # A failed start (or any error outside a check) is a failed test
        # with the traceback and every log tail.
        ok(False, "the test ran to its end", traceback.format_exc())
        rc = done()
    signal.alarm(0)
    sys.exit(rc)


# --- child processes ---

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup_main():
    # The child dies with us (SIGTERM lets it shut down) even when we are
    # SIGKILLed. Linux sends it when the *thread* that forked exits: only
    # for children started from the main thread.
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Child:
    """A process with its log file (stdout+stderr), in its own process group."""

    def __init__(self, name, argv, logpath, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.logpath = logpath
        self.log = open(logpath, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     start_new_session=True,  # stop() signals the group
                                     preexec_fn=_child_setup_main if
                                     threading.current_thread() is threading.main_thread()
                                     else None)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def _group_alive(self):
        try:
            os.killpg(self.pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def stop(self, timeout=10.0, sig=signal.SIGTERM):
        """Signal the process group, wait, SIGKILL what is left; the exit status
        of the leader (negative: killed by that signal)."""
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # the leader is gone: anything left in its group is killed
        deadline = time.time() + 2
        while self._group_alive() and time.time() < deadline:
            time.sleep(0.05)
        if self._group_alive():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            self.proc.wait()
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _tail(text, n):
    return "\n".join(text.splitlines()[-n:])


def _wait_tcp(host, port, alive, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            if not alive():
                return False
            time.sleep(0.05)
    return False


def _port_taken(host, port):
    """True when something listens on host:port (TIME_WAIT left by an earlier
    run does not count: the servers bind with SO_REUSEADDR too)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


class Block:
    """The loopback addresses of one test: 127.0.n.0/24."""

    def __init__(self, n):
        if not 1 <= int(n) <= 254:
            raise ValueError("block number must be 1..254")
        self.n = int(n)
        self.net = "127.0.%d" % self.n
        self.dns = self.net + ".53"
        self.ours = self.net + ".1"
        self.prosody = self.net + ".2"
        self.ejabberd = self.net + ".3"

    def addr(self, last):
        return "%s.%d" % (self.net, last)


class _Server:
    """What the peers share: registration, a log, a tail for failures."""
    label = "server"
    rc = None               # exit status after stop()
    start_time = None       # seconds start() took
    stop_time = None        # seconds stop() took

    def _register(self):
        with _lock:
            _live.append(self)

    def logtext(self):
        return ""

    def tail(self, n=40):
        return _tail(self.logtext(), n)

    def wait_log(self, pattern, timeout=WAIT):
        """The first match of the regular expression in the log, waiting up
        to timeout seconds for it; None when it does not come."""
        deadline = time.time() + timeout
        while True:
            m = re.search(pattern, self.logtext())
            if m or time.time() >= deadline:
                return m
            time.sleep(0.1)

    def dump_log(self, n=60):
        text = self.logtext()
        if not text:
            return
        print("# --- %s log (tail) ---" % self.label, flush=True)
        for line in text.splitlines()[-n:]:
            print("# " + line)
        sys.stdout.flush()

    def _fail(self, what, n=40):
        raise RuntimeError("%s: %s\n--- last lines of its log ---\n%s" % (
            self.label, what, self.tail(n)))

    def _cleanup(self):
        self.stop()


# --- a test certificate authority ---

class CA:
    """A test CA made with certtool; certificates it signs and self-signed ones."""

    def __init__(self, name="Switchboard Test CA", key_type="ecdsa"):
        self.tmp = _mktmp("ca")
        self.key_type = key_type
        self.key = self._genkey("ca")
        self.file = os.path.join(self.tmp, "ca.crt")
        tmpl = self._template("ca", 'cn = "%s"\nca\ncert_signing_key\ncrl_signing_key\n'
                              'expiration_days = 60\n' % name)
        self._certtool("--generate-self-signed", "--load-privkey", self.key,
                       "--template", tmpl, "--outfile", self.file)
        self._n = itertools.count(1)

    def _certtool(self, *args):
        r = subprocess.run(["certtool"] + list(args), capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("certtool %s: %s%s" % (" ".join(args), r.stdout, r.stderr))

    def _genkey(self, name):
        path = os.path.join(self.tmp, name + ".key")
        if self.key_type == "rsa":
            self._certtool("--generate-privkey", "--key-type=rsa", "--bits=2048",
                           "--outfile", path)
        else:
            self._certtool("--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
                           "--outfile", path)
        return path

    def _template(self, name, text):
        path = os.path.join(self.tmp, name + ".tmpl")
        with open(path, "w") as f:
            f.write(text)
        return path

    def _leaf_template(self, name, domain, extra_dns, expired):
        lines = ['cn = "%s"' % domain]
        for d in (domain,) + tuple(extra_dns):
            lines.append('dns_name = "%s"' % d)
        lines += ["tls_www_server", "tls_www_client", "signing_key"]
        if self.key_type == "rsa":
            lines.append("encryption_key")
        if expired:
            lines += ['activation_date = "2020-01-01 00:00:00"',
                      'expiration_date = "2020-02-01 00:00:00"']
        else:
            lines.append("expiration_days = 30")
        lines.append("serial = %d" % (random.getrandbits(62) + 1))
        return self._template(name, "\n".join(lines) + "\n")

    def issue(self, domain, extra_dns=(), expired=False):
        """(certfile, keyfile) for domain, signed by this CA."""
        name = "%s-%d" % (domain, next(self._n))
        key = self._genkey(name)
        crt = os.path.join(self.tmp, name + ".crt")
        tmpl = self._leaf_template(name, domain, extra_dns, expired)
        self._certtool("--generate-certificate", "--load-privkey", key,
                       "--load-ca-certificate", self.file, "--load-ca-privkey", self.key,
                       "--template", tmpl, "--outfile", crt)
        return crt, key

    def self_signed(self, domain, extra_dns=()):
        """(certfile, keyfile) for domain, signed by itself: not trusted by the CA."""
        name = "%s-self-%d" % (domain, next(self._n))
        key = self._genkey(name)
        crt = os.path.join(self.tmp, name + ".crt")
        tmpl = self._leaf_template(name, domain, extra_dns, False)
        self._certtool("--generate-self-signed", "--load-privkey", key,
                       "--template", tmpl, "--outfile", crt)
        return crt, key


# --- DNS: a dnsmasq that answers only what the test declares ---

def dns_query(server, name, qtype=1, timeout=1.0, tcp=False):
    """One DNS query to server:53; (rcode, answer count) or None on timeout."""
    qid = random.getrandbits(16)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    try:
        if tcp:
            s = socket.create_connection((server, 53), timeout=timeout)
            s.sendall(struct.pack(">H", len(q)) + q)
            data = b""
            while len(data) < 14:
                d = s.recv(4096)
                if not d:
                    break
                data += d
            s.close()
            data = data[2:]
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(q, (server, 53))
            data, _ = s.recvfrom(4096)
            s.close()
    except OSError:
        return None
    if len(data) < 12:
        return None
    rid, flags, _, ancount, _, _ = struct.unpack(">HHHHHH", data[:12])
    if rid != qid:
        return None
    return flags & 0xF, ancount


class DNS(_Server):
    """dnsmasq on ip:53, answering only the declared records."""

    def __init__(self, ip, zone="example"):
        self.ip = ip
        self.zone = zone
        self.label = "dnsmasq %s" % ip
        self.hosts = []      # (name, ip)
        self.srvs = []       # (name, target, port, priority, weight)
        self.child = None
        self.tmp = _mktmp("dns")
        self.logpath = os.path.join(self.tmp, "dnsmasq.log")
        self.resolv_conf = os.path.join(self.tmp, "resolv.conf")
        self.hosts_file = os.path.join(self.tmp, "hosts")
        self.nsswitch = os.path.join(self.tmp, "nsswitch.conf")
        with open(self.resolv_conf, "w") as f:
            f.write("nameserver %s\noptions timeout:1 attempts:2\n" % ip)
        with open(self.hosts_file, "w") as f:
            f.write("127.0.0.1 localhost %s\n::1 localhost\n" % socket.gethostname())
        with open(self.nsswitch, "w") as f:
            f.write("hosts: files dns\n")
        self._register()

    def host_record(self, name, ip):
        self.hosts.append((name, ip))

    def srv(self, name, target, port=0, priority=0, weight=0):
        """An SRV record; target "." (or None): "no such service here"."""
        self.srvs.append((name, target or ".", int(port), int(priority), int(weight)))

    def argv(self):
        a = [DNSMASQ, "--keep-in-foreground", "--log-facility=-", "--log-queries",
             "--no-resolv", "--no-hosts", "--no-poll", "--conf-file=/dev/null",
             "--bind-interfaces", "--listen-address=" + self.ip, "--port=53",
             "--pid-file=", "--user=root", "--group=root", "--cache-size=0",
             "--local-ttl=0", "--no-negcache", "--local=/%s/" % self.zone,
             "--domain-needed", "--bogus-priv"]
        for name, ip in self.hosts:
            a.append("--host-record=%s,%s" % (name, ip))
        for name, target, port, prio, weight in self.srvs:
            if target == ".":
                a.append("--srv-host=%s" % name)
            else:
                a.append("--srv-host=%s,%s,%d,%d,%d" % (name, target, port, prio, weight))
        return a

    def start(self, timeout=5.0):
        t0 = time.time()
        if _port_taken(self.ip, 53):
            self._fail("%s:53 is already taken (another test on this address block?)"
                       % self.ip)
        self.child = Child("dnsmasq", self.argv(), self.logpath)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.child.alive():
                self._fail("dnsmasq exited with status %s" % self.child.proc.returncode)
            r = dns_query(self.ip, "sb-probe." + self.zone, timeout=0.05)
            if r is not None:
                self.start_time = time.time() - t0
                return self
            time.sleep(0.05)
        self._fail("dnsmasq did not answer on %s:53" % self.ip)

    def stop(self):
        if self.child is not None:
            t0 = time.time()
            self.child.stop(5)
            self.stop_time = time.time() - t0
            self.child = None

    def restart(self):
        self.stop()
        self.start()

    def logtext(self):
        return _read(self.logpath)

    def queries(self):
        """The queries it received: [(type, name, from)], e.g. ('SRV',
        '_xmpp-server._tcp.prosody.example', '127.0.0.1')."""
        out = []
        for m in re.finditer(r"query\[(\w+)\] (\S+) from (\S+)", self.logtext()):
            if m.group(2).startswith("sb-probe."):
                continue
            out.append((m.group(1), m.group(2), m.group(3)))
        return out

    def wrap(self, argv):
        """argv run in a private mount namespace whose /etc/resolv.conf names
        only this dnsmasq, whose /etc/hosts has only localhost and the host
        name, and whose
        nsswitch.conf says 'hosts: files dns'."""
        script = ("mount --bind %s /etc/resolv.conf && mount --bind %s /etc/hosts && "
                  "mount --bind %s /etc/nsswitch.conf && exec \"$@\"" % (
                      self.resolv_conf, self.hosts_file, self.nsswitch))
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                script, "sh"] + list(argv)


# --- Prosody ---

PROSODY_CFG = """-- written by fed_harness.py
run_as_root = true
daemonize = false
pidfile = "%(tmp)s/prosody.pid"
data_path = "%(tmp)s/data"
certificates = "%(tmp)s/certs"
plugin_paths = { }
log = {
  { levels = { min = "%(loglevel)s" }, to = "file", filename = "%(tmp)s/prosody.log" };
}
admins = { }
interfaces = { "%(ip)s" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { %(cport)d }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
s2s_ports = { 5269 }
s2s_interfaces = { "%(ip)s" }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
unbound = { resolvconf = false; hoststxt = false; forward = { "%(dns)s" } }
use_dane = false
modules_enabled = {
  "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "presence";
  "s2s_bidi"; "posix";%(modules)s
}
modules_disabled = { "offline" }
allow_registration = false
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = true
s2s_require_encryption = %(require_encryption)s
s2s_secure_auth = %(secure_auth)s
s2s_timeout = 20
limits = { c2s = { rate = "1mb/s" }; s2sin = { rate = "1mb/s" } }
%(extra)s

VirtualHost "%(domain)s"
  ssl = {
    certificate = "%(crt)s";
    key = "%(key)s";
    cafile = "%(ca)s";
  }
"""


class _Peer(_Server):
    """What Prosody and ejabberd share: an admin command, accounts, a
    client, a stop that waits stop_wait seconds, and the log then the
    console (where configuration errors go). A subclass sets ctl_name and
    has ctl(*args) run its admin command through _run_ctl()."""
    ctl_name = "ctl"
    stop_wait = 10

    def _run_ctl(self, argv, args, cwd, check=True, stdin=None):
        r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60,
                           env=self.env, cwd=cwd)
        if check and r.returncode != 0:
            raise RuntimeError("%s %s: status %d\n%s%s" % (
                self.ctl_name, " ".join(args), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def adduser(self, user, password):
        self.ctl("register", user, self.domain, password)

    async def client(self, user, password, resource=None):
        return await login("%s@%s" % (user, self.domain), password, "127.0.0.1",
                           self.cport, resource)

    def stop(self):
        if self.child is not None:
            t0 = time.time()
            self.rc = self.child.stop(self.stop_wait)
            self.stop_time = time.time() - t0
            self.child = None

    def logtext(self):
        return _read(self.logpath) + _read(self.outpath)


class Prosody(_Peer):
    """A private Prosody serving one domain on ip:5269 (s2s)."""
    ctl_name = "prosodyctl"

    def __init__(self, domain, ip, dns, ca, cert=None, secure_auth=True, modules=(),
                 extra_config="", loglevel="debug", require_encryption=True):
        self.domain = domain
        self.ip = ip
        self.dns = dns
        self.ca = ca
        self.label = "prosody %s (%s)" % (domain, ip)
        self.tmp = _mktmp("prosody")
        self.crt, self.key = cert or ca.issue(domain)
        self.cport = free_port()
        self.child = None
        self.cfg = os.path.join(self.tmp, "prosody.cfg.lua")
        self.logpath = os.path.join(self.tmp, "prosody.log")
        self.outpath = os.path.join(self.tmp, "prosody.out")
        os.makedirs(os.path.join(self.tmp, "data"))
        os.makedirs(os.path.join(self.tmp, "certs"))
        with open(self.cfg, "w") as f:
            f.write(PROSODY_CFG % {
                "tmp": self.tmp, "ip": ip, "cport": self.cport, "dns": dns.ip,
                "secure_auth": "true" if secure_auth else "false",
                "require_encryption": "true" if require_encryption else "false",
                "modules": "".join(' "%s";' % m for m in modules),
                "extra": extra_config, "domain": domain, "crt": self.crt,
                "key": self.key, "ca": ca.file, "loglevel": loglevel})
        self.env = dict(os.environ, HOME=os.path.join(self.tmp, "data"))
        self._register()

    def start(self, timeout=15.0):
        """Start and wait until c2s and s2s listen."""
        self.launch()
        return self.wait_started(timeout)

    def launch(self):
        """Start the process without waiting (see start_all)."""
        self._t0 = time.time()
        if _port_taken(self.ip, 5269):
            self._fail("%s:5269 is already taken" % self.ip)
        self.child = Child("prosody", self.dns.wrap([PROSODY, "-F", "--config", self.cfg]),
                           self.outpath, env=self.env, cwd=self.tmp)

    def wait_started(self, timeout=15.0):
        alive = self.child.alive
        deadline = self._t0 + timeout
        if not (_wait_tcp("127.0.0.1", self.cport, alive, deadline - time.time()) and
                _wait_tcp(self.ip, 5269, alive, max(1.0, deadline - time.time()))):
            self._fail("did not start (status %s)" % self.child.proc.poll())
        self.start_time = time.time() - self._t0
        return self

    def ctl(self, *args, stdin=None):
        return self._run_ctl([PROSODYCTL, "--config", self.cfg] + list(args), args,
                             self.tmp, stdin=stdin)


# --- ejabberd ---

EJABBERD_YML = """# written by fed_harness.py
hosts:
  - "%(domain)s"
loglevel: %(loglevel)s
log_rotate_count: 0
hide_sensitive_log_data: false
certfiles:
  - "%(crt)s"
  - "%(key)s"
ca_file: "%(ca)s"
s2s_use_starttls: %(starttls)s
s2s_dns_timeout: 2
s2s_dns_retries: 1
outgoing_s2s_families:
  - ipv4
outgoing_s2s_ipv4_address: "%(ip)s"
outgoing_s2s_timeout: 10
s2s_access: s2s
auth_method: internal
auth_password_format: scram
listen:
  -
    port: %(cport)d
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: true
    access: c2s
    max_stanza_size: 262144
  -
    port: 5269
    ip: "%(ip)s"
    module: ejabberd_s2s_in
    max_stanza_size: 524288
acl:
  local:
    user_regexp: ""
access_rules:
  c2s:
    allow: all
  s2s:
    allow: all
  local:
    allow: local
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
shaper_rules:
  max_user_sessions: 10
modules:
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
%(dialback)s%(modules)s
%(extra)s
"""

_ejabberd_n = itertools.count(1)


def _erl_libs():
    try:
        with open(EJABBERDCTL) as f:
            m = re.search(r"^ERL_LIBS='?([^'\n]*)'?", f.read(), re.M)
            if m:
                return m.group(1)
    except OSError:
        pass
    return "/usr/lib/x86_64-linux-gnu"


class Ejabberd(_Peer):
    """A private ejabberd node serving one domain on ip:5269 (s2s)."""
    ctl_name = "ejabberdctl"
    # SIGTERM: the Erlang VM runs init:stop() (a clean shutdown), which takes longer.
    # Its log: ejabberd.log has everything (error.log repeats its errors); the
    # console (quiet: critical only, and what the VM says) comes after it.
    stop_wait = 20

    def __init__(self, domain, ip, dns, ca, cert=None, dialback=False, loglevel="info",
                 modules="", extra_config="", starttls="required"):
        self.domain = domain
        self.ip = ip
        self.dns = dns
        self.ca = ca
        self.label = "ejabberd %s (%s)" % (domain, ip)
        self.tmp = _mktmp("ejabberd")
        self.crt, self.key = cert or ca.issue(domain)
        self.cport = free_port()
        self.distport = free_port()
        self.node = "sbtest-%d-%d@localhost" % (os.getpid(), next(_ejabberd_n))
        self.child = None
        self.spool = os.path.join(self.tmp, "spool")
        self.logs = os.path.join(self.tmp, "logs")
        self.home = os.path.join(self.tmp, "home")
        for d in (self.spool, self.logs, self.home):
            os.makedirs(d)
        self.cfg = os.path.join(self.tmp, "ejabberd.yml")
        self.inetrc = os.path.join(self.tmp, "inetrc")
        self.outpath = os.path.join(self.tmp, "ejabberd.out")
        self.logpath = os.path.join(self.logs, "ejabberd.log")
        with open(self.cfg, "w") as f:
            f.write(EJABBERD_YML % {
                "domain": domain, "loglevel": loglevel, "crt": self.crt, "key": self.key,
                "ca": ca.file, "ip": ip, "cport": self.cport,
                "dialback": "  mod_s2s_dialback: {}\n" if dialback else "",
                "starttls": starttls,
                "modules": modules, "extra": extra_config})
        # Erlang's own resolver (inet_res: ejabberd's SRV look-ups) asks only
        # the test's dnsmasq; 'localhost' (the node names) comes from here.
        a = [int(x) for x in dns.ip.split(".")]
        with open(self.inetrc, "w") as f:
            f.write("{lookup, [file, dns]}.\n"
                    "{host, {127,0,0,1}, [\"localhost\", \"%s\"]}.\n"
                    "{hosts_file, \"%s\"}.\n"
                    "{resolv_conf, \"\"}.\n"
                    "{nameserver, {%d,%d,%d,%d}, 53}.\n"
                    "{timeout, 1000}.\n{retry, 2}.\n" % (socket.gethostname(), dns.hosts_file, *a))
        # Its own cookie, in its own HOME, shared with the ctl commands.
        with open(os.path.join(self.home, ".erlang.cookie"), "w") as f:
            f.write("sbtest%016x" % random.getrandbits(64))
        os.chmod(os.path.join(self.home, ".erlang.cookie"), 0o400)
        self.env = dict(os.environ, HOME=self.home, ERL_INETRC=self.inetrc,
                        ERL_LIBS=_erl_libs(), EJABBERD_CONFIG_PATH=self.cfg,
                        EJABBERD_LOG_PATH=self.logpath,
                        ERL_CRASH_DUMP=os.path.join(self.logs, "erl_crash.dump"),
                        ERL_MAX_PORTS="32000", ERL_MAX_ETS_TABLES="1400",
                        CONTRIB_MODULES_PATH=os.path.join(self.tmp, "contrib"),
                        CONTRIB_MODULES_CONF_DIR=os.path.join(self.tmp, "contrib-conf"))
        for k in ("EJABBERD_PID_PATH", "ERL_AFLAGS", "ERL_ZFLAGS", "ERL_FLAGS"):
            self.env.pop(k, None)
        self._register()

    def _dist(self):
        # No epmd: the node listens for distribution on a fixed free port of
        # 127.0.0.1, and ctl nodes find it there (OTP >= 23).
        return ["-erl_epmd_port", str(self.distport), "-start_epmd", "false",
                "-kernel", "inet_dist_use_interface", "{127,0,0,1}"]

    def start(self, timeout=45.0):
        """Start and wait until ejabberd says it started and c2s and s2s listen."""
        self.launch()
        return self.wait_started(timeout)

    def launch(self):
        """Start the node without waiting (see start_all)."""
        self._t0 = time.time()
        if _port_taken(self.ip, 5269):
            self._fail("%s:5269 is already taken" % self.ip)
        # What 'ejabberdctl foreground' runs, without its su to the ejabberd
        # user and without epmd.
        argv = [ERL, "-sname", self.node, "+K", "true", "+P", "250000",
                "-env", "ERL_CRASH_DUMP_BYTES", "0"] + self._dist() + [
                "-mnesia", "dir", '"%s"' % self.spool, "-ejabberd", "quiet", "true",
                "-s", "ejabberd", "-noinput"]
        self.child = Child("ejabberd", self.dns.wrap(argv), self.outpath, env=self.env,
                           cwd=self.spool)

    def wait_started(self, timeout=45.0):
        alive = self.child.alive
        deadline = self._t0 + timeout
        started = False
        while time.time() < deadline:
            if not alive():
                break
            if re.search(r"ejabberd \S+ is started in the node", self.logtext()):
                started = True
                break
            time.sleep(0.1)
        if not started or not (_wait_tcp("127.0.0.1", self.cport, alive, 5) and
                               _wait_tcp(self.ip, 5269, alive, 5)):
            self._fail("did not start (status %s)" % self.child.proc.poll(), 60)
        self.start_time = time.time() - self._t0
        return self

    def ctl(self, *args, check=True):
        """An ejabberdctl command through a hidden, non-listening Erlang node."""
        ctlnode = "sbctl-%d-%d@localhost" % (os.getpid(), next(_ejabberd_n))
        argv = [ERL, "-sname", ctlnode, "-hidden", "-noinput"] + self._dist() + [
                "-dist_listen", "false", "-s", "ejabberd_ctl", "-extra", self.node] + \
            list(args)
        return self._run_ctl(argv, args, self.spool, check=check)


def start_all(*servers):
    """Start several servers at once: launch them all, then wait for each
    (from this thread: a child's parent-death signal is tied to the thread
    that started it)."""
    for s in servers:
        s.launch()
    for s in servers:
        s.wait_started()
    return servers


# --- clients ---

def tag(st):
    """The local name of an element: 'message' for '{jabber:client}message'."""
    return st.tag.rsplit("}", 1)[-1]


def bare(jid):
    return jid.split("/", 1)[0]


MECHS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")


class Client(H.XmppClient):
    """A slixmpp client to any server at host:port whose every received stanza
    can be awaited (c2s_harness.XmppClient), with federation's longer waits.
    SASL: the best of mechs the server offers (no -PLUS: ejabberd offers them,
    and slixmpp's tls-unique fails on TLS 1.3)."""
    WAIT = WAIT
    NOTHING_WAIT = 1.0

    def __init__(self, jid, password, host, port, resource=None, mechs=MECHS):
        if resource:
            jid = bare(jid) + "/" + resource
        super().__init__(jid, password, host, port, mechs=mechs)


async def login(jid, password, host, port, resource=None, timeout=WAIT, mechs=MECHS):
    """A Client with a session on host:port (SASL: the best of mechs offered)."""
    c = Client(jid, password, host, port, resource, mechs)
    return await c.connect(timeout)
