"""Long work (auto_renew, lost, term_lost), observing (on_new_leader, leader, healthy,
stats, the Prometheus collector) and hardening (ttl floor, huge keys), against the
real server; the frozen-server cases against a private one (SIGSTOP/SIGCONT)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import REPO, wait_for

import mongoelector
from mongoelector import LockExists, MongoLeaderElector, MongoLocker


def lease_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in ("mongoelector-lease", "mongoelector-term")]


# ---- long work -----------------------------------------------------------------


def test_auto_renew_keeps_a_job_of_five_ttls(dbt):
    ttl = 1.5
    other = MongoLocker("job", dbt, ttl=ttl)
    with MongoLocker("job", dbt, ttl=ttl, maxoffset=0.2, auto_renew=True) as lock:
        fence = lock.fence
        lost = lock.lost
        assert lost.fence == fence and not lost.is_set()
        end = time.monotonic() + 5 * ttl
        tries = 0
        while time.monotonic() < end:
            assert lock.held
            assert not lost.is_set()
            with pytest.raises(LockExists):
                other.acquire(blocking=False)
            tries += 1
            time.sleep(0.3)
        assert tries >= 10
        assert lock.owned()
        assert lock.fence == fence
        assert lock.get_current()["fence"] == fence
        stats = lock.stats
        assert stats["acquisitions"] == 1 and stats["renewals"] >= 5 and stats["losses"] == 0
    # the block's end released it: the holding ended, the lock is free
    assert lost.wait(10)
    assert not lock.held
    assert not other.locked()
    lock.close()
    other.close()


def test_forced_takeover_sets_lost_within_a_renewal_period_and_runs_on_lost(dbt):
    ttl = 4.0
    fired = threading.Event()
    calls = []

    def on_lost():
        calls.append(threading.current_thread().name)
        fired.set()

    lock = MongoLocker("job", dbt, ttl=ttl, auto_renew=True, on_lost=on_lost)
    lock.acquire()
    lost = lock.lost
    thief = MongoLocker("job", dbt, ttl=ttl)
    thief.acquire(force=True)
    t0 = time.monotonic()
    assert lost.wait(ttl / 4 + 1.0), "the takeover was not seen within one renewal period"
    took = time.monotonic() - t0
    assert fired.wait(10)
    assert took <= ttl / 4 + 1.0
    assert not lock.held
    assert lock.lost is lost and lost.fence < thief.fence
    s = lock.stats
    assert s["losses"] == 1 and s["takeovers_seen"] == 1
    time.sleep(0.5)
    assert len(calls) == 1  # once per holding
    thief.release()
    lock.close()
    thief.close()


def test_lost_before_a_holding_is_set_and_close_leaves_no_threads(dbt):
    before = len(lease_threads())
    lock = MongoLocker("job", dbt, ttl=5, auto_renew=True)
    assert lock.lost.is_set() and lock.lost.fence == 0 and not lock.held
    lock.acquire()
    first = lock.lost
    assert lock.lost is first  # one event (and one thread) per holding
    lock.release()
    assert first.wait(10)
    lock.acquire()
    second = lock.lost
    assert second is not first and second.fence > first.fence and not second.is_set()
    lock.close()
    assert second.is_set()
    assert len(lease_threads()) == before


def test_term_lost_is_set_at_stop_and_at_release(dbt):
    e = MongoLeaderElector("group", dbt, ttl=2)
    assert e.term_lost.is_set()  # not leading
    e.start()
    wait_for(lambda: e.is_leader, what="leadership")
    term = e.term_lost
    assert not term.is_set() and term.fence == e.mlock.fence
    e.release()
    assert term.wait(10)
    wait_for(lambda: e.is_leader, what="leadership again")
    term2 = e.term_lost
    assert term2.fence > term.fence and not term2.is_set()
    e.stop()
    assert term2.wait(10)
    e.close()
    assert len(lease_threads()) == 0 or all(not t.is_alive() for t in lease_threads())


def test_on_new_leader_electors_see_the_same_leaders_over_a_stop(dbt):
    seen: dict[str, list] = {"a": [], "b": [], "c": []}

    def rec(name):
        return lambda leader: seen[name].append(leader)

    es = {n: MongoLeaderElector("group", dbt, ttl=2, on_new_leader=rec(n)) for n in seen}
    for e in es.values():
        e.start()
    try:
        wait_for(lambda: any(e.is_leader for e in es.values()), what="a leader")
        first = next(n for n, e in es.items() if e.is_leader)
        fuuid = es[first].mlock.uuid
        wait_for(lambda: all(any(x and x["uuid"] == fuuid for x in s) for s in seen.values()), what="all see it")
        es[first].stop()
        rest = [n for n in es if n != first]
        wait_for(lambda: any(es[n].is_leader for n in rest), what="a new leader")
        second = next(n for n in rest if es[n].is_leader)
        suuid = es[second].mlock.uuid

        def uuids(n):
            out = []
            for x in seen[n]:
                u = x["uuid"] if x else None
                if u is not None and (not out or out[-1] != u):
                    out.append(u)
            return out

        wait_for(lambda: all(uuids(n)[-1:] == [suuid] for n in rest), what="the rest see the new leader")
        assert uuids(rest[0]) == uuids(rest[1]) == [fuuid, suuid]
        for n in rest:
            info, when = es[n].leader
            assert info["uuid"] == suuid and info["fence"] == es[second].mlock.fence
            assert when.tzinfo is not None
        leader = es[second].cluster_detail["leader"]
        assert seen[rest[0]][-1] == leader
    finally:
        for e in es.values():
            e.close()


def test_healthy_and_stats_of_an_elector(dbt):
    e = MongoLeaderElector("group", dbt, ttl=2)
    assert e.leader is None
    assert e.healthy() == (False, "not running")
    assert mongoelector.health(e) == (False, "not running")
    e.start()
    wait_for(lambda: e.is_leader, what="leadership")
    wait_for(lambda: e.healthy() == (True, "leading"), what="healthy leader")
    f = MongoLeaderElector("group", dbt, ttl=2)
    f.start()
    wait_for(lambda: f.healthy() == (True, "following"), what="healthy follower")
    wait_for(lambda: e.stats["renewals"] >= 2, what="renewals")
    e.stop()
    s = e.stats
    assert s["acquisitions"] == 1 and s["leader_transitions"] == 2 and s["losses"] == 0
    assert s["round_trips"] > 0 and 0 < s["last_round_trip"] <= s["max_round_trip"]
    assert s["lease_left"] == 0
    assert set(s) == {"acquisitions", "renewals", "failed_renewals", "losses", "takeovers_seen",
                      "leader_transitions", "round_trips", "last_round_trip", "max_round_trip", "lease_left"}
    f.close()
    e.close()


def test_locker_stats_count(dbt):
    lock = MongoLocker("job", dbt, ttl=30)
    assert lock.stats["acquisitions"] == 0
    lock.acquire()
    lock.touch()
    lock.touch()
    s = lock.stats
    assert s["acquisitions"] == 1 and s["renewals"] == 2 and s["round_trips"] >= 3
    assert 0 < s["lease_left"] <= 30
    lock.release()
    assert lock.stats["losses"] == 0 and lock.stats["lease_left"] == 0
    lock.close()


# ---- hardening -------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [0.001, 0, -1])
def test_tiny_ttl_is_a_value_error_as_in_the_seed(dbt, ttl):
    with pytest.raises(ValueError, match="ttl"):
        MongoLocker("job", dbt, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        MongoLeaderElector("group", dbt, ttl=ttl)


def test_auto_renew_refuses_a_ttl_the_clock_margin_eats(dbt):
    with pytest.raises(ValueError, match="maxoffset"):
        MongoLocker("job", dbt, ttl=1, maxoffset=0.5, auto_renew=True)


def test_a_2_mib_key_gives_a_short_message(dbt):
    key = "k" * (2 << 20)
    for make in (lambda: MongoLocker(key, dbt), lambda: MongoLeaderElector(key, dbt)):
        with pytest.raises(ValueError) as ei:
            make()
        assert len(str(ei.value).encode()) < 1000
        assert "1048576" in str(ei.value)


# ---- Prometheus ------------------------------------------------------------------


def test_prometheus_collector_output_parses_and_carries_the_values(dbt):
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from mongoelector.prometheus import register

    lock = MongoLocker("job", dbt, ttl=30)
    lock.acquire()
    lock.touch()
    e = MongoLeaderElector("group", dbt, ttl=2)
    e.start()
    wait_for(lambda: e.is_leader, what="leadership")
    e.stop()  # frozen counters
    reg = CollectorRegistry()
    collector = register(lock, e, registry=reg)
    text = generate_latest(reg).decode()
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, s.labels["key"], s.labels["role"])] = s.value
    ls, es = lock.stats, e.stats
    for field in ("acquisitions", "renewals", "failed_renewals", "losses", "takeovers_seen",
                  "leader_transitions", "round_trips"):
        assert samples[(f"mongoelector_{field}_total", "job", "locker")] == ls[field]
        assert samples[(f"mongoelector_{field}_total", "group", "elector")] == es[field]
    assert samples[("mongoelector_acquisitions_total", "job", "locker")] == 1
    assert samples[("mongoelector_renewals_total", "job", "locker")] == 1
    assert samples[("mongoelector_leader_transitions_total", "group", "elector")] == 2
    assert samples[("mongoelector_round_trip_max_seconds", "group", "elector")] == pytest.approx(es["max_round_trip"])
    assert samples[("mongoelector_round_trip_last_seconds", "group", "elector")] == pytest.approx(es["last_round_trip"])
    assert 0 < samples[("mongoelector_lease_left_seconds", "job", "locker")] <= 30
    assert samples[("mongoelector_is_leader", "job", "locker")] == 1
    assert samples[("mongoelector_is_leader", "group", "elector")] == 0
    # closed objects are left out
    e.close()
    text = generate_latest(reg).decode()
    assert 'key="group"' not in text and 'key="job"' in text
    collector.remove(lock)
    assert 'key="job"' not in generate_latest(reg).decode()
    lock.close()


# ---- a frozen server ---------------------------------------------------------------


@pytest.fixture
def frozen_server():
    """A private server (scripts/test-server run DIR); yields (uri, freeze, thaw)."""
    d = tempfile.mkdtemp(prefix="py-frozen-")
    err = open(os.path.join(d, "log"), "wb")
    proc = subprocess.Popen([str(REPO / "scripts" / "test-server"), "run", os.path.join(d, "data")],
                            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, DO_NOT_TRACK="1"), start_new_session=True)
    stopped = []
    try:
        line = []
        t = threading.Thread(target=lambda: line.append(proc.stdout.readline().decode()), daemon=True)
        t.start()
        t.join(120)
        assert line and line[0].startswith("mongodb://"), f"private server did not start: {line}"
        uri = line[0].strip().rstrip("/") + "/?directConnection=true&serverSelectionTimeoutMS=2000"

        def freeze():
            os.kill(proc.pid, signal.SIGSTOP)
            stopped.append(1)

        def thaw():
            os.kill(proc.pid, signal.SIGCONT)
            stopped.clear()

        yield uri, freeze, thaw
    finally:
        if stopped:
            os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        err.close()
        shutil.rmtree(d, ignore_errors=True)


def test_frozen_server_ends_the_term_on_time_and_health_follows(frozen_server):
    uri, freeze, thaw = frozen_server
    ttl = 2.0
    lost_calls = []
    e = MongoLeaderElector("group", (uri, "frozen"), ttl=ttl, on_leader_loss=lambda: lost_calls.append(1))
    lock = MongoLocker("job", (uri, "frozen"), ttl=ttl, auto_renew=True)
    try:
        e.start()
        wait_for(lambda: e.is_leader, what="leadership")
        wait_for(lambda: e.healthy()[0], what="healthy")
        lock.acquire()
        term, held = e.term_lost, lock.lost
        assert not term.is_set() and not held.is_set()
        freeze()
        t0 = time.monotonic()
        # Both end by their own clocks within the lease, the database unreachable.
        assert term.wait(ttl + 2.0), "the term did not end with the server frozen"
        assert held.wait(ttl + 2.0), "the holding did not end with the server frozen"
        assert time.monotonic() - t0 <= ttl + 2.0
        assert not e.is_leader and not lock.held
        wait_for(lambda: not e.healthy()[0], timeout=4 * ttl + 10, what="unhealthy while frozen")
        ok, reason = e.healthy()
        assert reason in ("renewal overdue", "polls failing or stuck")
        thaw()
        wait_for(lambda: e.healthy()[0], timeout=60, what="healthy after SIGCONT")
        wait_for(lambda: e.is_leader, timeout=60, what="leading again")
        assert e.term_lost.fence > term.fence
    finally:
        thaw()
        lock.close()
        e.close()
