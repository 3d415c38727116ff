//! `me_locker`: a distributed lock on one key.

use std::ffi::{c_char, CString};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::client::me_client;
use super::status::{me_status, ME_NO_TIMEOUT};
use super::{args, boundary, handles, json};
use crate::core::error::{invalid, shown, Result};
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
}

/// A lock on one key. Safe to use from several threads at once.
pub struct me_locker {
    pub(crate) locker: Arc<MongoLocker>,
    key: CString,
    uuid: CString,
    host: CString,
    /// Owned by an elector (`me_elector_locker`): `me_locker_free` ignores it.
    borrowed: bool,
}

impl me_locker {
    pub(crate) fn new(locker: Arc<MongoLocker>, borrowed: bool) -> me_locker {
        me_locker {
            key: args::c_copy(locker.key()),
            uuid: args::c_copy(locker.uuid()),
            host: args::c_copy(locker.host()),
            locker,
            borrowed,
        }
    }
}

/// Fills `opts` with the defaults: "mongolocker", ttl 600, timeparanoid
/// true, maxoffset 0.5. NULL is a no-op.
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
            };
        }
    })
}

/// Creates a locker for `key` in database `db_name`. Sends nothing yet.
///
/// `opts` may be NULL for the defaults. Ownership: on success `*out` is a
/// new handle freed with `me_locker_free`; `*out` is unchanged on failure.
/// The locker keeps its own reference to the client.
/// Errors: ME_ERR_INVALID_ARGUMENT (NULL client/db_name/key/out, bad UTF-8,
/// empty key, bad database or collection name, ttl not finite or <= 0).
///
/// # Safety
/// Pointers are NULL or valid; `client` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_locker_new(
    client: *const me_client,
    db_name: *const c_char,
    key: *const c_char,
    opts: *const me_locker_options,
    out: *mut *mut me_locker,
) -> me_status {
    boundary::call(|| {
        let client = handles::borrow(client, "client")?;
        let db_name = args::text(db_name, "db_name")?;
        let key = args::text(key, "key")?;
        let out = args::out(out, "out")?;
        let options = match opts.as_ref() {
            None => LockerOptions::default(),
            Some(o) => LockerOptions {
                dbcollection: args::text(o.dbcollection, "opts->dbcollection")?.to_owned(),
                ttl: args::seconds(o.ttl, "opts->ttl", true)?,
                timeparanoid: o.timeparanoid,
                maxoffset: o.maxoffset,
            },
        };
        let db = client.client.database(db_name)?;
        let locker = MongoLocker::new(key, &db, options)?;
        *out = handles::into_raw(me_locker::new(Arc::new(locker), false));
        Ok(())
    })
}

/// Releases the lock if this locker holds it (best effort; errors are
/// logged), makes waiting `me_acquire` calls on it return
/// ME_ERR_INVALID_STATE, then frees the handle. NULL is a no-op; a locker
/// borrowed from `me_elector_locker` is ignored. Must not be called twice.
///
/// # Safety
/// `locker` is NULL or a live handle from `me_locker_new`.
#[no_mangle]
pub unsafe extern "C" fn me_locker_free(locker: *mut me_locker) {
    boundary::infallible((), || {
        let Some(h) = locker.as_ref() else { return };
        if h.borrowed {
            log_at!(
                Warn,
                "me_locker_free on a locker owned by an elector: ignored"
            );
            return;
        }
        let h = handles::release(locker);
        if let Err(e) = h.locker.close() {
            log_at!(
                Warn,
                "releasing {} in me_locker_free: {e}",
                shown(h.locker.key())
            );
        }
    })
}

fn acquire_options(blocking: bool, timeout: f64, step: f64, force: bool) -> Result<AcquireOptions> {
    let timeout = if timeout == ME_NO_TIMEOUT {
        None
    } else if !blocking {
        return Err(invalid(
            "blocking=false is incompatible with a timeout (pass ME_NO_TIMEOUT)",
        ));
    } else {
        Some(args::seconds(timeout, "timeout", false)?)
    };
    Ok(AcquireOptions {
        blocking,
        timeout,
        step: args::seconds(step, "step", false)?,
        force,
    })
}

/// Acquires the lock. `blocking`: wait until it is free, for at most
/// `timeout` seconds (ME_NO_TIMEOUT: forever), retrying every `step` seconds
/// (the seed's 0.25 is a good default); otherwise try once. `force` takes the
/// lock even from a live holder. Acquiring a lock this locker already holds
/// renews it and returns at once (there is no nesting count).
///
/// Errors: ME_ERR_LOCK_EXISTS (non-blocking, held), ME_ERR_ACQUIRE_TIMEOUT,
/// ME_ERR_TIME_OFFSET (timeparanoid), ME_ERR_INVALID_ARGUMENT (a timeout with
/// blocking=false, negative or NaN timeout/step), ME_ERR_DATABASE,
/// ME_ERR_INVALID_STATE (the locker was freed meanwhile). Thread-safe.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_acquire(
    locker: *mut me_locker,
    blocking: bool,
    timeout: f64,
    step: f64,
    force: bool,
) -> me_status {
    handles::call_with(locker.cast_const(), "locker", |h| {
        h.locker
            .acquire(acquire_options(blocking, timeout, step, force)?)
    })
}

/// One attempt to acquire the lock, like `me_acquire` with `blocking=false`,
/// except that all its round trips (clock check, read, insert) end within
/// `timeout` seconds (ME_NO_TIMEOUT: the library's own bound, as for
/// `me_acquire`: 5 to 30 s per round trip, by the ttl).
/// For bindings that wait between attempts themselves, to honour their own
/// cancellation without one attempt outlasting the caller's deadline.
///
/// Errors: ME_ERR_LOCK_EXISTS (held by someone else), ME_ERR_ACQUIRE_TIMEOUT
/// (`timeout` ran out), ME_ERR_TIME_OFFSET (timeparanoid),
/// ME_ERR_INVALID_ARGUMENT (negative or NaN timeout), ME_ERR_DATABASE,
/// ME_ERR_INVALID_STATE (the locker was freed meanwhile). Thread-safe.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_try_acquire(
    locker: *mut me_locker,
    timeout: f64,
    force: bool,
) -> me_status {
    handles::call_with(locker.cast_const(), "locker", |h| {
        if timeout == ME_NO_TIMEOUT {
            return h.locker.acquire(AcquireOptions {
                blocking: false,
                force,
                ..Default::default()
            });
        }
        h.locker
            .try_acquire(force, args::seconds(timeout, "timeout", false)?)
    })
}

/// Releases the lock if this locker holds it; with `force`, whoever holds
/// it. Releasing a lock this locker does not hold (never acquired, expired,
/// taken over) is a no-op that returns ME_OK.
/// Errors: ME_ERR_INVALID_ARGUMENT, ME_ERR_DATABASE. Thread-safe.
///
/// # Safety
/// `locker` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_release(locker: *mut me_locker, force: bool) -> me_status {
    handles::call_with(locker.cast_const(), "locker", |h| {
        h.locker.release(force).map(|_| ())
    })
}

fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Renews this locker's live holding for another ttl. On success writes the
/// new expiry (ms since the Unix epoch, UTC) to `*new_expire_ms` if it is
/// not NULL. Errors: ME_ERR_NOT_OWNED (not held by this locker),
/// ME_ERR_DATABASE, ME_ERR_INVALID_ARGUMENT. Thread-safe.
///
/// # Safety
/// `locker` is NULL or a live handle; `new_expire_ms` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_touch(locker: *mut me_locker, new_expire_ms: *mut i64) -> me_status {
    handles::call_with(locker.cast_const(), "locker", |h| {
        let t = h.locker.touch()?;
        if let Some(out) = new_expire_ms.as_mut() {
            *out = millis(t);
        }
        Ok(())
    })
}

/// Sets `*out` to whether anyone holds the lock now (one read).
/// Errors: ME_ERR_INVALID_ARGUMENT, ME_ERR_DATABASE. Thread-safe.
///
/// # Safety
/// `locker` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locked(locker: *mut me_locker, out: *mut bool) -> me_status {
    handles::call_with(locker.cast_const(), "locker", |h| {
        let out = args::out(out, "out")?;
        *out = h.locker.locked()?;
        Ok(())
    })
}

/// Sets `*out` to whether this locker holds the lock now (one read).
/// Errors: ME_ERR_INVALID_ARGUMENT, ME_ERR_DATABASE. Thread-safe.
///
/// # Safety
/// `locker` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_owned(locker: *mut me_locker, out: *mut bool) -> me_status {
    handles::call_with(locker.cast_const(), "locker", |h| {
        let out = args::out(out, "out")?;
        *out = h.locker.owned()?;
        Ok(())
    })
}

/// Writes the live lock as a JSON object to `*json_out`: `_id` (the key),
/// `locked`, `host`, `uuid`, `pid`, `ts_created`, `ts_expire` (RFC 3339 UTC
/// strings with milliseconds) and `fence`; NULL when nobody holds the lock.
/// Free the string with `me_string_free`.
/// Errors: ME_ERR_INVALID_ARGUMENT, ME_ERR_DATABASE. Thread-safe.
///
/// # Safety
/// `locker` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_get_current(
    locker: *mut me_locker,
    json_out: *mut *mut c_char,
) -> me_status {
    handles::call_with(locker.cast_const(), "locker", |h| {
        let out = args::out(json_out, "json_out")?;
        let current = h.locker.get_current()?;
        *out = current.map_or(std::ptr::null_mut(), |c| {
            args::owned_string(json::current(&c).to_string())
        });
        Ok(())
    })
}

/// Writes this locker's view as a JSON object to `*json_out`: `uuid`, `key`,
/// `ttl` (seconds), `timestamp`, `host`, `pid`, `lock_owned`, `lock_created`,
/// `lock_expires` and `fence` (the last three null unless owned). Free the
/// string with `me_string_free`.
/// Errors: ME_ERR_INVALID_ARGUMENT, ME_ERR_DATABASE. Thread-safe.
///
/// # Safety
/// `locker` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_locker_status(
    locker: *mut me_locker,
    json_out: *mut *mut c_char,
) -> me_status {
    handles::call_with(locker.cast_const(), "locker", |h| {
        let out = args::out(json_out, "json_out")?;
        *out = args::owned_string(json::lock_status(&h.locker.status()?).to_string());
        Ok(())
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

/// This process's id as recorded in lock documents; 0 for a NULL locker.
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
                *out = millis(t);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_arguments_are_checked() {
        assert!(acquire_options(false, 1.0, 0.25, false).is_err());
        assert!(acquire_options(true, -2.0, 0.25, false).is_err());
        assert!(acquire_options(true, f64::NAN, 0.25, false).is_err());
        assert!(acquire_options(true, 1.0, f64::INFINITY, false).is_err());
        let o = acquire_options(false, ME_NO_TIMEOUT, 0.25, true).unwrap();
        assert!(!o.blocking && o.timeout.is_none() && o.force);
        assert_eq!(
            acquire_options(true, 1.5, 0.1, false).unwrap().timeout,
            Some(std::time::Duration::from_millis(1500))
        );
    }
}
