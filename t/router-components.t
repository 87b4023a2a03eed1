#!/usr/bin/python3
# router-components.t: the router with real third-party XEP-0114 components:
# slixmpp's ComponentXMPP (t/lib/component_slix.py, Debian's python3-slixmpp)
# and xmpp.js's @xmpp/component (t/lib/component_node.mjs, from t/js by npm),
# plus one raw-socket internal link for announcements.
#
# The test starts $SB_BUILD/sb-router on a free port with a router.xml of its
# own in a temporary directory and checks, as the components see it:
#   1. both libraries connect and authenticate;
#   2. message, presence and IQ get/result between them, both ways, with a
#      payload (escapes, non-ASCII, 24 KB) intact;
#   3. no route: remote-server-not-found (unknown domain, no default route),
#      service-unavailable (configured name nobody holds); an error stanza
#      is never answered;
#   4. a bad secret is refused with not-authorized (both libraries); an
#      unknown name gets host-unknown, a second holder of a plain name conflict;
#   5. a spoofed 'from' (another's name, a subdomain or a suffix of its own)
#      gets not-allowed and is not delivered; no 'from' gets bad-request;
#   6. two holders of a shared name: every bare JID always lands on the same
#      one, in order, and both get some; when one leaves the other gets all,
#      and when it comes back every user is where it was. Both ways of
#      sharing: two plain components connecting to shard.example, and two
#      internal links (own names) binding ishard.example;
#   7. an internal link (a raw socket here) is told which names are bound when
#      it arrives, and when a component goes and comes back;
#   8. the router stopped (SIGTERM: system-shutdown) and then killed
#      (SIGKILL), each time started again on the same port, is rejoined by
#      both components, which exchange messages again; at the end it stops
#      cleanly (exit 0, no sanitizer report under make asan).
#
# The helpers print one JSON line per event and read JSON commands on stdin
# (see their headers). Every wait has a timeout, a watchdog ends the whole
# test, and every process started here is killed at the end (and by the
# kernel if the test itself is killed). Without the router binary the test
# is skipped; without t/js/node_modules only the @xmpp/component checks are.
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET

SRC = os.environ.get("SB_SRC") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("SB_BUILD") or os.path.join(SRC, "build")
ROUTER = os.path.join(BUILD, "sb-router")
PY = "/usr/bin/python3"
SLIX = os.path.join(SRC, "t", "lib", "component_slix.py")
NODE_HELPER = os.path.join(SRC, "t", "lib", "component_node.mjs")
NODE_MODULES = os.path.join(SRC, "t", "js", "node_modules", "@xmpp", "component")
WATCHDOG = 90          # seconds for the whole test, whatever happens
WAIT = 5               # seconds for one expected event
NS_TEST = "urn:switchboard:test"
NS_ROUTER = "urn:switchboard:component:0"
NS_ACCEPT = "jabber:component:accept"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"

# --- TAP ---

ntests = 0
nfailed = 0
tap_lock = threading.Lock()


def out(line):
    with tap_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def diag(text):
    for line in str(text).splitlines():
        out("# " + line)


def ok(cond, name, why=None):
    global ntests, nfailed
    ntests += 1
    out("%s %d - %s" % ("ok" if cond else "not ok", ntests, name))
    if not cond:
        nfailed += 1
        if why:
            diag(why() if callable(why) else why)
    return cond


def skip(name, why):
    global ntests
    ntests += 1
    out("ok %d - %s # skip %s" % (ntests, name, why))


if not os.access(ROUTER, os.X_OK):
    print("1..0 # SKIP router not built (no %s)" % ROUTER)
    sys.exit(0)

have_node = bool(shutil.which("node")) and os.path.isdir(NODE_MODULES)
NO_NODE = "t/js/node_modules missing: run make deps (npm ci --prefix t/js)"

# --- processes: every one is registered here and killed at the end ---

procs = []
procs_lock = threading.Lock()


def die_with_parent():
    """In the child: get SIGKILL when the test dies, even by SIGKILL (Linux prctl)."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(argv, logpath, **kw):
    with open(logpath, "ab") as err:
        p = subprocess.Popen(argv, stdin=kw.pop("stdin", subprocess.DEVNULL),
                             stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=err,
                             start_new_session=True, preexec_fn=die_with_parent, **kw)
    with procs_lock:
        procs.append(p)
    return p


def kill_all():
    with procs_lock:
        ps = list(procs)
    for p in ps:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
    deadline = time.time() + 2
    for p in ps:
        try:
            p.wait(max(0.05, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()


def watchdog():
    out("Bail out! router-components.t took longer than %d s" % WATCHDOG)
    kill_all()
    os._exit(1)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tail(path, n=30):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no %s)" % path


# --- the router ---

SECRETS = {
    "slix.example": "slix-secret",
    "node.example": "node-secret",
    "offline.example": "offline-secret",      # configured, never connected
    "badslix.example": "right-secret",        # connected with a wrong secret
    "badnode.example": "right-secret",
    "shard.example": "shard-secret",          # shared: third-party holders
    "watch.example": "watch-secret",          # internal: receives announcements
    "shard1.example": "shard1-secret",        # internal holders of the shared name
    "shard2.example": "shard2-secret",
    "ishard.example": "ishard-secret",        # shared, bound by shard1/shard2
}


def router_config(port):
    """router.xml for this test. Syntax: etc/router.xml."""
    comps = []
    for name, secret in SECRETS.items():
        attrs = "name='%s' secret='%s'" % (name, secret)
        if name in ("shard.example", "ishard.example"):
            attrs += " share='yes'"
        if name in ("watch.example", "shard1.example", "shard2.example"):
            attrs += " internal='yes'"
        body = ""
        if name in ("shard1.example", "shard2.example"):
            body = "<bind name='ishard.example'/>"
        comps.append("  <component %s>%s</component>" % (attrs, body))
    return ("<?xml version='1.0'?>\n<router>\n"
            "  <listen address='127.0.0.1' port='%d'/>\n%s\n</router>\n"
            % (port, "\n".join(comps)))


class Router:
    def __init__(self, tmp, port):
        self.tmp, self.port = tmp, port
        self.conf = os.path.join(tmp, "router.xml")
        self.log = os.path.join(tmp, "router.log")
        with open(self.conf, "w") as f:
            f.write(router_config(port))
        self.proc = None

    def start(self):
        with open(self.log, "ab") as f:
            f.write(b"--- start\n")
        self.proc = spawn([ROUTER, "-c", self.conf], self.log, cwd=self.tmp)
        deadline = time.time() + WAIT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def tail(self):
        return "router log:\n" + tail(self.log)


# --- component helpers: JSON events on stdout, JSON commands on stdin ---

class Helper:
    def __init__(self, name, argv, tmp):
        self.name = name
        self.log = os.path.join(tmp, name + ".log")
        self.events = []
        self.cond = threading.Condition()
        self.proc = spawn(argv, self.log, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw.decode("utf-8"))
            except ValueError:
                ev = {"event": "garbage", "line": raw.decode("utf-8", "replace")}
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.events.append({"event": "exited"})
            self.cond.notify_all()

    def send(self, **cmd):
        try:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except OSError:
            pass

    def mark(self):
        with self.cond:
            return len(self.events)

    def wait(self, pred, timeout=WAIT, since=0):
        """The first event from index 'since' on for which pred is true, or None."""
        deadline = time.time() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return self.events[i]
                    i += 1
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def find(self, pred, since=0):
        with self.cond:
            return [e for e in self.events[since:] if pred(e)]

    def history(self, since=0, n=15):
        with self.cond:
            evs = self.events[since:][-n:]
        lines = ["%s events:" % self.name] + ["  " + json.dumps(e)[:400] for e in evs]
        return "\n".join(lines) + "\n%s stderr:\n%s" % (self.name, tail(self.log, 10))


def slix(tmp, name, jid, secret, port, *extra):
    return Helper(name, [PY, SLIX, "--jid", jid, "--secret", secret, "--port", str(port)]
                  + list(extra), tmp)


def node(tmp, name, jid, secret, port, *extra):
    return Helper(name, ["node", NODE_HELPER, "--jid", jid, "--secret", secret,
                         "--port", str(port)] + list(extra), tmp)


def is_ev(event, **fields):
    return lambda e: e.get("event") == event and all(e.get(k) == v for k, v in fields.items())


def is_stanza(**fields):
    return is_ev("stanza", **fields)


# --- a raw internal link (announcements are not something libraries show) ---

class RawLink:
    def __init__(self, name, secret, port):
        self.name = name
        self.elements = []
        self.closed = False
        self.error = None
        self.cond = threading.Condition()
        self.sock = socket.create_connection(("127.0.0.1", port), WAIT)
        self.sock.settimeout(None)
        self.parser = ET.XMLPullParser(("start", "end"))
        self.header = None
        self.sock.sendall(("<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' "
                           "to='%s'>" % (NS_ACCEPT, NS_STREAMS, name)).encode())
        self.secret = secret
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        depth = 0
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.parser.feed(data)
                for ev, el in self.parser.read_events():
                    if ev == "start":
                        depth += 1
                        if depth == 1:
                            self.header = el
                            sid = el.get("id", "")
                            h = hashlib.sha1((sid + self.secret).encode()).hexdigest()
                            self.sock.sendall(("<handshake>%s</handshake>" % h).encode())
                    else:
                        depth -= 1
                        if depth == 1:
                            with self.cond:
                                self.elements.append(el)
                                self.cond.notify_all()
        except (OSError, ET.ParseError) as e:
            self.error = e
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait(self, pred, timeout=WAIT, since=0):
        deadline = time.time() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.elements):
                    if pred(self.elements[i]):
                        return self.elements[i]
                    i += 1
                left = deadline - time.time()
                if left <= 0 or self.closed:
                    return None
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.elements)

    def history(self, since=0):
        with self.cond:
            els = self.elements[since:]
        return "%s received:\n%s" % (self.name, "\n".join(
            "  " + ET.tostring(e, encoding="unicode")[:300] for e in els[-15:]) or "  nothing")

    def close(self):
        try:
            self.sock.sendall(b"</stream:stream>")
            self.sock.close()
        except OSError:
            pass


def is_announce(event, name):
    return lambda el: (el.tag == "{%s}announce" % NS_ROUTER and el.get("event") == event
                       and el.get("name") == name)


# --- payload comparison: the same element, whatever the prefixes and quotes ---

def canon(x, drop=("echo",)):
    if isinstance(x, str):
        x = ET.fromstring(x)
    return (x.tag, sorted((k, v) for k, v in x.attrib.items() if k not in drop),
            x.text or "", [canon(c, drop) for c in x], x.tail or "")


def same_payload(got, sent):
    try:
        return got is not None and canon(got) == canon(sent)
    except ET.ParseError:
        return False


BIG = "0123456789abcdef" * 1500   # 24 KB: a stanza that takes several reads
PAYLOAD = ("<payload xmlns='%s' echo='yes' n='1'>a &amp; b &lt;c&gt; \"dq\" 'sq' "
           "ünïcødé 😀 <item k='v&amp;w &quot;x&quot; &lt;y&gt;'>text</item>"
           "<other xmlns='urn:other' a='b'/>tail<big>%s</big></payload>" % (NS_TEST, BIG))
PING = "<ping xmlns='%s' seq='7'>ping &amp; 😀<deep><deeper x='1'/></deep></ping>" % NS_TEST


# --- the checks ---

def run(tmp):
    port = free_port()
    router = Router(tmp, port)
    if not ok(router.start(), "router starts and listens on 127.0.0.1:%d" % port, router.tail):
        return

    s = slix(tmp, "slix", "slix.example", SECRETS["slix.example"], port, "--reconnect")
    n = node(tmp, "node", "node.example", SECRETS["node.example"], port) if have_node else None

    # 1. connect and authenticate
    ok(s.wait(is_ev("online")), "1 slixmpp ComponentXMPP connects and authenticates (session_start)",
       lambda: s.history() + "\n" + router.tail())
    if n:
        ok(n.wait(is_ev("online")), "1 @xmpp/component connects and authenticates ('online')",
           lambda: n.history() + "\n" + router.tail())
    else:
        skip("1 @xmpp/component connects and authenticates", NO_NODE)

    watch = RawLink("watch.example", SECRETS["watch.example"], port)
    ok(watch.wait(lambda el: el.tag == "{%s}handshake" % NS_ACCEPT) is not None,
       "7 internal raw link watch.example authenticates", lambda: watch.history() + "\n" + router.tail())
    ok(watch.wait(is_announce("bound", "slix.example")) is not None,
       "7 internal link is told on arrival that slix.example is bound", watch.history)
    if n:
        ok(watch.wait(is_announce("bound", "node.example")) is not None,
           "7 internal link is told on arrival that node.example is bound", watch.history)

    # 2. message and IQ between the two libraries, both ways
    if n:
        check_exchange(s, n, "slixmpp", "@xmpp/component", "slix.example", "node.example", "s2n")
        check_exchange(n, s, "@xmpp/component", "slixmpp", "node.example", "slix.example", "n2s")
    else:
        skip("2 message and IQ between slixmpp and @xmpp/component", NO_NODE)

    # 3. no route
    check_no_route(s, "slixmpp", "slix.example")
    if n:
        check_no_route(n, "@xmpp/component", "node.example")
    else:
        skip("3 @xmpp/component: no route", NO_NODE)

    # 4. refused handshakes
    bad_s = slix(tmp, "badslix", "badslix.example", "wrong-secret", port)
    bad_n = node(tmp, "badnode", "badnode.example", "wrong-secret", port, "--no-reconnect") if n else None
    unknown = slix(tmp, "unknown", "unknown.example", "whatever", port)
    dup = slix(tmp, "dup", "slix.example", SECRETS["slix.example"], port)
    e = bad_s.wait(is_ev("stream_error"))
    ok(e and e.get("condition") == "not-authorized",
       "4 slixmpp with a bad secret gets the stream error not-authorized", lambda: bad_s.history())
    ok(bad_s.wait(is_ev("disconnected")) and not bad_s.find(is_ev("online")),
       "4 ... and is disconnected without a session", lambda: bad_s.history())
    if bad_n:
        e = bad_n.wait(lambda e: e.get("event") == "error" and e.get("condition"))
        ok(e and e.get("condition") == "not-authorized",
           "4 @xmpp/component with a bad secret emits an error not-authorized", lambda: bad_n.history())
        ok(bad_n.wait(is_ev("disconnected")) and not bad_n.find(is_ev("online")),
           "4 ... and is disconnected without going online", lambda: bad_n.history())
    else:
        skip("4 @xmpp/component with a bad secret is refused", NO_NODE)
    e = unknown.wait(is_ev("stream_error"))
    ok(e and e.get("condition") == "host-unknown",
       "4 a name nobody configured gets host-unknown", lambda: unknown.history())
    e = dup.wait(lambda e: e.get("event") in ("stream_error", "online"))
    ok(e and e.get("condition") == "conflict",
       "4 a second holder of a plain (unshared) name gets conflict", lambda: dup.history())
    ok(s.wait(is_ev("disconnected"), timeout=0.3) is None,
       "4 ... and the first holder keeps its link", lambda: s.history())

    # 5. spoofing
    check_spoof(s, n, "slixmpp", "slix.example")
    if n:
        check_spoof(n, s, "@xmpp/component", "node.example")
    else:
        skip("5 @xmpp/component: spoofed 'from'", NO_NODE)

    # 6. shared names
    check_share_thirdparty(tmp, port, s, watch, router)
    check_share_internal(tmp, port, s, watch, router)

    # 7. a component going and coming back is announced to internal links
    m = watch.mark()
    s.send(cmd="disconnect")
    ok(watch.wait(is_announce("unbound", "slix.example"), since=m) is not None,
       "7 slixmpp disconnects: the internal link gets <announce event='unbound' name='slix.example'/>",
       lambda: watch.history(m) + "\n" + router.tail())
    el = watch.wait(is_announce("unbound", "slix.example"), timeout=0, since=m)
    ok(el is not None and el.get("link") == "slix.example", "7 ... with link='slix.example'",
       lambda: watch.history(m))
    m2 = watch.mark()
    ms = s.mark()
    s.send(cmd="connect")
    ok(s.wait(is_ev("online"), since=ms), "7 slixmpp connects again", lambda: s.history(ms))
    ok(watch.wait(is_announce("bound", "slix.example"), since=m2) is not None,
       "7 ... and the internal link gets <announce event='bound' name='slix.example'/>",
       lambda: watch.history(m2) + "\n" + router.tail())

    # 8. the router restarts under connected components: stopped, then crashed
    ok(router.proc.poll() is None, "router still running after checks 1-7", router.tail)
    for sig, how in ((signal.SIGTERM, "stopped (SIGTERM)"), (signal.SIGKILL, "killed (SIGKILL)")):
        ms = s.mark()
        mn = n.mark() if n else 0
        rc = router.stop(sig)
        ok(rc == (0 if sig == signal.SIGTERM else -sig), "router %s exits with %s" % (how, rc),
           router.tail)
        if sig == signal.SIGTERM:
            e = s.wait(is_ev("stream_error"), since=ms, timeout=1)
            ok(e and e.get("condition") == "system-shutdown",
               "8 router stopped: slixmpp gets the stream error system-shutdown", lambda: s.history(ms))
        if not ok(router.start(), "router %s starts again on the same port" % how, router.tail):
            return
        ok(s.wait(is_ev("online"), since=ms, timeout=10),
           "8 router %s and restarted: slixmpp (reconnect on) rejoins" % how,
           lambda: s.history(ms) + "\n" + router.tail())
        if n:
            ok(n.wait(is_ev("online"), since=mn, timeout=10),
               "8 router %s and restarted: @xmpp/component rejoins by itself" % how,
               lambda: n.history(mn) + "\n" + router.tail())
            check_message(s, n, "slix.example", "node.example", "restart-%d" % sig,
                          "8 router %s and restarted: slixmpp -> @xmpp/component" % how)
            check_message(n, s, "node.example", "slix.example", "restart-n-%d" % sig,
                          "8 router %s and restarted: @xmpp/component -> slixmpp" % how)
        else:
            skip("8 router %s and restarted: @xmpp/component rejoins" % how, NO_NODE)
    ok(router.proc.poll() is None, "router still running at the end", router.tail)
    for h in (s, n):
        if h:
            h.send(cmd="quit")
    rc = router.stop()
    with open(router.log, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    ok(rc == 0 and not re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", log),
       "router stops cleanly at the end (exit %s, no sanitizer report)" % rc, router.tail)


def check_message(a, b, a_jid, b_jid, mid, name):
    ma, mb = a.mark(), b.mark()
    a.send(cmd="message", to="user@%s/res" % b_jid, **{"from": "bot@%s/x" % a_jid},
           type="chat", body="hello " + mid, payload=PAYLOAD, id=mid)
    got = b.wait(is_stanza(kind="message", id=mid), since=mb)
    ok(got and got.get("from") == "bot@%s/x" % a_jid and got.get("to") == "user@%s/res" % b_jid
       and got.get("body") == "hello " + mid and same_payload(got.get("payload"), PAYLOAD),
       name + ": delivered with from, to, body and payload intact",
       lambda: b.history(mb) + "\n" + a.history(ma))
    echo = a.wait(is_stanza(kind="message", id=mid + "-echo"), since=ma)
    ok(echo and echo.get("from") == "user@%s/res" % b_jid and echo.get("to") == "bot@%s/x" % a_jid
       and echo.get("type") == "chat" and same_payload(echo.get("payload"), PAYLOAD),
       name + ": the echo comes back with the payload intact", lambda: a.history(ma) + "\n" + b.history(mb))


def check_exchange(a, b, a_lib, b_lib, a_jid, b_jid, tag):
    check_message(a, b, a_jid, b_jid, "msg-" + tag, "2 %s -> %s message" % (a_lib, b_lib))
    mb = b.mark()
    a.send(cmd="presence", to="user@%s" % b_jid, **{"from": "bot@%s/x" % a_jid},
           payload=PING, id="pres-" + tag)
    got = b.wait(is_stanza(kind="presence", id="pres-" + tag), since=mb)
    ok(got and got.get("from") == "bot@%s/x" % a_jid and same_payload(got.get("payload"), PING),
       "2 %s -> %s presence delivered with its payload" % (a_lib, b_lib), lambda: b.history(mb))
    ma, mb = a.mark(), b.mark()
    a.send(cmd="iq", to=b_jid, payload=PING, tag="iq-" + tag)
    got = b.wait(is_stanza(kind="iq", type="get"), since=mb)
    ok(got and got.get("from") == a_jid and same_payload(got.get("payload"), PING),
       "2 %s -> %s IQ get delivered with its payload" % (a_lib, b_lib), lambda: b.history(mb))
    res = a.wait(lambda e: e.get("tag") == "iq-" + tag, since=ma)
    ok(res and res.get("event") == "iq_result" and res.get("from") == b_jid
       and same_payload(res.get("payload"), PING),
       "2 %s -> %s IQ result comes back with the payload" % (a_lib, b_lib),
       lambda: a.history(ma) + "\n" + b.history(mb))


def check_no_route(a, lib, a_jid):
    m = a.mark()
    a.send(cmd="message", to="someone@nowhere.example", body="lost", id="nr-" + a_jid, type="chat")
    e = a.wait(is_stanza(kind="message", id="nr-" + a_jid), since=m)
    ok(e and e.get("type") == "error" and e.get("error") == "remote-server-not-found"
       and e.get("from") == "someone@nowhere.example" and e.get("to") == a_jid,
       "3 %s: message to an unrouted domain bounces with remote-server-not-found" % lib,
       lambda: a.history(m))
    a.send(cmd="message", to="someone@offline.example", body="lost", id="su-" + a_jid)
    e = a.wait(is_stanza(kind="message", id="su-" + a_jid), since=m)
    ok(e and e.get("type") == "error" and e.get("error") == "service-unavailable",
       "3 %s: message to a configured name nobody holds bounces with service-unavailable" % lib,
       lambda: a.history(m))
    # An error is never answered with an error: the bounce of a later message shows
    # that an answer to the first would have come by now.
    a.send(cmd="message", to="someone@nowhere.example", type="error", id="err-" + a_jid)
    a.send(cmd="message", to="someone@nowhere.example", id="after-err-" + a_jid)
    e = a.wait(is_stanza(kind="message", id="after-err-" + a_jid), since=m)
    ok(e and not a.find(is_stanza(id="err-" + a_jid), since=m),
       "3 %s: an error stanza to an unrouted domain is dropped, not answered" % lib,
       lambda: a.history(m))
    a.send(cmd="iq", to="nowhere.example", payload=PING, tag="nr-iq-" + a_jid, timeout=WAIT)
    e = a.wait(lambda e: e.get("tag") == "nr-iq-" + a_jid, since=m, timeout=WAIT + 1)
    ok(e and e.get("event") == "iq_error" and e.get("error") == "remote-server-not-found",
       "3 %s: IQ to an unrouted domain gets an error result remote-server-not-found" % lib,
       lambda: a.history(m))


def check_spoof(a, b, lib, a_jid):
    ma = a.mark()
    mb = b.mark() if b else 0
    other = "node.example" if a_jid == "slix.example" else "slix.example"
    spoofs = [("spoof-%s-1" % lib, "mallory@%s" % other),        # somebody else's name
              ("spoof-%s-2" % lib, "mallory@sub.%s" % a_jid),      # a subdomain of ours
              ("spoof-%s-3" % lib, "mallory@x%s" % a_jid)]         # a suffix of ours
    for sid, frm in spoofs:
        a.send(cmd="raw", xml="<message from='%s' to='victim@%s' id='%s'><body>spoofed</body></message>"
               % (frm, other, sid))
    a.send(cmd="raw", xml="<message to='victim@%s' id='nofrom-%s'><body>no from</body></message>"
           % (other, lib))
    for sid, frm in spoofs:
        e = a.wait(is_stanza(kind="message", id=sid), since=ma)
        ok(e and e.get("type") == "error" and e.get("error") == "not-allowed",
           "5 %s sending from '%s' gets not-allowed" % (lib, frm), lambda: a.history(ma))
    e = a.wait(is_stanza(kind="message", id="nofrom-" + lib), since=ma)
    ok(e and e.get("type") == "error" and e.get("error") == "bad-request",
       "5 %s sending without 'from' gets bad-request" % lib, lambda: a.history(ma))
    if b:
        # The router keeps a link's order: once a later stanza has arrived, the spoofed
        # ones would have arrived before it.
        a.send(cmd="message", to="victim@%s" % other, **{"from": a_jid}, body="legit", id="legit-" + lib)
        got = b.wait(is_stanza(kind="message", id="legit-" + lib), since=mb)
        leaked = b.find(lambda e: str(e.get("id", "")).startswith(("spoof-", "nofrom-")), since=mb)
        ok(got and not leaked, "5 ... and none of them reached %s" % other,
           lambda: b.history(mb))


def shard_traffic(sender, holders, to_domain, tag, rounds=3, users=40):
    """Send rounds x users messages to user-N@to_domain/r-K (one round after the other);
    once all have landed or the wait ran out, return ({bare JID: [holder names in order of
    arrival]}, {bare JID: [K in order of arrival]}, count received, count sent)."""
    marks = {h.name: h.mark() for h in holders}
    for k in range(rounds):
        for i in range(users):
            sender.send(cmd="message", to="user-%d@%s/r-%d" % (i, to_domain, k),
                        body="shard", id="%s-%d-%d" % (tag, i, k))
    want = rounds * users

    def got():
        return {h.name: h.find(lambda e: e.get("kind") == "message" and
                               str(e.get("id", "")).startswith(tag + "-"), since=marks[h.name])
                for h in holders}
    deadline = time.time() + WAIT
    while time.time() < deadline and sum(len(v) for v in got().values()) < want:
        time.sleep(0.05)
    where, order = {}, {}
    for name, evs in got().items():
        for e in evs:
            bare = e["to"].split("/")[0]
            where.setdefault(bare, set()).add(name)
            order.setdefault(bare, []).append(int(e["id"].rsplit("-", 1)[1]))
    return where, order, sum(len(v) for v in got().values()), want


def check_shard_spread(traffic, label, holders):
    where, order, count, want = traffic
    ok(count == want, "6 %s: all %d messages delivered (got %d)" % (label, want, count),
       lambda: "\n".join(h.history(n=5) for h in holders))
    split = [j for j, hs in where.items() if len(hs) > 1]
    ok(count > 0 and not split, "6 %s: every bare JID always lands on the same holder" % label,
       "split JIDs: %s" % split[:10])
    used = set().union(*where.values()) if where else set()
    ok(len(used) == len(holders), "6 %s: both holders get some users (%s)" % (
        label, ", ".join("%s=%d" % (h.name, sum(1 for v in where.values() if h.name in v))
                         for h in holders)))
    disorder = [j for j, ks in order.items() if ks != sorted(ks)]
    ok(count > 0 and not disorder, "6 %s: each JID's messages arrive in the order sent" % label,
       "out of order: %s" % {j: order[j] for j in disorder[:5]})
    return {j: next(iter(hs)) for j, hs in where.items() if len(hs) == 1}


def check_shard_rejoin(tmp, port, sender, watch, name, a, b, start_b, label, link):
    """b leaves: a gets every user; b comes back (start_b()): every user is where it was."""
    before = check_shard_spread(shard_traffic(sender, [a, b], name, label + "-1"), label, [a, b])
    m = watch.mark()
    b.send(cmd="quit")
    ok(watch.wait(lambda el: is_announce("unbound", name)(el) and el.get("link") == link,
                  since=m) is not None,
       "6 %s: the internal link is told that one holder of %s left" % (label, name),
       lambda: watch.history(m))
    _, _, count, want = shard_traffic(sender, [a], name, label + "-2", rounds=1)
    ok(count == want, "6 %s: one holder gone, the other gets every user (%d of %d)"
       % (label, count, want), lambda: a.history(n=5))
    b2 = start_b()
    if not ok(b2 is not None, "6 %s: the holder comes back" % label, lambda: b.history()):
        return
    where, _, count, want = shard_traffic(sender, [a, b2], name, label + "-3", rounds=1)
    moved = [j for j, h in before.items() if where.get(j) != {a.name if h == a.name else b2.name}]
    ok(count == want and not moved,
       "6 %s: the holder back, every user lands where it did before (rendezvous)" % label,
       "moved: %s" % moved[:10])
    a.send(cmd="quit")
    b2.send(cmd="quit")


def check_share_thirdparty(tmp, port, sender, watch, router):
    """Third-party sharing: two plain slixmpp components connect with to='shard.example'."""
    def start(name):
        h = slix(tmp, name, "shard.example", SECRETS["shard.example"], port)
        e = h.wait(lambda e: e.get("event") in ("online", "stream_error", "exited"))
        return h if e and e["event"] == "online" else None
    a, b = start("shardA"), start("shardB")
    if not ok(a and b, "6 two plain components connect to the shared name shard.example",
              router.tail):
        return
    check_shard_rejoin(tmp, port, sender, watch, "shard.example", a, b,
                       lambda: start("shardB2"), "shard.example held by two plain components",
                       "shard.example")


def check_share_internal(tmp, port, sender, watch, router):
    """The internal style: shard1/shard2 connect under their own names and bind ishard.example."""
    def start(name, jid):
        h = slix(tmp, name, jid, SECRETS[jid], port, "--bind", "ishard.example")
        e = h.wait(lambda e: e.get("kind") in ("bound", "bind-error") or
                   e.get("event") in ("stream_error", "exited"))
        return h if e and e.get("kind") == "bound" and e.get("name") == "ishard.example" else None
    a, b = start("shard1", "shard1.example"), start("shard2", "shard2.example")
    if not ok(a and b, "6 two internal links bind the shared name ishard.example", router.tail):
        return
    check_shard_rejoin(tmp, port, sender, watch, "ishard.example", a, b,
                       lambda: start("shard2b", "shard2.example"),
                       "ishard.example bound by two internal links", "shard2.example")


def main():
    timer = threading.Timer(WATCHDOG, watchdog)
    timer.daemon = True
    timer.start()
    tmp = tempfile.mkdtemp(prefix="sb-router-components-")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        if not have_node:
            diag("Node checks skipped: " + NO_NODE)
        run(tmp)
    except Exception:
        ok(False, "no exception in the test", traceback.format_exc())
    finally:
        kill_all()
        timer.cancel()
    if nfailed:
        diag("logs kept in " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    out("1..%d" % ntests)
    return 1 if nfailed else 0


if __name__ == "__main__":
    sys.exit(main())
