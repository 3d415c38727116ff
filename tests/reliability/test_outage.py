"""3. Database outage during an election: one scenario, several properties.

The server (a private FerretDB on its own data directory and address) is
SIGKILLed while an election runs, stays down for 3 x ttl, and is restarted on
the same directory and address. SIGKILL makes the outage start at a known time
S (a SIGTERMed FerretDB keeps serving open connections for seconds): no write
can succeed after S, so the leader's lease, written before S, ends before
S + ttl."""

import time

import pytest

from harness import Proc, Server, cpu_seconds, fmt_ns, log, mix, programs
from inproc import InProcElector
from melib import mono_ns

TTL = 2.0
SEC = 1_000_000_000


def kinds(p, lo=None, hi=None):
    return [(l[0], int(l[3])) for l in p.lines() if len(l) == 4 and l[0] in ("leader", "loss")
            and (lo is None or int(l[3]) > lo) and (hi is None or int(l[3]) <= hi)]


class Outage:
    pass


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    progs = programs()
    assert len(progs) >= 2, f"need programs in at least 2 languages, found {sorted(progs)}"
    tmp = tmp_path_factory.mktemp("outage")
    o = Outage()
    server = Server(str(tmp / "data")).start()
    uri = server.uri()
    procs, inproc = [], None
    try:
        for i, lang in enumerate(mix(progs, 3)):
            argv = progs[lang]["elector"] + [uri, "outage", "outage", str(TTL), "0"]
            procs.append(Proc(f"{lang}#{i}", argv, str(tmp / f"elector{i}.out")))
        o.t0 = mono_ns()
        deadline = time.time() + 30
        while time.time() < deadline and not any(kinds(p) for p in procs):
            time.sleep(0.05)
        inproc = InProcElector(uri, "outage", "outage", TTL).start()
        time.sleep(1.5 * TTL)  # a few renewals
        o.cpu0 = {p.name: cpu_seconds(p.pid) for p in procs}
        o.leaders = [p for p in procs if kinds(p) and kinds(p)[-1][0] == "leader"]
        o.inproc_led = bool(inproc.events) and inproc.events[-1][0] == "leader"
        server.stop(kill=True)
        o.s = mono_ns()
        o.wall_minus_mono = time.time_ns() - mono_ns()
        time.sleep(3 * TTL)
        o.cpu1 = {p.name: cpu_seconds(p.pid) for p in procs}
        o.t_down = (mono_ns() - o.s) / SEC
        o.dead = [(p.name, p.stderr()[-500:]) for p in procs if not p.alive()]
        server.start()
        o.r = mono_ns()
        o.new_leader_at = None
        while mono_ns() < o.r + int(2 * TTL * SEC):
            ts = [t for p in procs for k, t in kinds(p, lo=o.r) if k == "leader"]
            ts += [t for k, t in inproc.events if k == "leader" and t > o.r]
            if ts:
                o.new_leader_at = min(ts)
                break
            time.sleep(0.05)
        time.sleep(0.5)
        # The lease the leader wrote last before S, read back after the restart:
        # its ts_expire (wall clock) converted to CLOCK_MONOTONIC.
        import pymongo
        with pymongo.MongoClient(uri) as mc:
            docs = list(mc["outage"]["elector.locks"].find({"key": "outage"}).sort("gen", 1))
        s_wall_ms = (o.s + o.wall_minus_mono) / 1e6
        before = [d for d in docs if d["ts_written"].timestamp() * 1000 < s_wall_ms]
        o.last_doc = before[-1] if before else None
    finally:
        o.rcs = {p.name: p.terminate() for p in procs}
        o.inproc_stop = inproc.stop() if inproc else None
        server.stop()
    o.procs, o.inproc = procs, inproc
    story = "\n".join(f"  {p.name}: " + ", ".join(f"{k}@{fmt_ns(t, o.t0)}" for k, t in kinds(p)) for p in procs)
    story += "\n  in-process: " + ", ".join(f"{k}@{fmt_ns(t, o.t0)}" for k, t in inproc.events)
    o.story = (f"\nserver SIGKILLed at {fmt_ns(o.s, o.t0)}, restarted at {fmt_ns(o.r, o.t0)}; ttl {TTL}s\n"
               f"leadership events (mono time since the electors started):\n{story}")
    log("outage scenario:" + o.story)
    return o


def test_outage_leader_fires_loss_before_lease_end(outage):
    """Property: the leader when the server dies prints `loss` (fires
    on_leader_loss) before its lease ends: before the ts_expire of the last lock
    generation it wrote before S (read back after the restart, wall clock
    converted to CLOCK_MONOTONIC), and in any case before S + ttl."""
    o = outage
    assert len(o.leaders) + o.inproc_led == 1, "expected exactly one leader before the outage" + o.story
    if o.leaders:
        p = o.leaders[0]
        losses = [t for k, t in kinds(p, lo=o.s) if k == "loss"]
        name = p.name
    else:
        losses = [t for k, t in o.inproc.events if k == "loss" and t > o.s]
        name = "in-process elector"
    assert losses, f"the leader {name} never fired on_leader_loss during the outage" + o.story
    lease_end, how = o.s + int(TTL * SEC), "S + ttl"
    d = o.last_doc
    if d is not None and d["locked"]:
        exact = int(d["ts_expire"].timestamp() * SEC) - o.wall_minus_mono
        if exact < lease_end:
            lease_end, how = exact, f"ts_expire of generation {d['gen']} (pid {d['pid']}), its last write"
    late = (losses[0] - lease_end) / SEC
    assert late < 0, (f"the leader {name} fired on_leader_loss at {fmt_ns(losses[0], o.t0)}, {late:.3f}s "
                      f"after its lease had ended at {fmt_ns(lease_end, o.t0)} ({how})" + o.story)


def test_outage_nobody_leads_while_server_is_down(outage):
    """Property: no elector becomes leader while the server is down, and the
    in-process elector's me_elector_is_leader is false from S + ttl to the restart."""
    o = outage
    during = [(p.name, k, fmt_ns(t, o.t0)) for p in o.procs for k, t in kinds(p, lo=o.s, hi=o.r) if k == "leader"]
    during += [("in-process", k, fmt_ns(t, o.t0)) for k, t in o.inproc.events if k == "leader" and o.s < t < o.r]
    assert not during, f"became leader while the server was down: {during}" + o.story
    wrong = [fmt_ns(t, o.t0) for t, v in o.inproc.samples if v and o.s + int(TTL * SEC) <= t < o.r]
    assert not wrong, f"me_elector_is_leader true during the outage at {wrong[:5]}" + o.story


def test_outage_no_crash_no_spin(outage):
    """Property: during the outage every elector process stays alive and uses
    less than 25 % of one CPU (utime+stime from /proc); all exit 0 on SIGTERM."""
    o = outage
    assert not o.dead, f"processes died during the outage: {o.dead}" + o.story
    use = {n: o.cpu1[n] - o.cpu0[n] for n in o.cpu0}
    log("outage CPU: " + ", ".join(f"{n} {u:.2f}s" for n, u in use.items()) + f" in {o.t_down:.1f}s")
    spin = {n: u for n, u in use.items() if u >= 0.25 * o.t_down}
    assert not spin, f"CPU seconds used during a {o.t_down:.1f}s outage: {spin}" + o.story
    bad = {n: rc for n, rc in o.rcs.items() if rc != 0}
    assert not bad and o.inproc_stop == 0, f"exit statuses {bad}, in-process stop {o.inproc_stop}" + o.story


def test_outage_leader_again_after_restart(outage):
    """Property: after the server restarts on the same data and address, a
    leader exists again within 2 x ttl."""
    o = outage
    assert o.new_leader_at is not None, "no leader within 2 x ttl of the restart" + o.story
    log(f"outage: new leader {(o.new_leader_at - o.r) / SEC:.2f}s after the restart")
