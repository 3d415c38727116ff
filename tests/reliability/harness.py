"""Shared machinery of the reliability suite: the cross-language programs,
private test servers, process control, and the interval checkers."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from melib import ROOT, mono_ns

BUILD = os.path.join(ROOT, "target", "reliability")
LANGS = ("c", "go", "cpp", "python", "rust")


def log(msg):
    print(f"[reliability] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- programs

def _newer(target, sources):
    if not os.path.exists(target):
        return False
    t = os.path.getmtime(target)
    return all(os.path.getmtime(s) <= t for s in sources)


def _build_go(name):
    """Builds bindings/go/cmd/NAME into target/reliability/go_NAME; None when it cannot."""
    src_dir = os.path.join(ROOT, "bindings", "go")
    if not os.path.isdir(os.path.join(src_dir, "cmd", name)) or not shutil.which("go"):
        return None
    out = os.path.join(BUILD, f"go_{name}")
    sources = glob.glob(os.path.join(src_dir, "**", "*.go"), recursive=True)
    sources.append(os.path.join(ROOT, "target", "release", "libmongoelector.so"))
    if _newer(out, sources):
        return out
    os.makedirs(BUILD, exist_ok=True)
    try:
        r = subprocess.run(["go", "build", "-o", out, f"./cmd/{name}"], cwd=src_dir,
                           capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        log(f"go build ./cmd/{name} timed out")
        return None
    if r.returncode != 0:
        log(f"go build ./cmd/{name} failed: {r.stderr.strip()[:500]}")
        return None
    return out


def _python_ok():
    exe = os.path.join(ROOT, "bindings", "python", "examples", "contender.py")
    if not os.path.exists(exe):
        return False
    r = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import mongoelector",
                        os.path.join(ROOT, "bindings", "python")], capture_output=True, timeout=60)
    return r.returncode == 0


def _first_executable(patterns):
    for p in patterns:
        for f in sorted(glob.glob(os.path.join(ROOT, p))):
            if os.path.isfile(f) and os.access(f, os.X_OK):
                return f
    return None


_programs = None


def programs():
    """{lang: {"contender": argv0 list, "elector": argv0 list}} for every
    language whose two programs exist (building C and Go ones if needed).
    Prints which languages were found and which are missing."""
    global _programs
    if _programs is not None:
        return _programs
    found = {}
    c_cont = os.path.join(ROOT, "target", "c", "me_contender")
    c_elec = os.path.join(ROOT, "target", "c", "me_elector")
    if not (os.path.exists(c_cont) and os.path.exists(c_elec)):
        subprocess.run(["make", "-C", os.path.join(ROOT, "tests", "c"), "programs"],
                       capture_output=True, timeout=300)
    if os.path.exists(c_cont) and os.path.exists(c_elec):
        found["c"] = {"contender": [c_cont], "elector": [c_elec]}
    gc, ge = _build_go("contender"), _build_go("elector")
    if gc and ge:
        found["go"] = {"contender": [gc], "elector": [ge]}
    cc = _first_executable(["target/cpp-build/examples/*contender*", "target/cpp-build/*contender*",
                            "target/cpp-build/**/me_contender_cpp"])
    ce = _first_executable(["target/cpp-build/examples/*elector*", "target/cpp-build/*elector*",
                            "target/cpp-build/**/me_elector_cpp"])
    if cc and ce:
        found["cpp"] = {"contender": [cc], "elector": [ce]}
    if _python_ok():
        ex = os.path.join(ROOT, "bindings", "python", "examples")
        found["python"] = {"contender": [sys.executable, os.path.join(ex, "contender.py")],
                           "elector": [sys.executable, os.path.join(ex, "elector.py")]}
    rc = os.path.join(ROOT, "target", "release", "examples", "rust_contender")
    re_ = os.path.join(ROOT, "target", "release", "examples", "rust_elector")
    if os.path.exists(rc) and os.path.exists(re_):
        found["rust"] = {"contender": [rc], "elector": [re_]}
    missing = [l for l in LANGS if l not in found]
    log(f"cross-language programs included: {sorted(found)}; missing: {missing or 'none'}")
    _programs = found
    return found


def mix(langs, n):
    """n program slots spread round-robin over langs (C first)."""
    order = sorted(langs, key=lambda l: LANGS.index(l))
    return [order[i % len(order)] for i in range(n)]


# ---------------------------------------------------------------- servers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runner_path():
    r = subprocess.run([os.path.join(ROOT, "scripts", "test-server"), "build"],
                       capture_output=True, text=True, timeout=600, check=True)
    return r.stdout.strip().splitlines()[-1]


class Server:
    """A FerretDB runner of our own on DIR and ADDR, which a test can stop and
    restart on the same data (through `scripts/test-server run DIR ADDR`, or the
    runner binary directly for TLS)."""

    def __init__(self, data_dir, port=None, tls=None):
        self.dir = data_dir
        self.port = port or free_port()
        self.tls = tls  # (cert, key) or None
        self.proc = None
        self.err = os.path.join(data_dir + ".log")

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def uri(self, extra=""):
        q = "directConnection=true&serverSelectionTimeoutMS=5000"
        return f"mongodb://{self.addr}/?{q}{'&' + extra if extra else ''}"

    def start(self, timeout=60):
        if self.tls:
            argv = [runner_path(), "-sqlite-dir", self.dir, "-listen-tls", self.addr,
                    "-tls-cert", self.tls[0], "-tls-key", self.tls[1], "-log-level", "error"]
        else:
            argv = [os.path.join(ROOT, "scripts", "test-server"), "run", self.dir, self.addr]
        env = dict(os.environ, DO_NOT_TRACK="1")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(self.err, "ab"),
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        first = self.proc.stdout.readline().decode()
        if not first.startswith("mongodb://"):
            raise RuntimeError(f"server did not start: {first!r}; log: {open(self.err).read()[-2000:]}")
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server port never opened")

    def stop(self, kill=False):
        """Stops the server (kill: SIGKILL, an abrupt outage; otherwise SIGTERM,
        after which FerretDB keeps serving open connections for a few seconds)."""
        end_process(self.proc, signal.SIGKILL if kill else signal.SIGTERM)
        self.proc = None


def end_process(proc, sig=signal.SIGTERM):
    """Sends `sig` to a running Popen, then SIGKILL if it has not exited in 10 s."""
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- processes

def cpu_seconds(pid):
    """utime+stime of a live process (and its reaped threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Proc:
    """A program whose stdout goes to a file, with the driver's records of
    when it was stopped, resumed and killed (monotonic ns)."""

    def __init__(self, name, argv, out_path):
        self.name = name
        self.argv = argv
        self.out_path = out_path
        self.out = open(out_path, "wb")
        self.err_path = out_path + ".err"
        self.p = subprocess.Popen(argv, stdout=self.out, stderr=open(self.err_path, "wb"),
                                  stdin=subprocess.DEVNULL)
        self.pid = self.p.pid
        self.started = mono_ns()
        self.stops = []      # [(stop_ns, cont_ns or None)]
        self.killed = None   # ns, taken just before kill(2): no line can be later... see checker
        self.ended = None

    def alive(self):
        return self.p.poll() is None

    def sigstop(self):
        os.kill(self.pid, signal.SIGSTOP)
        self.stops.append([mono_ns(), None])

    def sigcont(self):
        t = mono_ns()
        os.kill(self.pid, signal.SIGCONT)
        self.stops[-1][1] = t

    def sigkill(self):
        t = mono_ns()
        os.kill(self.pid, signal.SIGKILL)
        self.p.wait()
        self.killed = mono_ns()
        self.kill_sent = t

    def terminate(self, timeout=30):
        if self.stops and self.stops[-1][1] is None:
            self.sigcont()
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
            rc = f"hung ({rc})"
        self.ended = mono_ns()
        return rc

    def lines(self):
        with open(self.out_path) as f:
            return [l.split() for l in f.read().splitlines() if l.strip()]

    def stderr(self):
        try:
            with open(self.err_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


# ---------------------------------------------------------------- checkers

def hold_overlaps(holds):
    """holds: [(lang, pid, fence, start, end)] -> list of overlapping pairs (sorted by start)."""
    hs = sorted(holds, key=lambda h: h[3])
    bad = []
    latest = None  # the interval reaching furthest so far
    for h in hs:
        if latest is not None and h[3] < latest[4]:
            bad.append((latest, h))
        if latest is None or h[4] > latest[4]:
            latest = h
    return bad


def interval_overlaps(intervals):
    """intervals: [(start, end, label)] -> overlapping pairs."""
    iv = sorted(intervals)
    bad = []
    latest = None
    for i in iv:
        if latest is not None and i[0] < latest[1]:
            bad.append((latest, i))
        if latest is None or i[1] > latest[1]:
            latest = i
    return bad


def covered(intervals, lo, hi):
    """Total length of the union of intervals clipped to [lo, hi]."""
    total, cur_s, cur_e = 0, None, None
    for s, e, *_ in sorted(intervals):
        s, e = max(s, lo), min(e, hi)
        if e <= s:
            continue
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def fmt_ns(t, t0):
    return f"{(t - t0) / 1e9:.3f}s"
