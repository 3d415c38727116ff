//! `me_locker`: a distributed lock on one key.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::boundary::me_error;
use super::callbacks::{me_callback, wrap, UserData};
use super::cancel::me_cancel;
use super::client::me_client;
use super::records::{self, me_current_lock, me_lock_status, me_stats};
use super::status::me_status;
use super::{args, boundary, handles};
use crate::core::cancel::CancelToken;
use crate::core::error::{shown, Error, Result};
use crate::core::locker::{AcquireOptions, LockerOptions, MongoLocker};
use crate::core::log::log_at;

/// Options of `me_locker_new`. Fill with `me_locker_options_init`, then
/// change fields. Strings are copied by `me_locker_new`.
#[repr(C)]
pub struct me_locker_options {
    /// Collection of the lock documents ("mongolocker").
    pub dbcollection: *const c_char,
    /// Lease length in seconds (600); finite and > 0.
    pub ttl: f64,
    /// Check the host clock against the server before acquiring (true).
    pub timeparanoid: bool,
    /// Largest clock offset accepted by the check, in seconds (0.5).
    pub maxoffset: f64,
    /// Renew a holding every ttl/4 in the background (on the library's
    /// threads) until it is released or the locker closed (false). If
    /// renewals fail until the lease ends by this locker's clock (ttl minus
    /// twice maxoffset, counted from before the write was sent), the holding
    /// is lost: `me_locker_held` turns false, the lease token is cancelled
    /// and `on_lost` runs, on time even when the database is unreachable.
    /// Needs ttl > 2 x maxoffset.
    pub auto_renew: bool,
    /// Called when a holding ends without a release or close: its lease ran
    /// out unrenewed, or a read or renewal found another holder. On a library
    /// thread, once per holding, never after `me_locker_free` returned (NULL: none).
    pub on_lost: me_callback,
    /// Passed to `on_lost`.
    pub user_data: *mut c_void,
    /// Called once with `user_data` after `on_lost` can no longer run, inside
    /// `me_locker_free` or later on a library thread (NULL: none).
    pub user_data_free: me_callback,
}

/// Options of `me_locker_acquire`. Fill with `me_acquire_options_init`, then
/// change fields.
#[repr(C)]
pub struct me_acquire_options {
    /// Wait while someone else holds the lock (true); false: one attempt,
    /// ME_ERR_LOCK_EXISTS if it is held.
    pub blocking: bool,
    /// Whether `timeout` applies (false: no limit but the library's own per
    /// round trip, 5 to 30 s by the ttl).
    pub has_timeout: bool,
    /// The longest the call may take, its round trips included, in seconds
    /// (finite, >= 0); with blocking=false it bounds the one attempt.
    pub timeout: f64,
    /// Seconds between attempts while the lock is held (0.25); finite, >= 0.
    pub step: f64,
    /// Take the lock even from a live holder (false). Use with care.
    pub force: bool,
    /// Cancelling it makes the call return ME_ERR_CANCELLED (NULL: none).
    /// Borrowed for the call.
    pub cancel: *const me_cancel,
}

/// A lock on one key. Safe to use from several threads at once.
pub struct me_locker {
    pub(crate) locker: Arc<MongoLocker>,
    key: CString,
    uuid: CString,
    host: CString,
    dbcollection: CString,
    db_name: CString,
    /// An elector's own lock (`me_elector_locker`): read-only here.
    borrowed: bool,
}

impl me_locker {
    pub(crate) fn new(locker: Arc<MongoLocker>, borrowed: bool) -> me_locker {
        me_locker {
            key: args::c_copy(locker.key()),
            uuid: args::c_copy(locker.uuid()),
            host: args::c_copy(locker.host()),
            dbcollection: args::c_copy(locker.dbcollection()),
            db_name: args::c_copy(locker.db().name()),
            locker,
            borrowed,
        }
    }
}

/// The token behind an optional `me_cancel` argument.
///
/// # Safety
/// `p` is NULL or a live token.
pub(crate) unsafe fn token(p: *const me_cancel) -> Option<CancelToken> {
    p.as_ref().map(|c| c.token.clone())
}

/// A mutating call on `p`, refused on an elector's read-only lock.
///
/// # Safety
/// As for [`handles::call_with`].
unsafe fn mutate(
    p: *mut me_locker,
    err: *mut *mut me_error,
    body: impl FnOnce(&MongoLocker) -> Result<()>,
) -> me_status {
    handles::call_with(p.cast_const(), "locker", err, |h| {
        if h.borrowed {
            return Err(Error::InvalidState(
                "an elector's lock is read-only: use the elector's functions".into(),
            ));
        }
        body(&h.locker)
    })
}

/// Fills `opts` with the defaults: "mongolocker", ttl 600, timeparanoid
/// true, maxoffset 0.5, no auto_renew, no on_lost. NULL is a no-op.
///
/// # Safety
/// `opts` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_options_init(opts: *mut me_locker_options) {
    boundary::infallible((), || {
        if let Some(o) = opts.as_mut() {
            let d = LockerOptions::default();
            *o = me_locker_options {
                dbcollection: c"mongolocker".as_ptr(),
                ttl: d.ttl.as_secs_f64(),
                timeparanoid: d.timeparanoid,
                maxoffset: d.maxoffset,
                auto_renew: d.auto_renew,
                on_lost: None,
                user_data: std::ptr::null_mut(),
                user_data_free: None,
            };
        }
    })
}

/// Fills `opts` with the defaults: blocking, no timeout, step 0.25 s, no
/// force, no token. NULL is a no-op.
///
/// # Safety
/// `opts` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_acquire_options_init(opts: *mut me_acquire_options) {
    boundary::infallible((), || {
        if let Some(o) = opts.as_mut() {
            let d = AcquireOptions::default();
            *o = me_acquire_options {
                blocking: d.blocking,
                has_timeout: false,
                timeout: 0.0,
                step: d.step.as_secs_f64(),
                force: d.force,
                cancel: std::ptr::null(),
            };
        }
    })
}

/// Creates a locker for `key` in database `db_name`. Sends nothing yet.
///
/// `opts` may be NULL for the defaults. Ownership: on success `*out` is a
/// new handle, closed with `me_locker_close` and freed with `me_locker_free`;
/// `*out` is unchanged on failure. The locker keeps its own reference to the
/// client. Thread-safe; never blocks.
/// Errors: ME_ERR_INVALID_ARGUMENT (NULL client/db_name/key/out, bad UTF-8,
/// empty key, bad database or collection name, ttl not finite or <= 0,
/// maxoffset negative), ME_ERR_DATABASE (a driver could not be made for this
/// process).
///
/// # Safety
/// Pointers are NULL or valid; `client` is a live handle; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_new(
    client: *const me_client,
    db_name: *const c_char,
    key: *const c_char,
    opts: *const me_locker_options,
    out: *mut *mut me_locker,
    err: *mut *mut me_error,
) -> me_status {
    boundary::call(err, || {
        let client = handles::borrow(client, "client")?;
        let db_name = args::text(db_name, "db_name")?;
        let key = args::text(key, "key")?;
        let out = args::out(out, "out")?;
        let user_data = UserData::new(opts.as_ref().map_or(std::ptr::null_mut(), |o| o.user_data));
        let options = match opts.as_ref() {
            None => LockerOptions::default(),
            Some(o) => LockerOptions {
                dbcollection: args::text(o.dbcollection, "opts->dbcollection")?.to_owned(),
                ttl: args::seconds(o.ttl, "opts->ttl", true)?,
                timeparanoid: o.timeparanoid,
                maxoffset: o.maxoffset,
                auto_renew: o.auto_renew,
                on_lost: wrap(o.on_lost, &user_data),
            },
        };
        let db = client.client.database(db_name)?;
        let locker = MongoLocker::new(key, &db, options)?;
        user_data.arm(opts.as_ref().and_then(|o| o.user_data_free));
        *out = handles::into_raw(me_locker::new(Arc::new(locker), false));
        Ok(())
    })
}

/// Acquires the lock as `opts` says (NULL: the defaults of
/// `me_acquire_options_init`). Acquiring a lock this locker already holds
/// renews it and returns at once (there is no nesting count). Every round
/// trip is bounded by the time left of `opts->timeout`.
///
/// Blocks: until acquired, the timeout, the token's cancellation or
/// `me_locker_close`. Thread-safe.
/// Errors: ME_ERR_LOCK_EXISTS (blocking=false, held by another),
/// ME_ERR_ACQUIRE_TIMEOUT, ME_ERR_CANCELLED (`opts->cancel` cancelled),
/// ME_ERR_CLOSED (the locker was closed before or during the call),
/// ME_ERR_TIME_OFFSET (timeparanoid), ME_ERR_INVALID_ARGUMENT (negative or
/// NaN timeout or step, NULL locker, an elector's read-only lock is
/// ME_ERR_INVALID_STATE), ME_ERR_DATABASE, ME_ERR_INVALID_STATE (a locker
/// inherited through fork).
///
/// # Safety
/// `locker` is NULL or a live handle; `opts` is NULL or valid, its `cancel`
/// NULL or a live token; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_acquire(
    locker: *mut me_locker,
    opts: *const me_acquire_options,
    err: *mut *mut me_error,
) -> me_status {
    mutate(locker, err, |l| l.acquire(acquire_options(opts)?))
}

/// The core's options from C's (NULL: the defaults).
///
/// # Safety
/// `opts` is NULL or valid, its `cancel` NULL or a live token.
unsafe fn acquire_options(opts: *const me_acquire_options) -> Result<AcquireOptions> {
    let Some(o) = opts.as_ref() else {
        return Ok(AcquireOptions::default());
    };
    Ok(AcquireOptions {
        blocking: o.blocking,
        timeout: if o.has_timeout {
            Some(args::seconds(o.timeout, "opts->timeout", false)?)
        } else {
            None
        },
        step: args::seconds(o.step, "opts->step", false)?,
        force: o.force,
        cancel: token(o.cancel),
    })
}

/// Releases the lock if this locker holds it; with `force`, whoever holds
/// it. Releasing a lock this locker does not hold (never acquired, expired,
/// taken over) is a no-op that returns ME_OK. `*released` (if not NULL)
/// says whether a holding was released.
/// Blocks for one or two round trips (bounded by the library's call limit).
/// Thread-safe.
/// Errors: ME_ERR_CANCELLED, ME_ERR_CLOSED, ME_ERR_DATABASE,
/// ME_ERR_INVALID_ARGUMENT, ME_ERR_INVALID_STATE (inherited through fork, an
/// elector's read-only lock).
///
/// # Safety
/// `locker` is NULL or a live handle; `cancel` NULL or a live token;
/// `released` and `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_release(
    locker: *mut me_locker,
    force: bool,
    cancel: *const me_cancel,
    released: *mut bool,
    err: *mut *mut me_error,
) -> me_status {
    mutate(locker, err, |l| {
        let done = l.release_with(force, token(cancel).as_ref())?;
        if let Some(out) = released.as_mut() {
            *out = done;
        }
        Ok(())
    })
}

/// Renews this locker's live holding for another ttl. On success writes the
/// new expiry (ms since the Unix epoch, UTC) to `*new_expire_ms` if it is
/// not NULL. Blocks for one or two round trips. Thread-safe.
/// Errors: ME_ERR_NOT_OWNED (not held by this locker), ME_ERR_CANCELLED,
/// ME_ERR_CLOSED, ME_ERR_DATABASE, ME_ERR_INVALID_ARGUMENT, ME_ERR_INVALID_STATE.
///
/// # Safety
/// `locker` is NULL or a live handle; `cancel` NULL or a live token;
/// `new_expire_ms` and `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_touch(
    locker: *mut me_locker,
    cancel: *const me_cancel,
    new_expire_ms: *mut i64,
    err: *mut *mut me_error,
) -> me_status {
    mutate(locker, err, |l| {
        let t = l.touch_with(token(cancel).as_ref())?;
        if let Some(out) = new_expire_ms.as_mut() {
            *out = records::millis(t);
        }
        Ok(())
    })
}

/// A read of the lock through `locker` (an elector's read-only lock too).
///
/// # Safety
/// As for [`handles::call_with`]; `out` is NULL or writable.
unsafe fn read<T>(
    locker: *const me_locker,
    out: *mut T,
    err: *mut *mut me_error,
    body: impl FnOnce(&MongoLocker) -> Result<T>,
) -> me_status {
    handles::call_with(locker, "locker", err, |h| {
        let out = args::out(out, "out")?;
        *out = body(&h.locker)?;
        Ok(())
    })
}

/// Sets `*out` to whether anyone holds the lock now (one read). Thread-safe.
/// Errors: ME_ERR_CANCELLED, ME_ERR_CLOSED, ME_ERR_DATABASE,
/// ME_ERR_INVALID_ARGUMENT, ME_ERR_INVALID_STATE.
///
/// # Safety
/// `locker` is NULL or a live handle; `cancel` NULL or a live token; `out`
/// and `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_locked(
    locker: *const me_locker,
    cancel: *const me_cancel,
    out: *mut bool,
    err: *mut *mut me_error,
) -> me_status {
    read(locker, out, err, |l| l.locked_with(token(cancel).as_ref()))
}

/// Sets `*out` to whether this locker holds the lock now (one read).
/// Thread-safe. Errors: as `me_locker_locked`.
///
/// # Safety
/// As for `me_locker_locked`.
#[no_mangle]
pub unsafe extern "C" fn me_locker_owned(
    locker: *const me_locker,
    cancel: *const me_cancel,
    out: *mut bool,
    err: *mut *mut me_error,
) -> me_status {
    read(locker, out, err, |l| l.owned_with(token(cancel).as_ref()))
}

/// Sets `*out` to the live lock (one read), or NULL when nobody holds it.
/// Ownership: free the record with `me_current_lock_free`. Thread-safe.
/// Errors: as `me_locker_locked`.
///
/// # Safety
/// As for `me_locker_locked`.
#[no_mangle]
pub unsafe extern "C" fn me_locker_current(
    locker: *const me_locker,
    cancel: *const me_cancel,
    out: *mut *mut me_current_lock,
    err: *mut *mut me_error,
) -> me_status {
    read(locker, out, err, |l| {
        let current = l.get_current_with(token(cancel).as_ref())?;
        Ok(current.map_or(std::ptr::null_mut(), |c| records::current(&c)))
    })
}

/// Sets `*out` to this locker's view of the lock (one read). Ownership: free
/// the record with `me_lock_status_free`. Thread-safe.
/// Errors: as `me_locker_locked`.
///
/// # Safety
/// As for `me_locker_locked`.
#[no_mangle]
pub unsafe extern "C" fn me_locker_status(
    locker: *const me_locker,
    cancel: *const me_cancel,
    out: *mut *mut me_lock_status,
    err: *mut *mut me_error,
) -> me_status {
    read(locker, out, err, |l| {
        Ok(records::lock_status(
            &l.status_with(token(cancel).as_ref())?,
        ))
    })
}

/// Runs the clock check that `timeparanoid` lockers run before acquiring,
/// whatever this locker's `timeparanoid` says, within `opts`' timeout and
/// cancellation as `me_locker_acquire(locker, opts)` would (NULL: the
/// defaults): this host's clock against the server's, within `maxoffset` (a
/// good result is cached per client). For bindings that expose the check on
/// its own (Python's `_verifytime`). Blocks for up to two round trips.
/// Thread-safe. Errors: ME_ERR_TIME_OFFSET, ME_ERR_ACQUIRE_TIMEOUT,
/// ME_ERR_CANCELLED, ME_ERR_CLOSED, ME_ERR_DATABASE, ME_ERR_INVALID_STATE,
/// ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// As for `me_locker_acquire`.
#[no_mangle]
pub unsafe extern "C" fn me_locker_verify_time(
    locker: *const me_locker,
    opts: *const me_acquire_options,
    err: *mut *mut me_error,
) -> me_status {
    handles::call_with(locker, "locker", err, |h| {
        h.locker.verify_time(&acquire_options(opts)?)
    })
}

/// Closes the locker: every call waiting on it (an acquire's retry sleep or
/// round trip) returns ME_ERR_CLOSED within milliseconds; once they have
/// returned, the lock is released if this locker holds it. Later calls
/// return ME_ERR_CLOSED; getters keep working until `me_locker_free`.
/// Idempotent and thread-safe (a second close returns ME_OK at once).
/// Blocks for the release's round trips.
/// Errors (the release's): ME_ERR_DATABASE, ME_ERR_INVALID_ARGUMENT,
/// ME_ERR_INVALID_STATE (inherited through fork: nothing is released; an
/// elector's read-only lock).
///
/// # Safety
/// `locker` is NULL or a live handle; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_close(
    locker: *mut me_locker,
    err: *mut *mut me_error,
) -> me_status {
    mutate(locker, err, |l| l.close())
}

/// Frees the handle. It never releases the lock: a locker freed while it
/// holds the lock (never closed) keeps it until its lease ends by the ttl, and
/// a warning is logged; calls still waiting on it return ME_ERR_CLOSED. So a
/// garbage collector's finalizer may free a handle the program still relies
/// on (by its fencing token, say) without giving the lock away. NULL is a
/// no-op; an elector's read-only lock is ignored. Must not be called twice,
/// nor race a call that is starting on the handle (calls already waiting
/// hold their own reference).
///
/// # Safety
/// `locker` is NULL or a live handle from `me_locker_new`.
#[no_mangle]
pub unsafe extern "C" fn me_locker_free(locker: *mut me_locker) {
    boundary::infallible((), || {
        let Some(h) = locker.as_ref() else { return };
        if h.borrowed {
            log_at!(Warn, "me_locker_free on an elector's lock: ignored");
            return;
        }
        let h = handles::release(locker);
        if h.locker.held() {
            log_at!(
                Warn,
                "locker for {} freed while holding the lock without a release; it stays held until its ttl ends",
                shown(h.locker.key())
            );
        }
        h.locker.abandon();
    })
}

/// Whether this locker holds the lock by its own clock, without a round
/// trip: its latest holding's lease (ttl minus twice maxoffset, from before
/// the write was sent) has not run out, and it was not released, lost or
/// seen taken over. For hot paths; `me_locker_owned` asks the server.
/// False for NULL. Thread-safe; never blocks.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_held(locker: *const me_locker) -> bool {
    handles::getter(locker, false, |h| h.locker.held())
}

/// The loss token of the current holding: cancelled the moment the holding
/// ends (lease run out, takeover seen, release, close, free), so work can
/// watch it or pass it to calls as their `cancel`. Writes the holding's
/// fencing token to `*fence` (if not NULL). Ownership: a new handle the
/// caller frees with `me_cancel_free`; cancelling it yourself ends nothing
/// but the token. NULL when the locker has no holding (never held, or the
/// last one was released, closed or seen taken over), or for NULL; the token
/// of a holding that has just ended comes back already cancelled.
/// Thread-safe; never blocks.
///
/// # Safety
/// `locker` is NULL or a live handle; `fence` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_lease_token(
    locker: *const me_locker,
    fence: *mut i64,
) -> *mut me_cancel {
    boundary::infallible(std::ptr::null_mut(), || {
        let Some(lease) = locker.as_ref().and_then(|h| h.locker.lease()) else {
            return std::ptr::null_mut();
        };
        if let Some(f) = fence.as_mut() {
            *f = lease.fence();
        }
        me_cancel::wrap(lease.token().clone())
    })
}

/// Writes this locker's counters to `*out` and returns true; false for NULL
/// arguments. Thread-safe; never blocks.
///
/// # Safety
/// `locker` is NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_stats(locker: *const me_locker, out: *mut me_stats) -> bool {
    boundary::infallible(false, || {
        let (Some(h), Some(out)) = (locker.as_ref(), out.as_mut()) else {
            return false;
        };
        *out = records::stats(&h.locker.stats());
        true
    })
}

/// The lock key. Borrowed: valid while the locker lives; NULL for a NULL locker.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_key(locker: *const me_locker) -> *const c_char {
    handles::getter(locker, std::ptr::null(), |h| h.key.as_ptr())
}

/// This locker's uuid (its identity in lock documents). Borrowed: valid
/// while the locker lives; NULL for a NULL locker.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_uuid(locker: *const me_locker) -> *const c_char {
    handles::getter(locker, std::ptr::null(), |h| h.uuid.as_ptr())
}

/// This host's name as recorded in lock documents. Borrowed: valid while the
/// locker lives; NULL for a NULL locker.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_host(locker: *const me_locker) -> *const c_char {
    handles::getter(locker, std::ptr::null(), |h| h.host.as_ptr())
}

/// The collection of the lock documents. Borrowed: valid while the locker
/// lives; NULL for a NULL locker.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_dbcollection(locker: *const me_locker) -> *const c_char {
    handles::getter(locker, std::ptr::null(), |h| h.dbcollection.as_ptr())
}

/// The database name. Borrowed: valid while the locker lives; NULL for a
/// NULL locker.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_db_name(locker: *const me_locker) -> *const c_char {
    handles::getter(locker, std::ptr::null(), |h| h.db_name.as_ptr())
}

/// The id of the process that created the locker, as recorded in lock
/// documents; 0 for a NULL locker.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_pid(locker: *const me_locker) -> i64 {
    handles::getter(locker, 0, |h| h.locker.pid())
}

/// Writes the expiry of this locker's latest acquisition or renewal (ms since
/// the Unix epoch, UTC) to `*out_ms` and returns true; false (and `*out_ms`
/// untouched) when it never acquired, or for NULL arguments.
///
/// # Safety
/// `locker` is NULL or a live handle; `out_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_ts_expire(locker: *const me_locker, out_ms: *mut i64) -> bool {
    boundary::infallible(false, || {
        let (Some(h), Some(out)) = (locker.as_ref(), out_ms.as_mut()) else {
            return false;
        };
        match h.locker.ts_expire() {
            Some(t) => {
                *out = records::millis(t);
                true
            }
            None => false,
        }
    })
}

/// The fencing token of this locker's latest acquisition: strictly
/// increasing per key across all holders; renewals keep it. 0 when it never
/// acquired, or for a NULL locker.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_fence(locker: *const me_locker) -> i64 {
    handles::getter(locker, 0, |h| h.locker.fence())
}

/// The lease length of a locker in seconds (0 for NULL).
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_ttl(locker: *const me_locker) -> f64 {
    handles::getter(locker, 0.0, |h| h.locker.ttl().as_secs_f64())
}

/// The largest clock offset the locker's clock check accepts, in seconds
/// (an elector's lock: derived from its ttl); 0 for NULL.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_maxoffset(locker: *const me_locker) -> f64 {
    handles::getter(locker, 0.0, |h| h.locker.maxoffset())
}

/// Whether the locker checks the host clock before acquiring (false for NULL).
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_timeparanoid(locker: *const me_locker) -> bool {
    handles::getter(locker, false, |h| h.locker.timeparanoid())
}
