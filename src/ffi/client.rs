//! `me_client`: a connection pool.

use std::ffi::c_char;

use super::boundary::me_error;
use super::{args, boundary, handles, status::me_status};
use crate::core::client::Client;

/// A connection pool to one MongoDB deployment. Create one per process and
/// share it: every locker and elector made from it holds its own reference.
pub struct me_client {
    pub(crate) client: Client,
}

/// Creates a client for `uri` (a MongoDB connection string). Nothing is sent
/// yet: an unreachable server makes the first operation fail after the URI's
/// `serverSelectionTimeoutMS` (default 30 s). Lock writes use write concern
/// `majority` and reads go to the primary unless the URI sets its own; the
/// server monitor polls every second (`heartbeatFrequencyMS=1000`,
/// `serverMonitoringMode=poll`) unless the URI sets either.
///
/// Ownership: on success `*out` is a new handle the caller frees with
/// `me_client_free`; on failure `*out` is left unchanged.
/// A client inherited through fork keeps working in the child: on its first
/// use there it makes a new pool of its own (the parent's is never touched).
/// Errors: ME_ERR_INVALID_ARGUMENT (NULL, bad UTF-8, unparsable URI),
/// ME_ERR_DATABASE. Thread-safe; blocks only to resolve an SRV URI.
///
/// # Safety
/// `uri` is NULL or a NUL-terminated string; `out` and `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn me_client_new(
    uri: *const c_char,
    out: *mut *mut me_client,
    err: *mut *mut me_error,
) -> me_status {
    boundary::call(err, || {
        let uri = args::text(uri, "uri")?;
        let out = args::out(out, "out")?;
        let client = Client::new(uri)?;
        *out = handles::into_raw(me_client { client });
        Ok(())
    })
}

/// Frees a client. Lockers and electors made from it keep working (they hold
/// their own reference to the pool). NULL is a no-op. Must not race other
/// calls on the same handle, and must not be called twice.
///
/// # Safety
/// `client` is NULL or a live handle from `me_client_new`.
#[no_mangle]
pub unsafe extern "C" fn me_client_free(client: *mut me_client) {
    boundary::infallible((), || {
        if !client.is_null() {
            drop(handles::release(client));
        }
    })
}
