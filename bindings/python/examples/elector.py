#!/usr/bin/env python3
"""Cross-language elector: elector.py URI DB KEY TTL_S RUN_S

Runs a leader elector on KEY for RUN_S seconds (0: until SIGTERM/SIGINT),
printing `leader python <pid> <mono_ns>` and `loss python <pid> <mono_ns>`
per event; on a signal or at the end it stops the elector (releasing
leadership, which prints the loss if leading) and exits 0."""

import os
import signal
import sys
import threading
import time

try:
    from mongoelector import MongoLeaderElector
except ImportError:  # run in place from the repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from mongoelector import MongoLeaderElector

_out = threading.Lock()


def event(kind: str) -> None:
    line = f"{kind} python {os.getpid()} {time.clock_gettime_ns(time.CLOCK_MONOTONIC)}\n"
    with _out:
        sys.stdout.write(line)
        sys.stdout.flush()


def seen(leader: dict | None) -> None:
    """With MONGOELECTOR_OBSERVE set (the demo): a leader change this elector observed."""
    who = f"{leader['process_id']} {leader['fence']}" if leader else "none 0"
    with _out:
        sys.stdout.write(f"sees python {os.getpid()} {time.clock_gettime_ns(time.CLOCK_MONOTONIC)} {who}\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 6:
        print(f"usage: {argv[0]} URI DB KEY TTL_S RUN_S", file=sys.stderr)
        return 2
    uri, db, key, ttl, run_s = argv[1], argv[2], argv[3], float(argv[4]), float(argv[5])
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    observe = "MONGOELECTOR_OBSERVE" in os.environ
    elector = MongoLeaderElector(
        key,
        (uri, db),
        ttl=ttl,
        on_leader=lambda: event("leader"),
        on_leader_loss=lambda: event("loss"),
        on_new_leader=seen if observe else None,
    )
    elector.start()
    try:
        if run_s > 0:
            done.wait(run_s)
        else:
            while not done.wait(1.0):
                pass
    finally:
        elector.stop()
        if observe:
            st = elector.stats
            with _out:
                print(f"stats python {os.getpid()} terms {st['acquisitions']} renewals {st['renewals']} "
                      f"losses {st['losses']} transitions {st['leader_transitions']} "
                      f"round_trips {st['round_trips']} max_round_trip_ms {st['max_round_trip'] * 1e3:.1f}", flush=True)
        elector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
