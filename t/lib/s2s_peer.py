# s2s_peer.py: the federation tests against a real peer server (Prosody or
# ejabberd, fed_harness.py), shared by t/s2s-prosody.t and t/s2s-ejabberd.t.
# Our server serves sb.example on 127.0.N.1, the peer peer.example on its
# own address of the block; a dnsmasq on 127.0.N.53 answers for both.
#
#   1. certificates from the test CA, certificates required on both sides:
#      the peer writes first (its stream to us authenticates with SASL
#      EXTERNAL), we answer (our stream, or with XEP-0288 the peer's own);
#      then a presence subscription each way, ending in 'both'
#   2. self-signed certificates, dialback allowed on both sides: messages
#      both ways, our side verifying the peer's key with its authoritative
#      server (and the peer ours, when it opens no bidi stream)
#   3. the peer's certificate self-signed while we require valid ones:
#      our message bounces with remote-server-not-found, the peer's never
#      arrives (its sender gets an error from the peer)
#
#   import s2s_peer
#   s2s_peer.main("prosody", block=4)
import asyncio
import os
import re
import sys

import c2s_harness as H
import fed_harness as F
import sm_harness as S
from c2s_harness import ok

OURS = "sb.example"
WAIT = 20


def is_msg(body):
    return lambda s: S.tag(s) == "message" and s.findtext("{jabber:client}body") == body


def presence_from(jid, type_=None):
    return lambda s: (S.tag(s) == "presence" and s.get("type") == type_ and
                      S.bare(s.get("from", "")) == jid)


class Setup:
    """One round: our server and the peer, with the certificates and policies given."""

    def __init__(self, kind, net, dns, ca, ours_cert, peer_cert, policy, peer_strict):
        self.kind = kind
        self.peer_domain = "%s.example" % kind
        body = """<listen address='%s' port='5269'/>
  <tls ca-file='%s'/>
  <dns server='%s' timeout='2s'/>
  <policy default='%s'/>
  <limits><setup-timeout>10s</setup-timeout></limits>
""" % (net.ours, ca.file, net.dns, policy)
        self.ours = S.Server(domain=OURS, cert=ours_cert, s2s=body)
        self.ours.adduser("romeo", "pw")
        if kind == "prosody":
            self.peer = F.Prosody(self.peer_domain, net.prosody, dns, ca, cert=peer_cert,
                                  secure_auth=peer_strict)
        else:
            self.peer = F.Ejabberd(self.peer_domain, net.ejabberd, dns, ca, cert=peer_cert,
                                   dialback=not peer_strict)
        self.peer.start()
        self.peer.adduser("juliet", "pw")
        self.juliet = "juliet@" + self.peer_domain

    def log(self, pattern):
        return re.search(pattern, self.ours.s2s.logtext()) is not None

    def stop(self):
        self.ours.stop()
        self.peer.stop()


async def messages(su):
    r = await su.ours.client("romeo", "pw", "orchard", presence=True)
    j = await su.peer.client("juliet", "pw", "balcony")
    j.send("<presence/>")
    j.send("<message to='romeo@%s' type='chat'><body>wherefore art thou</body></message>" % OURS)
    m = await r.expect(is_msg("wherefore art thou"), timeout=WAIT, what="juliet's message")
    assert S.bare(m.get("from")) == su.juliet, m.attrib
    r.send("<message to='%s/balcony' type='chat'><body>here I am</body></message>" % su.juliet)
    m = await j.expect(is_msg("here I am"), timeout=WAIT, what="romeo's message")
    assert S.bare(m.get("from")) == "romeo@" + OURS, m.attrib
    return r, j


async def subscriptions(su):
    r, j = await messages(su)
    # Roster pushes and subscription presence go to interested resources.
    await r.iq("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
    await j.iq("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
    r.send("<presence to='%s' type='subscribe'/>" % su.juliet)
    await j.expect(presence_from("romeo@" + OURS, "subscribe"), timeout=WAIT,
                   what="romeo's subscription request")
    j.send("<presence to='romeo@%s' type='subscribed'/>" % OURS)
    await r.expect(presence_from(su.juliet), timeout=WAIT, what="juliet's presence")
    j.send("<presence to='romeo@%s' type='subscribe'/>" % OURS)
    await r.expect(presence_from(su.juliet, "subscribe"), timeout=WAIT,
                   what="juliet's subscription request")
    r.send("<presence to='%s' type='subscribed'/>" % su.juliet)
    await j.expect(presence_from("romeo@" + OURS), timeout=WAIT, what="romeo's presence")
    res = await r.iq("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
    items = {i.get("jid"): i.get("subscription") for i in res.iter("{jabber:iq:roster}item")}
    assert items.get(su.juliet) == "both", items


async def refused(su):
    r = await su.ours.client("romeo", "pw", "orchard", presence=True)
    j = await su.peer.client("juliet", "pw", "balcony")
    j.send("<presence/>")
    r.send("<message to='%s' id='r1'><body>not to you</body></message>" % su.juliet)
    e = await r.expect(lambda s: s.get("id") == "r1", timeout=WAIT, what="the bounce")
    assert S.error_condition(e) == "remote-server-not-found", S.error_condition(e)
    j.send("<message to='romeo@%s' id='j1'><body>not from you</body></message>" % OURS)
    e = await j.expect(lambda s: s.get("id") == "j1", timeout=40,
                       what="the peer's error for its message")
    assert e.get("type") == "error", e.attrib
    assert await r.nothing(is_msg("not from you"), 1), "a message crossed a refused stream"


def main(kind, block):
    net = F.Block(block)
    peer_domain = "%s.example" % kind
    peer_ip = net.prosody if kind == "prosody" else net.ejabberd
    ca = F.CA()
    dns = F.DNS(net.dns)
    dns.host_record("xmpp." + OURS, net.ours)
    dns.srv("_xmpp-server._tcp." + OURS, "xmpp." + OURS, 5269)
    if kind == "prosody":
        dns.host_record("xmpp." + peer_domain, peer_ip)
        dns.srv("_xmpp-server._tcp." + peer_domain, "xmpp." + peer_domain, 5269)
    else:
        dns.host_record(peer_domain, peer_ip)      # no SRV: the A fallback
    dns.start()
    name = kind.capitalize()

    su = Setup(kind, net, dns, ca, ca.issue(OURS), ca.issue(peer_domain), "require-cert", True)
    S.check_async("%s, certificates required: messages both ways, a subscription each way "
                  "ending in 'both'" % name, subscriptions, su)
    ok(su.log(r"in \S+ sb\.example <- %s: authenticated by SASL EXTERNAL" % re.escape(peer_domain)),
       "%s authenticated to us with SASL EXTERNAL" % name)
    if kind == "prosody":
        ok(su.log(r"carries stanzas to prosody\.example too \(bidi\)"),
           "we answered over Prosody's stream (XEP-0288 bidi)")
    else:
        ok(su.log(r"out \S+ sb\.example -> ejabberd\.example: ready: authenticated by SASL EXTERNAL"),
           "we authenticated to ejabberd with SASL EXTERNAL")
    su.stop()

    su = Setup(kind, net, dns, ca, ca.self_signed(OURS), ca.self_signed(peer_domain), "dialback",
               False)
    S.check_async("%s, self-signed certificates, dialback: messages both ways" % name,
                  messages, su)
    ok(su.log(r"sb\.example <- %s: %s authenticated by dialback" % (
        re.escape(peer_domain), re.escape(peer_domain))),
       "we verified %s's dialback key with its authoritative server" % name)
    if kind == "ejabberd":
        ok(su.log(r"sb\.example -> ejabberd\.example: ready: authenticated by dialback"),
           "ejabberd verified our dialback key with us")
    su.stop()

    su = Setup(kind, net, dns, ca, ca.issue(OURS), ca.self_signed(peer_domain), "require-cert",
               False)
    S.check_async("%s with a self-signed certificate while we require valid ones: refused "
                  "both ways" % name, refused, su)
    ok(su.log(r"certificate refused: .*NOT trusted"), "our log says why we refused it")
    su.stop()
    return F.done()
