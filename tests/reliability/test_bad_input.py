"""7. Bad input through the C ABI (ctypes). The cases run in a child process so
a crash is reported as such (with its signal) instead of killing the suite."""

import ctypes as C
import math
import subprocess
import sys
import threading
import time

import melib
from melib import lib

INV, OK = melib.ME_ERR_INVALID_ARGUMENT, melib.ME_OK


def run_cases(uri, db):
    import pymongo
    failures = []
    L = lib()

    def expect(what, st, allowed):
        msg = melib.last_error()
        allowed = allowed if isinstance(allowed, tuple) else (allowed,)
        if st not in allowed:
            failures.append(f"{what}: got {melib.status_name(st)} ({msg}), want {[melib.status_name(a) for a in allowed]}")
        elif st != OK and not msg:
            failures.append(f"{what}: {melib.status_name(st)} without a message")
        return st

    mc = pymongo.MongoClient(uri)
    mc[db]["mongolocker"].insert_one({"_id": "victim#1", "key": "victim", "gen": 1, "data": "untouched"})
    mc[db]["other"].insert_one({"_id": 1, "x": "untouched"})
    before = sorted(map(repr, mc[db]["mongolocker"].find())) + sorted(map(repr, mc[db]["other"].find()))

    out = C.c_void_p()
    call = melib.call
    expect("client_new(NULL uri)", call("me_client_new", None, C.byref(out)), INV)
    expect("client_new(uri, NULL out)", call("me_client_new", uri.encode(), None), INV)
    expect("client_new(unparsable)", call("me_client_new", b"not a uri", C.byref(out)), INV)
    expect("client_new(non-UTF-8)", call("me_client_new", b"mongodb://\xff\xfe/", C.byref(out)), INV)
    # err NULL is accepted: the status is still returned
    expect("client_new(NULL uri, err NULL)", L.me_client_new(None, C.byref(out), None), INV)
    client = melib.client_new(uri)

    def new_locker(key, ttl=5.0, dbn=db, opts=True, outp=True):
        o = melib.LockerOptions()
        L.me_locker_options_init(C.byref(o))
        o.ttl = ttl
        h = C.c_void_p()
        st = call("me_locker_new", client, None if dbn is None else melib.b(dbn), None if key is None else melib.b(key),
                  C.byref(o) if opts else None, C.byref(h) if outp else None)
        return st, h

    for what, args in (("NULL key", dict(key=None)), ("empty key", dict(key=b"")),
                       ("non-UTF-8 key", dict(key=b"\xff\xfeab")), ("NULL db", dict(key="k", dbn=None)),
                       ("db a.b", dict(key="k", dbn="a.b")), ("empty db", dict(key="k", dbn="")),
                       ("db with $", dict(key="k", dbn="a$b")), ("NULL out", dict(key="k", outp=False)),
                       ("ttl 0", dict(key="k", ttl=0.0)), ("ttl -1", dict(key="k", ttl=-1.0)),
                       ("ttl NaN", dict(key="k", ttl=math.nan)), ("ttl inf", dict(key="k", ttl=math.inf)),
                       ("ttl -inf", dict(key="k", ttl=-math.inf)), ("ttl 1e300", dict(key="k", ttl=1e300))):
        st, h = new_locker(**args)
        expect(f"locker_new({what})", st, INV)
    expect("locker_new(NULL client)", call("me_locker_new", None, db.encode(), b"k", None, C.byref(out)), INV)

    # NULL handles and out-pointers.
    expect("acquire(NULL)", melib.acquire(None, True, 1.0, 0.1), INV)
    expect("acquire(NULL, NULL opts)", call("me_locker_acquire", None, None), INV)
    expect("release(NULL)", melib.release(None), INV)
    expect("touch(NULL)", call("me_locker_touch", None, None, None), INV)
    expect("locked(NULL)", call("me_locker_locked", None, None, C.byref(C.c_bool())), INV)
    expect("current(NULL)", melib.current(None)[0], INV)
    expect("close(NULL)", melib.close(None), INV)
    for fn in ("me_elector_start", "me_elector_stop", "me_elector_poll", "me_elector_release", "me_elector_close"):
        expect(f"{fn}(NULL)", call(fn, None, *((False,) if fn.endswith("start") else ())), INV)
    L.me_locker_free(None), L.me_elector_free(None), L.me_client_free(None), L.me_error_free(None)
    L.me_current_lock_free(None), L.me_lock_status_free(None), L.me_node_status_free(None)
    L.me_cluster_detail_free(None), L.me_cancel_free(None)

    st, lk = new_locker("ok-key")
    expect("locker_new(ok-key)", st, OK)
    expect("locked(lk, NULL out)", call("me_locker_locked", lk, None, None), INV)
    expect("owned(lk, NULL out)", call("me_locker_owned", lk, None, None), INV)
    expect("current(lk, NULL out)", call("me_locker_current", lk, None, None), INV)
    expect("locker_status(lk, NULL out)", call("me_locker_status", lk, None, None), INV)
    expect("acquire timeout -2", melib.acquire(lk, True, -2.0, 0.1), INV)
    expect("acquire timeout NaN", melib.acquire(lk, True, math.nan, 0.1), INV)
    expect("acquire timeout -inf", melib.acquire(lk, True, -math.inf, 0.1), INV)
    expect("acquire timeout inf", melib.acquire(lk, True, math.inf, 0.1), INV)
    expect("acquire step NaN", melib.acquire(lk, True, 1.0, math.nan), INV)
    expect("acquire step -1", melib.acquire(lk, True, 1.0, -1.0), INV)
    for bad in (-2.0, math.nan, math.inf, -math.inf):
        expect(f"non-blocking acquire timeout {bad}", melib.acquire(lk, False, bad, 0.25), INV)
    expect("touch never held", call("me_locker_touch", lk, None, None), melib.ME_ERR_NOT_OWNED)
    expect("release never held", melib.release(lk), OK)
    expect("non-blocking acquire with a timeout (one bounded attempt)", melib.acquire(lk, False, 1.0, 0.1), OK)
    expect("release", melib.release(lk), OK)
    # a cancelled token: ME_ERR_CANCELLED, nothing done
    tok = L.me_cancel_new()
    L.me_cancel_cancel(tok)
    expect("acquire with a cancelled token", melib.acquire(lk, True, 5.0, 0.1, cancel=tok), melib.ME_ERR_CANCELLED)
    L.me_cancel_free(tok)

    # Keys that look like operators, paths or ids, a 1 MiB key: plain strings.
    for key in ("$where", "a.b", '{"$gt":""}', "$gt", "victim#1", "victim", "x" * (1 << 20), "é🔒\\u0000"):
        if key == "victim":
            continue
        st, h = new_locker(key)
        if expect(f"locker_new({key[:20]!r})", st, OK) != OK:
            continue
        st = expect(f"acquire({key[:20]!r})", melib.acquire(h, True, 10.0, 0.1), (OK, melib.ME_ERR_DATABASE))
        if st == OK:
            st, cur = melib.current(h)
            expect(f"current({key[:20]!r})", st, OK)
            if cur is None or cur["key"] != key:
                failures.append(f"current({key[:20]!r}) names another key: {str(cur)[:200]}")
            expect(f"release({key[:20]!r})", melib.release(h), OK)
            n = mc[db]["mongolocker"].count_documents({"key": key})
            if n < 2:
                failures.append(f"key {key[:20]!r}: expected its own generation documents, found {n}")
        L.me_locker_free(h)

    # Unreachable server: a clear database error, in bounded time.
    from harness import free_port
    far = melib.client_new(f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300")
    o = melib.LockerOptions()
    L.me_locker_options_init(C.byref(o))
    h = C.c_void_p()
    call("me_locker_new", far, db.encode(), b"k", C.byref(o), C.byref(h))
    t = time.monotonic()
    expect("acquire on unreachable server", melib.acquire(h, True, 2.0, 0.1),
           (melib.ME_ERR_DATABASE, melib.ME_ERR_ACQUIRE_TIMEOUT))
    if time.monotonic() - t > 8:
        failures.append(f"acquire(timeout 2) on an unreachable server took {time.monotonic() - t:.1f}s")
    L.me_locker_free(h)
    L.me_client_free(far)

    # Close, then free, while another thread waits in acquire: the waiter gets ME_ERR_CLOSED.
    st, holder = new_locker("contended")
    expect("holder acquire", melib.acquire(holder, False), OK)
    for how in ("close", "free"):
        st, waiter = new_locker("contended")
        res = {}

        def wait():
            res["st"] = melib.acquire(waiter, True, None, 0.05)
            res["msg"] = melib.last_error()
        th = threading.Thread(target=wait)
        th.start()
        time.sleep(0.5)
        if how == "close":
            expect("close while another thread waits", melib.close(waiter), OK)
        L.me_locker_free(waiter)
        th.join(10)
        if th.is_alive():
            failures.append(f"me_locker_acquire still waiting 10 s after me_locker_{how}")
        elif res.get("st") != melib.ME_ERR_CLOSED or not res.get("msg"):
            failures.append(f"waiter after {how}: {res}")
    melib.close(holder)
    L.me_locker_free(holder)

    # Electors: bad ttl, double start, stop a stopped one, release when not leading.
    for ttl in (0.0, -1.0, math.nan, math.inf):
        eo = melib.ElectorOptions()
        L.me_elector_options_init(C.byref(eo))
        eo.ttl = ttl
        e = C.c_void_p()
        expect(f"elector_new(ttl {ttl})", call("me_elector_new", client, db.encode(), b"el", C.byref(eo), C.byref(e)),
               INV)
    e = C.c_void_p()
    expect("elector_new(NULL key)", call("me_elector_new", client, db.encode(), None, None, C.byref(e)), INV)
    expect("elector_new(defaults)", call("me_elector_new", client, db.encode(), b"$where", None, C.byref(e)), OK)
    expect("elector release when stopped", call("me_elector_release", e), OK)
    expect("elector stop when stopped", call("me_elector_stop", e), OK)
    expect("elector start", call("me_elector_start", e, False), OK)
    expect("elector start again", call("me_elector_start", e, False), melib.ME_ERR_INVALID_STATE)
    expect("leader_exists(NULL out)", call("me_elector_leader_exists", e, None, None), INV)
    expect("elector stop", call("me_elector_stop", e), OK)
    expect("elector stop again", call("me_elector_stop", e), OK)
    ro = L.me_elector_locker(e)
    expect("acquire on the elector's read-only lock", melib.acquire(ro, False), melib.ME_ERR_INVALID_STATE)
    L.me_locker_free(ro)  # read-only view: must be ignored
    expect("elector close", call("me_elector_close", e), OK)
    expect("elector close again", call("me_elector_close", e), OK)
    expect("elector start after close", call("me_elector_start", e, False), melib.ME_ERR_CLOSED)
    L.me_elector_free(e)

    after = sorted(map(repr, mc[db]["mongolocker"].find({"key": {"$in": ["victim"]}}))) + \
        sorted(map(repr, mc[db]["other"].find()))
    victim_before = [b for b in before if "victim" in b and "untouched" in b] + [b for b in before if "'x'" in b]
    if sorted(victim_before) != sorted(after):
        failures.append(f"another key's data changed: before {victim_before}, after {after}")
    lib().me_client_free(client)
    return failures


def test_bad_input_through_the_c_abi(uri, dbname):
    """Property: NULL handles and out-pointers, empty / non-UTF-8 / 1 MiB keys,
    keys that look like operators, paths or our own ids ($where, a.b,
    {"$gt":""}, victim#1), bad database names, ttl 0 / negative / NaN / inf,
    negative, NaN or infinite timeouts and steps, a cancelled token, an elector's
    read-only lock, an unparsable or unreachable URI, starting a running elector,
    stopping a stopped one or starting a closed one, releasing a lock never held,
    and closing or freeing a locker while another thread waits in
    me_locker_acquire each give the documented status
    with a message; nothing crashes; another key's documents and another
    collection are untouched."""
    r = subprocess.run([sys.executable, __file__, uri, dbname], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (f"bad-input child exited {r.returncode} "
                               f"({'signal ' + str(-r.returncode) if r.returncode < 0 else 'failures'}):\n"
                               f"{r.stdout[-6000:]}\n{r.stderr[-3000:]}")


if __name__ == "__main__":
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    fails = run_cases(sys.argv[1], sys.argv[2])
    print("\n".join(fails) or "all bad-input cases behaved")
    sys.exit(1 if fails else 0)
