#!/usr/bin/python3
# c2s-login.t: client logins through sb-c2s, with a real client and raw sockets.
#
# Starts $SB_BUILD/sb-router and $SB_BUILD/sb-c2s on free ports with their
# own configuration in a temporary directory, a SQLite database made with
# sbctl (db init, adduser), self-signed certificates made with certtool, and
# a FAKE session manager written here: a raw-socket internal component
# 'sm1' that binds the domain, answers <session action='start'/> with
# 'started' (or 'replaced' for the holder of the same full JID first),
# answers IQs, and echoes messages back.
#
# Checks: STARTTLS + SCRAM-SHA-256 login and a message round trip with
# slixmpp; direct TLS (ALPN, SNI); a wrong password; PLAIN refused before
# TLS; what the stream offers at each step; host-unknown, invalid namespace,
# unsupported version; junk before the header; an oversized stanza;
# stanzas before bind; stanzas queued until 'started'; 'from' stamping;
# resource conflict; a client gone in the middle of SASL leaves nothing;
# login timeout; ping; connections per address; a client that does not
# read; SIGTERM ends every session.
#
# Every read has a timeout, a watchdog ends the whole test, and every
# process is killed at the end whatever happens.
import base64
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import c2s_harness as H  # noqa: E402
from c2s_harness import *  # noqa: E402,F401,F403

WATCHDOG = 180
PER_ADDRESS = 30

USERS = {"juliet": "balcony-Pässword", "romeo": "r0meo secret"}

# --- set-up: configuration ---

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
  <listen address='127.0.0.1' port='%(dport)d' tls='direct-tls'/>
  <domain name='LocalHost'>
    <certificate>localhost.crt</certificate>
    <key>localhost.key</key>
  </domain>
  <domain name='example.test'>
    <certificate>example.test.crt</certificate>
    <key>example.test.key</key>
  </domain>
  <limits>
    <stanza-size>16k</stanza-size>
    <login-timeout>%(login)s</login-timeout>
    <idle-timeout>30s</idle-timeout>
    <ping-interval>1s</ping-interval>
    <connections-per-address>%(peraddr)d</connections-per-address>
    <read-rate>32k</read-rate>
    <read-burst>48k</read-burst>
    <write-buffer>64k</write-buffer>
    <auth-failures>2</auth-failures>
  </limits>
</c2s>
"""




def login(port, user, resource=None, direct_tls=False, bind=True):
    """A raw client through STARTTLS (or direct TLS), PLAIN and bind: (client, full JID)."""
    return H.login(port, user, USERS[user], resource, direct_tls, bind)


# --- the checks ---

def main():
    tmp = tempfile.mkdtemp(prefix="sb-c2s-login-")
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
        for u, p in USERS.items():
            subprocess.run([SBCTL, "-c", swxml, "adduser", "%s@%s" % (u, DOMAIN), p], check=True,
                           capture_output=True, timeout=60)
        ok(True, "database made with sbctl db init and adduser")

        rport, port, dport = free_port(), free_port(), free_port()
        with open(os.path.join(tmp, "router.xml"), "w") as f:
            f.write(ROUTER_XML % {"rport": rport})
        c2sxml = os.path.join(tmp, "c2s.xml")
        with open(c2sxml, "w") as f:
            f.write(C2S_XML % {"rport": rport, "port": port, "dport": dport, "login": "4s",
                               "peraddr": PER_ADDRESS})
        router = Proc(tmp, "router", [ROUTER, "-c", os.path.join(tmp, "router.xml")], env)
        procs.append(router)
        wait_port(rport, router.proc, "router", router.logtext)
        sm = FakeSM(rport)
        sm.start()
        c2s = Proc(tmp, "c2s", [C2S, "-c", c2sxml], env)
        procs.append(c2s)
        wait_port(port, c2s.proc, "c2s", c2s.logtext)
        wait_port(dport, c2s.proc, "c2s", c2s.logtext)
        ok(c2s.wait_log(r"router link up as c2s1"), "c2s starts and links up with the router",
           c2s.logtext()[-2000:])

        def C(*a, **kw):
            c = Raw(*a, **kw)
            clients.append(c)
            return c

        def L(*a, **kw):
            c, j = login(*a, **kw)
            clients.append(c)
            return c, j

        # --- a real client ---
        def slix_starttls():
            r = slix_login(port, "juliet@localhost/slix", USERS["juliet"], message="hello there")
            assert r["session"], r
            assert r["mech"] == "SCRAM-SHA-256", r
            assert r["echo"] == "echo: hello there", r
            assert r["echo_to"] == "juliet@localhost/slix", r
            return True
        check("slixmpp: STARTTLS, SCRAM-SHA-256, bind, a message round trip through sm",
              slix_starttls)

        def slix_direct():
            r = slix_login(dport, "romeo@localhost/direct", USERS["romeo"], use_ssl=True,
                           message="direct")
            assert r["session"] and r["echo"] == "echo: direct", r
            return True
        check("slixmpp: direct TLS login and a message round trip", slix_direct)

        def slix_stock():
            # Debian's slixmpp binds channels with tls-unique only, which TLS 1.3
            # lacks: its -PLUS tries and its 'y' flag fail before any password
            # is looked at, count against nobody, and it goes on to PLAIN.
            r = slix_login(port, "juliet@localhost/stock", USERS["juliet"], stock=True)
            assert r["session"] and not r["failed_auth"], r
        check("slixmpp as shipped (own mechanism choice, tls-unique only) logs in",
              slix_stock)

        def slix_wrong():
            r = slix_login(port, "juliet@localhost/wrong", "not the password")
            assert r["failed_auth"] and not r["session"], r
            return True
        check("slixmpp: a wrong password fails", slix_wrong)
        check("the failed login is logged", lambda: c2s.wait_log(r"authentication as juliet failed: not-authorized"))

        # --- before TLS ---
        def before_tls():
            c = C(port)
            c.open()
            h = c.header()
            assert b"from='localhost'" in h and b"version='1.0'" in h and b" id='" in h, h
            f = c.features()
            assert f == (b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                         b"<required/></starttls></stream:features>"), f
            r = c.plain("juliet", USERS["juliet"])
            assert "<encryption-required/>" in r, r
            c.send("<message to='romeo@localhost'><body>x</body></message>")
            return c.stream_error() == "not-authorized"
        check("before TLS: only <starttls><required/>; PLAIN gets <encryption-required/>, "
              "a stanza <not-authorized/>", before_tls)

        def features_after_tls():
            c = C(port)
            c.open()
            c.header()
            c.features()
            c.starttls()
            c.open()
            c.header()
            f = c.features().decode()
            for m in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
                assert "<mechanism>%s</mechanism>" % m in f, f
            assert "starttls" not in f and "xmpp-bind" not in f, f
            c.send("<iq type='get' id='x'><query xmlns='jabber:iq:roster'/></iq>")
            return c.stream_error() == "not-authorized"
        check("after STARTTLS: SASL mechanisms, no STARTTLS; a stanza before SASL is "
              "<not-authorized/>", features_after_tls)

        def starttls_pipelined():
            # <starttls/> and the ClientHello in one write: the bytes after
            # the element must reach TLS, not the XML parser.
            c = C(port)
            c.open()
            c.header()
            c.features()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = ctx.wrap_bio(inc, out, server_hostname=DOMAIN)
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            c.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + out.read())
            c.expect(rb"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            deadline = time.time() + WAIT
            while True:
                inc.write(c.buf)
                c.buf = b""
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pass
                c.send(out.read())
                if time.time() > deadline or not c.fill(deadline - time.time()):
                    raise AssertionError("TLS handshake did not finish")
            c.send(out.read())
            tls.write(("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                       "xmlns:stream='%s' to='localhost' version='1.0'>" % NS_STREAMS).encode())
            c.send(out.read())
            plain = b""
            while b"</stream:features>" not in plain and time.time() < deadline:
                c.fill(deadline - time.time())
                inc.write(c.buf)
                c.buf = b""
                try:
                    while True:
                        plain += tls.read(65536)
                except ssl.SSLWantReadError:
                    pass
            return b"<mechanism>PLAIN</mechanism>" in plain
        check("STARTTLS with the ClientHello in the same write as <starttls/>",
              starttls_pipelined)

        def sasl_pipelined():
            # The answer to PLAIN waits for storage: what follows <auth/> in
            # the same write (the new header, the bind) must wait, then go
            # to the restarted stream.
            c = C(port)
            c.open()
            c.header()
            c.features()
            c.starttls()
            c.open()
            c.header()
            c.features()
            c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>"
                   "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='%s' "
                   "to='localhost' version='1.0'><iq type='set' id='pb'><bind "
                   "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>piped</resource></bind></iq>"
                   % (base64.b64encode(("\0romeo\0" + USERS["romeo"]).encode()).decode(),
                      NS_STREAMS))
            c.expect(rb"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            h = c.expect(rb"<stream:stream[^>]*>").group(0)
            f = c.expect(rb"<stream:features>.*?</stream:features>").group(0)
            m = c.expect(rb"<iq [^>]*id='pb'[^>]*>.*?</iq>").group(0)
            return (b"from='localhost'" in h and b"xmpp-bind" in f and
                    b"<jid>romeo@localhost/piped</jid>" in m)
        check("SASL, the restarted stream and the bind pipelined in one write", sasl_pipelined)

        def direct_alpn_sni():
            c = C(dport, direct_tls=True, sni="example.test", alpn=["xmpp-client"])
            assert c.s.selected_alpn_protocol() == "xmpp-client", c.s.selected_alpn_protocol()
            der = c.s.getpeercert(True)
            assert b"example.test" in der, "not the example.test certificate"
            c.open(to="example.test")
            h = c.header()
            assert b"from='example.test'" in h, h
            f = c.features()
            return b"<mechanism>PLAIN</mechanism>" in f and b"starttls" not in f
        check("direct TLS: ALPN xmpp-client, the certificate chosen by SNI, SASL offered",
              direct_alpn_sni)

        # --- header checks ---
        def host_unknown():
            c = C(port)
            c.open(to="nowhere.example")
            return c.stream_error() == "host-unknown"
        check("a domain not served: <host-unknown/>", host_unknown)

        def no_to():
            c = C(port)
            c.open(to=None)
            return c.stream_error() == "host-unknown"
        check("no 'to': <host-unknown/>", no_to)

        def bad_ns():
            c = C(port)
            c.open(ns="jabber:server")
            h = c.header()
            return b"from='localhost'" in h and c.stream_error() == "invalid-namespace"
        check("content namespace jabber:server: our header, then <invalid-namespace/>", bad_ns)

        def old_version():
            c = C(port)
            c.open(version=None)
            return c.stream_error() == "unsupported-version"
        check("no version (0.9): <unsupported-version/>", old_version)

        def domain_case():
            c = C(port)
            c.open(to="LOCALHOST")
            h = c.header()
            return b"from='localhost'" in h
        check("'to' is compared in canonical form", domain_case)

        def junk():
            c = C(port)
            c.send("hello world\r\n<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                   "xmlns:stream='%s' to='localhost' version='1.0'>" % NS_STREAMS)
            return c.stream_error() in ("not-well-formed", "bad-format")
        check("junk before the header: a stream error and the end", junk)

        def junk_after():
            c, _ = L(port, "romeo", "junk")
            c.send("</stream:stream>")
            c.expect(rb"</stream:stream>")
            c.send("garbage after the end <<<")
            return c.wait_eof()
        check("</stream:stream>: answered and closed; bytes after it ignored", junk_after)

        def big_before_tls():
            c = C(port)
            c.open()
            c.header()
            c.features()
            c.send("<message><body>%s</body></message>" % ("y" * 20000))
            return c.stream_error() == "policy-violation"
        check("an oversized stanza before TLS: <policy-violation/>", big_before_tls)

        def big_bound():
            c, jid = L(port, "romeo", "big")
            c.send("<message to='echo@localhost'><body>%s</body></message>" % ("z" * 20000))
            return c.stream_error() == "policy-violation"
        check("an oversized stanza after login: <policy-violation/>", big_bound)

        # --- SASL over raw sockets ---
        def wrong_plain_twice():
            c = C(port)
            c.open()
            c.header()
            c.features()
            c.starttls()
            c.open()
            c.header()
            c.features()
            r1 = c.plain("juliet", "wrong")
            assert "<not-authorized/>" in r1, r1
            r2 = c.plain("juliet", "wrong again")
            assert "<not-authorized/>" in r2, r2
            return c.stream_error() == "policy-violation"
        check("two failed SASL attempts (auth-failures 2): <policy-violation/>", wrong_plain_twice)

        def sasl_gone():
            n_starts = len(sm.starts)
            c = C(port)
            c.open()
            c.header()
            c.features()
            c.starttls()
            c.open()
            c.header()
            c.features()
            c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>%s"
                   "</auth>" % base64.b64encode(b"n,,n=juliet,r=abcdefghijklmnop").decode())
            c.expect(rb"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>")
            c.close()
            time.sleep(0.3)
            return len(sm.starts) == n_starts
        check("a client gone in the middle of SASL: no session started", sasl_gone)

        # --- binding ---
        def features_after_sasl():
            c, f = L(port, "juliet", bind=False)
            assert "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>" in f, f
            assert "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>" in f, f
            c.send("<presence/>")
            return c.stream_error() == "not-authorized"
        check("after SASL: bind and the optional session; a stanza before bind is "
              "<not-authorized/>", features_after_sasl)

        def bind_generated():
            c, jid = L(port, "juliet")
            return re.fullmatch(r"juliet@localhost/[a-z0-9]{16}", jid) is not None
        check("bind without a resource: a server-made one", bind_generated)

        def bind_session_stamp():
            c, jid = L(port, "romeo", "Stamp")
            assert jid == "romeo@localhost/Stamp", jid
            c.send("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
            c.expect(rb"<iq [^>]*type='result'[^>]*id='s1'|<iq [^>]*id='s1'[^>]*type='result'")
            c.send("<message from='juliet@localhost/forged' to='echo@LOCALHOST'><body>stamp</body></message>")
            c.expect(rb"echo: stamp")
            sid = sm.sid_of(jid)
            msgs = [el for el in sm.stanzas_of(sid) if el.tag == "{%s}message" % NS_COMP]
            assert msgs and msgs[-1].get("from") == "romeo@localhost/Stamp", [m.attrib for m in msgs]
            assert msgs[-1].get("to") == "echo@localhost", msgs[-1].attrib
            return True
        check("the session IQ gets a result; 'from' is stamped with the full JID", bind_session_stamp)

        def bad_iq():
            c, jid = L(port, "romeo", "badiq")
            c.send("<iq type='get' id='two'><a xmlns='urn:x'/><b xmlns='urn:x'/></iq>"
                   "<iq type='nonsense' id='t'><a xmlns='urn:x'/></iq>")
            m1 = c.expect(rb"<iq [^>]*id='two'[^>]*>.*?</iq>").group(0)
            m2 = c.expect(rb"<iq [^>]*id='t'[^>]*>.*?</iq>").group(0)
            return all(b"type='error'" in m and b"<bad-request" in m for m in (m1, m2))
        check("an IQ with two payloads or an unknown type: <bad-request/>", bad_iq)

        def second_bind():
            c, jid = L(port, "romeo", "twice")
            c.send("<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<resource>other</resource></bind></iq>")
            m = c.expect(rb"<iq [^>]*id='b2'[^>]*>.*?</iq>")
            return b"type='error'" in m.group(0) and b"<not-allowed" in m.group(0)
        check("a second bind: <not-allowed/>", second_bind)

        def bad_resource():
            c, _ = L(port, "romeo", bind=False)
            r = c.bind("r" * 1100)     # a resourcepart has at most 1023 bytes
            return "type='error'" in r and "<bad-request" in r
        check("an invalid resource: <bad-request/>", bad_resource)

        def bind_failed():
            c, _ = L(port, "romeo", bind=False)
            r = c.bind("fail-me", id_="f1")
            assert "type='error'" in r and "<not-allowed" in r, r
            jid = c.bind("after-fail", id_="f2")
            return jid == "romeo@localhost/after-fail"
        check("sm says 'failed': the bind gets its condition and the client may bind again",
              bind_failed)

        def queued_until_started():
            sm.delay["slow"] = 0.5
            c, _ = L(port, "juliet", bind=False)
            c.send("<iq type='set' id='q1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<resource>slow</resource></bind></iq>"
                   "<message to='echo@localhost'><body>one</body></message>"
                   "<message to='echo@localhost'><body>two</body></message>")
            c.expect(rb"<iq [^>]*id='q1'[^>]*>.*?</iq>")
            before = c.skipped
            assert b"echo:" not in before, before
            c.expect(rb"echo: one")
            c.expect(rb"echo: two")
            return True
        check("stanzas sent before 'started' wait, in order, and go after the bind result",
              queued_until_started)

        def conflict():
            a, ja = L(port, "juliet", "phone")
            b, jb = L(port, "juliet", "phone")
            assert ja == jb == "juliet@localhost/phone", (ja, jb)
            assert a.stream_error() == "conflict"
            b.send("<message to='echo@localhost'><body>still here</body></message>")
            b.expect(rb"echo: still here")
            return True
        check("resource conflict: sm says 'replaced', the old stream gets <conflict/>, "
              "the new one works", conflict)

        def sm_ends():
            c, jid = L(port, "romeo", "ended")
            sm.end_session(jid, "policy-violation")
            return c.stream_error() == "policy-violation"
        check("sm ends a session: the stream error it names", sm_ends)

        def disconnect_ends():
            c, jid = L(port, "romeo", "gone")
            sid = sm.sid_of(jid)
            c.close()
            deadline = time.time() + WAIT
            while sid not in sm.ended and time.time() < deadline:
                time.sleep(0.05)
            return sid in sm.ended
        check("a client that disconnects: sm is told 'end'", disconnect_ends)

        def orphans_end():
            # sm believes in sessions c2s no longer has: a late 'started', and a
            # stanza for a gone sid. c2s answers 'end' addressed to the user's
            # bare JID (the shard owning the user), not to the envelope's 'from'.
            sm.to_c2s("c2s1", "<session xmlns='%s' action='started' sid='gone1' "
                      "jid='romeo@localhost/late'/>" % NS_SESSION)
            sm.to_c2s("c2s1", "<message xmlns='%s' to='juliet@localhost/gone' "
                      "from='romeo@localhost'><body>x</body></message>" % NS_COMP, "gone2")
            want = {("gone1", "romeo@localhost"), ("gone2", "juliet@localhost")}
            deadline = time.time() + WAIT
            while not want <= set(sm.ended_to) and time.time() < deadline:
                time.sleep(0.05)
            assert want <= set(sm.ended_to), sm.ended_to
        check("sessions sm holds that c2s lost: 'end' to the user's bare JID", orphans_end)

        # --- limits ---
        def ping():
            c, jid = L(port, "romeo", "pinged")
            m = c.expect(rb"<iq type='get' id='(sb-ping-[0-9a-f]+)'[^>]*><ping xmlns='urn:xmpp:ping'/></iq>",
                         timeout=5)
            c.send("<iq type='result' id='%s' to='localhost'/>" % m.group(1).decode())
            c.send("<message to='echo@localhost'><body>after ping</body></message>")
            c.expect(rb"echo: after ping")
            sid = sm.sid_of(jid)
            iqs = [el for el in sm.stanzas_of(sid) if el.get("id") == m.group(1).decode()]
            return not iqs
        check("an idle client is pinged; the answer is taken by c2s, not sent to sm", ping)

        def login_timeout():
            c = C(port)
            c.open()
            c.header()
            c.features()
            return c.stream_error(timeout=8) == "connection-timeout"
        check("no login within login-timeout: <connection-timeout/>", login_timeout)

        def not_reading():
            c, jid = L(port, "juliet", "deaf")
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.send("<message to='echo@localhost'><body>flood</body></message>")
            return c2s.wait_log(r"juliet@localhost/deaf: <policy-violation/>: not reading")
        check("a client that does not read is cut off at the write-buffer bound", not_reading)

        def rate():
            c, jid = L(port, "romeo", "fast")
            c.send(b" " * 100000)       # whitespace keepalives, over the rate
            c.send("<message to='echo@localhost'><body>after the burst</body></message>")
            c.expect(rb"echo: after the burst")
            return c2s.wait_log(r"romeo@localhost/fast: over the read rate: paused")
        check("whitespace keepalives are taken; over the read rate, reading pauses and "
              "nothing is lost", rate)

        def sm_gone():
            nonlocal sm
            c, jid = L(port, "juliet", "orphan")
            sm.close()
            assert c.stream_error() == "reset"
            sm.join(WAIT)
            c, _ = L(port, "romeo", bind=False)
            r = c.bind("nobody-home")
            assert "type='error'" in r and "<service-unavailable" in r, r
            sm = FakeSM(rport)
            sm.start()
            c, jid = L(port, "juliet", "adopted")
            c.send("<message to='echo@localhost'><body>new sm</body></message>")
            c.expect(rb"echo: new sm")
            return True
        check("the session manager goes away: its sessions end with <reset/>, a bind "
              "meanwhile gets <service-unavailable/>; a new one takes over", sm_gone)

        def counters_zero():
            deadline = time.time() + WAIT
            while time.time() < deadline:
                c2s.proc.send_signal(signal.SIGUSR1)
                time.sleep(0.2)
                lines = re.findall(r"(\d+) connections, (\d+) sessions", c2s.logtext())
                if lines and lines[-1] == ("0", "0"):
                    return True
            raise AssertionError("last counters: %r" % (lines[-1:],))
        check("every client gone: no connection and no session left", counters_zero)

        def per_address():
            conns = [C(port) for _ in range(PER_ADDRESS)]
            for c in conns:
                c.open()
                c.header()
            extra = C(port)
            extra.wait_eof(3)
            return c2s.wait_log(r"refused: already %d connections from this address" % PER_ADDRESS)
        check("connections per address: one more is closed at once", per_address)
        check("and they are counted down again", counters_zero)

        def shutdown():
            c, jid = L(port, "romeo", "shutdown")
            sid = sm.sid_of(jid)
            rc = c2s.stop()
            assert c.stream_error() == "system-shutdown"
            deadline = time.time() + WAIT
            while sid not in sm.ended and time.time() < deadline:
                time.sleep(0.05)
            assert sid in sm.ended, "no 'end' for the session"
            assert rc == 0, "exit status %r" % rc
            return True
        check("SIGTERM: <system-shutdown/>, sm told 'end', exit 0 with nothing left open",
              shutdown)
        ok(sm.error is None, "the fake sm saw nothing it could not parse", sm.error)
    except Exception:
        ok(False, "test set-up", traceback.format_exc())
    finally:
        return H.finish(tmp, procs, [sm])


if __name__ == "__main__":
    H.run(main, WATCHDOG)
