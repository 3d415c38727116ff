"""ctypes declarations of the libmongoelector C ABI (include/mongoelector.h).

Every function the package calls is declared here with its argtypes and
restype; tests/test_ffi.py checks these against the header. The library is
loaded with ctypes.CDLL, which releases the GIL during each call, so the
elector's own thread can run Python callbacks while another thread is
blocked in the library.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_double,
    c_int,
    c_int64,
    c_size_t,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

__all__ = ["lib", "library_path", "ME_CALLBACK", "ME_LEADER_CALLBACK", "ME_LOG_CALLBACK"]

# me_status values (explicit, never renumbered).
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

if sys.platform == "darwin":
    _NAMES = ("libmongoelector.dylib",)
elif sys.platform == "win32":
    _NAMES = ("mongoelector.dll", "libmongoelector.dll")
else:
    _NAMES = ("libmongoelector.so",)

_PKG_DIR = Path(__file__).resolve().parent


def _candidates() -> list[Path]:
    """Where the library is looked for, in order (MONGOELECTOR_LIBRARY is handled apart)."""
    # Inside the package: where `pip install` puts the library it built.
    dirs = [_PKG_DIR]
    # A checkout's own build, for development: bindings/python/mongoelector -> the
    # repository root when used in place, or the checkout in $MONGOELECTOR_ROOT.
    if len(_PKG_DIR.parents) > 2:
        dirs.append(_PKG_DIR.parents[2] / "target" / "release")
    root = os.environ.get("MONGOELECTOR_ROOT")
    if root:
        dirs.append(Path(root) / "target" / "release")
    return [d / n for d in dirs for n in _NAMES]


def _find() -> str:
    env = os.environ.get("MONGOELECTOR_LIBRARY")
    if env:
        if not Path(env).is_file():
            raise ImportError(
                f"mongoelector: MONGOELECTOR_LIBRARY={env!r} does not name a file; "
                "point it at libmongoelector.so (built by `cargo build --release`)"
            )
        return env
    tried = _candidates()
    for p in tried:
        if p.is_file():
            return str(p)
    raise ImportError(
        "mongoelector: cannot find the native library libmongoelector. Looked at: "
        + ", ".join(str(p) for p in tried)
        + ". Install the package with `pip install ./bindings/python` (it builds the library "
        "into the package), run `cargo build --release` in the mongoelector checkout you "
        "use it from, or set MONGOELECTOR_LIBRARY to the library's path."
    )


library_path = _find()
try:
    lib = ctypes.CDLL(library_path)
except OSError as e:  # pragma: no cover - depends on the machine
    raise ImportError(f"mongoelector: cannot load {library_path}: {e}") from e


# ---- types ----------------------------------------------------------------

ME_CALLBACK = CFUNCTYPE(None, c_void_p)
ME_LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_int, c_char_p)


class me_locker_options(Structure):
    _fields_ = [
        ("dbcollection", c_char_p),
        ("ttl", c_double),
        ("timeparanoid", c_bool),
        ("maxoffset", c_double),
        ("auto_renew", c_bool),
        ("on_lost", ME_CALLBACK),
        ("user_data", c_void_p),
        ("user_data_free", ME_CALLBACK),
    ]


class me_acquire_options(Structure):
    _fields_ = [
        ("blocking", c_bool),
        ("has_timeout", c_bool),
        ("timeout", c_double),
        ("step", c_double),
        ("force", c_bool),
        ("cancel", c_void_p),
    ]


class me_leader_info(Structure):
    _fields_ = [
        ("host", c_char_p),
        ("process_id", c_int64),
        ("uuid", c_char_p),
        ("fence", c_int64),
    ]


ME_LEADER_CALLBACK = CFUNCTYPE(None, c_void_p, POINTER(me_leader_info))


class me_elector_options(Structure):
    _fields_ = [
        ("ttl", c_double),
        ("on_leader", ME_CALLBACK),
        ("on_leader_loss", ME_CALLBACK),
        ("on_loop", ME_CALLBACK),
        ("user_data", c_void_p),
        ("user_data_free", ME_CALLBACK),
        ("app_version", c_char_p),
        ("report_status", c_bool),
        ("on_new_leader", ME_LEADER_CALLBACK),
    ]


# Records: strings are owned by the record (c_char_p reads copy them), freed
# with the record's own *_free.
class me_current_lock(Structure):
    _fields_ = [
        ("key", c_char_p),
        ("locked", c_bool),
        ("host", c_char_p),
        ("uuid", c_char_p),
        ("pid", c_int64),
        ("ts_created_ms", c_int64),
        ("ts_expire_ms", c_int64),
        ("fence", c_int64),
    ]


class me_lock_status(Structure):
    _fields_ = [
        ("uuid", c_char_p),
        ("key", c_char_p),
        ("ttl", c_double),
        ("timestamp_ms", c_int64),
        ("host", c_char_p),
        ("pid", c_int64),
        ("lock_owned", c_bool),
        ("lock_created_ms", c_int64),
        ("lock_expires_ms", c_int64),
        ("fence", c_int64),
    ]


class me_node_status(Structure):
    _fields_ = [
        ("lock", me_lock_status),
        ("is_leader", c_bool),
        ("elector_running", c_bool),
        ("has_last_poll", c_bool),
        ("last_poll_ms", c_int64),
        ("app_version", c_char_p),
    ]


class me_stats(Structure):
    _fields_ = [
        ("acquisitions", c_uint64),
        ("renewals", c_uint64),
        ("failed_renewals", c_uint64),
        ("losses", c_uint64),
        ("takeovers_seen", c_uint64),
        ("leader_transitions", c_uint64),
        ("round_trips", c_uint64),
        ("last_round_trip", c_double),
        ("max_round_trip", c_double),
        ("lease_left", c_double),
    ]


class me_cluster_detail(Structure):
    _fields_ = [
        ("members", POINTER(me_node_status)),
        ("member_count", c_size_t),
        ("has_leader", c_bool),
        ("leader", me_leader_info),
        ("timestamp_ms", c_int64),
    ]


# ---- functions --------------------------------------------------------------
# Opaque handles travel as c_void_p; every fallible function takes a last
# me_error ** (_E).

_H = c_void_p
_S = c_int
_E = POINTER(c_void_p)
_OUT = POINTER(c_void_p)

SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "me_error_status": (_S, [_H]),
    "me_error_message": (c_char_p, [_H]),
    "me_error_free": (None, [_H]),
    "me_cancel_new": (_H, []),
    "me_cancel_cancel": (None, [_H]),
    "me_cancel_is_cancelled": (c_bool, [_H]),
    "me_cancel_wait": (c_bool, [_H, c_double]),
    "me_cancel_free": (None, [_H]),
    "me_client_new": (_S, [c_char_p, _OUT, _E]),
    "me_client_free": (None, [_H]),
    "me_elector_options_init": (None, [POINTER(me_elector_options)]),
    "me_elector_new": (_S, [_H, c_char_p, c_char_p, POINTER(me_elector_options), _OUT, _E]),
    "me_elector_start": (_S, [_H, c_bool, _E]),
    "me_elector_run": (_S, [_H, _H, _E]),
    "me_elector_stop": (_S, [_H, _E]),
    "me_elector_poll": (_S, [_H, _E]),
    "me_elector_release": (_S, [_H, _E]),
    "me_elector_is_leader": (c_bool, [_H]),
    "me_elector_leader_exists": (_S, [_H, _H, POINTER(c_bool), _E]),
    "me_elector_running": (c_bool, [_H]),
    "me_elector_poll_wait": (c_double, [_H]),
    "me_elector_ttl": (c_double, [_H]),
    "me_elector_key": (c_char_p, [_H]),
    "me_elector_locker": (_H, [_H]),
    "me_elector_node_status": (_S, [_H, _H, POINTER(POINTER(me_node_status)), _E]),
    "me_elector_cluster_detail": (_S, [_H, _H, POINTER(POINTER(me_cluster_detail)), _E]),
    "me_elector_close": (_S, [_H, _E]),
    "me_elector_term_token": (_H, [_H, POINTER(c_int64)]),
    "me_elector_leader": (_S, [_H, POINTER(POINTER(me_leader_info)), POINTER(c_int64), _E]),
    "me_elector_healthy": (c_bool, [_H, c_double, POINTER(c_char_p)]),
    "me_elector_stats": (c_bool, [_H, POINTER(me_stats)]),
    "me_elector_free": (None, [_H]),
    "me_locker_options_init": (None, [POINTER(me_locker_options)]),
    "me_acquire_options_init": (None, [POINTER(me_acquire_options)]),
    "me_locker_new": (_S, [_H, c_char_p, c_char_p, POINTER(me_locker_options), _OUT, _E]),
    "me_locker_acquire": (_S, [_H, POINTER(me_acquire_options), _E]),
    "me_locker_release": (_S, [_H, c_bool, _H, POINTER(c_bool), _E]),
    "me_locker_touch": (_S, [_H, _H, POINTER(c_int64), _E]),
    "me_locker_locked": (_S, [_H, _H, POINTER(c_bool), _E]),
    "me_locker_owned": (_S, [_H, _H, POINTER(c_bool), _E]),
    "me_locker_current": (_S, [_H, _H, POINTER(POINTER(me_current_lock)), _E]),
    "me_locker_status": (_S, [_H, _H, POINTER(POINTER(me_lock_status)), _E]),
    "me_locker_close": (_S, [_H, _E]),
    "me_locker_free": (None, [_H]),
    "me_locker_held": (c_bool, [_H]),
    "me_locker_lease_token": (_H, [_H, POINTER(c_int64)]),
    "me_locker_stats": (c_bool, [_H, POINTER(me_stats)]),
    "me_locker_key": (c_char_p, [_H]),
    "me_locker_uuid": (c_char_p, [_H]),
    "me_locker_host": (c_char_p, [_H]),
    "me_locker_dbcollection": (c_char_p, [_H]),
    "me_locker_db_name": (c_char_p, [_H]),
    "me_locker_pid": (c_int64, [_H]),
    "me_locker_ts_expire": (c_bool, [_H, POINTER(c_int64)]),
    "me_locker_fence": (c_int64, [_H]),
    "me_locker_ttl": (c_double, [_H]),
    "me_locker_maxoffset": (c_double, [_H]),
    "me_locker_timeparanoid": (c_bool, [_H]),
    "me_locker_verify_time": (_S, [_H, POINTER(me_acquire_options), _E]),
    "me_set_log_callback": (None, [ME_LOG_CALLBACK, c_int, c_void_p]),
    "me_current_lock_free": (None, [POINTER(me_current_lock)]),
    "me_lock_status_free": (None, [POINTER(me_lock_status)]),
    "me_node_status_free": (None, [POINTER(me_node_status)]),
    "me_cluster_detail_free": (None, [POINTER(me_cluster_detail)]),
    "me_leader_info_free": (None, [POINTER(me_leader_info)]),
    "me_version": (c_char_p, []),
    "me_status_name": (c_char_p, [c_int]),
    "me_last_error_message": (c_char_p, []),
}

_missing = []
for _name, (_res, _args) in SIGNATURES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        _missing.append(_name)
        continue
    _fn.restype = _res
    _fn.argtypes = _args
if _missing:
    raise ImportError(
        f"mongoelector: {library_path} lacks {', '.join(_missing)}; it is not a matching "
        "libmongoelector (rebuild it with `cargo build --release`)"
    )
del _name, _res, _args, _missing


def immortal(callback: _T) -> _T:
    """A ctypes callback kept alive to the end of the process, module teardown
    included: native threads may call it as late as that."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(callback))
    return callback


def version() -> str:
    """The native library's version, e.g. "0.2.0"."""
    return str(lib.me_version().decode())


def status_name(status: int) -> str:
    return str(lib.me_status_name(status).decode())
