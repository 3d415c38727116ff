"""mongoelector: distributed locks and leader election on MongoDB.

The API of the original pure-Python mongoelector (MongoLocker,
MongoLeaderElector, LockExists, AcquireTimeout, TimeOffsetError), implemented
over the native libmongoelector through ctypes. See README.md.
"""

from __future__ import annotations

import atexit as _atexit
import logging as _logging

from . import _ffi
from . import elector as _elector_module
from ._lease import LeaseEvent
from .elector import MongoLeaderElector, health
from .errors import (
    AcquireTimeout,
    CancelledError,
    ClosedError,
    DatabaseError,
    InternalError,
    InvalidArgumentError,
    InvalidStateError,
    LockExists,
    MongoElectorError,
    NotOwnedError,
    TimeOffsetError,
)
from .locker import MongoLocker

__all__ = [
    "MongoLocker",
    "MongoLeaderElector",
    "LockExists",
    "AcquireTimeout",
    "TimeOffsetError",
    "MongoElectorError",
    "NotOwnedError",
    "DatabaseError",
    "InvalidStateError",
    "InvalidArgumentError",
    "ClosedError",
    "CancelledError",
    "InternalError",
    "LeaseEvent",
    "health",
    "native_version",
    "library_path",
    "set_log_level",
]

__version__ = "0.2.0"
library_path = _ffi.library_path


def native_version() -> str:
    """Version of the loaded libmongoelector."""
    return _ffi.version()


# ---- the native library's log messages go to logging.getLogger("mongoelector") ----

_log = _logging.getLogger("mongoelector")
_LEVELS = {1: _logging.ERROR, 2: _logging.WARNING, 3: _logging.INFO, 4: _logging.DEBUG, 5: 5}


def _log_message(_user_data: int | None, level: int, message: bytes | None) -> None:
    # Called from any native thread; must not call me_* functions.
    try:
        text = message.decode("utf-8", "replace") if message else ""
        _log.log(_LEVELS.get(level, _logging.DEBUG), "%s", text)
    except BaseException:
        pass


_log_trampoline = _ffi.immortal(_ffi.ME_LOG_CALLBACK(_log_message))


def _native_level(level: int) -> int:
    """A logging level to the library's max_level (1 error .. 5 trace)."""
    for native, py in ((5, 5), (4, _logging.DEBUG), (3, _logging.INFO), (2, _logging.WARNING)):
        if level <= py:
            return native
    return 1


def set_log_level(level: int | None = None) -> None:
    """Forward the native library's messages at `level` (a logging level) and
    above to the "mongoelector" logger. None: the logger's effective level.
    Call it after configuring logging to see the library's debug messages."""
    if level is None:
        level = _log.getEffectiveLevel()
    _ffi.lib.me_set_log_callback(_log_trampoline, _native_level(level), None)


set_log_level()


def _shutdown() -> None:
    # Stop running electors first (their messages still logged), then hand
    # logging back to the library's default so no native thread calls into a
    # finalizing interpreter.
    _elector_module._stop_all()
    _ffi.lib.me_set_log_callback(_ffi.ME_LOG_CALLBACK(), 2, None)


_atexit.register(_shutdown)
