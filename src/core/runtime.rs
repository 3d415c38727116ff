//! Runs the async MongoDB driver on one small shared runtime, every call with a
//! deadline.
//!
//! The driver's `sync` API cannot bound a call (it does not support
//! socketTimeoutMS and has no client-side operation timeout), yet a leader must
//! step down by its lease deadline even when the network black-holes. So each
//! database call is a future raced against `tokio::time::timeout`; the driver
//! closes a connection whose command was abandoned, so a timeout never leaves a
//! half-read reply behind. One runtime with one worker thread serves the whole
//! process, so threads do not grow with the number of lockers.

use std::future::Future;
use std::time::Duration;

use once_cell::sync::Lazy;

use super::error::{Error, Result};

static RUNTIME: Lazy<tokio::runtime::Runtime> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("mongoelector-io")
        .enable_all()
        .build()
        .expect("cannot start the mongoelector I/O runtime")
});

/// Runs `fut` on the shared runtime and gives up after `limit`.
pub(crate) fn run<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    RUNTIME.block_on(async {
        match tokio::time::timeout(limit, fut).await {
            Ok(res) => res,
            Err(_) => Err(Error::Database(format!(
                "{what} timed out after {limit:.1?}"
            ))),
        }
    })
}

/// Runs a constructor that needs the runtime's context (the driver spawns its
/// monitors where it is created).
pub(crate) fn enter<T>(f: impl FnOnce() -> T) -> T {
    let _guard = RUNTIME.enter();
    f()
}
