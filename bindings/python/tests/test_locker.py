"""MongoLocker: every method, property, exception and argument check of the seed, plus fence."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import wait_for
from mongoelector import (
    AcquireTimeout,
    ClosedError,
    LockExists,
    MongoLocker,
    TimeOffsetError,
)


def aware(dt):
    """An instant the seed computed itself: datetime.now(timezone.utc)."""
    return isinstance(dt, datetime) and dt.tzinfo is not None and dt.utcoffset() == timedelta(0)


def naive(dt):
    """An instant the seed read back from the database: pymongo's default, naive UTC."""
    return isinstance(dt, datetime) and dt.tzinfo is None


# ---- argument checks ----

def test_db_must_be_a_database(mongo_client, uri):
    for bad in (mongo_client, None, "db", 42, (uri,), (uri, 5)):
        with pytest.raises(TypeError):
            MongoLocker("k", bad)


def test_key_and_ttl_checks(db):
    for key in ("", None):
        with pytest.raises(ValueError):
            MongoLocker(key, db)
    for ttl in (0, -1, -0.5, "10", None, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            MongoLocker("k", db, ttl=ttl)
    MongoLocker("k", db, ttl=1)
    MongoLocker("k", db, ttl=0.5)


def test_blocking_false_with_timeout_is_one_attempt(db):
    lock = MongoLocker("k", db)
    assert lock.acquire(blocking=False, timeout=5) is True  # the seed: ValueError
    assert lock.owned()


def test_bad_database_name_is_a_value_error(uri):
    with pytest.raises(ValueError):
        MongoLocker("k", (uri, "bad.name"))


# ---- identity and defaults ----

def test_identity_properties(db, dbname):
    import os
    import socket

    lock = MongoLocker("my-key", db)
    other = MongoLocker("my-key", db)
    assert lock.key == "my-key"
    assert isinstance(lock.uuid, str) and len(lock.uuid) >= 32 and lock.uuid != other.uuid
    assert lock.pid == os.getpid()
    assert isinstance(lock.host, str) and lock.host
    assert lock.host in (socket.getfqdn(), socket.gethostname()) or lock.host.split(".")[0] == socket.gethostname().split(".")[0]
    assert lock.ttl == 600 and lock.timeparanoid is True and lock.dbcollection == "mongolocker"
    assert lock.database is db and lock.collection.name == "mongolocker" and lock.collection.database.name == dbname
    assert lock.ts_expire is None and lock.fence == 0
    assert "my-key" in repr(lock)


# ---- the lock ----

def test_acquire_release_owned_locked(db):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", db, ttl=30)
    assert not a.locked() and not a.owned() and a.get_current() is None
    before = datetime.now(timezone.utc)
    assert a.acquire() is True
    assert a.locked() and a.owned()
    assert b.locked() and not b.owned()
    exp = a.ts_expire
    assert aware(exp) and before + timedelta(seconds=25) < exp < before + timedelta(seconds=40)
    assert a.fence >= 1
    assert a.release() is None
    assert not a.locked() and not a.owned() and not b.locked()
    assert a.ts_expire == exp  # the latest acquisition's expiry stays readable


def test_get_current_document(db):
    a = MongoLocker("res", db, ttl=30)
    a.acquire()
    cur = MongoLocker("res", db).get_current()
    assert set(cur) == {"_id", "locked", "host", "uuid", "pid", "ts_created", "ts_expire", "fence"}
    assert cur["_id"] == "res" and cur["locked"] is True and cur["uuid"] == a.uuid
    assert cur["host"] == a.host and cur["pid"] == a.pid and cur["fence"] == a.fence
    assert naive(cur["ts_created"]) and naive(cur["ts_expire"]) and cur["ts_created"] < cur["ts_expire"]
    assert cur["ts_expire"] == a.ts_expire.replace(tzinfo=None)
    a.release()
    assert a.get_current() is None


def test_status(db):
    a = MongoLocker("res", db, ttl=30)
    st = a.status
    assert set(st) == {"uuid", "key", "ttl", "timestamp", "host", "pid", "lock_owned", "lock_created", "lock_expires", "fence"}
    assert st["uuid"] == a.uuid and st["key"] == "res" and st["ttl"] == 30 and st["pid"] == a.pid
    assert st["lock_owned"] is False and st["lock_created"] is None and st["lock_expires"] is None and st["fence"] is None
    assert aware(st["timestamp"]) and abs((st["timestamp"] - datetime.now(timezone.utc)).total_seconds()) < 60
    a.acquire()
    st = a.status
    assert st["lock_owned"] is True and naive(st["lock_created"]) and naive(st["lock_expires"]) and st["fence"] == a.fence
    # Someone else's view of a held lock: not owned, no times.
    st_b = MongoLocker("res", db).status
    assert st_b["lock_owned"] is False and st_b["lock_created"] is None


def test_non_blocking_acquire_raises_lock_exists(db):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", db, ttl=30)
    a.acquire()
    with pytest.raises(LockExists) as ei:
        b.acquire(blocking=False)
    assert "res" in str(ei.value)
    assert a.owned() and not b.owned()
    a.release()
    c = MongoLocker("res", db, ttl=30)
    assert c.acquire(blocking=False) is True and c.owned()


def test_release_is_seen_at_once_by_a_locker_that_saw_it_held(db):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", db, ttl=30)
    a.acquire()
    with pytest.raises(LockExists):
        b.acquire(blocking=False)
    a.release()
    assert b.acquire(blocking=False) is True


def test_blocking_acquire_times_out(db):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", db, ttl=30)
    a.acquire()
    t0 = time.monotonic()
    with pytest.raises(AcquireTimeout):
        b.acquire(timeout=0.5, step=0.05)
    assert time.monotonic() - t0 >= 0.45
    with pytest.raises(AcquireTimeout):
        b.acquire(timeout=0)  # one attempt, as in the seed
    assert a.owned() and not b.owned()


def test_blocking_acquire_waits_for_release(db):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", db, ttl=30)
    a.acquire()
    got = threading.Event()

    def waiter():
        b.acquire(step=0.05)
        got.set()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    assert not got.is_set() and a.owned()
    a.release()
    t.join(30)
    assert got.is_set() and b.owned() and b.fence > a.fence


def test_lock_expires_after_ttl(db):
    a = MongoLocker("res", db, ttl=0.5)
    b = MongoLocker("res", db, ttl=30)
    a.acquire()
    wait_for(lambda: not a.locked(), timeout=30, what="expiry")
    assert not a.owned()
    assert b.acquire(blocking=False) and b.fence > a.fence


def test_force_acquire_and_force_release(db):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", db, ttl=30)
    a.acquire()
    assert b.acquire(blocking=False, force=True)
    assert b.owned() and not a.owned() and b.fence > a.fence
    a.release()  # not the holder: a no-op
    assert b.owned()
    a.release(force=True)
    assert not b.locked()


def test_touch(db):
    a = MongoLocker("res", db, ttl=30)
    assert a.touch() is None  # never acquired
    a.acquire()
    first, fence = a.ts_expire, a.fence
    time.sleep(0.05)
    new = a.touch()  # the seed returns the document's value: naive (pymongo's default)
    assert naive(new) and new > first.replace(tzinfo=None) and a.ts_expire == new and a.fence == fence
    a.acquire()  # renews, and ts_expire is computed again (aware), as in the seed
    assert aware(a.ts_expire) and a.fence == fence
    a.release()
    assert a.touch() is None


def test_reacquire_by_holder_renews(db):
    a = MongoLocker("res", db, ttl=30)
    a.acquire()
    f = a.fence
    assert a.acquire(blocking=False) is True
    assert a.owned() and a.fence == f


def test_fences_increase_across_holders(db):
    lockers = [MongoLocker("res", db, ttl=30) for _ in range(3)]
    fences = []
    for _ in range(2):
        for lk in lockers:
            lk.acquire()
            fences.append(lk.fence)
            lk.release()
    assert fences == sorted(fences) and len(set(fences)) == len(fences)


def test_context_manager(db):
    lock = MongoLocker("res", db, ttl=30)
    with lock as held:
        assert held is lock and lock.owned()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        with MongoLocker("res", db, ttl=30) as l2:
            assert l2.owned()
            raise RuntimeError("boom")
    assert not lock.locked()


def test_tuple_db_and_pymongo_db_share_a_lock(db, dbt):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", dbt, ttl=30)
    a.acquire()
    assert b.locked() and not b.owned()
    with pytest.raises(LockExists):
        b.acquire(blocking=False)


def test_dbcollection_separates_locks(db):
    a = MongoLocker("res", db, ttl=30, dbcollection="one")
    b = MongoLocker("res", db, ttl=30, dbcollection="two")
    a.acquire()
    assert b.acquire(blocking=False) and a.owned() and b.owned()
    assert "one" in db.list_collection_names()


def test_time_offset_error(db):
    # No host clock matches the server's to the nanosecond: maxoffset=0 always fails.
    lock = MongoLocker("res", db, ttl=30, maxoffset=0)
    with pytest.raises(TimeOffsetError):
        lock.acquire()
    assert not lock.locked()
    relaxed = MongoLocker("res", db, ttl=30, maxoffset=0, timeparanoid=False)
    assert relaxed.acquire()


def test_close_releases_and_blocks_further_use(db):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", db, ttl=30)
    a.acquire()
    a.close()
    a.close()  # idempotent
    assert not b.locked()
    with pytest.raises(ClosedError):
        a.acquire()
    assert "closed" in repr(a)


def test_garbage_collected_locker_keeps_its_lock(db):
    import gc

    a = MongoLocker("res", db, ttl=30)
    a.acquire()
    uuid = a.uuid
    del a
    gc.collect()
    cur = MongoLocker("res", db).get_current()
    assert cur is not None and cur["uuid"] == uuid  # held until its ttl, as in the seed


def test_close_while_another_thread_waits(db):
    a = MongoLocker("res", db, ttl=30)
    b = MongoLocker("res", db, ttl=30)
    a.acquire()
    errors = []

    def waiter():
        try:
            b.acquire(step=0.05)
        except Exception as e:  # the wait ends when b is closed
            errors.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    b.close()  # must not free the handle under the waiting call
    t.join(30)
    assert not t.is_alive()
    assert errors and isinstance(errors[0], ClosedError), errors
    assert a.owned()


def test_unreachable_server_raises_database_error():
    from pymongo.errors import PyMongoError

    from mongoelector import DatabaseError

    lock = MongoLocker("res", ("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", "x"), ttl=5)
    with pytest.raises(DatabaseError) as ei:
        lock.locked()
    assert isinstance(ei.value, PyMongoError)


def test_acquire_timeout_bounds_every_round_trip():
    # The URI keeps the 30 s server-selection default: the timeout must still hold.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lock = MongoLocker("res", (f"mongodb://127.0.0.1:{port}/?directConnection=true", "x"))
    t = time.monotonic()
    with pytest.raises(AcquireTimeout):
        lock.acquire(timeout=1)
    assert time.monotonic() - t < 3.0


def test_concurrent_threads_never_overlap(db):
    holders = []
    active = [0]
    guard = threading.Lock()
    overlap = []

    def worker():
        lk = MongoLocker("res", db, ttl=30)
        for _ in range(3):
            lk.acquire(step=0.02)
            with guard:
                active[0] += 1
                if active[0] > 1:
                    overlap.append(lk.fence)
                holders.append(lk.fence)
            time.sleep(0.01)
            with guard:
                active[0] -= 1
            lk.release()

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not overlap and len(holders) == 12 and len(set(holders)) == 12
