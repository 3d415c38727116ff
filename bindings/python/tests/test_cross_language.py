"""Python and C processes on one key: the lock never has two holders, and one
leader at a time. C programs: target/c/me_contender, me_elector
(built by `make -C tests/c programs`); Python ones: examples/*.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import PY_ROOT, REPO

C_DIR = REPO / "target" / "c"
EXAMPLES = PY_ROOT / "examples"


@pytest.fixture(scope="module")
def c_programs():
    if not (REPO / "tests" / "c" / "Makefile").is_file():
        pytest.skip("tests/c (the C cross-language programs) is not in this checkout")
    r = subprocess.run(["make", "-C", str(REPO / "tests" / "c"), "programs"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    progs = {n: C_DIR / n for n in ("me_contender", "me_elector")}
    for p in progs.values():
        assert os.access(p, os.X_OK), p
    return progs


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(PY_ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def test_contenders_never_overlap(c_programs, uri, dbname, tmp_path):
    log = tmp_path / "holds.log"
    n, hold = 5, 30
    procs = [
        subprocess.Popen([sys.executable, str(EXAMPLES / "contender.py"), uri, dbname, "xkey", str(n), str(hold), str(log)], env=env()),
        subprocess.Popen([sys.executable, str(EXAMPLES / "contender.py"), uri, dbname, "xkey", str(n), str(hold), str(log)], env=env()),
        subprocess.Popen([str(c_programs["me_contender"]), uri, dbname, "xkey", str(n), str(hold), str(log)], env=env()),
        subprocess.Popen([str(c_programs["me_contender"]), uri, dbname, "xkey", str(n), str(hold), str(log)], env=env()),
    ]
    for p in procs:
        assert p.wait(timeout=240) == 0
    rows = []
    for line in log.read_text().splitlines():
        lang, pid, fence, start, end = line.split()
        rows.append((int(start), int(end), int(fence), lang, int(pid)))
    assert len(rows) == 4 * n
    assert {r[3] for r in rows} == {"python", "c"}
    rows.sort()
    for a, b in zip(rows, rows[1:]):
        assert a[1] <= b[0], f"overlapping holds: {a} and {b}"
        assert a[2] < b[2], f"fences not increasing in hold order: {a} and {b}"
    for r in rows:
        assert r[0] + hold * 1_000_000 <= r[1]


def read_events(path):
    out = []
    for line in path.read_text().splitlines():
        kind, lang, pid, mono = line.split()
        out.append((int(mono), kind, lang, int(pid)))
    return out


def test_electors_one_leader_at_a_time(c_programs, uri, dbname, tmp_path):
    ttl = "1.5"
    outs = {name: tmp_path / f"{name}.out" for name in ("py", "c")}
    procs = {
        "py": subprocess.Popen([sys.executable, str(EXAMPLES / "elector.py"), uri, dbname, "xsvc", ttl, "0"],
                               stdout=open(outs["py"], "w"), env=env()),
        "c": subprocess.Popen([str(c_programs["me_elector"]), uri, dbname, "xsvc", ttl, "0"], stdout=open(outs["c"], "w"), env=env()),
    }

    def leaders():
        return [e for name in outs for e in read_events(outs[name]) if e[1] == "leader"]

    deadline = time.monotonic() + 60
    while not leaders() and time.monotonic() < deadline:
        time.sleep(0.1)
    first = leaders()
    assert len(first) == 1, first
    leader_lang = first[0][2]
    follower = "c" if leader_lang == "python" else "py"
    # Stop the leader: it releases; the other process takes over.
    procs["py" if leader_lang == "python" else "c"].send_signal(signal.SIGTERM)
    assert procs["py" if leader_lang == "python" else "c"].wait(timeout=60) == 0
    deadline = time.monotonic() + 60
    while not any(e[1] == "leader" for e in read_events(outs[follower])) and time.monotonic() < deadline:
        time.sleep(0.1)
    procs[follower].send_signal(signal.SIGTERM)
    assert procs[follower].wait(timeout=60) == 0

    events = sorted(e for name in outs for e in read_events(outs[name]))
    # Both languages led, and every leader line is followed by its own loss
    # before the next leader line (same host, same CLOCK_MONOTONIC).
    assert {e[2] for e in events if e[1] == "leader"} == {"python", "c"}, events
    current = None
    for mono, kind, lang, pid in events:
        if kind == "leader":
            assert current is None, f"two leaders at once: {current} and {(lang, pid)} in {events}"
            current = (lang, pid)
        else:
            assert current == (lang, pid), events
            current = None
    assert current is None
