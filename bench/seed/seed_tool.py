#!/usr/bin/env python3
"""Helpers run with the interpreter of bench/build/seed-venv, which holds the
original package (`mongoelector` 1.0.2 from PyPI) and its dependency pymongo.

    seed_tool.py count URI DB COLL KEY INTERVAL SECONDS
        every INTERVAL s (for at most SECONDS), prints "count N": the documents
        of KEY in DB.COLL (a "key" field equal to KEY, an _id equal to KEY, or an
        _id starting with "KEY#")
    seed_tool.py clone URI DB COLL TEMPLATE PREFIX N
        copies the documents of key TEMPLATE for N keys PREFIX0 .. PREFIX<N-1>
        (every string equal to TEMPLATE or starting with "TEMPLATE#" gets the
        new key instead), prints "cloned DOCS NS"
    seed_tool.py elect URI DB KEY TTL
        the original package's elector; prints "leader seed PID MONO_NS" when it
        leads, runs until killed

The original's constructors create TTL indexes, which FerretDB refuses: only
that index creation is skipped (skip_ttl_indexes)."""

import os
import re
import signal
import sys
import time


def skip_ttl_indexes():
    """Makes pymongo's Collection.create_index a no-op for TTL indexes
    (expireAfterSeconds), which FerretDB v1 refuses; every other index is created."""
    from pymongo.collection import Collection
    real = Collection.create_index
    if getattr(real, "_bench_skip_ttl", False):
        return

    def create_index(self, keys, session=None, comment=None, **kwargs):
        if "expireAfterSeconds" in kwargs:
            return "skipped-ttl-index"
        return real(self, keys, session=session, comment=comment, **kwargs)
    create_index._bench_skip_ttl = True
    Collection.create_index = create_index


def key_filter(key):
    return {"$or": [{"key": key}, {"_id": key}, {"_id": {"$regex": "^" + re.escape(key) + "#"}}]}


def rekey(v, old, new):
    if isinstance(v, str):
        if v == old:
            return new
        if v.startswith(old + "#"):
            return new + v[len(old):]
        return v
    if isinstance(v, dict):
        return {k: rekey(x, old, new) for k, x in v.items()}
    if isinstance(v, list):
        return [rekey(x, old, new) for x in v]
    return v


def main(argv):
    import pymongo
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "count" and len(argv) == 8:
        uri, db, coll, key, interval, secs = argv[2], argv[3], argv[4], argv[5], float(argv[6]), float(argv[7])
        c = pymongo.MongoClient(uri)[db][coll]
        end = time.monotonic() + secs
        f = key_filter(key)
        while time.monotonic() < end:
            print(f"count {c.count_documents(f)}", flush=True)
            time.sleep(interval)
        return 0
    if mode == "clone" and len(argv) == 8:
        uri, db, coll, template, prefix, n = argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7])
        c = pymongo.MongoClient(uri)[db][coll]
        docs = list(c.find(key_filter(template)))
        if not docs:
            print(f"no documents of key {template!r} in {db}.{coll}", file=sys.stderr)
            return 2
        t0 = time.monotonic_ns()
        batch, total = [], 0
        for i in range(n):
            batch += [rekey(d, template, f"{prefix}{i}") for d in docs]
            if len(batch) >= 1000 or i == n - 1:
                c.insert_many(batch, ordered=False)
                total += len(batch)
                batch = []
        print(f"cloned {total} {time.monotonic_ns() - t0}")
        return 0
    if mode == "elect" and len(argv) == 6:
        uri, db, key, ttl = argv[2], argv[3], argv[4], float(argv[5])
        skip_ttl_indexes()
        from mongoelector import MongoLeaderElector

        def on_leader():
            print(f"leader seed {os.getpid()} {time.clock_gettime_ns(time.CLOCK_MONOTONIC)}", flush=True)
        el = MongoLeaderElector(key, pymongo.MongoClient(uri)[db], ttl=ttl, on_leader=on_leader)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        el.start()
        while True:
            time.sleep(1)
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
