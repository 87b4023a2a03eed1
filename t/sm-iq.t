#!/usr/bin/python3
# sm-iq.t: the IQs sm answers itself: service discovery (XEP-0030) with the
# contact addresses of XEP-0157, vcard-temp (XEP-0054), private XML storage
# (XEP-0049), last activity (XEP-0012), software version (XEP-0092), entity
# time (XEP-0202) and ping (XEP-0199), and the dispatcher's errors.
#
# One server per database (t/lib/sm_harness.py: router, sm, c2s; SQLite and
# PostgreSQL, or SB_TEST_DB alone) whose sm.xml sets private-size 2k, a
# version with the OS hidden, and three contact addresses. Users: alice,
# bob, carol, dave. bob subscribes to alice and alice approves (alice's
# roster: bob 'from'); alice subscribes to carol and carol approves
# (carol's roster: alice 'from'); dave has no subscription with anyone.
#
# Checks: disco#info of the domain (identity, every module's features
# once, the serverinfo form grouped by type) and every advertised feature
# answered; disco#items of the domain lists a component of a subdomain
# while it is connected and no internal process; unknown nodes; disco of a
# bare JID for the user, a subscriber, a stranger and a missing account;
# vCard round trip, another user's vCard, no vCard, set on another's, the
# size limit; private XML round trip, the empty answer, several namespaces,
# reserved and missing namespaces, empty and two-namespace queries,
# another user's, the size limit; last activity of the server, of an online
# user, of a user who logged out with a status, refused without a
# subscription, of a missing account; version with the OS hidden; time's
# format and offset; ping to the domain, with no 'to' and to one's own
# bare JID but not to another's; an unknown namespace, two payloads, no
# payload, a set on a get-only protocol; SIGTERM with sessions open (their
# last activity is written during shutdown): exit 0 and no sanitizer report
# (LeakSanitizer under make asan).
import asyncio
import datetime
import hashlib
import os
import re
import socket
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sm_harness as S  # noqa: E402
from sm_harness import check_async, tag, child, error_condition, SECRET  # noqa: E402

WATCHDOG = 120
D = S.DOMAIN

NS_INFO = "http://jabber.org/protocol/disco#info"
NS_ITEMS = "http://jabber.org/protocol/disco#items"
NS_DATA = "jabber:x:data"
NS_VCARD = "vcard-temp"
NS_PRIVATE = "jabber:iq:private"
NS_LAST = "jabber:iq:last"
NS_VERSION = "jabber:iq:version"
NS_TIME = "urn:xmpp:time"
NS_PING = "urn:xmpp:ping"
NS_ROSTER = "jabber:iq:roster"

SM_EXTRA = """
  <limits><private-size>2k</private-size></limits>
  <version name='switchboard-test' version='9.9' os='no'/>
  <contact type='admin' uri='xmpp:admin@localhost'/>
  <contact type='abuse' uri='mailto:abuse@localhost'/>
  <contact type='admin' uri='mailto:admin@localhost'/>
"""

# How to ask each feature a domain may advertise: (addressed to, request).
# "domain": to='localhost'; "self": no 'to' (the user's account). A feature
# not listed here fails the check, so a module that advertises a feature
# must show here that it answers.
SERVER_PROBES = {
    NS_INFO: ("domain", "<query xmlns='%s'/>" % NS_INFO),
    NS_ITEMS: ("domain", "<query xmlns='%s'/>" % NS_ITEMS),
    NS_VCARD: ("self", "<vCard xmlns='%s'/>" % NS_VCARD),
    NS_PRIVATE: ("self", "<query xmlns='%s'><x xmlns='test:probe'/></query>" % NS_PRIVATE),
    NS_LAST: ("domain", "<query xmlns='%s'/>" % NS_LAST),
    NS_VERSION: ("domain", "<query xmlns='%s'/>" % NS_VERSION),
    NS_TIME: ("domain", "<time xmlns='%s'/>" % NS_TIME),
    NS_PING: ("domain", "<ping xmlns='%s'/>" % NS_PING),
    NS_ROSTER: ("self", "<query xmlns='%s'/>" % NS_ROSTER),
}
# Advertised features that are not IQs (nothing to ask).
NOT_IQ = {"msgoffline"}
# What a bare JID's disco#info must list, and how to ask each (to the bare JID).
ACCOUNT_PROBES = {
    NS_INFO: "<query xmlns='%s'/>" % NS_INFO,
    NS_ITEMS: "<query xmlns='%s'/>" % NS_ITEMS,
    NS_VCARD: "<vCard xmlns='%s'/>" % NS_VCARD,
    NS_LAST: "<query xmlns='%s'/>" % NS_LAST,
}

srv = None
started = 0.0


def show(st):
    return ET.tostring(st).decode()


def cond(st):
    return error_condition(st) if st.get("type") == "error" else None


def result(st, what):
    """The stanza, after checking it is a result."""
    assert st.get("type") == "result", "%s: not a result: %s" % (what, show(st))
    return st


def get(payload, to=None, type_="get"):
    return "<iq type='%s'%s>%s</iq>" % (type_, " to='%s'" % to if to else "", payload)


async def expect_error(c, text, want, what):
    r = await c.iq(text)
    assert cond(r) == want, "%s: want <%s/>, got %s" % (what, want, show(r))


# Clients a check opened; closed when it ends, also when it fails.
clients = []


async def login(user, resource="r", presence=True):
    c = await srv.client(user, "pw-" + user, resource, presence=presence)
    clients.append(c)
    return c


async def logout(c):
    clients.remove(c)
    await c.close()


def check(desc, fn):
    """One TAP line for fn, with the clients it opened closed afterwards."""
    async def run_closing():
        try:
            return await fn()
        finally:
            while clients:
                await clients.pop().close()
    return check_async(desc, run_closing)


async def subscribe(frm, to):
    """frm subscribes to to's presence, to approves: to's roster has frm 'from'."""
    a, b = await login(frm, "sub"), await login(to, "sub")
    # Resources that asked for the roster are the ones told (RFC 6121 3.1.6).
    for c in (a, b):
        result(await c.iq(get("<query xmlns='%s'/>" % NS_ROSTER)), "roster get")
    a.send("<presence type='subscribe' to='%s@%s'/>" % (to, D))
    await b.expect(lambda s: tag(s) == "presence" and s.get("type") == "subscribe",
                   what="the subscription request")
    b.send("<presence type='subscribed' to='%s@%s'/>" % (frm, D))
    await a.expect(lambda s: tag(s) == "presence" and s.get("type") == "subscribed",
                   what="the approval")
    await logout(a)
    await logout(b)


async def subscriptions():
    await subscribe("bob", "alice")
    await subscribe("alice", "carol")


async def raw_iq(c, text, id_):
    """Send an IQ as written (c.iq() re-serializes, which loses xmlns='')."""
    c.send(text)
    return await c.expect(lambda s: tag(s) == "iq" and s.get("id") == id_ and
                          s.get("type") in ("result", "error"), what="the answer to " + id_)


# --- a plain component for disco#items ---

class Component:
    """conference.localhost, a XEP-0114 component, connected while it lives."""

    def __init__(self, name="conference." + D):
        self.s = socket.create_connection(("127.0.0.1", srv.rport), timeout=S.WAIT)
        self.s.sendall(("<stream:stream xmlns='jabber:component:accept' xmlns:stream="
                        "'http://etherx.jabber.org/streams' to='%s'>" % name).encode())
        buf = self.read(rb"<stream:stream[^>]*\bid='([^']*)'")
        sid = re.search(rb"\bid='([^']*)'", buf).group(1).decode()
        self.s.sendall(("<handshake>%s</handshake>" % hashlib.sha1(
            (sid + SECRET).encode()).hexdigest()).encode())
        self.read(rb"<handshake/>")

    def read(self, pattern):
        buf = b""
        deadline = time.time() + S.WAIT
        while not re.search(pattern, buf):
            if time.time() > deadline:
                raise AssertionError("component: no %r in %r" % (pattern, buf))
            d = self.s.recv(4096)
            if not d:
                raise AssertionError("component: closed; have %r" % buf)
            buf += d
        return buf

    def close(self):
        self.s.close()


async def domain_items(c):
    r = result(await c.iq(get("<query xmlns='%s'/>" % NS_ITEMS, D)), "disco#items")
    return [i.get("jid") for i in child(r, NS_ITEMS, "query")]


async def until_items(c, pred, what):
    """disco#items of the domain, asked until pred holds (announces travel)."""
    deadline = time.time() + S.WAIT
    while True:
        items = await domain_items(c)
        if pred(items):
            return items
        if time.time() > deadline:
            raise AssertionError("%s: items are %r" % (what, items))
        await asyncio.sleep(0.1)


# --- checks ---

async def disco_domain_info():
    a = await login("alice")
    r = result(await a.iq(get("<query xmlns='%s'/>" % NS_INFO, D)), "disco#info")
    q = child(r, NS_INFO, "query")
    ids = [(i.get("category"), i.get("type")) for i in q.findall("{%s}identity" % NS_INFO)]
    assert ("server", "im") in ids, "no server/im identity: %s" % show(r)
    feats = [f.get("var") for f in q.findall("{%s}feature" % NS_INFO)]
    assert len(feats) == len(set(feats)), "a feature listed twice: %r" % feats
    want = {NS_INFO, NS_ITEMS, NS_VCARD, NS_PRIVATE, NS_LAST, NS_VERSION, NS_TIME, NS_PING}
    missing = want - set(feats)
    assert not missing, "features missing: %r (have %r)" % (missing, feats)
    await logout(a)


async def disco_features_answered():
    a = await login("alice")
    r = result(await a.iq(get("<query xmlns='%s'/>" % NS_INFO, D)), "disco#info")
    feats = [f.get("var") for f in child(r, NS_INFO, "query").findall("{%s}feature" % NS_INFO)]
    bad = []
    for f in feats:
        if f in NOT_IQ:
            continue
        if f not in SERVER_PROBES:
            bad.append("%s: advertised, but this test has no probe for it" % f)
            continue
        where, payload = SERVER_PROBES[f]
        ans = await a.iq(get(payload, D if where == "domain" else None))
        if ans.get("type") != "result":
            bad.append("%s: %s" % (f, show(ans)))
    await logout(a)
    assert not bad, "features not answered:\n" + "\n".join(bad)


async def disco_serverinfo():
    a = await login("alice")
    r = result(await a.iq(get("<query xmlns='%s'/>" % NS_INFO, D)), "disco#info")
    forms = child(r, NS_INFO, "query").findall("{%s}x" % NS_DATA)
    assert len(forms) == 1, "want one data form: %s" % show(r)
    x = forms[0]
    assert x.get("type") == "result", "form type: %s" % show(x)
    fields = {}
    for f in x.findall("{%s}field" % NS_DATA):
        assert f.get("var") not in fields, "field %s twice: %s" % (f.get("var"), show(x))
        fields[f.get("var")] = (f.get("type"), [v.text for v in f.findall("{%s}value" % NS_DATA)])
    want = {
        "FORM_TYPE": ("hidden", ["http://jabber.org/network/serverinfo"]),
        "admin-addresses": ("list-multi", ["xmpp:admin@localhost", "mailto:admin@localhost"]),
        "abuse-addresses": ("list-multi", ["mailto:abuse@localhost"]),
    }
    assert fields == want, "form fields: got %r, want %r" % (fields, want)
    await logout(a)


async def disco_domain_items():
    a = await login("alice")
    items = await domain_items(a)
    for internal in ("c2s1", "sm1", D):
        assert internal not in items, "%s listed: %r" % (internal, items)
    comp = Component()
    try:
        await until_items(a, lambda i: "conference." + D in i, "the connected component")
    finally:
        comp.close()
    await until_items(a, lambda i: "conference." + D not in i, "the component gone")
    await logout(a)


async def disco_nodes():
    a = await login("alice")
    for ns_, to in ((NS_INFO, D), (NS_ITEMS, D), (NS_INFO, "alice@" + D),
                    (NS_ITEMS, "alice@" + D)):
        await expect_error(a, get("<query xmlns='%s' node='no-such-node'/>" % ns_, to),
                           "item-not-found", "%s node to %s" % (ns_, to))
    await logout(a)


async def disco_own_account():
    a = await login("alice", "home")
    r = result(await a.iq(get("<query xmlns='%s'/>" % NS_INFO, "alice@" + D)), "own info")
    q = child(r, NS_INFO, "query")
    ids = [(i.get("category"), i.get("type")) for i in q.findall("{%s}identity" % NS_INFO)]
    assert ids == [("account", "registered")], "identity: %s" % show(r)
    feats = {f.get("var") for f in q.findall("{%s}feature" % NS_INFO)}
    assert set(ACCOUNT_PROBES) <= feats, "account features: %r" % feats
    for f in sorted(feats):
        assert f in ACCOUNT_PROBES, "%s advertised for accounts, no probe here" % f
        ans = await a.iq(get(ACCOUNT_PROBES[f], "alice@" + D))
        assert ans.get("type") == "result", "%s to the bare JID: %s" % (f, show(ans))
    r = result(await a.iq(get("<query xmlns='%s'/>" % NS_ITEMS)), "own items")
    items = [i.get("jid") for i in child(r, NS_ITEMS, "query")]
    assert items == [a.jid], "own items: want [%s], got %r" % (a.jid, items)
    await logout(a)


async def disco_subscriber():
    a = await login("alice", "home")
    b = await login("bob")
    r = result(await b.iq(get("<query xmlns='%s'/>" % NS_INFO, "alice@" + D)), "info")
    ids = [(i.get("category"), i.get("type"))
           for i in child(r, NS_INFO, "query").findall("{%s}identity" % NS_INFO)]
    assert ids == [("account", "registered")], "identity: %s" % show(r)
    r = result(await b.iq(get("<query xmlns='%s'/>" % NS_ITEMS, "alice@" + D)), "items")
    items = [i.get("jid") for i in child(r, NS_ITEMS, "query")]
    assert items == [a.jid], "alice's resources: want [%s], got %r" % (a.jid, items)
    await logout(a)
    await logout(b)


async def disco_stranger():
    a = await login("alice", "home")
    d = await login("dave")
    await expect_error(d, get("<query xmlns='%s'/>" % NS_INFO, "alice@" + D),
                       "service-unavailable", "info without a subscription")
    r = result(await d.iq(get("<query xmlns='%s'/>" % NS_ITEMS, "alice@" + D)), "items")
    assert len(child(r, NS_ITEMS, "query")) == 0, "items leaked: %s" % show(r)
    await expect_error(d, get("<query xmlns='%s'/>" % NS_INFO, "nobody@" + D),
                       "service-unavailable", "info of a missing account")
    await logout(a)
    await logout(d)


async def disco_missing_items():
    d = await login("dave")
    r = result(await d.iq(get("<query xmlns='%s'/>" % NS_ITEMS, "nobody@" + D)),
               "items of a missing account")
    assert len(child(r, NS_ITEMS, "query")) == 0, "items: %s" % show(r)
    await logout(d)


VCARD = ("<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>al</NICKNAME>"
         "<DESC>curiouser &amp; curiouser &lt;3</DESC></vCard>")


def vcard_fields(st):
    v = child(st, NS_VCARD, "vCard")
    assert v is not None, "no vCard: %s" % show(st)
    return {tag(c): c.text for c in v}


async def vcard_round_trip():
    a = await login("alice")
    r = result(await a.iq(get("<vCard xmlns='vcard-temp'/>")), "empty get")
    assert vcard_fields(r) == {}, "a vCard before any set: %s" % show(r)
    result(await a.iq(get(VCARD, type_="set")), "set")
    r = result(await a.iq(get("<vCard xmlns='vcard-temp'/>")), "get")
    want = {"FN": "Alice Liddell", "NICKNAME": "al", "DESC": "curiouser & curiouser <3"}
    assert vcard_fields(r) == want, "got %r" % vcard_fields(r)
    await logout(a)


async def vcard_other():
    b = await login("bob")
    r = result(await b.iq(get("<vCard xmlns='vcard-temp'/>", "alice@" + D)), "alice's")
    assert vcard_fields(r).get("FN") == "Alice Liddell", "got %s" % show(r)
    await expect_error(b, get("<vCard xmlns='vcard-temp'><FN>x</FN></vCard>", "alice@" + D,
                              "set"), "forbidden", "a set on alice's vCard")
    await expect_error(b, get("<vCard xmlns='vcard-temp'/>", "carol@" + D),
                       "service-unavailable", "carol has no vCard")
    await expect_error(b, get("<vCard xmlns='vcard-temp'/>", "nobody@" + D),
                       "service-unavailable", "a missing account's vCard")
    await logout(b)
    a = await login("alice")
    r = result(await a.iq(get("<vCard xmlns='vcard-temp'/>")), "get after bob's set")
    assert vcard_fields(r).get("FN") == "Alice Liddell", "bob changed it: %s" % show(r)
    await logout(a)


async def vcard_size():
    a = await login("alice")
    big = "<vCard xmlns='vcard-temp'><DESC>%s</DESC></vCard>" % ("x" * 3000)
    await expect_error(a, get(big, type_="set"), "not-acceptable", "a 3000-byte vCard")
    r = result(await a.iq(get("<vCard xmlns='vcard-temp'/>")), "get")
    assert vcard_fields(r).get("FN") == "Alice Liddell", "refused set changed it: %s" % show(r)
    await logout(a)


def private_get(namespaced):
    return get("<query xmlns='jabber:iq:private'>%s</query>" % namespaced)


def private_set(namespaced):
    return get("<query xmlns='jabber:iq:private'>%s</query>" % namespaced, type_="set")


def stored(st):
    q = child(result(st, "private get"), NS_PRIVATE, "query")
    assert q is not None, "no query: %s" % show(st)
    return list(q)


async def private_round_trip():
    a = await login("alice")
    bm = ("<storage xmlns='storage:bookmarks'><conference jid='tea@conference.localhost' "
          "autojoin='true'><nick>al</nick></conference></storage>")
    result(await a.iq(private_set(bm)), "set bookmarks")
    els = stored(await a.iq(private_get("<storage xmlns='storage:bookmarks'/>")))
    assert len(els) == 1 and tag(els[0]) == "storage", "got %r" % [show(e) for e in els]
    conf = els[0].find("{storage:bookmarks}conference")
    assert conf is not None and conf.get("jid") == "tea@conference.localhost" and \
        conf.findtext("{storage:bookmarks}nick") == "al", "got %s" % show(els[0])
    els = stored(await a.iq(private_get("<prefs xmlns='test:nothing'/>")))
    assert [(S.ns(e), tag(e), len(e)) for e in els] == [("test:nothing", "prefs", 0)], \
        "nothing stored: want the empty element back, got %r" % [show(e) for e in els]
    await logout(a)


async def private_namespaces():
    a = await login("alice")
    result(await a.iq(private_set("<a xmlns='test:a'>1</a><b xmlns='test:b'>x</b>"
                                  "<a xmlns='test:a'>2</a>")), "set of two namespaces")
    els = stored(await a.iq(private_get("<a xmlns='test:a'/>")))
    assert [e.text for e in els] == ["1", "2"], "test:a: %r" % [show(e) for e in els]
    els = stored(await a.iq(private_get("<b xmlns='test:b'/>")))
    assert [e.text for e in els] == ["x"], "test:b: %r" % [show(e) for e in els]
    result(await a.iq(private_set("<a xmlns='test:a'>3</a>")), "replace test:a")
    els = stored(await a.iq(private_get("<a xmlns='test:a'/>")))
    assert [e.text for e in els] == ["3"], "after the replace: %r" % [show(e) for e in els]
    await logout(a)


async def private_errors():
    a = await login("alice")
    for bad in ("<x xmlns='jabber:x:data'/>", "<vCard xmlns='vcard-temp'/>",
                "<q xmlns='http://jabber.org/protocol/muc'/>", "<unqualified/>"):
        await expect_error(a, private_set(bad), "not-acceptable", "set " + bad)
        await expect_error(a, private_get(bad), "not-acceptable", "get " + bad)
    for type_ in ("get", "set"):
        r = await raw_iq(a, "<iq type='%s' id='nons-%s'><query xmlns='jabber:iq:private'>"
                         "<none xmlns=''/></query></iq>" % (type_, type_), "nons-" + type_)
        assert cond(r) == "not-acceptable", "%s of an element in no namespace: %s" % (
            type_, show(r))
    await expect_error(a, private_set(""), "bad-request", "an empty set")
    await expect_error(a, private_get(""), "bad-request", "an empty get")
    await expect_error(a, private_get("<a xmlns='test:a'/><b xmlns='test:b'/>"), "bad-request",
                       "a get of two namespaces")
    await expect_error(a, private_set("<big xmlns='test:big'>%s</big>" % ("y" * 3000)),
                       "not-acceptable", "3000 bytes under one namespace")
    await logout(a)
    b = await login("bob")
    await expect_error(b, get("<query xmlns='jabber:iq:private'><a xmlns='test:a'/></query>",
                              "alice@" + D), "forbidden", "bob reads alice's")
    await expect_error(b, get("<query xmlns='jabber:iq:private'><a xmlns='test:a'>b</a>"
                              "</query>", "alice@" + D, "set"), "forbidden", "bob writes alice's")
    await logout(b)
    a = await login("alice")
    els = stored(await a.iq(private_get("<a xmlns='test:a'/>")))
    assert [e.text for e in els] == ["3"], "refused sets changed test:a: %r" % [
        show(e) for e in els]
    await logout(a)


def seconds(st):
    q = child(result(st, "last"), NS_LAST, "query")
    assert q is not None and re.fullmatch(r"\d+", q.get("seconds") or ""), \
        "no seconds: %s" % show(st)
    return int(q.get("seconds")), (q.text or "")


async def last_server():
    a = await login("alice")
    up, text = seconds(await a.iq(get("<query xmlns='jabber:iq:last'/>", D)))
    assert 0 <= up <= time.time() - started + 2, "uptime %d, sm started %.1f s ago" % (
        up, time.time() - started)
    assert text == "", "text in the server's answer: %r" % text
    await logout(a)


async def last_user():
    c = await login("carol", "desk")
    a = await login("alice")
    s, _ = seconds(await a.iq(get("<query xmlns='jabber:iq:last'/>", "carol@" + D)))
    assert s == 0, "carol is online: seconds %d" % s
    s, _ = seconds(await a.iq(get("<query xmlns='jabber:iq:last'/>")))
    assert s == 0, "alice asks about herself, online: seconds %d" % s
    c.send("<presence type='unavailable'><status>gone fishing</status></presence>")
    await logout(c)
    await asyncio.sleep(1.2)
    s, text = seconds(await a.iq(get("<query xmlns='jabber:iq:last'/>", "carol@" + D)))
    assert 1 <= s <= 10 and text == "gone fishing", \
        "after carol's logout: seconds %d, status %r" % (s, text)
    d = await login("dave")
    await expect_error(d, get("<query xmlns='jabber:iq:last'/>", "carol@" + D), "forbidden",
                       "dave has no subscription")
    await expect_error(d, get("<query xmlns='jabber:iq:last'/>", "nobody@" + D),
                       "service-unavailable", "a missing account")
    await logout(a)
    await logout(d)


async def version():
    a = await login("alice")
    r = result(await a.iq(get("<query xmlns='jabber:iq:version'/>", D)), "version")
    q = child(r, NS_VERSION, "query")
    got = {tag(c): c.text for c in q}
    assert got == {"name": "switchboard-test", "version": "9.9"}, \
        "want name and version, no os: %r" % got
    await expect_error(a, get("<query xmlns='jabber:iq:version'/>", "bob@" + D),
                       "service-unavailable", "version of a bare JID")
    await logout(a)


async def entity_time():
    a = await login("alice")
    r = result(await a.iq(get("<time xmlns='urn:xmpp:time'/>", D)), "time")
    t = child(r, NS_TIME, "time")
    utc, tzo = t.findtext("{%s}utc" % NS_TIME), t.findtext("{%s}tzo" % NS_TIME)
    when = datetime.datetime.strptime(utc or "", "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    skew = abs(when.timestamp() - time.time())
    assert skew < 5, "utc %s is %.0f s off" % (utc, skew)
    off = time.localtime().tm_gmtoff
    want = "%s%02d:%02d" % ("-" if off < 0 else "+", abs(off) // 3600, abs(off) % 3600 // 60)
    assert tzo == want, "tzo %r, want %r" % (tzo, want)
    await logout(a)


async def ping():
    a = await login("alice")
    for to in (D, None, "alice@" + D):
        r = await a.iq(get("<ping xmlns='urn:xmpp:ping'/>", to))
        assert r.get("type") == "result" and len(r) == 0, "ping to %s: %s" % (to, show(r))
    await expect_error(a, get("<ping xmlns='urn:xmpp:ping'/>", "bob@" + D),
                       "service-unavailable", "ping to another user's bare JID")
    await logout(a)


async def iq_errors():
    a = await login("alice")
    for to in (D, None):
        await expect_error(a, get("<query xmlns='urn:example:nobody'/>", to),
                           "service-unavailable", "an unknown namespace to %s" % to)
    await expect_error(a, get("<ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:last'/>",
                              D), "bad-request", "two payloads")
    await expect_error(a, get("", D), "bad-request", "no payload")
    await expect_error(a, get("<query xmlns='%s'/>" % NS_INFO, D, "set"), "not-allowed",
                       "a set of disco#info")
    await expect_error(a, get("<query xmlns='jabber:iq:version'/>", D, "set"), "not-allowed",
                       "a set of version")
    await logout(a)


CHECKS = [
    ("set-up: bob subscribes to alice, alice to carol", subscriptions),
    ("disco#info of the domain: server/im, each feature once, ours there", disco_domain_info),
    ("every feature the domain advertises is answered", disco_features_answered),
    ("XEP-0157: one serverinfo form, addresses grouped by type", disco_serverinfo),
    ("disco#items of the domain: a component while connected, no process",
     disco_domain_items),
    ("an unknown node is item-not-found (domain and own account)", disco_nodes),
    ("disco of one's own bare JID: account/registered, features answered, available "
     "resources", disco_own_account),
    ("disco of a bare JID for a subscriber: identity and resources", disco_subscriber),
    ("disco of a bare JID for a stranger: service-unavailable, no items; a missing "
     "account's info: service-unavailable", disco_stranger),
    ("disco#items of a missing account: an empty result (XEP-0030 8)", disco_missing_items),
    ("vCard: empty before a set, the same after", vcard_round_trip),
    ("vCard: anyone reads it, nobody else sets it, none stored and no account are "
     "service-unavailable", vcard_other),
    ("vCard: larger than private-size is not-acceptable and changes nothing", vcard_size),
    ("private XML: round trip; nothing stored gives the element back", private_round_trip),
    ("private XML: several namespaces and elements in one set; a set replaces",
     private_namespaces),
    ("private XML: reserved or missing namespaces, empty and two-namespace queries, another "
     "user's, the size limit", private_errors),
    ("last activity of the server: its uptime", last_server),
    ("last activity of a user: 0 online, the logout's age and status after, forbidden "
     "without a subscription", last_user),
    ("version: the configured name and version, the OS hidden", version),
    ("time: utc in the XEP-0082 format and now, tzo the host's offset", entity_time),
    ("ping: the domain, no 'to', one's own bare JID; not another's", ping),
    ("IQ errors: unknown namespace, two payloads, none, a set of a get-only protocol",
     iq_errors),
]


async def clean_stop():
    """SIGTERM with sessions open: their ends are recorded, then sm exits 0."""
    await login("alice")
    await login("carol")
    sm = srv.proc("sm1")
    rc = sm.stop()
    log = sm.logtext()
    assert rc == 0, "sm exit status %r" % rc
    assert "Sanitizer" not in log, "sanitizer report:\n" + log[log.index("Sanitizer") - 200:]
    assert not re.search(r" (warn|error): .*(last|vcard|private|disco)", log), \
        "warnings from the IQ modules:\n" + "\n".join(
            l for l in log.splitlines() if re.search(r" (warn|error): ", l))


def main():
    global srv, started
    for db in S.databases():
        started = time.time()
        srv = S.Server(db=db, sm_extra=SM_EXTRA)
        try:
            for u in ("alice", "bob", "carol", "dave"):
                srv.adduser(u, "pw-" + u)
            for desc, fn in CHECKS:
                check("%s: %s" % (db, desc), fn)
            check("%s: sm stops on SIGTERM with sessions open: exit 0, nothing reported" % db,
                  clean_stop)
        finally:
            srv.stop()
    return S.done()


if __name__ == "__main__":
    S.run(main, WATCHDOG)
