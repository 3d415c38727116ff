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
    expect("client_new(NULL uri)", L.me_client_new(None, C.byref(out)), INV)
    expect("client_new(uri, NULL out)", L.me_client_new(uri.encode(), None), INV)
    expect("client_new(unparsable)", L.me_client_new(b"not a uri", C.byref(out)), INV)
    expect("client_new(non-UTF-8)", L.me_client_new(b"mongodb://\xff\xfe/", C.byref(out)), INV)
    client = melib.client_new(uri)

    def new_locker(key, ttl=5.0, dbn=db, opts=True, outp=True):
        o = melib.LockerOptions()
        L.me_locker_options_init(C.byref(o))
        o.ttl = ttl
        h = C.c_void_p()
        st = L.me_locker_new(client, None if dbn is None else melib.b(dbn), None if key is None else melib.b(key),
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
    expect("locker_new(NULL client)", L.me_locker_new(None, db.encode(), b"k", None, C.byref(out)), INV)

    # NULL handles and out-pointers.
    expect("acquire(NULL)", L.me_acquire(None, True, 1.0, 0.1, False), INV)
    expect("release(NULL)", L.me_release(None, False), INV)
    expect("touch(NULL)", L.me_touch(None, None), INV)
    expect("locked(NULL)", L.me_locked(None, C.byref(C.c_bool())), INV)
    expect("get_current(NULL)", L.me_get_current(None, C.byref(C.c_void_p())), INV)
    for fn in ("me_elector_start", "me_elector_stop", "me_elector_poll", "me_elector_release"):
        expect(f"{fn}(NULL)", getattr(L, fn)(None, *((False,) if fn.endswith("start") else ())), INV)
    L.me_locker_free(None), L.me_elector_free(None), L.me_client_free(None), L.me_string_free(None)

    st, lk = new_locker("ok-key")
    expect("locker_new(ok-key)", st, OK)
    expect("locked(lk, NULL out)", L.me_locked(lk, None), INV)
    expect("owned(lk, NULL out)", L.me_owned(lk, None), INV)
    expect("get_current(lk, NULL out)", L.me_get_current(lk, None), INV)
    expect("locker_status(lk, NULL out)", L.me_locker_status(lk, None), INV)
    expect("acquire timeout -2", L.me_acquire(lk, True, -2.0, 0.1, False), INV)
    expect("acquire timeout NaN", L.me_acquire(lk, True, math.nan, 0.1, False), INV)
    expect("acquire timeout -inf", L.me_acquire(lk, True, -math.inf, 0.1, False), INV)
    expect("acquire step NaN", L.me_acquire(lk, True, 1.0, math.nan, False), INV)
    expect("acquire step -1", L.me_acquire(lk, True, 1.0, -1.0, False), INV)
    expect("acquire blocking=false with timeout", L.me_acquire(lk, False, 1.0, 0.1, False), INV)
    expect("try_acquire(NULL)", L.me_try_acquire(None, 1.0, False), INV)
    for bad in (-2.0, math.nan, math.inf, -math.inf):
        expect(f"try_acquire timeout {bad}", L.me_try_acquire(lk, bad, False), INV)
    expect("touch never held", L.me_touch(lk, None), melib.ME_ERR_NOT_OWNED)
    expect("release never held", L.me_release(lk, False), OK)

    # Keys that look like operators, paths or ids, a 1 MiB key: plain strings.
    for key in ("$where", "a.b", '{"$gt":""}', "$gt", "victim#1", "victim", "x" * (1 << 20), "é🔒\\u0000"):
        if key == "victim":
            continue
        st, h = new_locker(key)
        if expect(f"locker_new({key[:20]!r})", st, OK) != OK:
            continue
        st = expect(f"acquire({key[:20]!r})", L.me_acquire(h, True, 10.0, 0.1, False), (OK, melib.ME_ERR_DATABASE))
        if st == OK:
            cur = C.c_void_p()
            expect(f"get_current({key[:20]!r})", L.me_get_current(h, C.byref(cur)), OK)
            js = melib.take_string(cur)
            import json
            if json.loads(js)["_id"] != key:
                failures.append(f"get_current({key[:20]!r}) names another key: {js[:200]}")
            expect(f"release({key[:20]!r})", L.me_release(h, False), OK)
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
    L.me_locker_new(far, db.encode(), b"k", C.byref(o), C.byref(h))
    t = time.monotonic()
    expect("acquire on unreachable server", L.me_acquire(h, True, 2.0, 0.1, False),
           (melib.ME_ERR_DATABASE, melib.ME_ERR_ACQUIRE_TIMEOUT))
    if time.monotonic() - t > 8:
        failures.append(f"acquire(timeout 2) on an unreachable server took {time.monotonic() - t:.1f}s")
    L.me_locker_free(h)
    L.me_client_free(far)

    # Free while another thread waits in acquire: the waiter gets ME_ERR_INVALID_STATE.
    st, holder = new_locker("contended")
    expect("holder acquire", L.me_acquire(holder, False, -1.0, 0.1, False), OK)
    st, waiter = new_locker("contended")
    res = {}

    def wait():
        res["st"] = L.me_acquire(waiter, True, melib.ME_NO_TIMEOUT, 0.05, False)
        res["msg"] = melib.last_error()
    th = threading.Thread(target=wait)
    th.start()
    time.sleep(0.5)
    L.me_locker_free(waiter)
    th.join(10)
    if th.is_alive():
        failures.append("me_acquire still waiting 10 s after me_locker_free")
    elif res.get("st") != melib.ME_ERR_INVALID_STATE:
        failures.append(f"waiter after free: {res}")
    L.me_locker_free(holder)

    # Electors: bad ttl, double start, stop a stopped one, release when not leading.
    for ttl in (0.0, -1.0, math.nan, math.inf):
        eo = melib.ElectorOptions()
        L.me_elector_options_init(C.byref(eo))
        eo.ttl = ttl
        e = C.c_void_p()
        expect(f"elector_new(ttl {ttl})", L.me_elector_new(client, db.encode(), b"el", C.byref(eo), C.byref(e)), INV)
    e = C.c_void_p()
    expect("elector_new(NULL key)", L.me_elector_new(client, db.encode(), None, None, C.byref(e)), INV)
    expect("elector_new(defaults)", L.me_elector_new(client, db.encode(), b"$where", None, C.byref(e)), OK)
    expect("elector release when stopped", L.me_elector_release(e), OK)
    expect("elector stop when stopped", L.me_elector_stop(e), OK)
    expect("elector start", L.me_elector_start(e, False), OK)
    expect("elector start again", L.me_elector_start(e, False), melib.ME_ERR_INVALID_STATE)
    expect("is_leader(NULL out)", L.me_elector_is_leader(e, None), INV)
    expect("elector stop", L.me_elector_stop(e), OK)
    expect("elector stop again", L.me_elector_stop(e), OK)
    L.me_locker_free(L.me_elector_locker(e))  # borrowed: must be ignored
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
    negative or NaN timeouts and steps other than ME_NO_TIMEOUT, blocking=false
    with a timeout, an unparsable or unreachable URI, starting a running elector,
    stopping a stopped one, releasing a lock never held, and freeing a locker
    while another thread waits in me_acquire each give the documented status
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
