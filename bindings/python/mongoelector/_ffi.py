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
    c_void_p,
)
from pathlib import Path

__all__ = ["lib", "library_path", "ME_NO_TIMEOUT", "ME_CALLBACK", "ME_LOG_CALLBACK"]

# me_status values (explicit, never renumbered).
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


class me_locker_options(Structure):
    _fields_ = [
        ("dbcollection", c_char_p),
        ("ttl", c_double),
        ("timeparanoid", c_bool),
        ("maxoffset", c_double),
    ]


ME_CALLBACK = CFUNCTYPE(None, c_void_p)
ME_LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_int, c_char_p)


class me_elector_options(Structure):
    _fields_ = [
        ("ttl", c_double),
        ("on_leader", ME_CALLBACK),
        ("on_leader_loss", ME_CALLBACK),
        ("on_loop", ME_CALLBACK),
        ("user_data", c_void_p),
        ("app_version", c_char_p),
        ("report_status", c_bool),
    ]


# Opaque handles travel as c_void_p. Owned strings (char ** out-parameters)
# come back as c_void_p and are freed with me_string_free.
_H = c_void_p
_STATUS = c_int
_PSTR = POINTER(c_void_p)

SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "me_version": (c_char_p, []),
    "me_status_name": (c_char_p, [c_int]),
    "me_last_error_message": (c_char_p, []),
    "me_string_free": (None, [c_void_p]),
    "me_client_new": (_STATUS, [c_char_p, POINTER(c_void_p)]),
    "me_client_free": (None, [_H]),
    "me_locker_options_init": (None, [POINTER(me_locker_options)]),
    "me_locker_new": (_STATUS, [_H, c_char_p, c_char_p, POINTER(me_locker_options), POINTER(c_void_p)]),
    "me_locker_free": (None, [_H]),
    "me_acquire": (_STATUS, [_H, c_bool, c_double, c_double, c_bool]),
    "me_try_acquire": (_STATUS, [_H, c_double, c_bool]),
    "me_release": (_STATUS, [_H, c_bool]),
    "me_touch": (_STATUS, [_H, POINTER(c_int64)]),
    "me_locked": (_STATUS, [_H, POINTER(c_bool)]),
    "me_owned": (_STATUS, [_H, POINTER(c_bool)]),
    "me_get_current": (_STATUS, [_H, _PSTR]),
    "me_locker_status": (_STATUS, [_H, _PSTR]),
    "me_locker_key": (c_char_p, [_H]),
    "me_locker_uuid": (c_char_p, [_H]),
    "me_locker_host": (c_char_p, [_H]),
    "me_locker_pid": (c_int64, [_H]),
    "me_locker_ts_expire": (c_bool, [_H, POINTER(c_int64)]),
    "me_locker_fence": (c_int64, [_H]),
    "me_locker_ttl": (c_double, [_H]),
    "me_elector_options_init": (None, [POINTER(me_elector_options)]),
    "me_elector_new": (_STATUS, [_H, c_char_p, c_char_p, POINTER(me_elector_options), POINTER(c_void_p)]),
    "me_elector_start": (_STATUS, [_H, c_bool]),
    "me_elector_stop": (_STATUS, [_H]),
    "me_elector_poll": (_STATUS, [_H]),
    "me_elector_release": (_STATUS, [_H]),
    "me_elector_is_leader": (_STATUS, [_H, POINTER(c_bool)]),
    "me_elector_leader_exists": (_STATUS, [_H, POINTER(c_bool)]),
    "me_elector_running": (c_bool, [_H]),
    "me_elector_poll_wait": (c_double, [_H]),
    "me_elector_ttl": (c_double, [_H]),
    "me_elector_key": (c_char_p, [_H]),
    "me_elector_locker": (_H, [_H]),
    "me_elector_node_status": (_STATUS, [_H, _PSTR]),
    "me_elector_cluster_detail": (_STATUS, [_H, _PSTR]),
    "me_elector_free": (None, [_H]),
    "me_set_log_callback": (None, [ME_LOG_CALLBACK, c_int, c_void_p]),
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


def version() -> str:
    """The native library's version, e.g. "0.1.0"."""
    return lib.me_version().decode()


def status_name(status: int) -> str:
    return lib.me_status_name(status).decode()


def last_error() -> str:
    """This thread's message for its last failed call (read right after it)."""
    msg = lib.me_last_error_message()
    return msg.decode("utf-8", "replace") if msg else ""


def take_string(ptr: c_void_p) -> str | None:
    """Copies an owned char * out-parameter and frees it."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib.me_string_free(ptr)
