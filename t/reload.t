#!/usr/bin/python3
# reload.t: SIGHUP makes c2s, s2s and sm read their configuration again.
#
# One server (sb-router, sb-sm, sb-c2s with a STARTTLS and a direct TLS
# listener, sb-s2s with both kinds too) in a temporary directory, SQLite,
# self-signed certificates made with certtool. Checks:
#
#   1. c2s: certificate and key replaced on disk (a new key): nothing
#      changes before SIGHUP; after it a new STARTTLS and a new direct TLS
#      handshake show the new certificate, and the session logged in
#      before still answers (an IQ ping through sm, a stream on the old
#      direct TLS connection)
#   2. c2s: a broken c2s.xml, and one whose certificate does not exist:
#      an error is logged, the certificate stays, new logins work
#   3. c2s: a domain added is served to new streams (features instead of
#      <host-unknown/>, its own certificate by SNI); a changed <listen/>
#      is only warned about; the domain removed again ends its client
#      with <host-gone/>, the other domain's session goes on
#   4. c2s: the log level applies at once (debug lines stop and start)
#   5. s2s: the certificate on direct TLS and STARTTLS changes only with
#      SIGHUP; an open stream goes on and answers dialback verifications
#      with keys from the new secret; a policy that denies a domain
#      refuses its new streams; a DNS lookup under way is asked again of
#      the new DNS server; a trust file that does not exist changes
#      nothing
#   6. sm: XEP-0157 contact addresses and the XEP-0092 version change in
#      the answers; a domain change is warned about and the domain still
#      served (a user loaded before the reload still stores offline
#      messages); a broken sm.xml changes nothing
#
# c2s, sm and s2s must stop cleanly at the end (LeakSanitizer under make asan).
import hashlib
import hmac
import os
import re
import select
import shutil
import signal
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import c2s_harness as H  # noqa: E402
import sm_harness as S  # noqa: E402
from c2s_harness import ok, check  # noqa: E402

WATCHDOG = 90
DOMAIN = "localhost"
EXTRA = "extra.test"

C2S_XML = """<?xml version='1.0'?>
<c2s>
  <log level='%(level)s'/>
  <router address='127.0.0.1' port='%(rport)d' name='c2s1' secret='${SB_COMPONENT_SECRET}'/>
  <listen address='127.0.0.1' port='%(cport)d' tls='starttls'/>
  <listen address='127.0.0.1' port='%(dport)d' tls='direct-tls'/>
  <domain name='%(domain)s'>
    <certificate>%(crt)s</certificate>
    <key>%(key)s</key>
  </domain>
  %(extra)s
  <limits>
    <connections-per-address>0</connections-per-address>
    <read-rate>0</read-rate>
  </limits>
</c2s>
"""

srv = None
c2s = None
s2s = None
sm1 = None
ports = {}
certs = {}


def der_file(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def peer_der(raw):
    return raw.s.getpeercert(binary_form=True)


def write_c2s(level="debug", extra="", dport=None, crt=None):
    srv._write("c2s.xml", C2S_XML % {
        "level": level, "rport": srv.rport, "cport": srv.cport,
        "dport": dport or ports["c2s-direct"], "domain": DOMAIN,
        "crt": crt or srv.crt, "key": srv.key, "extra": extra})


def extra_domain():
    crt, key = certs[EXTRA]
    return ("<domain name='%s'><certificate>%s</certificate><key>%s</key></domain>" %
            (EXTRA, crt, key))


def write_s2s(body=""):
    srv._write("s2s.xml", S.S2S_XML % {
        "rport": srv.rport, "domain": DOMAIN, "crt": srv.crt, "key": srv.key,
        "body": s2s_listens() + body})


def s2s_listens():
    return ("<listen address='127.0.0.1' port='%d'/>\n"
            "  <listen address='127.0.0.1' port='%d' tls='direct-tls'/>\n" %
            (ports["s2s"], ports["s2s-direct"]))


def silent_dns():
    """A DNS server that reads queries and never answers."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    return u


def dns_asked(u, name, timeout=H.WAIT):
    """Whether a query naming name (wire format) reaches u within timeout."""
    wire = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([u], [], [], max(deadline - time.time(), 0))
        if r and wire in u.recv(4096):
            return True
    return False


def write_sm(extra=""):
    srv._write("sm1.xml", S.SM_XML % {
        "rport": srv.rport, "name": "sm1", "domain": DOMAIN, "extra": extra})


def hup(proc):
    """SIGHUP, and the log lines the reload wrote."""
    start = len(proc.logtext())
    proc.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + H.WAIT
    while time.time() < deadline:
        text = proc.logtext()[start:]
        if re.search(r"reloaded |the running configuration stays", text):
            time.sleep(0.05)    # the warning and the notice come together
            return proc.logtext()[start:]
        time.sleep(0.02)
    raise AssertionError("%s: no reload in the log after SIGHUP" % proc.name)


def replace_cert(dst_crt, dst_key, name):
    """A new key and certificate for name, renamed over the files in use."""
    d = os.path.join(srv.tmp, "new-%d" % len(os.listdir(srv.tmp)))
    os.mkdir(d)
    crt, key = S.make_cert(d, name)
    shutil.copy(crt, dst_crt + ".tmp")
    shutil.copy(key, dst_key + ".tmp")
    os.replace(dst_key + ".tmp", dst_key)
    os.replace(dst_crt + ".tmp", dst_crt)
    return der_file(dst_crt)


def ping(raw, id_):
    raw.send("<iq type='get' id='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % (id_, DOMAIN))
    m = raw.expect((r"<iq [^>]*id='%s'[^>]*(/>|>.*?</iq>)" % id_).encode())
    return "type='result'" in m.group(0).decode()


def iq(raw, id_, payload):
    raw.send("<iq type='get' id='%s' to='%s'>%s</iq>" % (id_, DOMAIN, payload))
    return raw.expect((r"<iq [^>]*id='%s'[^>]*(/>|>.*?</iq>)" % id_).encode()).group(0).decode()


def direct(port, sni=DOMAIN):
    return H.Raw(port, direct_tls=True, sni=sni)


# --- set-up ---

def setup():
    global srv, c2s, s2s, sm1
    ports["s2s"], ports["s2s-direct"] = H.free_port(), H.free_port()
    ports["c2s-direct"] = H.free_port()
    state["dns1"], state["dns2"] = silent_dns(), silent_dns()
    srv = S.Server(db="sqlite", s2s=s2s_listens() + "<dns server='127.0.0.1:%d'/>" %
                   state["dns1"].getsockname()[1])
    srv.adduser("juliet", "pw")
    srv.adduser("romeo", "pw")
    certs[EXTRA] = S.make_cert(srv.tmp, EXTRA)
    # c2s again, with a direct TLS listener too.
    ok(srv.c2s.stop() == 0, "the first c2s stops cleanly")
    write_c2s()
    srv.start_c2s("c2s-reload")
    c2s, s2s, sm1 = srv.c2s, srv.s2s, srv.sms[0]
    H.wait_port(ports["c2s-direct"], c2s.proc, "sb-c2s", c2s.logtext)


# --- 1. c2s certificates ---

state = {}


def c2s_cert_before():
    c, jid = H.login(srv.cport, "juliet", "pw", "old")
    state["old_session"] = c
    state["old_der"] = old = peer_der(c)
    assert old == der_file(srv.crt), "the first certificate is not the one served"
    d = direct(ports["c2s-direct"])
    state["old_direct"] = d
    assert peer_der(d) == old, "direct TLS serves another certificate"
    state["new_der"] = new = replace_cert(srv.crt, srv.key, DOMAIN)
    assert new != old
    c2, _ = H.login(srv.cport, "juliet", "pw", "between")
    der = peer_der(c2)
    c2.close()
    assert der == old, "the new file was served before SIGHUP"


def c2s_cert_after():
    text = hup(c2s)
    assert re.search(r"reloaded .*c2s\.xml", text), text
    c, _ = H.login(srv.cport, "juliet", "pw", "new")
    der = peer_der(c)
    c.close()
    assert der == state["new_der"], "STARTTLS still serves the old certificate"
    d = direct(ports["c2s-direct"])
    der = peer_der(d)
    d.close()
    assert der == state["new_der"], "direct TLS still serves the old certificate"


def c2s_old_sessions():
    assert ping(state["old_session"], "p1"), "the old session's ping failed"
    d = state["old_direct"]
    d.open()
    d.header()
    assert b"<mechanisms" in d.features(), "no SASL on the old direct TLS stream"


# --- 2. c2s: what does not load changes nothing ---

def c2s_broken():
    srv._write("c2s.xml", "<?xml version='1.0'?>\n<c2s>\n  <log level='debug'/>\n")
    text = hup(c2s)
    assert re.search(r"reload: .*the running configuration stays", text), text
    assert not re.search(r"reloaded ", text), text
    c, _ = H.login(srv.cport, "juliet", "pw", "after-broken")
    assert peer_der(c) == state["new_der"]
    assert ping(c, "p2")
    c.close()


def c2s_missing_cert():
    write_c2s(crt=os.path.join(srv.tmp, "missing.crt"))
    text = hup(c2s)
    assert re.search(r"reload: domain localhost: .*the running configuration stays", text), text
    c, _ = H.login(srv.cport, "juliet", "pw", "after-missing")
    assert peer_der(c) == state["new_der"]
    c.close()
    d = direct(ports["c2s-direct"])
    assert peer_der(d) == state["new_der"]
    d.close()


# --- 3. c2s domains ---

def c2s_domain_added():
    r = H.Raw(srv.cport)
    r.open(to=EXTRA)
    r.header()
    cond = r.stream_error()
    assert cond == "host-unknown", cond
    other = H.free_port()
    write_c2s(extra=extra_domain(), dport=other)
    text = hup(c2s)
    assert re.search(r"reloaded .*1 added", text), text
    assert re.search(r"changes to <listen> take effect at the next start", text), text
    r = H.Raw(srv.cport)
    r.open(to=EXTRA)
    r.header()
    assert b"<starttls" in r.features()
    r.starttls(sni=EXTRA)
    assert peer_der(r) == der_file(certs[EXTRA][0]), "SNI did not choose the new domain's"
    r.open(to=EXTRA)
    r.header()
    r.features()
    state["extra_client"] = r
    # The listener stays where it was.
    d = direct(ports["c2s-direct"])
    assert peer_der(d) == state["new_der"]
    d.close()


def c2s_domain_removed():
    r = state.pop("extra_client")
    write_c2s()
    text = hup(c2s)
    assert re.search(r"reloaded .*1 removed; 1 clients closed", text), text
    cond = r.stream_error()
    assert cond == "host-gone", cond
    assert ping(state["old_session"], "p3"), "the localhost session is gone too"
    r = H.Raw(srv.cport)
    r.open(to=EXTRA)
    r.header()
    cond = r.stream_error()
    assert cond == "host-unknown", cond


# --- 4. c2s log level ---

def connected_logged(level):
    write_c2s(level=level)
    hup(c2s)
    r = H.Raw(srv.cport)
    port = r.s.getsockname()[1]
    r.open()
    r.header()
    r.features()
    r.close()
    time.sleep(0.2)
    return re.search(r"client 127\.0\.0\.1:%d: connected" % port, c2s.logtext()) is not None


def c2s_log_level():
    assert not connected_logged("info"), "a debug line at level info"
    assert connected_logged("debug"), "no debug line at level debug"


# --- 5. s2s ---

DB_SECRET = "a-dialback-secret-set-by-reload"


def s2s_header(raw, frm):
    raw.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
             "xmlns:stream='%s' xmlns:db='jabber:server:dialback' to='%s' from='%s' "
             "version='1.0'>" % (H.NS_STREAMS, DOMAIN, frm))


def db_key(secret, receiving, originating, id_):
    """XEP-0185 as s2s makes it: HMAC-SHA256 keyed with hex SHA-256 of the secret."""
    k = hashlib.sha256(secret.encode()).hexdigest().encode()
    return hmac.new(k, ("%s %s %s" % (receiving, originating, id_)).encode(),
                    hashlib.sha256).hexdigest()


def db_verify(raw, secret, id_):
    """Ask s2s, the authoritative server for localhost, about a key: its answer."""
    raw.send("<db:verify from='peer.example' to='%s' id='%s'>%s</db:verify>" % (
        DOMAIN, id_, db_key(secret, "peer.example", DOMAIN, id_)))
    m = raw.expect((r"<db:verify [^>]*id='%s'[^>]*/>" % id_).encode()).group(0).decode()
    return re.search(r"type='(\w+)'", m).group(1)


def s2s_starttls_der():
    r = H.Raw(ports["s2s"])
    s2s_header(r, "peer.example")
    r.header()
    r.features()
    r.starttls()
    der = peer_der(r)
    r.close()
    return der


def s2s_cert():
    # The files changed in check 1: s2s has not read them yet.
    d = direct(ports["s2s-direct"])
    assert peer_der(d) == state["old_der"], "s2s serves the new certificate before SIGHUP"
    assert s2s_starttls_der() == state["old_der"]
    s2s_header(d, "peer.example")
    d.header()
    d.features()
    derived = "switchboard s2s dialback: " + H.SECRET
    assert db_verify(d, derived, "k1") == "valid", "the derived dialback key is refused"
    r = H.Raw(ports["s2s"])
    s2s_header(r, "evil.example")
    r.header()
    assert b"<starttls" in r.features(), "evil.example refused before the policy said so"
    r.close()
    # A lookup under way when the DNS servers change.
    state["old_session"].send("<message to='someone@remote.example'><body>x</body></message>")
    assert dns_asked(state["dns1"], "remote.example"), "s2s did not ask the first DNS server"
    write_s2s("<policy default='require-cert'><remote domain='Evil.Example' policy='deny'/>"
              "</policy>\n  <dns server='127.0.0.1:%d' timeout='1s'/>\n"
              "  <dialback secret='%s'/>" % (state["dns2"].getsockname()[1], DB_SECRET))
    text = hup(s2s)
    assert dns_asked(state["dns2"], "remote.example"), "the lookup was not asked again"
    assert re.search(r"reloaded .*s2s\.xml.*1 exceptions.*new DNS resolver", text), text
    d2 = direct(ports["s2s-direct"])
    der = peer_der(d2)
    d2.close()
    assert der == state["new_der"], "s2s direct TLS still serves the old certificate"
    assert s2s_starttls_der() == state["new_der"], "s2s STARTTLS still serves the old one"
    # The stream opened before goes on, and keys come from the new secret.
    assert db_verify(d, DB_SECRET, "k2") == "valid", "the new dialback secret is not used"
    assert db_verify(d, derived, "k3") == "invalid", "the old dialback secret still works"
    d.close()
    r = H.Raw(ports["s2s"])
    s2s_header(r, "evil.example")
    r.header()
    cond = r.stream_error()
    assert cond == "policy-violation", cond


def s2s_bad_trust():
    write_s2s("<policy default='require-cert'><remote domain='Evil.Example' policy='deny'/>"
              "</policy>\n  <tls ca-file='%s'/>" % os.path.join(srv.tmp, "no-such-ca.pem"))
    text = hup(s2s)
    assert re.search(r"reload: TLS trust: .*the running configuration stays", text), text
    r = H.Raw(ports["s2s"])
    s2s_header(r, "evil.example")
    r.header()
    cond = r.stream_error()
    assert cond == "policy-violation", "the policy of the running configuration is gone"


# --- 6. sm ---

DISCO = "<query xmlns='http://jabber.org/protocol/disco#info'/>"
VERSION = "<query xmlns='jabber:iq:version'/>"


def is_offline_message(body):
    return (r"<message [^>]*>(?:(?!</message>).)*<body>%s</body>(?:(?!</message>).)*"
            r"<delay [^>]*from='localhost'" % body).encode()


def sm_contacts():
    c = state["old_session"]
    assert "xmpp:admin@localhost" not in iq(c, "d1", DISCO)
    # romeo is offline: his user is loaded before the reload and used after it.
    c.send("<message to='romeo@localhost' type='chat'><body>before</body></message>")
    time.sleep(0.3)
    write_sm("<contact type='admin' uri='xmpp:admin@localhost'/>\n"
             "  <version name='reloaded-server'/>\n  <domain name='other.test'/>")
    text = hup(sm1)
    assert re.search(r"reloaded .*sm1\.xml.*1 contact addresses", text), text
    assert re.search(r"changes to <domain> take effect at the next start", text), text
    a = iq(c, "d2", DISCO)
    assert "xmpp:admin@localhost" in a and "admin-addresses" in a, a
    a = iq(c, "v1", VERSION)
    assert "<name>reloaded-server</name>" in a, a
    assert ping(c, "p4"), "localhost is not served any more"
    c.send("<message to='romeo@localhost' type='chat'><body>after</body></message>")
    time.sleep(0.3)
    r, _ = H.login(srv.cport, "romeo", "pw", "home")
    H.clients.append(r)
    r.send("<presence/>")
    r.expect(is_offline_message("before"))
    r.expect(is_offline_message("after"))


def sm_broken():
    srv._write("sm1.xml", "<?xml version='1.0'?>\n<sm><domain/></sm>\n")
    text = hup(sm1)
    assert re.search(r"reload: .*the running configuration stays", text), text
    a = iq(state["old_session"], "d3", DISCO)
    assert "xmpp:admin@localhost" in a, a


def stop_c2s():
    for k in ("old_session", "old_direct"):
        if k in state:
            state[k].close()
    rc = c2s.stop()
    assert rc == 0, "exit status %r" % (rc,)


def main():
    try:
        setup()
    except Exception as e:
        ok(False, "set-up", str(e))
        if srv is not None:
            srv.stop()
        return S.done()
    check("c2s: a certificate replaced on disk is not served before SIGHUP", c2s_cert_before)
    check("c2s: after SIGHUP new STARTTLS and direct TLS handshakes get the new certificate",
          c2s_cert_after)
    check("c2s: the session from before SIGHUP still works", c2s_old_sessions)
    check("c2s: a broken c2s.xml is logged and changes nothing", c2s_broken)
    check("c2s: a certificate that does not load is logged and changes nothing",
          c2s_missing_cert)
    check("c2s: an added domain is served to new streams; <listen> waits for a restart",
          c2s_domain_added)
    check("c2s: a removed domain's client gets <host-gone/>, the others stay",
          c2s_domain_removed)
    check("c2s: the log level applies at once", c2s_log_level)
    check("s2s: SIGHUP: new certificate, open stream kept, new policy, new resolver",
          s2s_cert)
    check("s2s: a trust file that does not load changes nothing", s2s_bad_trust)
    check("sm: SIGHUP: contact addresses and version change, domains wait", sm_contacts)
    check("sm: a broken sm.xml is logged and changes nothing", sm_broken)
    check("c2s stops cleanly after the reloads", stop_c2s)
    srv.stop()
    return S.done()


H.run(main, WATCHDOG)
