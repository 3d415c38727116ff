//! `me_elector`: leader election with C function-pointer callbacks.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::boundary::me_error;
use super::callbacks::{me_callback, me_leader_callback, wrap, wrap_leader, UserData};
use super::cancel::me_cancel;
use super::client::me_client;
use super::locker::{me_locker, token};
use super::records::{self, me_cluster_detail, me_leader_info, me_node_status, me_stats};
use super::status::me_status;
use super::{args, boundary, handles};
use crate::core::cancel::CancelToken;
use crate::core::elector::{ElectorOptions, Health, MongoLeaderElector};
use crate::core::error::{invalid, Result};
use std::time::Duration;

/// Options of `me_elector_new`. Fill with `me_elector_options_init`, then
/// change fields. Strings are copied by `me_elector_new`.
#[repr(C)]
pub struct me_elector_options {
    /// Leader lease in seconds (15); finite and > 0.
    pub ttl: f64,
    /// Called when this elector becomes leader (NULL: none).
    pub on_leader: me_callback,
    /// Called when this elector stops being leader (NULL: none).
    pub on_leader_loss: me_callback,
    /// Called after each poll cycle (NULL: none).
    pub on_loop: me_callback,
    /// Passed to every callback.
    pub user_data: *mut c_void,
    /// Called once with `user_data` after the last callback can have run,
    /// inside `me_elector_free` (NULL: none). Lets a binding free what
    /// `user_data` points to without tracking the elector's threads.
    pub user_data_free: me_callback,
    /// Included in status reports (NULL: none).
    pub app_version: *const c_char,
    /// Write this node's status to the `elector.leader_status` collection (true).
    pub report_status: bool,
    /// Called on every elector, leader or not, when the group's leader (as
    /// its polls read it, never an extra round trip) changes: with the new
    /// leader, or NULL for none. The record is borrowed for the call. Same
    /// threading and order as the other callbacks (NULL: none).
    pub on_new_leader: me_leader_callback,
}

/// A leader elector. Safe to use from several threads at once, and from its
/// own callbacks.
pub struct me_elector {
    elector: MongoLeaderElector,
    key: CString,
    /// The elector's lock as a read-only `me_locker`.
    locker: Arc<me_locker>,
    /// Dropped with the handle: then, if no callback holds it any more,
    /// `user_data_free` runs.
    _user_data: Arc<UserData>,
}

/// Fills `opts` with the defaults: ttl 15, no callbacks, NULL user_data and
/// user_data_free, no app_version, report_status true. NULL is a no-op.
///
/// # Safety
/// `opts` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_options_init(opts: *mut me_elector_options) {
    boundary::infallible((), || {
        if let Some(o) = opts.as_mut() {
            let d = ElectorOptions::default();
            *o = me_elector_options {
                ttl: d.ttl.as_secs_f64(),
                on_leader: None,
                on_leader_loss: None,
                on_loop: None,
                user_data: std::ptr::null_mut(),
                user_data_free: None,
                app_version: std::ptr::null(),
                report_status: d.report_status,
                on_new_leader: None,
            };
        }
    })
}

/// Creates an elector for group `key` in database `db_name` (collections
/// `elector.locks` and `elector.leader_status`). Sends nothing yet.
///
/// Callbacks run on the elector's thread (or on the thread calling
/// `me_elector_poll`), with the options' `user_data`; never two at once for
/// one elector, never while the library holds an internal lock, in the order
/// of the transitions (`on_leader`, then `on_leader_loss`, ...), and none
/// after `me_elector_stop`, `me_elector_close` or `me_elector_free` has
/// returned. Exception: the `on_leader_loss` caused by the caller's own
/// `me_elector_stop`, `me_elector_release` or `me_elector_close` fires before
/// that call returns, on the caller's thread unless another thread is running
/// callbacks at that moment (when called from a callback: right after that
/// callback returns). On a release it fires before the release is written,
/// so no other node leads before this one's `on_leader_loss` has run.
/// Callbacks may call `me_elector_stop`, `me_elector_release` and
/// `me_elector_close` on their own elector; they must not free it.
///
/// `opts` may be NULL for the defaults. Ownership: on success `*out` is a new
/// handle, closed with `me_elector_close` and freed with `me_elector_free`;
/// unchanged on failure. Thread-safe; never blocks.
/// Errors: ME_ERR_INVALID_ARGUMENT, ME_ERR_DATABASE (no driver for this process).
///
/// # Safety
/// Pointers are NULL or valid; `client` is a live handle; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_new(
    client: *const me_client,
    db_name: *const c_char,
    key: *const c_char,
    opts: *const me_elector_options,
    out: *mut *mut me_elector,
    err: *mut *mut me_error,
) -> me_status {
    boundary::call(err, || {
        let client = handles::borrow(client, "client")?;
        let db_name = args::text(db_name, "db_name")?;
        let key = args::text(key, "key")?;
        let out = args::out(out, "out")?;
        let user_data = UserData::new(opts.as_ref().map_or(std::ptr::null_mut(), |o| o.user_data));
        let options = match opts.as_ref() {
            None => ElectorOptions::default(),
            Some(o) => ElectorOptions {
                ttl: args::seconds(o.ttl, "opts->ttl", true)?,
                on_leader: wrap(o.on_leader, &user_data),
                on_leader_loss: wrap(o.on_leader_loss, &user_data),
                on_loop: wrap(o.on_loop, &user_data),
                on_new_leader: wrap_leader(o.on_new_leader, &user_data),
                app_version: args::opt_text(o.app_version, "opts->app_version")?.map(str::to_owned),
                report_status: o.report_status,
            },
        };
        let db = client.client.database(db_name)?;
        let elector = MongoLeaderElector::new(key, &db, options)?;
        user_data.arm(opts.as_ref().and_then(|o| o.user_data_free));
        let locker = Arc::new(me_locker::new(elector.mlock().clone(), true));
        *out = handles::into_raw(me_elector {
            key: args::c_copy(key),
            elector,
            locker,
            _user_data: user_data,
        });
        Ok(())
    })
}

/// A call on the elector `p`.
///
/// # Safety
/// As for [`handles::call_with`].
unsafe fn with(
    p: *const me_elector,
    err: *mut *mut me_error,
    body: impl FnOnce(&MongoLeaderElector) -> Result<()>,
) -> me_status {
    handles::call_with(p, "elector", err, |h| body(&h.elector))
}

/// A read through the elector, cut short by `cancel`, its answer in `*out`.
///
/// # Safety
/// As for [`handles::call_with`]; `cancel` NULL or a live token; `out` NULL or writable.
unsafe fn read<T>(
    p: *const me_elector,
    cancel: *const me_cancel,
    out: *mut T,
    err: *mut *mut me_error,
    body: impl FnOnce(&MongoLeaderElector, Option<&CancelToken>) -> Result<T>,
) -> me_status {
    with(p, err, |e| {
        let out = args::out(out, "out")?;
        *out = body(e, token(cancel).as_ref())?;
        Ok(())
    })
}

/// Starts the elector: on a new thread, or with `blocking` on this thread
/// until `me_elector_stop` or `me_elector_close` (from a callback or another
/// thread). Thread-safe.
/// Errors: ME_ERR_INVALID_STATE (already running; inherited through fork),
/// ME_ERR_CLOSED, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_start(
    elector: *mut me_elector,
    blocking: bool,
    err: *mut *mut me_error,
) -> me_status {
    with(elector, err, |e| e.start(blocking))
}

/// Runs the elector on this thread until `me_elector_stop`, `me_elector_close`
/// (from a callback or another thread) or until `cancel` (NULL: never) is
/// cancelled; then it releases on its way out (firing `on_leader_loss` if it
/// led) and returns ME_OK. A token already cancelled ends it at once: unlike a
/// stop sent from another thread around `me_elector_start`, it cannot be missed.
/// Blocks; thread-safe.
/// Errors: ME_ERR_INVALID_STATE (already running; inherited through fork;
/// no thread for the token's watcher), ME_ERR_CLOSED, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `cancel` NULL or a live token; `err`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_run(
    elector: *mut me_elector,
    cancel: *const me_cancel,
    err: *mut *mut me_error,
) -> me_status {
    with(elector, err, |e| match token(cancel) {
        Some(t) => e.run_until(&t),
        None => e.start(true),
    })
}

/// Stops the elector and releases leadership; it may be started again.
/// From another thread: cuts short the loop's round trips, waits for the
/// elector thread to end, then fires `on_leader_loss` (if leading) on this
/// thread and returns. From a callback: asks the thread to stop and returns
/// at once. Stopping a stopped elector only releases (ME_OK). Thread-safe.
/// Errors: ME_ERR_DATABASE (the release failed; leadership is given up
/// locally anyway), ME_ERR_INVALID_STATE (inherited through fork),
/// ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_stop(
    elector: *mut me_elector,
    err: *mut *mut me_error,
) -> me_status {
    with(elector, err, |e| e.stop())
}

/// Runs one poll cycle on this thread (renew if leading, try to lead if
/// not, report status), then fires the callbacks of what happened. Blocks
/// for its round trips (each within half a ttl). Thread-safe.
/// Errors: ME_ERR_DATABASE, ME_ERR_TIME_OFFSET, ME_ERR_CLOSED,
/// ME_ERR_INVALID_STATE, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_poll(
    elector: *mut me_elector,
    err: *mut *mut me_error,
) -> me_status {
    with(elector, err, |e| e.poll())
}

/// Gives up leadership now (firing `on_leader_loss` if leading). A running
/// elector leaves the lock to the others for half a ttl, then competes again.
/// Thread-safe. Errors: ME_ERR_DATABASE, ME_ERR_CLOSED, ME_ERR_INVALID_STATE,
/// ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_release(
    elector: *mut me_elector,
    err: *mut *mut me_error,
) -> me_status {
    with(elector, err, |e| e.release())
}

/// Whether this elector leads: true while its lease, counted on its own
/// monotonic clock, lasts. No database call, so it turns false by the
/// lease's end even when the database is unreachable. False for NULL.
/// Thread-safe; never blocks.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_is_leader(elector: *const me_elector) -> bool {
    handles::getter(elector, false, |h| h.elector.is_leader())
}

/// Sets `*out` to whether any elector of the group leads now (one read).
/// Thread-safe. Errors: ME_ERR_CANCELLED, ME_ERR_CLOSED, ME_ERR_DATABASE,
/// ME_ERR_INVALID_STATE, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `cancel` NULL or a live token; `out`
/// and `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_leader_exists(
    elector: *const me_elector,
    cancel: *const me_cancel,
    out: *mut bool,
    err: *mut *mut me_error,
) -> me_status {
    read(elector, cancel, out, err, |e, c| e.leader_exists_with(c))
}

/// Whether the elector's loop runs (false for NULL). Thread-safe.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_running(elector: *const me_elector) -> bool {
    handles::getter(elector, false, |h| h.elector.running())
}

/// Seconds until the next poll of a running elector; a quarter ttl
/// otherwise (0 for NULL). Thread-safe.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_poll_wait(elector: *const me_elector) -> f64 {
    handles::getter(elector, 0.0, |h| h.elector.poll_wait().as_secs_f64())
}

/// The leader lease in seconds (0 for NULL).
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_ttl(elector: *const me_elector) -> f64 {
    handles::getter(elector, 0.0, |h| h.elector.ttl().as_secs_f64())
}

/// The group key. Borrowed: valid while the elector lives; NULL for NULL.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_key(elector: *const me_elector) -> *const c_char {
    handles::getter(elector, std::ptr::null(), |h| h.key.as_ptr())
}

/// The lock the election runs on, as a read-only view: its getters and
/// reads (`me_locker_locked`, `_owned`, `_current`, `_status`) work; the
/// mutating functions return ME_ERR_INVALID_STATE and `me_locker_free`
/// ignores it. Borrowed: valid while the elector lives; NULL for NULL.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_locker(elector: *const me_elector) -> *const me_locker {
    handles::getter(elector, std::ptr::null(), |h| Arc::as_ptr(&h.locker))
}

/// Sets `*out` to this node's status (one read). Ownership: free the record
/// with `me_node_status_free`. Thread-safe.
/// Errors: as `me_elector_leader_exists`.
///
/// # Safety
/// As for `me_elector_leader_exists`.
#[no_mangle]
pub unsafe extern "C" fn me_elector_node_status(
    elector: *const me_elector,
    cancel: *const me_cancel,
    out: *mut *mut me_node_status,
    err: *mut *mut me_error,
) -> me_status {
    read(elector, cancel, out, err, |e, c| {
        Ok(records::node_status(&e.node_status_with(c)?))
    })
}

/// Sets `*out` to the group's live members and its leader, the leader taken
/// from the lock itself (two reads). Ownership: free the record with
/// `me_cluster_detail_free`. Thread-safe.
/// Errors: as `me_elector_leader_exists`.
///
/// # Safety
/// As for `me_elector_leader_exists`.
#[no_mangle]
pub unsafe extern "C" fn me_elector_cluster_detail(
    elector: *const me_elector,
    cancel: *const me_cancel,
    out: *mut *mut me_cluster_detail,
    err: *mut *mut me_error,
) -> me_status {
    read(elector, cancel, out, err, |e, c| {
        Ok(records::cluster(&e.cluster_detail_with(c)?))
    })
}

/// Closes the elector: stops it and releases leadership (firing
/// `on_leader_loss` if leading), then returns once no callback of it is
/// running on another thread. Later calls return ME_ERR_CLOSED; getters keep
/// working until `me_elector_free`. Idempotent and thread-safe. From one of
/// its own callbacks it flags the stop and returns at once (the elector
/// thread releases on its way out).
/// Errors (the release's): ME_ERR_DATABASE, ME_ERR_INVALID_STATE (inherited
/// through fork: nothing is released), ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_close(
    elector: *mut me_elector,
    err: *mut *mut me_error,
) -> me_status {
    with(elector, err, |e| e.close())
}

/// The current term's loss token while this elector leads: cancelled the
/// moment the term ends (lease run out, taken, released, stopped, closed),
/// on time even while a callback holds the elector's thread. Writes the
/// term's fencing token to `*fence` (if not NULL). Ownership: a new handle
/// freed with `me_cancel_free`. NULL when not leading, or for NULL.
/// Thread-safe; never blocks.
///
/// # Safety
/// `elector` is NULL or a live handle; `fence` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_term_token(
    elector: *const me_elector,
    fence: *mut i64,
) -> *mut me_cancel {
    boundary::infallible(std::ptr::null_mut(), || {
        let Some(term) = elector.as_ref().and_then(|h| h.elector.term()) else {
            return std::ptr::null_mut();
        };
        if let Some(f) = fence.as_mut() {
            *f = term.fence();
        }
        me_cancel::wrap(term.token().clone())
    })
}

/// The group's leader as this elector last observed it, from memory (no
/// round trip): `*out` is a new record freed with `me_leader_info_free`, or
/// NULL when the lock was free or nothing was observed yet; `*observed_ms`
/// (if not NULL) is when (ms since the Unix epoch), 0 before the first
/// observation. Thread-safe; never blocks.
/// Errors: ME_ERR_INVALID_ARGUMENT (NULL elector or out).
///
/// # Safety
/// `elector` is NULL or a live handle; `out`, `observed_ms` and `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_leader(
    elector: *const me_elector,
    out: *mut *mut me_leader_info,
    observed_ms: *mut i64,
    err: *mut *mut me_error,
) -> me_status {
    boundary::call(err, || {
        let h = elector.as_ref().ok_or_else(|| invalid("elector is NULL"))?;
        let out = args::out(out, "out")?;
        let seen = h.elector.observed_leader();
        *out = seen
            .as_ref()
            .and_then(|(l, _)| l.as_ref())
            .map_or(std::ptr::null_mut(), records::leader);
        if let Some(at) = observed_ms.as_mut() {
            *at = seen.map_or(0, |(_, t)| records::millis(t));
        }
        Ok(())
    })
}

/// A health check for probes, from memory (no round trip): false when this
/// node believes it leads but its last renewal is older than `tolerance`
/// seconds (<= 0 or NaN: its lease), when its polls have not succeeded for
/// two poll intervals, or when it does not run; true for a working leader
/// or follower. `*reason` (if not NULL) gets a static string saying why
/// ("leading", "following", "renewal overdue", "polls failing or stuck",
/// "not running"); never free it. False for NULL. Thread-safe.
///
/// # Safety
/// `elector` is NULL or a live handle; `reason` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_healthy(
    elector: *const me_elector,
    tolerance: f64,
    reason: *mut *const c_char,
) -> bool {
    boundary::infallible(false, || {
        let Some(h) = elector.as_ref() else {
            return false;
        };
        let tolerance = (tolerance > 0.0)
            .then(|| Duration::try_from_secs_f64(tolerance).ok())
            .flatten();
        let health = h.elector.healthy(tolerance);
        if let Some(r) = reason.as_mut() {
            *r = match health {
                Health::Leading => c"leading",
                Health::Following => c"following",
                Health::RenewalOverdue => c"renewal overdue",
                Health::PollsFailing => c"polls failing or stuck",
                Health::NotRunning => c"not running",
            }
            .as_ptr();
        }
        health.is_ok()
    })
}

/// Writes this elector's counters (its lock's, plus leader transitions) to
/// `*out` and returns true; false for NULL arguments. Thread-safe.
///
/// # Safety
/// `elector` is NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_stats(elector: *const me_elector, out: *mut me_stats) -> bool {
    boundary::infallible(false, || {
        let (Some(h), Some(out)) = (elector.as_ref(), out.as_mut()) else {
            return false;
        };
        *out = records::stats(&h.elector.stats());
        true
    })
}

/// Frees the handle. It never releases leadership: an elector freed without
/// `me_elector_close` stops its thread (cutting short its round trips),
/// drops its queued callbacks without running them, and its lease lapses by
/// the ttl. So a garbage collector's finalizer may free it safely. Then
/// `user_data_free` runs, on this thread. NULL is a no-op. Must not be
/// called twice, from one of the elector's callbacks, or while another call
/// on the handle is starting.
///
/// # Safety
/// `elector` is NULL or a live handle from `me_elector_new`.
#[no_mangle]
pub unsafe extern "C" fn me_elector_free(elector: *mut me_elector) {
    boundary::infallible((), || {
        if elector.is_null() {
            return;
        }
        let h = handles::release(elector);
        h.elector.abandon();
    })
}
