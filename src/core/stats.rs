//! Counters of a locker or elector, for dashboards: what it won, renewed and
//! lost, and how long its round trips took. Lock-free; read as a snapshot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of a locker's or elector's counters since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Holdings won (for an elector: terms).
    pub acquisitions: u64,
    /// Renewals written.
    pub renewals: u64,
    /// Renewals that failed (a database error, or the lock no longer ours).
    pub failed_renewals: u64,
    /// Holdings or terms that ended without a release (lease run out, taken).
    pub losses: u64,
    /// Of those, ended because another holder was seen.
    pub takeovers_seen: u64,
    /// Times an elector became leader or stopped being leader.
    pub leader_transitions: u64,
    /// Database round trips of the lock (reads and writes).
    pub round_trips: u64,
    pub last_round_trip: Duration,
    pub max_round_trip: Duration,
    /// Time left on the current lease by the holder's clock (zero when none).
    pub lease_left: Duration,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub acquisitions: AtomicU64,
    pub renewals: AtomicU64,
    pub failed_renewals: AtomicU64,
    pub losses: AtomicU64,
    pub takeovers_seen: AtomicU64,
    pub leader_transitions: AtomicU64,
    round_trips: AtomicU64,
    last_rtt_ns: AtomicU64,
    max_rtt_ns: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn round_trip(&self, took: Duration) {
        let ns = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        bump(&self.round_trips);
        self.last_rtt_ns.store(ns, Ordering::Relaxed);
        self.max_rtt_ns.fetch_max(ns, Ordering::Relaxed);
    }

    pub fn snapshot(&self, lease_left: Duration) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            acquisitions: get(&self.acquisitions),
            renewals: get(&self.renewals),
            failed_renewals: get(&self.failed_renewals),
            losses: get(&self.losses),
            takeovers_seen: get(&self.takeovers_seen),
            leader_transitions: get(&self.leader_transitions),
            round_trips: get(&self.round_trips),
            last_round_trip: Duration::from_nanos(get(&self.last_rtt_ns)),
            max_round_trip: Duration::from_nanos(get(&self.max_rtt_ns)),
            lease_left,
        }
    }
}
