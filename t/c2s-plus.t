#!/usr/bin/python3
# c2s-plus.t: SCRAM with channel binding (-PLUS) over the network, against
# sb-c2s, with a SCRAM client written here (slixmpp only knows tls-unique,
# which TLS 1.3 does not have). The binding is tls-server-end-point
# (RFC 5929): the SHA-256 of the server's certificate, which a client can
# compute from the certificate it received.
#
# Checks: the features offer the -PLUS mechanisms and the XEP-0440 binding
# types; a SCRAM-SHA-256-PLUS login whose server signature verifies, then a
# bind; wrong binding data fails; the 'y' flag (client could bind, thinks
# the server cannot) while the server offers -PLUS fails (RFC 5802
# downgrade protection); a 'p=' flag on a mechanism without -PLUS is
# malformed; 'n' (a client without channel binding) still logs in with
# plain SCRAM-SHA-1.
import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import c2s_harness as H  # noqa: E402
from c2s_harness import (ok, check, clients, free_port, wait_port,  # noqa: E402
                         make_cert, Proc, FakeSM, Raw, SWITCHBOARD, ROUTER, C2S, SBCTL, SECRET)

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
  <router address='127.0.0.1' port='%(rport)d' name='c2s1' secret='${SB_COMPONENT_SECRET}'/>
  <listen address='127.0.0.1' port='%(port)d' tls='starttls'/>
  <domain name='localhost'>
    <certificate>localhost.crt</certificate>
    <key>localhost.key</key>
  </domain>
</c2s>
"""

USER, PASSWORD = "juliet", "r0meo & more"


def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()


def hm(hashname, key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashname).digest()


def sasl_answer(c):
    """('challenge'|'success', data) or ('failure', condition)."""
    m = c.expect(rb"<(challenge|success|failure) xmlns='urn:ietf:params:xml:ns:xmpp-sasl'"
                 rb"(?:/>|>(.*?)</\1>)")
    kind, body = m.group(1).decode(), (m.group(2) or b"").decode()
    if kind == "failure":
        cond = re.match(r"<([a-z-]+)", body)
        return kind, cond.group(1) if cond else body
    return kind, base64.b64decode(body).decode() if body and body != "=" else ""


def scram(c, mech, gs2, cbdata=b"", user=USER, password=PASSWORD):
    """A SCRAM exchange; (result, detail). result: 'success' (server signature checked),
    'failure' (detail: the condition), or 'bad-signature'."""
    hashname = "sha256" if "SHA-256" in mech else "sha1"
    nonce = b64(os.urandom(18))
    bare = "n=%s,r=%s" % (user, nonce)
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>" %
           (mech, b64(gs2 + bare)))
    kind, sfirst = sasl_answer(c)
    if kind != "challenge":
        return kind, sfirst
    attrs = dict(kv.split("=", 1) for kv in sfirst.split(","))
    assert attrs["r"].startswith(nonce), sfirst
    salted = hashlib.pbkdf2_hmac(hashname, password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hm(hashname, salted, "Client Key")
    stored_key = hashlib.new(hashname, client_key).digest()
    without_proof = "c=%s,r=%s" % (b64(gs2.encode() + cbdata), attrs["r"])
    auth_message = "%s,%s,%s" % (bare, sfirst, without_proof)
    signature = hm(hashname, stored_key, auth_message)
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>" %
           b64(without_proof + ",p=" + b64(proof)))
    kind, final = sasl_answer(c)
    if kind != "success":
        return kind, final
    server_sig = hm(hashname, hm(hashname, salted, "Server Key"), auth_message)
    return ("success" if final == "v=" + b64(server_sig) else "bad-signature"), final


WATCHDOG = 60


def main():
    tmp = tempfile.mkdtemp(prefix="sb-c2s-plus-")
    procs = []
    sm = None
    try:
        env = dict(os.environ, SB_COMPONENT_SECRET=SECRET)
        crt, _ = make_cert(tmp, "localhost")
        swxml = os.path.join(tmp, "switchboard.xml")
        with open(swxml, "w") as f:
            f.write(SWITCHBOARD % {"db": os.path.join(tmp, "sb.db")})
        subprocess.run([SBCTL, "-c", swxml, "db", "init"], check=True, capture_output=True,
                       timeout=60)
        subprocess.run([SBCTL, "-c", swxml, "adduser", USER + "@localhost", PASSWORD],
                       check=True, capture_output=True, timeout=60)
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
        sm.start()
        c2s = Proc(tmp, "c2s", [C2S, "-c", c2sxml, "-s", swxml], env)
        procs.append(c2s)
        wait_port(port, c2s.proc, "c2s", c2s.logtext)
        ok(c2s.wait_log(r"router link up as c2s1"), "c2s starts and links up with the router",
           c2s.logtext()[-2000:])

        def tls_client():
            """After STARTTLS: (client, features, tls-server-end-point data)."""
            c = Raw(port)
            clients.append(c)
            c.open()
            c.header()
            c.features()
            c.starttls()
            c.open()
            c.header()
            f = c.features()
            return c, f, hashlib.sha256(c.s.getpeercert(binary_form=True)).digest()

        def features():
            _, f, _ = tls_client()
            mechs = re.findall(rb"<mechanism>([A-Z0-9-]+)</mechanism>", f)
            cb = re.search(rb"<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>(.*?)"
                           rb"</sasl-channel-binding>", f)
            types = re.findall(rb"<channel-binding type='([a-z-]+)'/>", cb.group(1)) if cb else []
            return (b"SCRAM-SHA-256-PLUS" in mechs and b"SCRAM-SHA-1-PLUS" in mechs and
                    b"tls-server-end-point" in types and b"tls-exporter" in types), (mechs, types)
        check("after TLS 1.3: -PLUS mechanisms and XEP-0440 binding types (tls-exporter, "
              "tls-server-end-point) offered", lambda: features()[0])

        def plus_login():
            c, _, cb = tls_client()
            res = scram(c, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", cb)
            if res[0] != "success":
                return ok(False, "plus login", repr(res)) and False
            c.open()
            c.header()
            c.features()
            c.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<resource>plus</resource></bind></iq>")
            m = c.expect(rb"<iq [^>]*id='b1'[^>]*>.*?</iq>")
            return b"<jid>juliet@localhost/plus</jid>" in m.group(0)
        check("SCRAM-SHA-256-PLUS with tls-server-end-point: success, the server signature "
              "verifies, and the session binds", plus_login)

        def plus_sha1():
            c, _, cb = tls_client()
            return scram(c, "SCRAM-SHA-1-PLUS", "p=tls-server-end-point,,", cb)[0] == "success"
        check("SCRAM-SHA-1-PLUS with tls-server-end-point: success", plus_sha1)

        def wrong_cb():
            c, _, cb = tls_client()
            res = scram(c, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", bytes(32))
            return res == ("failure", "not-authorized"), res
        check("wrong channel-binding data: not-authorized", lambda: wrong_cb()[0])

        def wrong_password():
            c, _, cb = tls_client()
            res = scram(c, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", cb,
                        password="wrong")
            return res == ("failure", "not-authorized"), res
        check("-PLUS with a wrong password: not-authorized", lambda: wrong_password()[0])

        def downgrade():
            c, _, _ = tls_client()
            res = scram(c, "SCRAM-SHA-256", "y,,")
            return res == ("failure", "not-authorized"), res
        check("'y' while the server offers -PLUS (a downgrade): not-authorized",
              lambda: downgrade()[0])

        def p_without_plus():
            c, _, cb = tls_client()
            res = scram(c, "SCRAM-SHA-256", "p=tls-server-end-point,,", cb)
            return res == ("failure", "malformed-request"), res
        check("'p=' on a mechanism without -PLUS: malformed-request", lambda: p_without_plus()[0])

        def no_cb():
            c, _, _ = tls_client()
            return scram(c, "SCRAM-SHA-1", "n,,")[0] == "success"
        check("'n' (no channel binding) with SCRAM-SHA-1: success", no_cb)
    except Exception:
        ok(False, "unexpected failure", traceback.format_exc())
    finally:
        return H.finish(tmp, procs, [sm])


if __name__ == "__main__":
    H.run(main, WATCHDOG)
