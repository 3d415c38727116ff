//! Runs the async MongoDB driver on one small shared runtime, every call with a
//! deadline and cut short by the calling thread's cancellation scope.
//!
//! The driver's `sync` API cannot bound a call (it does not support
//! socketTimeoutMS and has no client-side operation timeout), yet a leader must
//! step down by its lease deadline even when the network black-holes. So each
//! database call is a future raced against `tokio::time::timeout` and against
//! the scope's token; the driver closes a connection whose command was
//! abandoned, so neither leaves a half-read reply behind. One runtime with one
//! worker thread serves the whole process, so threads do not grow with the
//! number of lockers.
//!
//! A forked child has none of its parent's threads, so the parent's runtime
//! would never drive a timer or a socket there: each process builds its own
//! runtime on first use, and the parent's is left alone (never dropped, since
//! dropping it would wait for threads that do not exist).

use std::future::Future;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::cancel;
use super::error::{Error, Result};

/// The runtime of the process whose id is in `OWNER` (0: none yet).
static CURRENT: AtomicPtr<tokio::runtime::Runtime> = AtomicPtr::new(std::ptr::null_mut());
static OWNER: AtomicU32 = AtomicU32::new(0);
/// Serialises building a runtime (never held across a fork by a live call).
static BUILDING: Mutex<()> = Mutex::new(());

fn runtime() -> &'static tokio::runtime::Runtime {
    let pid = std::process::id();
    if OWNER.load(Ordering::Acquire) == pid {
        // SAFETY: CURRENT was set before OWNER, and runtimes are never freed.
        return unsafe { &*CURRENT.load(Ordering::Acquire) };
    }
    // A lock left held by a parent's thread at fork would deadlock us here:
    // a fresh mutex per process is not possible, so take it only when needed
    // and fall back to building without it if it is poisoned.
    let _g = BUILDING.try_lock().ok();
    if OWNER.load(Ordering::Acquire) != pid {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mongoelector-io")
            .enable_all()
            .build()
            .expect("cannot start the mongoelector I/O runtime");
        CURRENT.store(Box::into_raw(Box::new(rt)), Ordering::Release);
        OWNER.store(pid, Ordering::Release);
    }
    // SAFETY: as above.
    unsafe { &*CURRENT.load(Ordering::Acquire) }
}

/// Runs `fut` on this process's runtime; gives up after `limit`, or when this
/// thread's cancellation scope is cancelled.
pub(crate) fn run<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    cancel::check()?;
    let token = cancel::current();
    let started = Instant::now();
    let res = runtime().block_on(async {
        let bounded = tokio::time::timeout(limit, fut);
        match &token {
            None => bounded.await.map_err(|_| ()),
            Some(t) => tokio::select! {
                r = bounded => r.map_err(|_| ()),
                _ = t.cancelled() => Ok(Err(cancel::error())),
            },
        }
    });
    res.unwrap_or_else(|()| {
        Err(Error::Database(format!(
            "{what} timed out after {:.1?}",
            started.elapsed()
        )))
    })
}

/// Starts `fut` on this process's runtime without waiting for it (work no
/// caller needs to wait for, such as collecting old generations); it gives up
/// after `limit`, and its error is only logged.
pub(crate) fn spawn(
    limit: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<()>> + Send + 'static,
) {
    runtime().spawn(async move {
        let res = match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Database(format!("timed out after {limit:.1?}"))),
        };
        if let Err(e) = res {
            super::log::log_at!(Debug, "{what}: {e}");
        }
    });
}

/// Runs a constructor that needs the runtime's context (the driver spawns its
/// monitors where it is created).
pub(crate) fn enter<T>(f: impl FnOnce() -> T) -> T {
    let _guard = runtime().enter();
    f()
}
