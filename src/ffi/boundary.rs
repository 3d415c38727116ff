//! The edge every export goes through: panics are caught, errors become a
//! status plus this thread's last-error message.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::me_status;
use crate::core::error::Error;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// This thread's last error text; the pointer stays valid until this
/// thread's next call that sets or clears it.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

pub(crate) fn status_of(err: &Error) -> me_status {
    match err {
        Error::InvalidArgument(_) => me_status::ME_ERR_INVALID_ARGUMENT,
        Error::LockExists { .. } => me_status::ME_ERR_LOCK_EXISTS,
        Error::AcquireTimeout(_) => me_status::ME_ERR_ACQUIRE_TIMEOUT,
        Error::TimeOffset { .. } => me_status::ME_ERR_TIME_OFFSET,
        Error::NotOwned(_) => me_status::ME_ERR_NOT_OWNED,
        Error::Database(_) => me_status::ME_ERR_DATABASE,
        Error::InvalidState(_) => me_status::ME_ERR_INVALID_STATE,
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (caught panic): {what}")
}

/// Runs the body of a fallible export: `Ok` clears the last error and gives
/// `ME_OK`; an error or a panic sets the message and gives its status.
pub(crate) fn call(body: impl FnOnce() -> Result<(), Error>) -> me_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_last_error("");
            me_status::ME_OK
        }
        Ok(Err(e)) => {
            set_last_error(&e.to_string());
            status_of(&e)
        }
        Err(p) => {
            set_last_error(&panic_text(&*p));
            me_status::ME_ERR_INTERNAL
        }
    }
}

/// Runs the body of an infallible export (getters, frees): a panic gives
/// `fallback` and is recorded as the last error.
pub(crate) fn infallible<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| {
        set_last_error(&panic_text(&*p));
        fallback
    })
}
