"""Exceptions. The seed's three (LockExists, AcquireTimeout, TimeOffsetError)
keep their names and meaning; every exception of this package derives from
MongoElectorError, so existing `except LockExists` code keeps working."""

from __future__ import annotations

import ctypes
from typing import Any

from . import _ffi

__all__ = [
    "MongoElectorError",
    "LockExists",
    "AcquireTimeout",
    "TimeOffsetError",
    "NotOwnedError",
    "DatabaseError",
    "InvalidStateError",
    "InternalError",
    "InvalidArgumentError",
    "CancelledError",
    "ClosedError",
]


class MongoElectorError(Exception):
    """Base of every error of this package. `status` is the C status code."""

    status: int = -1

    def __init__(self, message: str = "", status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class LockExists(MongoElectorError):
    """Raised when attempting a non-blocking acquire on an existing lock."""

    status = _ffi.ME_ERR_LOCK_EXISTS


class AcquireTimeout(MongoElectorError):
    """Raised when lock acquisition times out."""

    status = _ffi.ME_ERR_ACQUIRE_TIMEOUT


class TimeOffsetError(MongoElectorError):
    """Raised when the clock offset between this host and MongoDB is too high."""

    status = _ffi.ME_ERR_TIME_OFFSET


class NotOwnedError(MongoElectorError):
    """An operation needed a lock this locker does not hold (touch() returns None instead)."""

    status = _ffi.ME_ERR_NOT_OWNED


class InvalidArgumentError(MongoElectorError, ValueError):
    """The library rejected an argument (also a ValueError, as in the seed)."""

    status = _ffi.ME_ERR_INVALID_ARGUMENT


class InvalidStateError(MongoElectorError, RuntimeError):
    """The call does not fit the object's state (e.g. start() on a running elector, use after close())."""

    status = _ffi.ME_ERR_INVALID_STATE


class ClosedError(InvalidStateError):
    """The object was closed (before or during the call)."""

    status = _ffi.ME_ERR_CLOSED


class CancelledError(MongoElectorError):
    """The call was cancelled (a blocking call on the main thread interrupted by
    Ctrl-C raises KeyboardInterrupt instead)."""

    status = _ffi.ME_ERR_CANCELLED


class InternalError(MongoElectorError, RuntimeError):
    """A bug in the native library (a caught panic)."""

    status = _ffi.ME_ERR_INTERNAL


def _database_bases() -> tuple[type, ...]:
    # Where the seed let a pymongo error through, code may catch PyMongoError:
    # keep that working when pymongo is installed.
    try:
        from pymongo.errors import PyMongoError
    except Exception:  # pragma: no cover - pymongo is optional
        return (MongoElectorError,)
    return (MongoElectorError, PyMongoError)


class DatabaseError(*_database_bases()):  # type: ignore[misc]
    """Driver or server error: connection, authentication, timeout, write error.
    Also a pymongo.errors.PyMongoError when pymongo is installed."""

    status = _ffi.ME_ERR_DATABASE


_BY_STATUS: dict[int, type[MongoElectorError]] = {
    cls.status: cls
    for cls in (
        LockExists,
        AcquireTimeout,
        TimeOffsetError,
        NotOwnedError,
        InvalidArgumentError,
        InvalidStateError,
        CancelledError,
        ClosedError,
        InternalError,
        DatabaseError,
    )
}


def take_error(status: int, err: Any) -> MongoElectorError:
    """The exception for a failed call: the library's message from its owned
    me_error (freed here), the class by status."""
    try:
        msg = _ffi.lib.me_error_message(err)
    finally:
        _ffi.lib.me_error_free(err)
    text = msg.decode("utf-8", "replace") if msg else _ffi.status_name(status)
    return _BY_STATUS.get(status, MongoElectorError)(text, status)


def call(fn: Any, *args: Any) -> int:
    """Calls a fallible me_* function with a trailing me_error **; raises on failure."""
    err = ctypes.c_void_p()
    status = fn(*args, ctypes.byref(err))
    if status != _ffi.ME_OK:
        raise take_error(status, err)
    return int(status)
