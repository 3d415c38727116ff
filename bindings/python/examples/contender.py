#!/usr/bin/env python3
"""Cross-language contender: contender.py URI DB KEY ITERATIONS HOLD_MS LOGFILE

ITERATIONS times: blocking acquire of KEY (ttl 10 s, default step), read
CLOCK_MONOTONIC as start, sleep HOLD_MS, read it as end, release, then append
`python <pid> <fence> <start_ns> <end_ns>` to LOGFILE with one write()."""

import os
import sys
import time

try:
    from mongoelector import MongoLocker
except ImportError:  # run in place from the repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from mongoelector import MongoLocker


def mono_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def main(argv: list[str]) -> int:
    if len(argv) != 7:
        print(f"usage: {argv[0]} URI DB KEY ITERATIONS HOLD_MS LOGFILE", file=sys.stderr)
        return 2
    uri, db, key, iterations, hold_ms, logfile = argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6]
    lock = MongoLocker(key, (uri, db), ttl=10)
    fd = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for _ in range(iterations):
            lock.acquire()
            start = mono_ns()
            time.sleep(hold_ms / 1000.0)
            end = mono_ns()
            fence = lock.fence
            lock.release()
            os.write(fd, f"python {os.getpid()} {fence} {start} {end}\n".encode())
    finally:
        os.close(fd)
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
