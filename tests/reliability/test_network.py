"""4. Bad network: Toxiproxy (toxiproxy.py) between the library and the server:
latency up to about the ttl, connections cut, TCP resets, a black hole."""

import ctypes as C
import threading
import time
from urllib.parse import urlparse

import pytest

import melib
from harness import Proc, fmt_ns, interval_overlaps, log, mix, programs
from leadership import leadership
from melib import lib, mono_ns
from toxiproxy import Toxiproxy

TTL = 2.0
SEC = 1_000_000_000
ACQ_TIMEOUT = 1.0
ACQ_SLACK = 2.0  # generous: a noisy shared machine


def proxied(uri, port):
    u = urlparse(uri)
    return u._replace(netloc=f"127.0.0.1:{port}").geturl()


def upstream(uri):
    u = urlparse(uri)
    return (u.hostname, u.port or 27017)


class Net:
    pass


@pytest.fixture(scope="module")
def badnet(uri, tmp_path_factory):
    progs = programs()
    assert len(progs) >= 2, f"need programs in at least 2 languages, found {sorted(progs)}"
    tmp = tmp_path_factory.mktemp("badnet")
    db = f"rel_badnet_{int(time.time())}"
    proxy = Toxiproxy(upstream(uri)).start()
    puri = proxied(uri, proxy.port)
    n = Net()
    n.phases = []
    n.t0 = mono_ns()
    procs = [Proc(f"{lang}#{i}", progs[lang]["elector"] + [puri, db, "net", str(TTL), "0"],
                  str(tmp / f"elector{i}.out")) for i, lang in enumerate(mix(progs, 3))]
    # A key held (directly) by one locker while another, through the proxy, keeps
    # trying to acquire it with a timeout.
    direct = melib.client_new(uri)
    holder = melib.locker_new(direct, db, "held", ttl=600)
    melib.check("me_locker_acquire", melib.acquire(holder, blocking=False))
    pclient = melib.client_new(puri)
    waiter = melib.locker_new(pclient, db, "held", ttl=10)
    n.acquires = []  # (phase, elapsed_s, status, message)
    stop = threading.Event()
    phase = ["normal"]

    def acquirer():
        while not stop.is_set():
            t = time.monotonic()
            st = melib.acquire(waiter, True, ACQ_TIMEOUT, 0.1)
            msg = melib.last_error() if st else ""
            n.acquires.append((phase[0], time.monotonic() - t, st, msg))
            time.sleep(0.05)

    th = threading.Thread(target=acquirer, daemon=True)
    th.start()

    def run(name, secs, latency=0.0, blackhole=False, rst=False, cuts=False):
        phase[0] = name
        n.phases.append((name, mono_ns()))
        proxy.set(latency=latency, blackhole=blackhole, rst=rst)
        end = time.time() + secs
        while time.time() < end:
            if cuts:
                proxy.reset_all()
            time.sleep(0.3 if cuts else 0.05)

    try:
        run("normal", 4)
        run("latency 0.25s each way", 5, latency=0.25)
        run("latency 0.9s each way (round trip ~ ttl)", 6, latency=0.9)
        run("all connections cut every 0.3s", 5, cuts=True)
        run("RST on every connection that sends", 4, rst=True)
        run("black hole", 6, blackhole=True)
        proxy.reset_all()  # a black hole ends with dead connections
        run("healed", 3 * TTL)
        n.end = mono_ns()
    finally:
        stop.set()
        th.join(30)
        n.rcs = {p.name: p.terminate() for p in procs}
        for lk in (waiter, holder):
            melib.close(lk)
            lib().me_locker_free(lk)
        lib().me_client_free(pclient)
        lib().me_client_free(direct)
        proxy.stop()
    n.procs = procs
    n.story = "\nphases: " + ", ".join(f"{name}@{fmt_ns(t, n.t0)}" for name, t in n.phases) + "\nevents:\n" + "\n".join(
        f"  {p.name}: " + ", ".join(f"{l[0]}@{fmt_ns(int(l[3]), n.t0)}" for l in p.lines() if len(l) == 4)
        for p in procs)
    log("bad network:" + n.story)
    return n


def test_bad_network_one_leader(badnet):
    """Property: with 3 elector processes (mixed languages, ttl 2 s) talking to
    the server through the proxy, leadership intervals (`leader` to `loss`)
    never overlap through latency, cut connections, resets and a black hole; every process
    survives and exits 0 on SIGTERM (printing `loss` if leading)."""
    n = badnet
    intervals, violations = [], []
    for p in n.procs:
        iv, vi = leadership(p, TTL, n.end)
        intervals += iv
        violations += vi
    overlaps = interval_overlaps(intervals)
    assert not overlaps, "two leaders at once:\n" + "\n".join(
        f"  {a[2]} {fmt_ns(a[0], n.t0)}..{fmt_ns(a[1], n.t0)} / {b[2]} {fmt_ns(b[0], n.t0)}..{fmt_ns(b[1], n.t0)}"
        for a, b in overlaps) + n.story
    assert not violations, "\n".join(violations) + n.story
    bad = {k: v for k, v in n.rcs.items() if v != 0}
    assert not bad, f"exit statuses {bad}: " + " | ".join(p.stderr()[-300:] for p in n.procs) + n.story


def test_bad_network_leader_again_when_healed(badnet):
    """Property: after the network heals, a leader exists again within 3 x ttl."""
    n = badnet
    healed = dict((name, t) for name, t in n.phases)["healed"]
    now_leading = []
    for p in n.procs:
        ls = [(l[0], int(l[3])) for l in p.lines() if len(l) == 4 and int(l[3]) <= n.end]
        if ls and ls[-1][0] == "leader":
            now_leading.append(p.name)
    assert now_leading, f"no leader {3 * TTL}s after the network healed" + n.story
    assert healed < n.end


def test_bad_network_acquire_returns_within_timeout(badnet):
    """Property: a blocking me_locker_acquire with a 1 s timeout through the bad network
    (on a key held by another locker) returns within timeout + 2 s with
    ME_ERR_ACQUIRE_TIMEOUT or ME_ERR_DATABASE, in every phase, never ME_OK."""
    n = badnet
    assert n.acquires, "the acquirer thread made no calls"
    slow = [a for a in n.acquires if a[1] > ACQ_TIMEOUT + ACQ_SLACK]
    wrong = [a for a in n.acquires if a[2] not in (melib.ME_ERR_ACQUIRE_TIMEOUT, melib.ME_ERR_DATABASE)]
    phases = sorted({a[0] for a in n.acquires})
    log(f"acquire calls: {len(n.acquires)} in phases {phases}; max {max(a[1] for a in n.acquires):.2f}s")
    assert not slow, f"acquire(timeout={ACQ_TIMEOUT}) took too long: {slow[:10]}" + n.story
    assert not wrong, f"unexpected statuses: {wrong[:10]}"
    assert len(phases) >= 6, f"acquire calls did not cover the phases: {phases}"


@pytest.mark.parametrize("latency", [0.9, 0.5])
def test_slow_holder_never_gets_an_expired_lease(uri, dbname, latency):
    """Property (mutual exclusion with latency near the ttl): locker A talks to
    the server through `latency` each way, locker B directly; both loop
    acquire/hold/release on one key, ttl 1.5 s. When me_locker_acquire returns ME_OK
    the caller holds a live lease: its expiry (me_locker_ts_expire) is still in
    the future, and A's and B's hold intervals never overlap. With 0.9 s (a
    round trip longer than the ttl) every lease A writes has ended before the
    server's answer reaches it, so A must never be told it holds the lock; with
    0.5 s A can and must win sometimes."""
    proxy = Toxiproxy(upstream(uri)).start()
    ca, cb = melib.client_new(proxied(uri, proxy.port)), melib.client_new(uri)
    la = melib.locker_new(ca, dbname, "slow", ttl=1.5, timeparanoid=False)
    lb = melib.locker_new(cb, dbname, "slow", ttl=1.5, timeparanoid=False)
    holds, expired, errors = [], [], []
    stop = threading.Event()

    def worker(name, lk, hold, gap):
        while not stop.is_set():
            st = melib.acquire(lk, True, 8.0, 0.05)
            if st != 0:
                errors.append((name, melib.status_name(st), melib.last_error()))
                continue
            t1 = mono_ns()
            wall_ms = time.time() * 1000
            exp = C.c_int64()
            lib().me_locker_ts_expire(lk, C.byref(exp))
            if exp.value <= wall_ms:
                expired.append((name, f"returned {wall_ms - exp.value:.0f} ms after its lease expired"))
            time.sleep(hold)
            holds.append((name, 0, lib().me_locker_fence(lk), t1, mono_ns()))
            melib.release(lk)
            time.sleep(gap)

    proxy.set(latency=latency)
    # B pauses between holds long enough for A to read the release and insert
    # after it (two one-second round trips; there is no FIFO fairness: see the
    # issue notes): 2 s leaves about a second, so A's reads land in most of
    # B's pauses, but only if A reads the head in one round trip, as it must
    # once its monitor sees the latency. The first second or so goes to
    # preparing the collection through the proxy.
    ta = threading.Thread(target=worker, args=("A(slow)", la, 0.2, 0.05), daemon=True)
    tb = threading.Thread(target=worker, args=("B(direct)", lb, 1.0, 2.0), daemon=True)
    ta.start(), tb.start()
    time.sleep(20)
    stop.set()
    ta.join(30), tb.join(30)
    for lk in (la, lb):
        melib.close(lk)
        lib().me_locker_free(lk)
    lib().me_client_free(ca), lib().me_client_free(cb)
    proxy.stop()
    from harness import hold_overlaps
    overlaps = hold_overlaps(holds)
    t0 = min((h[3] for h in holds), default=0)
    story = "\nholds (who, fence, start, end):\n" + "\n".join(
        f"  {h[0]} fence {h[2]} {fmt_ns(h[3], t0)}..{fmt_ns(h[4], t0)}" for h in sorted(holds, key=lambda h: h[3]))
    log(f"slow holder: {len(holds)} holds, {len(errors)} errors {errors[:3]}")
    if latency * 2 > 1.5:
        assert {h[0] for h in holds} == {"B(direct)"}, "A was told it holds a lease that had ended" + story
        assert any(e[0] == "A(slow)" for e in errors), "A never tried" + story
    else:
        assert {h[0] for h in holds} == {"A(slow)", "B(direct)"}, "both lockers must have held the lock" + story
    assert not expired, f"me_locker_acquire returned ME_OK with an already expired lease: {expired[:5]}" + story
    assert not overlaps, "overlapping holds:\n" + "\n".join(f"  {a}\n  {b}" for a, b in overlaps[:5]) + story


def test_python_blocking_acquire_through_a_slow_network(uri, dbname):
    """Property: the Python binding's blocking acquire without a timeout gets a
    free lock through 0.7 s of latency each way (round trips of 1.4 s, more
    than any slice a binding might cut its wait into)."""
    import os
    import sys
    sys.path.insert(0, os.path.join(melib.ROOT, "bindings", "python"))
    from mongoelector import MongoLocker

    proxy = Toxiproxy(upstream(uri)).start()
    try:
        proxy.set(latency=0.7)
        lock = MongoLocker("slowpy", (proxied(uri, proxy.port), dbname), ttl=10, timeparanoid=False)
        result = []
        th = threading.Thread(target=lambda: result.append(lock.acquire()), daemon=True)
        th.start()
        th.join(60)
        assert result == [True], "acquire() did not get a free lock within 60 s through the slow network"
        assert lock.owned()
        lock.close()
    finally:
        proxy.stop()
