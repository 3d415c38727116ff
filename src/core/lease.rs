//! Leases as their holder counts them, and the one watchdog thread per
//! process that ends them on time.
//!
//! A lease is a holding of a lock (or an elector's term) with a deadline on a
//! clock that keeps counting through system suspend (CLOCK_BOOTTIME on Linux;
//! CLOCK_MONOTONIC stops while suspended, so a resumed holder would trust an
//! expired lease). The watchdog cancels a lease's token when its deadline
//! passes, whatever the holder's threads are doing (a slow callback, a round
//! trip on a frozen server), and wakes auto-renewals when they are due. It
//! never does I/O and never runs user code: renewals and loss callbacks run
//! on threads of their own.

use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::cancel::CancelToken;
use super::stats::{bump, Counters};

/// Now on a clock that counts through suspend.
pub(crate) fn boot_now() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec it is given.
        if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// Converts a monotonic instant (the moment a write was decided) to the boot clock.
pub(crate) fn boot_at(t: Instant) -> Duration {
    boot_now().saturating_sub(t.elapsed())
}

/// Why a lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Its deadline passed without a renewal.
    Expired,
    /// A read showed the lock held by someone else (a takeover), or a renewal
    /// found it no longer ours.
    Taken,
    /// Its holder released it or closed.
    Released,
}

/// What runs when a lease is due for renewal: called on a thread of its own,
/// never two at once for one lease.
pub(crate) type Renewal = Arc<dyn Fn() + Send + Sync>;
/// What runs when a lease is lost (ends other than by a release): called
/// once, on a thread of its own.
pub(crate) type OnEnd = Arc<dyn Fn(Ended) + Send + Sync>;

struct Due {
    deadline: Duration,
    renew_at: Option<Duration>,
    renewing: bool,
    ended: Option<Ended>,
}

/// One holding as its holder counts it.
pub struct Lease {
    token: CancelToken,
    fence: i64,
    due: Mutex<Due>,
    renewal: Option<Renewal>,
    on_end: Option<OnEnd>,
    counters: Arc<Counters>,
}

impl Lease {
    /// A lease ending at `deadline` (boot clock), renewed by `renewal` at
    /// `renew_at`; registered with this process's watchdog.
    pub(crate) fn start(
        fence: i64,
        deadline: Duration,
        renew_at: Option<Duration>,
        renewal: Option<Renewal>,
        on_end: Option<OnEnd>,
        counters: Arc<Counters>,
    ) -> Arc<Lease> {
        let lease = Arc::new(Lease {
            token: CancelToken::new(),
            fence,
            due: Mutex::new(Due {
                deadline,
                renew_at: renew_at.filter(|_| renewal.is_some()),
                renewing: false,
                ended: None,
            }),
            renewal,
            on_end,
            counters,
        });
        watchdog().watch(&lease);
        lease
    }

    fn due(&self) -> std::sync::MutexGuard<'_, Due> {
        self.due.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cancelled when the lease ends, for whatever reason.
    pub fn token(&self) -> &CancelToken {
        &self.token
    }

    /// The fencing token of the holding.
    pub fn fence(&self) -> i64 {
        self.fence
    }

    /// Whether the lease is live by its holder's clock.
    pub fn live(&self) -> bool {
        let d = self.due();
        d.ended.is_none() && boot_now() < d.deadline
    }

    /// Time left until the deadline (zero once ended).
    pub fn left(&self) -> Duration {
        let d = self.due();
        match d.ended {
            Some(_) => Duration::ZERO,
            None => d.deadline.saturating_sub(boot_now()),
        }
    }

    /// A renewal won: the lease now ends at `deadline`; the next renewal is
    /// due at `renew_at`. No effect once ended.
    pub(crate) fn extend(&self, deadline: Duration, renew_at: Option<Duration>) {
        let mut d = self.due();
        if d.ended.is_none() {
            d.deadline = d.deadline.max(deadline);
            if self.renewal.is_some() {
                d.renew_at = renew_at;
            }
            d.renewing = false;
        }
        drop(d);
        watchdog().wake();
    }

    /// A renewal did not win (yet): try again at `at`.
    pub(crate) fn retry_at(&self, at: Duration) {
        let mut d = self.due();
        d.renewing = false;
        if self.renewal.is_some() && d.ended.is_none() {
            d.renew_at = Some(at);
        }
        drop(d);
        watchdog().wake();
    }

    /// Ends the lease (once): cancels its token, then, if it was lost, runs
    /// `on_end` on a thread of its own.
    pub(crate) fn end(self: &Arc<Self>, why: Ended) {
        {
            let mut d = self.due();
            if d.ended.is_some() {
                return;
            }
            d.ended = Some(why);
        }
        self.token.cancel();
        if why == Ended::Released {
            return;
        }
        bump(&self.counters.losses);
        if why == Ended::Taken {
            bump(&self.counters.takeovers_seen);
        }
        if let Some(f) = self.on_end.clone() {
            let spawned = std::thread::Builder::new()
                .name("mongoelector-loss".into())
                .spawn(move || f(why));
            if let Err(e) = spawned {
                super::log::log_at!(Error, "cannot start the loss callback's thread: {e}");
            }
        }
    }

    /// How the lease ended, if it did.
    pub fn ended(&self) -> Option<Ended> {
        self.due().ended
    }
}

/// The watchdog: every live lease of this process, and a thread that sleeps
/// until the next deadline or renewal.
struct Watchdog {
    leases: Mutex<Vec<Weak<Lease>>>,
    wake: Condvar,
}

static WATCHDOG: OnceLock<Mutex<(u32, &'static Watchdog)>> = OnceLock::new();

/// This process's watchdog (a forked child starts its own: its parent's
/// thread does not exist there).
fn watchdog() -> &'static Watchdog {
    let pid = std::process::id();
    let cell = WATCHDOG.get_or_init(|| Mutex::new((pid, Watchdog::spawn())));
    let mut g = cell.lock().unwrap_or_else(|e| e.into_inner());
    if g.0 != pid {
        *g = (pid, Watchdog::spawn());
    }
    g.1
}

impl Watchdog {
    fn spawn() -> &'static Watchdog {
        let w: &'static Watchdog = Box::leak(Box::new(Watchdog {
            leases: Mutex::new(Vec::new()),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("mongoelector-leases".into())
            .spawn(move || w.run())
            .expect("cannot start the mongoelector lease watchdog");
        w
    }

    fn watch(&self, lease: &Arc<Lease>) {
        let mut l = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        l.retain(|w| w.strong_count() > 0);
        l.push(Arc::downgrade(lease));
        self.wake.notify_all();
    }

    fn wake(&self) {
        let _l = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }

    fn run(&self) {
        let mut l = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = boot_now();
            let mut next: Option<Duration> = None;
            let mut expired = Vec::new();
            let mut renew = Vec::new();
            l.retain(|w| {
                let Some(lease) = w.upgrade() else {
                    return false;
                };
                let mut d = lease.due();
                if d.ended.is_some() {
                    return false;
                }
                if now >= d.deadline {
                    drop(d);
                    expired.push(lease);
                    return false;
                }
                let mut wake_at = d.deadline;
                if let Some(at) = d.renew_at.filter(|_| !d.renewing) {
                    if now >= at {
                        d.renewing = true;
                        renew.push(lease.clone());
                    } else {
                        wake_at = wake_at.min(at);
                    }
                }
                next = Some(next.map_or(wake_at, |n| n.min(wake_at)));
                true
            });
            if !expired.is_empty() || !renew.is_empty() {
                drop(l);
                expired.iter().for_each(|lease| lease.end(Ended::Expired));
                for lease in renew {
                    let job = lease
                        .renewal
                        .clone()
                        .expect("only leases with a renewal are renewed");
                    let spawned = std::thread::Builder::new()
                        .name("mongoelector-renew".into())
                        .spawn(move || job());
                    if spawned.is_err() {
                        lease.retry_at(boot_now() + Duration::from_millis(50));
                    }
                }
                l = self.leases.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // The wait is on the monotonic clock; a suspend makes it wake late,
            // and the deadline check above then ends what expired meanwhile.
            l = match next {
                None => self.wake.wait(l).unwrap_or_else(|e| e.into_inner()),
                Some(at) => {
                    let wait = at.saturating_sub(now).max(Duration::from_millis(1));
                    self.wake
                        .wait_timeout(l, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_watchdog_ends_a_lease_at_its_deadline_and_runs_renewals() {
        let ended = Arc::new(Mutex::new(None));
        let e2 = ended.clone();
        let lease = Lease::start(
            7,
            boot_now() + Duration::from_millis(100),
            None,
            None,
            Some(Arc::new(move |why| *e2.lock().unwrap() = Some(why))),
            Arc::default(),
        );
        assert!(lease.live() && lease.fence() == 7);
        assert!(
            lease.token().wait(Some(Duration::from_secs(5))),
            "not ended on time"
        );
        assert_eq!(lease.ended(), Some(Ended::Expired));
        assert!(!lease.live());

        let renewals = Arc::new(AtomicUsize::new(0));
        let cell: Arc<OnceLock<Weak<Lease>>> = Arc::new(OnceLock::new());
        let (r2, c2) = (renewals.clone(), cell.clone());
        let lease = Lease::start(
            8,
            boot_now() + Duration::from_millis(200),
            Some(boot_now() + Duration::from_millis(20)),
            Some(Arc::new(move || {
                r2.fetch_add(1, Ordering::SeqCst);
                if let Some(l) = c2.get().and_then(Weak::upgrade) {
                    let now = boot_now();
                    l.extend(
                        now + Duration::from_millis(200),
                        Some(now + Duration::from_millis(20)),
                    );
                }
            })),
            None,
            Arc::default(),
        );
        cell.set(Arc::downgrade(&lease)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        assert!(lease.live(), "renewals keep it");
        assert!(renewals.load(Ordering::SeqCst) >= 5);
        lease.end(Ended::Released);
        assert!(lease.token().is_cancelled() && !lease.live());
    }
}
