"""Shared helpers: JSON documents to Python values, the handle base class."""

from __future__ import annotations

import ctypes
import json
import math
import threading
from datetime import datetime, timedelta, timezone

from . import _ffi
from .errors import InvalidStateError, check

_DATETIME_KEYS = {"timestamp", "lock_created", "lock_expires", "last_poll", "ts_created", "ts_expire"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_datetime(text: str) -> datetime:
    """RFC 3339 UTC ("2026-11-26T14:00:00.123Z") to an aware datetime."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def convert(value):
    """Decoded JSON with datetimes where the seed has them (recursively)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _DATETIME_KEYS and isinstance(v, str):
                out[k] = parse_datetime(v)
            else:
                out[k] = convert(v)
        return out
    if isinstance(value, list):
        return [convert(v) for v in value]
    return value


def call_json(fn, ptr, context: str):
    """Calls fn(ptr, &json_out) and returns the decoded document (None for NULL)."""
    out = ctypes.c_void_p()
    check(fn(ptr, ctypes.byref(out)), context)
    text = _ffi.take_string(out)
    return None if text is None else convert(json.loads(text))


def seconds(name: str, value, *, positive: bool) -> float:
    """A finite number of seconds (the seed's check: an int or float, > 0 for a ttl).

    A value that is not a number is a ValueError for a ttl (the seed checks it
    so) and a TypeError otherwise (what the seed's time arithmetic raises)."""
    if not isinstance(value, (int, float)):
        if positive:
            raise ValueError(f"{name} must be a positive number (seconds)")
        raise TypeError(f"{name} must be a number (seconds), not {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0):
        raise ValueError(f"{name} must be a positive number (seconds)" if positive else f"{name} must be finite")
    return v


def c_text(name: str, value: str) -> bytes:
    """A str argument as the C ABI takes it: UTF-8 and NUL-terminated.

    A NUL inside would silently cut the string there (key "victim\\0x" would
    name the lock "victim"), so it is refused; so is text that has no UTF-8
    form (lone surrogates), with the UnicodeEncodeError the seed's BSON
    encoding raises, naming the argument."""
    if "\0" in value:
        raise ValueError(f"{name} must not contain NUL characters (the native library takes NUL-terminated strings)")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UnicodeEncodeError(
            e.encoding, e.object, e.start, e.end, f"{name} has no UTF-8 form ({e.reason})"
        ) from None


class Handle:
    """Owns (or borrows) one native handle.

    Calls go through `_use()`, which counts calls in flight: `close()` never
    frees the handle while another thread is inside a call on it (the C ABI
    forbids a *_free racing other calls); the last call out frees it."""

    _free_fn = None  # set by subclasses: the native *_free

    def __init__(self, ptr: ctypes.c_void_p | None, *, owned: bool):
        self._ptr = ptr
        self._owned = owned
        self._guard = threading.Lock()
        self._inflight = 0
        self._closing = False
        # Set by close(): waits between native calls end at once.
        self._closed_event = threading.Event()
        # A borrowed handle lives inside its parent's (an elector's locker):
        # each call on it also counts as a call on the parent.
        self._parent: Handle | None = None

    def _use(self):
        return _InUse(self)

    def _enter(self) -> ctypes.c_void_p:
        if self._parent is not None:
            self._parent._enter()
        with self._guard:
            if self._closing or self._ptr is None:
                if self._parent is not None:
                    self._parent._leave()
                raise self._closed_error()
            self._inflight += 1
            return self._ptr

    def _closed_error(self, context: str = "") -> InvalidStateError:
        prefix = f"{context}: " if context else ""
        return InvalidStateError(f"{prefix}{type(self).__name__} is closed")

    def _leave(self) -> None:
        try:
            self._leave_own()
        finally:
            if self._parent is not None:
                self._parent._leave()

    def _leave_own(self) -> None:
        with self._guard:
            self._inflight -= 1
            free = self._closing and self._inflight == 0
        if free:
            self._free_now()

    def _close_handle(self) -> None:
        with self._guard:
            if self._closing:
                return
            self._closing = True
            free = self._inflight == 0
        self._closed_event.set()
        if free:
            self._free_now()

    def _free_now(self) -> None:
        with self._guard:
            ptr, self._ptr = self._ptr, None
        if ptr is not None and self._owned:
            type(self)._free_fn(ptr)
        self._after_free()

    def _after_free(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return self._closing

    def __del__(self):
        try:
            if getattr(self, "_ptr", None) is not None:
                self._close_handle()
        except Exception:  # interpreter shutdown: nothing sensible to do
            pass


class _InUse:
    __slots__ = ("h", "ptr")

    def __init__(self, h: Handle):
        self.h = h

    def __enter__(self) -> ctypes.c_void_p:
        self.ptr = self.h._enter()
        return self.ptr

    def __exit__(self, *exc) -> None:
        self.h._leave()
