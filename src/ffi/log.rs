//! `me_set_log_callback`: where the library's log messages go.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;

use super::boundary;
use crate::core::log::{self, Level};

/// Receives one log message. `message` is valid only during the call.
pub type me_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: c_int, message: *const c_char)>;

struct Target(*mut c_void);
// SAFETY: the caller of me_set_log_callback promises the callback and its
// user_data may be used from any thread (documented there).
unsafe impl Send for Target {}
unsafe impl Sync for Target {}
impl Target {
    fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Sends the library's log messages of `level <= max_level` (1 error,
/// 2 warning, 3 info, 4 debug, 5 trace; values outside are clamped) to `cb`.
/// NULL restores the default: warnings and errors to stderr.
///
/// Process-wide. The callback may be called from any thread, several at once,
/// so it and `user_data` must be thread-safe; it must not call `me_*` functions.
#[no_mangle]
pub extern "C" fn me_set_log_callback(
    cb: me_log_callback,
    max_level: c_int,
    user_data: *mut c_void,
) {
    boundary::infallible((), || {
        let level = match max_level {
            i32::MIN..=1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => Level::Trace,
        };
        let sink = cb.map(|f| {
            let target = Target(user_data);
            Arc::new(move |lvl: Level, msg: &str| {
                let text = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
                // SAFETY: a C function pointer given by the user, called as documented.
                unsafe { f(target.get(), lvl as c_int, text.as_ptr()) }
            }) as log::Sink
        });
        log::set_sink(sink, level);
    })
}
