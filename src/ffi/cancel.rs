//! `me_cancel`: a cancellation token the caller hands to blocking calls.

use super::boundary;
use crate::core::cancel::CancelToken;

/// A cancellation token. Thread-safe: cancel it from any thread while calls
/// given it wait on others.
pub struct me_cancel {
    pub(crate) token: CancelToken,
}

impl me_cancel {
    /// Hands C a new handle on `token`.
    pub(crate) fn wrap(token: CancelToken) -> *mut me_cancel {
        Box::into_raw(Box::new(me_cancel { token }))
    }
}

/// A new, not yet cancelled token; free it with `me_cancel_free`. Never NULL.
#[no_mangle]
pub extern "C" fn me_cancel_new() -> *mut me_cancel {
    // Allocation cannot fail short of an abort, so there is no status.
    me_cancel::wrap(CancelToken::new())
}

/// Cancels the token: every call given it returns ME_ERR_CANCELLED within a
/// few milliseconds, whatever it waits on (a retry sleep, a round trip), and
/// every later call given it returns ME_ERR_CANCELLED at once. Idempotent,
/// thread-safe, never blocks. NULL is a no-op.
///
/// # Safety
/// `cancel` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn me_cancel_cancel(cancel: *const me_cancel) {
    boundary::infallible((), || {
        if let Some(c) = cancel.as_ref() {
            c.token.cancel()
        }
    })
}

/// Whether the token has been cancelled (false for NULL). Thread-safe.
///
/// # Safety
/// `cancel` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn me_cancel_is_cancelled(cancel: *const me_cancel) -> bool {
    boundary::infallible(false, || {
        cancel.as_ref().is_some_and(|c| c.token.is_cancelled())
    })
}

/// Blocks until the token is cancelled or `timeout` seconds pass (a negative
/// or NaN `timeout` waits without limit); returns whether it was cancelled.
/// False at once for NULL. Thread-safe.
///
/// # Safety
/// `cancel` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn me_cancel_wait(cancel: *const me_cancel, timeout: f64) -> bool {
    boundary::infallible(false, || {
        let Some(c) = cancel.as_ref() else {
            return false;
        };
        let limit = std::time::Duration::try_from_secs_f64(timeout).ok();
        c.token.wait(limit)
    })
}

/// Frees the token. Calls under way that were given it keep their own
/// reference, so it may be freed at any time; it must not be passed to a new
/// call afterwards. NULL is a no-op; must not be called twice.
///
/// # Safety
/// `cancel` is NULL or a live token from `me_cancel_new`.
#[no_mangle]
pub unsafe extern "C" fn me_cancel_free(cancel: *mut me_cancel) {
    boundary::infallible((), || {
        if !cancel.is_null() {
            drop(Box::from_raw(cancel));
        }
    })
}
