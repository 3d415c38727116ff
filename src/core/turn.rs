//! One transition at a time per locker. Threads sharing a handle queue for
//! their turn instead of racing each other's inserts: every racer past the
//! first gets an E11000, re-reads and tries again, so 64 threads racing keep
//! the client's connections busy and calls on every other key wait too.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cancel;
use super::error::{Error, Result};

/// Turns in the order they were asked for: a waiter is never overtaken, so
/// its wait is bounded by the calls queued before it.
#[derive(Default)]
pub(crate) struct Turn {
    queue: Mutex<Queue>,
    free: Condvar,
}

#[derive(Default)]
struct Queue {
    busy: bool,
    /// Tickets of the waiting threads, oldest first.
    waiting: VecDeque<u64>,
    next: u64,
}

/// The turn, until dropped.
pub(crate) struct Held<'a>(&'a Turn);

impl Turn {
    /// Waits for this thread's turn until `end`, or until its call is cancelled.
    pub fn take(&self, end: Instant) -> Result<Held<'_>> {
        let started = Instant::now();
        let mut q = self.lock();
        let me = q.next;
        q.next += 1;
        q.waiting.push_back(me);
        loop {
            if !q.busy && q.waiting.front() == Some(&me) {
                q.waiting.pop_front();
                q.busy = true;
                return Ok(Held(self));
            }
            let now = Instant::now();
            let gave_up = cancel::check().err().or_else(|| {
                (now >= end).then(|| {
                    Error::Database(format!(
                        "waiting for this locker's other calls timed out after {:.1?}",
                        started.elapsed()
                    ))
                })
            });
            if let Some(e) = gave_up {
                q.waiting.retain(|&t| t != me);
                drop(q);
                // The next in line may be the one after us.
                self.free.notify_all();
                return Err(e);
            }
            // Slices, so a cancellation is seen within milliseconds.
            let slice = (end - now).min(Duration::from_millis(10));
            q = self
                .free
                .wait_timeout(q, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.lock().busy = false;
        self.0.free.notify_all();
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

    #[test]
    fn turns_come_in_the_order_they_were_asked_for() {
        let turn = Arc::new(Turn::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = turn.take(Instant::now()).unwrap();
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let (t, order) = (turn.clone(), order.clone());
                let handle = std::thread::spawn(move || {
                    let _t = t.take(Instant::now() + Duration::from_secs(30)).unwrap();
                    order.lock().unwrap().push(i);
                });
                // The next asks once this one is waiting.
                while turn.lock().waiting.len() <= i {
                    std::thread::yield_now();
                }
                handle
            })
            .collect();
        drop(first);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
    }
}
