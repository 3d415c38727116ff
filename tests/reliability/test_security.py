"""6. Security: passwords never leak, TLS verifies the server, writes stay on our documents."""

import ctypes as C
import json
import os
import subprocess
import time
from urllib.parse import urlparse

import pytest
from bson.raw_bson import RawBSONDocument

import melib
from harness import Server, log
from inproc import InProcElector
from melib import lib

PASSWORD = "Xy7-secret_pw"          # as written in the URI
PASSWORD_ENC = "Xy7%2Dsecret%40pw"   # percent-encoded form of "Xy7-secret@pw"
DECODED = "Xy7-secret@pw"
# FerretDB v1 has no SCRAM; PLAIN lets calls succeed on it (and on MongoDB it fails auth: also useful).
PLAIN = "&authMechanism=PLAIN&authSource=%24external"


def leaks(text):
    return [p for p in (PASSWORD, PASSWORD_ENC, DECODED, "secret_pw", "secret@pw", "secret%40pw") if p in text]


def with_userinfo(uri, user, pw):
    u = urlparse(uri)
    return u._replace(netloc=f"{user}:{pw}@{u.netloc}").geturl()


def test_password_never_appears(uri, dbname, mongo):
    """Property: a URI's password (raw or percent-encoded) never appears in an
    error message (bad URI, unreachable server, failed authentication), in a log
    line (me_set_log_callback at trace level), or in a status document
    (me_locker_status, me_locker_current, node status, cluster detail, and the
    documents stored in the database)."""
    lines = []
    sink = melib.LOG_CALLBACK(lambda _, lvl, msg: lines.append(msg.decode("utf-8", "replace")))
    lib().me_set_log_callback(sink, 5, None)
    messages = []
    try:
        # Unparsable URIs carrying a password.
        for bad in (f"mongodb://bob:{PASSWORD}@127.0.0.1:notaport/",
                    f"mongodb://bob:{PASSWORD_ENC}@/nohost",
                    f"mongodb://bob:{PASSWORD}@127.0.0.1:27017/?authMechanism=BOGUS"):
            out = C.c_void_p()
            st = melib.call("me_client_new", bad.encode(), C.byref(out))
            messages.append((bad, melib.status_name(st), melib.last_error()))
            if st == 0:
                lib().me_client_free(out)
        # Unreachable server and (maybe) failed authentication: calls that reach the driver.
        from harness import free_port
        for target in (f"mongodb://bob:{PASSWORD_ENC}@127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300",
                       with_userinfo(uri, "bob", PASSWORD_ENC),
                       with_userinfo(uri, "bob", PASSWORD),
                       with_userinfo(uri, "bob", PASSWORD_ENC) + PLAIN,
                       with_userinfo(uri, "bob", PASSWORD) + PLAIN):
            client = melib.client_new(target)
            lk = melib.locker_new(client, dbname, "pw", ttl=5)
            for name, call in (("me_locker_acquire", lambda: melib.acquire(lk, blocking=False)),
                               ("me_locker_locked", lambda: melib.call("me_locker_locked", lk, None,
                                                                       C.byref(C.c_bool())))):
                st = call()
                messages.append((name, melib.status_name(st), melib.last_error()))
            for fn in (melib.lock_status, melib.current):
                st, rec = fn(lk)
                messages.append(("status", melib.status_name(st), repr(rec) if st == 0 else melib.last_error()))
            melib.close(lk)
            lib().me_locker_free(lk)
            lib().me_client_free(client)
        # An elector whose URI carries a password: its node status and the stored documents.
        el = InProcElector(with_userinfo(uri, "bob", PASSWORD_ENC) + PLAIN, dbname, "pw-el", 1.0).start()
        time.sleep(2.0)
        for fn in (melib.node_status, melib.cluster_detail):
            st, rec = fn(el.h)
            messages.append(("elector status", melib.status_name(st), repr(rec) if st == 0 else melib.last_error()))
        el.stop()
    finally:
        lib().me_set_log_callback(melib.LOG_CALLBACK(), 2, None)
    stored = [json.dumps(d, default=str) for c in mongo[dbname].list_collection_names()
              for d in mongo[dbname][c].find()]
    log(f"password: {len(messages)} messages, {len(lines)} log lines, {len(stored)} stored documents checked")
    for m in messages:
        log(f"  {m[0][:60]} -> {m[1]}: {m[2][:160]}")
    bad = [m for m in messages if leaks(" ".join(m[1:]))]
    assert not bad, f"password in messages: {bad}"
    bad = [l for l in lines if leaks(l)]
    assert not bad, f"password in log lines: {bad[:5]}"
    bad = [d for d in stored if leaks(d)]
    assert not bad, f"password in stored documents: {bad[:5]}"
    assert any(m[1] != "ME_OK" for m in messages), "no call failed: the error paths were not exercised"
    assert lines, "no log line was produced at trace level"
    assert any(m[1] == "ME_OK" for m in messages) or not stored, "no status document was produced"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    make_ca(d, "ca")
    make_ca(d, "wrongca")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
            "-out", "server.csr", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
    server = Server(os.path.join(d, "data"), tls=(os.path.join(d, "server.pem"), os.path.join(d, "server.key")))
    server.start()
    yield server, d
    server.stop()


def test_tls_with_the_right_ca(tls_server):
    """Property: over TLS (tls=true&tlsCAFile=<our CA>) the library connects,
    acquires, reports and releases a lock."""
    server, d = tls_server
    client = melib.client_new(server.uri(f"tls=true&tlsCAFile={d}/ca.pem"))
    lk = melib.locker_new(client, "tlsdb", "tls-key", ttl=10)
    try:
        melib.check("me_locker_acquire", melib.acquire(lk, True, 10.0, 0.1))
        owned = C.c_bool()
        melib.check("me_locker_owned", melib.call("me_locker_owned", lk, None, C.byref(owned)))
        assert owned.value, "lock not owned after acquire over TLS"
        assert lib().me_locker_fence(lk) >= 1
        melib.check("me_locker_release", melib.release(lk))
    finally:
        melib.close(lk)
        lib().me_locker_free(lk)
        lib().me_client_free(client)


def test_tls_wrong_ca_is_refused(tls_server):
    """Property: with a CA that did not sign the server's certificate, and with
    no CA (the system roots), calls fail with ME_ERR_DATABASE and a message
    naming the TLS/certificate problem; nothing is written."""
    server, d = tls_server
    for extra in (f"tls=true&tlsCAFile={d}/wrongca.pem", "tls=true"):
        client = melib.client_new(server.uri(extra).replace("serverSelectionTimeoutMS=5000",
                                                            "serverSelectionTimeoutMS=2000"))
        lk = melib.locker_new(client, "tlsdb", "tls-wrong", ttl=10, timeparanoid=False)
        try:
            st = melib.acquire(lk, blocking=False)
            msg = melib.last_error()
            log(f"TLS {extra}: {melib.status_name(st)}: {msg[:300]}")
            assert st == melib.ME_ERR_DATABASE, f"{extra}: expected ME_ERR_DATABASE, got {melib.status_name(st)}: {msg}"
            assert any(w in msg.lower() for w in ("certificate", "tls", "unknownissuer", "ssl")), \
                f"{extra}: the error does not say it is a TLS/certificate problem: {msg}"
        finally:
            lib().me_locker_free(lk)
            lib().me_client_free(client)


def snapshot(mongo, db):
    """Every document of every collection, as raw BSON bytes, by collection and _id."""
    out = {}
    d = mongo.get_database(db, codec_options=mongo.codec_options.with_options(document_class=RawBSONDocument))
    for c in sorted(d.list_collection_names()):
        for doc in d[c].find():
            out[(c, repr(doc["_id"]))] = bytes(doc.raw)
    return out


def test_writes_only_touch_our_documents(uri, dbname, mongo):
    """Property: a locker (60 generations on key "ours", so old generations are
    collected) and an elector (group "ours", whose leader sweeps dead members'
    status reports) leave every other document in the database untouched byte
    for byte: other keys' lock generations (also ones whose _id looks like ours),
    another group's long-dead status report, and unrelated collections."""
    db = mongo[dbname]
    from datetime import datetime, timezone
    ancient = datetime(2000, 1, 1, tzinfo=timezone.utc)
    db["mongolocker"].insert_many([
        {"_id": f"other#{g}", "key": "other", "gen": g, "fence": 1, "locked": g % 2 == 0, "uuid": "u",
         "host": "h", "pid": 1, "ts_created": ancient, "ts_expire": ancient, "ts_written": ancient}
        for g in range(1, 40)] + [
        {"_id": "ours#x", "key": "ours-not", "gen": 1, "note": "an _id with our prefix, another key"},
        {"_id": "ours", "payload": "a document whose _id is our key, not a lock"},
    ])
    db["elector.locks"].insert_one({"_id": "group2#1", "key": "group2", "gen": 1, "fence": 1, "locked": True,
                                    "uuid": "v", "host": "h", "pid": 2, "ts_created": ancient,
                                    "ts_expire": ancient, "ts_written": ancient})
    db["elector.leader_status"].insert_one({"_id": "dead-member-of-group2", "key": "group2", "timestamp": ancient})
    db["users"].insert_many([{"_id": i, "name": f"user{i}", "key": "ours"} for i in range(5)])
    before = snapshot(mongo, dbname)

    client = melib.client_new(uri)
    lk = melib.locker_new(client, dbname, "ours", ttl=5)
    try:
        for _ in range(30):
            melib.check("me_locker_acquire", melib.acquire(lk, True, 10.0, 0.05))
            melib.check("me_locker_touch", melib.call("me_locker_touch", lk, None, None))
            melib.check("me_locker_release", melib.release(lk))
    finally:
        melib.close(lk)
        lib().me_locker_free(lk)
        lib().me_client_free(client)
    el = InProcElector(uri, dbname, "ours", 1.0).start()
    time.sleep(3.0)
    el.stop()

    after = snapshot(mongo, dbname)
    changed = [k for k in before if before[k] != after.get(k)]
    assert not changed, f"documents of others changed or deleted: {changed}"
    ours = [k for k in after if k not in before]
    foreign = []
    for coll, _id in ours:
        if coll == "mongolocker" or coll == "elector.locks":
            if not _id.strip("'").startswith("ours#"):
                foreign.append((coll, _id))
        elif coll == "elector.leader_status":
            pass  # our node's uuid: checked below
        else:
            foreign.append((coll, _id))
    for d in db["elector.leader_status"].find():
        if d["_id"] != "dead-member-of-group2" and d.get("key") != "ours":
            foreign.append(("elector.leader_status", d["_id"]))
    assert not foreign, f"new documents that are not ours: {foreign}"
    assert any(c == "mongolocker" for c, _ in ours), "the locker wrote nothing (test did not run)"
