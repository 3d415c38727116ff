"""ctypes access to the mongoelector C ABI 0.2 (include/mongoelector.h), for the
reliability suite. Only what the tests need; signatures mirror the header.
Every fallible call goes through `call`, which passes an `me_error **`, keeps the
error's message for `last_error()` on this thread and frees it; records are read
from their structs (and freed) into dicts."""

import ctypes as C
import os
import threading

ROOT = os.environ.get("MONGOELECTOR_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
LIB_PATH = os.path.join(ROOT, "target", "release", "libmongoelector.so")

ME_OK = 0
ME_ERR_INVALID_ARGUMENT = 1
ME_ERR_LOCK_EXISTS = 2
ME_ERR_ACQUIRE_TIMEOUT = 3
ME_ERR_TIME_OFFSET = 4
ME_ERR_NOT_OWNED = 5
ME_ERR_DATABASE = 6
ME_ERR_INVALID_STATE = 7
ME_ERR_CANCELLED = 8
ME_ERR_CLOSED = 9
ME_ERR_INTERNAL = 99
ME_NO_TIMEOUT = None  # acquire(): has_timeout false

CALLBACK = C.CFUNCTYPE(None, C.c_void_p)
LEADER_CALLBACK = C.CFUNCTYPE(None, C.c_void_p, C.c_void_p)  # (user_data, const me_leader_info *)
LOG_CALLBACK = C.CFUNCTYPE(None, C.c_void_p, C.c_int, C.c_char_p)


# The options structs are complete (every field of the header's, in order): their *_init
# functions write all of them.
class LockerOptions(C.Structure):
    _fields_ = [("dbcollection", C.c_char_p), ("ttl", C.c_double),
                ("timeparanoid", C.c_bool), ("maxoffset", C.c_double),
                ("auto_renew", C.c_bool), ("on_lost", CALLBACK), ("user_data", C.c_void_p),
                ("user_data_free", CALLBACK)]


class ElectorOptions(C.Structure):
    _fields_ = [("ttl", C.c_double), ("on_leader", CALLBACK), ("on_leader_loss", CALLBACK),
                ("on_loop", CALLBACK), ("user_data", C.c_void_p), ("user_data_free", CALLBACK),
                ("app_version", C.c_char_p), ("report_status", C.c_bool),
                ("on_new_leader", LEADER_CALLBACK)]


class Stats(C.Structure):
    _fields_ = [("acquisitions", C.c_uint64), ("renewals", C.c_uint64), ("failed_renewals", C.c_uint64),
                ("losses", C.c_uint64), ("takeovers_seen", C.c_uint64), ("leader_transitions", C.c_uint64),
                ("round_trips", C.c_uint64), ("last_round_trip", C.c_double), ("max_round_trip", C.c_double),
                ("lease_left", C.c_double)]


class AcquireOptions(C.Structure):
    _fields_ = [("blocking", C.c_bool), ("has_timeout", C.c_bool), ("timeout", C.c_double),
                ("step", C.c_double), ("force", C.c_bool), ("cancel", C.c_void_p)]


class CurrentLock(C.Structure):
    _fields_ = [("key", C.c_char_p), ("locked", C.c_bool), ("host", C.c_char_p), ("uuid", C.c_char_p),
                ("pid", C.c_int64), ("ts_created_ms", C.c_int64), ("ts_expire_ms", C.c_int64),
                ("fence", C.c_int64)]


class LockStatus(C.Structure):
    _fields_ = [("uuid", C.c_char_p), ("key", C.c_char_p), ("ttl", C.c_double), ("timestamp_ms", C.c_int64),
                ("host", C.c_char_p), ("pid", C.c_int64), ("lock_owned", C.c_bool),
                ("lock_created_ms", C.c_int64), ("lock_expires_ms", C.c_int64), ("fence", C.c_int64)]


class NodeStatus(C.Structure):
    _fields_ = [("lock", LockStatus), ("is_leader", C.c_bool), ("elector_running", C.c_bool),
                ("has_last_poll", C.c_bool), ("last_poll_ms", C.c_int64), ("app_version", C.c_char_p)]


class LeaderInfo(C.Structure):
    _fields_ = [("host", C.c_char_p), ("process_id", C.c_int64), ("uuid", C.c_char_p), ("fence", C.c_int64)]


class ClusterDetail(C.Structure):
    _fields_ = [("members", C.POINTER(NodeStatus)), ("member_count", C.c_size_t), ("has_leader", C.c_bool),
                ("leader", LeaderInfo), ("timestamp_ms", C.c_int64)]


P = C.c_void_p
PP = C.POINTER(C.c_void_p)
E = C.POINTER(C.c_void_p)  # me_error **
B = C.POINTER(C.c_bool)
I64 = C.POINTER(C.c_int64)
_SIGS = {
    "me_version": (C.c_char_p, []),
    "me_status_name": (C.c_char_p, [C.c_int]),
    "me_last_error_message": (C.c_char_p, []),
    "me_error_status": (C.c_int, [P]),
    "me_error_message": (C.c_char_p, [P]),
    "me_error_free": (None, [P]),
    "me_cancel_new": (P, []),
    "me_cancel_cancel": (None, [P]),
    "me_cancel_free": (None, [P]),
    "me_cancel_is_cancelled": (C.c_bool, [P]),
    "me_cancel_wait": (C.c_bool, [P, C.c_double]),
    "me_client_new": (C.c_int, [C.c_char_p, PP, E]),
    "me_client_free": (None, [P]),
    "me_locker_options_init": (None, [C.POINTER(LockerOptions)]),
    "me_acquire_options_init": (None, [C.POINTER(AcquireOptions)]),
    "me_locker_new": (C.c_int, [P, C.c_char_p, C.c_char_p, C.POINTER(LockerOptions), PP, E]),
    "me_locker_acquire": (C.c_int, [P, C.POINTER(AcquireOptions), E]),
    "me_locker_release": (C.c_int, [P, C.c_bool, P, B, E]),
    "me_locker_touch": (C.c_int, [P, P, I64, E]),
    "me_locker_locked": (C.c_int, [P, P, B, E]),
    "me_locker_owned": (C.c_int, [P, P, B, E]),
    "me_locker_current": (C.c_int, [P, P, C.POINTER(C.POINTER(CurrentLock)), E]),
    "me_locker_status": (C.c_int, [P, P, C.POINTER(C.POINTER(LockStatus)), E]),
    "me_locker_close": (C.c_int, [P, E]),
    "me_locker_free": (None, [P]),
    "me_locker_key": (C.c_char_p, [P]),
    "me_locker_uuid": (C.c_char_p, [P]),
    "me_locker_fence": (C.c_int64, [P]),
    "me_locker_ttl": (C.c_double, [P]),
    "me_locker_ts_expire": (C.c_bool, [P, I64]),
    "me_locker_held": (C.c_bool, [P]),
    "me_locker_lease_token": (P, [P, I64]),
    "me_locker_stats": (C.c_bool, [P, C.POINTER(Stats)]),
    "me_current_lock_free": (None, [C.POINTER(CurrentLock)]),
    "me_lock_status_free": (None, [C.POINTER(LockStatus)]),
    "me_node_status_free": (None, [C.POINTER(NodeStatus)]),
    "me_cluster_detail_free": (None, [C.POINTER(ClusterDetail)]),
    "me_elector_options_init": (None, [C.POINTER(ElectorOptions)]),
    "me_elector_new": (C.c_int, [P, C.c_char_p, C.c_char_p, C.POINTER(ElectorOptions), PP, E]),
    "me_elector_start": (C.c_int, [P, C.c_bool, E]),
    "me_elector_stop": (C.c_int, [P, E]),
    "me_elector_poll": (C.c_int, [P, E]),
    "me_elector_release": (C.c_int, [P, E]),
    "me_elector_close": (C.c_int, [P, E]),
    "me_elector_is_leader": (C.c_bool, [P]),
    "me_elector_leader_exists": (C.c_int, [P, P, B, E]),
    "me_elector_running": (C.c_bool, [P]),
    "me_elector_node_status": (C.c_int, [P, P, C.POINTER(C.POINTER(NodeStatus)), E]),
    "me_elector_cluster_detail": (C.c_int, [P, P, C.POINTER(C.POINTER(ClusterDetail)), E]),
    "me_elector_locker": (P, [P]),
    "me_elector_free": (None, [P]),
    "me_set_log_callback": (None, [LOG_CALLBACK, C.c_int, P]),
}

_lib = None


def lib():
    """The loaded library, with argument and result types set."""
    global _lib
    if _lib is None:
        l = C.CDLL(LIB_PATH)
        for name, (res, args) in _SIGS.items():
            f = getattr(l, name)
            f.restype = res
            f.argtypes = args
        _lib = l
    return _lib


def status_name(st):
    return lib().me_status_name(st).decode()


_tls = threading.local()


def last_error():
    """The message of this thread's last failed `call` (from its me_error), "" after a success."""
    return getattr(_tls, "message", "")


def call(name, *args):
    """Calls a fallible function with an `me_error **` last; keeps the error's message for
    last_error() (checking it carries the returned status) and frees it. Returns the status."""
    err = C.c_void_p()
    st = getattr(lib(), name)(*args, C.byref(err))
    if st == ME_OK:
        assert not err, f"{name}: *err set on success"
        _tls.message = ""
    else:
        assert err, f"{name}: {status_name(st)} without an me_error"
        est = lib().me_error_status(err)
        assert est == st, f"{name}: returned {status_name(st)}, me_error_status {status_name(est)}"
        _tls.message = lib().me_error_message(err).decode("utf-8", "replace")
        lib().me_error_free(err)
    return st


class MeError(Exception):
    def __init__(self, call_name, status, message):
        super().__init__(f"{call_name} -> {status_name(status)}: {message}")
        self.status = status
        self.message = message


def check(call_name, st):
    if st != ME_OK:
        raise MeError(call_name, st, last_error())


def b(s):
    return s if isinstance(s, (bytes, type(None))) else s.encode()


def _s(p):
    return None if p is None else p.decode("utf-8", "replace")


def client_new(uri):
    out = C.c_void_p()
    check("me_client_new", call("me_client_new", b(uri), C.byref(out)))
    return out


def locker_new(client, db, key, ttl=10.0, timeparanoid=True, collection=None, auto_renew=False,
               maxoffset=None):
    opts = LockerOptions()
    lib().me_locker_options_init(C.byref(opts))
    opts.ttl = ttl
    opts.timeparanoid = timeparanoid
    opts.auto_renew = auto_renew
    if maxoffset is not None:
        opts.maxoffset = maxoffset
    if collection is not None:
        opts.dbcollection = b(collection)
    out = C.c_void_p()
    check("me_locker_new", call("me_locker_new", client, b(db), b(key), C.byref(opts), C.byref(out)))
    return out


def acquire(locker, blocking=True, timeout=None, step=0.25, force=False, cancel=None):
    """me_locker_acquire with options from me_acquire_options_init; timeout None: none."""
    o = AcquireOptions()
    lib().me_acquire_options_init(C.byref(o))
    o.blocking = blocking
    if timeout is not None:
        o.has_timeout = True
        o.timeout = timeout
    o.step = step
    o.force = force
    o.cancel = cancel
    return call("me_locker_acquire", locker, C.byref(o))


def release(locker, force=False):
    return call("me_locker_release", locker, force, None, None)


def close(locker):
    return call("me_locker_close", locker)


def current(locker):
    """(status, dict or None) from me_locker_current."""
    out = C.POINTER(CurrentLock)()
    st = call("me_locker_current", locker, None, C.byref(out))
    if st != ME_OK or not out:
        return st, None
    r = out.contents
    d = dict(key=_s(r.key), locked=r.locked, host=_s(r.host), uuid=_s(r.uuid), pid=r.pid,
             ts_created_ms=r.ts_created_ms, ts_expire_ms=r.ts_expire_ms, fence=r.fence)
    lib().me_current_lock_free(out)
    return st, d


def lease_token(locker):
    """(token or None, fence) from me_locker_lease_token; free the token with me_cancel_free."""
    fence = C.c_int64(0)
    t = lib().me_locker_lease_token(locker, C.byref(fence))
    return (C.c_void_p(t) if t else None), fence.value


def stats(locker):
    s = Stats()
    assert lib().me_locker_stats(locker, C.byref(s))
    return {name: getattr(s, name) for name, _ in Stats._fields_}


def _lock_status(r):
    return dict(uuid=_s(r.uuid), key=_s(r.key), ttl=r.ttl, timestamp_ms=r.timestamp_ms, host=_s(r.host),
                pid=r.pid, lock_owned=r.lock_owned, lock_created_ms=r.lock_created_ms,
                lock_expires_ms=r.lock_expires_ms, fence=r.fence)


def _node_status(r):
    return dict(lock=_lock_status(r.lock), is_leader=r.is_leader, elector_running=r.elector_running,
                last_poll_ms=r.last_poll_ms if r.has_last_poll else None, app_version=_s(r.app_version))


def lock_status(locker):
    out = C.POINTER(LockStatus)()
    st = call("me_locker_status", locker, None, C.byref(out))
    if st != ME_OK:
        return st, None
    d = _lock_status(out.contents)
    lib().me_lock_status_free(out)
    return st, d


def node_status(elector):
    out = C.POINTER(NodeStatus)()
    st = call("me_elector_node_status", elector, None, C.byref(out))
    if st != ME_OK:
        return st, None
    d = _node_status(out.contents)
    lib().me_node_status_free(out)
    return st, d


def cluster_detail(elector):
    out = C.POINTER(ClusterDetail)()
    st = call("me_elector_cluster_detail", elector, None, C.byref(out))
    if st != ME_OK:
        return st, None
    r = out.contents
    li = r.leader
    d = dict(members=[_node_status(r.members[i]) for i in range(r.member_count)],
             leader=dict(host=_s(li.host), process_id=li.process_id, uuid=_s(li.uuid), fence=li.fence)
             if r.has_leader else None, timestamp_ms=r.timestamp_ms)
    lib().me_cluster_detail_free(out)
    return st, d


def mono_ns():
    import time
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)
