"""MongoLocker: the seed's distributed lock, over libmongoelector."""

from __future__ import annotations

import ctypes
import time
from datetime import datetime

from . import _ffi
from ._client import client_for, resolve_db
from ._util import Handle, c_text, call_json, from_ms, seconds
from .errors import (
    AcquireTimeout,
    LockExists,
    NotOwnedError,
    TimeOffsetError,
    check,
    error_for,
)

__all__ = ["MongoLocker", "LockExists", "AcquireTimeout", "TimeOffsetError"]

_lib = _ffi.lib


class MongoLocker(Handle):
    """Distributed lock backed by MongoDB.

    Mimics the standard library Lock interface where reasonable. Used
    internally by MongoLeaderElector, but works as a standalone distributed
    locking primitive. Can be used as a context manager::

        with MongoLocker("my-resource", db, ttl=30) as lock:
            # lock is held
            pass
        # lock is released

    `db` is a pymongo Database, or a ``(uri, db_name)`` tuple. The object may
    be used from several threads at once. Closing it (``close()``, or when it
    is garbage collected) releases the lock if it holds it.
    """

    _free_fn = _lib.me_locker_free

    def __init__(self, key, db, *, dbcollection="mongolocker", ttl=600, timeparanoid=True, maxoffset=0.5):
        Handle.__init__(self, None, owned=True)
        uri, db_name = resolve_db(db)
        if not key:
            raise ValueError("Must provide a non-empty lock key")
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, not {type(key).__name__}")
        key_c = c_text("key", key)
        ttl_s = seconds("ttl", ttl, positive=True)
        if not isinstance(dbcollection, str) or not dbcollection:
            raise ValueError("dbcollection must be a non-empty str")
        dbcollection_c = c_text("dbcollection", dbcollection)
        db_name_c = c_text("database name", db_name)
        maxoffset_s = seconds("maxoffset", maxoffset, positive=False)
        if maxoffset_s < 0:
            raise ValueError("maxoffset must be >= 0")
        client = client_for(uri)
        opts = _ffi.me_locker_options()
        _lib.me_locker_options_init(ctypes.byref(opts))
        opts.dbcollection = dbcollection_c
        opts.ttl = ttl_s
        opts.timeparanoid = bool(timeparanoid)
        opts.maxoffset = maxoffset_s
        out = ctypes.c_void_p()
        check(
            _lib.me_locker_new(client.ptr, db_name_c, key_c, ctypes.byref(opts), ctypes.byref(out)),
            "MongoLocker",
        )
        self._init_common(out, key=key, db=db, db_name=db_name, ttl=ttl, dbcollection=dbcollection, timeparanoid=bool(timeparanoid), maxoffset=maxoffset)

    @classmethod
    def _borrowed(cls, ptr: ctypes.c_void_p, owner, **attrs) -> "MongoLocker":
        """A MongoLocker over an elector's lock (owner keeps the handle alive)."""
        self = cls.__new__(cls)
        Handle.__init__(self, None, owned=False)
        self._parent = owner
        self._closed_event = owner._closed_event  # closing the elector ends its lock's waits
        self._init_common(ptr, **attrs)
        return self

    def _init_common(self, ptr, *, key, db, db_name, ttl, dbcollection, timeparanoid, maxoffset):
        self._ptr = ptr
        self.key = key
        self.database = db
        self._db_name = db_name
        self._ttl = ttl
        self.dbcollection = dbcollection
        self.timeparanoid = timeparanoid
        self._maxoffset = maxoffset
        self._uuid = _lib.me_locker_uuid(ptr).decode()
        self._host = _lib.me_locker_host(ptr).decode()
        self._pid = int(_lib.me_locker_pid(ptr))

    # ---- identity ----

    @property
    def uuid(self) -> str:
        """This locker's unique id (recorded as the holder in the lock document)."""
        return self._uuid

    @property
    def host(self) -> str:
        return self._host

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def ttl(self):
        """Lease length in seconds, as given."""
        return self._ttl

    @property
    def collection(self):
        """The pymongo Collection of the lock documents (None for a (uri, db_name) db)."""
        try:
            return self.database[self.dbcollection]
        except TypeError:
            return None

    @property
    def ts_expire(self) -> datetime | None:
        """Expiry (aware UTC datetime) of this locker's latest acquisition or renewal; None before the first."""
        with self._use() as ptr:
            ms = ctypes.c_int64()
            if not _lib.me_locker_ts_expire(ptr, ctypes.byref(ms)):
                return None
            return from_ms(ms.value)

    @property
    def fence(self) -> int:
        """Fencing token of this locker's latest acquisition: strictly increasing per key
        across all holders; 0 before the first acquisition."""
        with self._use() as ptr:
            return int(_lib.me_locker_fence(ptr))

    # ---- operations ----

    def acquire(self, blocking=True, timeout=None, step=0.25, force=False):
        """Acquire the distributed lock.

        Args:
            blocking: If True, wait until the lock is available. If False, raise LockExists immediately.
            timeout: Maximum seconds to wait when blocking. None means wait forever (requires blocking=True).
            step: Seconds between retry attempts when blocking.
            force: If True, forcibly take the lock from any current holder.

        Returns:
            True if the lock was acquired.

        Raises:
            LockExists: Lock is held and blocking=False.
            AcquireTimeout: Timed out waiting for the lock.
            TimeOffsetError: timeparanoid and the clock offset exceeds maxoffset.
        """
        if not blocking and timeout:
            raise ValueError("blocking=False is incompatible with a timeout")
        step_s = seconds("step", step, positive=False)
        if step_s < 0:
            raise ValueError("step must be >= 0")
        deadline = None
        if blocking and timeout is not None:
            # As in the seed, a timeout of 0 or less still makes one attempt.
            deadline = time.monotonic() + max(0.0, seconds("timeout", timeout, positive=False))
        # A blocking wait is single attempts, each bounded by the time left (so
        # a slow server cannot stretch the timeout), and waits of `step` here
        # that close() from another thread cuts short (InvalidStateError): the
        # native handle is never freed under a call.
        while True:
            left = _ffi.ME_NO_TIMEOUT if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                self._try_acquire(left, force)
                return True
            except LockExists:
                if not blocking:
                    raise
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise AcquireTimeout(f"acquire {self.key!r}: timeout reached, lock not acquired", _ffi.ME_ERR_ACQUIRE_TIMEOUT)
            wait = step_s if deadline is None else min(step_s, deadline - now)
            if self._closed_event.wait(max(wait, 0.001)):
                raise self._closed_error(f"acquire {self.key!r}")

    def _try_acquire(self, timeout: float, force) -> None:
        with self._use() as ptr:
            status = _lib.me_try_acquire(ptr, timeout, bool(force))
            if status != _ffi.ME_OK:
                raise error_for(status, f"acquire {self.key!r}")

    def release(self, force=False):
        """Release the lock. If force=True, release regardless of ownership."""
        with self._use() as ptr:
            check(_lib.me_release(ptr, bool(force)), f"release {self.key!r}")

    def touch(self):
        """Renew the lock's TTL. Returns the new expiration time, or None if the lock is not owned."""
        with self._use() as ptr:
            ms = ctypes.c_int64()
            status = _lib.me_touch(ptr, ctypes.byref(ms))
            if status == _ffi.ME_ERR_NOT_OWNED:
                return None
            check(status, f"touch {self.key!r}")
            return from_ms(ms.value)

    def locked(self) -> bool:
        """Return True if the lock is currently held by anyone."""
        with self._use() as ptr:
            out = ctypes.c_bool()
            check(_lib.me_locked(ptr, ctypes.byref(out)), f"locked {self.key!r}")
            return bool(out.value)

    def owned(self) -> bool:
        """Return True if the lock is currently held by this instance."""
        with self._use() as ptr:
            out = ctypes.c_bool()
            check(_lib.me_owned(ptr, ctypes.byref(out)), f"owned {self.key!r}")
            return bool(out.value)

    def get_current(self):
        """Return the current lock document, or None if no active lock.

        Keys: _id (the key), locked, host, uuid, pid, ts_created, ts_expire (aware datetimes), fence."""
        with self._use() as ptr:
            return call_json(_lib.me_get_current, ptr, f"get_current {self.key!r}")

    @property
    def status(self) -> dict:
        """This locker's view: uuid, key, ttl, timestamp, host, pid, lock_owned,
        lock_created, lock_expires (aware datetimes or None), fence (None unless owned)."""
        with self._use() as ptr:
            doc = call_json(_lib.me_locker_status, ptr, f"status {self.key!r}")
        doc["ttl"] = self._ttl
        return doc

    def close(self) -> None:
        """Release the lock if held and free the native locker. Idempotent; a
        locker belonging to an elector (elector.mlock) is not closed."""
        if self._owned:
            self._close_handle()

    # ---- protocol ----

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.release()
        return False

    def __repr__(self):
        state = "closed" if self.closed else f"fence={self.fence}"
        return f"MongoLocker(key={self.key!r}, uuid={self.uuid!r}, host={self.host!r}, {state})"


# Re-exported here too, as the seed's module layout had them.
_ = (LockExists, AcquireTimeout, TimeOffsetError, NotOwnedError)
