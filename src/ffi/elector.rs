//! `me_elector`: leader election with C function-pointer callbacks.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::client::me_client;
use super::locker::me_locker;
use super::status::me_status;
use super::{args, boundary, handles, json};
use crate::core::elector::{Callback, ElectorOptions, MongoLeaderElector};
use crate::core::error::shown;
use crate::core::log::log_at;

/// An elector callback; receives the `user_data` of the options.
pub type me_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

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
    /// Passed to every callback. Must stay valid until me_elector_free returns.
    pub user_data: *mut c_void,
    /// Included in status reports (NULL: none).
    pub app_version: *const c_char,
    /// Write this node's status to the `elector.leader_status` collection (true).
    pub report_status: bool,
}

/// A leader elector. Safe to use from several threads at once, and from its
/// own callbacks.
pub struct me_elector {
    elector: MongoLeaderElector,
    key: CString,
    /// The elector's lock as a borrowed `me_locker`.
    locker: Arc<me_locker>,
}

struct UserData(*mut c_void);
// SAFETY: the caller promises user_data may be used from the elector's
// thread (documented on me_elector_new).
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}
impl UserData {
    fn get(&self) -> *mut c_void {
        self.0
    }
}

fn wrap(cb: me_callback, user_data: *mut c_void) -> Option<Callback> {
    let f = cb?;
    let ud = UserData(user_data);
    // SAFETY: a C function pointer given by the user, called as documented.
    Some(Arc::new(move || unsafe { f(ud.get()) }))
}

/// Fills `opts` with the defaults: ttl 15, no callbacks, NULL user_data, no
/// app_version, report_status true. NULL is a no-op.
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
                app_version: std::ptr::null(),
                report_status: d.report_status,
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
/// after `me_elector_stop`/`me_elector_free` has returned. Exception: the
/// `on_leader_loss` caused by the caller's own `me_elector_stop`,
/// `me_elector_release` or `me_elector_free` fires before that call returns,
/// on the caller's thread unless another thread is running callbacks at that
/// moment (when called from a callback: right after that callback returns).
/// On a release it fires before the release is written, so no other node
/// leads before this one's `on_leader_loss` has run. Callbacks may call `me_elector_stop` and
/// `me_elector_release` on their own elector; they must not free it.
///
/// `opts` may be NULL for the defaults. Ownership: on success `*out` is a new
/// handle freed with `me_elector_free`; unchanged on failure.
/// Errors: ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// Pointers are NULL or valid; `client` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_new(
    client: *const me_client,
    db_name: *const c_char,
    key: *const c_char,
    opts: *const me_elector_options,
    out: *mut *mut me_elector,
) -> me_status {
    boundary::call(|| {
        let client = handles::borrow(client, "client")?;
        let db_name = args::text(db_name, "db_name")?;
        let key = args::text(key, "key")?;
        let out = args::out(out, "out")?;
        let options = match opts.as_ref() {
            None => ElectorOptions::default(),
            Some(o) => ElectorOptions {
                ttl: args::seconds(o.ttl, "opts->ttl", true)?,
                on_leader: wrap(o.on_leader, o.user_data),
                on_leader_loss: wrap(o.on_leader_loss, o.user_data),
                on_loop: wrap(o.on_loop, o.user_data),
                app_version: args::opt_text(o.app_version, "opts->app_version")?.map(str::to_owned),
                report_status: o.report_status,
            },
        };
        let db = client.client.database(db_name)?;
        let elector = MongoLeaderElector::new(key, &db, options)?;
        let locker = Arc::new(me_locker::new(elector.mlock().clone(), true));
        *out = handles::into_raw(me_elector {
            key: args::c_copy(key),
            elector,
            locker,
        });
        Ok(())
    })
}

macro_rules! elector_call {
    ($elector:expr, |$e:ident| $body:expr) => {
        handles::call_with($elector.cast_const(), "elector", |h| {
            let $e = &h.elector;
            $body
        })
    };
}

/// Starts the elector: on a new thread, or with `blocking` on this thread
/// until `me_elector_stop` (from a callback or another thread).
/// Errors: ME_ERR_INVALID_STATE (already running), ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_start(elector: *mut me_elector, blocking: bool) -> me_status {
    elector_call!(elector, |e| e.start(blocking))
}

/// Stops the elector and releases leadership. From another thread: waits
/// for the elector thread to end, then fires `on_leader_loss` (if leading) on
/// this thread and returns. From a callback: asks the thread to stop and
/// returns at once. Stopping a stopped elector only releases (ME_OK).
/// Errors: ME_ERR_DATABASE (the release failed; leadership is given up
/// locally anyway), ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_stop(elector: *mut me_elector) -> me_status {
    elector_call!(elector, |e| e.stop())
}

/// Runs one poll cycle on this thread (renew if leading, try to lead if
/// not, report status), then fires the callbacks of what happened.
/// Errors: ME_ERR_DATABASE, ME_ERR_TIME_OFFSET, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_poll(elector: *mut me_elector) -> me_status {
    elector_call!(elector, |e| e.poll())
}

/// Gives up leadership now (firing `on_leader_loss` if leading). A running
/// elector leaves the lock to the others for half a ttl, then competes again.
/// Errors: ME_ERR_DATABASE, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_release(elector: *mut me_elector) -> me_status {
    elector_call!(elector, |e| e.release())
}

/// Sets `*out` to whether this elector leads: true while its lease, counted
/// on its own monotonic clock, lasts. No database call, so it turns false by
/// the lease's end even when the database is unreachable.
///
/// # Safety
/// `elector` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_is_leader(
    elector: *mut me_elector,
    out: *mut bool,
) -> me_status {
    elector_call!(elector, |e| {
        *args::out(out, "out")? = e.is_leader();
        Ok(())
    })
}

/// Sets `*out` to whether any elector of the group leads now (one read).
/// Errors: ME_ERR_DATABASE, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_leader_exists(
    elector: *mut me_elector,
    out: *mut bool,
) -> me_status {
    elector_call!(elector, |e| {
        let out = args::out(out, "out")?;
        *out = e.leader_exists()?;
        Ok(())
    })
}

/// Whether the elector's loop is running; false for NULL.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_running(elector: *const me_elector) -> bool {
    handles::getter(elector, false, |h| h.elector.running())
}

/// Seconds until the next poll of a running elector (a quarter ttl when
/// stopped); 0 for NULL.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_poll_wait(elector: *const me_elector) -> f64 {
    handles::getter(elector, 0.0, |h| h.elector.poll_wait().as_secs_f64())
}

/// The leader lease in seconds; 0 for NULL.
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

/// The elector's lock (the seed's `mlock`). Borrowed: valid while the
/// elector lives; do not free it (`me_locker_free` ignores it). NULL for NULL.
///
/// # Safety
/// `elector` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn me_elector_locker(elector: *const me_elector) -> *const me_locker {
    handles::getter(elector, std::ptr::null(), |h| Arc::as_ptr(&h.locker))
}

/// Writes this node's status as a JSON object to `*json_out`: the locker
/// status keys plus `_id` (the node's uuid), `is_leader`, `elector_running`,
/// `last_poll` and `app_version`. Free it with `me_string_free`.
/// Errors: ME_ERR_DATABASE, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_node_status(
    elector: *mut me_elector,
    json_out: *mut *mut c_char,
) -> me_status {
    elector_call!(elector, |e| {
        let out = args::out(json_out, "json_out")?;
        *out = args::owned_string(json::node_status(&e.node_status()?).to_string());
        Ok(())
    })
}

/// Writes the group's state as a JSON object to `*json_out`: `member_detail`
/// (live members' statuses, newest first), `leader` (`host`, `process_id`,
/// `uuid`, `fence`, taken from the lock itself; null when nobody leads) and
/// `timestamp`. Free it with `me_string_free`.
/// Errors: ME_ERR_DATABASE, ME_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `elector` is NULL or a live handle; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_elector_cluster_detail(
    elector: *mut me_elector,
    json_out: *mut *mut c_char,
) -> me_status {
    elector_call!(elector, |e| {
        let out = args::out(json_out, "json_out")?;
        *out = args::owned_string(json::cluster(&e.cluster_detail()?).to_string());
        Ok(())
    })
}

/// Stops the elector if it runs (releasing leadership, firing
/// `on_leader_loss` on this thread if leading), then frees it. No callback
/// runs after it returns. NULL is a no-op. Must not be called twice, nor
/// from the elector's own callbacks.
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
        if let Err(e) = h.elector.close() {
            log_at!(
                Warn,
                "stopping elector {} in me_elector_free: {e}",
                shown(h.elector.key())
            );
        }
    })
}
