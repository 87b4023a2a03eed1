#!/usr/bin/python3
# component_slix.py: a slixmpp ComponentXMPP (XEP-0114) driven by a test.
#
#   /usr/bin/python3 t/lib/component_slix.py --jid NAME --secret S --port P
#       [--host 127.0.0.1] [--reconnect] [--bind NAME]...
#
# It prints one JSON object per line on stdout for every event:
#   {"event": "online"}                          handshake accepted (session_start)
#   {"event": "stanza", "kind": "message", ...}  any top-level element received
#   {"event": "stream_error", "condition": ...}  the router sent a stream error
#   {"event": "disconnected"} / {"event": "connection_failed"}
#   {"event": "iq_result"|"iq_error"|"iq_timeout", "tag": ...}  answer to an "iq" command
#   {"event": "error", "message": ...}           anything else that went wrong
# and reads one JSON command per line on stdin:
#   {"cmd": "message", "to": J, "from": J?, "type": T?, "body": B?, "payload": XML?, "id": I?}
#   {"cmd": "presence", "to": J, "from": J?, "type": T?, "payload": XML?, "id": I?}
#   {"cmd": "iq", "to": J, "from": J?, "payload": XML, "tag": T}   get; answer as iq_* event
#   {"cmd": "raw", "xml": XML}                    bytes as they are (spoofing checks)
#   {"cmd": "disconnect"} / {"cmd": "connect"} / {"cmd": "quit"}
#
# Behaviour a test relies on:
#   - a message (not an error) carrying <payload xmlns='urn:switchboard:test' echo='yes'>
#     is sent back to its sender, from its 'to', with the payload copied minus echo='yes';
#   - an iq get carrying <ping xmlns='urn:switchboard:test'> is answered with a result
#     carrying a copy of the ping;
#   - --reconnect: when the connection is lost without a "disconnect" command, connect
#     again (slixmpp retries failed connects itself, with its own backoff);
#   - --bind NAME: after the handshake, ask the router for NAME with
#     <bind xmlns='urn:switchboard:component:0'/> (internal links only).
import argparse
import asyncio
import copy
import json
import logging
import os
import sys
import xml.etree.ElementTree as ET

from slixmpp import ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_TEST = "urn:switchboard:test"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_ROUTER = "urn:switchboard:component:0"


def emit(**obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def local(tag):
    return tag.rsplit("}", 1)[-1]


def describe(xml):
    """The fields of a received element a test asserts on."""
    ev = {"event": "stanza", "kind": local(xml.tag), "ns": xml.tag[1:].split("}")[0] if xml.tag.startswith("{") else "",
          "xml": ET.tostring(xml, encoding="unicode")}
    for a in ("from", "to", "type", "id", "name", "event", "link", "condition"):
        if xml.get(a) is not None:
            ev[a] = xml.get(a)
    body = xml.find("{jabber:component:accept}body")
    if body is not None:
        ev["body"] = body.text or ""
    for child in xml:
        if child.tag.startswith("{%s}" % NS_TEST):
            ev["payload"] = ET.tostring(child, encoding="unicode")
            break
    err = xml.find("{jabber:component:accept}error")
    if err is not None:
        for c in err:
            if c.tag.startswith("{%s}" % NS_STANZAS) and local(c.tag) != "text":
                ev["error"] = local(c.tag)
        ev["error_type"] = err.get("type")
    return ev


class Component(ComponentXMPP):
    def __init__(self, args):
        ComponentXMPP.__init__(self, args.jid, args.secret, args.host, args.port)
        self.args = args
        self.want_connected = True
        self.add_filter("in", self.on_in)
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("stream_error", self.on_stream_error)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("message", self.on_message)
        self.register_handler(Callback(
            "test ping",
            MatchXPath("{%s}iq/{%s}ping" % (self.default_ns, NS_TEST)),
            self.on_ping))

    def on_in(self, stanza):
        if local(stanza.xml.tag) != "handshake":
            emit(**describe(stanza.xml))
        return stanza

    def on_session_start(self, _):
        emit(event="online", jid=str(self.boundjid))
        for i, name in enumerate(self.args.bind):
            self.send_raw("<bind xmlns='%s' name='%s' id='bind%d'/>" % (NS_ROUTER, name, i))

    def on_stream_error(self, error):
        emit(event="stream_error", condition=error["condition"], text=error["text"])

    def on_connection_failed(self, reason):
        emit(event="connection_failed", reason=str(reason))

    def on_disconnected(self, reason):
        emit(event="disconnected", reason=str(reason) if reason else "")
        if self.want_connected and self.args.reconnect:
            self.loop.call_soon(self.connect)

    def on_message(self, msg):
        if msg["type"] == "error":
            return
        payload = msg.xml.find("{%s}payload" % NS_TEST)
        if payload is None or payload.get("echo") != "yes":
            return
        back = copy.deepcopy(payload)
        del back.attrib["echo"]
        reply = self.make_message(mto=msg["from"], mfrom=msg["to"], mbody=msg["body"] or None)
        if msg.xml.get("type"):
            reply["type"] = msg["type"]
        if msg["id"]:
            reply["id"] = msg["id"] + "-echo"
        reply.append(back)
        reply.send()

    def on_ping(self, iq):
        if iq["type"] != "get":
            return
        ping = copy.deepcopy(iq.xml.find("{%s}ping" % NS_TEST))
        reply = iq.reply(clear=True)
        reply["type"] = "result"
        reply.append(ping)
        reply.send()

    # --- commands from the test ---

    async def command(self, cmd):
        c = cmd.get("cmd")
        if c == "message":
            msg = self.make_message(mto=cmd["to"], mfrom=cmd.get("from", self.boundjid.full),
                                    mbody=cmd.get("body"), mtype=cmd.get("type"))
            if cmd.get("id"):
                msg["id"] = cmd["id"]
            if cmd.get("payload"):
                msg.append(ET.fromstring(cmd["payload"]))
            msg.send()
        elif c == "presence":
            pres = self.make_presence(pto=cmd["to"], pfrom=cmd.get("from", self.boundjid.full),
                                      ptype=cmd.get("type"))
            if cmd.get("id"):
                pres["id"] = cmd["id"]
            if cmd.get("payload"):
                pres.append(ET.fromstring(cmd["payload"]))
            pres.send()
        elif c == "iq":
            iq = self.make_iq_get(ito=cmd["to"], ifrom=cmd.get("from", self.boundjid.full))
            iq.append(ET.fromstring(cmd["payload"]))
            tag = cmd.get("tag", "")
            try:
                res = await iq.send(timeout=cmd.get("timeout", 5))
                ev = describe(res.xml)
                ev.update(event="iq_result", tag=tag)
                emit(**ev)
            except IqError as e:
                ev = describe(e.iq.xml)
                ev.update(event="iq_error", tag=tag)
                emit(**ev)
            except IqTimeout:
                emit(event="iq_timeout", tag=tag)
        elif c == "raw":
            self.send_raw(cmd["xml"])
        elif c == "disconnect":
            self.want_connected = False
            self.disconnect(wait=2)
        elif c == "connect":
            self.want_connected = True
            self.connect()
        elif c == "quit":
            self.want_connected = False
            self.disconnect(wait=1)
            await asyncio.sleep(0.2)
            os._exit(0)
        else:
            emit(event="error", message="unknown command %r" % (c,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--reconnect", action="store_true")
    ap.add_argument("--bind", action="append", default=[])
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = Component(args)

    pending = bytearray()

    def on_stdin():
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:  # the test went away: so do we
            os._exit(0)
        pending.extend(data)
        while b"\n" in pending:
            i = pending.index(b"\n")
            line = pending[:i].decode("utf-8").strip()
            del pending[:i + 1]
            if not line:
                continue
            try:
                cmd = json.loads(line)
            except ValueError as e:
                emit(event="error", message="bad command: %s" % e)
                continue
            task = loop.create_task(xmpp.command(cmd))
            task.add_done_callback(report)

    def report(task):
        if not task.cancelled() and task.exception() is not None:
            emit(event="error", message=repr(task.exception()))

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    xmpp.connect()
    emit(event="started")
    loop.run_forever()


if __name__ == "__main__":
    main()
