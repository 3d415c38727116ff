#!/usr/bin/env python3
"""Times uncontended acquire()+release() pairs through the Python binding.

    pairs.py URI DB KEY PAIRS WARMUP

Prints "pairs N median_ns mean_ns p90_ns", as bench/c/pairs.c does."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))
from mongoelector import MongoLocker  # noqa: E402


def main(argv):
    if len(argv) != 6:
        print(f"usage: {argv[0]} URI DB KEY PAIRS WARMUP", file=sys.stderr)
        return 64
    uri, db, key, pairs, warmup = argv[1], argv[2], argv[3], int(argv[4]), int(argv[5])
    lock = MongoLocker(key, (uri, db), ttl=60, timeparanoid=False)
    times = []
    try:
        for i in range(warmup + pairs):
            t0 = time.perf_counter_ns()
            lock.acquire(blocking=False)
            lock.release()
            if i >= warmup:
                times.append(time.perf_counter_ns() - t0)
    finally:
        lock.close()
    mean = sum(times) / len(times)
    times.sort()
    n = len(times)
    print(f"pairs {n} {times[n // 2]} {mean:.0f} {times[n * 9 // 10]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
