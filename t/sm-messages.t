#!/usr/bin/python3
# sm-messages.t: sessions and message delivery through the real server
# (sb-router + sb-sm + sb-c2s, slixmpp clients), on SQLite and PostgreSQL.
#
# Checks, per RFC 6121 section 8.5 and XEP-0160: a message to a full JID
# reaches that resource only; to the bare JID, the resources with the
# highest non-negative priority (all of them on a tie), never a resource
# with negative priority or one that sent no presence; headline to every
# non-negative resource; groupchat to a user gets service-unavailable;
# a full JID with no such resource falls back to the bare JID for chat and
# is dropped for headline; a message to an account that does not exist
# gets service-unavailable; offline messages are stored in order with a
# <delay/>, delivered after the first available presence, and not again;
# past the per-user limit the sender gets service-unavailable; IQs to a
# full JID are delivered, to a missing resource answered
# service-unavailable, in an unknown namespace answered service-unavailable;
# a message to the server itself is refused; a second login with the same
# resource replaces the first (<conflict/>); when c2s goes away sm ends its
# sessions (messages go offline again); a second sm shard joining takes
# over its share of the users: their sessions are reset and they log in
# again there; XEP-0077 cancel deletes the account and its offline messages.
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sm_harness as S  # noqa: E402
from sm_harness import tag  # noqa: E402

WATCHDOG = 300
USERS = {"juliet": "j-pass", "romeo": "r-pass", "nurse": "n-pass", "tybalt": "t-pass"}
LIMIT = 3


def is_msg(body=None):
    def pred(st):
        if tag(st) != "message":
            return False
        if body is None:
            return True
        b = st.find("{jabber:client}body")
        return b is not None and b.text == body
    return pred


def chat(to, body, type_="chat", id_=None):
    return "<message to='%s' type='%s'%s><body>%s</body></message>" % (
        to, type_, " id='%s'" % id_ if id_ else "", body)


def suite(srv):
    async def full_and_bare():
        j1 = await srv.client("juliet", USERS["juliet"], "balcony", presence=True, priority=5)
        j2 = await srv.client("juliet", USERS["juliet"], "garden", presence=True, priority=1)
        j3 = await srv.client("juliet", USERS["juliet"], "phone", presence=True, priority=-1)
        j4 = await srv.client("juliet", USERS["juliet"], "silent")      # no presence
        r = await srv.client("romeo", USERS["romeo"], "orchard", presence=True)
        await asyncio.sleep(0.3)
        for c in (j1, j2, j3, j4, r):
            c.clear()
        r.send(chat("juliet@localhost/garden", "to-garden"))
        await j2.expect(is_msg("to-garden"))
        assert await j1.nothing(is_msg("to-garden"), 0.3), "a full JID reached another resource"
        r.send(chat("juliet@localhost", "to-bare"))
        await j1.expect(is_msg("to-bare"))
        for c in (j2, j3, j4):
            assert await c.nothing(is_msg("to-bare"), 0.3), \
                "bare JID chat reached a lower-priority resource: " + c.jid
        r.send(chat("juliet@localhost", "news", "headline"))
        await j1.expect(is_msg("news"))
        await j2.expect(is_msg("news"))
        assert await j3.nothing(is_msg("news"), 0.3), "headline reached negative priority"
        assert await j4.nothing(is_msg("news"), 0.1), "headline reached a resource with no presence"
        r.send(chat("juliet@localhost/nowhere", "fallback"))
        await j1.expect(is_msg("fallback"))
        r.send(chat("juliet@localhost/nowhere", "no-headline", "headline"))
        assert await j1.nothing(is_msg("no-headline"), 0.3), "headline to a missing resource delivered"
        r.send(chat("juliet@localhost", "gc", "groupchat", "gc1"))
        e = await r.expect(lambda s: tag(s) == "message" and s.get("id") == "gc1")
        assert e.get("type") == "error" and S.error_condition(e) == "service-unavailable", e
        r.send(chat("juliet@localhost/phone", "to-phone"))
        await j3.expect(is_msg("to-phone"))     # a full JID ignores priority
        # equal priorities: both get it
        j2.send("<presence><priority>5</priority></presence>")
        await asyncio.sleep(0.3)
        r.send(chat("juliet@localhost", "tie"))
        await j1.expect(is_msg("tie"))
        await j2.expect(is_msg("tie"))
        for c in (j1, j2, j3, j4, r):
            await c.close()

    async def no_such_user():
        r = await srv.client("romeo", USERS["romeo"], "orchard", presence=True)
        r.send(chat("rosaline@localhost", "hello?", id_="nsu"))
        e = await r.expect(lambda s: tag(s) == "message" and s.get("id") == "nsu")
        assert e.get("type") == "error" and S.error_condition(e) == "service-unavailable", e
        assert e.get("from") == "rosaline@localhost", e.get("from")
        await r.close()

    async def iqs():
        j = await srv.client("juliet", USERS["juliet"], "balcony", presence=True)
        r = await srv.client("romeo", USERS["romeo"], "orchard", presence=True)
        r.send("<iq type='get' id='q1' to='%s'><query xmlns='urn:example:x'/></iq>" % j.jid)
        q = await j.expect(lambda s: tag(s) == "iq" and s.get("id") == "q1")
        assert q.get("from") == r.jid, q.get("from")
        # slixmpp answers an IQ it does not know by itself: that answer comes back
        a = await r.expect(lambda s: tag(s) == "iq" and s.get("id") == "q1")
        assert a.get("type") in ("result", "error") and a.get("from") == j.jid, \
            S.ET.tostring(a)
        a = await r.iq("<iq type='get' to='juliet@localhost/nowhere'><query xmlns='urn:example:x'/></iq>")
        assert S.error_condition(a) == "service-unavailable", S.ET.tostring(a)
        a = await r.iq("<iq type='get' to='juliet@localhost'><query xmlns='urn:example:x'/></iq>")
        assert S.error_condition(a) == "service-unavailable", a
        a = await r.iq("<iq type='get' to='localhost'><query xmlns='urn:example:x'/></iq>")
        assert S.error_condition(a) == "service-unavailable", a
        a = await r.iq("<iq type='get' to='localhost'/>")
        assert S.error_condition(a) == "bad-request", S.ET.tostring(a)
        r.send("<message to='localhost' id='srv1'><body>hi server</body></message>")
        e = await r.expect(lambda s: tag(s) == "message" and s.get("id") == "srv1")
        assert S.error_condition(e) == "service-unavailable", e
        await j.close()
        await r.close()

    async def offline():
        r = await srv.client("romeo", USERS["romeo"], "orchard", presence=True)
        for i in range(LIMIT):
            r.send(chat("nurse@localhost", "offline-%d" % i))
        r.send(chat("nurse@localhost", "one-too-many", id_="full"))
        e = await r.expect(lambda s: tag(s) == "message" and s.get("id") == "full")
        assert S.error_condition(e) == "service-unavailable", e
        n = await srv.client("nurse", USERS["nurse"], "kitchen")
        assert await n.nothing(is_msg(), 0.5), "offline messages came before presence"
        n.send("<presence/>")
        got = []
        for i in range(LIMIT):
            m = await n.expect(is_msg())
            got.append(m.find("{jabber:client}body").text)
            d = m.find("{urn:xmpp:delay}delay")
            assert d is not None and d.get("from") == "localhost" and d.get("stamp"), "no delay"
            assert m.get("from") == r.jid, m.get("from")
        assert got == ["offline-%d" % i for i in range(LIMIT)], got
        await n.close()
        await asyncio.sleep(0.3)
        n = await srv.client("nurse", USERS["nurse"], "kitchen", presence=True)
        assert await n.nothing(is_msg(), 0.7), "offline messages delivered twice"
        await n.close()
        await r.close()

    async def negative_only_goes_offline():
        r = await srv.client("romeo", USERS["romeo"], "orchard", presence=True)
        t = await srv.client("tybalt", USERS["tybalt"], "street", presence=True, priority=-5)
        await asyncio.sleep(0.2)
        r.send(chat("tybalt@localhost", "stored-for-later"))
        assert await t.nothing(is_msg("stored-for-later"), 0.5), "negative priority got it"
        t.send("<presence><priority>1</priority></presence>")
        await t.expect(is_msg("stored-for-later"))      # priority raised: delivered now
        await t.close()
        await asyncio.sleep(0.3)
        r.send(chat("tybalt@localhost", "second"))
        await asyncio.sleep(0.3)
        t = await srv.client("tybalt", USERS["tybalt"], "street", presence=True, priority=-1)
        assert await t.nothing(is_msg("second"), 0.5), "negative priority login got it"
        await t.close()
        t = await srv.client("tybalt", USERS["tybalt"], "street", presence=True)
        await t.expect(is_msg("second"))
        assert await t.nothing(is_msg("stored-for-later"), 0.3), "delivered twice"
        await t.close()
        await r.close()

    async def replaced():
        a = await srv.client("juliet", USERS["juliet"], "balcony", presence=True)
        b = await srv.client("juliet", USERS["juliet"], "balcony", presence=True)
        await a.wait_gone()
        r = await srv.client("romeo", USERS["romeo"], "orchard", presence=True)
        r.send(chat("juliet@localhost/balcony", "to-the-new-one"))
        await b.expect(is_msg("to-the-new-one"))
        assert srv.c2s.wait_log(r"conflict"), "no <conflict/> for the replaced session"
        await b.close()
        await r.close()

    async def c2s_gone():
        j = await srv.client("juliet", USERS["juliet"], "balcony", presence=True)
        await asyncio.sleep(0.2)
        srv.c2s.kill()
        sm = srv.proc("sm1")
        assert sm.wait_log(r"c2s1 went away: ending its \d+ sessions"), "sm did not notice"
        srv.start_c2s("c2s-2")
        r = await srv.client("romeo", USERS["romeo"], "orchard", presence=True)
        r.send(chat("juliet@localhost", "after-c2s-died"))
        await asyncio.sleep(0.3)
        j = await srv.client("juliet", USERS["juliet"], "balcony", presence=True)
        await j.expect(is_msg("after-c2s-died"))    # it went offline: no session was left
        await j.close()
        await r.close()

    for desc, fn in [
            ("full JID, bare JID by priority, headline, groupchat, missing resource", full_and_bare),
            ("a message to an account that does not exist: service-unavailable", no_such_user),
            ("IQs: to a full JID, a missing resource, an unknown namespace; message to the server", iqs),
            ("offline: stored in order with <delay/>, limit, delivered once after presence", offline),
            ("only negative-priority resources: stored offline, delivered when the priority rises", negative_only_goes_offline),
            ("the same resource again replaces the first session", replaced),
            ("c2s gone: sm ends its sessions", c2s_gone)]:
        S.check_async("%s: %s" % (srv.db, desc), fn)


def shards(srv):
    """sm2 joins: the users rendezvous hashing gives it are reset and come back there."""
    names = ["u%d" % i for i in range(12)]
    for n in names:
        srv.adduser(n, "pw")

    async def go():
        clients = {n: await srv.client(n, "pw", "r", presence=True) for n in names}
        srv.start_sm("sm2")
        await asyncio.sleep(1.0)
        moved = [n for n, c in clients.items() if c.is_gone()]
        stayed = [n for n in names if n not in moved]
        assert moved and stayed, "sm2 took %d of %d users" % (len(moved), len(names))
        assert srv.proc("sm1").wait_log(r"sm2 holds localhost too"), "sm1 did not see sm2"
        for n in moved:
            clients[n] = await srv.client(n, "pw", "r", presence=True)
        # every pair can talk, across the shards
        a, b = moved[0], stayed[0]
        clients[a].send(chat("%s@localhost" % b, "cross-1"))
        await clients[b].expect(is_msg("cross-1"))
        clients[b].send(chat("%s@localhost" % a, "cross-2"))
        await clients[a].expect(is_msg("cross-2"))
        assert srv.proc("sm2").wait_log(r"session .* %s@localhost/r started" % a), \
            "the moved user did not land on sm2"
        for c in clients.values():
            await c.close()
    S.check_async("%s: a second sm shard takes over its share of users" % srv.db, go)


def delete(srv):
    async def go():
        r = await srv.client("romeo", USERS["romeo"], "orchard", presence=True)
        r.send(chat("tybalt@localhost", "never-read"))
        await asyncio.sleep(0.3)
        t = await srv.client("tybalt", USERS["tybalt"], "street")
        a = await t.iq("<iq type='set'><query xmlns='jabber:iq:register'><remove/></query></iq>")
        assert a.get("type") == "result", a
        await t.wait_gone()
        assert "tybalt@localhost" not in srv.sbctl("users"), "the account is still there"
        r.send(chat("tybalt@localhost", "after-delete", id_="ad"))
        e = await r.expect(lambda s: tag(s) == "message" and s.get("id") == "ad")
        assert S.error_condition(e) == "service-unavailable", e
        srv.adduser("tybalt", USERS["tybalt"])      # created again: nothing left of before
        t = await srv.client("tybalt", USERS["tybalt"], "street", presence=True)
        assert await t.nothing(is_msg(), 0.7), "offline messages survived the deletion"
        await t.close()
        await r.close()
    S.check_async("%s: XEP-0077 cancel deletes the account and its offline messages" % srv.db, go)


def main():
    for db in S.databases():
        srv = S.Server(db, registration=True,
                       sm_extra="<limits><offline-messages>%d</offline-messages></limits>" % LIMIT)
        try:
            for u, p in USERS.items():
                srv.adduser(u, p)
            suite(srv)
            delete(srv)
            shards(srv)
        finally:
            srv.stop()
    return S.done()


S.run(main, WATCHDOG)
