// component_node.mjs: an @xmpp/component (xmpp.js, XEP-0114) component driven by a test.
//
//   node t/lib/component_node.mjs --jid NAME --secret S --port P [--host 127.0.0.1]
//        [--no-reconnect]
//
// The library comes from t/js/node_modules (`npm ci --prefix t/js`). Same line protocol
// as component_slix.py: one JSON event per line on stdout
//   {"event": "online"}, {"event": "stanza", "kind": ..., "from": ..., ...},
//   {"event": "error", "condition": ..., "message": ...}, {"event": "disconnected"},
//   {"event": "iq_result"|"iq_error"|"iq_timeout", "tag": ...}
// and one JSON command per line on stdin:
//   {"cmd": "message", "to", "from"?, "type"?, "body"?, "payload"?, "id"?}
//   {"cmd": "presence", "to", "from"?, "type"?, "payload"?, "id"?}
//   {"cmd": "iq", "to", "from"?, "payload", "tag"}   {"cmd": "raw", "xml"}   {"cmd": "quit"}
// A message carrying <payload xmlns='urn:switchboard:test' echo='yes'> is echoed back to
// its sender without echo='yes'; an iq get carrying <ping xmlns='urn:switchboard:test'> is
// answered with a result carrying the ping. @xmpp/component reconnects by itself
// (@xmpp/reconnect, 1 s after a disconnect) unless --no-reconnect.
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import readline from "node:readline";

const require = createRequire(new URL("../js/package.json", import.meta.url));
const { component, xml } = require("@xmpp/component");
const parse = require("@xmpp/xml/lib/parse");

const NS_TEST = "urn:switchboard:test";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

const { values: opt } = parseArgs({
  options: {
    jid: { type: "string" },
    secret: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    "no-reconnect": { type: "boolean", default: false },
  },
});

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// A deep copy (ltx 3 elements have no clone()); the namespace is declared on the copy.
function copy(el) {
  const c = parse(el.toString());
  if (!c.attrs.xmlns && el.getNS()) c.attrs.xmlns = el.getNS();
  return c;
}

function describe(el) {
  const ev = { event: "stanza", kind: el.name, ns: el.attrs.xmlns || "", xml: el.toString() };
  for (const a of ["from", "to", "type", "id", "name", "event", "link", "condition"]) {
    if (el.attrs[a] !== undefined) ev[a] = el.attrs[a];
  }
  const body = el.getChild("body");
  if (body) ev.body = body.text();
  const payload = el.getChildElements().find((c) => c.attrs.xmlns === NS_TEST);
  if (payload) ev.payload = payload.toString();
  const err = el.getChild("error");
  if (err) {
    ev.error_type = err.attrs.type;
    for (const c of err.getChildElements()) {
      if (c.attrs.xmlns === NS_STANZAS && c.name !== "text") ev.error = c.name;
    }
  }
  return ev;
}

const xmpp = component({
  service: `xmpp://${opt.host}:${opt.port}`,
  domain: opt.jid,
  password: opt.secret,
});
if (opt["no-reconnect"]) xmpp.reconnect.stop();

xmpp.on("error", (err) => {
  emit({ event: "error", condition: err.condition || "", message: String(err.message || err) });
});
xmpp.on("online", (addr) => emit({ event: "online", jid: String(addr) }));
xmpp.on("disconnect", () => emit({ event: "disconnected" }));
xmpp.on("element", (el) => {
  if (el.name === "handshake" || el.name === "stream:error") return;
  emit(describe(el));
});

// Echo a message payload back to its sender.
xmpp.middleware.use((ctx, next) => {
  const { stanza } = ctx;
  if (stanza.name !== "message" || stanza.attrs.type === "error") return next();
  const payload = stanza.getChild("payload", NS_TEST);
  if (!payload || payload.attrs.echo !== "yes") return next();
  const back = copy(payload);
  delete back.attrs.echo;
  const attrs = { to: stanza.attrs.from, from: stanza.attrs.to };
  if (stanza.attrs.type) attrs.type = stanza.attrs.type;
  if (stanza.attrs.id) attrs.id = stanza.attrs.id + "-echo";
  const reply = xml("message", attrs);
  const body = stanza.getChild("body");
  if (body) reply.append(xml("body", {}, body.text()));
  reply.append(back);
  xmpp.send(reply).catch((e) => emit({ event: "error", message: String(e) }));
  return undefined;
});

// Answer the test ping with a copy of itself.
xmpp.iqCallee.get(NS_TEST, "ping", (ctx) => copy(ctx.element));

async function command(cmd) {
  switch (cmd.cmd) {
    case "message": {
      const attrs = { to: cmd.to, from: cmd.from || opt.jid };
      if (cmd.type) attrs.type = cmd.type;
      if (cmd.id) attrs.id = cmd.id;
      const msg = xml("message", attrs);
      if (cmd.body !== undefined) msg.append(xml("body", {}, cmd.body));
      if (cmd.payload) msg.append(parse(cmd.payload));
      await xmpp.send(msg);
      break;
    }
    case "presence": {
      const attrs = { to: cmd.to, from: cmd.from || opt.jid };
      if (cmd.type) attrs.type = cmd.type;
      if (cmd.id) attrs.id = cmd.id;
      const pres = xml("presence", attrs);
      if (cmd.payload) pres.append(parse(cmd.payload));
      await xmpp.send(pres);
      break;
    }
    case "iq": {
      const iq = xml("iq", { type: "get", to: cmd.to, from: cmd.from || opt.jid }, parse(cmd.payload));
      try {
        const res = await xmpp.iqCaller.request(iq, cmd.timeout ? cmd.timeout * 1000 : 5000);
        emit({ ...describe(res), event: "iq_result", tag: cmd.tag || "" });
      } catch (err) {
        if (err.name === "StanzaError") {
          emit({ event: "iq_error", tag: cmd.tag || "", error: err.condition,
                 xml: err.element ? err.element.toString() : "" });
        } else if (err.name === "TimeoutError") {
          emit({ event: "iq_timeout", tag: cmd.tag || "" });
        } else {
          throw err;
        }
      }
      break;
    }
    case "raw":
      await xmpp.write(cmd.xml);
      break;
    case "quit":
      xmpp.reconnect.stop();
      try {
        await Promise.race([xmpp.stop(), new Promise((r) => setTimeout(r, 1000))]);
      } finally {
        process.exit(0);
      }
      break;
    default:
      emit({ event: "error", message: `unknown command ${cmd.cmd}` });
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    emit({ event: "error", message: `bad command: ${e}` });
    return;
  }
  command(cmd).catch((e) => emit({ event: "error", message: String(e && e.stack || e) }));
});
rl.on("close", () => process.exit(0)); // the test went away: so do we

emit({ event: "started" });
xmpp.start().catch((err) => {
  // The first connect failed (refused, bad secret...): reported through "error" already;
  // @xmpp/reconnect keeps trying when the socket closes.
  emit({ event: "start_failed", condition: err.condition || "", message: String(err.message || err) });
});
