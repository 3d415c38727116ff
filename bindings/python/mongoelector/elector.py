"""MongoLeaderElector: the seed's leader election, over libmongoelector."""

from __future__ import annotations

import itertools
import logging
import threading
from ctypes import POINTER, byref, c_bool, c_char_p, c_int64, c_void_p
from datetime import datetime
from typing import Any, Callable, Literal

from . import _ffi, _util
from ._client import client_for, resolve_db
from ._lease import LeaseEvent, Watch, stats_dict
from ._util import Native, c_text, interruptible, now_dt, stored_dt, text
from .errors import call, take_error
from .locker import AcquireTimeout, Database, LockExists, MongoLocker, _lock_status

__all__ = ["MongoLeaderElector", "MongoLocker", "LockExists", "AcquireTimeout", "LeaseEvent", "health"]

Callback = Callable[[], object]
# on_new_leader's argument: {"host", "process_id", "uuid", "fence"}, or None for no leader.
LeaderCallback = Callable[[dict[str, Any] | None], object]

log = logging.getLogger("mongoelector")
_lib = _ffi.lib

# ---- callbacks --------------------------------------------------------------
# The C library calls module-level trampolines (alive for the process) with an
# integer user_data that keys this registry; the entry holds the user's
# callables. No Python object pointer goes to C. The library frees the slot
# through user_data_free once no callback can run any more (in me_elector_free).
# Plain dict operations, atomic under the GIL: no lock that a finalizer
# running on this thread could find taken.

_registry: dict[int, "_Callbacks"] = {}
_ids = itertools.count(1)
_tls = threading.local()


class _Callbacks:
    __slots__ = ("on_leader", "on_leader_loss", "on_loop", "on_new_leader")

    def __init__(
        self,
        on_leader: Callback | None,
        on_leader_loss: Callback | None,
        on_loop: Callback | None,
        on_new_leader: LeaderCallback | None,
    ) -> None:
        self.on_leader = on_leader
        self.on_leader_loss = on_leader_loss
        self.on_loop = on_loop
        self.on_new_leader = on_new_leader

    def clear(self) -> None:
        self.on_leader = self.on_leader_loss = self.on_loop = None
        self.on_new_leader = None


def _leader_dict(li: _ffi.me_leader_info) -> dict[str, Any]:
    """A me_leader_info as cluster_detail's "leader" dict."""
    return {"host": text(li.host), "process_id": int(li.process_id), "uuid": text(li.uuid), "fence": int(li.fence)}


def _active() -> set[int]:
    """Tokens of the electors whose callback runs on this thread."""
    s = getattr(_tls, "active", None)
    if s is None:
        s = _tls.active = set()
    return s


def _dispatch(user_data: int | None, which: str, *args: object) -> None:
    # Nothing may escape into C: catch everything, log it.
    try:
        token = int(user_data or 0)
        fn = getattr(_registry.get(token), which, None)
        if fn is None:
            return
        active = _active()
        nested = token in active
        active.add(token)
        try:
            fn(*args)
        except BaseException:
            log.exception("Error in %s callback", which)
        finally:
            if not nested:
                active.discard(token)
    except BaseException:  # pragma: no cover - e.g. interpreter shutdown
        pass


def _on_new_leader(user_data: int | None, leader: Any) -> None:
    # The record is borrowed for the call: copied into a dict before anything else.
    try:
        arg = _leader_dict(leader.contents) if leader else None
    except BaseException:  # pragma: no cover
        return
    _dispatch(user_data, "on_new_leader", arg)


def _user_data_free(user_data: int | None) -> None:
    try:
        _registry.pop(int(user_data or 0), None)
    except BaseException:  # pragma: no cover - e.g. interpreter shutdown
        pass


_on_leader_trampoline = _ffi.immortal(_ffi.ME_CALLBACK(lambda user_data: _dispatch(user_data, "on_leader")))
_on_leader_loss_trampoline = _ffi.immortal(_ffi.ME_CALLBACK(lambda user_data: _dispatch(user_data, "on_leader_loss")))
_on_loop_trampoline = _ffi.immortal(_ffi.ME_CALLBACK(lambda user_data: _dispatch(user_data, "on_loop")))
_on_new_leader_trampoline = _ffi.immortal(_ffi.ME_LEADER_CALLBACK(_on_new_leader))
_user_data_free_trampoline = _ffi.immortal(_ffi.ME_CALLBACK(_user_data_free))


# Running electors are kept alive, as the seed's elector thread kept its
# elector alive: `MongoLeaderElector(...).start()` keeps running. One stopped
# from its own callback stays until its thread is done (the next _prune),
# so that its last reference never goes, and me_elector_free never runs, on
# its own thread.
_live: set["MongoLeaderElector"] = set()


def _prune() -> None:
    active = _active()
    for e in list(_live):
        if e._stop_pending and e._token not in active and not e.running:
            _live.discard(e)


class MongoLeaderElector:
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
    thread calling poll(), stop(), release() or close()); an exception in one
    is logged and ignored. They may call stop(), release() and close().
    """

    def __init__(
        self,
        key: str,
        db: Database,
        *,
        ttl: float = 15,
        on_leader: Callback | None = None,
        on_leader_loss: Callback | None = None,
        on_loop: Callback | None = None,
        app_version: object = None,
        report_status: bool = True,
        on_new_leader: LeaderCallback | None = None,
    ) -> None:
        uri, db_name = resolve_db(db)
        opts = _ffi.me_elector_options()
        _lib.me_elector_options_init(byref(opts))
        try:
            opts.ttl = ttl
        except TypeError:  # the seed's error for a ttl that is not a number
            raise ValueError("ttl must be a positive number (seconds)") from None
        # All three always: the callback_* attributes may be set later, as in the seed.
        opts.on_leader = _on_leader_trampoline
        opts.on_leader_loss = _on_leader_loss_trampoline
        opts.on_loop = _on_loop_trampoline
        opts.user_data_free = _user_data_free_trampoline
        opts.app_version = c_text("app_version", str(app_version)) if app_version else None
        opts.report_status = bool(report_status)
        if on_new_leader is not None:
            opts.on_new_leader = _on_new_leader_trampoline
        key_c = c_text("key", key)
        db_name_c = c_text("database name", db_name)
        client = client_for(uri)

        token = next(_ids)
        opts.user_data = token
        self._cb = _registry[token] = _Callbacks(on_leader, on_leader_loss, on_loop, on_new_leader)
        out = c_void_p()
        try:
            call(_lib.me_elector_new, client.ptr, db_name_c, key_c, byref(opts), byref(out))
        except BaseException:
            _registry.pop(token, None)  # no elector: user_data_free never runs
            raise
        self._h = Native(out.value, _lib.me_elector_free, "MongoLeaderElector")
        self._token = token
        self._stop_pending = False
        self._closed = False
        self.key = key
        self.db = db
        self.ttl = ttl
        self._app_version = app_version
        self._report_status = bool(report_status)
        self.mlock = MongoLocker._view(_lib.me_elector_locker(out.value), self._h, key, db, ttl)
        self._watch = Watch("mongoelector-term")

    # ---- the seed's callback attributes ----

    callback_on_leader = property(lambda s: s._cb.on_leader, lambda s, f: setattr(s._cb, "on_leader", f))
    callback_on_leader_loss = property(
        lambda s: s._cb.on_leader_loss, lambda s, f: setattr(s._cb, "on_leader_loss", f)
    )
    callback_on_loop = property(lambda s: s._cb.on_loop, lambda s, f: setattr(s._cb, "on_loop", f))

    # ---- properties ----

    @property
    def running(self) -> bool:
        """True while the elector thread runs."""
        return bool(_lib.me_elector_running(self._h.ptr))

    @property
    def is_leader(self) -> bool:
        """True while this elector leads and its lease (by its own monotonic clock) has not run out."""
        return bool(_lib.me_elector_is_leader(self._h.use()))

    @property
    def leader_exists(self) -> bool:
        """True if any elector of this key leads now (one read)."""
        out = c_bool()
        call(_lib.me_elector_leader_exists, self._h.use(), None, byref(out))
        return out.value

    @property
    def poll_wait(self) -> float:
        """Seconds until the next poll of a running elector (a quarter ttl otherwise)."""
        return float(_lib.me_elector_poll_wait(self._h.ptr))

    @property
    def closed(self) -> bool:
        return self._closed

    # ---- observing, from memory ----

    @property
    def term_lost(self) -> LeaseEvent:
        """A threading.Event set the moment the current term ends (lease run out,
        taken over, released, stopped, closed), on time even while a callback
        holds the elector's thread. Its `fence` is the term's fencing token.
        Take it while leading (e.g. in on_leader); when not leading it is the
        latest term's event taken (set), or an event already set with fence 0."""
        return self._watch.current(lambda fence: _lib.me_elector_term_token(self._h.ptr, fence))

    @property
    def leader(self) -> tuple[dict[str, Any] | None, datetime] | None:
        """The group's leader as this elector's polls last read it, from memory:
        (the leader as in cluster_detail["leader"], or None for no leader; when it
        was observed, aware UTC), or None before the first observation."""
        out = POINTER(_ffi.me_leader_info)()
        ms = c_int64()
        call(_lib.me_elector_leader, self._h.ptr, byref(out), byref(ms))
        try:
            if ms.value == 0:
                return None
            return (_leader_dict(out.contents) if out else None), now_dt(ms.value)
        finally:
            if out:
                _lib.me_leader_info_free(out)

    def healthy(self, tolerance: float | None = None) -> tuple[bool, str]:
        """A health check for probes, from memory: (False, reason) when this node
        believes it leads but its last renewal is older than `tolerance` seconds
        (None: its lease), when its polls have not succeeded for two poll
        intervals, or when it does not run; (True, reason) for a working leader or
        follower. Reasons: "leading", "following", "renewal overdue", "polls
        failing or stuck", "not running"."""
        reason = c_char_p()
        ok = _lib.me_elector_healthy(self._h.ptr, 0.0 if tolerance is None else tolerance, byref(reason))
        return bool(ok), text(reason.value) or ""

    @property
    def stats(self) -> dict[str, int | float]:
        """Counters (its lock's, plus leader_transitions): acquisitions (terms),
        renewals, failed_renewals, losses, takeovers_seen, leader_transitions,
        round_trips, and last_round_trip, max_round_trip, lease_left in seconds."""
        return stats_dict(lambda out: _lib.me_elector_stats(self._h.ptr, out))

    @property
    def node_status(self) -> dict[str, Any]:
        """This node's status: the mlock status plus _id, is_leader, elector_running,
        last_poll and (when given) app_version."""
        out = POINTER(_ffi.me_node_status)()
        call(_lib.me_elector_node_status, self._h.use(), None, byref(out))
        try:
            r = out.contents
            d = _lock_status(r.lock, self.key, self.ttl, self.db)
            d["_id"] = d["uuid"]
            d["is_leader"] = bool(r.is_leader)
            d["elector_running"] = bool(r.elector_running)
            d["last_poll"] = now_dt(r.last_poll_ms) if r.has_last_poll else None
            if r.app_version is not None:
                d["app_version"] = text(r.app_version)
            return d
        finally:
            _lib.me_node_status_free(out)

    @property
    def cluster_detail(self) -> dict[str, Any]:
        """member_detail (the live members' status documents, newest first, without
        _id), leader (host, process_id, uuid, fence; from the lock itself, None
        when nobody leads) and timestamp."""
        out = POINTER(_ffi.me_cluster_detail)()
        call(_lib.me_elector_cluster_detail, self._h.use(), None, byref(out))
        try:
            r = out.contents
            members = [self._member(r.members[i]) for i in range(r.member_count)]
            leader = _leader_dict(r.leader) if r.has_leader else None
            return {"member_detail": members, "leader": leader, "timestamp": now_dt(r.timestamp_ms)}
        finally:
            _lib.me_cluster_detail_free(out)

    def _member(self, m: _ffi.me_node_status) -> dict[str, Any]:
        """A member's report as the seed read it back from elector.leader_status."""
        d = _lock_status(m.lock, text(m.lock.key), float(m.lock.ttl), self.db)
        d["timestamp"] = stored_dt(m.lock.timestamp_ms, self.db)
        d["is_leader"] = bool(m.is_leader)
        d["elector_running"] = bool(m.elector_running)
        d["last_poll"] = stored_dt(m.last_poll_ms, self.db) if m.has_last_poll else None
        if m.app_version is not None:
            d["app_version"] = text(m.app_version)
        return d

    # ---- operations ----

    def start(self, blocking: bool = False) -> None:
        """Start the elector background thread.

        Args:
            blocking: If True, run the elector on this thread until stop() or
                close() (from a callback or another thread). Ctrl-C stops it.
        """
        p = self._h.use()
        _prune()
        if not blocking:
            call(_lib.me_elector_start, p, False)
            self._stop_pending = False
            _live.add(self)
            return

        def run() -> tuple[int, c_void_p]:
            err = c_void_p()
            return _lib.me_elector_start(p, True, byref(err)), err

        self._stop_pending = False
        _live.add(self)
        try:
            status, err = interruptible(run, lambda: _lib.me_elector_stop(p, None))
        finally:
            self._forget()
        if status != _ffi.ME_OK:
            raise take_error(status, err)

    def stop(self) -> None:
        """Stop the elector thread and release leadership (firing on_leader_loss if leading)."""
        try:
            call(_lib.me_elector_stop, self._h.use())
        finally:
            self._forget()

    def poll(self) -> None:
        """Execute one poll cycle: renew if leader, attempt to lead if not, report status, fire callbacks."""
        call(_lib.me_elector_poll, self._h.use())

    def release(self) -> None:
        """Release leadership now and fire on_leader_loss if applicable. A running
        elector leaves the lock to the others for half a ttl, then competes again."""
        call(_lib.me_elector_release, self._h.use())

    def close(self) -> None:
        """Stop the elector and release leadership (firing on_leader_loss if
        leading); returns once no callback runs on another thread. Idempotent;
        later calls raise ClosedError. From a callback it returns at once and
        the elector's thread releases on its way out."""
        try:
            call(_lib.me_elector_close, self._h.use())
        finally:
            self._closed = True
            self._watch.stop()
            if self._token not in _active():
                # No callback runs after close has returned: drop the callables
                # (they often refer to this elector) so it can be collected.
                self._cb.clear()
            self._forget()

    def _forget(self) -> None:
        if self._token in _active():
            self._stop_pending = True
        else:
            _live.discard(self)
        _prune()

    # ---- protocol ----

    def __enter__(self) -> "MongoLeaderElector":
        self.start()
        return self

    def __exit__(self, exc_type: object, exc_val: object, exc_tb: object) -> Literal[False]:
        self.stop()
        return False

    def __repr__(self) -> str:
        leader = "leader" if self.is_leader else "follower"
        running = "closed" if self._closed else "running" if self.running else "stopped"
        return f"MongoLeaderElector(key={self.key!r}, {leader}, {running}, uuid={self.mlock.uuid!r})"


def _stop_all() -> None:
    """Closes the running electors of this process (at exit), so no callback
    from a native thread enters a finalizing interpreter and leadership is
    handed over at once instead of after a ttl."""
    for e in list(_live):
        if e._h.generation != _util._generation:
            continue  # inherited through fork: the parent's
        try:
            e.close()
        except Exception:
            log.exception("closing %r at exit", e)


def health(elector: MongoLeaderElector) -> tuple[bool, str]:
    """For liveness/readiness probes: elector.healthy() with its default
    tolerance (the lease), from memory, never a round trip."""
    return elector.healthy()
