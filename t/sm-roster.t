#!/usr/bin/python3
# sm-roster.t: the roster (RFC 6121 section 2) with versioning (2.6,
# XEP-0237) through the real server (sb-router + sb-sm + sb-c2s, slixmpp
# clients), on SQLite and PostgreSQL.
#
# Checks: a new account's roster is empty with ver 0; a roster set adds an
# item with its name and groups, pushed with the new ver to every session
# that asked for the roster and to no other, then answered; an update keeps
# the subscription; the roster set errors of 2.3.3 and 2.5.3 (two items,
# a malformed JID, a full JID, duplicate groups, an empty group, a name too
# long, removing what is not there, a roster IQ to someone else's account,
# the configured roster size) and the attributes a client may not set
# (subscription other than remove, ask, approved) ignored; versioning: the
# current ver gets an empty result, an unknown or garbage ver the whole
# roster, an older ver an empty result and then one push per item changed
# or removed since, in version order, the last one naming the current ver,
# including changes made by a contact while the user was offline; removing
# an item with a subscription both ways (2.5.2) pushes the removal and
# sends the contact unsubscribe, unsubscribed and unavailable, so the
# contact's roster shows subscription none; the roster survives a restart
# of sm (it is in the database).
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
GROUP = "{%s}group" % NS
USERS = ["juliet", "romeo", "nurse", "benvolio", "paris"]
PW = "pw-%s"
LIMIT = 10
SRV = None


def password(u):
    return PW % u


def jid(u):
    return "%s@localhost" % u


def is_push(who, sub=None, ask=None):
    """A roster push for JID who (with that subscription and ask, "" for none)."""
    def pred(st):
        if tag(st) != "iq" or st.get("type") != "set":
            return False
        q = st.find(Q)
        it = q.find(ITEM) if q is not None else None
        if it is None or it.get("jid") != who:
            return False
        if sub is not None and it.get("subscription") != sub:
            return False
        return ask is None or (it.get("ask") or "") == ask
    return pred


def is_any_push(st):
    return tag(st) == "iq" and st.get("type") == "set" and st.find(Q) is not None


def items(result):
    q = result.find(Q)
    assert q is not None, "no <query/> in " + ET.tostring(result).decode()
    return {it.get("jid"): it for it in q.findall(ITEM)}


def groups(item):
    return sorted(g.text or "" for g in item.findall(GROUP))


async def get(c, ver=None):
    r = await c.iq("<iq type='get'><query xmlns='%s'%s/></iq>" % (
        NS, "" if ver is None else " ver='%s'" % ver))
    assert r.get("type") == "result", ET.tostring(r).decode()
    return r


async def set_item(c, item_xml):
    return await c.iq("<iq type='set'><query xmlns='%s'>%s</query></iq>" % (NS, item_xml))


def error_of(r):
    return S.error_condition(r) if r.get("type") == "error" else None


async def login(u, res, presence=False):
    return await SRV.client(u, password(u), res, presence=presence)


async def befriend(a, b):
    """Subscriptions both ways between the users of clients a and b (interested, available)."""
    ja, jb = S.bare(a.jid), S.bare(b.jid)
    for x, y, jx, jy in ((a, b, ja, jb), (b, a, jb, ja)):
        x.send("<presence to='%s' type='subscribe'/>" % jy)
        await y.expect(lambda s: tag(s) == "presence" and s.get("type") == "subscribe" and
                       s.get("from") == jx)
        y.send("<presence to='%s' type='subscribed'/>" % jx)
        await x.expect(lambda s: tag(s) == "presence" and s.get("type") == "subscribed" and
                       s.get("from") == jy)
    await a.expect(is_push(jb, "both"))
    await b.expect(is_push(ja, "both"))


def suite(srv):
    async def empty():
        j = await login("juliet", "balcony")
        r = await get(j)
        q = r.find(Q)
        assert q is not None and q.get("ver") == "0" and len(q) == 0, ET.tostring(r).decode()
        await j.close()

    async def add_and_push():
        j1 = await login("juliet", "balcony")
        j2 = await login("juliet", "chamber", presence=True)
        j3 = await login("juliet", "silent", presence=True)     # never asks for the roster
        v0 = int((await get(j1)).find(Q).get("ver"))
        await get(j2)
        r = await set_item(j1, "<item jid='nurse@localhost' name='Nurse'><group>House"
                               "</group><group>Staff</group></item>")
        assert r.get("type") == "result", ET.tostring(r).decode()
        for c in (j1, j2):
            p = await c.expect(is_push(jid("nurse"), "none", ""))
            it = p.find(Q).find(ITEM)
            assert it.get("name") == "Nurse" and groups(it) == ["House", "Staff"], \
                ET.tostring(p).decode()
            assert int(p.find(Q).get("ver")) == v0 + 1, "push ver " + p.find(Q).get("ver")
            assert p.get("from") in (None, jid("juliet")), "push from " + p.get("from")
        assert await j3.nothing(is_any_push, 0.5), "a session that never asked got a push"
        it = items(await get(j1))[jid("nurse")]
        assert it.get("name") == "Nurse" and groups(it) == ["House", "Staff"] and \
            it.get("subscription") == "none"
        # an update: the name and groups change, nothing else
        r = await set_item(j2, "<item jid='nurse@localhost' name='Angelica'>"
                               "<group>House</group></item>")
        assert r.get("type") == "result"
        p = await j1.expect(is_push(jid("nurse")))
        it = p.find(Q).find(ITEM)
        assert it.get("name") == "Angelica" and groups(it) == ["House"], ET.tostring(p).decode()
        assert int(p.find(Q).get("ver")) == v0 + 2
        for c in (j1, j2, j3):
            await c.close()

    async def set_errors():
        j = await login("juliet", "balcony")
        await get(j)
        cases = [
            ("<item jid='a@localhost'/><item jid='b@localhost'/>", "bad-request", "two items"),
            ("<item jid='a@@localhost'/>", "jid-malformed", "a malformed JID"),
            ("<item jid='a@localhost/res'/>", "bad-request", "a full JID"),
            ("<item jid='a@localhost'><group>G</group><group>G</group></item>", "bad-request",
             "a group twice"),
            ("<item jid='a@localhost'><group></group></item>", "not-acceptable",
             "an empty group"),
            ("<item jid='a@localhost' name='%s'/>" % ("n" * 2000), "not-acceptable",
             "a name too long"),
            ("<item jid='nobody@localhost' subscription='remove'/>", "item-not-found",
             "removing an item that is not there"),
        ]
        for xml, cond, what in cases:
            r = await j.iq("<iq type='set'><query xmlns='%s'>%s</query></iq>" % (NS, xml))
            assert error_of(r) == cond, "%s: %s" % (what, ET.tostring(r).decode())
        assert jid("a") not in items(await get(j)), "a refused item is in the roster"
        # what a client may not set is ignored (2.1.2)
        r = await set_item(j, "<item jid='paris@localhost' subscription='both' ask='subscribe' "
                              "approved='true'/>")
        assert r.get("type") == "result", ET.tostring(r).decode()
        it = items(await get(j))[jid("paris")]
        assert it.get("subscription") == "none" and it.get("ask") is None and \
            it.get("approved") is None, ET.tostring(it).decode()
        # someone else's roster (2.3.3)
        for t in ("get", "set"):
            r = await j.iq("<iq type='%s' to='romeo@localhost'><query xmlns='%s'>%s</query></iq>"
                           % (t, NS, "<item jid='x@localhost'/>" if t == "set" else ""))
            assert error_of(r) == "forbidden", "%s: %s" % (t, ET.tostring(r).decode())
        await j.close()

    async def size_limit():
        p = await login("paris", "p")
        await get(p)
        for i in range(LIMIT):
            r = await set_item(p, "<item jid='c%d@localhost'/>" % i)
            assert r.get("type") == "result", ET.tostring(r).decode()
        r = await set_item(p, "<item jid='one-more@localhost'/>")
        assert error_of(r) == "not-allowed", ET.tostring(r).decode()
        # an existing item may still change, and removing makes room
        r = await set_item(p, "<item jid='c0@localhost' name='renamed'/>")
        assert r.get("type") == "result"
        r = await set_item(p, "<item jid='c1@localhost' subscription='remove'/>")
        assert r.get("type") == "result"
        r = await set_item(p, "<item jid='one-more@localhost'/>")
        assert r.get("type") == "result", ET.tostring(r).decode()
        p.send("<presence to='another@localhost' type='subscribe'/>")
        e = await p.expect(lambda s: tag(s) == "presence" and s.get("type") == "error")
        assert S.error_condition(e) == "not-allowed", ET.tostring(e).decode()
        await p.close()

    async def versions():
        j = await login("juliet", "balcony", presence=True)
        r = await login("romeo", "orchard", presence=True)
        await get(j)
        await get(r)
        await befriend(j, r)
        await set_item(j, "<item jid='gone@localhost'/>")
        await set_item(j, "<item jid='kept@localhost' name='Kept'/>")
        ver = (await get(j)).find(Q).get("ver")
        # the same version: nothing to send
        j.clear()
        a = await get(j, ver)
        assert a.find(Q) is None, "the current ver got a roster: " + ET.tostring(a).decode()
        assert await j.nothing(is_any_push, 0.5), "pushes after the current ver"
        # garbage and the future: the whole roster
        for v in ("", "garbage", str(int(ver) + 100), "-1"):
            a = await get(j, v)
            assert a.find(Q) is not None and a.find(Q).get("ver") == ver and \
                jid("kept") in items(a), "ver '%s': %s" % (v, ET.tostring(a).decode())
        await j.close()
        # while juliet is away: her own other session changes things, and romeo
        # cancels his subscription to her (her item for him changes too)
        j2 = await login("juliet", "away")
        await set_item(j2, "<item jid='gone@localhost' subscription='remove'/>")
        await set_item(j2, "<item jid='new@localhost' name='New'/>")
        await j2.close()
        r.send("<presence to='juliet@localhost' type='unsubscribe'/>")
        await r.expect(is_push(jid("juliet"), "from"))
        await asyncio.sleep(0.3)
        j = await login("juliet", "back")
        a = await get(j, ver)
        assert a.get("type") == "result" and a.find(Q) is None, ET.tostring(a).decode()
        got = []
        for _ in range(3):
            p = await j.expect(is_any_push)
            it = p.find(Q).find(ITEM)
            got.append((int(p.find(Q).get("ver")), it.get("jid"), it.get("subscription")))
        assert [g[1:] for g in got] == [(jid("gone"), "remove"), (jid("new"), "none"),
                                        (jid("romeo"), "to")], got
        assert [g[0] for g in got] == sorted(g[0] for g in got), "pushes out of order: %r" % got
        cur = (await get(j)).find(Q).get("ver")
        assert got[-1][0] == int(cur), "last push ver %d, roster ver %s" % (got[-1][0], cur)
        assert await j.nothing(is_any_push, 0.3), "more pushes than changes"
        # nothing changed since 'cur'
        a = await get(j, cur)
        assert a.find(Q) is None
        await j.close()
        await r.close()

    async def remove_subscribed():
        j = await login("juliet", "balcony", presence=True)
        n = await login("nurse", "kitchen", presence=True)
        await get(j)
        await get(n)
        await befriend(j, n)
        j.clear()
        n.clear()
        r = await set_item(j, "<item jid='nurse@localhost' subscription='remove'/>")
        assert r.get("type") == "result", ET.tostring(r).decode()
        await j.expect(is_push(jid("nurse"), "remove"))
        await n.expect(lambda s: tag(s) == "presence" and s.get("type") == "unavailable" and
                       s.get("from") == j.jid)
        for t in ("unsubscribe", "unsubscribed"):
            await n.expect(lambda s, t=t: tag(s) == "presence" and s.get("type") == t and
                           s.get("from") == jid("juliet"))
        await n.expect(is_push(jid("juliet"), "none", ""))
        assert jid("nurse") not in items(await get(j))
        it = items(await get(n))[jid("juliet")]
        assert it.get("subscription") == "none" and it.get("ask") is None
        # juliet's presence no longer reaches the nurse
        n.clear()
        j.send("<presence><show>away</show></presence>")
        assert await n.nothing(lambda s: tag(s) == "presence" and s.get("from") == j.jid), \
            "presence after the removal"
        await j.close()
        await n.close()

    async def persisted():
        # (a logout's last-activity write may still be under way: let it land)
        await asyncio.sleep(0.5)
        for p in srv.sms:
            assert p.stop() == 0, "sm did not stop cleanly"
        srv.sms.clear()
        srv.start_sm("sm1")
        await asyncio.sleep(0.5)
        j = await login("juliet", "balcony")
        it = items(await get(j))
        assert jid("kept") in it and it[jid("kept")].get("name") == "Kept" and \
            jid("gone") not in it, sorted(it)
        assert it[jid("romeo")].get("subscription") == "to", ET.tostring(it[jid("romeo")])
        await j.close()
        await asyncio.sleep(0.5)

    for desc, fn in [
            ("a new roster is empty, ver 0", empty),
            ("roster set: item with name and groups pushed with the new ver to the "
             "interested sessions only; an update", add_and_push),
            ("roster set errors (2.3.3, 2.5.3), forbidden for others, client-only "
             "attributes ignored", set_errors),
            ("the roster size limit: not-allowed for a new item or subscription", size_limit),
            ("versioning: same ver empty, unknown ver all, older ver pushes of changes and "
             "removals since, in order", versions),
            ("removing a subscribed contact: push, unsubscribe, unsubscribed, unavailable "
             "(2.5.2)", remove_subscribed),
            ("the roster is kept across an sm restart", persisted)]:
        S.check_async("%s: %s" % (srv.db, desc), fn)


def main():
    for db in S.databases():
        srv = S.Server(db, sm_extra="<limits><roster-items>%d</roster-items></limits>" % LIMIT)
        global SRV
        SRV = srv
        try:
            for u in USERS:
                srv.adduser(u, password(u))
            suite(srv)
        finally:
            srv.stop()
    return S.done()


S.run(main, WATCHDOG)
