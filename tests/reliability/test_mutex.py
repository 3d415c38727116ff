"""1. Mutual exclusion across languages."""

import os
import time

from conftest import SOAK
from harness import Proc, hold_overlaps, log, mix, programs

N_PROCS = 8
ITERATIONS = 1000 if SOAK else 200
HOLD_MS = 5


def test_mutual_exclusion_across_languages(uri, dbname, tmp_path):
    """Property: 8 contender processes of mixed languages, each acquiring one key
    ITERATIONS times (200 in `make test`, 1000 under MONGOELECTOR_SOAK=1) and
    logging its hold interval on CLOCK_MONOTONIC, never hold the lock at the
    same time (no two intervals overlap), and the fencing tokens strictly
    increase in hold order. Every process exits 0 and logs every acquisition."""
    progs = programs()
    assert len(progs) >= 2, f"need programs in at least 2 languages, found {sorted(progs)}"
    langs = mix(progs, N_PROCS)
    logfile = str(tmp_path / "holds.log")
    procs = []
    for i, lang in enumerate(langs):
        argv = progs[lang]["contender"] + [uri, dbname, "mutex", str(ITERATIONS), str(HOLD_MS), logfile]
        procs.append(Proc(f"{lang}#{i}", argv, str(tmp_path / f"contender{i}.out")))
    log(f"mutex: {N_PROCS} contenders ({', '.join(langs)}) x {ITERATIONS}")
    t0 = time.time()
    deadline = t0 + (3600 if SOAK else 600)
    for p in procs:
        rc = p.p.wait(max(1, deadline - time.time()))
        assert rc == 0, f"{p.name} (pid {p.pid}) exited {rc}: {p.stderr()[-2000:]}"
    log(f"mutex: done in {time.time() - t0:.1f}s")

    holds = []
    with open(logfile) as f:
        for line in f.read().splitlines():
            lang, pid, fence, start, end = line.split()
            holds.append((lang, int(pid), int(fence), int(start), int(end)))
    assert len(holds) == N_PROCS * ITERATIONS, f"expected {N_PROCS * ITERATIONS} holds, got {len(holds)}"
    assert {h[0] for h in holds} == set(langs), "every language logged holds"
    for h in holds:
        assert h[3] <= h[4], f"interval ends before it starts: {h}"

    overlaps = hold_overlaps(holds)
    assert not overlaps, (f"{len(overlaps)} overlapping hold intervals "
                          "(lang pid fence start_ns end_ns), first ones:\n"
                          + "\n".join(f"  {a}\n  {b}\n" for a, b in overlaps[:10]))

    by_start = sorted(holds, key=lambda h: h[3])
    regress = [(a, b) for a, b in zip(by_start, by_start[1:]) if b[2] <= a[2]]
    assert not regress, ("fences not strictly increasing in hold order:\n"
                         + "\n".join(f"  {a}\n  {b}\n" for a, b in regress[:10]))
