//! Status codes, their names, and the library version.

use std::ffi::{c_char, c_int};

use super::boundary;

/// The result of every fallible `me_*` call. Values are stable: never
/// renumbered, retired ones never reused.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum me_status {
    /// Success.
    ME_OK = 0,
    /// NULL where not allowed, bad UTF-8, empty key, ttl <= 0 or not finite, a negative or NaN time.
    ME_ERR_INVALID_ARGUMENT = 1,
    /// A non-blocking acquire found the lock held.
    ME_ERR_LOCK_EXISTS = 2,
    /// An acquire ran out of its timeout.
    ME_ERR_ACQUIRE_TIMEOUT = 3,
    /// The host clock differs from the server's by more than maxoffset.
    ME_ERR_TIME_OFFSET = 4,
    /// me_locker_touch on a lock this locker does not hold.
    ME_ERR_NOT_OWNED = 5,
    /// Driver or server error: connection, authentication, timeout, write error.
    ME_ERR_DATABASE = 6,
    /// The object's state does not allow the call (e.g. start on a running
    /// elector, a handle inherited through fork from another process).
    ME_ERR_INVALID_STATE = 7,
    /// The call's cancellation token was cancelled.
    ME_ERR_CANCELLED = 8,
    /// The handle was closed (before or during the call).
    ME_ERR_CLOSED = 9,
    /// A caught panic (a bug in mongoelector). The handle stays usable.
    ME_ERR_INTERNAL = 99,
}

/// The shortest ttl a locker or elector accepts, in seconds.
pub const ME_MIN_TTL: f64 = 0.1;
/// The longest key, in bytes (longer ones are refused up front).
pub const ME_MAX_KEY_BYTES: usize = 1 << 20;

/// The library version, e.g. "0.2.0". A static string: never free it.
#[no_mangle]
pub extern "C" fn me_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The name of a status value, e.g. "ME_ERR_LOCK_EXISTS"; "ME_UNKNOWN" for
/// a value that is not a status. A static string: never free it.
#[no_mangle]
pub extern "C" fn me_status_name(status: c_int) -> *const c_char {
    let name: &'static str = match status {
        0 => "ME_OK\0",
        1 => "ME_ERR_INVALID_ARGUMENT\0",
        2 => "ME_ERR_LOCK_EXISTS\0",
        3 => "ME_ERR_ACQUIRE_TIMEOUT\0",
        4 => "ME_ERR_TIME_OFFSET\0",
        5 => "ME_ERR_NOT_OWNED\0",
        6 => "ME_ERR_DATABASE\0",
        7 => "ME_ERR_INVALID_STATE\0",
        8 => "ME_ERR_CANCELLED\0",
        9 => "ME_ERR_CLOSED\0",
        99 => "ME_ERR_INTERNAL\0",
        _ => "ME_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

/// This thread's message for its last failed `me_*` call, "" if that call
/// succeeded. Owned by the library: valid until this thread's next fallible
/// `me_*` call; copy it to keep it. Never NULL. Messages never contain a URI's password.
/// A convenience for C; callers whose threads may change between calls (Go)
/// pass an `me_error **` instead, which every fallible function takes last.
#[no_mangle]
pub extern "C" fn me_last_error_message() -> *const c_char {
    boundary::last_error_ptr()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_abi_constants_are_the_cores() {
        use crate::core::locker::{MAX_KEY_BYTES, MIN_TTL};
        assert_eq!(super::ME_MIN_TTL, MIN_TTL.as_secs_f64());
        assert_eq!(super::ME_MAX_KEY_BYTES, MAX_KEY_BYTES);
    }
}
