"""A holding's or term's loss token (me_cancel) as a threading.Event, and the counters."""

from __future__ import annotations

import threading
from ctypes import byref, c_int64
from typing import Any, Callable

from . import _ffi

__all__ = ["LeaseEvent", "Watch", "stats_dict"]

_lib = _ffi.lib
# How long one me_cancel_wait lasts before the waiter looks at its stop flag.
_SLICE = 1.0


class LeaseEvent(threading.Event):
    """Set when the holding (or term) it stands for has ended: lost, taken over,
    released, stopped or closed. `fence` is that holding's fencing token (0 for
    the already set event of "no holding")."""

    def __init__(self, fence: int = 0) -> None:
        super().__init__()
        self.fence = fence

    def __repr__(self) -> str:
        return f"LeaseEvent(fence={self.fence}, ended={self.is_set()})"


def _ended() -> LeaseEvent:
    e = LeaseEvent()
    e.set()
    return e


class Watch:
    """The current holding's LeaseEvent of one locker or elector.

    One small daemon thread per holding waits on its token (me_cancel_wait in
    slices) and sets the event when the token is cancelled; it ends then, or at
    stop() (close). The thread refers to the token and the event only, never to
    the locker or elector, so those stay collectable."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._event: LeaseEvent | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def current(self, get_token: Callable[[Any], int | None]) -> LeaseEvent:
        """The event of the holding get_token(byref(fence)) names. Without one (the
        holding ended, the term is over), the latest holding's event, set; an
        already set one with fence 0 when there was none."""
        fence = c_int64()
        tok = get_token(byref(fence))
        if not tok:
            with self._lock:
                ev = self._event
            if ev is None:
                return _ended()
            ev.set()  # ended: its waiter may not have seen it yet
            return ev
        with self._lock:
            ev = self._event
            if ev is not None and ev.fence == fence.value:
                _lib.me_cancel_free(tok)
                return ev
            ev = self._event = LeaseEvent(fence.value)
            if self._stop.is_set():  # closed: nothing is watched any more
                _lib.me_cancel_free(tok)
                ev.set()
                return ev
            t = threading.Thread(target=_wait, args=(tok, ev, self._stop), name=self._name, daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()
            return ev

    def stop(self) -> None:
        """Ends the waiting threads (after close: their tokens are cancelled)."""
        self._stop.set()
        with self._lock:
            threads, self._threads = self._threads, []
        for t in threads:
            if t is not threading.current_thread():
                t.join(5 * _SLICE)


def _wait(tok: int, ev: LeaseEvent, stop: threading.Event) -> None:
    try:
        while not _lib.me_cancel_wait(tok, _SLICE):
            if stop.is_set():
                break
        ev.set()
    finally:
        _lib.me_cancel_free(tok)


STATS_FIELDS = tuple(f[0] for f in _ffi.me_stats._fields_)


def stats_dict(fill: Callable[[Any], bool]) -> dict[str, int | float]:
    """The counters me_*_stats writes, as a dict (durations in seconds)."""
    s = _ffi.me_stats()
    fill(byref(s))
    return {name: getattr(s, name) for name in STATS_FIELDS}
