"""Garbage collection under a sustained loop never lets a slow contender in
(docs/design.md, "Collecting old generations", issue 19).

A locker loops acquire/release on one key, directly, for the whole test, so its
old generations are collected every few seconds (5 s after they were written).
Three contenders acquire the same key through Toxiproxy with 4 s of latency each
way: each of their decisions reads a head and inserts its successor 8 s later,
by when that slot has usually been written and collected. Such an insert lands
(the slot is empty), and only the slow-decision check stops the contender from
believing it holds the lock. The test sees those landings (documents of a
contender's that it was never told it holds) and asserts that at least one
happened, that no contender's acquire ever succeeded on them, and that no
contender's holding overlaps the loop's."""

import threading
import time

import pytest

import melib
from harness import interval_overlaps, log
from melib import lib, mono_ns
from test_network import proxied, upstream
from toxiproxy import Toxiproxy

LATENCY = 4.0       # each way: a decision takes two round trips, 16 s
RUN_S = 45.0        # the contenders' attempts
CONTENDERS = 3


def test_collection_with_slow_contenders_never_admits_two_holders(uri, dbname, mongo):
    coll = mongo[dbname]["mongolocker"]
    direct = melib.client_new(uri)
    loop = melib.locker_new(direct, dbname, "gc", ttl=30.0, timeparanoid=False)
    proxy = Toxiproxy(upstream(uri)).start()
    try:
        slow = []
        for _ in range(CONTENDERS):
            c = melib.client_new(proxied(uri, proxy.port))
            lk = melib.locker_new(c, dbname, "gc", ttl=60.0, timeparanoid=False)
            # The first use (index checks) before the latency, on a free key.
            melib.check("me_locker_current", melib.current(lk)[0])
            slow.append(lk)
        uuids = {lib().me_locker_uuid(lk).decode(): i for i, lk in enumerate(slow)}
        proxy.set(latency=LATENCY)

        stop = threading.Event()
        holds, told, errors = [], set(), []
        pairs = [0]

        def looper():
            while not stop.is_set():
                st = melib.acquire(loop, True, 20.0, 0.01)
                if st != 0:
                    errors.append(("loop", melib.status_name(st), melib.last_error()))
                    continue
                t1 = mono_ns()
                fence = lib().me_locker_fence(loop)
                melib.check("me_locker_release", melib.release(loop))
                holds.append((t1, mono_ns(), f"loop@{fence}"))
                pairs[0] += 1
                # The head is mostly a release, so contenders decide to write.
                time.sleep(0.003)

        def contender(i, lk):
            while not stop.is_set():
                st = melib.acquire(lk, False, 28.0)
                if st == 0:
                    t1 = mono_ns()
                    fence = lib().me_locker_fence(lk)
                    told.add((i, fence))
                    melib.release(lk)
                    holds.append((t1, mono_ns(), f"slow{i}@{fence}"))

        landed = {}  # (contender, gen) -> the head's gen when seen

        def watcher():
            while not stop.is_set():
                head = coll.find_one({"key": "gc"}, sort=[("gen", -1)])
                for d in coll.find({"key": "gc", "uuid": {"$in": list(uuids)}}):
                    landed.setdefault((uuids[d["uuid"]], d["gen"]), head["gen"] if head else None)
                time.sleep(0.2)

        threads = [threading.Thread(target=looper, daemon=True),
                   threading.Thread(target=watcher, daemon=True)]
        threads += [threading.Thread(target=contender, args=(i, lk), daemon=True)
                    for i, lk in enumerate(slow)]
        for t in threads:
            t.start()
        time.sleep(RUN_S)
        stop.set()
        proxy.set()  # let the contenders' last round trips through
        for t in threads:
            t.join(timeout=90)
        assert not any(t.is_alive() for t in threads), "a thread did not finish"
    finally:
        proxy.stop()

    stale = {k: h for k, h in landed.items() if k not in told}
    log(f"collect: {pairs[0]} loop pairs, contenders told they hold {sorted(told)}, "
        f"landings they were not told of {sorted(stale.items())}, docs now {coll.count_documents({})}")
    assert not errors, f"the loop failed: {errors[:5]}"
    assert pairs[0] > 200, f"the loop did only {pairs[0]} pairs"
    assert not interval_overlaps(holds), f"two holders: {interval_overlaps(holds)[:3]}"
    if not stale:
        pytest.fail("no contender's insert landed in a collected slot: the scenario was not exercised "
                    f"(landed {landed}, told {told})")
    # A landing is below the head that followed it: the slot had been collected.
    assert all(h is not None and h > gen for (_, gen), h in stale.items()), stale
