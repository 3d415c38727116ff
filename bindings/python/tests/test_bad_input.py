"""Bad input and misuse through the Python API (issue 8; the C-ABI version is
tests/reliability/test_bad_input.py).

Every case gets the seed's exception (ValueError / TypeError where the seed
raises them, LockExists, AcquireTimeout, the pymongo-compatible DatabaseError)
or this package's InvalidStateError, always with a message; nothing crashes
or hangs; and no data of another key is touched: each test runs next to a
sentinel lock "victim" held by another locker and a document in another
collection, and checks afterwards (the `victim` fixture) that both are exactly
as they were.

The cases that exercise native lifetimes (use after close, close while
another thread waits, electors started twice) and odd keys are the functions
named child_*: test_crash_prone_cases_in_a_child_process runs them in a child
pytest, so a segfault there is reported with its signal instead of killing
this run.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mongoelector import (
    AcquireTimeout,
    ClosedError,
    DatabaseError,
    InvalidArgumentError,
    InvalidStateError,
    LockExists,
    MongoLeaderElector,
    MongoLocker,
)

CLASSES = (MongoLocker, MongoLeaderElector)
NAN, INF = float("nan"), float("inf")


def raises(exc, fn, *args, **kwargs) -> BaseException:
    """fn(*args, **kwargs) raises exc (or a subclass) with a non-empty message."""
    with pytest.raises(exc) as ei:
        fn(*args, **kwargs)
    assert str(ei.value).strip(), f"{type(ei.value).__name__} without a message"
    return ei.value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def victim(db):
    """Another key's lock and another collection's document, checked untouched afterwards."""
    holder = MongoLocker("victim", db, ttl=600)
    assert holder.acquire(blocking=False)
    db["other"].insert_one({"_id": 1, "x": "untouched"})
    fence, current = holder.fence, holder.get_current()
    docs = list(db["mongolocker"].find({"key": "victim"}).sort("_id"))
    other = list(db["other"].find())
    assert fence >= 1 and current["_id"] == "victim" and docs
    yield holder
    assert holder.owned(), "the victim lost its lock"
    assert holder.fence == fence, "the victim's fence changed"
    assert holder.get_current() == current, "the victim's current document changed"
    assert list(db["mongolocker"].find({"key": "victim"}).sort("_id")) == docs, "the victim's documents changed"
    assert list(db["other"].find()) == other, "another collection's document changed"
    holder.close()


# ---- keys ----

@pytest.mark.parametrize("cls", CLASSES)
def test_empty_keys_are_value_errors(cls, db, victim):
    for key in ("", None, b""):
        raises(ValueError, cls, key, db)


@pytest.mark.parametrize("cls", CLASSES)
def test_keys_that_are_not_str_are_type_errors(cls, db, victim):
    # The seed would store bytes or an int as a BSON _id of that type; the
    # native library's keys are text, so the binding refuses them.
    for key in (b"victim", 5, 1.5, ("victim",), object()):
        e = raises(TypeError, cls, key, db)
        assert type(key).__name__ in str(e)


@pytest.mark.parametrize("cls", CLASSES)
def test_keys_without_utf8_form_are_unicode_encode_errors(cls, db, victim):
    # As the seed's BSON encoding: UnicodeEncodeError (a ValueError).
    for key in ("\udcff", "victim\udcff", "\ud800x"):
        e = raises(UnicodeEncodeError, cls, key, db)
        assert isinstance(e, ValueError) and "key" in str(e)


@pytest.mark.parametrize("cls", CLASSES)
def test_keys_with_nul_are_value_errors(cls, db, victim):
    # Passed on, C would cut "victim\0x" to "victim": the victim's lock.
    for key in ("victim\x00", "victim\x00x", "\x00"):
        e = raises(ValueError, cls, key, db)
        assert "NUL" in str(e)


# ---- ttl, timeout, step ----

@pytest.mark.parametrize("cls", CLASSES)
def test_bad_ttls_are_value_errors(cls, db, victim):
    for ttl in (0, 0.0, -1, -0.5, NAN, INF, -INF, 1e300, "10", None):
        raises(ValueError, cls, "victim", db, ttl=ttl)


def test_bad_timeouts(db, victim):
    lk = MongoLocker("victim", db, ttl=5)  # the victim's key: bad calls must leave it alone
    for timeout in (NAN, INF, -INF):
        raises(ValueError, lk.acquire, timeout=timeout)
    raises(TypeError, lk.acquire, timeout="5")  # the seed's timedelta raises TypeError
    # A negative timeout is the library's ValueError (the seed: AcquireTimeout without trying).
    for timeout in (-1, -2, -0.5, -1e300):
        raises(ValueError, lk.acquire, timeout=timeout)
    # Zero: one attempt (the seed: AcquireTimeout without trying).
    t = time.monotonic()
    raises(AcquireTimeout, lk.acquire, timeout=0)
    assert time.monotonic() - t < 3
    assert not lk.owned()


def test_bad_steps(db, victim):
    lk = MongoLocker("victim", db, ttl=5)
    for step in (-1, -0.001, NAN, INF, -INF):
        raises(ValueError, lk.acquire, timeout=1, step=step)
    raises(TypeError, lk.acquire, timeout=1, step="x")
    # Step 0 retries without pause (the library naps at least 1 ms) and still ends at the timeout.
    t = time.monotonic()
    raises(AcquireTimeout, lk.acquire, timeout=0.5, step=0)
    assert 0.4 <= time.monotonic() - t < 5
    free = MongoLocker("free", db, ttl=5)
    assert free.acquire(timeout=5, step=0) and free.owned()
    free.release()
    assert not lk.owned()


def test_non_blocking_with_a_timeout_is_one_bounded_attempt(db, victim):
    lk = MongoLocker("victim", db, ttl=5)
    for timeout in (-1, NAN, INF):
        raises(ValueError, lk.acquire, blocking=False, timeout=timeout)
    # The seed raises ValueError for a truthy timeout; the library makes one
    # attempt bounded by it (its seam _acquireretry keeps the seed's ValueError).
    with pytest.raises(ValueError):
        MongoLocker._acquireretry(False, None, 1, 0)
    for timeout in (None, 0, 0.5, 1):
        e = raises(LockExists, lk.acquire, blocking=False, timeout=timeout)
        assert "victim" in str(e)
    assert not lk.owned()


def test_release_and_touch_of_a_lock_never_held(db, victim):
    for key in ("victim", "never-held"):
        lk = MongoLocker(key, db, ttl=5)
        assert lk.release() is None  # a no-op, as in the seed
        assert lk.touch() is None  # the seed's "not owned"
        assert not lk.owned() and lk.ts_expire is None and lk.fence == 0
    assert not MongoLocker("never-held", db).locked()


# ---- databases, collections, URIs ----

@pytest.mark.parametrize("cls", CLASSES)
def test_bad_database_names_are_value_errors(cls, uri, victim):
    # pymongo refuses these names itself (InvalidName); the (uri, name) form reaches the library.
    for name in ("a.b", "", "a$b", "a b", "a/b", "x" * 64, "victim\x00", "\udcff"):
        raises(ValueError, cls, "victim", (uri, name))
    e = raises(InvalidArgumentError, cls, "victim", (uri, "a.b"))
    assert "a.b" in str(e)


def test_bad_collection_names_are_value_errors(db, victim):
    for coll in ("", "a$b", "$cmd", "mongolocker\x00", "\udcff", None, 5):
        with pytest.raises((ValueError, TypeError)) as ei:
            MongoLocker("victim", db, dbcollection=coll)
        assert str(ei.value).strip()


@pytest.mark.parametrize("cls", CLASSES)
def test_unparsable_uris_are_value_errors(cls, victim):
    for bad in ("not a uri", "", "mongodb://", "mongodb://127.0.0.1:99999/", "mongodb://u:s3cret@h:notaport/",
                "mongodb://u:s3cret@127.0.0.1/?nosuchoption=1", "mongodb://127.0.0.1\x00:1/", "mongodb://\udcff/"):
        e = raises(ValueError, cls, "victim", (bad, "x"))
        assert "s3cret" not in str(e), f"the password in the message: {e}"


def test_unreachable_server_gives_the_seeds_error_quickly():
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    port = free_port()
    far = MongoClient(f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300", connect=False)
    try:
        lk = MongoLocker("k", far["x"], ttl=5)
        el = MongoLeaderElector("k", far["x"], ttl=3)
        for what, fn in (("locked", lk.locked), ("acquire", lk.acquire), ("acquire(timeout=2)", lambda: lk.acquire(timeout=2)),
                         ("acquire(blocking=False)", lambda: lk.acquire(blocking=False)), ("release", lk.release),
                         ("touch", lk.touch), ("get_current", lk.get_current), ("elector.poll", el.poll),
                         ("elector.leader_exists", lambda: el.leader_exists)):
            t = time.monotonic()
            e = raises(DatabaseError, fn)
            assert isinstance(e, PyMongoError), what  # what the seed let through
            assert time.monotonic() - t < 5, f"{what} took {time.monotonic() - t:.1f}s"
    finally:
        far.close()
    # The driver's default server selection timeout (30 s): a timeout still bounds acquire.
    lk = MongoLocker("k", (f"mongodb://127.0.0.1:{port}/", "x"), ttl=5)
    t = time.monotonic()
    raises((DatabaseError, AcquireTimeout), lk.acquire, timeout=2)
    assert time.monotonic() - t < 8


# ---- crash-prone cases, run in a child process ----

def test_crash_prone_cases_in_a_child_process(uri):
    """Runs the child_* functions of this file in a child pytest."""
    expected = sum(1 for name, f in globals().items() if name.startswith("child_") and callable(f))
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "python_functions=child_", __file__],
        cwd=Path(__file__).resolve().parents[1], env=dict(os.environ, MONGOELECTOR_TEST_URI=uri),
        capture_output=True, text=True, timeout=300,
    )
    out = f"{r.stdout[-8000:]}\n{r.stderr[-4000:]}"
    if r.returncode < 0:
        pytest.fail(f"the child pytest was killed by {signal.Signals(-r.returncode).name} (a crash):\n{out}")
    assert r.returncode == 0, f"the child pytest failed (exit {r.returncode}):\n{out}"
    assert f"{expected} passed" in r.stdout, f"expected {expected} child cases to pass:\n{out}"


OPERATOR_KEYS = ("$where", "a.b", '{"$gt":""}', "$gt", "victim#1", "victim#2", "é🔒\\u0000", "x" * (1 << 20))


def child_keys_that_look_like_operators_paths_or_ids_are_plain_keys(db, victim):
    for key in OPERATOR_KEYS:
        short = f"{key[:20]!r}"
        lk = MongoLocker(key, db, ttl=30)
        try:
            assert lk.acquire(blocking=False) is True, short
        except DatabaseError as e:  # a server with a limit on key sizes
            assert len(key) > 1000 and str(e).strip(), f"{short}: {e!r}"[:300]
            continue
        cur = lk.get_current()
        assert cur["_id"] == key and cur["uuid"] == lk.uuid and cur["fence"] == lk.fence == 1, short
        assert lk.owned() and lk.locked(), short
        stored = {d["key"] for d in db["mongolocker"].find({"key": key}, {"key": 1})}
        assert stored == {key}, short
        assert lk.touch() is not None, short
        lk.release()
        assert not lk.locked() and lk.get_current() is None, short
        lk.close()
    for key in OPERATOR_KEYS[:5]:
        e = MongoLeaderElector(key, db, ttl=5)
        e.poll()
        assert e.is_leader and e.mlock.get_current()["_id"] == key, key
        e.release()
        assert not e.leader_exists, key
        e.close()


def _in_thread(fn):
    res = {}

    def run():
        try:
            res["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - the waiter's outcome is what is tested
            res["error"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, res


def child_close_while_another_thread_waits_in_acquire(db, victim):
    for kwargs in ({}, {"timeout": 60}, {"step": 0.01}):
        waiter = MongoLocker("victim", db, ttl=5)
        th, res = _in_thread(lambda: waiter.acquire(**kwargs))
        time.sleep(0.5)
        assert th.is_alive(), f"acquire({kwargs}) returned while the victim holds the lock: {res}"
        t = time.monotonic()
        waiter.close()
        th.join(10)
        assert not th.is_alive(), f"acquire({kwargs}) still waits 10 s after close()"
        assert time.monotonic() - t < 5, f"acquire({kwargs}) took {time.monotonic() - t:.1f}s to end after close()"
        err = res.get("error")
        assert isinstance(err, InvalidStateError) and "closed" in str(err), f"acquire({kwargs}) after close: {res}"
    # An elector's locker is read-only: its acquire is refused at once.
    leader = MongoLeaderElector("svc", db, ttl=30)
    leader.poll()
    el = MongoLeaderElector("svc", db, ttl=30)
    th, res = _in_thread(lambda: el.mlock.acquire())
    time.sleep(0.5)
    el.close()
    th.join(10)
    assert not th.is_alive() and isinstance(res.get("error"), InvalidStateError), res
    assert leader.is_leader
    leader.close()


def child_use_after_close_is_an_invalid_state_error(db, victim):
    lk = MongoLocker("victim", db, ttl=5)
    raises(LockExists, lk.acquire, blocking=False)
    lk.close()
    lk.close()  # idempotent
    for what, fn in (("acquire", lk.acquire), ("acquire(blocking=False)", lambda: lk.acquire(blocking=False)),
                     ("acquire(force=True)", lambda: lk.acquire(force=True)), ("release", lk.release),
                     ("release(force=True)", lambda: lk.release(force=True)), ("touch", lk.touch),
                     ("locked", lk.locked), ("owned", lk.owned), ("get_current", lk.get_current),
                     ("status", lambda: lk.status),
                     ("with", lambda: lk.__enter__()), ("__exit__", lambda: lk.__exit__(None, None, None))):
        e = raises(ClosedError, fn)
        assert "closed" in str(e), what
    # Getters keep working until the object is freed.
    assert lk.ts_expire is None and lk.fence == 0 and lk.uuid and lk.key == "victim"
    assert "closed" in repr(lk)

    el = MongoLeaderElector("svc", db, ttl=5)
    el.start()
    mlock = el.mlock
    el.close()
    el.close()
    for what, fn in (("start", el.start), ("poll", el.poll), ("release", el.release),
                     ("leader_exists", lambda: el.leader_exists),
                     ("node_status", lambda: el.node_status), ("cluster_detail", lambda: el.cluster_detail),
                     ("with", lambda: el.__enter__())):
        e = raises(ClosedError, fn)
        assert "closed" in str(e), what
    # Memory reads, and the reads of its lock, keep working until the object is freed.
    assert not mlock.owned()
    assert not el.running and not el.is_leader and el.poll_wait > 0
    assert "closed" in repr(el)
    assert not MongoLocker("svc", db, dbcollection="elector.locks").locked()  # closing released it


def child_elector_misuse(db, victim):
    e = MongoLeaderElector("svc", db, ttl=5)
    e.release()  # not leading, not running: a no-op
    e.stop()  # stopped: a no-op
    assert not e.running and not e.is_leader
    e.start()
    try:
        e2 = raises(InvalidStateError, e.start)
        assert "running" in str(e2)
        raises(InvalidStateError, e.__enter__)
        assert e.running
    finally:
        e.stop()
    e.stop()
    assert not e.running and not e.is_leader

    # Releasing an elector that does not lead leaves the leader alone.
    leader = MongoLeaderElector("svc", db, ttl=30)
    leader.poll()
    assert leader.is_leader
    cur = leader.mlock.get_current()
    e.poll()
    assert not e.is_leader
    e.release()
    assert leader.is_leader and leader.mlock.owned() and leader.mlock.get_current() == cur
    e.close()
    leader.close()


def child_bad_arguments_on_electors_and_their_locks(db, victim):
    e = MongoLeaderElector("svc", db, ttl=5)
    raises(ValueError, MongoLeaderElector, "svc", db, app_version="1\x00x")
    m = e.mlock
    # The elector's lock is a read-only view: its mutating calls are refused.
    for fn in (m.acquire, lambda: m.acquire(blocking=False), m.release, m.touch, m.close):
        raises(InvalidStateError, fn)
    assert not e.is_leader
    e.close()
