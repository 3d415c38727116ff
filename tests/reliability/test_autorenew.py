"""9. Auto-renewed holds (issue 15): 8 processes contend for one key with auto_renew on."""

import os
import sys
import time

from harness import Proc, hold_overlaps, log

N_PROCS = 8
HOLDS_EACH = 25  # 200 in total
TTL = 0.8


def test_auto_renewed_holds_never_overlap(uri, dbname, tmp_path):
    """Property: 8 processes (Python over ctypes, renew_contender.py) acquire one key with
    auto_renew on, 25 holds each (200 in total), about one in five held for 1 to 3 ttls so
    that only the background renewals keep it. Every hold is logged with its fence and its
    interval on CLOCK_MONOTONIC, from after the acquire returned to before the release (or
    to the moment the lease token reported the holding lost). No two holds overlap, the
    fences strictly increase in hold order, the long holds were renewed in the background,
    and every process exits 0 within its bound."""
    logfile = str(tmp_path / "holds.log")
    here = os.path.dirname(os.path.abspath(__file__))
    procs = []
    for i in range(N_PROCS):
        argv = [sys.executable, os.path.join(here, "renew_contender.py"), uri, dbname, "autorenew",
                str(HOLDS_EACH), str(TTL), logfile, str(1000 + i), "400"]
        procs.append(Proc(f"renew#{i}", argv, str(tmp_path / f"renew{i}.out")))
    log(f"autorenew: {N_PROCS} processes x {HOLDS_EACH} holds, ttl {TTL}s")
    t0 = time.time()
    deadline = t0 + 420
    try:
        for p in procs:
            rc = p.p.wait(max(1, deadline - time.time()))
            assert rc == 0, f"{p.name} (pid {p.pid}) exited {rc}: {p.stderr()[-2000:]}"
    finally:
        for p in procs:
            if p.alive():
                p.p.kill()
                p.p.wait()
    log(f"autorenew: done in {time.time() - t0:.1f}s")

    holds, lost, long_holds = [], [], []
    with open(logfile) as f:
        for line in f.read().splitlines():
            pid, fence, start, end, was_lost, renewals, hold = line.split()
            h = ("py", int(pid), int(fence), int(start), int(end))
            holds.append(h)
            if was_lost == "1":
                lost.append(h)
            if float(hold) >= TTL:
                long_holds.append((h, int(renewals), was_lost == "1"))
    assert len(holds) == N_PROCS * HOLDS_EACH, f"expected {N_PROCS * HOLDS_EACH} holds, got {len(holds)}"
    assert len({h[1] for h in holds}) == N_PROCS, "every process logged holds"
    for h in holds:
        assert h[3] <= h[4], f"interval ends before it starts: {h}"
    log(f"autorenew: {len(long_holds)} holds of a ttl or more, {len(lost)} lost holds")

    overlaps = hold_overlaps(holds)
    assert not overlaps, (f"{len(overlaps)} overlapping hold intervals (lang pid fence start_ns end_ns):\n"
                          + "\n".join(f"  {a}\n  {b}\n" for a, b in overlaps[:10]))
    by_start = sorted(holds, key=lambda h: h[3])
    regress = [(a, b) for a, b in zip(by_start, by_start[1:]) if b[2] <= a[2]]
    assert not regress, ("fences not strictly increasing in hold order:\n"
                         + "\n".join(f"  {a}\n  {b}\n" for a, b in regress[:10]))
    # The long holds outlived their ttl: kept by the background renewals (not lost).
    kept = [(h, r) for h, r, was_lost in long_holds if not was_lost]
    assert kept, f"no hold of a ttl or more was kept ({len(long_holds)} long, all lost)"
    assert all(r >= 1 for _, r in kept), f"a hold longer than a ttl without a renewal: {kept[:5]}"
    assert len(lost) <= len(holds) // 10, f"{len(lost)} of {len(holds)} holds were lost: {lost[:5]}"
