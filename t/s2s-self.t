#!/usr/bin/python3
# s2s-self.t: two switchboard servers federating with each other through
# sb-s2s: sb1.example on 127.0.3.1 and sb2.example on 127.0.3.2, names
# resolved by a dnsmasq on 127.0.3.53 that only this test feeds (sb1 by an
# _xmpp-server SRV record, sb2 by an _xmpps-server one: direct TLS on 5270,
# XEP-0368).
#
#   1. certificates from a test CA, policy require-cert: SASL EXTERNAL both
#      ways, XEP-0288 bidi (one TCP connection carries both directions),
#      messages and a presence subscription both ways
#   2. bounces: a domain whose server refuses connections, one whose server
#      accepts and then says nothing (remote-server-timeout, with the queue
#      bound: stanzas beyond it bounce at once with resource-constraint),
#      one that does not exist, an IQ to nowhere; an error stanza is never
#      bounced
#   3. self-signed certificates, policy dialback, bidi off: XEP-0220 both
#      ways over two connections, closed once idle
#   4. a wrong certificate under require-cert: refused, and the stanzas
#      bounce to their senders in both directions
#   5. what an incoming stream may not do: a 'to' not served here, a 'from'
#      that policy denies, stanzas before TLS, and stanzas from a domain the
#      stream did not authenticate
import asyncio
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import c2s_harness as H  # noqa: E402
import fed_harness as F  # noqa: E402
import sm_harness as S  # noqa: E402
from c2s_harness import ok  # noqa: E402

net = F.Block(3)
SB1, SB2 = "sb1.example", "sb2.example"
IP1, IP2, DOWN, SILENT = net.addr(1), net.addr(2), net.addr(9), net.addr(8)
WAIT = 20

ca = F.CA()
dns = F.DNS(net.dns)
dns.host_record("xmpp." + SB1, IP1)
dns.srv("_xmpp-server._tcp." + SB1, "xmpp." + SB1, 5269)
dns.host_record(SB2, IP2)
dns.srv("_xmpps-server._tcp." + SB2, SB2, 5270)  # XEP-0368: direct TLS
dns.host_record("down.example", DOWN)          # nothing listens there
dns.host_record("silent.example", SILENT)      # accepts, never answers
dns.start()
silent = socket.socket()
silent.bind((SILENT, 5269))
silent.listen(16)                              # never accepted: the kernel completes the handshake


def s2s_body(ip, policy="require-cert", bidi="yes", idle="10m"):
    return """<listen address='%s' port='5269'/>
  <listen address='%s' port='5270' tls='direct-tls'/>
  <tls ca-file='%s' bidi='%s'/>
  <dns server='%s' timeout='2s'/>
  <policy default='%s'><remote domain='Denied.Example' policy='deny'/></policy>
  <limits><connect-timeout>3s</connect-timeout><setup-timeout>3s</setup-timeout>
    <idle-timeout>%s</idle-timeout><queue>3</queue></limits>
""" % (ip, ip, ca.file, bidi, net.dns, policy, idle)


def pair(cert1, cert2, policy1="require-cert", policy2="require-cert", bidi="yes",
         idle="10m"):
    a = S.Server(domain=SB1, cert=cert1, s2s=s2s_body(IP1, policy1, bidi, idle))
    b = S.Server(domain=SB2, cert=cert2, s2s=s2s_body(IP2, policy2, bidi, idle))
    a.adduser("alice", "pw")
    b.adduser("bob", "pw")
    return a, b


def is_msg(body):
    return lambda s: S.tag(s) == "message" and s.findtext("{jabber:client}body") == body


def log_has(srv, pattern):
    return re.search(pattern, srv.s2s.logtext()) is not None


async def exchange(a, b):
    al = await a.client("alice", "pw", "home", presence=True)
    bo = await b.client("bob", "pw", "work", presence=True)
    al.send("<message to='bob@%s' type='chat'><body>hello bob</body></message>" % SB2)
    m = await bo.expect(is_msg("hello bob"), timeout=WAIT, what="alice's message")
    assert m.get("from") == "alice@%s/home" % SB1, m.attrib
    bo.send("<message to='alice@%s/home' type='chat'><body>hello alice</body></message>" % SB1)
    m = await al.expect(is_msg("hello alice"), timeout=WAIT, what="bob's message")
    assert m.get("from") == "bob@%s/work" % SB2, m.attrib
    return al, bo


# --- 1. certificates: SASL EXTERNAL, bidi, messages and presence ---

a, b = pair(ca.issue(SB1), ca.issue(SB2))


async def certificates():
    al, bo = await exchange(a, b)
    # alice subscribes to bob; bob approves; bob's presence reaches alice.
    al.send("<presence to='bob@%s' type='subscribe'/>" % SB2)
    await bo.expect(lambda s: S.tag(s) == "presence" and s.get("type") == "subscribe",
                    timeout=WAIT, what="the subscription request")
    bo.send("<presence to='alice@%s' type='subscribed'/>" % SB1)
    await al.expect(lambda s: S.tag(s) == "presence" and s.get("type") is None and
                    S.bare(s.get("from", "")) == "bob@" + SB2,
                    timeout=WAIT, what="bob's presence after the approval")
    # and the other way.
    bo.send("<presence to='alice@%s' type='subscribe'/>" % SB1)
    await al.expect(lambda s: S.tag(s) == "presence" and s.get("type") == "subscribe",
                    timeout=WAIT, what="bob's subscription request")
    al.send("<presence to='bob@%s' type='subscribed'/>" % SB2)
    await bo.expect(lambda s: S.tag(s) == "presence" and s.get("type") is None and
                    S.bare(s.get("from", "")) == "alice@" + SB1,
                    timeout=WAIT, what="alice's presence after the approval")
    r = await al.iq("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
    items = {i.get("jid"): i.get("subscription")
             for i in r.iter("{jabber:iq:roster}item")}
    assert items.get("bob@" + SB2) == "both", items


S.check_async("CA certificates: messages and a presence subscription cross both ways",
              certificates)
ok(log_has(a, r"out \S+ sb1\.example -> sb2\.example: ready: authenticated by SASL EXTERNAL"),
   "sb1 authenticated to sb2 with SASL EXTERNAL")
ok(log_has(b, r"in \S+ sb2\.example <- sb1\.example: authenticated by SASL EXTERNAL"),
   "sb2 accepted sb1's certificate (SASL EXTERNAL)")
ok(log_has(b, r"carries stanzas to sb1\.example too \(bidi\)") and
   not log_has(b, r"out \S+ sb2\.example -> sb1\.example: connect"),
   "sb2 answered over sb1's connection (XEP-0288 bidi), opening none of its own")
ok(log_has(a, r"the peer's certificate valid"), "sb1 found sb2's certificate valid")
ok(log_has(a, r"connecting to sb2\.example \[127\.0\.3\.2\]:5270 \(direct TLS\)") and
   log_has(b, r"in \S+ \? <- \?: connected \(direct TLS\)"),
   "sb1 reached sb2 with direct TLS, as its _xmpps-server record says")


# --- 2. bounces ---

async def bounces():
    al = await a.client("alice", "pw", "b", presence=False)
    al.send("<message to='x@down.example' id='m1' type='chat'><body>lost</body></message>")
    e = await al.expect(lambda s: s.get("id") == "m1", timeout=WAIT, what="the bounce")
    assert e.get("type") == "error" and S.error_condition(e) in (
        "remote-server-not-found", "remote-server-timeout"), S.error_condition(e)
    al.send("<message to='x@nx.example' id='m2'><body>lost</body></message>")
    e = await al.expect(lambda s: s.get("id") == "m2", timeout=WAIT, what="the NXDOMAIN bounce")
    assert S.error_condition(e) == "remote-server-not-found", S.error_condition(e)
    al.send("<iq to='nx.example' id='q1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>")
    e = await al.expect(lambda s: s.get("id") == "q1", timeout=WAIT, what="the IQ error")
    assert e.get("type") == "error" and S.error_condition(e) == "remote-server-not-found"
    al.send("<message to='x@nx.example' id='m3' type='error'><error type='cancel'>"
            "<gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    assert await al.nothing(lambda s: s.get("id") == "m3", 3), "an error stanza was bounced"
    al.send("<message to='x@denied.example' id='m4'><body>no</body></message>")
    e = await al.expect(lambda s: s.get("id") == "m4", timeout=WAIT, what="the deny bounce")
    assert S.error_condition(e) == "remote-server-not-found", S.error_condition(e)


async def silent_server():
    al = await a.client("alice", "pw", "s", presence=False)
    for i in range(5):
        al.send("<message to='x@silent.example' id='s%d'><body>%d</body></message>" % (i, i))
    got = {}
    for i in range(5):
        e = await al.expect(lambda s: s.get("id", "").startswith("s"), timeout=WAIT,
                            what="bounce %d" % i)
        got[e.get("id")] = S.error_condition(e)
    assert got == {"s0": "remote-server-timeout", "s1": "remote-server-timeout",
                   "s2": "remote-server-timeout", "s3": "resource-constraint",
                   "s4": "resource-constraint"}, got


S.check_async("stanzas to unreachable and denied domains bounce; errors do not", bounces)
S.check_async("a server that never answers: the queue holds 3, the rest bounce at once; "
              "the 3 bounce with remote-server-timeout", silent_server)
ok(log_has(a, r"route sb1\.example -> down\.example: 1 stanzas bounced"),
   "the bounce is logged with the route")
a.stop()
b.stop()

# --- 3. dialback ---

a, b = pair(ca.self_signed(SB1), ca.self_signed(SB2), "dialback", "dialback", bidi="no",
            idle="1s")


async def dialback():
    await exchange(a, b)
    await asyncio.sleep(3)


S.check_async("self-signed certificates, dialback allowed: messages cross both ways", dialback)
ok(log_has(a, r"sb1\.example -> sb2\.example: ready: authenticated by dialback") and
   log_has(b, r"sb2\.example -> sb1\.example: ready: authenticated by dialback"),
   "both authenticated by dialback")
ok(log_has(a, r"sb1\.example <- sb2\.example: sb2\.example authenticated by dialback") and
   log_has(b, r"sb2\.example <- sb1\.example: sb1\.example authenticated by dialback"),
   "both verified the other's key with its authoritative server")
# Whichever side's timer fires first closes; the other sees the close.
ok(log_has(a, r"idle for \d+ s: closing") or log_has(b, r"idle for \d+ s: closing"),
   "an idle stream is closed after idle-timeout")
a.stop()
b.stop()

# --- 4. a wrong certificate ---

a, b = pair(ca.issue(SB1), ca.self_signed(SB2), "require-cert", "dialback")


async def wrong_certificate():
    al = await a.client("alice", "pw", "w", presence=False)
    bo = await b.client("bob", "pw", "w", presence=False)
    al.send("<message to='bob@%s' id='w1'><body>not to you</body></message>" % SB2)
    e = await al.expect(lambda s: s.get("id") == "w1", timeout=WAIT, what="the bounce")
    assert S.error_condition(e) == "remote-server-not-found", S.error_condition(e)
    assert await bo.nothing(is_msg("not to you"), 1), "a message crossed a refused stream"
    bo.send("<message to='alice@%s' id='w2'><body>not from you</body></message>" % SB1)
    e = await bo.expect(lambda s: s.get("id") == "w2", timeout=WAIT, what="the bounce")
    assert S.error_condition(e) == "remote-server-not-found", S.error_condition(e)
    assert await al.nothing(is_msg("not from you"), 1), "a message crossed a refused stream"


S.check_async("a self-signed certificate under require-cert: refused both ways",
              wrong_certificate)
ok(log_has(a, r"certificate refused: .*NOT trusted"),
   "sb1 logs why it refused sb2's certificate")
ok(log_has(a, r"dialback for sb2\.example refused: a valid certificate is required"),
   "sb1 refuses sb2's dialback without a valid certificate")


# --- 5. incoming streams: what is refused ---

class Raw(H.Raw):
    def __init__(self, ip):
        self.s = socket.create_connection((ip, 5269), timeout=WAIT)
        self.buf = b""
        self.eof = False


def raw_unknown_host():
    r = Raw(IP1)
    r.open(to="other.example", ns="jabber:server", extra=" from='%s'" % SB2)
    assert r.stream_error() == "host-unknown"
    # A link's own name at the router is internal, not a domain to federate with.
    r = Raw(IP1)
    r.open(to="sm1", ns="jabber:server", extra=" from='%s'" % SB2)
    return r.stream_error() == "host-unknown"


def raw_denied():
    r = Raw(IP1)
    r.open(to=SB1, ns="jabber:server", extra=" from='denied.example'")
    return r.stream_error() == "policy-violation"


def raw_before_tls():
    r = Raw(IP1)
    r.open(to=SB1, ns="jabber:server", extra=" from='%s'" % SB2)
    r.header()
    f = r.features()
    assert b"<required/>" in f, f
    r.send("<message from='bob@%s' to='alice@%s'><body>x</body></message>" % (SB2, SB1))
    return r.stream_error() == "policy-violation"


def raw_unauthenticated():
    r = Raw(IP1)
    r.open(to=SB1, ns="jabber:server", extra=" from='%s'" % SB2)
    r.header()
    r.features()
    r.starttls(sni=SB1)
    r.open(to=SB1, ns="jabber:server", extra=" from='%s'" % SB2)
    r.header()
    f = r.features()
    # A self-signed peer without a client certificate: no EXTERNAL offered.
    assert b"EXTERNAL" not in f and b"urn:xmpp:features:dialback" in f, f
    r.send("<message from='bob@%s' to='alice@%s'><body>forged</body></message>" % (SB2, SB1))
    return r.stream_error() == "invalid-from"


H.check("a stream to a domain not served here, or to an internal link name: <host-unknown/>",
        raw_unknown_host)
H.check("a stream from a denied domain: <policy-violation/>", raw_denied)
H.check("a stanza before STARTTLS: <policy-violation/>", raw_before_tls)
H.check("a stanza from a domain the stream did not authenticate: <invalid-from/>",
        raw_unauthenticated)
a.stop()
b.stop()
sys.exit(F.done())
