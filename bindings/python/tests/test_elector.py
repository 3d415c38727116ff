"""MongoLeaderElector: every method and property of the seed, callbacks, failover."""

from __future__ import annotations

import gc
import logging
import threading
import time
from datetime import datetime, timedelta

import pytest

from conftest import wait_for
from mongoelector import ClosedError, InvalidStateError, MongoLeaderElector, MongoLocker


def aware(dt):
    return isinstance(dt, datetime) and dt.tzinfo is not None and dt.utcoffset() == timedelta(0)


def naive(dt):
    return isinstance(dt, datetime) and dt.tzinfo is None


class Recorder:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def cb(self, name):
        def f():
            with self.lock:
                self.events.append((name, threading.current_thread().name))
        return f

    def names(self):
        with self.lock:
            return [e[0] for e in self.events]


def test_argument_checks(db, mongo_client):
    for bad in (mongo_client, None, "db"):
        with pytest.raises(TypeError):
            MongoLeaderElector("svc", bad)
    with pytest.raises(ValueError):
        MongoLeaderElector("", db)
    for ttl in (0, -3, "15", float("nan")):
        with pytest.raises(ValueError):
            MongoLeaderElector("svc", db, ttl=ttl)
    # As in the seed, a callback that is not callable fails (logged) when called.
    MongoLeaderElector("svc", db, on_leader="not callable").poll()


def test_properties_before_start(db):
    e = MongoLeaderElector("svc", db, ttl=4, app_version="1.2.3")
    assert e.key == "svc" and e.db is db and e.ttl == 4
    assert e.running is False and e.is_leader is False and e.leader_exists is False
    assert e.poll_wait == pytest.approx(1.0)  # a quarter ttl when not running
    assert isinstance(e.mlock, MongoLocker) and e.mlock.key == "svc" and e.mlock.dbcollection == "elector.locks"
    assert e.callback_on_leader is None
    assert "follower" in repr(e) and "stopped" in repr(e)
    ns = e.node_status
    assert ns["_id"] == ns["uuid"] == e.mlock.uuid and ns["is_leader"] is False and ns["elector_running"] is False
    assert ns["last_poll"] is None and ns["app_version"] == "1.2.3" and ns["ttl"] == 4 and aware(ns["timestamp"])


def test_poll_leads_and_callbacks_fire_on_caller_thread(db):
    rec = Recorder()
    e = MongoLeaderElector("svc", db, ttl=5, on_leader=rec.cb("leader"), on_leader_loss=rec.cb("loss"), on_loop=rec.cb("loop"))
    e.poll()
    assert e.is_leader and e.leader_exists and e.mlock.owned()
    assert rec.names() == ["leader", "loop"]
    assert all(t == threading.current_thread().name for _, t in rec.events)
    fence = e.mlock.fence
    e.poll()  # renews
    assert e.is_leader and e.mlock.fence == fence and rec.names() == ["leader", "loop", "loop"]
    ns = e.node_status
    assert ns["is_leader"] is True and ns["lock_owned"] is True and aware(ns["last_poll"]) and ns["fence"] == fence
    assert "app_version" not in ns  # as the seed: only when given
    e.release()
    assert not e.is_leader and not e.leader_exists and rec.names()[-1] == "loss"


def test_start_stop_and_failover_between_two_electors(db):
    r1, r2 = Recorder(), Recorder()
    e1 = MongoLeaderElector("svc", db, ttl=2, on_leader=r1.cb("leader"), on_leader_loss=r1.cb("loss"), on_loop=r1.cb("loop"))
    e2 = MongoLeaderElector("svc", db, ttl=2, on_leader=r2.cb("leader"), on_leader_loss=r2.cb("loss"))
    e1.start()
    assert e1.running
    wait_for(lambda: e1.is_leader, what="e1 leads")
    e2.start()
    time.sleep(1.0)
    assert e1.is_leader and not e2.is_leader and e2.leader_exists
    assert "loop" in r1.names()
    assert all(t != threading.current_thread().name for _, t in r1.events)  # the elector's own thread
    with pytest.raises(InvalidStateError):
        e1.start()
    e1.stop()
    assert not e1.running and not e1.is_leader
    assert r1.names().count("leader") == 1 and r1.names()[-1] == "loss"
    wait_for(lambda: e2.is_leader, what="failover to e2")
    # on_leader fires on the elector's thread right after the transition.
    wait_for(lambda: r2.names() == ["leader"], what="e2's on_leader")
    cd = e2.cluster_detail
    assert set(cd) == {"member_detail", "leader", "timestamp"} and aware(cd["timestamp"])
    assert cd["leader"]["uuid"] == e2.mlock.uuid and cd["leader"]["process_id"] == e2.mlock.pid
    assert cd["leader"]["host"] == e2.mlock.host and cd["leader"]["fence"] == e2.mlock.fence
    uuids = [m["uuid"] for m in cd["member_detail"]]
    assert e2.mlock.uuid in uuids
    for m in cd["member_detail"]:
        assert "_id" not in m and naive(m["timestamp"])  # read back from the database
    e2.stop()
    assert r2.names() == ["leader", "loss"]
    assert not e2.leader_exists


def test_context_manager_and_poll_wait(db):
    with MongoLeaderElector("svc", db, ttl=2) as e:
        assert e.running
        wait_for(lambda: e.is_leader, what="leads")
        assert 0 <= e.poll_wait <= 2
    assert not e.running and not e.leader_exists


def test_callback_exception_is_logged_and_elector_keeps_running(db, caplog):
    calls = []

    def bad():
        calls.append(1)
        raise RuntimeError("callback boom")

    caplog.set_level(logging.ERROR, logger="mongoelector")
    e = MongoLeaderElector("svc", db, ttl=2, on_leader=bad, on_loop=bad)
    e.start()
    wait_for(lambda: len(calls) >= 3, what="callbacks")
    assert e.running and e.is_leader
    e.stop()
    msgs = [r for r in caplog.records if "callback" in r.getMessage()]
    assert msgs and any("callback boom" in (r.exc_text or "") or r.exc_info for r in msgs)


def test_stop_from_a_callback(db):
    rec = Recorder()
    holder = {}

    def on_leader():
        rec.cb("leader")()
        holder["e"].stop()

    e = MongoLeaderElector("svc", db, ttl=2, on_leader=on_leader, on_leader_loss=rec.cb("loss"))
    holder["e"] = e
    e.start()
    wait_for(lambda: not e.running, what="self stop")
    wait_for(lambda: rec.names() == ["leader", "loss"], what="loss after self stop")
    assert not e.is_leader and not e.leader_exists


def test_release_from_a_callback(db):
    rec = Recorder()
    holder = {}

    def on_leader():
        rec.cb("leader")()
        if rec.names().count("leader") == 1:
            holder["e"].release()

    e = MongoLeaderElector("svc", db, ttl=2, on_leader=on_leader, on_leader_loss=rec.cb("loss"))
    holder["e"] = e
    e.start()
    wait_for(lambda: rec.names()[:2] == ["leader", "loss"], what="release from callback")
    # A running elector competes again after half a ttl.
    wait_for(lambda: rec.names().count("leader") == 2, what="leads again")
    e.stop()
    assert rec.names()[-1] == "loss"


def test_start_blocking_returns_when_a_callback_stops(db):
    holder = {}
    e = MongoLeaderElector("svc", db, ttl=2, on_leader=lambda: holder["e"].stop())
    holder["e"] = e
    done = threading.Event()

    def run():
        e.start(blocking=True)
        done.set()

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert done.is_set() and not e.running and not e.leader_exists


def test_unreferenced_running_elector_keeps_running(db):
    # As in the seed, whose thread kept the elector alive.
    flags = []
    MongoLeaderElector("svc", db, ttl=2, on_leader=lambda: flags.append(1)).start()
    gc.collect()
    watcher = MongoLeaderElector("svc", db, ttl=2)
    wait_for(lambda: flags and watcher.leader_exists, what="background elector leads")
    gc.collect()
    time.sleep(2.5)  # longer than the ttl: it must have renewed
    assert watcher.leader_exists
    from mongoelector import elector as mod

    for e in list(mod._live):
        if e.key == "svc" and e.db is db:
            e.close()
    assert not watcher.leader_exists


def test_close(db):
    rec = Recorder()
    e = MongoLeaderElector("svc", db, ttl=2, on_leader_loss=rec.cb("loss"))
    e.start()
    wait_for(lambda: e.is_leader, what="leads")
    mlock = e.mlock
    e.close()
    e.close()
    assert rec.names() == ["loss"]
    assert not MongoLocker("svc", db, dbcollection="elector.locks").locked()
    with pytest.raises(ClosedError):
        e.poll()
    assert not mlock.owned() and not mlock.locked()  # its lock's reads still work


def test_report_status_false_writes_no_member(db):
    e = MongoLeaderElector("svc", db, ttl=2, report_status=False)
    e.poll()
    assert e.is_leader and e.cluster_detail["member_detail"] == []
    e.release()


def test_mlock_of_elector_is_usable(db):
    e = MongoLeaderElector("svc", db, ttl=3)
    e.poll()
    m = e.mlock
    assert m.owned() and m.locked() and m.get_current()["uuid"] == m.uuid and m.status["lock_owned"]
    assert m.ttl == 3
    with pytest.raises(InvalidStateError):
        m.close()  # the elector's lock is read-only
    assert m.owned()
    e.release()
    assert not m.locked()
