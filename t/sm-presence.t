#!/usr/bin/python3
# sm-presence.t: presence subscriptions (RFC 6121 section 3) and presence
# (section 4, 8.5) through the real server (sb-router + sb-sm + sb-c2s,
# slixmpp clients), on SQLite and PostgreSQL.
#
# Checks: the subscription handshake both ways (3.1): the request stamped
# with the bare JID and a push with ask='subscribe' to the requester, the
# approval, pushes 'from'/'to' then 'both', and the contact's current
# presence right after approval (3.1.5); presence then flows both ways,
# and only the way a one-way subscription allows, never to a stranger; a
# new session gets its contacts' presence (probes, 4.3) and its siblings'
# (4.2.2), and every available session sees a sibling's presence; a
# request to a user who is offline waits and is delivered at each initial
# presence (with its extended content) until answered, never in the roster
# meanwhile; a denial (unsubscribed) reaches the requester as a push with
# no ask; pre-approval (3.4): a push with approved='true', nothing sent,
# then the contact's request answered at once without reaching the user;
# unsubscribe (3.3) and unsubscribed (3.2): pushes on both sides and
# unavailable to the one who no longer sees the other; directed presence
# (4.6) and its unavailable, both on an unavailable broadcast and when the
# client disconnects; unavailable to contacts and siblings when a client
# disconnects; a bad <priority/> refused; presence to an account that does
# not exist (8.5.1): a request answered unsubscribed, the rest dropped; an account
# deleted with XEP-0077 while its contacts are online: they get its
# unavailable, unsubscribe and unsubscribed, and a push with subscription
# none.
import asyncio
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sm_harness as S  # noqa: E402
from sm_harness import tag  # noqa: E402

WATCHDOG = 120
NS = "jabber:iq:roster"
Q = "{%s}query" % NS
ITEM = "{%s}item" % NS
C = "{jabber:client}"
USERS = ["juliet", "romeo", "nurse", "benvolio", "tybalt", "mercutio", "paris"]
SRV = None


def jid(u):
    return "%s@localhost" % u


def pres(frm=None, type_="", show=None):
    """A presence of that type from frm (a full JID exactly, a bare JID any of its resources)."""
    def pred(st):
        if tag(st) != "presence" or (st.get("type") or "") != type_:
            return False
        f = st.get("from") or ""
        if frm is not None and f != frm and ("/" in frm or S.bare(f) != frm):
            return False
        if show is not None:
            s = st.find(C + "show")
            return s is not None and s.text == show
        return True
    return pred


def is_push(who, sub=None, ask=None, approved=None):
    def pred(st):
        if tag(st) != "iq" or st.get("type") != "set":
            return False
        q = st.find(Q)
        it = q.find(ITEM) if q is not None else None
        if it is None or it.get("jid") != who:
            return False
        if sub is not None and it.get("subscription") != sub:
            return False
        if ask is not None and (it.get("ask") or "") != ask:
            return False
        return approved is None or (it.get("approved") or "") == approved
    return pred


def any_push(st):
    return tag(st) == "iq" and st.get("type") == "set" and st.find(Q) is not None


async def login(u, res, presence=True, roster=True, show=None):
    c = await SRV.client(u, "pw-" + u, res)
    if roster:
        r = await c.iq("<iq type='get'><query xmlns='%s'/></iq>" % NS)
        assert r.get("type") == "result"
    if presence:
        c.send("<presence>%s</presence>" % ("<show>%s</show>" % show if show else ""))
        await c.expect(pres(c.jid))         # the sender sees its own presence (4.2.2)
    return c


async def roster_of(c):
    r = await c.iq("<iq type='get'><query xmlns='%s'/></iq>" % NS)
    return {it.get("jid"): it for it in r.find(Q).findall(ITEM)}


async def subscribe(a, b):
    """a's user subscribes to b's user, b approves; both online, interested."""
    ja, jb = S.bare(a.jid), S.bare(b.jid)
    a.send("<presence to='%s' type='subscribe'/>" % jb)
    await b.expect(pres(ja, "subscribe"))
    b.send("<presence to='%s' type='subscribed'/>" % ja)
    await a.expect(pres(jb, "subscribed"))


async def close_all(*cs):
    for c in cs:
        await c.close()
    await asyncio.sleep(0.2)


def suite(srv):
    async def handshake():
        j = await login("juliet", "balcony", show="chat")
        r = await login("romeo", "orchard")
        r.send("<presence to='juliet@localhost/balcony' type='subscribe' id='s1'/>")
        await r.expect(is_push(jid("juliet"), "none", "subscribe"))     # 3.1.2
        req = await j.expect(pres(jid("romeo"), "subscribe"))
        assert req.get("from") == jid("romeo") and req.get("to") == jid("juliet"), \
            "the request is not between bare JIDs: " + ET.tostring(req).decode()
        assert jid("romeo") not in await roster_of(j), "a pending request is in the roster"
        j.send("<presence to='romeo@localhost' type='subscribed'/>")
        await j.expect(is_push(jid("romeo"), "from", ""))
        ok_ = await r.expect(pres(jid("juliet"), "subscribed"))
        assert ok_.get("from") == jid("juliet"), "approval from " + ok_.get("from")
        await r.expect(is_push(jid("juliet"), "to", ""))
        await r.expect(pres(j.jid, "", "chat"))                         # 3.1.5
        # and the other way
        await subscribe(j, r)
        await j.expect(is_push(jid("romeo"), "both"))
        await r.expect(is_push(jid("juliet"), "both"))
        await j.expect(pres(r.jid))
        j.send("<presence><show>away</show></presence>")
        await r.expect(pres(j.jid, "", "away"))
        r.send("<presence><show>dnd</show></presence>")
        await j.expect(pres(r.jid, "", "dnd"))
        await close_all(j, r)

    async def one_way():
        j = await login("juliet", "balcony")
        n = await login("nurse", "kitchen")
        b = await login("benvolio", "street")
        await subscribe(n, j)           # the nurse sees juliet; juliet does not see her
        await n.expect(pres(j.jid))     # 3.1.5
        for c in (j, n, b):
            c.clear()
        j.send("<presence><show>xa</show></presence>")
        await n.expect(pres(j.jid, "", "xa"))
        assert await b.nothing(pres(jid("juliet"))), "presence reached a stranger"
        n.send("<presence><show>dnd</show></presence>")
        assert await j.nothing(pres(jid("nurse"))), "presence against the subscription"
        # a new session of the nurse learns juliet's presence (probe, 4.3.2)
        n2 = await login("nurse", "pantry")
        await n2.expect(pres(j.jid, "", "xa"))
        # a stranger's probe reveals nothing (the unsubscribed it is answered with
        # stops at the stranger's own server, A.3.4: nothing to cancel there)
        b.send("<presence to='juliet@localhost' type='probe'/>")
        assert await b.nothing(pres(j.jid)), "a probe from a stranger got presence"
        await close_all(j, n, n2, b)

    async def siblings():
        j1 = await login("juliet", "one", show="away")
        j2 = await login("juliet", "two", show="dnd")
        await j1.expect(pres(j2.jid, "", "dnd"))
        await j2.expect(pres(j1.jid, "", "away"))          # the new one learns the older
        j3 = await login("juliet", "three", presence=False)  # connected, not available
        j3.send("<presence><show>chat</show></presence>")
        for c in (j1, j2, j3):
            await c.expect(pres(j3.jid, "", "chat"))
        await j3.expect(pres(j1.jid, "", "away"))
        await j3.expect(pres(j2.jid, "", "dnd"))
        await j2.close()
        await j1.expect(pres(j2.jid, "unavailable"))
        await j3.expect(pres(j2.jid, "unavailable"))
        await close_all(j1, j3)

    async def pending_offline():
        b = await login("benvolio", "street")
        b.send("<presence to='juliet@localhost' type='subscribe'><nick xmlns="
               "'http://jabber.org/protocol/nick'>Benvolio</nick></presence>")
        await b.expect(is_push(jid("juliet"), "none", "subscribe"))
        await asyncio.sleep(0.3)
        j = await login("juliet", "balcony", presence=False)
        assert await j.nothing(pres(jid("benvolio"), "subscribe"), 0.4), \
            "a request reached a session before its initial presence"
        assert jid("benvolio") not in await roster_of(j), "a pending request is in the roster"
        j.send("<presence/>")
        req = await j.expect(pres(jid("benvolio"), "subscribe"))
        nick = req.find("{http://jabber.org/protocol/nick}nick")
        assert nick is not None and nick.text == "Benvolio", "the request lost its content"
        j2 = await login("juliet", "chamber")
        await j2.expect(pres(jid("benvolio"), "subscribe"))
        await close_all(j2)
        j.send("<presence to='benvolio@localhost' type='unsubscribed'/>")     # denied
        await b.expect(pres(jid("juliet"), "unsubscribed"))
        await b.expect(is_push(jid("juliet"), "none", ""))
        assert await j.nothing(any_push, 0.4), "a denial pushed an item that never was"
        await close_all(j)
        j = await login("juliet", "balcony")
        assert await j.nothing(pres(jid("benvolio"), "subscribe")), "a denied request came again"
        await close_all(j, b)

    async def preapproval():
        j = await login("juliet", "balcony", show="chat")
        t = await login("tybalt", "street")
        j.send("<presence to='tybalt@localhost' type='subscribed'/>")
        await j.expect(is_push(jid("tybalt"), "none", "", "true"))
        assert await t.nothing(pres(jid("juliet"), "subscribed"), 0.4), \
            "a pre-approval was routed"
        t.send("<presence to='juliet@localhost' type='subscribe'/>")
        await t.expect(pres(jid("juliet"), "subscribed"))
        await t.expect(is_push(jid("juliet"), "to", ""))
        await t.expect(pres(j.jid, "", "chat"))
        await j.expect(is_push(jid("tybalt"), "from", "", ""))
        assert await j.nothing(pres(jid("tybalt"), "subscribe"), 0.3), \
            "a pre-approved request reached the user"
        await close_all(j, t)

    async def cancelling():
        j = await login("juliet", "balcony")
        r = await login("romeo", "orchard")       # both, from handshake()
        n = await login("nurse", "kitchen")       # the nurse sees juliet (one_way)
        await r.expect(pres(j.jid))
        await n.expect(pres(j.jid))
        # romeo no longer wants juliet's presence (3.3)
        r.send("<presence to='juliet@localhost' type='unsubscribe'/>")
        await r.expect(is_push(jid("juliet"), "from"))
        await j.expect(pres(jid("romeo"), "unsubscribe"))
        await j.expect(is_push(jid("romeo"), "to"))
        await r.expect(pres(j.jid, "unavailable"))          # 3.3.3
        r.clear()
        j.send("<presence><show>away</show></presence>")
        assert await r.nothing(pres(j.jid)), "presence after unsubscribe"
        r.send("<presence><show>dnd</show></presence>")
        await j.expect(pres(r.jid, "", "dnd"))              # juliet still sees romeo
        # juliet cancels the nurse's subscription (3.2)
        j.send("<presence to='nurse@localhost' type='unsubscribed'/>")
        await j.expect(is_push(jid("nurse"), "none"))
        await n.expect(pres(jid("juliet"), "unsubscribed"))
        await n.expect(is_push(jid("juliet"), "none"))
        await n.expect(pres(j.jid, "unavailable"))          # 3.2.2
        n.clear()
        j.send("<presence><show>chat</show></presence>")
        assert await n.nothing(pres(j.jid)), "presence after unsubscribed"
        await close_all(j, r, n)

    async def directed():
        j = await login("juliet", "balcony")
        b = await login("benvolio", "street")
        j.send("<presence to='benvolio@localhost/street'><show>chat</show></presence>")
        await b.expect(pres(j.jid, "", "chat"))
        j.send("<presence type='unavailable'/>")
        await b.expect(pres(j.jid, "unavailable"))          # 4.6.3
        j.send("<presence/>")
        j.send("<presence to='benvolio@localhost'/>")
        await b.expect(pres(j.jid))
        j.send("<presence to='benvolio@localhost' type='unavailable'/>")   # directed unavailable
        await b.expect(pres(j.jid, "unavailable"))
        j.send("<presence to='benvolio@localhost'/>")
        await b.expect(pres(j.jid))
        await j.close()
        await b.expect(pres(j.jid, "unavailable"))          # the client went away
        await close_all(b)

    async def disconnect():
        j = await login("juliet", "balcony")
        r = await login("romeo", "orchard")       # sees juliet? no: he unsubscribed; she sees him
        await j.expect(pres(r.jid))
        await r.close()
        await j.expect(pres(r.jid, "unavailable"))
        await close_all(j)

    async def priority():
        j = await login("juliet", "balcony")
        for bad in ("high", "128", "-129", ""):
            j.send("<presence id='p-%s'><priority>%s</priority></presence>" % (bad, bad))
            e = await j.expect(lambda s, bad=bad: tag(s) == "presence" and
                               s.get("id") == "p-%s" % bad)
            assert e.get("type") == "error" and S.error_condition(e) == "bad-request", \
                "priority '%s': %s" % (bad, ET.tostring(e).decode())
        j.send("<presence id='good'><priority> -5 </priority></presence>")
        e = await j.expect(lambda s: tag(s) == "presence" and s.get("id") == "good")
        assert e.get("type") is None, ET.tostring(e).decode()
        await close_all(j)

    async def no_such_user():
        j = await login("juliet", "balcony")
        j.send("<presence to='nobody@localhost' type='subscribe'/>")
        await j.expect(is_push(jid("nobody"), "none", "subscribe"))
        await j.expect(pres(jid("nobody"), "unsubscribed"))
        await j.expect(is_push(jid("nobody"), "none", ""))    # the request is over
        j.send("<presence to='nobody@localhost'/>")
        assert await j.nothing(lambda s: tag(s) == "presence" and
                               S.bare(s.get("from") or "") == jid("nobody")), \
            "presence to a missing account was answered"
        await close_all(j)

    async def account_deleted():
        j = await login("juliet", "balcony")
        m = await login("mercutio", "square")
        await subscribe(j, m)
        await subscribe(m, j)
        await j.expect(is_push(jid("mercutio"), "both"))
        await j.expect(pres(m.jid))
        j.clear()
        a = await m.iq("<iq type='set'><query xmlns='jabber:iq:register'><remove/></query></iq>")
        assert a.get("type") == "result", ET.tostring(a).decode()
        await j.expect(pres(m.jid, "unavailable"))
        await j.expect(pres(jid("mercutio"), "unsubscribe"))
        await j.expect(pres(jid("mercutio"), "unsubscribed"))
        await j.expect(is_push(jid("mercutio"), "none", ""))
        it = (await roster_of(j))[jid("mercutio")]
        assert it.get("subscription") == "none", ET.tostring(it).decode()
        await close_all(j)

    for desc, fn in [
            ("the subscription handshake both ways, pushes, presence after approval", handshake),
            ("presence only as the subscription allows; probes; a stranger's probe", one_way),
            ("a user's sessions see each other's presence, and its end", siblings),
            ("a request to an offline user waits, comes at each initial presence, not "
             "after a denial", pending_offline),
            ("pre-approval: nothing routed, the request answered at once", preapproval),
            ("unsubscribe and unsubscribed: pushes and unavailable", cancelling),
            ("directed presence and its unavailable (broadcast, directed, disconnect)", directed),
            ("a client that disconnects: unavailable to who sees it", disconnect),
            ("a bad priority is refused", priority),
            ("presence to an account that does not exist (8.5.1)", no_such_user),
            ("an account deleted (XEP-0077) while its contact is online", account_deleted)]:
        S.check_async("%s: %s" % (srv.db, desc), fn)


def main():
    global SRV
    for db in S.databases():
        srv = S.Server(db, registration=True)
        SRV = srv
        try:
            for u in USERS:
                srv.adduser(u, "pw-" + u)
            suite(srv)
        finally:
            srv.stop()
    return S.done()


S.run(main, WATCHDOG)
