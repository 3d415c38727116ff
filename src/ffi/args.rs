//! Checked reading of what C passes in, and writing of what it gets back.
//! Every pointer is NULL-checked with a message naming the argument.

use std::ffi::{c_char, CStr, CString};
use std::time::Duration;

use crate::core::error::{invalid, Result};

/// A borrowed NUL-terminated UTF-8 string argument (copied by the callee before it returns).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn text<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| invalid(format!("{name} is not valid UTF-8")))
}

/// An optional string argument: NULL gives `None`.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn opt_text<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        text(p, name).map(Some)
    }
}

/// A required out-parameter.
///
/// # Safety
/// `p` is NULL or valid for writes of a `T`.
pub(crate) unsafe fn out<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T> {
    p.as_mut().ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// Seconds from C as a duration: finite and >= 0 (`positive`: > 0).
pub(crate) fn seconds(v: f64, name: &str, positive: bool) -> Result<Duration> {
    if !v.is_finite() || v < 0.0 || (positive && v == 0.0) {
        let want = if positive {
            "a finite number > 0"
        } else {
            "a finite number >= 0"
        };
        return Err(invalid(format!(
            "{name} must be {want} of seconds, got {v}"
        )));
    }
    Duration::try_from_secs_f64(v).map_err(|_| invalid(format!("{name} is too large: {v}")))
}

/// A string the library keeps alive as long as the handle that owns it.
pub(crate) fn c_copy(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}
