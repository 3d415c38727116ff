//! C callbacks and their `user_data`: the function-pointer types, and the
//! wrapping that turns them into the core's closures.

use std::ffi::c_void;
use std::sync::{Arc, OnceLock};

use super::boundary;
use super::records::{me_leader_info, LeaderRecord};
use crate::core::elector::{Callback, LeaderCallback};

/// A callback; receives the `user_data` of the options.
pub type me_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// `on_new_leader`: receives the `user_data` of the options and the new
/// leader, or NULL for none (borrowed for the call).
pub type me_leader_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, leader: *const me_leader_info)>;

/// The options' `user_data`, and its free function, run when the last
/// callback that may use it is gone. The function is armed only once the
/// handle was made: on failure the caller still owns `user_data`.
pub(crate) struct UserData {
    ptr: *mut c_void,
    free: OnceLock<unsafe extern "C" fn(user_data: *mut c_void)>,
}
// SAFETY: the caller promises user_data may be used from the library's
// threads (documented on the options).
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl UserData {
    pub fn new(ptr: *mut c_void) -> Arc<UserData> {
        Arc::new(UserData {
            ptr,
            free: OnceLock::new(),
        })
    }

    /// From now on `free` runs with `user_data` when the last callback is gone.
    pub fn arm(&self, free: me_callback) {
        if let Some(f) = free {
            let _ = self.free.set(f);
        }
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(f) = self.free.get() {
            // SAFETY: a C function pointer given by the user, called once, as documented.
            boundary::infallible((), || unsafe { f(self.ptr) });
        }
    }
}

pub(crate) fn wrap(cb: me_callback, user_data: &Arc<UserData>) -> Option<Callback> {
    let f = cb?;
    let ud = user_data.clone();
    // SAFETY: a C function pointer given by the user, called as documented.
    Some(Arc::new(move || unsafe { f(ud.ptr) }))
}

pub(crate) fn wrap_leader(
    cb: me_leader_callback,
    user_data: &Arc<UserData>,
) -> Option<LeaderCallback> {
    let f = cb?;
    let ud = user_data.clone();
    Some(Arc::new(move |leader| {
        let rec = leader.map(LeaderRecord::new);
        let p = rec
            .as_ref()
            .map_or(std::ptr::null(), |r| &r.0 as *const me_leader_info);
        // SAFETY: a C function pointer given by the user, called as
        // documented; the record outlives the call.
        unsafe { f(ud.ptr, p) }
    }))
}
