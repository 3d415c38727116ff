"""MongoLeaderElector: the seed's leader election, over libmongoelector."""

from __future__ import annotations

import atexit
import ctypes
import itertools
import logging
import threading
import time

from . import _ffi
from ._client import client_for, resolve_db
from ._util import Handle, c_text, call_json, seconds
from .errors import check, error_for
from .locker import MongoLocker

__all__ = ["MongoLeaderElector"]

log = logging.getLogger("mongoelector")
_lib = _ffi.lib

# ---- callbacks --------------------------------------------------------------
# The C library calls three module-level trampolines (alive for the process)
# with an integer user_data that keys this registry; the entry holds the
# user's callables. No Python object pointer ever goes to C, and a callback
# arriving for a removed entry is ignored.

_registry: dict[int, "_Callbacks"] = {}
_registry_lock = threading.Lock()
_ids = itertools.count(1)
_tls = threading.local()


class _Callbacks:
    __slots__ = ("on_leader", "on_leader_loss", "on_loop")

    def __init__(self, on_leader, on_leader_loss, on_loop):
        self.on_leader = on_leader
        self.on_leader_loss = on_leader_loss
        self.on_loop = on_loop


def _active() -> set:
    s = getattr(_tls, "active", None)
    if s is None:
        s = _tls.active = set()
    return s


def _dispatch(user_data, which: str) -> None:
    # Nothing may escape into C: catch everything, log it.
    try:
        token = int(user_data or 0)
        entry = _registry.get(token)
        fn = getattr(entry, which, None) if entry is not None else None
        if fn is None:
            return
        active = _active()
        nested = token in active
        active.add(token)
        try:
            fn()
        except BaseException:
            log.exception("Error in %s callback", which)
        finally:
            if not nested:
                active.discard(token)
    except BaseException:  # pragma: no cover - e.g. interpreter shutdown
        try:
            log.exception("mongoelector callback dispatch failed")
        except BaseException:
            pass


@_ffi.ME_CALLBACK
def _on_leader_trampoline(user_data):
    _dispatch(user_data, "on_leader")


@_ffi.ME_CALLBACK
def _on_leader_loss_trampoline(user_data):
    _dispatch(user_data, "on_leader_loss")


@_ffi.ME_CALLBACK
def _on_loop_trampoline(user_data):
    _dispatch(user_data, "on_loop")


# Running electors are kept alive, as the seed's elector thread kept its
# elector alive: `MongoLeaderElector(...).start()` keeps running.
_live: set = set()
_live_lock = threading.Lock()


class MongoLeaderElector(Handle):
    """Coordinates distributed leader election using MongoDB-based locking.

    Runs a background thread that periodically attempts to acquire leadership
    and invokes callbacks on state transitions. Can be used as a context
    manager::

        with MongoLeaderElector("my-service", db, on_leader=start_work) as elector:
            # elector is running
            while elector.running:
                sleep(1)
        # elector is stopped, leadership released

    Callbacks take no arguments and run on the elector's thread (or on the
    thread calling poll(), stop() or release()); an exception in one is logged
    and ignored. They may call stop() and release().
    """

    _free_fn = _lib.me_elector_free

    def __init__(
        self,
        key,
        db,
        *,
        ttl=15,
        on_leader=None,
        on_leader_loss=None,
        on_loop=None,
        app_version=None,
        report_status=True,
    ):
        Handle.__init__(self, None, owned=True)
        self._token = 0
        uri, db_name = resolve_db(db)
        if not key:
            raise ValueError("Must provide a non-empty lock key")
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, not {type(key).__name__}")
        key_c = c_text("key", key)
        db_name_c = c_text("database name", db_name)
        app_version_c = None if app_version is None else c_text("app_version", str(app_version))
        ttl_s = seconds("ttl", ttl, positive=True)
        for name, cb in (("on_leader", on_leader), ("on_leader_loss", on_leader_loss), ("on_loop", on_loop)):
            if cb is not None and not callable(cb):
                raise TypeError(f"{name} must be callable or None")
        client = client_for(uri)

        token = next(_ids)
        opts = _ffi.me_elector_options()
        _lib.me_elector_options_init(ctypes.byref(opts))
        opts.ttl = ttl_s
        opts.on_leader = _on_leader_trampoline if on_leader is not None else _ffi.ME_CALLBACK()
        opts.on_leader_loss = _on_leader_loss_trampoline if on_leader_loss is not None else _ffi.ME_CALLBACK()
        opts.on_loop = _on_loop_trampoline if on_loop is not None else _ffi.ME_CALLBACK()
        opts.user_data = token
        opts.app_version = app_version_c
        opts.report_status = bool(report_status)
        with _registry_lock:
            _registry[token] = _Callbacks(on_leader, on_leader_loss, on_loop)
        out = ctypes.c_void_p()
        status = _lib.me_elector_new(client.ptr, db_name_c, key_c, ctypes.byref(opts), ctypes.byref(out))
        if status != _ffi.ME_OK:
            err = error_for(status, "MongoLeaderElector")
            with _registry_lock:
                _registry.pop(token, None)
            raise err
        self._ptr = out
        self._token = token
        self.key = key
        self.db = db
        self.ttl = ttl
        self._app_version = app_version
        self._report_status = bool(report_status)
        self.callback_on_leader = on_leader
        self.callback_on_leader_loss = on_leader_loss
        self.callback_on_loop = on_loop
        self._mlock = MongoLocker._borrowed(
            _lib.me_elector_locker(out),
            self,
            key=key,
            db=db,
            db_name=db_name,
            ttl=ttl,
            dbcollection="elector.locks",
            timeparanoid=True,
            maxoffset=min(ttl_s / 10.0, 0.5),
        )

    # ---- properties ----

    @property
    def mlock(self) -> MongoLocker:
        """The MongoLocker the election runs on (collection "elector.locks")."""
        return self._mlock

    @property
    def running(self) -> bool:
        """True while the elector thread runs."""
        with self._use() as ptr:
            return bool(_lib.me_elector_running(ptr))

    @property
    def is_leader(self) -> bool:
        """True while this elector leads and its lease (by its own monotonic clock) has not run out."""
        with self._use() as ptr:
            out = ctypes.c_bool()
            check(_lib.me_elector_is_leader(ptr, ctypes.byref(out)), "is_leader")
            return bool(out.value)

    @property
    def leader_exists(self) -> bool:
        """True if any elector of this key leads now (one read)."""
        with self._use() as ptr:
            out = ctypes.c_bool()
            check(_lib.me_elector_leader_exists(ptr, ctypes.byref(out)), "leader_exists")
            return bool(out.value)

    @property
    def poll_wait(self) -> float:
        """Seconds until the next poll of a running elector (a quarter ttl otherwise)."""
        with self._use() as ptr:
            return float(_lib.me_elector_poll_wait(ptr))

    @property
    def node_status(self) -> dict:
        """This node's status: the mlock status plus _id, is_leader, elector_running,
        last_poll and (when given) app_version."""
        with self._use() as ptr:
            doc = call_json(_lib.me_elector_node_status, ptr, "node_status")
        return self._fix_node(doc)

    @property
    def cluster_detail(self) -> dict:
        """member_detail (live members' reports, newest first), leader (host,
        process_id, uuid, fence; from the lock itself) and timestamp."""
        with self._use() as ptr:
            doc = call_json(_lib.me_elector_cluster_detail, ptr, "cluster_detail")
        members = []
        for m in doc.get("member_detail") or []:
            if m.get("app_version") is None:
                m.pop("app_version", None)
            m.pop("_id", None)  # as the seed's projection {"_id": 0}
            members.append(m)
        doc["member_detail"] = members
        return doc

    def _fix_node(self, doc: dict) -> dict:
        if doc.get("app_version") is None:
            doc.pop("app_version", None)  # the seed adds it only when set
        if doc.get("uuid") == self._mlock.uuid:
            doc["ttl"] = self.ttl
        return doc

    # ---- operations ----

    def start(self, blocking=False):
        """Start the elector background thread.

        Args:
            blocking: If True, block until the elector thread exits (stop() from
                a callback or another thread). KeyboardInterrupt stops the elector.
        """
        with self._use() as ptr:
            check(_lib.me_elector_start(ptr, False), "start")
        with _live_lock:
            _live.add(self)
        if blocking:
            try:
                while self.running:
                    time.sleep(0.05)
            except BaseException:
                self.stop()
                raise

    def stop(self):
        """Stop the elector thread and release leadership (firing on_leader_loss if leading)."""
        with self._use() as ptr:
            status = _lib.me_elector_stop(ptr)
            if status != _ffi.ME_OK:
                err = error_for(status, "stop")
            else:
                err = None
            still = bool(_lib.me_elector_running(ptr))
        if still:
            # Called from this elector's own callback: the thread ends after the
            # callback returns; keep the elector alive until it has.
            threading.Thread(target=self._forget_when_stopped, name="mongoelector-stop", daemon=True).start()
        else:
            with _live_lock:
                _live.discard(self)
        if err is not None:
            raise err

    def _forget_when_stopped(self) -> None:
        try:
            while not self.closed and self.running:
                time.sleep(0.02)
        except Exception:
            pass
        with _live_lock:
            _live.discard(self)

    def poll(self):
        """Execute one poll cycle: renew if leader, attempt to lead if not, report status, fire callbacks."""
        with self._use() as ptr:
            check(_lib.me_elector_poll(ptr), "poll")

    def release(self):
        """Release leadership now and fire on_leader_loss if applicable. A running
        elector leaves the lock to the others for half a ttl, then competes again."""
        with self._use() as ptr:
            check(_lib.me_elector_release(ptr), "release")

    def close(self) -> None:
        """Stop the elector (releasing leadership) and free it. Idempotent. From
        one of its own callbacks, it stops it and frees it once the thread ended."""
        if self.closed:
            return
        if self._token in _active():
            self.stop()
            threading.Thread(target=self._close_when_stopped, name="mongoelector-close", daemon=True).start()
            return
        self._close_handle()
        with _live_lock:
            _live.discard(self)

    def _close_when_stopped(self) -> None:
        while not self.closed and self.running:
            time.sleep(0.02)
        self.close()

    def _after_free(self) -> None:
        with _registry_lock:
            _registry.pop(self._token, None)

    # ---- protocol ----

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.stop()
        return False

    def __repr__(self):
        if self.closed:
            return f"MongoLeaderElector(key={self.key!r}, closed)"
        leader = "leader" if self.is_leader else "follower"
        running = "running" if self.running else "stopped"
        return f"MongoLeaderElector(key={self.key!r}, {leader}, {running}, uuid={self.mlock.uuid!r})"


@atexit.register
def _stop_all() -> None:
    # Stop running electors before the interpreter goes away, so no callback
    # from a native thread enters a finalizing interpreter (and leadership is
    # handed over at once instead of after a ttl).
    with _live_lock:
        electors = list(_live)
    for e in electors:
        try:
            e.close()
        except Exception:
            log.exception("stopping %r at exit", e)
