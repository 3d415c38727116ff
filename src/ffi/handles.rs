//! Opaque handles are `Arc`s handed to C as raw pointers. Every call works
//! on its own reference, so a handle freed while another thread is inside a
//! call (say, waiting in `me_locker_acquire`) stays alive until that call returns.

use std::sync::Arc;

use crate::core::error::{invalid, Result};

/// Hands a new handle to C.
pub(crate) fn into_raw<T>(v: T) -> *mut T {
    Arc::into_raw(Arc::new(v)).cast_mut()
}

/// A reference of this call to the handle `p`.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn borrow<T>(p: *const T, name: &str) -> Result<Arc<T>> {
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    Arc::increment_strong_count(p);
    Ok(Arc::from_raw(p))
}

/// Gives back C's reference to the handle `p`.
///
/// # Safety
/// `p` is a live handle made by [`into_raw`], and C does not use it again.
pub(crate) unsafe fn release<T>(p: *mut T) -> Arc<T> {
    Arc::from_raw(p.cast_const())
}

/// The body of a getter: `get` applied to the handle, `fallback` for NULL
/// (or, should it panic, with the panic recorded as the last error).
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn getter<T, R: Copy>(p: *const T, fallback: R, get: impl FnOnce(&T) -> R) -> R {
    super::boundary::infallible(fallback, || p.as_ref().map_or(fallback, get))
}

/// The body of a fallible call on the handle `p` (named `name` in errors):
/// takes this call's reference to it, then runs `body` inside the boundary.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by this library.
/// `err` is as for [`super::boundary::call`].
pub(crate) unsafe fn call_with<T>(
    p: *const T,
    name: &str,
    err: *mut *mut super::boundary::me_error,
    body: impl FnOnce(&T) -> crate::core::error::Result<()>,
) -> super::status::me_status {
    super::boundary::call(err, || {
        let h = borrow(p, name)?;
        body(&h)
    })
}
