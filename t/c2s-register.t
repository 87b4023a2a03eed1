#!/usr/bin/python3
# c2s-register.t: XEP-0077 in-band registration and XEP-0078 legacy login
# through sb-c2s, with raw sockets and slixmpp.
#
# Starts sb-router, sb-c2s and the fake sm of t/lib/c2s_harness.py; the
# domain localhost has <registration> and <legacy-auth> on, example.test
# has both off. The fake sm deletes an account with `sbctl deluser` when
# c2s asks ('delete') and answers 'deleted'.
#
# Checks: no register/auth feature before TLS and a registration IQ there
# ends the stream; the features after TLS on and off; the fields; a new
# account and a SCRAM login with it; refusal on the domain with it off;
# conflict; bad usernames and passwords; a password change (the new one
# works, the old one fails, another user's is refused); cancel (result,
# the stream ends, the login fails afterwards); legacy login inside TLS,
# its errors, and refusal when off; the per-address registration limit;
# SIGTERM exits 0 with nothing left.
import os
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import c2s_harness as H  # noqa: E402
from c2s_harness import (ok, check, clients, close_clients, free_port, wait_port,  # noqa: E402
                         make_cert, Proc, FakeSM, Raw, login, slix_login, SWITCHBOARD,
                         ROUTER, C2S, SBCTL, SECRET)

WATCHDOG = 60
NS_REG = "jabber:iq:register"
NS_AUTH = "jabber:iq:auth"
FEAT_REG = b"<register xmlns='http://jabber.org/features/iq-register'/>"
FEAT_AUTH = b"<auth xmlns='http://jabber.org/features/iq-auth'/>"

ROUTER_XML = """<?xml version='1.0'?>
<router>
  <log level='debug'/>
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
    <registration>yes</registration>
    <legacy-auth>yes</legacy-auth>
  </domain>
  <domain name='example.test'>
    <certificate>example.test.crt</certificate>
    <key>example.test.key</key>
  </domain>
  <limits>
    <login-timeout>10s</login-timeout>
    <auth-failures>3</auth-failures>
  </limits>
</c2s>
"""


def iq_re(id_):
    return (r"<iq [^>]*id='%s'[^>]*?(?:/>|>.*?</iq>)" % id_).encode()


def main():
    tmp = tempfile.mkdtemp(prefix="sb-c2s-register-")
    procs = []
    sm = None
    try:
        env = dict(os.environ, SB_COMPONENT_SECRET=SECRET)
        make_cert(tmp, "localhost")
        make_cert(tmp, "example.test")
        swxml = os.path.join(tmp, "switchboard.xml")
        with open(swxml, "w") as f:
            f.write(SWITCHBOARD % {"db": os.path.join(tmp, "sb.db")})
        subprocess.run([SBCTL, "-c", swxml, "db", "init"], check=True, capture_output=True,
                       timeout=60)
        subprocess.run([SBCTL, "-c", swxml, "adduser", "existing@localhost", "pw"], check=True,
                       capture_output=True, timeout=60)
        rport, port = free_port(), free_port()
        with open(os.path.join(tmp, "router.xml"), "w") as f:
            f.write(ROUTER_XML % {"rport": rport})
        c2sxml = os.path.join(tmp, "c2s.xml")
        with open(c2sxml, "w") as f:
            f.write(C2S_XML % {"rport": rport, "port": port})
        router = Proc(tmp, "router", [ROUTER, "-c", os.path.join(tmp, "router.xml")], env)
        procs.append(router)
        wait_port(rport, router.proc, "router", router.logtext)
        sm = FakeSM(rport)

        def deluser(bare):
            subprocess.run([SBCTL, "-c", swxml, "deluser", bare], check=True,
                           capture_output=True, timeout=30)
        sm.on_delete = deluser
        sm.start()
        c2s = Proc(tmp, "c2s", [C2S, "-c", c2sxml, "-s", swxml], env)
        procs.append(c2s)
        wait_port(port, c2s.proc, "c2s", c2s.logtext)
        ok(c2s.wait_log(r"router link up as c2s1"), "c2s starts and links up with the router",
           c2s.logtext()[-2000:])

        def C(to="localhost"):
            """A raw client after STARTTLS: (client, features)."""
            c = Raw(port, sni=to)
            clients.append(c)
            c.open(to=to)
            c.header()
            c.features()
            c.starttls(sni=to)
            c.open(to=to)
            c.header()
            return c, c.features()

        def L(user, password, resource=None, bind=True):
            c, j = login(port, user, password, resource, bind=bind)
            clients.append(c)
            return c, j

        def register(c, user, password, id_="r1"):
            c.send("<iq type='set' id='%s'><query xmlns='%s'><username>%s</username>"
                   "<password>%s</password></query></iq>" % (id_, NS_REG, user, password))
            return c.expect(iq_re(id_)).group(0).decode()

        def can_login(user, password):
            c = Raw(port)
            clients.append(c)
            c.open()
            c.header()
            c.features()
            c.starttls()
            c.open()
            c.header()
            c.features()
            return c.plain(user, password).startswith("<success")

        # --- before TLS and the features ---
        def before_tls():
            c = Raw(port)
            clients.append(c)
            c.open()
            c.header()
            f = c.features()
            assert FEAT_REG not in f and FEAT_AUTH not in f, f
            c.send("<iq type='get' id='g0'><query xmlns='%s'/></iq>" % NS_REG)
            return c.stream_error() == "not-authorized"
        check("before TLS: no register or auth feature; a registration IQ ends the stream "
              "with <not-authorized/>", before_tls)

        def features_on_off():
            _, f = C()
            assert FEAT_REG in f and FEAT_AUTH in f, f
            _, f = C("example.test")
            assert FEAT_REG not in f and FEAT_AUTH not in f, f
            return True
        check("after TLS: iq-register and iq-auth features where they are on, not elsewhere",
              features_on_off)

        # --- registration ---
        def fields():
            c, _ = C()
            c.send("<iq type='get' id='g1'><query xmlns='%s'/></iq>" % NS_REG)
            r = c.expect(iq_re("g1")).group(0)
            return (b"type='result'" in r and b"<instructions>" in r and b"<username/>" in r
                    and b"<password/>" in r)
        check("get: instructions, username, password", fields)

        def register_and_login():
            c, _ = C()
            r = register(c, "Alice", "wonder land")
            assert "type='result'" in r, r
            r = slix_login(port, "alice@localhost/slix", "wonder land")
            assert r["session"] and r["mech"] == "SCRAM-SHA-256", r
            r = slix_login(port, "alice@localhost/slix1", "wonder land", mech="SCRAM-SHA-1")
            assert r["session"] and r["mech"] == "SCRAM-SHA-1", r
            return True
        check("a new account (username prepared), then SCRAM-SHA-256 and SCRAM-SHA-1 logins "
              "with slixmpp", register_and_login)

        def off_domain():
            c, _ = C("example.test")
            c.send("<iq type='get' id='g2'><query xmlns='%s'/></iq>" % NS_REG)
            r1 = c.expect(iq_re("g2")).group(0)
            r2 = register(c, "mallory", "secret", "r2").encode()
            return all(b"type='error'" in r and b"<service-unavailable" in r for r in (r1, r2))
        check("registration off: get and set get <service-unavailable/>", off_domain)

        def duplicate():
            c, _ = C()
            r = register(c, "alice", "another")
            assert "type='error'" in r and "<conflict" in r, r
            r = register(c, "existing", "another", "r3")
            return "type='error'" in r and "<conflict" in r
        check("an existing username: <conflict/>", duplicate)

        def bad_input():
            c, _ = C()
            r = register(c, "bad@name", "pw", "b1")
            assert "<jid-malformed" in r, r
            c.send("<iq type='set' id='b2'><query xmlns='%s'><username>nopw</username>"
                   "</query></iq>" % NS_REG)
            r = c.expect(iq_re("b2")).group(0).decode()
            assert "<not-acceptable" in r, r
            r = register(c, "emptypw", "", "b3")
            assert "<not-acceptable" in r, r
            r = register(c, "ctrlpw", "a&#x378;b", "b4")
            assert "<not-acceptable" in r, r
            return not can_login("emptypw", "")
        check("bad input: <jid-malformed/> for a bad username, <not-acceptable/> for a "
              "missing, empty or invalid password", bad_input)

        # --- after login: password change and cancel ---
        def change_password():
            c, _ = C()
            assert "type='result'" in register(c, "bob", "old password")
            c, jid = L("bob", "old password", "home")
            c.send("<iq type='get' id='p0'><query xmlns='%s'/></iq>" % NS_REG)
            r = c.expect(iq_re("p0")).group(0)
            assert b"<registered/>" in r and b"<username>bob</username>" in r, r
            r = register(c, "alice", "hijack", "p1")
            assert "type='error'" in r and "<not-allowed" in r, r
            r = register(c, "bob", "new password", "p2")
            assert "type='result'" in r, r
            assert can_login("bob", "new password"), "the new password fails"
            assert not can_login("bob", "old password"), "the old password works"
            return can_login("alice", "wonder land")
        check("password change: the new one works, the old one fails, another user's is "
              "<not-allowed/>", change_password)

        def cancel():
            c, _ = C()
            assert "type='result'" in register(c, "carol", "carol pw")
            c, jid = L("carol", "carol pw", "gone")
            c.send("<iq type='set' id='x1'><query xmlns='%s'><remove/></query></iq>" % NS_REG)
            r = c.expect(iq_re("x1")).group(0)
            assert b"type='result'" in r, r
            assert c.stream_error() == "not-authorized"
            assert any(to == "carol@localhost" for _, to in sm.deletes), sm.deletes
            return not can_login("carol", "carol pw")
        check("cancel: sm asked to delete, the result, the stream ends with "
              "<not-authorized/>, and the login fails afterwards", cancel)

        def bound_off():
            subprocess.run([SBCTL, "-c", swxml, "adduser", "dave@example.test", "dave pw"],
                           check=True, capture_output=True, timeout=30)
            c = Raw(port, sni="example.test")
            clients.append(c)
            c.open(to="example.test")
            c.header()
            c.features()
            c.starttls(sni="example.test")
            c.open(to="example.test")
            c.header()
            c.features()
            assert c.plain("dave", "dave pw").startswith("<success")
            c.open(to="example.test")
            c.header()
            c.features()
            assert "@" in c.bind("r")
            c.send("<iq type='set' id='o1'><query xmlns='%s'><remove/></query></iq>" % NS_REG)
            r = c.expect(iq_re("o1")).group(0)
            return b"type='error'" in r and b"<not-allowed" in r
        check("registration off, logged in: <remove/> gets <not-allowed/>", bound_off)

        # --- legacy authentication ---
        def legacy():
            c, _ = C()
            c.send("<iq type='get' id='a1'><query xmlns='%s'><username>alice</username>"
                   "</query></iq>" % NS_AUTH)
            r = c.expect(iq_re("a1")).group(0)
            assert b"<username/>" in r and b"<password/>" in r and b"<resource/>" in r, r
            assert b"<digest" not in r, r
            c.send("<iq type='set' id='a2'><query xmlns='%s'><username>alice</username>"
                   "<password>wrong</password><resource>old</resource></query></iq>" % NS_AUTH)
            r = c.expect(iq_re("a2")).group(0)
            assert b"type='error'" in r and b"<not-authorized" in r, r
            c.send("<iq type='set' id='a3'><query xmlns='%s'><username>alice</username>"
                   "<password>wonder land</password></query></iq>" % NS_AUTH)
            r = c.expect(iq_re("a3")).group(0)
            assert b"type='error'" in r and b"<not-acceptable" in r, r
            c.send("<iq type='set' id='a4'><query xmlns='%s'><username>alice</username>"
                   "<password>wonder land</password><resource>old</resource></query></iq>"
                   "<message to='echo@localhost'><body>legacy</body></message>" % NS_AUTH)
            r = c.expect(iq_re("a4")).group(0)
            assert b"type='result'" in r, r
            c.expect(rb"echo: legacy")
            return ("alice@localhost/old" in [j for _, j in sm.starts])
        check("legacy login inside TLS: fields without digest, <not-authorized/>, "
              "<not-acceptable/>, then a session and a message round trip", legacy)

        def legacy_off():
            c, _ = C("example.test")
            c.send("<iq type='set' id='a5'><query xmlns='%s'><username>dave</username>"
                   "<password>dave pw</password><resource>x</resource></query></iq>" % NS_AUTH)
            r = c.expect(iq_re("a5")).group(0)
            assert b"type='error'" in r and b"<service-unavailable" in r, r
            c = Raw(port)
            clients.append(c)
            c.open()
            c.header()
            c.features()
            c.send("<iq type='set' id='a6'><query xmlns='%s'><username>alice</username>"
                   "<password>wonder land</password><resource>x</resource></query></iq>"
                   % NS_AUTH)
            return c.stream_error() == "not-authorized"
        check("legacy login off: <service-unavailable/>; before TLS: the stream ends",
              legacy_off)

        # --- the per-address limit (last: it uses up this address) ---
        def limit():
            c, _ = C()
            for i in range(12):
                r = register(c, "many%d" % i, "pw", "m%d" % i)
                if "<resource-constraint" in r:
                    assert "type='wait'" in r, r
                    return c2s.wait_log(r"registration refused: 10 accounts")
                assert "type='result'" in r, r
            raise AssertionError("12 more registrations from one address were accepted")
        check("at most 10 registrations per address: then <resource-constraint/> (wait)",
              limit)

        def shutdown():
            close_clients()
            return c2s.stop() == 0
        check("SIGTERM: exit 0", shutdown)
        ok(sm.error is None, "the fake sm saw nothing it could not parse", sm.error)
    except Exception:
        ok(False, "test set-up", traceback.format_exc())
    finally:
        return H.finish(tmp, procs, [sm])


if __name__ == "__main__":
    H.run(main, WATCHDOG)
