//! Work longer than a ttl (issue 15): auto-renewing locks, the loss signal
//! (the lease's token and `on_lost`) and the elector's term token.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use mongoelector::{
    AcquireOptions, Database, ElectorOptions, LockerOptions, MongoLeaderElector, MongoLocker,
};

fn renewing(ttl: Duration, lost_at: Option<Arc<AtomicU64>>) -> LockerOptions {
    LockerOptions {
        ttl,
        // The lease a holder counts on is ttl minus twice this.
        maxoffset: 0.1,
        auto_renew: true,
        on_lost: lost_at.map(|at| {
            Arc::new(move || at.store(mono_ns(), Ordering::SeqCst)) as mongoelector::OnLost
        }),
        ..Default::default()
    }
}

fn nonblocking() -> AcquireOptions {
    AcquireOptions {
        blocking: false,
        ..Default::default()
    }
}

/// A locker on "job" with the defaults but `ttl` (no renewals).
fn plain(db: &Database, ttl: Duration) -> MongoLocker {
    let opts = LockerOptions {
        ttl,
        ..Default::default()
    };
    MongoLocker::new("job", db, opts).unwrap()
}

#[test]
fn an_auto_renewed_lock_is_held_through_a_job_of_five_ttls() {
    let (_c, db) = fresh_db("renewjob");
    let ttl = Duration::from_secs(1);
    let a = MongoLocker::new("job", &db, renewing(ttl, None)).unwrap();
    let b = plain(&db, ttl);
    a.acquire(AcquireOptions::default()).unwrap();
    let fence = a.fence();
    let lease = a.lease().expect("a holding has a lease");
    let start = Instant::now();
    while start.elapsed() < ttl * 5 {
        assert!(a.held(), "not held after {:?}", start.elapsed());
        assert!(
            b.acquire(nonblocking()).is_err(),
            "taken after {:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(a.owned().unwrap() && a.fence() == fence && lease.fence() == fence);
    assert!(!lease.token().is_cancelled());
    a.release(false).unwrap();
    assert!(
        lease.token().is_cancelled() && !a.held(),
        "a release ends the lease"
    );
    b.acquire(nonblocking()).unwrap();
}

#[test]
fn a_forced_takeover_ends_the_old_holders_lease_within_a_renewal() {
    let (_c, db) = fresh_db("renewtake");
    let ttl = Duration::from_secs(2);
    let lost_at = Arc::new(AtomicU64::new(0));
    let a = MongoLocker::new("job", &db, renewing(ttl, Some(lost_at.clone()))).unwrap();
    let b = plain(&db, ttl);
    a.acquire(AcquireOptions::default()).unwrap();
    let lease = a.lease().unwrap();
    b.acquire(AcquireOptions {
        force: true,
        ..Default::default()
    })
    .unwrap();
    let taken = mono_ns();
    assert!(
        lease.token().wait(Some(ttl / 4 + Duration::from_secs(1))),
        "the takeover was not seen within a renewal period"
    );
    assert!(!a.held());
    assert!(wait_until(Duration::from_secs(1), || lost_at
        .load(Ordering::SeqCst)
        != 0));
    assert!(lost_at.load(Ordering::SeqCst) >= taken);
    assert!(
        b.owned().unwrap(),
        "the old holder never renews over the taker"
    );
}

/// The server freezes while a lock is auto-renewed: the loss comes before
/// the lease ends by the holder's clock; after that another locker takes the
/// lock, and the first never renews over it when the server resumes.
#[test]
fn a_frozen_server_makes_the_holding_lost_before_its_lease_ends() {
    let mut server = PrivateServer::start("renew");
    let db = server.db.clone();
    let ttl = Duration::from_secs(2);
    let lost_at = Arc::new(AtomicU64::new(0));
    let a = MongoLocker::new("job", &db, renewing(ttl, Some(lost_at.clone()))).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    std::thread::sleep(ttl); // a few renewals
    assert!(a.held());
    let fence = a.fence();
    let lease = a.lease().unwrap();
    let frozen = mono_ns();
    server.signal(libc::SIGSTOP);
    assert!(lease.token().wait(Some(ttl * 2)), "the loss never came");
    let token_at = mono_ns();
    assert!(
        token_at < frozen + ttl.as_nanos() as u64,
        "the token was cancelled {:.3} s after the freeze (ttl {ttl:?}): after the lease",
        secs(token_at - frozen)
    );
    assert!(wait_until(Duration::from_secs(1), || lost_at
        .load(Ordering::SeqCst)
        != 0));
    assert!(lost_at.load(Ordering::SeqCst) < frozen + ttl.as_nanos() as u64);
    assert!(!a.held());
    server.signal(libc::SIGCONT);
    let b = plain(&db, ttl);
    b.acquire(AcquireOptions {
        timeout: Some(Duration::from_secs(10)),
        step: Duration::from_millis(50),
        ..Default::default()
    })
    .unwrap();
    assert!(b.fence() > fence);
    std::thread::sleep(ttl / 2);
    assert!(
        b.owned().unwrap(),
        "the first holder renewed over the new one"
    );
}

/// The term's token ends with the term: at a release, at stop, and when the
/// lease runs out (here: a server that freezes).
#[test]
fn the_term_token_is_cancelled_when_leadership_ends() {
    let (_c, db) = fresh_db("term");
    let ttl = Duration::from_secs(1);
    let e = plain_elector(&db, ttl);
    assert!(e.term().is_none());
    e.start(false).unwrap();
    assert!(wait_until(Duration::from_secs(5), || e.is_leader()));
    let term = e.term().expect("a leader has a term");
    assert_eq!(term.fence(), e.mlock().fence());
    std::thread::sleep(ttl * 2);
    assert!(!term.token().is_cancelled(), "renewals keep the term");
    e.release().unwrap();
    assert!(term.token().is_cancelled(), "release ends the term");
    assert!(wait_until(Duration::from_secs(5), || e.is_leader()));
    let term = e.term().unwrap();
    e.stop().unwrap();
    assert!(term.token().is_cancelled(), "stop ends the term");
}

/// A slow callback holds the elector's thread past the lease: the term's
/// token is still cancelled on time (the watchdog ends it, not the thread).
#[test]
fn a_slow_callback_does_not_delay_the_term_token() {
    let mut server = PrivateServer::start("term");
    let db = server.db.clone();
    let ttl = Duration::from_secs(2);
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = slow.clone();
    let e = MongoLeaderElector::new(
        "svc",
        &db,
        ElectorOptions {
            ttl,
            on_loop: Some(Arc::new(move || {
                if s2.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_secs(4));
                }
            })),
            ..Default::default()
        },
    )
    .unwrap();
    e.start(false).unwrap();
    assert!(wait_until(Duration::from_secs(5), || e.is_leader()));
    let term = e.term().unwrap();
    slow.store(true, Ordering::SeqCst);
    let frozen = mono_ns();
    server.signal(libc::SIGSTOP);
    assert!(
        term.token().wait(Some(ttl * 2)),
        "the term token never ended"
    );
    let at = mono_ns();
    assert!(
        at < frozen + ttl.as_nanos() as u64,
        "the term token ended {:.3} s after the freeze (ttl {ttl:?})",
        secs(at - frozen)
    );
    assert!(!e.is_leader());
    server.signal(libc::SIGCONT);
    slow.store(false, Ordering::SeqCst);
    e.stop().unwrap();
}
