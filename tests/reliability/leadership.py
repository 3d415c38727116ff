"""Leadership intervals of elector processes, computed conservatively from
their `leader`/`loss` lines and the driver's records of SIGSTOP, SIGCONT and
SIGKILL (all on CLOCK_MONOTONIC).

Rules (documented in each test that uses them):
- An interval opens at a `leader` line and closes at the process's next `loss`
  line, at its death (the time the driver saw it reaped after SIGKILL, which is
  after the real death, so the interval is if anything too long), or, if the
  process exits without a `loss`, at its exit (reported as a violation).
- A stopped process cannot act. The driver uses two kinds of stops:
  * short stops (< STOP_SHORT_MAX x ttl, < 0.3 ttl): a leader renews every
    ttl/4 and steps down ~0.8 ttl after its last renewal, so its lease outlives
    the stop; its interval simply continues through the stop (counted whole).
  * long stops (>= ttl): the leader's lease, by its own clock, ends before
    stop + ttl (it was computed from a time before the stop), so when it resumes
    its lease is over: the first line it prints after SIGCONT must be `loss`
    (otherwise it acted as leader on a dead lease: a violation), and its
    interval ends at the SIGSTOP (it did nothing as leader after that).
"""

STOP_SHORT_MAX = 0.3


def leadership(proc, ttl_s, run_end):
    """(intervals [(start, end, label)], violations [str]) of one Proc."""
    ttl = int(ttl_s * 1e9)
    lines = [(l[0], int(l[3])) for l in proc.lines() if len(l) == 4 and l[0] in ("leader", "loss")]
    label = f"{proc.name} pid {proc.pid}"
    intervals, violations = [], []
    long_stops = [(s, c) for s, c in proc.stops if c is not None and c - s >= ttl]
    short_stops = [(s, c) for s, c in proc.stops if c is not None and c - s < ttl]
    for s, c in short_stops:
        assert c - s < STOP_SHORT_MAX * ttl * 1.5, f"driver made a stop of ambiguous length: {(c - s) / 1e9}s"
    open_at = None
    for kind, t in lines:
        if kind == "leader":
            if open_at is not None:
                violations.append(f"{label}: `leader` at {t} while already leader since {open_at}")
                continue
            open_at = t
        else:
            if open_at is None:
                violations.append(f"{label}: `loss` at {t} without being leader")
                continue
            end = t
            for s, c in long_stops:
                if open_at <= s and c <= t:
                    end = min(end, s)
            intervals.append((open_at, end, label))
            open_at = None
    if open_at is not None:
        if proc.killed is not None:
            end = proc.killed
            for s, c in long_stops:
                if open_at <= s and (c is None or c <= end):
                    end = min(end, s)
            intervals.append((open_at, end, label + " (SIGKILLed)"))
        else:
            end = proc.ended or run_end
            intervals.append((open_at, end, label + " (no loss line)"))
            violations.append(f"{label}: exited or ended while leader without printing `loss`")
    # After a long stop that found it leading, its first line must be `loss`.
    for s, c in long_stops:
        before = [k for k, t in lines if t <= s]
        after = [(k, t) for k, t in lines if t >= c]
        if before and before[-1] == "leader" and after and after[0][0] != "loss":
            violations.append(f"{label}: stopped as leader at {s} for {(c - s) / 1e9:.2f}s (>= ttl), "
                              f"resumed at {c}, first line after resume was {after[0]} instead of `loss`")
    return intervals, violations
