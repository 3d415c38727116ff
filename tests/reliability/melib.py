"""ctypes access to the mongoelector C ABI (include/mongoelector.h), for the
reliability suite. Only what the tests need; signatures mirror the header."""

import ctypes as C
import os

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
ME_ERR_INTERNAL = 99
ME_NO_TIMEOUT = -1.0

CALLBACK = C.CFUNCTYPE(None, C.c_void_p)
LOG_CALLBACK = C.CFUNCTYPE(None, C.c_void_p, C.c_int, C.c_char_p)


class LockerOptions(C.Structure):
    _fields_ = [("dbcollection", C.c_char_p), ("ttl", C.c_double),
                ("timeparanoid", C.c_bool), ("maxoffset", C.c_double)]


class ElectorOptions(C.Structure):
    _fields_ = [("ttl", C.c_double), ("on_leader", CALLBACK), ("on_leader_loss", CALLBACK),
                ("on_loop", CALLBACK), ("user_data", C.c_void_p),
                ("app_version", C.c_char_p), ("report_status", C.c_bool)]


P = C.c_void_p
PP = C.POINTER(C.c_void_p)
_SIGS = {
    "me_version": (C.c_char_p, []),
    "me_status_name": (C.c_char_p, [C.c_int]),
    "me_last_error_message": (C.c_char_p, []),
    "me_string_free": (None, [P]),
    "me_client_new": (C.c_int, [C.c_char_p, PP]),
    "me_client_free": (None, [P]),
    "me_locker_options_init": (None, [C.POINTER(LockerOptions)]),
    "me_locker_new": (C.c_int, [P, C.c_char_p, C.c_char_p, C.POINTER(LockerOptions), PP]),
    "me_locker_free": (None, [P]),
    "me_acquire": (C.c_int, [P, C.c_bool, C.c_double, C.c_double, C.c_bool]),
    "me_try_acquire": (C.c_int, [P, C.c_double, C.c_bool]),
    "me_release": (C.c_int, [P, C.c_bool]),
    "me_touch": (C.c_int, [P, C.POINTER(C.c_int64)]),
    "me_locked": (C.c_int, [P, C.POINTER(C.c_bool)]),
    "me_owned": (C.c_int, [P, C.POINTER(C.c_bool)]),
    "me_get_current": (C.c_int, [P, PP]),
    "me_locker_status": (C.c_int, [P, PP]),
    "me_locker_key": (C.c_char_p, [P]),
    "me_locker_uuid": (C.c_char_p, [P]),
    "me_locker_fence": (C.c_int64, [P]),
    "me_locker_ttl": (C.c_double, [P]),
    "me_elector_options_init": (None, [C.POINTER(ElectorOptions)]),
    "me_elector_new": (C.c_int, [P, C.c_char_p, C.c_char_p, C.POINTER(ElectorOptions), PP]),
    "me_elector_start": (C.c_int, [P, C.c_bool]),
    "me_elector_stop": (C.c_int, [P]),
    "me_elector_poll": (C.c_int, [P]),
    "me_elector_release": (C.c_int, [P]),
    "me_elector_is_leader": (C.c_int, [P, C.POINTER(C.c_bool)]),
    "me_elector_leader_exists": (C.c_int, [P, C.POINTER(C.c_bool)]),
    "me_elector_running": (C.c_bool, [P]),
    "me_elector_node_status": (C.c_int, [P, PP]),
    "me_elector_cluster_detail": (C.c_int, [P, PP]),
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


def last_error():
    return lib().me_last_error_message().decode("utf-8", "replace")


def take_string(p):
    """Copies and frees a char* returned through an out-parameter (None for NULL)."""
    if not p:
        return None
    s = C.string_at(p).decode("utf-8", "replace")
    lib().me_string_free(p)
    return s


class MeError(Exception):
    def __init__(self, call, status, message):
        super().__init__(f"{call} -> {status_name(status)}: {message}")
        self.status = status
        self.message = message


def check(call, st):
    if st != ME_OK:
        raise MeError(call, st, last_error())


def b(s):
    return s if isinstance(s, (bytes, type(None))) else s.encode()


def client_new(uri):
    out = C.c_void_p()
    check("me_client_new", lib().me_client_new(b(uri), C.byref(out)))
    return out


def locker_new(client, db, key, ttl=10.0, timeparanoid=True, collection=None):
    opts = LockerOptions()
    lib().me_locker_options_init(C.byref(opts))
    opts.ttl = ttl
    opts.timeparanoid = timeparanoid
    if collection is not None:
        opts.dbcollection = b(collection)
    out = C.c_void_p()
    check("me_locker_new", lib().me_locker_new(client, b(db), b(key), C.byref(opts), C.byref(out)))
    return out


def mono_ns():
    import time
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)
