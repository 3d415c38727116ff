//! The head is found by `_id` point reads (docs/design.md, "Finding the head"):
//! with many other keys in the collection, warm and cold lockers alike must
//! find the true head, and holders must never overlap.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mongodb::bson::{doc, DateTime};
use mongoelector::{AcquireOptions, Error, LockerOptions, MongoLocker};

fn opts() -> LockerOptions {
    LockerOptions {
        ttl: Duration::from_secs(30),
        timeparanoid: false,
        ..Default::default()
    }
}

fn nonblocking() -> AcquireOptions {
    AcquireOptions {
        blocking: false,
        ..Default::default()
    }
}

/// Fills `mongolocker` with a released generation of `n` other keys.
fn other_keys(raw: &Raw, n: usize) {
    let now = DateTime::now();
    let docs: Vec<_> = (0..n)
        .map(|i| {
            doc! {"_id": format!("other{i}#1"), "key": format!("other{i}"), "gen": 1_i64,
            "fence": 1_i64, "locked": false, "uuid": "u", "host": "h", "pid": 1_i64,
            "ts_created": now, "ts_expire": now, "ts_written": now}
        })
        .collect();
    block_on(raw.db.collection("mongolocker").insert_many(docs)).expect("insert other keys");
}

fn gens(raw: &Raw, key: &str) -> Vec<i64> {
    let mut g: Vec<i64> = raw
        .find("mongolocker", doc! {"key": key})
        .iter()
        .map(|d| d.get_i64("gen").unwrap())
        .collect();
    g.sort();
    g
}

#[test]
fn cold_and_warm_lockers_find_the_head_among_many_keys() {
    let (_c, db) = fresh_db("many_keys");
    let raw = Raw::new(db.name());
    other_keys(&raw, 2000);
    let warm = MongoLocker::new("res", &db, opts()).unwrap();
    for i in 1..=30_i64 {
        warm.acquire(nonblocking()).unwrap();
        assert_eq!(warm.fence(), 4 * i - 3);
        warm.release(false).unwrap();
        // A new locker has no start of its own: it reads by the query.
        let cold = MongoLocker::new("res", &db, opts()).unwrap();
        assert!(!cold.locked().unwrap());
        cold.acquire(nonblocking()).unwrap();
        assert!(matches!(
            warm.acquire(nonblocking()),
            Err(Error::LockExists { .. })
        ));
        assert!(cold.release(false).unwrap());
    }
    // Four generations per round, and none written twice.
    let g = gens(&raw, "res");
    assert_eq!(g.last(), Some(&120));
    let mut dedup = g.clone();
    dedup.dedup();
    assert_eq!(g, dedup);
    assert_eq!(gens(&raw, "other7"), vec![1], "other keys untouched");
}

#[test]
fn holders_never_overlap_with_cold_and_warm_contenders() {
    let (_c, db) = fresh_db("overlap");
    other_keys(&Raw::new(db.name()), 2000);
    let inside = Arc::new(AtomicUsize::new(0));
    let wins = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (db, inside, wins) = (db.clone(), inside.clone(), wins.clone());
            std::thread::spawn(move || {
                let warm = MongoLocker::new("res", &db, opts()).unwrap();
                for i in 0..40 {
                    // Every other round a fresh locker, which reads by the query.
                    let cold;
                    let l = if (i + t) % 2 == 0 {
                        &warm
                    } else {
                        cold = MongoLocker::new("res", &db, opts()).unwrap();
                        &cold
                    };
                    if l.acquire(nonblocking()).is_ok() {
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        wins.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        assert!(l.release(false).unwrap());
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(wins.load(Ordering::SeqCst) > 0);
}
