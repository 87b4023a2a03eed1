#!/usr/bin/python3
# sbctl-component.t: `sbctl component add|del|list` against a real router.
#
# In a temporary directory: a switchboard.xml whose <launcher> runs one
# router, its environment file (SB_COMPONENT_SECRET), and a router.xml on a
# free port with a status file and <include file='components.d/*.xml'/>;
# the test starts $SB_BUILD/sb-router itself. It checks, as components see
# it (slixmpp's ComponentXMPP through t/lib/component_slix.py, and raw
# XEP-0114 handshakes):
#   1. add without a secret prints 48 hex digits alone on the last line,
#      writes components.d/NAME.xml (mode 0600) under the canonical name,
#      and SIGHUPs the router: slixmpp gets in with it, a wrong secret does not;
#   2. list shows every component (router.xml's and the added ones) with
#      kind, flags, file:line and whether it is connected;
#   3. add with a secret (quotes, <, &, $) prints it and the router accepts it,
#      under a name with "--" (which an XML comment could not hold);
#   4. refused: a name already there (also in another case, or one a component
#      binds), an invalid name, an address, an empty secret or one with a space;
#   5. del of a name defined in router.xml fails and says so; an unknown name
#      fails; del of an added one removes the file, the connected link stays
#      up, and a new connection under that name gets <host-unknown/>;
#   6. with the router stopped (and a stale status file naming another live
#      process, which must not be signalled), add writes the file and says it
#      takes effect at start; the router then started accepts it;
#   7. a router.xml without the include: add fails with the line to add and
#      leaves no file behind; a launcher without a router process fails.
import hashlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import c2s_harness as H  # noqa: E402
from c2s_harness import ok, free_port  # noqa: E402

SRC = H.SRC
SBCTL = H.SBCTL
ROUTER = H.ROUTER
PY = "/usr/bin/python3"
SLIX = os.path.join(SRC, "t", "lib", "component_slix.py")
WATCHDOG = 60          # seconds for the whole test
WAIT = 5               # seconds for one expected event
NS_ACCEPT = "jabber:component:accept"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
HEX48 = re.compile(r"^[0-9a-f]{48}$")

for binary in (SBCTL, ROUTER):
    if not os.access(binary, os.X_OK):
        print("1..0 # SKIP not built: %s" % binary)
        sys.exit(0)

# --- processes: each one started here is killed at the end, by its pid ---

procs = []


def die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(argv, log, **kw):
    with open(log, "ab") as err:
        p = subprocess.Popen(argv, stdin=kw.pop("stdin", subprocess.DEVNULL),
                             stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=err,
                             start_new_session=True, preexec_fn=die_with_parent, **kw)
    procs.append(p)
    return p


def kill_all():
    for p in procs:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
            p.wait()


def watchdog():
    print("Bail out! sbctl-component.t took longer than %d s" % WATCHDOG, flush=True)
    kill_all()
    os._exit(1)


def tail(path, n=8):
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return "(no %s)" % path


def until(pred, timeout=WAIT, step=0.1):
    """pred() until it is true or timeout passes; its last value."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


# --- the configuration ---

ENV_SECRET = "internal-secret-1"
STATIC = {"static.example": "static-secret"}


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def setup(top, port, include=True, router_proc=True):
    """switchboard.xml, the environment file and router.xml in top."""
    os.makedirs(os.path.join(top, "run"), exist_ok=True)
    proc = ("<process name='router' config='router.xml'/>" if router_proc else
            "<process name='sm' config='sm.xml'/>")
    write(os.path.join(top, "switchboard.xml"), """<switchboard>
  <storage driver='sqlite'><path>%(top)s/switchboard.db</path></storage>
  <launcher>
    <environment>%(top)s/switchboard.env</environment>
    <run-dir>%(top)s/run</run-dir>
    %(proc)s
  </launcher>
</switchboard>
""" % {"top": top, "proc": proc})
    write(os.path.join(top, "switchboard.env"), "SB_COMPONENT_SECRET=%s\n" % ENV_SECRET)
    write(os.path.join(top, "router.xml"), """<router>
  <log level='info'/>
  <listen address='127.0.0.1' port='%(port)d'/>
  <status file='%(top)s/run/router.status' interval='1s'/>
  <component name='sm1' secret='${SB_COMPONENT_SECRET}' internal='yes' share='yes'>
    <bind name='localhost' share='yes'/>
  </component>
  <component name='static.example' secret='%(static)s'/>
  %(include)s
</router>
""" % {"port": port, "top": top, "static": STATIC["static.example"],
       "include": "<include file='components.d/*.xml'/>" if include else ""})


class Run:
    def __init__(self, p):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        self.lines = p.stdout.rstrip("\n").split("\n")

    def __str__(self):
        return "exit %s\nstdout: %s\nstderr: %s" % (self.rc, self.out, self.err)


def sbctl(top, *args):
    env = dict(os.environ)
    env.pop("SB_CONFIG", None)
    env.pop("SB_COMPONENT_SECRET", None)    # sbctl must take it from the env file
    p = subprocess.run([SBCTL, "-c", os.path.join(top, "switchboard.xml")] + list(args),
                       capture_output=True, text=True, env=env, cwd=top, timeout=WAIT * 2)
    return Run(p)


# --- the router ---

class Router:
    def __init__(self, top, port):
        self.top, self.port = top, port
        self.log = os.path.join(top, "router.log")
        self.status = os.path.join(top, "run", "router.status")
        self.p = None

    def start(self):
        env = dict(os.environ, SB_COMPONENT_SECRET=ENV_SECRET)
        self.p = spawn([ROUTER, "-c", os.path.join(self.top, "router.xml")], self.log,
                       env=env, cwd=self.top)
        return until(lambda: self.p.poll() is None and os.path.exists(self.status) and
                     self.connectable())

    def connectable(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()


# --- components ---

def handshake(port, name, secret):
    """A raw XEP-0114 login: ("ok", socket) or ("error", condition) or ("closed", why)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), WAIT)
        s.settimeout(WAIT)
        s.sendall(("<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' to='%s'>"
                   % (NS_ACCEPT, NS_STREAMS, name)).encode())
    except OSError as e:
        return ("closed", str(e))
    parser = ET.XMLPullParser(("start", "end"))
    depth = 0
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return ("closed", "end of stream")
            parser.feed(data)
            for ev, el in parser.read_events():
                depth += 1 if ev == "start" else -1
                if ev == "start" and depth == 1:
                    digest = hashlib.sha1((el.get("id", "") + secret).encode()).hexdigest()
                    try:
                        s.sendall(("<handshake>%s</handshake>" % digest).encode())
                    except OSError:
                        pass
                elif ev == "end" and depth == 1:
                    if el.tag == "{%s}handshake" % NS_ACCEPT:
                        return ("ok", s)
                    if el.tag == "{%s}error" % NS_STREAMS:
                        s.close()
                        conds = [c.tag.split("}")[1] for c in el
                                 if c.tag.startswith("{%s}" % NS_STREAM_ERR)]
                        return ("error", conds[0] if conds else "?")
    except (OSError, ET.ParseError) as e:
        s.close()
        return ("closed", str(e))


def login(port, name, secret, want="ok", timeout=WAIT):
    """Handshakes until the answer is want ("ok" or a stream error condition), since the
    router reloads asynchronously; the last answer (with an open socket for "ok")."""
    last = [None]

    def attempt():
        last[0] = handshake(port, name, secret)
        if last[0][0] == "ok" and want != "ok":
            last[0][1].close()
        return last[0][0] == want or last[0] == ("error", want)
    until(attempt, timeout, 0.2)
    return last[0]


def logged_in(r):
    if r[0] != "ok":
        return False
    r[1].close()
    return True


class Slix:
    """t/lib/component_slix.py: one JSON event per line."""

    def __init__(self, port, name, secret, log):
        self.events = queue.Queue()
        self.seen = []
        self.p = spawn([PY, SLIX, "--jid", name, "--secret", secret, "--port", str(port)],
                       log, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                pass

    def wait(self, event, timeout=WAIT):
        deadline = time.time() + timeout
        while True:
            for e in self.seen:
                if e.get("event") == event:
                    return e
            left = deadline - time.time()
            if left <= 0:
                return None
            try:
                self.seen.append(self.events.get(timeout=left))
            except queue.Empty:
                return None

    def quit(self):
        try:
            self.p.stdin.write(b'{"cmd": "quit"}\n')
            self.p.stdin.flush()
            self.p.wait(WAIT)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


def list_rows(top):
    """component list as {name: [kind, flags, connected..., defined]}, and the run."""
    r = sbctl(top, "component", "list")
    rows = {}
    for line in r.lines[1:]:
        f = line.split()
        if f:
            rows[f[0]] = f[1:]
    return rows, r


def connected_as(top, name, want):
    rows, _ = list_rows(top)
    return name in rows and rows[name][2] == want


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def status_updated(path):
    m = re.search(r"^updated (\d+)$", read(path), re.M)
    return int(m.group(1)) if m else 0


def comp_file(top, name):
    return os.path.join(top, "components.d", name + ".xml")


def leftovers(top):
    d = os.path.join(top, "components.d")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


# --- the checks ---

def main(tmp):
    top = os.path.join(tmp, "a")
    port = free_port()
    setup(top, port)
    router = Router(top, port)
    if not ok(router.start(), "the router starts", lambda: tail(router.log)):
        return

    # 2 (before anything is added): router.xml's own components.
    rows, r = list_rows(top)
    ok(r.rc == 0 and r.lines[0].split()[:2] == ["NAME", "KIND"], "list: exit 0, a header first", r)
    ok(rows.get("sm1", [None])[0] == "internal" and rows["sm1"][1] == "share" and
       rows["sm1"][-1] == os.path.join(top, "router.xml") + ":5",
       "list: sm1 internal, share, router.xml:5", r)
    ok(rows.get("static.example", [None])[:3] == ["external", "-", "no"],
       "list: static.example external, no flags, not connected", r)

    # 1. add without a secret.
    r = sbctl(top, "component", "add", "Muc.Example")
    secret = r.lines[-1]
    ok(r.rc == 0 and HEX48.match(secret), "add NAME: exit 0, 48 hex digits on the last line", r)
    ok("muc.example" in r.lines[0] and "127.0.0.1 port %d" % port in r.out,
       "add: says what was added and where it connects", r)
    ok("reloads" in r.out and str(router.p.pid) in r.out, "add: the running router was told", r)
    path = comp_file(top, "muc.example")
    ok(os.path.isfile(path) and (os.stat(path).st_mode & 0o777) == 0o600,
       "add: components.d/muc.example.xml (canonical name), mode 0600", leftovers(top))
    slix = Slix(port, "muc.example", secret, os.path.join(top, "slix.log"))
    ok(slix.wait("online") is not None, "slixmpp connects as muc.example with that secret",
       lambda: "%s\nrouter:\n%s\nslix:\n%s" % (slix.seen, tail(router.log),
                                              tail(os.path.join(top, "slix.log"))))
    r = login(port, "muc.example", "wrong-secret", want="not-authorized")
    ok(r == ("error", "not-authorized"), "a wrong secret is refused (not-authorized)", r)

    # 2. list: external and connected (the status file is rewritten every second).
    ok(until(lambda: connected_as(top, "muc.example", "yes")),
       "list: muc.example connected", lambda: list_rows(top)[1])
    rows, r = list_rows(top)
    ok(rows.get("muc.example", [None])[0] == "external" and
       rows["muc.example"][-1] == path + ":4", "list: muc.example external, defined in its file", r)

    # 3. add with a secret that needs escaping.
    given = "Se$cret&\"<x>'${HOME}"
    r = sbctl(top, "component", "add", "bot--1.example", given)
    ok(r.rc == 0 and r.lines[-1] == given, "add NAME SECRET: exit 0, the secret last", r)
    r = login(port, "bot--1.example", given)
    ok(logged_in(r), "bot--1.example (-- in a name) logs in with that secret",
       lambda: (r, tail(router.log)))

    # 4. refusals.
    before = leftovers(top)
    for args, what, why in (
            (["muc.example"], "an existing name", "already"),
            (["MUC.example."], "an existing name in another form", "already"),
            (["static.example"], "a name in router.xml", "router.xml:8"),
            (["localhost"], "a name a component binds", "binds"),
            (["bad name.example"], "an invalid name", "not a domain name"),
            (["10.0.0.1"], "an address", "address"),
            (["new.example", ""], "an empty secret", "secret"),
            (["new.example", "a b"], "a secret with a space", "white space")):
        r = sbctl(top, "component", "add", *args)
        ok(r.rc == 1 and why in r.err and r.out == "",
           "add refuses %s (exit 1, says why)" % what, r)
    ok(leftovers(top) == before, "the refused adds wrote nothing", leftovers(top))

    # 5. del.
    r = sbctl(top, "component", "del", "static.example")
    ok(r.rc == 1 and os.path.join(top, "router.xml") in r.err and "edit" in r.err,
       "del of a router.xml component fails and says to edit router.xml", r)
    r = sbctl(top, "component", "del", "nobody.example")
    ok(r.rc == 1 and "no component" in r.err, "del of an unknown name fails", r)
    r = sbctl(top, "component", "del", "MUC.Example")
    ok(r.rc == 0 and not os.path.exists(path), "del removes components.d/muc.example.xml", r)
    ok("disconnects" in r.out and "reloads" in r.out,
       "del: says the router reloads and a connected link stays up", r)
    deleted = time.time()
    r = login(port, "muc.example", secret, want="host-unknown")
    ok(r == ("error", "host-unknown"), "a new connection as muc.example is refused (host-unknown)",
       lambda: (r, tail(router.log)))
    # A status file written after the reload still has the link.
    until(lambda: status_updated(router.status) > deleted + 0.5)
    ok(slix.p.poll() is None and slix.wait("disconnected", 0.2) is None and
       re.search(r"^link muc\.example .*state=open", read(router.status), re.M),
       "the slixmpp link already up stays up", lambda: (slix.seen, read(router.status)))
    slix.quit()
    rows, r = list_rows(top)
    ok(until(lambda: "muc.example" not in list_rows(top)[0]) and "bot--1.example" in rows,
       "list no longer shows muc.example", r)

    # 6. the router stopped; a stale status file naming another live process.
    ok(router.stop() == 0, "the router stops", lambda: tail(router.log))
    stranger = spawn(["sleep", "30"], os.path.join(top, "sleep.log"))
    write(router.status, "# switchboard router status\nprocess router\npid %d\nstarted %d\n"
          "updated %d\n" % (stranger.pid, time.time(), time.time()))
    r = sbctl(top, "component", "add", "later.example")
    later = r.lines[-1]
    ok(r.rc == 0 and HEX48.match(later) and os.path.isfile(comp_file(top, "later.example")),
       "add with the router stopped: exit 0, the file written", r)
    ok("not running" in r.out and "when it starts" in r.out,
       "add: says it takes effect at start", r)
    time.sleep(0.2)
    ok(stranger.poll() is None, "the process a stale status file names is not signalled")
    rows, r = list_rows(top)
    ok(rows.get("later.example", [None, None, None])[2] == "no",
       "list with the router stopped: not connected", r)
    os.unlink(router.status)
    ok(router.start(), "the router starts again", lambda: tail(router.log))
    r = login(port, "later.example", later)
    ok(logged_in(r), "later.example logs in after the start", lambda: (r, tail(router.log)))
    router.stop()

    # 7. no include in router.xml; no router in the launcher.
    top2 = os.path.join(tmp, "b")
    setup(top2, free_port(), include=False)
    r = sbctl(top2, "component", "add", "noinc.example")
    ok(r.rc == 1 and "<include file='components.d/*.xml'/>" in r.err and
       os.path.join(top2, "router.xml") in r.err, "add without the include fails with the fix", r)
    ok(leftovers(top2) == [], "add without the include leaves nothing", leftovers(top2))
    top3 = os.path.join(tmp, "c")
    setup(top3, free_port(), router_proc=False)
    r = sbctl(top3, "component", "list")
    ok(r.rc == 1 and os.path.join(top3, "switchboard.xml") in r.err,
       "no router process in <launcher>: fails naming switchboard.xml", r)


timer = threading.Timer(WATCHDOG, watchdog)
timer.daemon = True
timer.start()
with tempfile.TemporaryDirectory(prefix="sbctl-component.") as tmpdir:
    try:
        main(tmpdir)
    except Exception:
        ok(False, "no exception", traceback.format_exc())
    finally:
        kill_all()
timer.cancel()
print("1..%d" % H.ntests)
sys.exit(1 if H.nfailed else 0)
