"""2. One leader under chaos: SIGKILL, SIGSTOP/SIGCONT and restarts."""

import random
import time

from conftest import SOAK
from harness import Proc, covered, fmt_ns, interval_overlaps, log, mix, programs
from leadership import STOP_SHORT_MAX, leadership
from melib import mono_ns
import os

N = 5
TTL = 1.0
DURATION = float(os.environ.get("MONGOELECTOR_CHAOS_S", 600 if SOAK else 60))
MIN_COVERAGE = 0.80


def current_leader(procs):
    """The live process whose last line is `leader`, if any (driver's guess)."""
    for p in procs:
        if p.alive() and not (p.stops and p.stops[-1][1] is None):
            ls = [l[0] for l in p.lines() if l and l[0] in ("leader", "loss")]
            if ls and ls[-1] == "leader":
                return p
    return None


def test_one_leader_under_chaos(uri, dbname, tmp_path):
    """Property: 5 elector processes of mixed languages (ttl 1 s) under a driver
    that every 4-7 ttl (40 % of the time aimed at the leader) randomly SIGKILLs and restarts them and SIGSTOPs/SIGCONTs them (short
    stops < 0.3 ttl, long stops of 1.2-2.5 ttl), for 60 s (MONGOELECTOR_SOAK=1:
    10 min; MONGOELECTOR_CHAOS_S overrides):
      - leadership intervals (`leader` line to `loss` line or death; see
        leadership.py for the conservative treatment of stops) never overlap;
      - a process resumed after its lease ended while stopped prints `loss`
        before anything else;
      - some process leads at least 80 % of the time (measured from the first
        `leader` line; each SIGKILL/long stop of the leader costs about a ttl);
      - processes that are not SIGKILLed exit 0 on SIGTERM with a `loss` line if leading."""
    progs = programs()
    assert len(progs) >= 2, f"need programs in at least 2 languages, found {sorted(progs)}"
    rng = random.Random(os.environ.get("MONGOELECTOR_CHAOS_SEED", int(time.time())))
    langs = mix(progs, N)
    all_procs = []
    slots = [None] * N
    counter = [0]

    def spawn(i):
        lang = langs[i] if counter[0] < N else rng.choice(sorted(progs))
        counter[0] += 1
        argv = progs[lang]["elector"] + [uri, dbname, "chaos", str(TTL), "0"]
        p = Proc(f"{lang}#{counter[0]}", argv, str(tmp_path / f"elector{counter[0]}.out"))
        all_procs.append(p)
        slots[i] = p

    for i in range(N):
        spawn(i)
    t_start = mono_ns()
    actions = []
    pending = []  # (due_ns, fn, desc)
    end = t_start + int(DURATION * 1e9)
    next_action = t_start + int(2e9)
    while mono_ns() < end:
        now = mono_ns()
        for item in [x for x in pending if x[0] <= now]:
            pending.remove(item)
            item[1]()
        if now >= next_action:
            busy = {id(x[3]) for x in pending}
            leader = current_leader(slots)
            cands = [i for i, p in enumerate(slots) if id(p) not in busy and p.alive()]
            if cands:
                if leader is not None and id(leader) not in busy and rng.random() < 0.4:
                    i = slots.index(leader)
                else:
                    i = rng.choice(cands)
                p = slots[i]
                kind = rng.choice(["kill", "stop_short", "stop_long", "kill"])
                if kind == "kill":
                    p.sigkill()
                    delay = rng.uniform(0.2, 2.0)
                    pending.append((mono_ns() + int(delay * 1e9), lambda i=i: spawn(i), "restart", p))
                else:
                    length = (rng.uniform(0.05, STOP_SHORT_MAX * 0.9) if kind == "stop_short"
                              else rng.uniform(1.2, 2.5)) * TTL
                    p.sigstop()
                    pending.append((mono_ns() + int(length * 1e9), p.sigcont, "cont", p))
                actions.append(f"{fmt_ns(now, t_start)} {kind} {p.name} pid {p.pid}"
                               f"{' (leader)' if p is leader else ''}")
            next_action = now + int(rng.uniform(4.0, 7.0) * TTL * 1e9)
        time.sleep(0.01)
    for due, fn, desc, p in sorted(pending, key=lambda x: x[0]):
        if desc == "cont":  # resume on time: the stop kinds must keep their lengths
            time.sleep(max(0, (due - mono_ns()) / 1e9))
            fn()
    run_end = mono_ns()
    rcs = {p.name: p.terminate() for p in all_procs if p.killed is None}
    log("chaos actions:\n  " + "\n  ".join(actions))

    intervals, violations = [], []
    for p in all_procs:
        iv, vi = leadership(p, TTL, run_end)
        intervals += iv
        violations += vi
    first = min((s for s, *_ in intervals), default=None)
    story = "\n".join(f"  {fmt_ns(s, t_start)} .. {fmt_ns(e, t_start)}  {lab}" for s, e, lab in sorted(intervals))
    context = f"\nleadership intervals:\n{story}\ndriver actions:\n  " + "\n  ".join(actions)
    bad = {n: rc for n, rc in rcs.items() if rc != 0}
    assert not bad, f"processes did not exit 0 on SIGTERM: {bad}" + context
    overlaps = interval_overlaps(intervals)
    assert not overlaps, ("two leaders at once:\n" + "\n".join(
        f"  {a[2]} {fmt_ns(a[0], t_start)}..{fmt_ns(a[1], t_start)} overlaps "
        f"{b[2]} {fmt_ns(b[0], t_start)}..{fmt_ns(b[1], t_start)}" for a, b in overlaps) + context)
    assert not violations, "\n".join(violations) + context
    assert first is not None, "nobody ever led" + context
    cov = covered(intervals, first, run_end) / (run_end - first)
    log(f"chaos: {len(actions)} actions, {len(intervals)} terms, leader {cov:.1%} of the time")
    assert cov >= MIN_COVERAGE, f"a leader existed only {cov:.1%} of the time (< 80 %)" + context
