#!/usr/bin/python3
# router-basic.t: the router protocol over raw sockets.
#
# Starts $SB_BUILD/sb-router on a free port with its own router.xml in a
# temporary directory and drives it with hand-written XML: the handshake and
# its stream errors, routing and its error replies, anti-spoofing,
# envelopes, the default route, bind/unbind commands and announcements,
# rendezvous hashing over shared names, limits (stanza size, a link that
# does not read), SIGHUP reload, SIGUSR1 counters and SIGTERM shutdown.
#
# Standard library only; every read has a timeout, a watchdog ends the
# whole test, and the router is killed at the end whatever happens.
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SRC = os.environ.get("SB_SRC") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("SB_BUILD") or os.path.join(SRC, "build")
ROUTER = os.path.join(BUILD, "sb-router")
WATCHDOG = 60
WAIT = 3.0
SECRET_A = "secret-a-from-env"

NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"

# --- TAP ---

ntests = 0
nfailed = 0


def ok(cond, desc, diag=None):
    global ntests, nfailed
    ntests += 1
    if not cond:
        nfailed += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", ntests, desc), flush=True)
    if not cond and diag:
        for line in str(diag).splitlines():
            print("# " + line, flush=True)
    return cond


def check(desc, fn):
    """Run one check; an exception is a failure with its traceback."""
    try:
        r = fn()
        return ok(r is None or bool(r), desc, None if r is None or r else "returned %r" % (r,))
    except Exception:
        return ok(False, desc, traceback.format_exc())


# --- the router ---

CONFIG = """<?xml version='1.0'?>
<router>
  <log level='debug'/>
  <listen address='127.0.0.1' port='%(port)d'/>
  <limits>
    <stanza-size>16k</stanza-size>
    <write-buffer>64k</write-buffer>
    <stuck-timeout>1500ms</stuck-timeout>
    <handshake-timeout>500ms</handshake-timeout>
  </limits>
  <status file='%(status)s' interval='200ms'/>
  <component name='A.Test' secret='${SB_TEST_SECRET}'/>
  <component name='b.test' secret='secret-b'/>
  <component name='gone.test' secret='secret-gone'/>
  <component name='slow.test' secret='secret-slow'/>
  <component name='shared.test' secret='secret-shared' share='yes'/>
  <component name='sm1' secret='secret-sm' internal='yes'>
    <bind name='LocalHost' share='yes'/>
    <bind name='extra.test'/>
  </component>
  <component name='sm2' secret='secret-sm' internal='yes'>
    <bind name='localhost' share='yes'/>
    <bind name='extra.test'/>
  </component>
  <component name='sm3' secret='secret-sm' internal='yes'>
    <bind name='localhost' share='yes'/>
  </component>
  <component name='c2s1' secret='secret-c2s' internal='yes'/>
  <component name='s2s1' secret='secret-s2s' internal='yes' default-route='yes'/>
%(extra)s</router>
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Router:
    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.conf = os.path.join(tmp, "router.xml")
        self.status = os.path.join(tmp, "router.status")
        self.logpath = os.path.join(tmp, "router.log")
        self.write_config("")
        env = dict(os.environ, SB_TEST_SECRET=SECRET_A)
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen([ROUTER, "-f", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + WAIT
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("router did not start:\n" + self.logtext())

    def write_config(self, extra):
        with open(self.conf + ".tmp", "w") as f:
            f.write(CONFIG % {"port": self.port, "extra": extra, "status": self.status})
        os.rename(self.conf + ".tmp", self.conf)

    def logtext(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=WAIT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.logtext()):
                return True
            time.sleep(0.05)
        return False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --- links ---

class Closed(Exception):
    pass


class Link:
    """One raw component connection with a receive buffer."""

    def __init__(self, port, name, secret=None, rcvbuf=None):
        self.name = name
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(WAIT)
        self.s.connect(("127.0.0.1", port))
        self.buf = b""
        self.eof = False
        self.id = None
        if name is not None:
            self.open(name)
            if secret is not None:
                self.handshake(secret)

    def open(self, name, ns="jabber:component:accept"):
        self.send("<?xml version='1.0'?><stream:stream xmlns='%s' "
                  "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>" % (ns, name))

    def header(self):
        m = self.expect(rb"<stream:stream[^>]*>")
        idm = re.search(rb"id='([^']*)'", m.group(0))
        self.id = idm.group(1).decode() if idm else None
        return m.group(0)

    def handshake(self, secret, expect_ok=True):
        self.header()
        digest = hashlib.sha1((self.id + secret).encode()).hexdigest()
        self.send("<handshake>%s</handshake>" % digest)
        if expect_ok:
            self.expect(rb"<handshake/>")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def fill(self, timeout):
        """Read what arrives within timeout; False when nothing did."""
        if self.eof:
            return False
        r, _, _ = select.select([self.s], [], [], max(timeout, 0))
        if not r:
            return False
        try:
            d = self.s.recv(1 << 16)
        except (ConnectionResetError, socket.timeout):
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def expect(self, pattern, timeout=WAIT):
        """Wait for pattern; consume through it. Returns the match."""
        deadline = time.time() + timeout
        while True:
            m = re.search(pattern, self.buf, re.S)
            if m:
                self.skipped = self.buf[:m.start()]
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.time()
            if left <= 0 or self.eof:
                raise AssertionError("%s: waited for %r, have %r%s" % (
                    self.name, pattern, self.buf[-400:], " (EOF)" if self.eof else ""))
            self.fill(left)

    def expect_next(self, pattern, timeout=WAIT):
        """Like expect, and nothing but white space came before it."""
        m = self.expect(pattern, timeout)
        if self.skipped.strip():
            raise AssertionError("%s: before %r came %r" % (self.name, pattern, self.skipped))
        return m

    def stream_error(self, timeout=WAIT):
        """The condition of the stream error that ends the stream, after which EOF."""
        m = self.expect(rb"<stream:error><([a-z-]+) xmlns='" + NS_STREAM_ERR.encode() +
                        rb"'/>.*?</stream:error></stream:stream>", timeout)
        self.wait_eof(timeout)
        return m.group(1).decode()

    def wait_eof(self, timeout=WAIT):
        deadline = time.time() + timeout
        while not self.eof and time.time() < deadline:
            self.fill(deadline - time.time())
        if not self.eof:
            raise AssertionError("%s: no EOF" % self.name)
        return True

    def drain(self, wait=0.1):
        """Forget what arrived so far."""
        while self.fill(wait):
            pass
        self.buf = b""

    def quiet(self, wait=0.2):
        """Nothing arrives for a while."""
        self.fill(wait)
        return self.buf.strip() == b""

    def ping(self, from_, strict=True):
        """
        A message to ourselves: everything sent before it has been handled.
        strict: nothing else may arrive before it. Returns what came before.
        """
        tag = "ping%d" % time.time_ns()
        self.send("<message from='%s' to='%s' id='%s'/>" % (from_, from_, tag))
        pattern = ("<message [^>]*id='%s'/>" % tag).encode()
        (self.expect_next if strict else self.expect)(pattern)
        return self.skipped

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def stanza_error(link, cond, timeout=WAIT):
    m = link.expect(rb"<(message|iq|presence)[^>]* type='error'[^>]*>.*?</\1>", timeout)
    got = re.search(rb"<([a-z-]+) xmlns='" + NS_STANZA_ERR.encode() + rb"'/>", m.group(0))
    if not got or got.group(1).decode() != cond:
        raise AssertionError("wanted %s, got %r" % (cond, m.group(0)))
    return m.group(0)


# --- the checks ---

def main():
    tmp = tempfile.mkdtemp(prefix="sb-router-basic-")
    router = None
    links = []
    try:
        router = Router(tmp)
        ok(True, "router starts with a router.xml using ${VAR}")
        port = router.port

        def L(*a, **kw):
            link = Link(port, *a, **kw)
            links.append(link)
            return link

        # --- handshake ---
        a = b = None

        def handshake_ok():
            nonlocal a
            a = L("a.test", SECRET_A)
        check("handshake with the right secret (name compared in canonical form)", handshake_ok)

        def handshake_ok_b():
            nonlocal b
            b = L("B.TEST", "secret-b")
        check("second component up", handshake_ok_b)

        check("wrong secret: <not-authorized/>",
              lambda: (lambda l: (l.handshake("nope", expect_ok=False), l.stream_error())[1])
              (L("gone.test")) == "not-authorized")
        check("unknown name: <host-unknown/>",
              lambda: L("nobody.test").stream_error() == "host-unknown")
        check("name already held and not shared: <conflict/>",
              lambda: (lambda l: (l.handshake("secret-b", expect_ok=False), l.stream_error())[1])
              (L("b.test")) == "conflict")

        shared = []

        def shared_twice():
            shared.append(L("shared.test", "secret-shared"))
            shared.append(L("shared.test", "secret-shared"))
        check("a shared name held by two links", shared_twice)

        def silent():
            l = L("gone.test")
            l.header()
            t0 = time.time()
            cond = l.stream_error(timeout=3)
            return cond == "connection-timeout" and time.time() - t0 < 2.5
        check("no handshake within the timeout: <connection-timeout/>", silent)

        def before_handshake():
            l = L("gone.test")
            l.header()
            l.send("<message from='gone.test' to='b.test'/>")
            return l.stream_error() == "not-authorized"
        check("a stanza before the handshake: <not-authorized/>", before_handshake)

        def bad_ns():
            l = L(None)
            l.name = "bad-ns"
            l.open("gone.test", ns="jabber:client")
            return l.stream_error() == "invalid-namespace"
        check("stream in jabber:client: <invalid-namespace/>", bad_ns)

        def odd_handshake():
            l = L("gone.test")
            l.header()
            digest = hashlib.sha1((l.id + "secret-gone").encode()).hexdigest().upper()
            l.send("<handshake xmlns='jabber:component:accept' x='a>/'>\n %s </handshake>" % digest)
            l.expect_next(rb"<handshake/>")
            l.send("</stream:stream>")
            l.expect(rb"</stream:stream>")
            l.wait_eof()
        check("handshake: upper-case hex, white space and a '>' in an attribute are fine", odd_handshake)

        def second_handshake():
            l = L("gone.test", "secret-gone")
            l.send("<handshake>%s</handshake>" % ("0" * 40))
            return l.stream_error() == "not-authorized"
        check("a second handshake ends the stream", second_handshake)

        # --- routing ---
        def byte_for_byte():
            msg = ("<message from=\"alice@a.test/r\"  to='bob@b.test/x' id='m1' type='chat'>"
                   "<body xml:lang='en'>caf\u00e9 &amp; &lt;tea&gt; &#x263A;</body>"
                   "<x xmlns='urn:example' a=\"1\"><![CDATA[<raw>]]></x></message>")
            a.send(msg)
            b.expect_next(re.escape(msg.encode()))
        check("message A->B delivered byte for byte", byte_for_byte)

        def prefixed_header():
            l = L(None)
            l.name = "prefixed"
            l.send("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' "
                   "xmlns:ex='urn:example:prefix' to='gone.test'>")
            l.handshake("secret-gone")
            l.send("<message from='gone.test' to='bob@b.test' id='px'><ex:x ex:a='1'/></message>")
            m = b.expect_next(rb"<message from='gone.test' to='bob@b.test' id='px'>(.*?)</message>")
            l.send("</stream:stream>")
            l.expect(rb"</stream:stream>")
            l.wait_eof()
            return re.fullmatch(rb"<x xmlns='urn:example:prefix' [a-z0-9]+:a='1' xmlns:[a-z0-9]+='urn:example:prefix'/>|"
                                rb"<x xmlns='urn:example:prefix' xmlns:([a-z0-9]+)='urn:example:prefix' \1:a='1'/>",
                                m.group(1)), m.group(1)
        check("a header declaring prefixes: stanzas written out whole; </stream:stream> answered",
              lambda: prefixed_header()[0])

        def same_name_instances():
            for i in range(100):
                a.send("<message from='a.test' to='u%d@shared.test/r%d' id='i%d'/>" % (i % 50, i, i))
            where = {}
            got = 0
            deadline = time.time() + WAIT
            while got < 100 and time.time() < deadline:
                for k, h in enumerate(shared):
                    h.fill(0.02)
                    for m in re.finditer(rb"to='u(\d+)@shared.test/r\d+' id='i\d+'/>", h.buf):
                        where.setdefault(m.group(1), set()).add(k)
                        got += 1
                    h.buf = b""
            per = [sum(1 for v in where.values() if k in v) for k in range(2)]
            return (got == 100 and all(len(v) == 1 for v in where.values()) and min(per) > 0,
                    (got, per))
        check("two links of one shared name each get their own users",
              lambda: same_name_instances()[0])

        def remote_not_found():
            a.send("<message from='alice@a.test' to='x@unknown.example' id='u1'><body>x</body></message>")
            e = stanza_error(a, "remote-server-not-found")
            return b"to='alice@a.test'" in e and b"from='x@unknown.example'" in e and b"id='u1'" in e
        check("unknown domain, no default route: remote-server-not-found reply", remote_not_found)

        check("configured name nobody holds: service-unavailable",
              lambda: (a.send("<iq type='get' id='g1' from='a.test' to='gone.test'><q xmlns='urn:x'/></iq>"),
                       stanza_error(a, "service-unavailable"))[1] is not None)

        def spoofed():
            a.send("<message from='mallory@b.test' to='bob@b.test'><body>spoof</body></message>")
            stanza_error(a, "not-allowed")
            return b.quiet() and router.wait_log(r"link a\.test .*mallory@b\.test")
        check("spoofed 'from': not-allowed reply, not delivered, logged", spoofed)

        check("no 'from': bad-request",
              lambda: (a.send("<message to='bob@b.test'/>"), stanza_error(a, "bad-request"))[1] is not None)

        check("malformed 'to': jid-malformed",
              lambda: (a.send("<message from='a.test' to='a@b@c'/>"),
                       stanza_error(a, "jid-malformed"))[1] is not None)

        def error_not_bounced():
            a.send("<message from='alice@a.test' to='x@unknown.example' type='error'><error type='cancel'/></message>")
            a.send("<message from='mallory@b.test' to='x@b.test' type='error'/>")
            a.ping("a.test")
        check("error stanzas are never answered with errors", error_not_bounced)

        def unsupported():
            l = L("gone.test", "secret-gone")
            l.send("<foo xmlns='urn:nope'/>")
            return l.stream_error() == "unsupported-stanza-type"
        check("unknown top-level element: <unsupported-stanza-type/>", unsupported)

        def plain_envelope():
            l = L("gone.test", "secret-gone")
            l.send("<route xmlns='urn:switchboard:route:0' from='gone.test' to='b.test'>"
                   "<message xmlns='jabber:component:accept' from='gone.test' to='b.test'/></route>")
            return l.stream_error() == "unsupported-stanza-type" and b.quiet()
        check("an envelope from a plain component is refused", plain_envelope)

        def oversized():
            l = L("gone.test", "secret-gone")
            l.send("<message from='gone.test' to='b.test'><body>%s</body></message>" % ("x" * 20000))
            return l.stream_error() == "policy-violation" and b.quiet()
        check("a stanza over stanza-size: <policy-violation/>", oversized)

        # --- internal links, announcements, commands ---
        sm1 = sm2 = sm3 = c2s = s2s = None

        def internal_up():
            nonlocal sm1, c2s
            c2s = L("c2s1", "secret-c2s")
            sm1 = L("sm1", "secret-sm")
            c2s.expect(rb"<announce xmlns='urn:switchboard:component:0' event='bound' name='sm1' link='sm1'/>")
        check("internal link up; the others are told", internal_up)

        def snapshot():
            # sm1 came after c2s1: its first lines announce what is held, itself not included.
            held = sm1.ping("sm1", strict=False)
            names = set(re.findall(rb"event='bound' name='([^']+)' link='([^']+)'", held))
            return ((b"c2s1", b"c2s1") in names and (b"a.test", b"a.test") in names
                    and (b"shared.test", b"shared.test") in names
                    and not any(x[1] == b"sm1" for x in names)), names
        check("a new internal link gets the names already held", lambda: snapshot()[0])

        def bind_ok():
            sm1.send("<bind xmlns='urn:switchboard:component:0' name='LOCALHOST' id='b1'/>")
            sm1.expect_next(rb"<bound xmlns='urn:switchboard:component:0' name='localhost' id='b1'/>")
            c2s.expect_next(rb"<announce [^>]*event='bound' name='localhost' link='sm1'/>")
        check("bind a listed name: <bound/>, announced", bind_ok)

        def bind_denied():
            sm1.send("<bind xmlns='urn:switchboard:component:0' name='b.test' id='b2'/>")
            sm1.expect_next(rb"<bind-error xmlns='urn:switchboard:component:0' name='b.test' id='b2' condition='not-allowed'/>")
            sm1.send("<bind xmlns='urn:switchboard:component:0' id='b3'/>")
            sm1.expect_next(rb"<bind-error [^>]*id='b3' condition='bad-request'/>")
            sm1.send("<bind xmlns='urn:switchboard:component:0' default='yes' id='b4'/>")
            sm1.expect_next(rb"<bind-error [^>]*default='yes' id='b4' condition='not-allowed'/>")
            return c2s.quiet()
        check("bind errors: not listed, no name, default not allowed", bind_denied)

        def bind_conflict():
            nonlocal sm2
            sm1.send("<bind xmlns='urn:switchboard:component:0' name='extra.test' id='e1'/>")
            sm1.expect(rb"<bound [^>]*name='extra.test' id='e1'/>")
            sm2 = L("sm2", "secret-sm")
            sm2.send("<bind xmlns='urn:switchboard:component:0' name='extra.test' id='e2'/>")
            sm2.expect(rb"<bind-error [^>]*name='extra.test' id='e2' condition='conflict'/>")
        check("bind an unshared name held by another: conflict", bind_conflict)

        def plain_bind():
            a.send("<bind xmlns='urn:switchboard:component:0' name='extra.test' id='p1'/>")
            a.expect_next(rb"<bind-error [^>]*id='p1' condition='not-allowed'/>")
        check("a plain component cannot bind", plain_bind)

        def unbind():
            c2s.drain()
            sm1.ping("sm1", strict=False)
            sm1.send("<unbind xmlns='urn:switchboard:component:0' name='extra.test' id='u1'/>")
            sm1.expect_next(rb"<unbound xmlns='urn:switchboard:component:0' name='extra.test' id='u1'/>")
            c2s.expect_next(rb"<announce [^>]*event='unbound' name='extra.test' link='sm1'/>")
            sm1.send("<unbind xmlns='urn:switchboard:component:0' name='extra.test' id='u2'/>")
            sm1.expect_next(rb"<bind-error [^>]*name='extra.test' id='u2' condition='bad-request'/>")
            sm1.send("<unbind xmlns='urn:switchboard:component:0' name='sm1' id='u3'/>")
            sm1.expect_next(rb"<bind-error [^>]*name='sm1' id='u3' condition='not-allowed'/>")
        check("unbind: <unbound/>, announced; unbinding what is not held or the own name fails", unbind)

        # --- envelopes ---
        def envelope_internal():
            env = ("<route xmlns='urn:switchboard:route:0' from='sm1' to='c2s1'>"
                   "<message xmlns='jabber:component:accept' from='u@localhost' to='v@localhost/r'>"
                   "<body>in an envelope</body></message></route>")
            sm1.send(env)
            c2s.expect_next(re.escape(env.encode()))
        check("envelope internal -> internal arrives as the envelope", envelope_internal)

        def envelope_plain():
            inner = ("<message xmlns='jabber:component:accept' from='u@localhost' to='bob@b.test'>"
                     "<body>unwrapped</body></message>")
            sm1.send("<route xmlns='urn:switchboard:route:0' from='u@localhost' to='bob@b.test'>%s</route>" % inner)
            m = b.expect_next(rb"<message [^>]*>.*?</message>")
            return m.group(0) == inner.encode(), m.group(0)
        check("envelope internal -> plain arrives unwrapped", lambda: envelope_plain()[0])

        def envelope_error():
            sm1.send("<route xmlns='urn:switchboard:route:0' from='sm1' to='nobody@nowhere.example'>"
                     "<iq xmlns='jabber:component:accept' type='get' id='q1' from='u@localhost' to='nobody@nowhere.example'/></route>")
            m = sm1.expect_next(rb"<route xmlns='urn:switchboard:route:0' to='sm1' from='nobody@nowhere.example'>"
                                rb"<iq xmlns='jabber:component:accept' [^>]*type='error'.*?</iq></route>")
            return b"remote-server-not-found" in m.group(0) and b"id='q1'" in m.group(0)
        check("no route for an envelope: the error comes back in an envelope", envelope_error)

        def envelope_spoof():
            sm1.send("<route xmlns='urn:switchboard:route:0' from='c2s1' to='sm1'>"
                     "<message xmlns='jabber:component:accept' from='c2s1' to='sm1'/></route>")
            m = sm1.expect_next(rb"<route [^>]*>.*?</route>")
            return b"not-allowed" in m.group(0) and c2s.quiet()
        check("an envelope's 'from' is checked too", envelope_spoof)

        # --- the default route ---
        def default_route():
            nonlocal s2s
            s2s = L("s2s1", "secret-s2s")
            s2s.send("<bind xmlns='urn:switchboard:component:0' default='yes' id='d1'/>")
            s2s.expect(rb"<bound xmlns='urn:switchboard:component:0' default='yes' id='d1'/>")
            c2s.expect(rb"<announce [^>]*event='bound' default='yes' link='s2s1'/>")
            a.send("<message from='alice@a.test' to='carol@remote.example'><body>out</body></message>")
            s2s.expect(rb"<message from='alice@a.test' to='carol@remote.example'><body>out</body></message>")
            return a.quiet()
        check("the default route gets unknown domains", default_route)

        def default_from():
            s2s.send("<message from='carol@remote.example' to='alice@a.test'><body>in</body></message>")
            a.expect_next(rb"<message from='carol@remote.example' to='alice@a.test'><body>in</body></message>")
            s2s.send("<message from='bob@b.test' to='alice@a.test'/>")
            stanza_error(s2s, "not-allowed")
            return a.quiet()
        check("the default route may send from remote domains, not from ours", default_from)

        def default_unbind():
            s2s.send("<unbind xmlns='urn:switchboard:component:0' default='yes' id='d2'/>")
            s2s.expect(rb"<unbound [^>]*default='yes' id='d2'/>")
            a.send("<message from='alice@a.test' to='carol@remote.example'/>")
            stanza_error(a, "remote-server-not-found")
        check("after unbinding the default route, unknown domains bounce again", default_unbind)

        # --- rendezvous hashing ---
        def rendezvous():
            nonlocal sm3
            sm2.send("<bind xmlns='urn:switchboard:component:0' name='localhost' id='r2'/>")
            sm2.expect(rb"<bound [^>]*name='localhost' id='r2'/>")
            sm3 = L("sm3", "secret-sm")
            sm3.send("<bind xmlns='urn:switchboard:component:0' name='localhost' id='r3'/>")
            sm3.expect(rb"<bound [^>]*name='localhost' id='r3'/>")
            holders = {"sm1": sm1, "sm2": sm2, "sm3": sm3}

            def spray(tag):
                for i in range(200):
                    a.send("<message from='a.test' to='u%d@localhost/res%d' id='%s%d'/>" % (i % 50, i, tag, i))
                seen = {}
                got = 0
                deadline = time.time() + WAIT
                while got < 200 and time.time() < deadline:
                    for name, h in holders.items():
                        h.fill(0.02)
                        for m in re.finditer(rb"<message from='a.test' to='u(\d+)@localhost/res\d+' id='" +
                                             tag.encode() + rb"\d+'/>", h.buf):
                            seen.setdefault(int(m.group(1)), set()).add(name)
                            got += 1
                        h.buf = re.sub(rb"<message from='a.test' [^>]*/>", b"", h.buf)
                return got, seen

            got, first = spray("x")
            if got != 200:
                raise AssertionError("delivered %d of 200" % got)
            if not all(len(v) == 1 for v in first.values()) or len(first) != 50:
                raise AssertionError("a user reached two holders: %r" % first)
            per = {n: sum(1 for v in first.values() if n in v) for n in holders}
            if min(per.values()) == 0:
                raise AssertionError("a holder got no users: %r" % per)
            sm3.close()
            del holders["sm3"]
            sm1.expect(rb"event='unbound' name='localhost' link='sm3'/>")
            got, second = spray("y")
            if got != 200 or not all(len(v) == 1 for v in second.values()):
                raise AssertionError("after sm3 left: %d delivered, %r" % (got, second))
            moved = [u for u in first if first[u] != second[u] and first[u] != {"sm3"}]
            if moved:
                raise AssertionError("users of the remaining holders moved: %r" % moved)
            return True
        check("shared name: each user always reaches the same holder; a holder leaving moves only its users",
              rendezvous)

        def disconnect_announce():
            c2s.drain()
            sm2.close()
            c2s.expect(rb"event='unbound' name='localhost' link='sm2'/>")
            c2s.expect(rb"event='unbound' name='sm2' link='sm2'/>")
        check("a link that goes: its names are announced unbound", disconnect_announce)

        def shared_still_works():
            a.send("<message from='a.test' to='someone@localhost' id='after'/>")
            sm1.expect(rb"<message from='a.test' to='someone@localhost' id='after'/>")
        check("a shared name keeps working with the remaining holder", shared_still_works)

        # --- a link that does not read ---
        def slow_reader():
            slow = L("slow.test", "secret-slow", rcvbuf=4096)
            body = "y" * 4000
            a.s.settimeout(0.2)
            for i in range(2000):
                try:
                    a.send("<message from='a.test' to='slow.test' id='s%d'><body>%s</body></message>" % (i, body))
                except OSError:
                    break       # the router stopped reading us: backpressure
                if i % 20 == 19 and router.wait_log(r"link slow\.test .*not reading", timeout=0.01):
                    break
            a.s.settimeout(WAIT)
            paused = router.wait_log(r"link slow\.test .*reading from every link paused")
            logged = router.wait_log(r"link slow\.test .*policy-violation.*not reading")
            resumed = router.wait_log(r"reading resumed")
            # Drain: the link ends (EOF or reset) instead of growing for ever.
            deadline = time.time() + WAIT
            while not slow.eof and time.time() < deadline:
                slow.fill(0.5)
                slow.buf = b""
            return paused and logged and resumed and slow.eof
        check("a link that does not read: reading pauses (backpressure), then it is disconnected as stuck", slow_reader)

        def others_fine():
            a.drain()
            a.send("<message from='alice@a.test' to='bob@b.test' id='still'/>")
            b.expect(rb"<message from='alice@a.test' to='bob@b.test' id='still'/>")
            a.send("<message from='alice@a.test' to='slow.test' id='gone'/>")
            stanza_error(a, "service-unavailable")
        check("the others keep working; the slow name is now unavailable", others_fine)

        # --- signals ---
        def usr1():
            router.proc.send_signal(signal.SIGUSR1)
            return router.wait_log(r"link a\.test [^:]+:\d+: up: stanzas in \d+, out \d+, bounced \d+")
        check("SIGUSR1 logs the counters of every link", usr1)

        def status_file():
            deadline = time.time() + WAIT
            while time.time() < deadline:
                try:
                    with open(router.status) as f:
                        text = f.read()
                except OSError:
                    text = ""
                m = re.search(r"^link a\.test peer=127\.0\.0\.1:\d+ since=\d+ internal=0 "
                              r"state=open in=(\d+) out=(\d+) bounced=(\d+) names=a\.test$", text, re.M)
                if ("pid %d\n" % router.proc.pid) in text and m and int(m.group(1)) > 0 and \
                        re.search(r"^link sm1 .* internal=1 .*names=sm1,localhost", text, re.M):
                    return True
                time.sleep(0.1)
            return ok(False, "status file content", text) and False
        check("the status file lists every link with its names and counters", status_file)

        def hup():
            router.write_config("  <component name='new.test' secret='secret-new'/>\n")
            router.proc.send_signal(signal.SIGHUP)
            if not router.wait_log(r"reloaded .*: 11 components"):
                return False
            n = L("new.test", "secret-new")
            n.send("<message from='new.test' to='bob@b.test' id='new'/>")
            b.expect(rb"<message from='new.test' to='bob@b.test' id='new'/>")
            return True
        check("SIGHUP reload adds a component", hup)

        def hup_remove():
            router.write_config("")
            router.proc.send_signal(signal.SIGHUP)
            if not router.wait_log(r"reloaded .*: 10 components[^\n]*\n(.|\n)*"):
                return False
            time.sleep(0.1)
            n = L("new.test")
            return n.stream_error() == "host-unknown"
        check("SIGHUP reload removes a component for new links", hup_remove)

        def hup_bad():
            with open(router.conf, "w") as f:
                f.write("<router><limits><stanza-size>huge</stanza-size></limits></router>")
            router.proc.send_signal(signal.SIGHUP)
            if not router.wait_log(r"reload: .*stanza-size.*running configuration stays"):
                return False
            L("gone.test", "secret-gone")
            return True
        check("a broken router.xml on SIGHUP keeps the running configuration", hup_bad)

        def term():
            router.proc.send_signal(signal.SIGTERM)
            cond = a.stream_error()
            rc = router.proc.wait(timeout=WAIT)
            return cond == "system-shutdown" and rc == 0, (cond, rc)
        check("SIGTERM: links get <system-shutdown/>, exit status 0", lambda: term()[0])
        check("the status file is removed when the router stops",
              lambda: not os.path.exists(router.status))
        check("counters logged when links go", lambda: router.wait_log(r"link b\.test [^:]+:\d+: down: stanzas in"))
        check("no leak or loop complaint at exit",
              lambda: not re.search(r"still has handles|LeakSanitizer|ERROR: AddressSanitizer", router.logtext()))
    except Exception:
        ok(False, "unexpected failure", traceback.format_exc())
    finally:
        for link in links:
            link.close()
        if router is not None:
            router.kill()
            if nfailed:
                print("# router log:")
                for line in router.logtext().splitlines()[-60:]:
                    print("# " + line)
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % ntests, flush=True)
    return 1 if nfailed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("watchdog")))
    signal.alarm(WATCHDOG)
    sys.exit(main())
