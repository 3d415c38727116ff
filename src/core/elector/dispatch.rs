//! Runs the user's callbacks: in the order the transitions happened, one at a
//! time per elector, never while an internal lock is held, a panic caught.
//!
//! Transitions append events to a queue; whichever thread dispatches drains
//! it. A callback that calls `stop()`/`release()` on its own elector only
//! queues the resulting event, which the same thread fires once the callback
//! has returned, so nothing deadlocks and nothing runs re-entrantly.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, ThreadId};

use crate::core::log::log_at;
use crate::core::status::LeaderInfo;

/// A user callback; called with no arguments, like the seed's.
pub type Callback = Arc<dyn Fn() + Send + Sync>;

/// Called with the group's new leader (`None`: no leader) when it changes.
pub type LeaderCallback = Arc<dyn Fn(Option<&LeaderInfo>) + Send + Sync>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    Leader,
    LeaderLoss,
    Loop,
    NewLeader(Option<LeaderInfo>),
}

#[derive(Default, Clone)]
pub(crate) struct Callbacks {
    pub on_leader: Option<Callback>,
    pub on_leader_loss: Option<Callback>,
    pub on_loop: Option<Callback>,
    pub on_new_leader: Option<LeaderCallback>,
}

impl Callbacks {
    /// Runs the callback of `ev`, if there is one.
    fn fire(&self, ev: &Event) {
        let plain = match ev {
            Event::Leader => self.on_leader.as_ref(),
            Event::LeaderLoss => self.on_leader_loss.as_ref(),
            Event::Loop => self.on_loop.as_ref(),
            Event::NewLeader(who) => {
                if let Some(cb) = &self.on_new_leader {
                    cb(who.as_ref());
                }
                None
            }
        };
        if let Some(cb) = plain {
            cb();
        }
    }
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    dispatcher: Option<ThreadId>,
}

/// The event queue of one elector.
#[derive(Default)]
pub(crate) struct Dispatcher {
    queue: Mutex<Queue>,
    idle: Condvar,
}

impl Dispatcher {
    pub fn push(&self, ev: Event) {
        self.lock().events.push_back(ev);
    }

    /// Fires every queued event on this thread. Returns at once when called
    /// from inside a callback (the outer dispatch fires what was queued).
    /// While another thread dispatches, `wait` waits for it to finish (then
    /// fires what is left here); otherwise returns at once, leaving the events
    /// to that thread, which drains the queue before it stops. The elector's
    /// own thread never waits, so a callback on another thread may join it.
    pub fn run(&self, callbacks: &Callbacks, wait: bool) {
        let me = thread::current().id();
        let mut q = self.lock();
        if q.dispatcher == Some(me) || (!wait && q.dispatcher.is_some()) {
            return;
        }
        while q.dispatcher.is_some() {
            q = self.idle.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        q.dispatcher = Some(me);
        while let Some(ev) = q.events.pop_front() {
            drop(q);
            if catch_unwind(AssertUnwindSafe(|| callbacks.fire(&ev))).is_err() {
                log_at!(
                    Error,
                    "the {ev:?} callback panicked; the elector keeps running"
                );
            }
            q = self.lock();
        }
        q.dispatcher = None;
        self.idle.notify_all();
    }

    /// Drops queued events and waits until no callback runs (unless this
    /// thread is the one running it): after it, none fires again unless a
    /// new event is pushed.
    pub fn quiesce(&self) {
        let me = thread::current().id();
        let mut q = self.lock();
        q.events.clear();
        while q.dispatcher.is_some_and(|d| d != me) {
            q = self.idle.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits until no other thread runs a callback; this thread's own
    /// dispatch (a call from inside a callback) does not count.
    pub fn wait_idle(&self) {
        let me = thread::current().id();
        let mut q = self.lock();
        while q.dispatcher.is_some_and(|d| d != me) {
            q = self.idle.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn fires_in_order_survives_panics_and_allows_nested_pushes() {
        let d = Arc::new(Dispatcher::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l1, l2, d2) = (log.clone(), log.clone(), d.clone());
        let cbs = Callbacks {
            on_leader: Some(Arc::new(move || {
                l1.lock().unwrap().push("leader");
                d2.push(Event::LeaderLoss); // as a nested release() would
                d2.run(&Callbacks::default(), true); // nested run returns at once
            })),
            on_leader_loss: Some(Arc::new(move || l2.lock().unwrap().push("loss"))),
            on_loop: Some(Arc::new(|| panic!("user bug"))),
            ..Default::default()
        };
        d.push(Event::Loop);
        d.push(Event::Leader);
        d.run(&cbs, true);
        assert_eq!(*log.lock().unwrap(), vec!["leader", "loss"]);
    }

    #[test]
    fn never_runs_two_callbacks_at_once() {
        let d = Arc::new(Dispatcher::default());
        let busy = Arc::new(AtomicUsize::new(0));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let (b, o) = (busy.clone(), overlaps.clone());
        let cbs = Callbacks {
            on_loop: Some(Arc::new(move || {
                if b.fetch_add(1, Ordering::SeqCst) > 0 {
                    o.fetch_add(1, Ordering::SeqCst);
                }
                thread::sleep(std::time::Duration::from_millis(2));
                b.fetch_sub(1, Ordering::SeqCst);
            })),
            ..Default::default()
        };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (d, cbs) = (d.clone(), cbs.clone());
                thread::spawn(move || {
                    for _ in 0..10 {
                        d.push(Event::Loop);
                        d.run(&cbs, true);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(overlaps.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_non_waiting_run_leaves_its_events_to_the_running_dispatcher() {
        let d = Arc::new(Dispatcher::default());
        let fired = Arc::new(Mutex::new(Vec::new()));
        let (f1, f2) = (fired.clone(), fired.clone());
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let cbs = Callbacks {
            on_leader: Some(Arc::new(move || {
                f1.lock().unwrap().push(("leader", thread::current().id()));
                entered_tx.send(()).unwrap();
                go_rx.lock().unwrap().recv().unwrap();
            })),
            on_loop: Some(Arc::new(move || {
                f2.lock().unwrap().push(("loop", thread::current().id()))
            })),
            ..Default::default()
        };
        d.push(Event::Leader);
        let (d2, cbs2) = (d.clone(), cbs.clone());
        let dispatcher = thread::spawn(move || d2.run(&cbs2, true));
        entered_rx.recv().unwrap();
        d.push(Event::Loop);
        d.run(&cbs, false); // returns at once although a callback is running
        go_tx.send(()).unwrap();
        let dispatcher_id = dispatcher.thread().id();
        dispatcher.join().unwrap();
        let fired = fired.lock().unwrap();
        assert_eq!(fired.len(), 2);
        assert_eq!(fired[1], ("loop", dispatcher_id));
    }
}
