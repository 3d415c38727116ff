//! The edge every export goes through: panics are caught, errors become a
//! status, this thread's last-error message, and (where the caller asks for
//! it) an owned `me_error`.

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
        Error::Cancelled => me_status::ME_ERR_CANCELLED,
        Error::Closed(_) => me_status::ME_ERR_CLOSED,
    }
}

/// The error of a failed call, owned by the caller: its status and message,
/// readable from any thread, freed with `me_error_free`.
pub struct me_error {
    status: me_status,
    message: CString,
}

/// The status of an error (ME_ERR_INTERNAL for NULL).
///
/// # Safety
/// `err` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn me_error_status(err: *const me_error) -> me_status {
    infallible(me_status::ME_ERR_INTERNAL, || {
        err.as_ref()
            .map_or(me_status::ME_ERR_INTERNAL, |e| e.status)
    })
}

/// The message of an error: owned by `err`, valid until `me_error_free(err)`;
/// "" for NULL. Never contains a URI's password.
///
/// # Safety
/// `err` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn me_error_message(err: *const me_error) -> *const c_char {
    infallible(c"".as_ptr(), || {
        err.as_ref().map_or(c"".as_ptr(), |e| e.message.as_ptr())
    })
}

/// Frees an error. NULL is a no-op; must not be called twice.
///
/// # Safety
/// `err` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn me_error_free(err: *mut me_error) {
    infallible((), || {
        if !err.is_null() {
            drop(Box::from_raw(err));
        }
    })
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
/// `ME_OK`; an error or a panic sets the message, hands a new `me_error` to
/// `*err` when `err` is not NULL, and gives its status.
///
/// # Safety
/// `err` is NULL or valid for a write of a pointer.
pub(crate) unsafe fn call(
    err: *mut *mut me_error,
    body: impl FnOnce() -> Result<(), Error>,
) -> me_status {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_last_error("");
            return me_status::ME_OK;
        }
        Ok(Err(e)) => (status_of(&e), e.to_string()),
        Err(p) => (me_status::ME_ERR_INTERNAL, panic_text(&*p)),
    };
    set_last_error(&message);
    if let Some(out) = err.as_mut() {
        *out = Box::into_raw(Box::new(me_error {
            status,
            message: CString::new(message.replace('\0', "\\0")).unwrap_or_default(),
        }));
    }
    status
}

/// Runs the body of an infallible export (getters, frees): a panic gives
/// `fallback` and is recorded as the last error.
pub(crate) fn infallible<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| {
        set_last_error(&panic_text(&*p));
        fallback
    })
}
