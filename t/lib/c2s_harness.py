# c2s_harness.py: what the c2s protocol tests share: TAP output, free ports,
# certificates (certtool), processes with logs, a FAKE session manager (a
# raw-socket internal component 'sm1' that binds the domains, starts
# sessions, answers IQs, echoes messages, and deletes accounts on
# <session action='delete'/> when given a hook), a raw client over
# sockets, and a slixmpp login.
#
# Tests import it as: sys.path.insert(0, <t/lib>); import c2s_harness as H.
# Every read has a timeout; a test kills its processes at the end.

import asyncio
import base64
import copy
import itertools
import logging
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET

SRC = os.environ.get("SB_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("SB_BUILD") or os.path.join(SRC, "build")
ROUTER = os.path.join(BUILD, "sb-router")
C2S = os.path.join(BUILD, "sb-c2s")
SBCTL = os.path.join(BUILD, "sbctl")
WAIT = 10.0
SECRET = "test-component-secret"
DOMAIN = "localhost"

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_ROUTE = "urn:switchboard:route:0"
NS_SESSION = "urn:switchboard:session:0"
NS_COMP = "jabber:component:accept"

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
        # A callable is asked only when the check failed (logs read late).
        for line in str(diag() if callable(diag) else diag).splitlines():
            print("# " + line, flush=True)
    return cond


# Raw clients a check opened: closed when it is done.
clients = []


def close_clients():
    for c in clients:
        c.close()
    clients.clear()


def check(desc, fn):
    """Run one check; an exception is a failure with its traceback."""
    try:
        r = fn()
        return ok(r is None or bool(r), desc, None if r is None or r else "returned %r" % (r,))
    except Exception:
        return ok(False, desc, traceback.format_exc())
    finally:
        close_clients()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, logtext):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    raise RuntimeError("%s did not start:\n%s" % (what, logtext()))


# --- set-up: certificates, database, configuration ---

def make_cert(tmp, name):
    key = os.path.join(tmp, name + ".key")
    crt = os.path.join(tmp, name + ".crt")
    tmpl = os.path.join(tmp, name + ".tmpl")
    with open(tmpl, "w") as f:
        f.write('cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\ntls_www_server\n'
                'signing_key\nencryption_key\n' % (name, name))
    subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
                    "--outfile", key], check=True, capture_output=True, timeout=30)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", key,
                    "--template", tmpl, "--outfile", crt], check=True, capture_output=True,
                   timeout=30)
    return crt, key


SWITCHBOARD = """<?xml version='1.0'?>
<switchboard>
  <storage driver='sqlite'><path>%(db)s</path></storage>
</switchboard>
"""

class Proc:
    def __init__(self, tmp, name, argv, env):
        self.name = name
        self.logpath = os.path.join(tmp, name + ".log")
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)

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

    def stop(self, timeout=WAIT):
        """SIGTERM and the exit status (None when it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --- the fake session manager ---

class FakeSM(threading.Thread):
    """
    The internal component sm1: binds the domains (share), starts sessions,
    answers IQs, echoes messages. Everything it sees is recorded.
    """

    def __init__(self, rport):
        super().__init__(daemon=True)
        self.s = socket.create_connection(("127.0.0.1", rport), timeout=WAIT)
        self.buf = b""
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.sessions = {}      # full JID -> (sid, c2s name)
        self.started = []       # sids answered 'started'
        self.ended = []         # sids c2s said 'end' for
        self.ended_to = []      # (sid, envelope 'to') of each 'end': the user it names
        self.starts = []        # (sid, jid) of every start
        self.stanzas = []       # (sid, element) of every client stanza
        self.announced = []     # (event, name, link)
        self.delay = {}         # resource -> seconds before 'started'
        self.deletes = []       # (sid, bare JID) of every 'delete'
        self.on_delete = None   # fn(bare JID): delete the account; then 'deleted'
        self.pending = []       # (time, bytes) to send later
        self.error = None
        self.handshake()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        with self.lock:
            self.s.sendall(data)

    def read_until(self, pattern):
        deadline = time.time() + WAIT
        while True:
            m = re.search(pattern, self.buf, re.S)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if time.time() > deadline:
                raise RuntimeError("fake sm: no %r in %r" % (pattern, self.buf))
            r, _, _ = select.select([self.s], [], [], 0.5)
            if r:
                d = self.s.recv(65536)
                if not d:
                    raise RuntimeError("fake sm: router closed")
                self.buf += d

    def handshake(self):
        import hashlib
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                  "xmlns:stream='%s' to='sm1'>" % NS_STREAMS)
        m = self.read_until(rb"<stream:stream[^>]*\bid='([^']*)'[^>]*>")
        sid = m.group(1).decode()
        self.send("<handshake>%s</handshake>" % hashlib.sha1((sid + SECRET).encode()).hexdigest())
        self.read_until(rb"<handshake/>")
        for i, name in enumerate(["localhost", "example.test"]):
            self.send("<bind xmlns='urn:switchboard:component:0' name='%s' id='b%d'/>" % (name, i))
            self.read_until(rb"<bound [^>]*/>")
        self.s.settimeout(None)

    def run(self):
        try:
            while not self.stop_ev.is_set():
                now = time.time()
                due = [p for p in self.pending if p[0] <= now]
                self.pending = [p for p in self.pending if p[0] > now]
                for _, data in due:
                    self.send(data)
                r, _, _ = select.select([self.s], [], [], 0.05)
                if not r:
                    continue
                d = self.s.recv(65536)
                if not d:
                    break
                self.buf += d
                self.process()
        except Exception:
            self.error = traceback.format_exc()

    def process(self):
        while True:
            self.buf = self.buf.lstrip()
            m = re.match(rb"<announce [^>]*/>", self.buf)
            if m:
                a = ET.fromstring(m.group(0))
                self.announced.append((a.get("event"), a.get("name"), a.get("link")))
                self.buf = self.buf[m.end():]
                continue
            m = re.match(rb"<route .*?</route>|<route [^>]*/>", self.buf, re.S)
            if not m:
                return
            self.buf = self.buf[m.end():]
            self.envelope(ET.fromstring(m.group(0)))

    def to_c2s(self, c2s, inner, sid=None):
        self.send("<route xmlns='%s' to='%s' from='sm1'%s>%s</route>" % (
            NS_ROUTE, c2s, " sid='%s'" % sid if sid else "", inner))

    def envelope(self, env):
        c2s = env.get("from")
        sid = env.get("sid")
        inner = list(env)[0]
        tag = inner.tag.split("}")[1]
        if inner.tag == "{%s}session" % NS_SESSION:
            self.session(c2s, inner, env.get("to"))
            return
        with self.lock:
            self.stanzas.append((sid, inner))
        frm, to, typ, id_ = inner.get("from"), inner.get("to"), inner.get("type"), inner.get("id")
        if tag == "iq" and typ in ("get", "set"):
            self.to_c2s(c2s, "<iq xmlns='%s' type='result' id='%s' to='%s' from='%s'/>" % (
                NS_COMP, id_, frm, to or frm.split("/")[0]), sid)
        elif tag == "message":
            body = inner.find("{%s}body" % NS_COMP)
            text = body.text if body is not None else ""
            if text == "flood":
                chunk = "x" * 4000
                for i in range(400):
                    self.to_c2s(c2s, "<message xmlns='%s' to='%s' from='%s'><body>%d %s</body>"
                                "</message>" % (NS_COMP, frm, to, i, chunk), sid)
                return
            self.to_c2s(c2s, "<message xmlns='%s' to='%s' from='%s' type='chat'>"
                        "<body>echo: %s</body></message>" % (NS_COMP, frm, to or DOMAIN, text), sid)

    def session(self, c2s, el, to=None):
        action, sid, jid = el.get("action"), el.get("sid"), el.get("jid")
        if action == "start":
            with self.lock:
                self.starts.append((sid, jid))
                old = self.sessions.get(jid)
                self.sessions[jid] = (sid, c2s)
            if old:
                self.to_c2s(old[1], "<session xmlns='%s' action='replaced' sid='%s'/>" % (
                    NS_SESSION, old[0]))
            reply = "<session xmlns='%s' action='started' sid='%s' jid='%s'/>" % (
                NS_SESSION, sid, jid)
            res = jid.split("/", 1)[1]
            if res.startswith("fail"):
                reply = "<session xmlns='%s' action='failed' sid='%s' condition='not-allowed'/>" % (
                    NS_SESSION, sid)
                with self.lock:
                    del self.sessions[jid]
            else:
                with self.lock:
                    self.started.append(sid)
            delay = self.delay.get(res, 0)
            data = "<route xmlns='%s' to='%s' from='sm1'>%s</route>" % (NS_ROUTE, c2s, reply)
            if delay:
                self.pending.append((time.time() + delay, data))
            else:
                self.send(data)
        elif action == "delete":
            with self.lock:
                self.deletes.append((sid, to))
            if self.on_delete is not None:
                self.on_delete(to)
                self.to_c2s(c2s, "<session xmlns='%s' action='deleted' sid='%s'/>" % (
                    NS_SESSION, sid))
        elif action == "end":
            with self.lock:
                self.ended.append(sid)
                self.ended_to.append((sid, to))
                for j, (s, _) in list(self.sessions.items()):
                    if s == sid:
                        del self.sessions[j]

    def end_session(self, jid, condition=None):
        """Tell c2s that sm ends the session of jid."""
        with self.lock:
            sid, c2s = self.sessions.pop(jid)
        self.to_c2s(c2s, "<session xmlns='%s' action='end' sid='%s'%s/>" % (
            NS_SESSION, sid, " condition='%s'" % condition if condition else ""))

    def stanzas_of(self, sid):
        with self.lock:
            return [el for s, el in self.stanzas if s == sid]

    def sid_of(self, jid):
        with self.lock:
            return self.sessions[jid][0]

    def close(self):
        self.stop_ev.set()
        try:
            self.s.close()
        except OSError:
            pass


# --- the end of a test ---

def finish(tmp, procs, sms=()):
    """Close clients, stop the fake sms, kill the processes, show their log tails
    when something failed, remove tmp (kept with SB_KEEP_TMP); the TAP plan and
    the exit status."""
    close_clients()
    for sm in sms:
        if sm is not None:
            sm.close()
    for p in procs:
        p.kill()
    if nfailed:
        for p in procs:
            print("# --- %s log (tail) ---" % p.name)
            for line in p.logtext().splitlines()[-60:]:
                print("# " + line)
    if os.environ.get("SB_KEEP_TMP"):
        print("# kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % ntests, flush=True)
    return 1 if nfailed else 0


def run(main, watchdog):
    """Run main() under a watchdog: a test that hangs fails instead."""
    def expired(signum, frame):
        print("not ok - watchdog: the test took more than %d s" % watchdog, flush=True)
        os._exit(1)
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(watchdog)
    sys.exit(main())


# --- a raw client ---

class Raw:
    """One raw client connection: bytes out, regular expressions in."""

    def __init__(self, port, direct_tls=False, sni=DOMAIN, alpn=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.eof = False
        if direct_tls:
            self.wrap(sni, alpn)

    def wrap(self, sni=DOMAIN, alpn=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if alpn:
            ctx.set_alpn_protocols(alpn)
        self.s.setblocking(True)
        self.s.settimeout(WAIT)
        self.s = ctx.wrap_socket(self.s, server_hostname=sni)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def fill(self, timeout):
        if self.eof:
            return False
        if not (isinstance(self.s, ssl.SSLSocket) and self.s.pending()):
            r, _, _ = select.select([self.s], [], [], max(timeout, 0))
            if not r:
                return False
        try:
            d = self.s.recv(1 << 16)
        except (ConnectionResetError, socket.timeout, ssl.SSLError, OSError):
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def expect(self, pattern, timeout=WAIT):
        deadline = time.time() + timeout
        while True:
            m = re.search(pattern, self.buf, re.S)
            if m:
                self.skipped = self.buf[:m.start()]
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.time()
            if left <= 0 or self.eof:
                raise AssertionError("waited for %r, have %r%s" % (
                    pattern, self.buf[-600:], " (EOF)" if self.eof else ""))
            self.fill(left)

    def open(self, to=DOMAIN, ns="jabber:client", version="1.0", extra=""):
        self.send("<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s'%s%s%s>" % (
            ns, NS_STREAMS, " to='%s'" % to if to else "",
            " version='%s'" % version if version else "", extra))

    def header(self):
        return self.expect(rb"<stream:stream[^>]*>").group(0)

    def features(self):
        return self.expect(rb"<stream:features>.*?</stream:features>").group(0)

    def stream_error(self, timeout=WAIT):
        m = self.expect(rb"<stream:error><([a-z-]+) xmlns='" + NS_STREAM_ERR.encode() +
                        rb"'/>.*?</stream:error></stream:stream>", timeout)
        self.wait_eof(timeout)
        return m.group(1).decode()

    def wait_eof(self, timeout=WAIT):
        deadline = time.time() + timeout
        while not self.eof and time.time() < deadline:
            self.fill(deadline - time.time())
        if not self.eof:
            raise AssertionError("no EOF; have %r" % self.buf[-300:])
        return True

    def starttls(self, sni=DOMAIN):
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.expect(rb"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        if self.buf:
            raise AssertionError("bytes after <proceed/>: %r" % self.buf)
        self.wrap(sni)

    def plain(self, user, password):
        self.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" %
                  base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode())
        m = self.expect(rb"<(success|failure)[^>]*?(/>|>.*?</\1>)")
        return m.group(0).decode()

    def bind(self, resource=None, id_="bind1"):
        self.send("<iq type='set' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>%s"
                  "</bind></iq>" % (id_, "<resource>%s</resource>" % resource if resource else ""))
        m = self.expect((r"<iq [^>]*id='%s'[^>]*>.*?</iq>" % id_).encode())
        j = re.search(rb"<jid>([^<]*)</jid>", m.group(0))
        return j.group(1).decode() if j else m.group(0).decode()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def login(port, user, password, resource=None, direct_tls=False, bind=True):
    """A raw client through STARTTLS (or direct TLS), PLAIN and bind: (client, full JID)."""
    c = Raw(port, direct_tls=direct_tls)
    if not direct_tls:
        c.open()
        c.header()
        c.features()
        c.starttls()
    c.open()
    c.header()
    c.features()
    r = c.plain(user, password)
    if not r.startswith("<success"):
        raise AssertionError("login failed: %s" % r)
    c.open()
    c.header()
    f = c.features()
    if not bind:
        return c, f.decode()
    jid = c.bind(resource)
    if "@" not in jid:
        raise AssertionError("bind failed: %s" % jid)
    return c, jid


# --- slixmpp ---

def no_channel_binding(xmpp):
    """slixmpp binds only with tls-unique, which TLS 1.3 does not have: no
    channel binding at all (gs2 flag 'n'), or it would say 'y' to a server
    that offers -PLUS, which SCRAM rightly takes for a downgrade."""
    fm = xmpp["feature_mechanisms"]
    default_creds = fm._default_credentials

    def creds(required, optional):
        r = default_creds(required, optional)
        if "channel_binding" in r:
            r["channel_binding"] = None
        return r
    fm.sasl_callback = creds


def _local(el):
    return el.tag.split("}", 1)[1] if el.tag.startswith("{") else el.tag


_ids = itertools.count(1)


class XmppClient:
    """A slixmpp client to host:port whose every received stanza can be
    awaited (expect, nothing, iq). No automatic behaviour: no roster fetch,
    no presence, no answer to subscriptions; the test speaks for the user.
    sasl_mech: the one mechanism to use; mechs: the ones it may choose from.
    WAIT and NOTHING_WAIT are the default waits (a subclass may change them)."""
    WAIT = WAIT
    NOTHING_WAIT = 0.7

    def __init__(self, jid, password, host, port, sasl_mech=None, mechs=None):
        import slixmpp
        logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
        self.host, self.port = host, port
        self.x = slixmpp.ClientXMPP(jid, password, sasl_mech=sasl_mech)
        self.x.ssl_context.check_hostname = False
        self.x.ssl_context.verify_mode = ssl.CERT_NONE
        no_channel_binding(self.x)
        if mechs is not None:
            self.x["feature_mechanisms"].use_mechs = set(mechs)
        self.x.roster.auto_authorize = None
        self.x.roster.auto_subscribe = False
        self.x.whitespace_keepalive = False
        self.inbox = []
        self.cond = None
        self.gone = None
        self.x.add_filter("in", self._in)
        self.jid = None

    def _in(self, stanza):
        el = stanza.xml
        if _local(el) not in ("message", "presence", "iq"):
            return stanza
        self.inbox.append(copy.deepcopy(el))
        if self.cond is not None:
            self.cond.set()
        return stanza

    async def connect(self, timeout=None):
        """Log in and bind; returns self. RuntimeError when it fails."""
        timeout = timeout or self.WAIT
        loop = asyncio.get_event_loop()
        self.cond = asyncio.Event()
        self.gone = asyncio.Event()
        started = loop.create_future()

        def on_session(_):
            if not started.done():
                started.set_result(True)

        def on_failed(_):
            if not started.done():
                started.set_exception(RuntimeError("%s: authentication failed" %
                                                   self.x.boundjid.bare))

        def on_gone(_):
            self.gone.set()
        self.x.add_event_handler("disconnected", on_gone)
        self.x.add_event_handler("stream_error", on_gone)
        self.x.add_event_handler("session_start", on_session)
        self.x.add_event_handler("failed_all_auth", on_failed)
        self.x.connect((self.host, self.port))
        try:
            await asyncio.wait_for(started, timeout)
        except asyncio.TimeoutError:
            raise RuntimeError("%s: no session with %s:%d within %gs" % (
                self.x.boundjid.bare, self.host, self.port, timeout))
        self.jid = str(self.x.boundjid)
        return self

    def send(self, text):
        self.x.send_raw(text)

    async def expect(self, pred, timeout=None, what="a stanza"):
        """The first received stanza matching pred (removed from the inbox)."""
        loop = asyncio.get_event_loop()
        deadline = loop.time() + (timeout or self.WAIT)
        while True:
            for i, st in enumerate(self.inbox):
                if pred(st):
                    del self.inbox[i]
                    return st
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError("%s: timed out waiting for %s; inbox: %s" % (
                    self.jid, what, [ET.tostring(s).decode() for s in self.inbox]))
            self.cond.clear()
            try:
                await asyncio.wait_for(self.cond.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def nothing(self, pred, timeout=None):
        """True when no stanza matching pred arrives within timeout: assert it."""
        try:
            await self.expect(pred, timeout or self.NOTHING_WAIT)
            return False
        except AssertionError:
            return True

    async def iq(self, text, timeout=None):
        """Send an IQ (an id is added when missing); the result or error."""
        el = ET.fromstring(text)
        if el.get("id") is None:
            el.set("id", "q%d" % next(_ids))
        iid = el.get("id")
        self.send(ET.tostring(el).decode())
        return await self.expect(lambda s: _local(s) == "iq" and s.get("id") == iid and
                                 s.get("type") in ("result", "error"), timeout,
                                 "the answer to IQ %s" % iid)

    async def wait_gone(self, timeout=None):
        """Wait until the server ends this client's stream."""
        await asyncio.wait_for(self.gone.wait(), timeout or self.WAIT)

    def is_gone(self):
        return self.gone.is_set()

    def clear(self):
        self.inbox.clear()

    async def close(self):
        self.x.disconnect()
        try:
            await asyncio.wait_for(self.x.disconnected, 3)
        except Exception:
            pass


def check_async(desc, fn, *args):
    """Run one async check on a fresh event loop: a TAP line; exceptions fail it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        r = loop.run_until_complete(fn(*args))
        return ok(r is None or bool(r), desc, None if r is None or r else "returned %r" % (r,))
    except Exception:
        return ok(False, desc, traceback.format_exc())
    finally:
        tasks = asyncio.all_tasks(loop)
        for t in tasks:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()


def slix_login(port, jid, password, use_ssl=False, mech="SCRAM-SHA-256", message=None,
               timeout=WAIT, stock=False):
    """
    Log in with slixmpp; optionally send message to echo@localhost and wait
    for the echo. Returns a dict of what happened. stock: slixmpp as it
    comes (its own choice of mechanism, its own channel binding): it tries
    one mechanism after another, so only the last failure ends it.
    """
    import slixmpp

    logging.getLogger("slixmpp").setLevel(logging.CRITICAL)   # failures are checked here

    result = {"session": False, "failed_auth": False, "echo": None, "mech": None}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = slixmpp.ClientXMPP(jid, password, sasl_mech=None if stock else mech)
    xmpp.loop = loop
    xmpp.ssl_context.check_hostname = False
    xmpp.ssl_context.verify_mode = ssl.CERT_NONE
    if not stock:
        no_channel_binding(xmpp)
    done = loop.create_future()

    def finish(_=None):
        if not done.done():
            done.set_result(True)

    def on_session(_):
        result["session"] = True
        result["mech"] = xmpp["feature_mechanisms"].mech.name if xmpp["feature_mechanisms"].mech else None
        if message is None:
            finish()
        else:
            xmpp.send_message(mto="echo@localhost", mbody=message, mtype="chat")

    def on_message(msg):
        result["echo"] = str(msg["body"])
        result["echo_to"] = str(msg["to"])
        finish()

    def on_failed(_):
        result["failed_auth"] = True
        finish()

    xmpp.add_event_handler("session_start", on_session)
    xmpp.add_event_handler("message", on_message)
    if not stock:
        xmpp.add_event_handler("failed_auth", on_failed)
    xmpp.add_event_handler("failed_all_auth", on_failed)
    xmpp.add_event_handler("disconnected", finish)
    xmpp.connect(("127.0.0.1", port), use_ssl=use_ssl)
    try:
        loop.run_until_complete(asyncio.wait_for(done, timeout))
    except asyncio.TimeoutError:
        result["timeout"] = True
    xmpp.disconnect()
    try:
        loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, 3))
    except Exception:
        pass
    # slixmpp leaves tasks behind: end them so closing the loop is quiet.
    tasks = asyncio.all_tasks(loop)
    for t in tasks:
        t.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()
    return result
