#!/usr/bin/python3
# sbctl-launcher.t: the launcher and supervisor as an admin meets them.
# The shipped etc/*.xml are copied into a temporary directory with free
# ports (everything else as shipped, data in ./var beside etc/, as make
# run has it), then:
#   sbctl setup makes the secret, a certificate and the database, once;
#   sbctl start brings up router, sm, c2s and s2s in the background; a
#   second start is refused; status shows each process and its counters;
#   a client logs in; sm killed with SIGKILL is back within seconds (the
#   client's session ends, it logs in again); the router killed with
#   SIGKILL is back and every process links to it again; a component
#   added with `component add` logs in with the printed secret; reload passes
#   SIGHUP on; stop leaves no process and no pid or status file;
#   start --foreground prefixes each process's lines and stops on SIGINT;
#   a port in use, a typo in a file, a missing secret and a missing
#   configuration each fail with the reason and leave nothing running;
#   make install into a DESTDIR writes programs, configuration with the
#   installed paths, and systemd units.
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import c2s_harness as H  # noqa: E402
import sm_harness as S  # noqa: E402
from c2s_harness import ok  # noqa: E402

TMP = tempfile.mkdtemp(prefix="sb-launcher-")
ETC = os.path.join(TMP, "etc")
VAR = os.path.join(TMP, "var")
CONF = os.path.join(ETC, "switchboard.xml")
PORTS = {5222: H.free_port(), 5223: H.free_port(), 5269: H.free_port(), 5347: H.free_port()}
ENV = {k: v for k, v in os.environ.items()
       if not k.startswith("SB_") or k in ("SB_SRC", "SB_BUILD")}


def copy_etc():
    os.makedirs(ETC, exist_ok=True)
    for name in os.listdir(os.path.join(H.SRC, "etc")):
        if not name.endswith(".xml"):
            continue
        with open(os.path.join(H.SRC, "etc", name)) as f:
            text = f.read()
        text = re.sub(r"port='(\d+)'", lambda m: "port='%d'" % PORTS.get(int(m.group(1)),
                                                                        int(m.group(1))), text)
        with open(os.path.join(ETC, name), "w") as f:
            f.write(text)


def sbctl(*args, conf=CONF, timeout=60):
    r = subprocess.run([H.SBCTL, "-c", conf] + list(args), env=ENV, capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def status():
    rc, out, _ = sbctl("status")
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] in ("router", "sm", "c2s", "s2s"):
            rows[f[0]] = {"pid": int(f[1]), "uptime": f[2], "restarts": f[3], "state": f[4],
                          "counters": dict(kv.split("=", 1) for kv in f[5:] if "=" in kv)}
    return rc, rows, out


def wait_for(pred, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def ours():
    """pids of processes whose command line names our directory."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if TMP in cmd and ("sb-" in cmd or "sbctl" in cmd):
            found.append((int(d), cmd.strip()))
    return found


def log():
    try:
        with open(os.path.join(VAR, "log", "switchboard.log")) as f:
            return f.read()
    except OSError:
        return ""


class Srv:
    domain = "localhost"
    cport = PORTS[5222]


async def login(user="alice", password="secret-pw"):
    c = S.Client(Srv(), user, password, "launcher")
    await c.connect()
    r = await c.iq("<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    return c, r.get("type") == "result"


def run(coro):
    return asyncio.get_event_loop().run_until_complete(asyncio.wait_for(coro, 30))


def all_running(rows):
    return len(rows) == 4 and all(r["state"] == "running" for r in rows.values())


def main():
    copy_etc()

    # --- setup ---
    rc, out, err = sbctl("setup")
    ok(rc == 0 and os.path.exists(os.path.join(VAR, "switchboard.env"))
       and os.path.exists(os.path.join(VAR, "localhost.crt"))
       and os.path.exists(os.path.join(VAR, "switchboard.db")),
       "setup makes the secret, the certificate and the database", out + err)
    mode = os.stat(os.path.join(VAR, "switchboard.env")).st_mode & 0o777
    kmode = os.stat(os.path.join(VAR, "localhost.key")).st_mode & 0o777
    ok(mode == 0o600 and kmode == 0o600, "the secret and the key are 0600",
       "%o %o" % (mode, kmode))
    with open(os.path.join(VAR, "switchboard.env")) as f:
        env1 = f.read()
    ok(re.search(r"^SB_COMPONENT_SECRET=[0-9a-f]{48}$", env1, re.M) is not None,
       "the secret is 24 random bytes in hex", env1)
    cert = subprocess.run(["certtool", "-i", "--infile", os.path.join(VAR, "localhost.crt")],
                          capture_output=True, text=True).stdout
    ok("DNSname: localhost" in cert and "ECDSA" in cert.upper(),
       "the certificate names localhost and is ECDSA", cert[:400])
    rc, out, err = sbctl("setup")
    with open(os.path.join(VAR, "switchboard.env")) as f:
        env2 = f.read()
    ok(rc == 0 and "made" not in out and env1 == env2 and "up to date" in out,
       "a second setup changes nothing", out + err)

    rc, rows, out = status()
    ok(rc == 3 and "supervisor: not running" in out, "status before start: not running, exit 3",
       out)

    # --- start, status ---
    rc, out, err = sbctl("start")
    ok(rc == 0 and "switchboard is running: 4 processes" in out, "start: every process is up",
       out + err + log()[-3000:])
    rc2, out2, err2 = sbctl("start")
    ok(rc2 == 1 and "already running" in err2, "a second start is refused", out2 + err2)
    rc, rows, out = status()
    ok(rc == 0 and all_running(rows), "status: four processes running", out)
    ok(wait_for(lambda: status()[1].get("router", {}).get("counters", {}).get("links") == "3"),
       "status: the router counts 3 links", status()[2])
    ok(all(status()[1][p]["counters"].get("router") == "up" for p in ("sm", "c2s", "s2s")),
       "status: sm, c2s and s2s are linked to the router", status()[2])

    rc, out, err = sbctl("adduser", "alice@localhost", "secret-pw")
    ok(rc == 0, "adduser while running", out + err)
    c, pong = run(login())
    ok(pong, "a client logs in and its ping is answered")
    ok(wait_for(lambda: status()[1]["c2s"]["counters"].get("sessions") == "1"),
       "status: c2s counts the session", status()[2])

    # --- sm killed: restarted, sessions end, logins work again ---
    sm_pid = status()[1]["sm"]["pid"]
    os.kill(sm_pid, signal.SIGKILL)
    try:
        run(asyncio.wait_for(c.gone.wait(), 15))
    except Exception:
        pass
    ok(c.gone.is_set(), "sm killed: the client's session ends")
    rows = wait_for(lambda: (lambda r: r if r.get("sm", {}).get("state") == "running"
                             and r["sm"]["pid"] != sm_pid else None)(status()[1]), 10)
    ok(rows and rows["sm"]["restarts"] == "1", "sm is back within seconds, one restart",
       status()[2])
    ok(re.search(r"sm \(pid %d\) was killed by signal 9" % sm_pid, log()) is not None,
       "the log says how sm ended", log()[-2000:])

    async def relogin():
        for _ in range(50):
            try:
                return await login()
            except Exception:
                await asyncio.sleep(0.2)
        return None, False
    c2, pong = run(relogin())
    ok(pong, "after the sm restart the client logs in again")

    # --- router killed: restarted, every process links again ---
    router_pid = status()[1]["router"]["pid"]
    os.kill(router_pid, signal.SIGKILL)
    ok(wait_for(lambda: (lambda r: r.get("router", {}).get("pid") not in (None, router_pid)
                         and r["router"]["counters"].get("links") == "3")(status()[1]), 20),
       "router killed: back, and sm, c2s and s2s link to it again", status()[2] + log()[-3000:])
    rows = status()[1]
    ok(rows["sm"]["pid"] != sm_pid and rows["sm"]["restarts"] == "1"
       and rows["c2s"]["restarts"] == "0", "only the router restarted", status()[2])
    c3, pong = run(relogin())
    ok(pong, "after the router restart a client logs in")

    # --- an external component, added while running ---
    rc, out, err = sbctl("component", "add", "bot.localhost")
    secret = out.strip().splitlines()[-1] if out.strip() else ""
    ok(rc == 0 and re.fullmatch(r"[0-9a-f]{48}", secret), "component add prints a secret",
       out + err)
    comp = subprocess.Popen(["/usr/bin/python3", os.path.join(H.SRC, "t/lib/component_slix.py"),
                             "--jid", "bot.localhost", "--secret", secret,
                             "--port", str(PORTS[5347])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    online = False
    end = time.time() + 15
    while time.time() < end:
        line = comp.stdout.readline()
        if not line or '"online"' in line:
            online = bool(line)
            break
    ok(online, "a slixmpp component logs in with the printed secret")
    c3.send("<message to='bot.localhost' id='e1'><body>hi</body>"
            "<payload xmlns='urn:switchboard:test' echo='yes'/></message>")
    try:
        echo = run(c3.expect(lambda st: S.tag(st) == "message"
                             and st.get("from") == "bot.localhost"))
    except Exception:
        echo = None
    ok(echo is not None, "a client's message reaches the component and its answer comes back")
    comp.stdin.write('{"cmd": "quit"}\n')
    comp.stdin.flush()
    try:
        comp.wait(timeout=10)
    except subprocess.TimeoutExpired:
        comp.kill()
    for cl in (c, c2, c3):
        if cl is not None:
            try:
                run(cl.close())
            except Exception:
                pass

    # --- reload (after logrotate moved the log away) ---
    logf = os.path.join(VAR, "log", "switchboard.log")
    os.rename(logf, logf + ".1")
    rc, out, err = sbctl("reload")
    ok(rc == 0 and wait_for(lambda: "SIGHUP (reload): passed on" in log()
                            and log().count("reloaded") >= 4, 5),
       "reload passes SIGHUP to every process, each reloads", out + err + log()[-1500:])
    ok("SIGHUP" not in open(logf + ".1").read(),
       "the supervisor writes to a new log file after SIGHUP (logrotate)")

    # --- stop ---
    rc, out, err = sbctl("stop")
    ok(rc == 0 and "stopped" in out, "stop", out + err)
    ok(wait_for(lambda: not ours(), 5) is True, "stop leaves no process", str(ours()))
    run_dir = os.path.join(VAR, "run")
    ok(not [f for f in os.listdir(run_dir) if f.endswith((".pid", ".status"))],
       "stop leaves no pid or status file", str(os.listdir(run_dir)))
    rc, out, err = sbctl("stop")
    ok(rc == 0 and "not running" in out, "stop when stopped says so", out + err)

    # --- foreground (what make run does) ---
    p = subprocess.Popen([H.SBCTL, "-c", CONF, "start", "--foreground"], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    end = time.time() + 30
    while time.time() < end:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "switchboard is running" in line:
            break
    text = "".join(lines)
    ok("switchboard is running" in text and re.search(r"^router \| .*router\[\d+\]", text, re.M)
       and re.search(r"^c2s    \| .*c2s\[\d+\]", text, re.M)
       and re.search(r"^sbctl  \| ", text, re.M),
       "foreground: every line is prefixed with its process", text[-2000:])
    c4, pong = run(relogin())
    ok(pong, "foreground: a client logs in (the account survived the restart)")
    run(c4.close())
    p.send_signal(signal.SIGINT)
    try:
        rest = p.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        rest = p.communicate()[0]
    order = [m.group(1) for m in re.finditer(r"^sbctl .* (\w+) \(pid \d+\) exited", rest, re.M)]
    ok(p.returncode == 0 and wait_for(lambda: not ours(), 5) is True,
       "foreground: SIGINT stops everything, exit 0", rest[-1500:] + str(ours()))
    ok(order and order[-1] == "router", "the router stops last", str(order))

    # --- failures name the problem and leave nothing behind ---
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("0.0.0.0", PORTS[5222]))
    blocker.listen(1)
    rc, out, err = sbctl("start")
    blocker.close()
    ok(rc == 1 and "c2s" in err and "in use" in err and "ss -ltnp" in err,
       "a port in use: start fails naming c2s, the cause and a hint", err)
    ok(wait_for(lambda: not ours(), 5) is True, "... and leaves no process", str(ours()))

    with open(os.path.join(ETC, "c2s.xml")) as f:
        good = f.read()
    with open(os.path.join(ETC, "c2s.xml"), "w") as f:
        f.write(re.sub(r"^  <limits>$", "  <limits><stanza-sise>1k</stanza-sise>", good, 1,
                       re.M))
    rc, out, err = sbctl("start")
    ok(rc == 1 and "c2s.xml" in err and "stanza-sise" in err and not ours(),
       "a typo in c2s.xml: start fails before anything runs, naming file and element",
       err + str(ours()))
    with open(os.path.join(ETC, "c2s.xml"), "w") as f:
        f.write(good)

    os.rename(os.path.join(VAR, "switchboard.env"), os.path.join(VAR, "env.saved"))
    rc, out, err = sbctl("start")
    ok(rc == 1 and "sbctl setup" in err and not ours(), "no secret: start says to run setup", err)
    os.rename(os.path.join(VAR, "env.saved"), os.path.join(VAR, "switchboard.env"))

    rc, out, err = sbctl("start", conf=os.path.join(TMP, "nowhere.xml"))
    ok(rc == 1 and "no configuration found" in err, "no configuration: said so", err)

    # --- make install ---
    dest = os.path.join(TMP, "inst")
    r = subprocess.run(["make", "-s", "-C", H.SRC, "BUILD=" + H.BUILD, "install",
                        "DESTDIR=" + dest, "PREFIX=/usr/local"],
                       capture_output=True, text=True, timeout=600)
    root = dest + "/usr/local"
    units = os.path.join(root, "lib/systemd/system")
    ok(r.returncode == 0 and all(os.access(os.path.join(root, "sbin", b), os.X_OK)
                                 for b in ("sbctl", "sb-router", "sb-c2s", "sb-sm", "sb-s2s")),
       "make install: the programs", r.stdout[-1000:] + r.stderr[-2000:])
    with open(os.path.join(root, "etc/switchboard/switchboard.xml")) as f:
        sw = f.read()
    with open(os.path.join(units, "switchboard-c2s.service")) as f:
        unit = f.read()
    ok("../var" not in sw and "${SB_DATA_DIR:-/var/lib/switchboard}/switchboard.db" in sw
       and "/run/switchboard" in sw, "make install: the configuration has the installed paths",
       sw[-1500:])
    ok("@" not in unit.replace("$MAINPID", "")
       and "ExecStart=/usr/local/sbin/sb-c2s -c /usr/local/etc/switchboard/c2s.xml" in unit
       and os.path.exists(os.path.join(units, "switchboard.target")),
       "make install: systemd units with their paths, and the target", unit)
    ok(os.path.exists(os.path.join(root, "share/doc/switchboard/OPERATING.md")),
       "make install: the operating guide")


try:
    main()
finally:
    for pid, _ in ours():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if os.environ.get("SB_KEEP") is None:
        shutil.rmtree(TMP, ignore_errors=True)
sys.exit(S.done())
