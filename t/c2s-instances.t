#!/usr/bin/python3
# c2s-instances.t: two c2s processes (c2s1, c2s2) on one router, each with
# its own port, and the fake sm of t/lib/c2s_harness.py.
#
# Checks: both link up; a user on each gets a session that sm records under
# that c2s's name; sm reaches each user through the right instance; each
# instance's client stanzas come back through the same instance; when c2s2
# dies the router tells sm (unbound) and c2s1's users carry on; and junk
# right after the stream header ends that stream with <not-well-formed/>.
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import c2s_harness as H  # noqa: E402
from c2s_harness import (ok, check, clients, free_port, wait_port,  # noqa: E402
                         make_cert, Proc, FakeSM, Raw, login, SWITCHBOARD, ROUTER, C2S, SBCTL,
                         SECRET)

ROUTER_XML = """<?xml version='1.0'?>
<router>
  <listen address='127.0.0.1' port='%(rport)d'/>
  <component name='sm1' secret='${SB_COMPONENT_SECRET}' internal='yes'>
    <bind name='localhost' share='yes'/>
    <bind name='example.test' share='yes'/>
  </component>
  <component name='c2s1' secret='${SB_COMPONENT_SECRET}' internal='yes'/>
  <component name='c2s2' secret='${SB_COMPONENT_SECRET}' internal='yes'/>
</router>
"""

C2S_XML = """<?xml version='1.0'?>
<c2s>
  <router address='127.0.0.1' port='%(rport)d' name='%(name)s' secret='${SB_COMPONENT_SECRET}'/>
  <listen address='127.0.0.1' port='%(port)d' tls='starttls'/>
  <domain name='localhost'>
    <certificate>localhost.crt</certificate>
    <key>localhost.key</key>
  </domain>
</c2s>
"""

NS_COMP = "jabber:component:accept"


WATCHDOG = 60


def main():
    tmp = tempfile.mkdtemp(prefix="sb-c2s-instances-")
    procs = []
    kept = []
    sm = None
    try:
        env = dict(os.environ, SB_COMPONENT_SECRET=SECRET)
        make_cert(tmp, "localhost")
        swxml = os.path.join(tmp, "switchboard.xml")
        with open(swxml, "w") as f:
            f.write(SWITCHBOARD % {"db": os.path.join(tmp, "sb.db")})
        subprocess.run([SBCTL, "-c", swxml, "db", "init"], check=True, capture_output=True,
                       timeout=60)
        for user in ("juliet", "romeo"):
            subprocess.run([SBCTL, "-c", swxml, "adduser", user + "@localhost", "pw"],
                           check=True, capture_output=True, timeout=60)
        rport = free_port()
        with open(os.path.join(tmp, "router.xml"), "w") as f:
            f.write(ROUTER_XML % {"rport": rport})
        router = Proc(tmp, "router", [ROUTER, "-c", os.path.join(tmp, "router.xml")], env)
        procs.append(router)
        wait_port(rport, router.proc, "router", router.logtext)
        sm = FakeSM(rport)
        sm.start()
        ports, c2s = {}, {}
        for name in ("c2s1", "c2s2"):
            ports[name] = free_port()
            conf = os.path.join(tmp, name + ".xml")
            with open(conf, "w") as f:
                f.write(C2S_XML % {"rport": rport, "port": ports[name], "name": name})
            c2s[name] = Proc(tmp, name, [C2S, "-c", conf, "-s", swxml], env)
            procs.append(c2s[name])
            wait_port(ports[name], c2s[name].proc, name, c2s[name].logtext)
        ok(all(c2s[n].wait_log(r"router link up as %s" % n) for n in c2s),
           "two c2s processes link up with one router under their own names")

        # Kept across checks (check() closes the clients in H.clients after each).
        juliet, jj = login(ports["c2s1"], "juliet", "pw", "balcony")
        romeo, rj = login(ports["c2s2"], "romeo", "pw", "orchard")
        kept.extend([juliet, romeo])
        check("sm records each session under the c2s that holds it",
              lambda: sm.sessions[jj][1] == "c2s1" and sm.sessions[rj][1] == "c2s2")

        def sm_reaches_each():
            for who, c, name in ((rj, romeo, "c2s2"), (jj, juliet, "c2s1")):
                sm.to_c2s(name, "<message xmlns='%s' to='%s' from='nurse@localhost/x' id='to-%s'>"
                          "<body>hello</body></message>" % (NS_COMP, who, name), sm.sid_of(who))
                c.expect(("<message [^>]*id='to-%s'" % name).encode())
            return True
        check("sm reaches each user through the instance that holds it", sm_reaches_each)

        def echo_through_own_instance():
            for c, tag in ((juliet, "j1"), (romeo, "r1")):
                c.send("<message to='echo@localhost' id='%s'><body>%s</body></message>" % (tag, tag))
                c.expect(("<body>echo: %s</body>" % tag).encode())
            return True
        check("each instance's client stanzas go to sm and the answers come back through it",
              echo_through_own_instance)

        def instance_dies():
            c2s["c2s2"].proc.send_signal(signal.SIGKILL)
            c2s["c2s2"].proc.wait(timeout=10)
            deadline = time.time() + 10
            while time.time() < deadline:
                if ("unbound", None, "c2s2") in [(e, None, l) for e, _, l in sm.announced]:
                    break
                time.sleep(0.05)
            else:
                return False
            juliet.send("<message to='echo@localhost' id='j2'><body>still</body></message>")
            juliet.expect(b"<body>echo: still</body>")
            return True
        check("c2s2 killed: sm is told (unbound) and c2s1's users carry on", instance_dies)

        def junk_after_header():
            c = Raw(ports["c2s1"])
            clients.append(c)
            c.open()
            c.header()
            c.send("<<<not xml at all>>>")
            return c.stream_error() == "not-well-formed"
        check("junk right after the stream header: <not-well-formed/> and the end",
              junk_after_header)
    except Exception:
        ok(False, "unexpected failure", traceback.format_exc())
    finally:
        for c in kept:
            c.close()
        return H.finish(tmp, procs, [sm])


if __name__ == "__main__":
    H.run(main, WATCHDOG)
