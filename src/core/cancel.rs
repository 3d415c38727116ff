//! Cancellation: a thread-safe token that cuts short whatever a call waits on
//! (a retry sleep, a round trip), and the per-thread scope that applies the
//! tokens of the call under way to every wait inside it.
//!
//! A public call enters a scope naming its tokens (the caller's, and the
//! handle's own, cancelled by `close`); every `runtime::run` on that thread
//! races the scope's combined token, so no function below the public API
//! takes a token parameter.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use super::error::{Error, Result};

/// A cancellation token. Clones share one state; cancelling is idempotent and
/// may happen from any thread. Calls given a token return `Error::Cancelled`
/// within a few milliseconds of `cancel`.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    /// Guards the condvar's waits and the list of tokens derived from this one.
    lock: Mutex<Vec<Weak<Inner>>>,
    cv: Condvar,
    notify: tokio::sync::Notify,
}

impl Inner {
    fn cancel(&self) {
        if self.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        let children = std::mem::take(&mut *self.lock.lock().unwrap_or_else(|e| e.into_inner()));
        self.cv.notify_all();
        self.notify.notify_waiters();
        for child in children.iter().filter_map(Weak::upgrade) {
            child.cancel();
        }
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CancelToken(cancelled: {})", self.is_cancelled())
    }
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels the token and every token derived from it.
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Waits until the token is cancelled or `timeout` passes (`None`: no
    /// limit); true if it was cancelled.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
        let mut g = self.inner.lock.lock().unwrap_or_else(|e| e.into_inner());
        while !self.is_cancelled() {
            match deadline {
                None => g = self.inner.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    g = self
                        .inner
                        .cv
                        .wait_timeout(g, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        true
    }

    /// Resolves once the token is cancelled.
    pub(crate) async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// A new token cancelled when any of `parents` is (at once if one already is).
    pub(crate) fn child_of<'a>(parents: impl IntoIterator<Item = &'a CancelToken>) -> CancelToken {
        let child = CancelToken::new();
        for p in parents {
            let mut kids = p.inner.lock.lock().unwrap_or_else(|e| e.into_inner());
            if p.is_cancelled() {
                drop(kids);
                child.cancel();
                continue;
            }
            kids.retain(|w| w.strong_count() > 0);
            kids.push(Arc::downgrade(&child.inner));
        }
        child
    }
}

/// Why a token in a scope stops the call.
#[derive(Clone)]
pub(crate) enum Cause {
    /// The caller's token: `Error::Cancelled`.
    Caller,
    /// The handle was closed: `Error::Closed` with this text.
    Closed(String),
}

struct Scope {
    combined: CancelToken,
    parents: Vec<(CancelToken, Cause)>,
}

thread_local! {
    static SCOPES: RefCell<Vec<Scope>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `tokens` (and those of any enclosing scope) cutting short
/// every wait on this thread.
pub(crate) fn scoped<T>(tokens: Vec<(CancelToken, Cause)>, f: impl FnOnce() -> T) -> T {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPES.with(|s| s.borrow_mut().pop());
        }
    }
    let scope = SCOPES.with(|s| {
        let s = s.borrow();
        let outer = s.last();
        let mut parents: Vec<(CancelToken, Cause)> =
            outer.map(|o| o.parents.clone()).unwrap_or_default();
        parents.extend(tokens);
        Scope {
            combined: CancelToken::child_of(parents.iter().map(|(t, _)| t)),
            parents,
        }
    });
    SCOPES.with(|s| s.borrow_mut().push(scope));
    let _pop = Pop;
    f()
}

/// The combined token of this thread's innermost scope, if any.
pub(crate) fn current() -> Option<CancelToken> {
    SCOPES.with(|s| s.borrow().last().map(|sc| sc.combined.clone()))
}

/// The error for a cancelled scope: the handle's closing before the caller's token.
pub(crate) fn error() -> Error {
    SCOPES.with(|s| {
        let s = s.borrow();
        let parents = s.last().map(|sc| sc.parents.as_slice()).unwrap_or(&[]);
        let fired = |want_closed: bool| {
            parents
                .iter()
                .find(|(t, c)| t.is_cancelled() && matches!(c, Cause::Closed(_)) == want_closed)
        };
        match fired(true).or_else(|| fired(false)) {
            Some((_, Cause::Closed(what))) => Error::Closed(what.clone()),
            _ => Error::Cancelled,
        }
    })
}

/// `Err` when this thread's scope has been cancelled.
pub(crate) fn check() -> Result<()> {
    match current() {
        Some(t) if t.is_cancelled() => Err(error()),
        _ => Ok(()),
    }
}

/// Sleeps `d` unless this thread's scope is cancelled first.
pub(crate) fn sleep(d: Duration) -> Result<()> {
    match current() {
        Some(t) if t.wait(Some(d)) => Err(error()),
        Some(_) => Ok(()),
        None => {
            std::thread::sleep(d);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn cancel_wakes_a_scoped_sleep_on_another_thread() {
        let t = CancelToken::new();
        let t2 = t.clone();
        let h = std::thread::spawn(move || {
            let start = Instant::now();
            let r = scoped(vec![(t2, Cause::Caller)], || sleep(Duration::from_secs(10)));
            (r, start.elapsed())
        });
        std::thread::sleep(Duration::from_millis(50));
        t.cancel();
        let (r, took) = h.join().unwrap();
        assert_eq!(r, Err(Error::Cancelled));
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }

    #[test]
    fn closing_wins_over_the_callers_token() {
        let caller = CancelToken::new();
        let closed = CancelToken::new();
        caller.cancel();
        closed.cancel();
        let e = scoped(
            vec![(caller, Cause::Caller), (closed, Cause::Closed("x".into()))],
            check,
        );
        assert_eq!(e, Err(Error::Closed("x".into())));
    }

    #[test]
    fn a_child_of_a_cancelled_token_starts_cancelled() {
        let t = CancelToken::new();
        t.cancel();
        assert!(scoped(vec![(t, Cause::Caller)], || current()
            .unwrap()
            .is_cancelled()));
        assert!(current().is_none());
    }
}
