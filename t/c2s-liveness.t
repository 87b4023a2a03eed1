#!/usr/bin/python3
# c2s-liveness.t: what c2s does when nothing happens, and when the router
# goes away. One c2s with a short idle timeout and pings off, the router and
# the fake sm of t/lib/c2s_harness.py.
#
# Checks: a bound client that sends nothing gets <connection-timeout/>;
# whitespace keepalives keep one alive past the timeout; the router killed
# under bound clients: they get <reset/> (sm forgets their sessions, so they
# must log in again), c2s says so in its log; the router back on the same
# port: c2s links up again by itself and a new login works.
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
                         make_cert, Proc, FakeSM, login, SWITCHBOARD, ROUTER, C2S, SBCTL,
                         SECRET)

ROUTER_XML = """<?xml version='1.0'?>
<router>
  <listen address='127.0.0.1' port='%(rport)d'/>
  <component name='sm1' secret='${SB_COMPONENT_SECRET}' internal='yes'>
    <bind name='localhost' share='yes'/>
    <bind name='example.test' share='yes'/>
  </component>
  <component name='c2s1' secret='${SB_COMPONENT_SECRET}' internal='yes'/>
</router>
"""

C2S_XML = """<?xml version='1.0'?>
<c2s>
  <log level='debug'/>
  <router address='127.0.0.1' port='%(rport)d' name='c2s1' secret='${SB_COMPONENT_SECRET}'/>
  <listen address='127.0.0.1' port='%(port)d' tls='starttls'/>
  <domain name='localhost'>
    <certificate>localhost.crt</certificate>
    <key>localhost.key</key>
  </domain>
  <limits>
    <idle-timeout>1500ms</idle-timeout>
    <ping-interval>0</ping-interval>
  </limits>
</c2s>
"""

IDLE = 1.5
WATCHDOG = 60


def main():
    tmp = tempfile.mkdtemp(prefix="sb-c2s-liveness-")
    procs = []
    sms = []
    try:
        env = dict(os.environ, SB_COMPONENT_SECRET=SECRET)
        make_cert(tmp, "localhost")
        swxml = os.path.join(tmp, "switchboard.xml")
        with open(swxml, "w") as f:
            f.write(SWITCHBOARD % {"db": os.path.join(tmp, "sb.db")})
        subprocess.run([SBCTL, "-c", swxml, "db", "init"], check=True, capture_output=True,
                       timeout=60)
        subprocess.run([SBCTL, "-c", swxml, "adduser", "juliet@localhost", "pw"], check=True,
                       capture_output=True, timeout=60)
        rport, port = free_port(), free_port()
        rxml = os.path.join(tmp, "router.xml")
        with open(rxml, "w") as f:
            f.write(ROUTER_XML % {"rport": rport})
        c2sxml = os.path.join(tmp, "c2s.xml")
        with open(c2sxml, "w") as f:
            f.write(C2S_XML % {"rport": rport, "port": port})

        def start_router():
            r = Proc(tmp, "router", [ROUTER, "-c", rxml], env)
            procs.append(r)
            wait_port(rport, r.proc, "router", r.logtext)
            sm = FakeSM(rport)
            sm.start()
            sms.append(sm)
            return r

        router = start_router()
        c2s = Proc(tmp, "c2s", [C2S, "-c", c2sxml, "-s", swxml], env)
        procs.append(c2s)
        wait_port(port, c2s.proc, "c2s", c2s.logtext)
        ok(c2s.wait_log(r"router link up as c2s1"), "c2s starts and links up with the router")

        def idle_close():
            c, _ = login(port, "juliet", "pw", "idle")
            clients.append(c)
            t0 = time.time()
            cond = c.stream_error(timeout=IDLE * 4)
            took = time.time() - t0
            return cond == "connection-timeout" and took >= IDLE * 0.8, (cond, took)
        check("a bound client that sends nothing: <connection-timeout/> after idle-timeout",
              lambda: idle_close()[0])

        def keepalive():
            c, _ = login(port, "juliet", "pw", "alive")
            clients.append(c)
            deadline = time.time() + IDLE * 2.5
            while time.time() < deadline:
                c.send(" ")
                time.sleep(IDLE / 6)
                if c.fill(0) and b"<stream:error>" in c.buf:
                    return False
            c.send("<message to='echo@localhost' id='k1'><body>alive</body></message>")
            c.expect(b"<body>echo: alive</body>")
            return True
        check("whitespace keepalives keep a client past the idle timeout", keepalive)

        # Bound clients kept across the next checks (check() closes H.clients).
        kept = [login(port, "juliet", "pw", "r%d" % i)[0] for i in range(3)]

        def router_dies():
            router.proc.send_signal(signal.SIGKILL)
            router.proc.wait(timeout=10)
            conds = [c.stream_error(timeout=10) for c in kept]
            return all(x == "reset" for x in conds) and c2s.wait_log(r"router link down"), conds
        check("router killed: bound clients get <reset/>, c2s logs the link down",
              lambda: router_dies()[0])
        for c in kept:
            c.close()

        def router_back():
            for sm in sms:
                sm.close()
            start_router()
            if not c2s.wait_log(r"router link up as c2s1(.|\n)*router link up as c2s1", timeout=15):
                return False
            c, jid = login(port, "juliet", "pw", "again")
            clients.append(c)
            c.send("<message to='echo@localhost' id='b1'><body>back</body></message>")
            c.expect(b"<body>echo: back</body>")
            return jid == "juliet@localhost/again"
        check("router back on its port: c2s links up again by itself and logins work",
              router_back)
    except Exception:
        ok(False, "unexpected failure", traceback.format_exc())
    finally:
        return H.finish(tmp, procs, sms)


if __name__ == "__main__":
    H.run(main, WATCHDOG)
