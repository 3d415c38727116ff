"""MongoLocker: the seed's distributed lock, over libmongoelector."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from ctypes import POINTER, byref, c_bool, c_int64, c_void_p
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Literal

from . import _ffi
from ._client import client_for, resolve_db
from ._lease import LeaseEvent, Watch, stats_dict
from ._util import Native, c_text, interruptible, now_dt, stored_dt, text
from .errors import (
    AcquireTimeout,
    DatabaseError,
    LockExists,
    MongoElectorError,
    TimeOffsetError,
    call,
    take_error,
)

__all__ = ["MongoLocker", "LockExists", "AcquireTimeout", "TimeOffsetError", "LeaseEvent"]

log = logging.getLogger("mongoelector")
_lib = _ffi.lib

# A pymongo Database, or a (uri, db_name) tuple.
Database = Any

# ---- on_lost ------------------------------------------------------------------
# As the elector's callbacks: the library calls one module-level trampoline with
# an integer user_data keying this registry; user_data_free drops the slot once
# on_lost can no longer run.

_lost_registry: dict[int, Callable[[], object] | None] = {}
_lost_ids = itertools.count(1)


def _on_lost(user_data: int | None) -> None:
    try:
        fn = _lost_registry.get(int(user_data or 0))
        if fn is not None:
            fn()
    except BaseException:
        try:
            log.exception("Error in on_lost callback")
        except BaseException:  # pragma: no cover - e.g. interpreter shutdown
            pass


def _lost_free(user_data: int | None) -> None:
    try:
        _lost_registry.pop(int(user_data or 0), None)
    except BaseException:  # pragma: no cover - e.g. interpreter shutdown
        pass


_on_lost_trampoline = _ffi.immortal(_ffi.ME_CALLBACK(_on_lost))
_lost_free_trampoline = _ffi.immortal(_ffi.ME_CALLBACK(_lost_free))


def _lock_status(r: _ffi.me_lock_status, key: str | None, ttl: float, db: Database) -> dict[str, Any]:
    """A me_lock_status as the seed's MongoLocker.status dict (plus fence)."""
    owned = bool(r.lock_owned)
    return {
        "uuid": text(r.uuid),
        "key": key,
        "ttl": ttl,
        "timestamp": now_dt(r.timestamp_ms),
        "host": text(r.host),
        "pid": int(r.pid),
        "lock_owned": owned,
        "lock_created": stored_dt(r.lock_created_ms, db) if owned else None,
        "lock_expires": stored_dt(r.lock_expires_ms, db) if owned else None,
        "fence": int(r.fence) if owned else None,
    }


# The options of the acquire under way on this thread, for _verifytime().
_acquiring = threading.local()


class MongoLocker:
    """Distributed lock backed by MongoDB.

    Mimics the standard library Lock interface where reasonable. Used
    internally by MongoLeaderElector, but works as a standalone distributed
    locking primitive. Can be used as a context manager::

        with MongoLocker("my-resource", db, ttl=30) as lock:
            # lock is held
            pass
        # lock is released

    `db` is a pymongo Database, or a ``(uri, db_name)`` tuple. The object may
    be used from several threads at once. ``close()`` releases the lock and
    ends every call waiting on it; garbage collection never releases it (a
    lock held by a collected locker lasts until its ttl, as in the seed).
    """

    _owner: Native | None = None  # the elector's handle, for its mlock view

    def __init__(
        self,
        key: str,
        db: Database,
        *,
        dbcollection: str = "mongolocker",
        ttl: float = 600,
        timeparanoid: bool = True,
        maxoffset: float = 0.5,
        auto_renew: bool = False,
        on_lost: Callable[[], object] | None = None,
    ) -> None:
        uri, db_name = resolve_db(db)
        opts = _ffi.me_locker_options()
        _lib.me_locker_options_init(byref(opts))
        opts.dbcollection = c_text("dbcollection", dbcollection)
        try:
            opts.ttl = ttl
        except TypeError:  # the seed's error for a ttl that is not a number
            raise ValueError("ttl must be a positive number (seconds)") from None
        # The check runs through the _verifytime seam (patchable, as in the
        # seed), never a second time inside me_locker_acquire.
        opts.timeparanoid = False
        opts.maxoffset = maxoffset
        if auto_renew:
            opts.auto_renew = True
        token = 0
        if on_lost is not None:
            token = next(_lost_ids)
            _lost_registry[token] = on_lost
            opts.on_lost = _on_lost_trampoline
            opts.user_data = token
            opts.user_data_free = _lost_free_trampoline
        key_c = c_text("key", key)
        db_name_c = c_text("database name", db_name)
        out = c_void_p()
        try:
            call(_lib.me_locker_new, client_for(uri).ptr, db_name_c, key_c, byref(opts), byref(out))
        except BaseException:
            _lost_registry.pop(token, None)  # no locker: user_data_free never runs
            raise
        self._h = Native(out.value, _lib.me_locker_free, "MongoLocker")
        self._lost_token = token
        self._init(key, db, ttl, timeparanoid)

    @classmethod
    def _view(cls, ptr: int, owner: Native, key: str, db: Database, ttl: float) -> "MongoLocker":
        """The read-only view of an elector's lock (its mutating calls raise
        InvalidStateError); `owner`, the elector's handle, outlives it."""
        self = cls.__new__(cls)
        self._h = Native(ptr, None, "MongoLeaderElector")
        self._owner = owner
        self._lost_token = 0
        self._init(key, db, ttl, bool(_lib.me_locker_timeparanoid(ptr)))
        return self

    def _init(self, key: str, db: Database, ttl: float, timeparanoid: bool) -> None:
        p = self._h.ptr
        self.key = key
        self.database = db
        self.timeparanoid = timeparanoid
        self._ttl = ttl
        self._closed = False
        # Whether ts_expire was last set by touch() (a value read back from the
        # database in the seed) rather than by acquire() (computed locally).
        self._expire_from_touch = False
        self.uuid = text(_lib.me_locker_uuid(p))
        self.host = text(_lib.me_locker_host(p))
        self.pid = int(_lib.me_locker_pid(p))
        self.dbcollection = text(_lib.me_locker_dbcollection(p))
        self._watch = Watch("mongoelector-lease")

    # ---- identity ----

    @property
    def ttl(self) -> float:
        """Lease length in seconds, as given."""
        return self._ttl

    @property
    def _maxoffset(self) -> float:
        return float(_lib.me_locker_maxoffset(self._h.ptr))

    @property
    def collection(self) -> Any:
        """The pymongo Collection of the lock documents (None for a (uri, db_name) db)."""
        try:
            return self.database[self.dbcollection]
        except TypeError:
            return None

    @property
    def ts_expire(self) -> datetime | None:
        """Expiry of this locker's latest acquisition or renewal; None before the first."""
        ms = c_int64()
        if not _lib.me_locker_ts_expire(self._h.ptr, byref(ms)):
            return None
        return stored_dt(ms.value, self.database) if self._expire_from_touch else now_dt(ms.value)

    @property
    def fence(self) -> int:
        """Fencing token of this locker's latest acquisition: strictly increasing per key
        across all holders; 0 before the first acquisition."""
        return int(_lib.me_locker_fence(self._h.ptr))

    @property
    def closed(self) -> bool:
        return self._closed

    # ---- the holding, from memory ----

    @property
    def held(self) -> bool:
        """Whether this locker holds the lock by its own clock, without a round trip:
        its latest holding's lease (ttl minus twice maxoffset, from before the write
        was sent) has not run out and it was not released, lost or seen taken over.
        owned() asks the server."""
        return bool(_lib.me_locker_held(self._h.ptr))

    @property
    def lost(self) -> LeaseEvent:
        """A threading.Event set the moment the current holding ends: its lease ran
        out unrenewed, another holder was seen, or it was released or closed. Its
        `fence` is that holding's fencing token. Take it after acquire(): once the
        holding has ended it is that holding's event (set), and before the first
        acquisition an event already set with fence 0."""
        return self._watch.current(lambda fence: _lib.me_locker_lease_token(self._h.ptr, fence))

    @property
    def stats(self) -> dict[str, int | float]:
        """Counters: acquisitions, renewals, failed_renewals, losses, takeovers_seen,
        leader_transitions, round_trips, and last_round_trip, max_round_trip,
        lease_left in seconds."""
        return stats_dict(lambda out: _lib.me_locker_stats(self._h.ptr, out))

    # ---- the seed's private seams ----

    @staticmethod
    def _acquireretry(blocking: bool, start: datetime, timeout: float | None, count: int) -> bool:
        """The seed's retry predicate: whether attempt number `count` (from 0)
        of an acquire started at `start` (aware UTC) may run. The library runs
        the retries; this is kept for code written for the seed."""
        if not blocking:
            if timeout:
                raise ValueError("blocking=False is incompatible with a timeout")
            return count == 0
        if timeout is None:
            return True
        return datetime.now(tz=timezone.utc) - start <= timedelta(seconds=timeout)

    def _verifytime(self) -> bool:
        """The clock check acquire() runs when timeparanoid; True, or TimeOffsetError.

        The library's check: this host's clock against the server's, within
        maxoffset, a good result cached per client for ten minutes. Inside
        acquire() it keeps to that call's timeout and cancellation."""
        opts = getattr(_acquiring, "opts", None)
        call(_lib.me_locker_verify_time, self._h.use(), byref(opts) if opts is not None else None)
        return True

    # ---- operations ----

    def acquire(self, blocking: bool = True, timeout: float | None = None, step: float = 0.25, force: bool = False) -> bool:
        """Acquire the distributed lock.

        Args:
            blocking: If True, wait until the lock is available. If False, raise LockExists immediately.
            timeout: Maximum seconds the call may take (round trips included). None means no limit.
            step: Seconds between retry attempts when blocking.
            force: If True, forcibly take the lock from any current holder.

        Returns:
            True if the lock was acquired.

        Raises:
            LockExists: Lock is held and blocking=False.
            AcquireTimeout: Timed out waiting for the lock.
            TimeOffsetError: timeparanoid and the clock offset exceeds maxoffset.
            ClosedError: close() was called before or during the call.
        """
        p = self._h.use()
        opts = _ffi.me_acquire_options()
        _lib.me_acquire_options_init(byref(opts))
        opts.blocking = bool(blocking)
        if timeout is not None:
            opts.has_timeout = True
            opts.timeout = timeout
        opts.step = step
        opts.force = bool(force)
        cancel = _lib.me_cancel_new()
        opts.cancel = cancel
        try:
            self._check_clock(opts)
        except BaseException:
            _lib.me_cancel_free(cancel)
            raise

        def run() -> tuple[int, c_void_p]:
            err = c_void_p()
            return _lib.me_locker_acquire(p, byref(opts), byref(err)), err

        try:
            status, err = interruptible(run, lambda: _lib.me_cancel_cancel(cancel))
        finally:
            _lib.me_cancel_free(cancel)
        if status != _ffi.ME_OK:
            raise take_error(status, err)
        self._expire_from_touch = False
        return True

    def _check_clock(self, opts: _ffi.me_acquire_options) -> None:
        """The seed's `_verifytime()` seam, as acquire() calls it, within the
        acquire's options; what it used of the timeout is taken off the rest."""
        if not self.timeparanoid:
            return
        started = time.monotonic()
        _acquiring.opts = opts
        try:
            self._verifytime()
        finally:
            _acquiring.opts = None
        if opts.has_timeout:
            opts.timeout = max(0.0, opts.timeout - (time.monotonic() - started))

    def release(self, force: bool = False) -> None:
        """Release the lock. If force=True, release regardless of ownership."""
        call(_lib.me_locker_release, self._h.use(), bool(force), None, None)

    def touch(self) -> datetime | None:
        """Renew the lock's TTL. Returns the new expiration time, or None if the lock is not owned."""
        ms = c_int64()
        err = c_void_p()
        status = _lib.me_locker_touch(self._h.use(), None, byref(ms), byref(err))
        if status == _ffi.ME_ERR_NOT_OWNED:
            _lib.me_error_free(err)
            return None
        if status != _ffi.ME_OK:
            raise take_error(status, err)
        self._expire_from_touch = True
        return stored_dt(ms.value, self.database)

    def locked(self) -> bool:
        """Return True if the lock is currently held by anyone."""
        out = c_bool()
        call(_lib.me_locker_locked, self._h.use(), None, byref(out))
        return out.value

    def owned(self) -> bool:
        """Return True if the lock is currently held by this instance."""
        out = c_bool()
        call(_lib.me_locker_owned, self._h.use(), None, byref(out))
        return out.value

    def get_current(self) -> dict[str, Any] | None:
        """Return the current lock document, or None if no active lock.

        Keys: _id (the key), locked, host, uuid, pid, ts_created, ts_expire, fence."""
        out = POINTER(_ffi.me_current_lock)()
        call(_lib.me_locker_current, self._h.use(), None, byref(out))
        if not out:
            return None
        try:
            r = out.contents
            return {
                "_id": text(r.key),
                "locked": bool(r.locked),
                "host": text(r.host),
                "uuid": text(r.uuid),
                "pid": int(r.pid),
                "ts_created": stored_dt(r.ts_created_ms, self.database),
                "ts_expire": stored_dt(r.ts_expire_ms, self.database),
                "fence": int(r.fence),
            }
        finally:
            _lib.me_current_lock_free(out)

    @property
    def status(self) -> dict[str, Any]:
        """This locker's view: uuid, key, ttl, timestamp, host, pid, lock_owned,
        lock_created, lock_expires (None unless owned), fence (None unless owned)."""
        out = POINTER(_ffi.me_lock_status)()
        call(_lib.me_locker_status, self._h.use(), None, byref(out))
        try:
            return _lock_status(out.contents, self.key, self._ttl, self.database)
        finally:
            _lib.me_lock_status_free(out)

    def close(self) -> None:
        """Ends every call waiting on this locker (they raise ClosedError), then
        releases the lock if held. Idempotent; later calls raise ClosedError.
        (An elector's mlock cannot be closed: InvalidStateError.)"""
        try:
            call(_lib.me_locker_close, self._h.use())
        except DatabaseError:  # closed all the same; the release failed
            self._closed_now()
            raise
        self._closed_now()

    def _closed_now(self) -> None:
        self._closed = True
        self._watch.stop()
        # on_lost cannot run any more: drop the callable (it often refers to this
        # locker) so the locker can be collected.
        if self._lost_token in _lost_registry:
            _lost_registry[self._lost_token] = None

    # ---- protocol ----

    def __enter__(self) -> "MongoLocker":
        self.acquire()
        return self

    def __exit__(self, exc_type: object, exc_val: object, exc_tb: object) -> Literal[False]:
        self.release()
        return False

    def __repr__(self) -> str:
        try:
            owned = "closed" if self._closed else self.owned()
        except MongoElectorError:
            owned = "?"
        return f"MongoLocker(key={self.key!r}, uuid={self.uuid!r}, host={self.host!r}, owned={owned})"

