//! Observing an election (issue 16): who leads, health, counters.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use mongoelector::{
    AcquireOptions, ElectorOptions, Health, LockerOptions, MongoLeaderElector, MongoLocker,
};

type Seen = Arc<Mutex<Vec<Option<(String, i64)>>>>;

/// An elector that records every leader its `on_new_leader` reports, and
/// (into `terms`) every term it won itself.
fn observer(
    db: &mongoelector::Database,
    ttl: Duration,
    terms: &Seen,
) -> (Arc<MongoLeaderElector>, Seen) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let slot: Arc<Mutex<Option<std::sync::Weak<MongoLeaderElector>>>> = Arc::default();
    let (slot2, terms2) = (slot.clone(), terms.clone());
    let e = Arc::new(
        MongoLeaderElector::new(
            "svc",
            db,
            ElectorOptions {
                ttl,
                on_new_leader: Some(Arc::new(move |l| {
                    s2.lock()
                        .unwrap()
                        .push(l.map(|l| (l.uuid.clone(), l.fence)));
                })),
                on_leader: Some(Arc::new(move || {
                    if let Some(e) = slot2.lock().unwrap().as_ref().and_then(|w| w.upgrade()) {
                        let m = e.mlock();
                        terms2
                            .lock()
                            .unwrap()
                            .push(Some((m.uuid().to_owned(), m.fence())));
                    }
                })),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    *slot.lock().unwrap() = Some(Arc::downgrade(&e));
    (e, seen)
}

/// The leaders seen, without "no leader" entries and repeats.
fn leaders(seen: &Seen) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for l in seen.lock().unwrap().iter().flatten() {
        if out.last() != Some(l) {
            out.push(l.clone());
        }
    }
    out
}

fn leader_of(es: &[&Arc<MongoLeaderElector>]) -> Option<usize> {
    es.iter().position(|e| e.is_leader())
}

#[test]
fn every_elector_sees_the_same_leaders_through_a_stop_a_kill_and_a_restart() {
    let (_c, db) = fresh_db("observe");
    let ttl = Duration::from_secs(1);
    let terms: Seen = Arc::default();
    let (a, sa) = observer(&db, ttl, &terms);
    let (b, sb) = observer(&db, ttl, &terms);
    let (c, sc) = observer(&db, ttl, &terms);
    for e in [&a, &b, &c] {
        e.start(false).unwrap();
    }
    let all = [&a, &b, &c];
    assert!(wait_until(Duration::from_secs(5), || leader_of(&all).is_some()));
    std::thread::sleep(ttl);
    // A graceful stop of the first leader.
    let first = leader_of(&all).unwrap();
    all[first].stop().unwrap();
    let rest: Vec<&Arc<MongoLeaderElector>> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != first)
        .map(|(_, e)| *e)
        .collect();
    assert!(wait_until(Duration::from_secs(5), || leader_of(&rest).is_some()));
    std::thread::sleep(ttl);
    // The second leader dies without a word (as SIGKILL: no release).
    let second = leader_of(&rest).unwrap();
    rest[second].abandon();
    let survivor = rest[1 - second];
    assert!(wait_until(ttl * 4, || survivor.is_leader()), "no failover");
    std::thread::sleep(ttl);
    // The first one comes back and follows.
    all[first].start(false).unwrap();
    std::thread::sleep(ttl);
    assert!(survivor.is_leader());
    let seen_by = |e: &Arc<MongoLeaderElector>| {
        let i = all.iter().position(|x| Arc::ptr_eq(x, e)).unwrap();
        leaders([&sa, &sb, &sc][i])
    };
    let truth = leaders(&terms);
    assert_eq!(truth.len(), 3, "three terms: {truth:?}");
    assert!(
        truth.windows(2).all(|w| w[0].1 < w[1].1),
        "fences increase: {truth:?}"
    );
    assert_eq!(seen_by(survivor), truth, "the survivor saw every leader");
    assert_eq!(
        seen_by(rest[second]),
        truth[..2].to_vec(),
        "the killed one, until it died"
    );
    let back = seen_by(all[first]);
    assert_eq!(
        back.first(),
        truth.first(),
        "the restarted one first saw the first leader"
    );
    assert_eq!(
        back.last(),
        truth.last(),
        "and after its restart, the current one"
    );
    for s in [&sa, &sb, &sc] {
        for l in leaders(s) {
            assert!(truth.contains(&l), "{l:?} never held the lock");
        }
    }
    let (now, _) = survivor.observed_leader().expect("observed");
    assert_eq!(now.map(|l| (l.uuid, l.fence)), truth.last().cloned());
    for e in [&a, &c, &b] {
        e.close().unwrap();
    }
}

#[test]
fn a_leader_is_unhealthy_while_the_server_is_frozen_and_healthy_after() {
    let mut server = PrivateServer::start("health");
    let db = server.db.clone();
    let ttl = Duration::from_secs(2);
    let e = plain_elector(&db, ttl);
    assert_eq!(e.healthy(None), Health::NotRunning);
    e.start(false).unwrap();
    assert!(wait_until(Duration::from_secs(5), || e.is_leader()));
    assert_eq!(e.healthy(None), Health::Leading);
    server.signal(libc::SIGSTOP);
    assert!(
        wait_until(ttl * 2, || !e.healthy(None).is_ok()),
        "still healthy with the server frozen: {:?}",
        e.healthy(None)
    );
    server.signal(libc::SIGCONT);
    assert!(
        wait_until(Duration::from_secs(20), || e.healthy(None)
            == Health::Leading),
        "not healthy after recovery: {:?}",
        e.healthy(None)
    );
    e.stop().unwrap();
    assert_eq!(e.healthy(None), Health::NotRunning);
}

#[test]
fn counters_match_what_was_done() {
    let (_c, db) = fresh_db("stats");
    let l = MongoLocker::new(
        "k",
        &db,
        LockerOptions {
            ttl: Duration::from_secs(30),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(l.stats().acquisitions, 0);
    for _ in 0..3 {
        l.acquire(AcquireOptions::default()).unwrap();
        for _ in 0..2 {
            l.touch().unwrap();
        }
        l.release(false).unwrap();
    }
    let s = l.stats();
    assert_eq!((s.acquisitions, s.renewals, s.losses), (3, 6, 0), "{s:?}");
    assert!(
        s.round_trips >= 9 && s.max_round_trip >= s.last_round_trip && !s.max_round_trip.is_zero()
    );
    l.acquire(AcquireOptions::default()).unwrap();
    assert!(l.stats().lease_left > Duration::from_secs(25));
    let taker = MongoLocker::new("k", &db, LockerOptions::default()).unwrap();
    taker
        .acquire(AcquireOptions {
            force: true,
            ..Default::default()
        })
        .unwrap();
    assert!(!l.owned().unwrap());
    let s = l.stats();
    assert_eq!((s.losses, s.takeovers_seen), (1, 1), "{s:?}");
    assert!(s.lease_left.is_zero());

    let ttl = Duration::from_secs(1);
    let e = MongoLeaderElector::new(
        "g",
        &db,
        ElectorOptions {
            ttl,
            ..Default::default()
        },
    )
    .unwrap();
    e.start(false).unwrap();
    assert!(wait_until(Duration::from_secs(5), || e.is_leader()));
    std::thread::sleep(ttl);
    e.stop().unwrap();
    let s = e.stats();
    assert_eq!(
        (s.acquisitions, s.leader_transitions, s.losses),
        (1, 2, 0),
        "{s:?}"
    );
    assert!(s.renewals >= 2, "{s:?}");
}
