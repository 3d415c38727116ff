"""A crowded election (issue 19): two elector processes of a new group, in an
`elector.locks` holding 10,000 other groups' documents, elect a leader, and
after a SIGKILL of the leader the other one takes over, one at a time.

Liveness with generous bounds (10 ttls each); `make bench` times it. On
FerretDB v1 every read of the collection scans it, and the head query decodes
every document (about 2 s here, 4 s with two readers at once, longer than the
ttl): before a missing generation 1 told a key never written, the first
election waited on that query and often no elector led at all."""

import time
from datetime import datetime, timedelta, timezone

from harness import Proc, interval_overlaps, log, programs
from leadership import leadership
from melib import mono_ns

GROUPS = 10_000
TTL = 1.0
BOUND_S = 10 * TTL


def leader_lines(p, after=None):
    return [int(l[3]) for l in p.lines() if len(l) == 4 and l[0] == "leader"
            and (after is None or int(l[3]) > after)]


def crowd(mongo, dbname):
    """Each other group as an elector leaves it: an acquisition, then a release."""
    coll = mongo[dbname]["elector.locks"]
    t = datetime.now(timezone.utc) - timedelta(minutes=5)
    docs = []
    for g in range(GROUPS):
        key = f"group-{g}"
        for gen, locked in ((1, True), (2, False)):
            docs.append({"_id": f"{key}#{gen}", "key": key, "gen": gen, "fence": 1, "locked": locked,
                         "uuid": f"u-{g}", "host": "crowd", "pid": 1, "ts_created": t,
                         "ts_expire": t + timedelta(seconds=1 if locked else 0), "ts_written": t})
    for i in range(0, len(docs), 2_000):
        coll.insert_many(docs[i:i + 2_000], ordered=False)
    return len(docs)


def test_crowded_election_elects_and_fails_over(uri, mongo, dbname, tmp_path):
    n = crowd(mongo, dbname)
    progs = programs()
    lang = "c" if "c" in progs else sorted(progs)[0]
    argv = progs[lang]["elector"] + [uri, dbname, "crowded", str(TTL), "0"]
    procs = [Proc(f"{lang}#{i}", argv, str(tmp_path / f"elector{i}.out")) for i in range(2)]
    try:
        t0 = mono_ns()
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline and not any(leader_lines(p) for p in procs):
            time.sleep(0.02)
        led = [p for p in procs if leader_lines(p)]
        assert led, (f"no leader within {BOUND_S:g} s among {n:,} other documents; stderr: "
                     + " | ".join(p.stderr()[-400:] for p in procs))
        first = led[0]
        log(f"crowd: first leader after {(leader_lines(first)[0] - t0) / 1e9:.2f} s ({n:,} other documents)")
        time.sleep(TTL)
        first.sigkill()
        other = next(p for p in procs if p is not first)
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline and not leader_lines(other, first.kill_sent):
            time.sleep(0.02)
        took = leader_lines(other, first.kill_sent)
        assert took, f"no failover within {BOUND_S:g} s of the SIGKILL; stderr: {other.stderr()[-400:]}"
        log(f"crowd: failover {(took[0] - first.kill_sent) / 1e9:.2f} s after the SIGKILL")
        other.terminate(timeout=20)
        intervals, violations = [], []
        for p in procs:
            iv, vi = leadership(p, TTL, mono_ns())
            intervals += iv
            violations += vi
        assert not violations, violations
        assert not interval_overlaps(intervals), f"two leaders at once: {interval_overlaps(intervals)}"
    finally:
        for p in procs:
            if p.alive():
                p.terminate(timeout=20)
