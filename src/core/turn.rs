//! One transition at a time per locker. Threads sharing a handle queue for
//! their turn instead of racing each other's inserts: every racer past the
//! first gets an E11000, re-reads and tries again, so 64 threads racing keep
//! the client's connections busy and calls on every other key wait too.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::cancel;
use super::error::{Error, Result};

#[derive(Default)]
pub(crate) struct Turn {
    busy: Mutex<bool>,
    free: Condvar,
}

/// This thread's turn; the next waiter's begins when it is dropped.
pub(crate) struct Held<'a>(&'a Turn);

impl Turn {
    /// Waits for the turn until `end`, or until this thread's cancellation
    /// scope is cancelled (looked at every 10 ms).
    pub fn take(&self, end: Instant) -> Result<Held<'_>> {
        let started = Instant::now();
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            cancel::check()?;
            let now = Instant::now();
            if now >= end {
                return Err(Error::Database(format!(
                    "waiting for this locker's other calls timed out after {:.1?}",
                    started.elapsed()
                )));
            }
            let slice = (end - now).min(Duration::from_millis(10));
            busy = self
                .free
                .wait_timeout(busy, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *busy = true;
        Ok(Held(self))
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.0.free.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn one_holder_at_a_time_and_waiters_give_up_at_their_end() {
        let turn = Arc::new(Turn::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (turn, inside) = (turn.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let _t = turn.take(Instant::now() + Duration::from_secs(30)).unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let _held = turn.take(Instant::now()).unwrap();
        let waited = Instant::now();
        let e = turn.take(Instant::now() + Duration::from_millis(50)).err();
        assert!(matches!(e, Some(Error::Database(_))), "{e:?}");
        assert!(waited.elapsed() >= Duration::from_millis(50));
    }
}
