#!/usr/bin/python3
# sbctl.t: the admin command end to end: db init/migrate/version, adduser
# (argument, terminal prompt, --batch), passwd, deluser, users, and the
# messages for missing or broken configurations, against a database in a
# temporary directory.
#
# The same checks run on every driver: SQLite by default; t/sbctl-pgsql.t
# runs this file with SB_SBCTL_DRIVER=pgsql and SB_SBCTL_CONNINFO set to a
# throwaway PostgreSQL server. Rows are inspected with Python's sqlite3
# module or with psql, and the stored SCRAM secrets are checked against
# the password recomputed here (RFC 5802: StoredKey = H(HMAC(SaltedPassword,
# "Client Key"))).
import hashlib
import hmac
import os
import pty
import re
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

SRC = os.environ.get("SB_SRC") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("SB_BUILD") or os.path.join(SRC, "build")
SBCTL = os.path.join(BUILD, "sbctl")
DRIVER = os.environ.get("SB_SBCTL_DRIVER", "sqlite")
CONNINFO = os.environ.get("SB_SBCTL_CONNINFO", "")
TIMEOUT = 120

ntests = 0
nfailed = 0


def ok(cond, name, diag=None):
    global ntests, nfailed
    ntests += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", ntests, name), flush=True)
    if not cond:
        nfailed += 1
        if diag:
            for line in str(diag).splitlines():
                print("#   " + line, flush=True)
    return cond


def skip(name, why):
    global ntests
    ntests += 1
    print("ok %d - %s # skip %s" % (ntests, name, why), flush=True)


class Run:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __str__(self):
        return "exit %s\nstdout: %s\nstderr: %s" % (self.rc, self.out, self.err)


def sbctl(*args, config=None, stdin=None, env=None, cwd=None):
    """Run sbctl with -c config (the test's own unless config is False)."""
    argv = [SBCTL]
    if config is not False:
        argv += ["-c", config or CONFIG]
    e = dict(os.environ)
    e.pop("SB_CONFIG", None)
    e.update(env or {})
    p = subprocess.run(argv + list(args), input=stdin, capture_output=True, text=True,
                       env=e, cwd=cwd or TMP, timeout=TIMEOUT, start_new_session=True)
    return Run(p.returncode, p.stdout, p.stderr)


# --- the database, seen from outside sbctl ---

def psql(sql):
    p = subprocess.run(["psql", "-XAtq", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", CONNINFO,
                        "-c", sql], capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError("psql: " + p.stderr)
    return [line.split("|") for line in p.stdout.splitlines()]


def db_rows(sql, hexcols=()):
    """Rows of a query; columns listed in hexcols come back as bytes."""
    if DRIVER == "sqlite":
        with sqlite3.connect(DBPATH) as db:
            rows = db.execute(sql).fetchall()
        db.close()
        return [tuple(v for v in r) for r in rows]
    rows = psql(sql)
    return [tuple(bytes.fromhex(v[2:] if v.startswith("\\x") else v) if i in hexcols else v
                  for i, v in enumerate(r)) for r in rows]


def account(domain, user):
    """The stored secrets of an account as a dict, or None."""
    rows = db_rows("SELECT sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key, "
                   "sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key "
                   "FROM accounts WHERE domain = '%s' AND username = '%s'" % (domain, user),
                   hexcols=(0, 2, 3, 4, 6, 7))
    if not rows:
        return None
    r = rows[0]
    return {"sha1": (bytes(r[0]), int(r[1]), bytes(r[2]), bytes(r[3])),
            "sha256": (bytes(r[4]), int(r[5]), bytes(r[6]), bytes(r[7]))}


def scram_matches(acc, password):
    """Do both stored secrets belong to this (already prepared) password?"""
    for h in ("sha1", "sha256"):
        salt, iters, stored, server = acc[h]
        salted = hashlib.pbkdf2_hmac(h, password.encode(), salt, iters)
        client_key = hmac.new(salted, b"Client Key", h).digest()
        if hashlib.new(h, client_key).digest() != stored:
            return False
        if hmac.new(salted, b"Server Key", h).digest() != server:
            return False
    return True


def offline_count(domain, user):
    return int(db_rows("SELECT count(*) FROM offline_messages o JOIN accounts a "
                       "ON a.id = o.account_id WHERE a.domain = '%s' AND a.username = '%s'"
                       % (domain, user))[0][0])


def users(*args):
    r = sbctl("users", *args)
    return r.out.splitlines() if r.rc == 0 else ["exit %d: %s" % (r.rc, r.err)]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def storage_xml():
    if DRIVER == "pgsql":
        return "<storage driver='pgsql'><conninfo>%s</conninfo></storage>" % CONNINFO
    return "<storage driver='sqlite'><path>data/switchboard.db</path></storage>"


# --- the checks ---

def check_usage():
    r = sbctl("frobnicate")
    ok(r.rc == 2 and "unknown command" in r.err and "usage:" in r.err,
       "an unknown command is a usage error (exit 2) with the usage text", r)
    r = sbctl("deluser")
    ok(r.rc == 2 and "usage:" in r.err, "a missing argument is a usage error", r)
    r = sbctl("--help")
    ok(r.rc == 0 and "adduser --batch" in r.out and "db init" in r.out,
       "--help prints the usage on stdout", r)


def check_config_errors():
    r = sbctl("users", config=os.path.join(TMP, "nonexistent.xml"))
    ok(r.rc == 1 and "no configuration found" in r.err and "nonexistent.xml" in r.err
       and "SB_CONFIG" in r.err, "a missing -c file: 'no configuration found', naming it", r)
    r = sbctl("users", config=False, env={"SB_CONFIG": os.path.join(TMP, "gone.xml")})
    ok(r.rc == 1 and "no configuration found" in r.err and "gone.xml" in r.err,
       "a missing $SB_CONFIG file: the same", r)
    if os.path.exists("/usr/local/etc/switchboard/switchboard.xml"):
        skip("no configuration anywhere", "an installed configuration exists")
    else:
        r = sbctl("users", config=False, cwd=EMPTY)
        ok(r.rc == 1 and "no configuration found" in r.err and "./etc/switchboard.xml" in r.err
           and "-c" in r.err, "no configuration anywhere: says which paths were tried", r)
    bad = os.path.join(TMP, "broken.xml")
    write(bad, "<switchboard>\n  %s\n  <storage>\n</switchboard>\n" % storage_xml())
    r = sbctl("users", config=bad)
    ok(r.rc == 1 and re.search(r"broken\.xml:\d+:", r.err),
       "a syntax error is reported as file:line", r)
    nostore = os.path.join(TMP, "nostorage.xml")
    write(nostore, "<switchboard/>\n")
    r = sbctl("users", config=nostore)
    ok(r.rc == 1 and "<storage>" in r.err, "a configuration without <storage> says so", r)


def check_unreachable():
    conf = os.path.join(TMP, "unreachable.xml")
    if DRIVER == "pgsql":
        write(conf, "<switchboard><storage driver='pgsql'><conninfo>host=%s dbname=x"
              "</conninfo><timeout>1s</timeout></storage></switchboard>" % EMPTY)
        why = "server is running and reachable"
    else:
        write(conf, "<switchboard><storage driver='sqlite'><path>empty</path></storage>"
              "</switchboard>")
        why = "not a regular file"
    for verb in (["users"], ["db", "init"]):
        r = sbctl(*verb, config=conf)
        ok(r.rc == 1 and why in r.err and "unreachable.xml" in r.err,
           "%s: a database that cannot be reached is an error naming the configuration"
           % " ".join(verb), r)


def check_not_writable():
    """The database file and its directory read-only for the user running sbctl."""
    name = "a database this user may not write is an error that says so"
    if DRIVER != "sqlite":
        return skip(name, "sqlite only")
    data = os.path.dirname(DBPATH)
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            return skip(name, "root without runuser(1)")
        # Root may write anything: run sbctl as nobody, who may only read.
        os.chmod(TMP, 0o755)
        os.chmod(data, 0o755)
        os.chmod(DBPATH, 0o644)
        os.chmod(CONFIG, 0o644)
        p = subprocess.run([runuser, "-u", "nobody", "--", SBCTL, "-c", CONFIG, "adduser",
                            "x@example.com", "pw"], capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=TMP)
        r = Run(p.returncode, p.stdout, p.stderr)
        os.chmod(TMP, 0o700)
    else:
        os.chmod(data, 0o555)
        os.chmod(DBPATH, 0o444)
        r = sbctl("adduser", "x@example.com", "pw")
        os.chmod(data, 0o755)
        os.chmod(DBPATH, 0o644)
    ok(r.rc == 1 and "may read and write the database file" in r.err, name, r)


def check_before_init():
    r = sbctl("db", "version")
    ok(r.rc == 0 and "database schema version 0" in r.out,
       "db version on an empty database says version 0", r)
    r = sbctl("users")
    ok(r.rc == 1 and "`sbctl db init`" in r.err,
       "an account verb before db init fails, naming `sbctl db init`", r)
    if DRIVER == "sqlite":
        os.mkdir(os.path.dirname(DBPATH))
        open(DBPATH, "w").close()
        r = sbctl("adduser", "a@example.com", "pw")
        ok(r.rc == 1 and "`sbctl db init`" in r.err,
           "on an existing but empty database file as well (the schema check)", r)
        # db init is to create the directory itself.
        shutil.rmtree(os.path.dirname(DBPATH))
    else:
        skip("an existing but empty database file", "sqlite only")


def check_init():
    r = sbctl("db", "init")
    ok(r.rc == 0 and re.search(r"^initialized at schema version %d$" % LATEST, r.out, re.M),
       "db init creates the schema", r)
    r = sbctl("db", "version")
    ok(r.rc == 0 and "database schema version %d\n" % LATEST in r.out
       and "latest schema version %d\n" % LATEST in r.out,
       "db version prints the database's and the latest version", r)
    r = sbctl("db", "init")
    ok(r.rc == 0 and "already initialized at schema version %d" % LATEST in r.out,
       "db init again is fine and says so", r)
    r = sbctl("db", "migrate")
    ok(r.rc == 0 and "schema is up to date (version %d)" % LATEST in r.out,
       "db migrate on a current database has nothing to do", r)


def check_adduser():
    r = sbctl("adduser", "juliet@example.com", "rom30")
    ok(r.rc == 0 and r.out == "added juliet@example.com\n" and r.err == "",
       "adduser with a password", r)
    acc = account("example.com", "juliet")
    ok(acc is not None and scram_matches(acc, "rom30"),
       "the stored SCRAM-SHA-1 and -256 secrets belong to the password", acc)
    ok(acc is not None and acc["sha1"][1] == 4096 and acc["sha256"][1] == 4096
       and len(acc["sha1"][0]) >= 16 and acc["sha1"][0] != acc["sha256"][0],
       "4096 iterations, and a salt of its own for each hash", acc)
    r = sbctl("adduser", "juliet@example.com", "other")
    ok(r.rc == 1 and "exists" in r.err, "adduser of an existing account fails: exists", r)
    r = sbctl("adduser", "Romeo@Example.COM", "jul1et")
    ok(r.rc == 0 and r.out == "added romeo@example.com\n", "adduser prepares the JID", r)
    ok("romeo@example.com" in users(), "users prints the canonical JID", users())
    r = sbctl("adduser", "ROMEO@example.com", "x")
    ok(r.rc == 1 and "exists" in r.err, "the same account spelled otherwise exists too", r)
    for jid, why in (("example.com", "not a user JID"), ("nurse@example.com/balcony",
                     "not a user JID"), ("@example.com", "not a valid JID"),
                     ("a b@example.com", "not a valid JID")):
        r = sbctl("adduser", jid, "pw")
        ok(r.rc == 1 and why in r.err and "'%s'" % jid in r.err,
           "adduser refuses '%s': %s" % (jid, why), r)
    r = sbctl("adduser", "nurse@example.com", "")
    ok(r.rc == 1 and "empty password" in r.err, "an empty password is refused", r)
    r = sbctl("adduser", "nurse@example.com", "bell\x07")
    ok(r.rc == 1 and "password refused" in r.err and "bell" not in r.err,
       "a password PRECIS refuses is refused with the reason, not echoed", r)
    ok(account("example.com", "nurse") is None, "and no account was created")
    r = sbctl("adduser", "mercutio@example.org", "cafe\u0301\u00a0x")
    acc = account("example.org", "mercutio")
    ok(r.rc == 0 and acc is not None and scram_matches(acc, "caf\u00e9 x"),
       "the password is prepared (OpaqueString: NFC, non-ASCII space to space)", r)
    if DRIVER == "sqlite":
        blob = b""
        for suffix in ("", "-wal"):
            if os.path.exists(DBPATH + suffix):
                blob += open(DBPATH + suffix, "rb").read()
        ok(b"rom30" not in blob and b"jul1et" not in blob, "no password in the database files")
    else:
        dump = psql("SELECT * FROM accounts")
        ok("rom30" not in str(dump) and "jul1et" not in str(dump), "no password in the table")


def check_users():
    ok(users() == ["juliet@example.com", "mercutio@example.org", "romeo@example.com"],
       "users lists every account, sorted", users())
    ok(users("example.org") == ["mercutio@example.org"], "users DOMAIN lists one domain",
       users("example.org"))
    ok(users("EXAMPLE.ORG") == ["mercutio@example.org"], "users prepares the DOMAIN")
    ok(users("example.net") == [], "users of a domain without accounts prints nothing")


def check_passwd():
    before = account("example.com", "romeo")
    r = sbctl("passwd", "romeo@example.com", "n3w")
    after = account("example.com", "romeo")
    ok(r.rc == 0 and "romeo@example.com" in r.out, "passwd of an existing account", r)
    ok(before and after and before["sha1"][0] != after["sha1"][0]
       and before["sha256"][0] != after["sha256"][0], "passwd sets new salts")
    ok(after and scram_matches(after, "n3w") and not scram_matches(after, "jul1et"),
       "the secrets now belong to the new password")
    r = sbctl("passwd", "tybalt@example.com", "x")
    ok(r.rc == 1 and "no such account" in r.err, "passwd of a missing account fails", r)


def check_deluser():
    sql = ("INSERT INTO offline_messages (account_id, created, stanza) SELECT id, 0, "
           "'<message to=\"juliet@example.com\"><body>hi</body></message>' FROM accounts "
           "WHERE domain = 'example.com' AND username = 'juliet'")
    if DRIVER == "sqlite":
        with sqlite3.connect(DBPATH) as db:
            db.execute(sql)
        db.close()
    else:
        psql(sql)
    ok(offline_count("example.com", "juliet") == 1, "an offline message for juliet (setup)")
    r = sbctl("deluser", "Juliet@example.com")
    ok(r.rc == 0 and "juliet@example.com" in r.out, "deluser", r)
    ok(users() == ["mercutio@example.org", "romeo@example.com"], "the account is gone", users())
    rows = db_rows("SELECT count(*) FROM offline_messages")
    ok(int(rows[0][0]) == 0, "and so is its offline message", rows)
    r = sbctl("deluser", "juliet@example.com")
    ok(r.rc == 1 and "no such account" in r.err, "deluser of a missing account fails", r)


def batch_input():
    """1000 account lines, 3 of them bad, among a comment and a blank line."""
    lines = ["# generated by t/sbctl.t", ""]
    bad = {}
    for i in range(1000):
        if i == 100:
            bad[len(lines) + 1] = "not a user JID"
            lines.append("batch.example secret")
        elif i == 500:
            bad[len(lines) + 1] = "no password"
            lines.append("nopassword@batch.example")
        elif i == 900:
            bad[len(lines) + 1] = "exists"
            lines.append("romeo@example.com already-there")
        elif i == 7:
            lines.append("user7@batch.example\t  pass word  with spaces")
        else:
            lines.append("user%d@batch.example pw%d" % (i, i))
    return "\n".join(lines) + "\n", bad


def check_batch():
    text, bad = batch_input()
    start = time.monotonic()
    r = sbctl("adduser", "--batch", stdin=text)
    took = time.monotonic() - start
    ok(r.rc == 1 and r.out == "added 997 accounts (3 failed)\n",
       "adduser --batch: 997 added, 3 failed, exit 1", r)
    reported = {int(m.group(1)): m.group(2) for m in
                re.finditer(r"^sbctl: stdin:(\d+): (.*)$", r.err, re.M)}
    ok(sorted(reported) == sorted(bad) and all(bad[n] in reported[n] for n in bad),
       "each bad line is reported as stdin:LINE: reason", "expected %s\n%s" % (bad, r))
    listed = users("batch.example")
    ok(len(listed) == 997 and "user999@batch.example" in listed,
       "the accounts are there", "%d listed" % len(listed))
    acc = account("batch.example", "user7")
    ok(acc and scram_matches(acc, "pass word  with spaces"),
       "the password is the rest of the line after the first blanks")
    acc = account("batch.example", "user42")
    ok(acc and scram_matches(acc, "pw42"), "another batch account has its own password")
    print("# adduser --batch of 1000 lines took %.2fs" % took)
    r = sbctl("adduser", "--batch", stdin="# nothing\n\n")
    ok(r.rc == 0 and r.out == "added 0 accounts (0 failed)\n", "an empty batch is fine", r)


def check_prompt():
    argv = [SBCTL, "-c", CONFIG, "adduser", "tty@example.com"]
    out, rc = run_on_pty(argv, ["s3cret", "s3cret"])
    acc = account("example.com", "tty")
    ok(rc == 0 and "Password for tty@example.com" in out and acc is not None
       and scram_matches(acc, "s3cret"), "adduser asks twice on the terminal", out)
    ok("s3cret" not in out, "without echo", out)
    out, rc = run_on_pty([SBCTL, "-c", CONFIG, "passwd", "tty@example.com"], ["one", "two"])
    ok(rc == 1 and "do not match" in out and scram_matches(account("example.com", "tty"),
       "s3cret"), "two different answers are refused, nothing changes", out)
    r = sbctl("adduser", "notty@example.com")
    ok(r.rc == 1 and "no terminal" in r.err, "without a terminal adduser says what to do", r)


def run_on_pty(argv, answers):
    """Run argv on a new terminal, answering each password prompt in turn."""
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(os.environ)
        env.pop("SB_CONFIG", None)
        os.execve(argv[0], argv, env)
    out, deadline = b"", time.monotonic() + 60
    prompts = 0
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 1)
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
        if answers and out.count(b"assword") > prompts:
            prompts += 1
            os.write(fd, (answers.pop(0) + "\n").encode())
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def latest_version():
    d = os.path.join(SRC, "storage", "schema", "sqlite")
    return len([f for f in os.listdir(d) if re.match(r"\d+-.*\.sql$", f)])


def main():
    global TMP, EMPTY, CONFIG, DBPATH, LATEST
    if not os.access(SBCTL, os.X_OK):
        print("1..0 # SKIP %s is not built" % SBCTL)
        return 0
    if DRIVER == "pgsql" and not CONNINFO:
        print("Bail out! SB_SBCTL_DRIVER=pgsql needs SB_SBCTL_CONNINFO")
        return 1
    TMP = tempfile.mkdtemp(prefix="sbctl.")
    try:
        EMPTY = os.path.join(TMP, "empty")
        os.mkdir(EMPTY)
        CONFIG = os.path.join(TMP, "switchboard.xml")
        DBPATH = os.path.join(TMP, "data", "switchboard.db")
        LATEST = latest_version()
        write(CONFIG, "<?xml version='1.0'?>\n<switchboard>\n  %s\n</switchboard>\n"
              % storage_xml())
        print("# driver %s, directory %s" % (DRIVER, TMP))
        check_usage()
        check_config_errors()
        check_unreachable()
        check_before_init()
        check_init()
        check_not_writable()
        check_adduser()
        check_users()
        check_passwd()
        check_deluser()
        check_batch()
        check_prompt()
    except Exception:
        # Counted as a failure, and the plan below still comes out.
        ok(False, "the checks ran to the end", traceback.format_exc())
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("1..%d" % ntests)
    return 1 if nfailed else 0


if __name__ == "__main__":
    sys.exit(main())
