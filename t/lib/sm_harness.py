# sm_harness.py: what the session manager's protocol tests share: a whole
# server (sb-router, sb-sm, sb-c2s on free ports, a temporary directory,
# SQLite or a throwaway PostgreSQL), accounts made with sbctl, and slixmpp
# clients that send raw XML and wait for the stanzas they expect.
#
#   import sm_harness as S
#   srv = S.Server()                          # SB_TEST_DB=pgsql for PostgreSQL
#   srv.adduser("juliet", "pw")
#   async def main():
#       j = await srv.client("juliet", "pw", "balcony")
#       j.send("<presence/>")
#       st = await j.expect(lambda s: S.tag(s) == "presence")
#       r = await j.iq("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
#       await j.close()
#   S.check_async("what it checks", main)      # one TAP line per check
#   srv.stop()
#   sys.exit(S.done())
#
# A test runs its checks once per database (S.databases(): sqlite and
# pgsql, or SB_TEST_DB alone) and stops each server before the next.
#
# Stanzas are xml.etree.ElementTree elements in jabber:client ("{jabber:client}message");
# tag(st) gives the local name. Every wait has a timeout (WAIT seconds).
# Clients are slixmpp ClientXMPP objects with every automatic behaviour off
# (no roster fetch, no presence, no answer to subscriptions): the test
# speaks for them.

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import c2s_harness as H
from c2s_harness import ok, free_port, wait_port, make_cert, Proc, WAIT, SECRET, check_async  # noqa: F401

DOMAIN = "localhost"
NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
SM = os.environ.get("SB_SM_BIN") or os.path.join(H.BUILD, "sb-sm")
S2S = os.path.join(H.BUILD, "sb-s2s")
PGSERVER = os.path.join(H.SRC, "t", "lib", "pgserver.sh")

ROUTER_XML = """<?xml version='1.0'?>
<router>
  <log level='debug'/>
  <listen address='127.0.0.1' port='%(rport)d'/>
  <component name='sm1' secret='${SB_COMPONENT_SECRET}' internal='yes'>
    <bind name='%(domain)s' share='yes'/>
  </component>
  <component name='sm2' secret='${SB_COMPONENT_SECRET}' internal='yes'>
    <bind name='%(domain)s' share='yes'/>
  </component>
  <component name='c2s1' secret='${SB_COMPONENT_SECRET}' internal='yes'/>
  <component name='conference.%(domain)s' secret='${SB_COMPONENT_SECRET}'/>
  <component name='s2s1' secret='${SB_COMPONENT_SECRET}' internal='yes' default-route='yes'/>
</router>
"""

SM_XML = """<?xml version='1.0'?>
<sm>
  <log level='debug'/>
  <router address='127.0.0.1' port='%(rport)d' name='%(name)s' secret='${SB_COMPONENT_SECRET}'/>
  <domain name='%(domain)s'/>
  %(extra)s
</sm>
"""

S2S_XML = """<?xml version='1.0'?>
<s2s>
  <log level='debug'/>
  <router address='127.0.0.1' port='%(rport)d' name='s2s1' secret='${SB_COMPONENT_SECRET}'/>
  <domain name='%(domain)s'>
    <certificate>%(crt)s</certificate>
    <key>%(key)s</key>
  </domain>
  %(body)s
</s2s>
"""

C2S_XML = """<?xml version='1.0'?>
<c2s>
  <log level='debug'/>
  <router address='127.0.0.1' port='%(rport)d' name='c2s1' secret='${SB_COMPONENT_SECRET}'/>
  <listen address='127.0.0.1' port='%(cport)d' tls='starttls'/>
  <domain name='%(domain)s'>
    <certificate>%(crt)s</certificate>
    <key>%(key)s</key>
    <registration>%(registration)s</registration>
  </domain>
  <limits>
    <connections-per-address>0</connections-per-address>
    <read-rate>0</read-rate>
  </limits>
</c2s>
"""


def tag(st):
    """The local name of an element: 'message' for '{jabber:client}message'."""
    return st.tag.rsplit("}", 1)[-1]


def ns(st):
    return st.tag[1:].split("}", 1)[0] if st.tag.startswith("{") else ""


def child(st, namespace, name):
    return st.find("{%s}%s" % (namespace, name))


def error_condition(st):
    """The defined condition of an error stanza ('item-not-found'), or None."""
    err = st.find("{%s}error" % NS_CLIENT)
    if err is None:
        return None
    for c in err:
        if ns(c) == NS_STANZAS and tag(c) != "text":
            return tag(c)
    return None


def bare(jid):
    return jid.split("/", 1)[0]


class Server:
    """router + sm (+ optionally sm2) + c2s with their own configuration."""

    def __init__(self, db=None, registration=False, sm_extra="", shards=1, domain=DOMAIN,
                 cert=None, s2s=None):
        """domain: the one domain served; cert: (certfile, keyfile) for it (else a
        self-signed one); s2s: the body of an s2s.xml (below <s2s>, without the
        <router/> and <domain/> lines, which are added) to start sb-s2s too."""
        self.db = db or os.environ.get("SB_TEST_DB", "sqlite")
        self.domain = domain
        self.failed_before = H.nfailed
        self.tmp = tempfile.mkdtemp(prefix="sb-sm-")
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.pgdir = None
        self.env = dict(os.environ, SB_COMPONENT_SECRET=SECRET)
        self.rport = free_port()
        self.cport = free_port()
        self.sm_extra = sm_extra
        crt, key = cert if cert is not None else make_cert(self.tmp, domain)
        self.crt, self.key = crt, key
        self._storage()
        self._write("router.xml", ROUTER_XML % {"rport": self.rport, "domain": domain})
        self._write("c2s.xml", C2S_XML % {
            "rport": self.rport, "cport": self.cport, "domain": domain, "crt": crt,
            "key": key, "registration": "yes" if registration else "no"})
        self.sms = []
        self.s2s = None
        try:
            self.router = self._start("router", [H.ROUTER, "-c", self._path("router.xml")])
            wait_port(self.rport, self.router.proc, "sb-router", self.router.logtext)
            for i in range(shards):
                self.start_sm("sm%d" % (i + 1))
            self.start_c2s()
            if s2s is not None:
                self.start_s2s(s2s)
        except BaseException:
            # What did start must not outlive the test (a port taken, a bad file).
            for p in self.procs:
                p.kill()
            raise

    def start_s2s(self, body, name="s2s"):
        self._write("s2s.xml", S2S_XML % {
            "rport": self.rport, "domain": self.domain, "crt": self.crt, "key": self.key,
            "body": body})
        self.s2s = self._start(name, [S2S, "-c", self._path("s2s.xml")])
        if not self.s2s.wait_log(r"router link up"):
            raise RuntimeError("s2s did not reach the router:\n" + self.s2s.logtext())
        return self.s2s

    def start_c2s(self, name="c2s"):
        self.c2s = self._start(name, [H.C2S, "-c", self._path("c2s.xml"),
                                      "-s", self._path("switchboard.xml")])
        wait_port(self.cport, self.c2s.proc, "sb-c2s", self.c2s.logtext)
        if not self.c2s.wait_log(r"router link up"):
            raise RuntimeError("c2s did not reach the router:\n" + self.c2s.logtext())

    def _path(self, name):
        return os.path.join(self.tmp, name)

    def _write(self, name, text):
        with open(self._path(name), "w") as f:
            f.write(text)

    def _start(self, name, argv):
        p = Proc(self.tmp, name, argv, self.env)
        self.procs.append(p)
        return p

    def _storage(self):
        if self.db == "pgsql":
            self.pgdir = tempfile.mkdtemp(prefix="sb-pg-")
            os.chmod(self.pgdir, 0o755)
            r = subprocess.run([PGSERVER, "start", self.pgdir], capture_output=True,
                               text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("pgserver.sh: " + r.stderr)
            storage = "<storage driver='pgsql'><conninfo>%s</conninfo></storage>" % \
                r.stdout.strip()
        else:
            storage = "<storage driver='sqlite'><path>%s</path></storage>" % \
                self._path("switchboard.db")
        self._write("switchboard.xml", "<?xml version='1.0'?>\n<switchboard>\n  %s\n"
                    "</switchboard>\n" % storage)
        self.sbctl("db", "init")

    def sbctl(self, *args, stdin=None):
        r = subprocess.run([H.SBCTL, "-c", self._path("switchboard.xml")] + list(args),
                           input=stdin, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("sbctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def adduser(self, user, password):
        self.sbctl("adduser", "--batch", stdin="%s@%s %s\n" % (user, self.domain, password))

    def start_sm(self, name, extra=None):
        self._write(name + ".xml", SM_XML % {
            "rport": self.rport, "name": name, "domain": self.domain,
            "extra": self.sm_extra if extra is None else extra})
        p = self._start(name, [SM, "-c", self._path(name + ".xml"),
                               "-s", self._path("switchboard.xml")])
        if not p.wait_log(r"router link up"):
            raise RuntimeError("%s did not reach the router:\n%s" % (name, p.logtext()))
        self.sms.append(p)
        return p

    async def client(self, user, password, resource=None, priority=None, presence=False):
        c = Client(self, user, password, resource)
        await c.connect()
        if presence:
            c.send("<presence>%s</presence>" % (
                "" if priority is None else "<priority>%d</priority>" % priority))
        return c

    def stop(self):
        """Kill everything, show the logs when a check failed on this server, remove
        the directories. S.done() prints the plan at the end."""
        # sm first and gracefully: its exit status says it freed everything
        # (LeakSanitizer under make asan) and ended its sessions cleanly.
        for p in self.sms + ([self.s2s] if getattr(self, "s2s", None) else []):
            if p.proc.poll() is None:
                rc = p.stop()
                ok(rc == 0, "%s: %s stops cleanly on SIGTERM" % (self.db, p.name),
                   "exit status %r" % (rc,))
        for p in self.procs:
            p.kill()
        if H.nfailed > self.failed_before:
            for p in self.procs:
                print("# --- %s log (%s, tail) ---" % (p.name, self.db))
                for line in p.logtext().splitlines()[-80:]:
                    print("# " + line)
        if self.pgdir is not None:
            subprocess.run([PGSERVER, "stop", self.pgdir], capture_output=True, timeout=60)
        if os.environ.get("SB_KEEP_TMP"):
            print("# kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def proc(self, name):
        for p in self.procs:
            if p.name == name:
                return p
        return None


def done():
    """The TAP plan and the exit status."""
    print("1..%d" % H.ntests, flush=True)
    return 1 if H.nfailed else 0


class Client(H.XmppClient):
    """A slixmpp client of the Server srv (SCRAM-SHA-256) whose every received
    stanza can be awaited (c2s_harness.XmppClient)."""

    def __init__(self, srv, user, password, resource=None):
        jid = "%s@%s" % (user, srv.domain) + ("/" + resource if resource else "")
        super().__init__(jid, password, "127.0.0.1", srv.cport, sasl_mech="SCRAM-SHA-256")
        self.srv = srv


def databases():
    """The drivers a test runs its checks on: both, or SB_TEST_DB alone."""
    one = os.environ.get("SB_TEST_DB")
    return [one] if one else ["sqlite", "pgsql"]


def run(main, watchdog):
    H.run(main, watchdog)
