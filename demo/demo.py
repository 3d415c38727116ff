#!/usr/bin/env python3
"""The mongoelector demo: one election among processes written in C, Go, C++
and Python and a shell command run by `mongoelector elect`, and one shared
lock among the four languages, on the embedded test server.

Run it with `make demo`. It prints, as it happens: who leads and how each
process sees it, a lock passing between languages, then it SIGKILLs the leader
and shows how long the failover took against the TTL, and stops everything.
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bindings" / "python"))

from mongoelector import MongoLeaderElector  # noqa: E402  (the Python binding, in place)

TTL = 2.0
DB = "demo"
GROUP = "demo-service"
LOCK = "demo-shared-lock"

# The same two programs in every language (see tests/README.md).
PROGRAMS = {
    "c": ([str(ROOT / "target/c/me_elector")], [str(ROOT / "target/c/me_contender")]),
    "go": ([str(ROOT / "target/demo/go/elector")], [str(ROOT / "target/demo/go/contender")]),
    "cpp": ([str(ROOT / "target/demo/cpp/bin/me_elector")], [str(ROOT / "target/demo/cpp/bin/me_contender")]),
    "python": (
        [sys.executable, str(ROOT / "bindings/python/examples/elector.py")],
        [sys.executable, str(ROOT / "bindings/python/examples/contender.py")],
    ),
}

# The fifth elector is a plain shell command that `mongoelector elect` runs
# while it leads and stops (SIGTERM) when it does not. It prints the same
# lines, with its parent's pid (the mongoelector process) and "now" for the
# clock reading: the demo notes the time it reads the line.
MONGOELECTOR = str(ROOT / "target/release/mongoelector")
SHELL_SERVICE = (
    "echo leader shell $PPID now; trap 'echo loss shell $PPID now; exit 0' TERM; "
    "while :; do sleep 0.1 2>/dev/null; done"
)


def elector_argv(lang, uri):
    if lang == "shell":
        return [MONGOELECTOR, "--db", DB, "elect", GROUP, "--ttl", str(TTL), "--", "sh", "-c", SHELL_SERVICE]
    return PROGRAMS[lang][0] + [uri, DB, GROUP, str(TTL), "0"]


ELECTORS = [*PROGRAMS, "shell"]

T0 = time.monotonic()
_print_lock = threading.Lock()


def say(msg):
    with _print_lock:
        print(f"[{time.monotonic() - T0:6.2f}s] {msg}", flush=True)


def mono_s(ns):
    """A CLOCK_MONOTONIC reading from a child ("now": none), in the demo's seconds."""
    return (time.monotonic() if ns == "now" else int(ns) / 1e9) - T0


class Elector:
    """One elector process and what it said."""

    def __init__(self, lang, uri):
        self.lang = lang
        # The URI reaches the mongoelector command by its environment, not its argv.
        env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings/python"), MONGODB_URI=uri, MONGOELECTOR_OBSERVE="1")
        self.proc = subprocess.Popen(elector_argv(lang, uri), stdout=subprocess.PIPE, text=True, env=env)
        self.leading = False
        self.events = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            parts = line.split()
            if parts[:1] == ["sees"] and len(parts) == 6:
                _, lang, pid, _ns, leader, fence = parts
                who = "nobody" if leader == "none" else f"pid {leader} (fence {fence})"
                say(f"{lang:>6} (pid {pid}) observed a new leader: {who}")
                continue
            if parts[:1] == ["stats"]:
                say(f"{parts[1]:>6} (pid {parts[2]}) counters: {' '.join(parts[3:])}")
                continue
            if len(parts) != 4 or parts[0] not in ("leader", "loss"):
                continue
            what, lang, pid, ns = parts
            self.leading = what == "leader"
            self.events.append((what, mono_s(ns)))
            if what == "leader":
                say(f"{lang:>6} (pid {pid}) is now the LEADER")
            else:
                say(f"{lang:>6} (pid {pid}) lost leadership")

    def name(self):
        return f"{self.lang} (pid {self.proc.pid})"


def show_views(electors, observer):
    detail = observer.cluster_detail
    leader = detail["leader"]
    said = [e.name() for e in electors if e.leading and e.proc.poll() is None]
    say("views:")
    for e in electors:
        state = "dead" if e.proc.poll() is not None else ("leader" if e.leading else "follower")
        print(f"          {e.name():>22}: thinks it is {state}")
    if leader:
        print(f"          the lock itself says: leader pid {leader['process_id']} (fence {leader['fence']}), "
              f"{len(detail['member_detail'])} live members")
    else:
        print("          the lock itself says: nobody leads")
    return said


def wait_for(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def shared_lock(uri):
    say(f"--- a lock passing between languages (key {LOCK!r}, each process takes it 2 times) ---")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "holds.log"
        procs = [
            subprocess.Popen(PROGRAMS[lang][1] + [uri, DB, LOCK, "2", "150", str(log)],
                             env=dict(os.environ, PYTHONPATH=str(ROOT / "bindings/python")))
            for lang in PROGRAMS
        ]
        seen = 0
        while any(p.poll() is None for p in procs) or seen < 2 * len(procs):
            lines = log.read_text().splitlines() if log.exists() else []
            for line in lines[seen:]:
                lang, pid, fence, start, end = line.split()
                say(f"{lang:>6} (pid {pid}) held the lock with fence {fence} for "
                    f"{(int(end) - int(start)) / 1e6:.0f} ms")
            seen = len(lines)
            if all(p.poll() is not None for p in procs) and seen >= len(lines):
                break
            time.sleep(0.05)
        bad = [p.args[0] for p in procs if p.returncode != 0]
        if bad:
            raise SystemExit(f"contenders failed: {bad}")
        holds = sorted((int(l.split()[3]), int(l.split()[4]), int(l.split()[2])) for l in log.read_text().splitlines())
        overlaps = sum(1 for a, b in zip(holds, holds[1:]) if b[0] < a[1])
        fences_up = all(a[2] < b[2] for a, b in zip(holds, holds[1:]))
        say(f"{len(holds)} holds, {overlaps} overlapping, fences strictly increasing: {fences_up}")
        if overlaps or not fences_up:
            raise SystemExit("mutual exclusion violated")


def main():
    uri = sys.argv[1]
    say(f"server: {uri}")
    say(f"--- an election among {', '.join(ELECTORS)} (group {GROUP!r}, ttl {TTL} s; "
        f"shell: a shell command under `mongoelector elect`) ---")
    electors = [Elector(lang, uri) for lang in ELECTORS]
    observer = MongoLeaderElector(GROUP, (uri, DB), ttl=TTL, report_status=False)
    try:
        if not wait_for(lambda: any(e.leading for e in electors), 5 * TTL):
            raise SystemExit("no leader was elected")
        time.sleep(TTL)
        show_views(electors, observer)

        shared_lock(uri)

        leader = next(e for e in electors if e.leading)
        say(f"--- SIGKILL the leader, {leader.name()}: it cannot release ---")
        killed_at = time.monotonic() - T0
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait()
        leader.leading = False
        others = [e for e in electors if e is not leader]
        if not wait_for(lambda: any(e.leading for e in others), 5 * TTL):
            raise SystemExit("no failover")
        new = next(e for e in others if e.leading)
        took = new.events[-1][1] - killed_at
        say(f"failover: {new.name()} leads {took:.2f} s after the kill = {took / TTL:.2f} x ttl "
            f"(the seed: ttl + up to 60 s for MongoDB's TTL monitor, never without TTL indexes)")
        time.sleep(TTL)
        show_views(electors, observer)
    finally:
        say("--- stopping everything ---")
        for e in electors:
            if e.proc.poll() is None:
                e.proc.send_signal(signal.SIGTERM)
        for e in electors:
            try:
                e.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                e.proc.kill()
        del observer
    say("done")


if __name__ == "__main__":
    main()
