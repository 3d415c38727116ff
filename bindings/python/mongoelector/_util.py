"""Shared helpers: native handle ownership, fork detection, text and time conversion."""

from __future__ import annotations

import os
import queue
import sys
import threading
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

from . import _ffi

T = TypeVar("T")

_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NAIVE_EPOCH = datetime(1970, 1, 1)

# ---- fork -------------------------------------------------------------------
# A handle remembers the fork generation it was made in. The library refuses
# every call on a handle inherited through fork (ME_ERR_INVALID_STATE); the
# binding only adds a warning, once per process, as pymongo does.

_generation = 0
_warned_generation = -1


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Native:
    """One native handle: its pointer and the *_free that frees it when this
    object is collected. Freeing never releases a lock or leadership (the C
    ABI's rule), so garbage collection never gives a lock away."""

    __slots__ = ("ptr", "free", "generation", "what")

    def __init__(self, ptr: int | None, free: Callable[[int], None] | None, what: str) -> None:
        self.ptr = ptr
        self.free = free
        self.generation = _generation
        self.what = what

    def use(self) -> int | None:
        """The pointer for a call; warns once per process about an inherited handle."""
        global _warned_generation
        if self.generation != _generation and _warned_generation != _generation:
            _warned_generation = _generation
            warnings.warn(
                f"{self.what} was created before os.fork() and cannot be used in the child "
                "process (every call fails); create new objects after forking.",
                stacklevel=3,
            )
        return self.ptr

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        ptr, self.ptr = self.ptr, None
        # Not while the interpreter shuts down: freeing could call user_data_free
        # into a half-torn-down interpreter, and the process ends anyway.
        if ptr and self.free is not None and not _finalizing():
            self.free(ptr)


# ---- conversions ------------------------------------------------------------


def c_text(name: str, value: object) -> bytes | None:
    """A str argument as the C ABI takes it (None stays NULL for the library to refuse).

    A NUL inside would silently cut the string there (key "victim\\0x" would
    name the lock "victim"), so it is refused; text with no UTF-8 form (lone
    surrogates) is the UnicodeEncodeError the seed's BSON encoding raises."""
    if value is None:
        return None
    if not isinstance(value, str):
        if not value:
            return b""  # b"", 0: the library's error for an empty value, as the seed's `if not key`
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{name} must not contain NUL characters (the native library takes NUL-terminated strings)")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UnicodeEncodeError(e.encoding, e.object, e.start, e.end, f"{name} has no UTF-8 form ({e.reason})") from None


def text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


def now_dt(ms: int) -> datetime:
    """An instant the seed computed itself (datetime.now(timezone.utc)): aware UTC."""
    return _UTC_EPOCH + timedelta(milliseconds=ms)


def stored_dt(ms: int, db: Any) -> datetime:
    """An instant the seed read from the database, as pymongo returns it for
    `db`: naive UTC by default, aware when the client has tz_aware=True (in
    its tzinfo). A (uri, db_name) tuple gets pymongo's default, naive UTC."""
    codec = getattr(db, "codec_options", None)
    if codec is not None and codec.tz_aware:
        dt = _UTC_EPOCH + timedelta(milliseconds=ms)
        return dt.astimezone(codec.tzinfo) if codec.tzinfo is not None else dt
    return _NAIVE_EPOCH + timedelta(milliseconds=ms)


# ---- Ctrl-C -----------------------------------------------------------------


class _Helper:
    """The one thread that runs the main thread's blocking native calls, made
    once per process and reused: a thread per call cost milliseconds per
    acquire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Callable[[], None]] | None = None
        self._pid = -1

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._queue is None or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                threading.Thread(target=self._serve, args=(self._queue,),
                                 name="mongoelector-call", daemon=True).start()
            self._queue.put(job)

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[Callable[[], None]]) -> None:
        while True:
            jobs.get()()


_helper = _Helper()


def interruptible(call: Callable[[], T], interrupt: Callable[[], object]) -> T:
    """Runs call(), a blocking native call, and returns its result.

    On the main thread the call runs on the helper thread while the main
    thread waits on an event, which Ctrl-C interrupts (a native call cannot
    be): then interrupt() makes the call return within milliseconds (a
    cancelled token, a stopped elector), and the KeyboardInterrupt goes on.
    The seed's loops were interruptible; this keeps them so."""
    if threading.current_thread() is not threading.main_thread():
        return call()
    box: list[T] = []
    failed: list[BaseException] = []
    done = threading.Event()

    def job() -> None:
        try:
            box.append(call())
        except BaseException as e:  # handed to the caller
            failed.append(e)
        finally:
            done.set()

    _helper.submit(job)
    try:
        done.wait()
    except BaseException:
        interrupt()
        done.wait()
        raise
    if failed:
        raise failed[0]
    return box[0]


__all__ = ["Native", "c_text", "text", "now_dt", "stored_dt", "interruptible", "_ffi"]
