"""What the C ABI 0.2 brings to the binding: close() ending waiting calls,
records read against the server's documents, the GC and fork rules, the
seed's private seams, Ctrl-C. Every child process is bounded by a timeout."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest

from conftest import PY_ROOT, wait_for
from mongoelector import ClosedError, InvalidStateError, LockExists, MongoLeaderElector, MongoLocker, TimeOffsetError

CHILD_TIMEOUT = 120


def naive(dt):
    return isinstance(dt, datetime) and dt.tzinfo is None


def aware(dt):
    return isinstance(dt, datetime) and dt.tzinfo is not None and dt.utcoffset() == timedelta(0)


def head(db, key, coll="mongolocker"):
    """The lock's newest generation document, read with pymongo."""
    return db[coll].find_one({"key": key}, sort=[("gen", -1)])


# ---- close ------------------------------------------------------------------


def test_close_cancels_a_waiting_acquire_from_another_thread(db):
    holder = MongoLocker("res", db, ttl=30)
    holder.acquire()
    waiter = MongoLocker("res", db, ttl=30)
    res = {}

    def wait():
        try:
            waiter.acquire()
        except BaseException as e:  # noqa: BLE001
            res["error"], res["at"] = e, time.monotonic()

    th = threading.Thread(target=wait)
    th.start()
    time.sleep(0.5)
    assert th.is_alive()
    t0 = time.monotonic()
    waiter.close()
    th.join(10)
    assert not th.is_alive()
    assert isinstance(res["error"], ClosedError), res
    assert res["at"] - t0 < 0.05 + 0.2, f"woke {res['at'] - t0:.3f}s after close()"
    assert holder.owned()


def test_close_before_the_call(db):
    lk = MongoLocker("res", db, ttl=30)
    lk.close()
    t0 = time.monotonic()
    for fn in (lk.acquire, lambda: lk.acquire(blocking=False), lk.locked, lk.release, lk.touch):
        with pytest.raises(ClosedError):
            fn()
    assert time.monotonic() - t0 < 1
    assert not MongoLocker("res", db).locked()


def test_close_while_an_elector_callback_runs(db):
    entered, events = threading.Event(), []

    def on_leader():
        entered.set()
        time.sleep(0.5)
        events.append("leader-done")

    e = MongoLeaderElector("svc", db, ttl=5, on_leader=on_leader, on_leader_loss=lambda: events.append("loss"))
    e.start()
    assert entered.wait(30)
    e.close()  # returns once the callback has returned, then releases
    assert events == ["leader-done", "loss"]
    time.sleep(0.3)
    assert events == ["leader-done", "loss"] and not e.running  # no callback after close
    assert not MongoLocker("svc", db, dbcollection="elector.locks").locked()


def test_close_from_its_own_callback(db):
    box = {}

    def on_leader():
        box["e"].close()  # flags the stop, returns at once
        box["returned"] = True

    e = box["e"] = MongoLeaderElector("svc", db, ttl=5, on_leader=on_leader)
    e.start()
    wait_for(lambda: box.get("returned") and not e.running, what="the elector stops")
    wait_for(lambda: not MongoLocker("svc", db, dbcollection="elector.locks").locked(), what="released")


def test_free_after_close_from_another_thread(db):
    lk = MongoLocker("res", db, ttl=30)
    lk.acquire()
    el = MongoLeaderElector("svc", db, ttl=5)
    el.start()
    wait_for(lambda: el.is_leader, what="leads")
    objs = [lk, el]
    del lk, el
    closer = threading.Thread(target=lambda: [o.close() for o in objs])
    closer.start()
    closer.join(30)
    freed = []

    def drop():
        o = objs.pop()
        freed.append(type(o).__name__)
        del o
        gc.collect()

    while objs:
        t = threading.Thread(target=drop)
        t.start()
        t.join(30)
    assert freed == ["MongoLeaderElector", "MongoLocker"]
    assert not MongoLocker("res", db).locked()
    assert not MongoLocker("svc", db, dbcollection="elector.locks").locked()


# ---- records against the server's documents ---------------------------------


def test_locker_records_match_the_documents(db):
    a = MongoLocker("res", db, ttl=30)
    a.acquire()
    doc = head(db, "res")
    cur = a.get_current()
    assert cur == {
        "_id": doc["key"], "locked": doc["locked"], "host": doc["host"], "uuid": doc["uuid"], "pid": doc["pid"],
        "ts_created": doc["ts_created"], "ts_expire": doc["ts_expire"], "fence": doc["fence"],
    }
    assert a.ts_expire.replace(tzinfo=None) == doc["ts_expire"] and a.fence == doc["fence"]
    st = a.status
    assert (st["uuid"], st["host"], st["pid"], st["fence"]) == (doc["uuid"], doc["host"], doc["pid"], doc["fence"])
    assert st["lock_created"] == doc["ts_created"] and st["lock_expires"] == doc["ts_expire"]
    time.sleep(0.01)
    new = a.touch()
    doc = head(db, "res")
    assert new == doc["ts_expire"] == a.ts_expire and a.get_current()["ts_expire"] == doc["ts_expire"]


def test_records_follow_the_clients_tz_aware(uri, dbname, mongo_client):
    from pymongo import MongoClient

    with MongoClient(uri, tz_aware=True) as c:
        db = c[dbname]
        a = MongoLocker("res", db, ttl=30)
        a.acquire()
        doc = head(db, "res")
        cur = a.get_current()
        assert aware(cur["ts_expire"]) and cur["ts_expire"] == doc["ts_expire"] and cur["ts_created"] == doc["ts_created"]
        assert aware(a.touch()) and aware(a.status["lock_expires"])


def test_elector_records_match_the_documents(db):
    e = MongoLeaderElector("svc", db, ttl=5, app_version="9.9")
    other = MongoLeaderElector("svc", db, ttl=5)
    e.poll()
    other.poll()
    coll = db["elector.leader_status"]
    doc = coll.find_one({"_id": e.mlock.uuid})
    ns = e.node_status
    for k in ("uuid", "key", "ttl", "host", "pid", "lock_owned", "lock_created", "lock_expires", "fence",
              "is_leader", "app_version"):
        assert ns[k] == doc[k], k
    assert ns["_id"] == doc["_id"] and ns["last_poll"].replace(tzinfo=None) == doc["last_poll"]
    cd = e.cluster_detail
    docs = list(coll.find({"key": "svc"}, {"_id": 0}).sort("timestamp", -1))
    for d in docs:
        if d.get("app_version") is None:
            d.pop("app_version", None)  # the seed writes it only when set
    assert cd["member_detail"] == docs
    lock = head(db, "svc", "elector.locks")
    assert cd["leader"] == {"host": lock["host"], "process_id": lock["pid"], "uuid": lock["uuid"], "fence": lock["fence"]}
    assert aware(cd["timestamp"])
    e.close()
    other.close()


# ---- the seed's seams and shapes --------------------------------------------


def test_verifytime_is_the_seam_acquire_calls(db):
    with mock.patch("mongoelector.locker.MongoLocker._verifytime", return_value=True) as vt:
        lk = MongoLocker("res", db, ttl=30)
        assert lk.acquire() is True
        vt.assert_called_once_with()
        lk.release()
        MongoLocker("res", db, ttl=30, timeparanoid=False).acquire()
        vt.assert_called_once_with()  # not called without timeparanoid
    with mock.patch("mongoelector.locker.MongoLocker._verifytime", side_effect=TimeOffsetError("patched")):
        with pytest.raises(TimeOffsetError, match="patched"):
            MongoLocker("other", db).acquire()
    assert MongoLocker("x", db)._verifytime() is True


def test_patched_verifytime_skips_the_clock_check(db):
    # No clock is within 0 s of the server's: the real check refuses, the patched one does not.
    with pytest.raises(TimeOffsetError):
        MongoLocker("strict", db, ttl=30, maxoffset=0).acquire()
    with mock.patch("mongoelector.locker.MongoLocker._verifytime", return_value=True):
        assert MongoLocker("res", db, ttl=30, maxoffset=0).acquire()


def test_acquireretry_gives_the_seeds_results():
    retry = MongoLocker._acquireretry
    now = datetime.now(tz=timezone.utc)
    assert retry(True, now, None, 0) is True and retry(True, now, None, 99) is True
    assert retry(False, now, None, 0) is True and retry(False, now, None, 1) is False
    assert retry(False, now, 0, 0) is True  # a falsy timeout is no timeout
    with pytest.raises(ValueError, match="blocking=False is incompatible with a timeout"):
        retry(False, now, 5, 0)
    assert retry(True, now, 10, 3) is True
    assert retry(True, now - timedelta(seconds=20), 10, 0) is False
    assert isinstance(MongoLocker.__dict__["_acquireretry"], staticmethod)


def test_status_fields_and_types_as_the_seeds(db):
    seed_types = {"uuid": str, "key": str, "ttl": int, "timestamp": datetime, "host": str, "pid": int, "lock_owned": bool}
    a = MongoLocker("res", db, ttl=30)
    for owned in (False, True):
        st = a.status
        assert set(seed_types) | {"lock_created", "lock_expires"} <= set(st)
        for k, t in seed_types.items():
            assert type(st[k]) is t, (k, st[k])
        assert aware(st["timestamp"])
        if owned:
            assert naive(st["lock_created"]) and naive(st["lock_expires"])
        else:
            assert st["lock_created"] is None and st["lock_expires"] is None
        a.acquire()


# ---- garbage collection -----------------------------------------------------

TEMPORARY_JOB = textwrap.dedent("""
    import gc, sys
    sys.path.insert(0, {root!r})
    from pymongo import MongoClient
    from mongoelector import LockExists, MongoLocker
    db = MongoClient({uri!r})[{db!r}]
    ran = False
    try:
        if MongoLocker("job", db, ttl=60).acquire(blocking=False):
            ran = True
    except LockExists:
        pass
    gc.collect()
    print("RAN" if ran else "SKIPPED")
""")


def test_temporary_locker_job_runs_in_one_of_four_processes(uri, dbname):
    code = TEMPORARY_JOB.format(root=str(PY_ROOT), uri=uri, db=dbname)
    outs = []
    for _ in range(4):  # one after the other: each finds the lock of the first
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=CHILD_TIMEOUT)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.strip())
    assert outs.count("RAN") == 1 and outs[0] == "RAN", outs


# ---- fork -------------------------------------------------------------------


def _pool_worker(args):
    uri, dbname, i = args
    lk = MongoLocker("pool", (uri, dbname), ttl=30)
    assert lk.acquire(timeout=60)
    fence, owned = lk.fence, lk.owned()
    lk.release()
    lk.close()
    el = MongoLeaderElector("pool-svc", (uri, dbname), ttl=5)
    el.poll()
    uuid = el.node_status["uuid"]
    el.close()
    return os.getpid(), fence, owned, uuid


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_children_make_their_own_objects(uri, dbname, method):
    parent = MongoLocker("pool", (uri, dbname), ttl=30)  # the client exists before the fork
    parent.acquire()
    parent.release()
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(4)
    try:
        results = pool.map_async(_pool_worker, [(uri, dbname, i) for i in range(8)]).get(timeout=CHILD_TIMEOUT)
    finally:
        pool.terminate()
        pool.join()
    fences = [r[1] for r in results]
    assert all(r[2] for r in results) and len(set(fences)) == 8 and min(fences) > parent.fence
    assert all(r[0] != os.getpid() for r in results) and len({r[3] for r in results}) == 8
    assert parent.acquire(blocking=False) and parent.fence > max(fences)


def _run_forked(child) -> dict:
    """Runs child() in an os.fork() child; returns the dict it returns (bounded)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(r)
            out = child()
            os.write(w, json.dumps(out).encode())
            code = 0
        except BaseException as e:  # noqa: BLE001
            os.write(w, json.dumps({"child_error": repr(e)}).encode())
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child timed out")
        time.sleep(0.02)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    out = json.loads(data or b"{}")
    assert os.waitstatus_to_exitcode(status) == 0, out
    return out


def test_os_fork_new_objects_work_and_inherited_ones_fail(uri, dbname):
    db = (uri, dbname)
    held = MongoLocker("held", db, ttl=30)
    held.acquire()
    el = MongoLeaderElector("svc", db, ttl=5)
    el.poll()
    assert el.is_leader

    def child():
        out = {}
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            for name, fn in (("owned", held.owned), ("release", held.release), ("close", held.close),
                             ("acquire", lambda: held.acquire(blocking=False)), ("poll", el.poll),
                             ("el.close", el.close), ("mlock.owned", el.mlock.owned)):
                try:
                    fn()
                    out[name] = "no error"
                except InvalidStateError as e:
                    out[name] = str(e)
            out["warnings"] = [str(x.message) for x in w]
        fresh = MongoLocker("held", db, ttl=30)
        out["fresh_locked"], out["fresh_owned"] = fresh.locked(), fresh.owned()
        try:
            fresh.acquire(blocking=False)
            out["fresh_acquire"] = "acquired"
        except LockExists:
            out["fresh_acquire"] = "LockExists"
        mine = MongoLocker("child-key", db, ttl=30)
        out["mine"] = mine.acquire(blocking=False) and mine.owned()
        mine.release()
        ce = MongoLeaderElector("child-svc", db, ttl=5)
        ce.poll()
        out["child_leads"] = ce.is_leader
        ce.close()
        out["parent_leads_seen"] = MongoLocker("svc", db, dbcollection="elector.locks").locked()
        del fresh
        gc.collect()
        return out

    out = _run_forked(child)
    assert "child_error" not in out, out
    for name in ("owned", "release", "close", "acquire", "poll", "el.close", "mlock.owned"):
        assert out[name] != "no error" and len(out[name]) < 1000, (name, out[name])
    assert len(out["warnings"]) == 1 and "fork" in out["warnings"][0], out["warnings"]
    assert out["fresh_locked"] is True and out["fresh_owned"] is False and out["fresh_acquire"] == "LockExists"
    assert out["mine"] is True and out["child_leads"] is True and out["parent_leads_seen"] is True
    # The parent's objects still work after the child exited.
    assert held.owned() and held.touch() is not None
    el.poll()
    assert el.is_leader and el.mlock.owned()
    held.release()
    assert not held.locked()
    el.close()


def test_fork_error_message_is_short_for_a_huge_key(uri, dbname):
    key = "k" * 1_000_000  # the longest the library takes is 1 MiB
    lk = MongoLocker(key, (uri, dbname), ttl=30)

    def child():
        warnings.simplefilter("ignore")
        try:
            lk.locked()
        except InvalidStateError as e:
            return {"len": len(str(e)), "text": str(e)[:300]}
        return {"len": -1}

    out = _run_forked(child)
    assert 0 < out["len"] < 2000, out


# ---- Ctrl-C -----------------------------------------------------------------

INTERRUPTED = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from mongoelector import MongoLocker
    lk = MongoLocker("res", ({uri!r}, {db!r}), ttl=30)
    print("waiting", flush=True)
    try:
        lk.acquire()
        print("acquired", flush=True)
    except KeyboardInterrupt:
        print("interrupted", lk.owned(), flush=True)
""")


def test_ctrl_c_interrupts_a_waiting_acquire(uri, dbname):
    holder = MongoLocker("res", (uri, dbname), ttl=30)
    holder.acquire()
    p = subprocess.Popen([sys.executable, "-c", INTERRUPTED.format(root=str(PY_ROOT), uri=uri, db=dbname)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "waiting"
        time.sleep(1.0)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        assert time.monotonic() - t0 < 5
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert out.strip() == "interrupted False", (out, err)
    assert holder.owned()
