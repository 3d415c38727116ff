#!/usr/bin/env python3
"""A sustained acquire+release loop on one key, as bench/c/sustained.c, through a
Python package: ours (bindings/python) or the original one (`mongoelector` 1.0.2
from PyPI, run with the interpreter of bench/build/seed-venv).

    sustained.py ours|seed URI DB KEY SECONDS

Both with their default options (collection "mongolocker", ttl 600, timeparanoid
on), `acquire(blocking=True, timeout=5)` then `release()`, each call timed on its
own. Prints the lines bench/c/sustained.c prints ("pairs", "acquire", "release",
"cpu")."""

import os
import sys
import time


def make_lock(impl, uri, db, key):
    if impl == "ours":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))
        from mongoelector import MongoLocker
        return MongoLocker(key, (uri, db)), None
    # The original package's constructor creates a TTL index, which FerretDB
    # refuses (and then drops the collection's indexes and tries again): skip only
    # the TTL index creation, as the bench/seed/seed_tool.py helpers do.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seed"))
    import seed_tool
    seed_tool.skip_ttl_indexes()
    import pymongo
    from mongoelector import MongoLocker
    client = pymongo.MongoClient(uri)
    return MongoLocker(key, client[db]), client


def report(label, v):
    v.sort()
    n = len(v)
    slow = max(n // 32, 1)
    print(f"{label} {v[n // 2]} {v[n * 99 // 100]} {v[-1]} {v[n - slow + slow // 2]}")


def main(argv):
    if len(argv) != 6 or argv[1] not in ("ours", "seed"):
        print(f"usage: {argv[0]} ours|seed URI DB KEY SECONDS", file=sys.stderr)
        return 64
    impl, uri, db, key, secs = argv[1], argv[2], argv[3], argv[4], float(argv[5])
    lock, client = make_lock(impl, uri, db, key)
    acq, rel = [], []
    clock = time.perf_counter_ns
    cpu0 = time.process_time_ns()
    start = clock()
    end = start + int(secs * 1e9)
    now = start
    while now < end:
        t0 = clock()
        lock.acquire(blocking=True, timeout=5)
        t1 = clock()
        lock.release()
        now = clock()
        acq.append(t1 - t0)
        rel.append(now - t1)
    cpu = time.process_time_ns() - cpu0
    n = len(acq)
    print(f"pairs {n} {now - start}")
    report("acquire", acq)
    report("release", rel)
    print(f"cpu {cpu // n}")
    if impl == "ours":
        lock.close()
    else:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
