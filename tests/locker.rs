//! MongoLocker against the real server: every method and property, argument
//! errors, fencing tokens, and the beyond-the-seed items of issue 2.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use mongodb::bson::{doc, Document};
use mongoelector::{AcquireOptions, CancelToken, Client, Clock, Error, LockerOptions, MongoLocker};

const SLACK: Duration = Duration::from_secs(1);

fn opts(ttl: Duration) -> LockerOptions {
    LockerOptions {
        ttl,
        ..Default::default()
    }
}

fn nonblocking() -> AcquireOptions {
    AcquireOptions {
        blocking: false,
        ..Default::default()
    }
}

/// One attempt whose round trips end within `limit`.
fn once(force: bool, limit: Duration) -> AcquireOptions {
    AcquireOptions {
        blocking: false,
        timeout: Some(limit),
        force,
        ..Default::default()
    }
}

fn fast(timeout: Option<Duration>) -> AcquireOptions {
    AcquireOptions {
        timeout,
        step: Duration::from_millis(50),
        ..Default::default()
    }
}

fn near(a: SystemTime, b: SystemTime, tol: Duration) -> bool {
    let d = a.duration_since(b).unwrap_or_else(|e| e.duration());
    d <= tol
}

#[test]
fn properties_and_defaults() {
    let (_c, db) = fresh_db("props");
    let a = MongoLocker::new("res", &db, LockerOptions::default()).unwrap();
    let b = MongoLocker::new("res", &db, LockerOptions::default()).unwrap();
    assert_eq!(a.key(), "res");
    assert_eq!(a.db().name(), db.name());
    assert_eq!(a.dbcollection(), "mongolocker");
    assert_eq!(a.ttl(), Duration::from_secs(600));
    assert_eq!(a.maxoffset(), 0.5);
    assert_eq!(a.pid(), std::process::id() as i64);
    assert!(!a.host().is_empty());
    assert_eq!(a.uuid().len(), 36, "uuid {:?}", a.uuid());
    assert_ne!(a.uuid(), b.uuid(), "each locker has its own uuid");
    assert_eq!(a.ts_expire(), None, "ts_expire before any acquisition");
    assert_eq!(a.fence(), 0, "fence before any acquisition");
    let d = AcquireOptions::default();
    assert!(d.blocking && d.timeout.is_none() && !d.force);
    assert_eq!(d.step, Duration::from_millis(250));
}

#[test]
fn argument_errors() {
    let (_c, db) = fresh_db("args");
    assert!(
        is_invalid(&MongoLocker::new("", &db, LockerOptions::default())),
        "empty key"
    );
    assert!(
        is_invalid(&MongoLocker::new("k", &db, opts(Duration::ZERO))),
        "zero ttl"
    );
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let o = LockerOptions {
            maxoffset: bad,
            ..Default::default()
        };
        assert!(
            is_invalid(&MongoLocker::new("k", &db, o)),
            "maxoffset {bad}"
        );
    }
    // A huge but finite maxoffset leaves no lease to count on: the holding
    // ends at once (found by the fuzzer: it once panicked in the lease).
    let huge = MongoLocker::new(
        "huge",
        &db,
        LockerOptions {
            maxoffset: 1e300,
            timeparanoid: false,
            ..Default::default()
        },
    )
    .unwrap();
    let _ = huge.acquire(AcquireOptions {
        blocking: false,
        ..Default::default()
    });
    assert!(!huge.held());
    assert!(
        is_invalid(&MongoLocker::new(
            "k",
            &db,
            opts(Duration::from_secs(1000 * 365 * 86_400 + 1))
        )),
        "ttl over 1000 years"
    );
    let long = "c".repeat(300);
    for bad in ["", "a$b", "a\0b", ".a", "system.x", &long] {
        let o = LockerOptions {
            dbcollection: bad.into(),
            ..Default::default()
        };
        assert!(
            is_invalid(&MongoLocker::new("k", &db, o)),
            "collection {bad:?}"
        );
    }
    let c = client();
    for bad in ["", "a.b", "a b", "a/b", &"x".repeat(64), "local", "config"] {
        assert!(is_invalid(&c.database(bad)), "database name {bad:?}");
    }
    assert!(is_invalid(&Client::new("not a uri")), "bad uri");

    // A ttl shorter than a round trip could never be acquired: refused.
    for tiny in [
        Duration::from_nanos(1),
        Duration::from_micros(500),
        Duration::from_millis(99),
    ] {
        let r = MongoLocker::new("k", &db, opts(tiny));
        assert!(is_invalid(&r), "ttl {tiny:?}");
    }
    assert!(MongoLocker::new("k", &db, opts(mongoelector::MIN_TTL)).is_ok());
    // A key the server could not store is refused up front, with a short message.
    let huge = "k".repeat(mongoelector::MAX_KEY_BYTES + 1);
    match MongoLocker::new(&huge, &db, opts(Duration::from_secs(5))) {
        Err(Error::InvalidArgument(m)) => assert!(m.len() < 1000, "{} bytes", m.len()),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let l = MongoLocker::new("k", &db, opts(Duration::from_secs(5))).unwrap();
    assert_eq!(l.fence(), 0);
}

#[test]
fn acquire_release_and_observers() {
    let (_c, db) = fresh_db("basic");
    let ttl = Duration::from_secs(30);
    let a = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    let b = MongoLocker::new("res", &db, opts(ttl)).unwrap();

    // Free lock.
    assert!(!a.locked().unwrap());
    assert!(!a.owned().unwrap());
    assert_eq!(a.get_current().unwrap(), None);
    let st = a.status().unwrap();
    assert!(
        !st.lock_owned
            && st.fence.is_none()
            && st.lock_created.is_none()
            && st.lock_expires.is_none()
    );
    assert!(
        !a.release(false).unwrap(),
        "release of a free lock is a no-op"
    );
    assert!(
        matches!(a.touch(), Err(Error::NotOwned(_))),
        "touch of a never-acquired lock"
    );

    let before = SystemTime::now();
    a.acquire(AcquireOptions::default()).unwrap();
    let after = SystemTime::now();
    assert!(a.locked().unwrap() && a.owned().unwrap());
    assert!(b.locked().unwrap() && !b.owned().unwrap());
    let fence = a.fence();
    assert!(fence >= 1);
    let exp = a.ts_expire().expect("ts_expire after acquire");
    assert!(
        exp >= before + ttl - Duration::from_millis(2)
            && exp <= after + ttl + Duration::from_millis(2),
        "ts_expire {exp:?}"
    );

    // get_current, from the holder and from another locker.
    for who in [&a, &b] {
        let cur = who.get_current().unwrap().expect("a live lock");
        assert_eq!(cur.key, "res");
        assert!(cur.locked);
        assert_eq!(cur.uuid, a.uuid());
        assert_eq!(cur.host, a.host());
        assert_eq!(cur.pid, a.pid());
        assert_eq!(cur.fence, fence);
        assert!(
            near(cur.ts_expire, exp, Duration::from_millis(1)),
            "{:?} vs {exp:?}",
            cur.ts_expire
        );
        assert!(cur.ts_created >= before - Duration::from_millis(1) && cur.ts_created <= after);
        assert!(near(
            cur.ts_created + ttl,
            cur.ts_expire,
            Duration::from_millis(2)
        ));
    }

    // status of the holder and of another locker.
    let st = a.status().unwrap();
    assert_eq!(st.uuid, a.uuid());
    assert_eq!(st.key, "res");
    assert_eq!(st.ttl, ttl);
    assert_eq!(st.host, a.host());
    assert_eq!(st.pid, a.pid());
    assert!(near(st.timestamp, SystemTime::now(), SLACK));
    assert!(st.lock_owned);
    assert_eq!(st.fence, Some(fence));
    assert!(near(
        st.lock_expires.unwrap(),
        exp,
        Duration::from_millis(1)
    ));
    assert!(st.lock_created.unwrap() <= after);
    let sb = b.status().unwrap();
    assert_eq!(sb.uuid, b.uuid());
    assert!(!sb.lock_owned && sb.fence.is_none() && sb.lock_expires.is_none());

    // Non-blocking acquire by someone else: LockExists with the holder's details.
    match b.acquire(nonblocking()) {
        Err(Error::LockExists {
            key,
            host,
            pid,
            expires_in,
        }) => {
            assert_eq!(key, "res");
            assert_eq!(host, a.host());
            assert_eq!(pid, a.pid());
            assert!(
                expires_in <= ttl && expires_in > ttl - Duration::from_secs(10),
                "{expires_in:?}"
            );
        }
        other => panic!("expected LockExists, got {other:?}"),
    }
    assert_eq!(b.fence(), 0);
    assert!(
        !b.release(false).unwrap(),
        "release by a non-holder is a no-op"
    );
    assert!(
        a.owned().unwrap(),
        "a non-holder's release must leave the lock alone"
    );
    assert!(matches!(b.touch(), Err(Error::NotOwned(_))));

    // Release by the holder.
    assert!(a.release(false).unwrap());
    assert!(!a.locked().unwrap() && !a.owned().unwrap() && !b.locked().unwrap());
    assert_eq!(b.get_current().unwrap(), None);
    assert!(
        matches!(a.touch(), Err(Error::NotOwned(_))),
        "touch after release"
    );
    assert!(!a.release(false).unwrap(), "second release is a no-op");

    // The other locker now gets it at once, with a greater fence.
    b.acquire(nonblocking()).unwrap();
    assert!(b.fence() > fence, "fence {} after {}", b.fence(), fence);
    assert_eq!(b.get_current().unwrap().unwrap().uuid, b.uuid());
    assert_eq!(
        a.fence(),
        fence,
        "a locker's fence is its own latest acquisition"
    );
}

#[test]
fn touch_renews_and_keeps_the_fence() {
    let (_c, db) = fresh_db("touch");
    let ttl = Duration::from_secs(20);
    let a = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    let fence = a.fence();
    let created = a.get_current().unwrap().unwrap().ts_created;
    let first = a.ts_expire().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let before = SystemTime::now();
    let renewed = a.touch().unwrap();
    assert!(
        renewed > first,
        "touch must move the expiry: {renewed:?} <= {first:?}"
    );
    assert!(
        renewed >= before + ttl - Duration::from_millis(2) && renewed <= SystemTime::now() + ttl
    );
    assert_eq!(a.ts_expire(), Some(renewed), "ts_expire follows touch");
    assert_eq!(a.fence(), fence, "renewal keeps the fence");
    let cur = a.get_current().unwrap().unwrap();
    assert_eq!(cur.fence, fence);
    assert_eq!(cur.ts_created, created, "renewal keeps ts_created");
    assert!(near(cur.ts_expire, renewed, Duration::from_millis(1)));

    // acquire() on a lock this locker holds returns at once and renews it.
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    a.acquire(AcquireOptions::default()).unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "re-acquire blocked {:?}",
        t.elapsed()
    );
    assert!(a.ts_expire().unwrap() > renewed, "re-acquire renews");
    assert_eq!(a.fence(), fence, "re-acquire keeps the fence (no nesting)");
    a.acquire(nonblocking()).unwrap();
    assert_eq!(a.fence(), fence);
    // No nesting count: one release frees it.
    assert!(a.release(false).unwrap());
    assert!(!a.locked().unwrap());
}

#[test]
fn expired_lock_is_taken_over_at_once() {
    let (_c, db) = fresh_db("expire");
    let ttl = Duration::from_secs(1);
    let a = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    let b = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    let t0 = Instant::now();
    a.acquire(AcquireOptions::default()).unwrap();
    let a_exp = a.ts_expire().unwrap();
    let fa = a.fence();
    b.acquire(AcquireOptions::default()).unwrap(); // blocking, default step, no release by a
    let took = t0.elapsed();
    let now = SystemTime::now();
    assert!(
        now > a_exp,
        "b acquired before a's lease ended ({now:?} <= {a_exp:?})"
    );
    assert!(
        took <= Duration::from_millis(2000),
        "takeover took {took:?} (want ~1.5 s)"
    );
    assert!(b.fence() > fa);
    assert!(!a.owned().unwrap() && b.owned().unwrap());
    assert!(
        matches!(a.touch(), Err(Error::NotOwned(_))),
        "touch after being taken over"
    );

    // A stale holder's release is a no-op and leaves the new holder's lock.
    assert!(!a.release(false).unwrap());
    let cur = b.get_current().unwrap().expect("b still holds it");
    assert_eq!(cur.uuid, b.uuid());
    assert_eq!(cur.fence, b.fence());

    // Non-blocking acquire of an expired lock succeeds at once, too.
    std::thread::sleep(ttl + Duration::from_millis(100));
    assert!(!a.locked().unwrap(), "an expired lock is not locked");
    assert_eq!(a.get_current().unwrap(), None);
    assert!(
        matches!(b.touch(), Err(Error::NotOwned(_))),
        "touch of an expired lock"
    );
    a.acquire(nonblocking()).unwrap();
    assert!(a.fence() > b.fence());
}

#[test]
fn own_expired_lock_reacquired_is_a_new_holding() {
    let (_c, db) = fresh_db("reexp");
    let a = MongoLocker::new("res", &db, opts(Duration::from_millis(500))).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    let f1 = a.fence();
    std::thread::sleep(Duration::from_millis(700));
    assert!(!a.owned().unwrap());
    a.acquire(nonblocking()).unwrap();
    assert!(a.fence() > f1, "a holding after expiry gets a new fence");
}

#[test]
fn force_acquire_and_force_release() {
    let (_c, db) = fresh_db("force");
    let ttl = Duration::from_secs(30);
    let a = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    let b = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    let c = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    let fa = a.fence();
    b.acquire(AcquireOptions {
        blocking: false,
        force: true,
        ..Default::default()
    })
    .unwrap();
    assert!(b.fence() > fa, "force takes a new fence");
    assert!(b.owned().unwrap() && !a.owned().unwrap());
    assert!(matches!(a.touch(), Err(Error::NotOwned(_))));
    assert!(
        !a.release(false).unwrap(),
        "stale release after force is a no-op"
    );
    assert!(b.owned().unwrap());

    // Force release by a third locker frees someone else's lock.
    assert!(c.release(true).unwrap());
    assert!(!b.locked().unwrap() && !b.owned().unwrap());
    assert!(matches!(b.touch(), Err(Error::NotOwned(_))));
    assert!(!c.release(true).unwrap(), "force release of a free lock");
    a.acquire(nonblocking()).unwrap();
    assert!(a.fence() > b.fence());

    // Force acquire of a lock we hold ourselves renews it like a plain acquire.
    let fa2 = a.fence();
    a.acquire(AcquireOptions {
        force: true,
        ..Default::default()
    })
    .unwrap();
    assert!(a.owned().unwrap());
    assert!(a.fence() >= fa2);
}

#[test]
fn fences_strictly_increase_across_every_kind_of_transition() {
    let (_c, db) = fresh_db("fences");
    let ttl = Duration::from_millis(1500);
    let lockers: Vec<MongoLocker> = (0..3)
        .map(|_| MongoLocker::new("res", &db, opts(ttl)).unwrap())
        .collect();
    let last = std::cell::Cell::new(0);
    let check = |l: &MongoLocker, what: &str| {
        let f = l.fence();
        assert!(f > last.get(), "{what}: fence {f} not above {}", last.get());
        assert_eq!(
            l.get_current().unwrap().unwrap().fence,
            f,
            "{what}: get_current().fence"
        );
        last.set(f);
    };
    for round in 0..2 {
        let (x, y, z) = (
            &lockers[round % 3],
            &lockers[(round + 1) % 3],
            &lockers[(round + 2) % 3],
        );
        x.acquire(nonblocking()).unwrap();
        check(x, "acquire");
        x.touch().unwrap();
        assert_eq!(x.fence(), last.get(), "touch keeps the fence");
        x.release(false).unwrap();
        y.acquire(nonblocking()).unwrap();
        check(y, "acquire after release");
        z.acquire(AcquireOptions {
            blocking: false,
            force: true,
            ..Default::default()
        })
        .unwrap();
        check(z, "force");
        y.release(true).unwrap();
        x.acquire(nonblocking()).unwrap();
        check(x, "acquire after force release");
        x.acquire(fast(None)).unwrap(); // own lock: renew
        assert_eq!(x.fence(), last.get(), "re-acquire keeps the fence");
        y.acquire(fast(Some(Duration::from_secs(5)))).unwrap(); // waits for x's expiry
        check(y, "takeover after expiry");
        assert!(y.release(false).unwrap());
    }
}

#[test]
fn acquire_timeout_returns_within_timeout_plus_step() {
    let (_c, db) = fresh_db("timeout");
    let a = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    let b = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    let t = Duration::from_millis(1000);
    let step = Duration::from_millis(250);
    let start = Instant::now();
    let r = b.acquire(AcquireOptions {
        timeout: Some(t),
        step,
        ..Default::default()
    });
    let took = start.elapsed();
    assert!(
        matches!(r, Err(Error::AcquireTimeout(ref m)) if m.starts_with("\"res\" not acquired after 1.")),
        "{r:?}"
    );
    assert!(took >= t, "gave up early: {took:?}");
    assert!(
        took <= t + step + SLACK,
        "AcquireTimeout after {took:?} (timeout {t:?}, step {step:?})"
    );
    assert!(a.owned().unwrap() && b.fence() == 0);

    // A zero timeout behaves like one attempt.
    let r = b.acquire(AcquireOptions {
        timeout: Some(Duration::ZERO),
        ..Default::default()
    });
    assert!(matches!(r, Err(Error::AcquireTimeout(_))), "{r:?}");

    // A step longer than the timeout does not stretch the wait.
    let start = Instant::now();
    let r = b.acquire(AcquireOptions {
        timeout: Some(Duration::from_millis(300)),
        step: Duration::from_secs(10),
        ..Default::default()
    });
    assert!(matches!(r, Err(Error::AcquireTimeout(_))), "{r:?}");
    assert_within(start, Duration::from_millis(300) + SLACK);
}

#[test]
fn blocking_acquire_gets_the_lock_when_released() {
    let (_c, db) = fresh_db("wait");
    let a = Arc::new(MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap());
    let b = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    let a2 = a.clone();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let at = Instant::now();
        assert!(a2.release(false).unwrap());
        at
    });
    let start = Instant::now();
    b.acquire(fast(Some(Duration::from_secs(10)))).unwrap();
    let got = Instant::now();
    let released = releaser.join().unwrap();
    assert!(got >= released, "b acquired before a released");
    assert_within(start, Duration::from_secs(5));
    assert!(b.fence() > a.fence());
}

#[test]
fn close_wakes_a_waiting_acquire_and_releases() {
    let (_c, db) = fresh_db("close");
    let a = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    let b = Arc::new(MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap());
    a.acquire(AcquireOptions::default()).unwrap();
    let b2 = b.clone();
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        let r = b2.acquire(AcquireOptions {
            step: Duration::from_secs(5),
            ..Default::default()
        });
        (r, t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    b.close().unwrap();
    let (r, took) = waiter.join().unwrap();
    assert!(matches!(r, Err(Error::Closed(_))), "{r:?}");
    assert!(
        took < Duration::from_secs(3),
        "close did not wake the waiter: {took:?}"
    );
    assert!(matches!(b.acquire(nonblocking()), Err(Error::Closed(_))));
    a.close().unwrap();
    let c = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    assert!(!c.locked().unwrap(), "close releases the holder's lock");
    a.close().unwrap(); // idempotent
}

#[test]
fn drop_releases_the_lock() {
    let (_c, db) = fresh_db("drop");
    let b = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    {
        let a = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
        a.acquire(AcquireOptions::default()).unwrap();
        assert!(b.locked().unwrap());
    }
    assert!(!b.locked().unwrap());
}

#[test]
fn keys_are_independent_even_with_hash_signs() {
    let (_c, db) = fresh_db("keys");
    let ttl = Duration::from_secs(30);
    // Drive "k" to a generation whose _id would clash with a naive scheme.
    let k = MongoLocker::new("k", &db, opts(ttl)).unwrap();
    for _ in 0..6 {
        k.acquire(nonblocking()).unwrap();
        k.release(false).unwrap();
    }
    k.acquire(nonblocking()).unwrap();
    let k1 = MongoLocker::new("k#1", &db, opts(ttl)).unwrap();
    let k12 = MongoLocker::new("k#1#2", &db, opts(ttl)).unwrap();
    k1.acquire(nonblocking()).unwrap();
    k1.release(false).unwrap();
    k1.acquire(nonblocking()).unwrap();
    k12.acquire(nonblocking()).unwrap();
    for l in [&k, &k1, &k12] {
        assert!(l.owned().unwrap(), "{} not owned", l.key());
        assert_eq!(l.get_current().unwrap().unwrap().key, l.key());
    }
    assert_eq!(k1.fence(), 3);
    assert_eq!(k12.fence(), 1);
    assert_eq!(k.fence(), 13);
    // Every document is a generation: it carries its key, and its _id is "<key>#<gen>".
    let raw = Raw::new(db.name());
    let docs = raw.find("mongolocker", doc! {});
    assert!(docs.len() >= 3);
    for d in &docs {
        let key = d.get_str("key").unwrap();
        let gen = d.get_i64("gen").unwrap();
        assert_eq!(d.get_str("_id").unwrap(), format!("{key}#{gen}"));
    }
}

#[test]
fn lock_documents_are_generations_with_bson_dates() {
    let (_c, db) = fresh_db("docs");
    let o = LockerOptions {
        dbcollection: "my_locks".into(),
        ttl: Duration::from_secs(30),
        ..Default::default()
    };
    let a = MongoLocker::new("res", &db, o).unwrap();
    assert_eq!(a.dbcollection(), "my_locks");
    a.acquire(AcquireOptions::default()).unwrap();
    a.touch().unwrap();
    a.release(false).unwrap();
    let raw = Raw::new(db.name());
    let mut docs = raw.find("my_locks", doc! {"key": "res"});
    docs.sort_by_key(|d| d.get_i64("gen").unwrap());
    let gens: Vec<i64> = docs.iter().map(|d| d.get_i64("gen").unwrap()).collect();
    assert_eq!(gens, vec![1, 2, 3], "one generation per transition");
    let locked: Vec<bool> = docs.iter().map(|d| d.get_bool("locked").unwrap()).collect();
    assert_eq!(locked, vec![true, true, false]);
    for d in &docs {
        assert_eq!(d.get_i64("fence").unwrap(), 1);
        assert_eq!(d.get_str("uuid").unwrap(), a.uuid());
        assert_eq!(d.get_str("host").unwrap(), a.host());
        assert_eq!(d.get_i64("pid").unwrap(), a.pid());
        for f in ["ts_created", "ts_expire"] {
            assert!(d.get_datetime(f).is_ok(), "{f} is not a BSON date in {d:?}");
        }
    }
    assert!(
        raw.find("mongolocker", doc! {}).is_empty(),
        "the default collection is untouched"
    );
}

#[test]
fn never_drops_or_changes_indexes_it_did_not_create() {
    let (_c, db) = fresh_db("indexes");
    let raw = Raw::new(db.name());
    // The user's own indexes, made before the library touches the collection:
    // one unrelated, and one with the library's index name but other keys.
    raw.insert("mongolocker", doc! {"_id": "user-doc", "note": "mine"});
    raw.command(doc! {"createIndexes": "mongolocker", "indexes": [
        {"key": {"note": 1}, "name": "user_note"},
        {"key": {"ts_expire": 1}, "name": "mongoelector_key_gen"},
    ]})
    .expect("createIndexes");
    let before = raw.indexes("mongolocker");
    assert!(before.iter().any(|(n, _)| n == "user_note"));

    let a = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    let b = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    assert!(matches!(
        b.acquire(nonblocking()),
        Err(Error::LockExists { .. })
    ));
    a.touch().unwrap();
    a.release(false).unwrap();
    b.acquire(nonblocking()).unwrap();
    b.release(true).unwrap();

    let after = raw.indexes("mongolocker");
    for (name, spec) in &before {
        let now: Option<&Document> = after.iter().find(|(n, _)| n == name).map(|(_, d)| d);
        assert_eq!(now, Some(spec), "index {name} was dropped or changed");
    }
    assert_eq!(
        raw.find("mongolocker", doc! {"_id": "user-doc"}).len(),
        1,
        "a user document was removed"
    );
}

/// The `{key, gen}` index on a fresh collection: created where the server
/// uses it, not on FerretDB v1 (which never serves a filter from it and only
/// pays for it at every insert).
#[test]
fn creates_its_index_on_a_fresh_collection() {
    let (_c, db) = fresh_db("ownindex");
    let a = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    let raw = Raw::new(db.name());
    let idx = raw.indexes("mongolocker");
    if is_ferretdb_v1() {
        assert!(
            idx.iter().all(|(n, _)| n == "_id_"),
            "no index but _id on FerretDB v1: {idx:?}"
        );
        return;
    }
    let ours = idx
        .iter()
        .find(|(n, _)| n == "mongoelector_key_gen")
        .expect("the library's index");
    assert_eq!(
        ours.1.get_document("key").unwrap(),
        &doc! {"key": 1, "gen": -1}
    );
    assert!(
        !ours.1.contains_key("expireAfterSeconds"),
        "no TTL index on lock documents"
    );
}

struct OffsetClock(Duration, bool);

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        if self.1 {
            SystemTime::now() + self.0
        } else {
            SystemTime::now() - self.0
        }
    }
}

fn with_offset(offset: Duration, ahead: bool) -> Client {
    Client::with_clock(&uri(), Arc::new(OffsetClock(offset, ahead))).unwrap()
}

#[test]
fn clock_check_rejects_an_offset_clock() {
    let name = db_name("clock");
    for ahead in [true, false] {
        let c = with_offset(Duration::from_secs(2), ahead);
        let db = c.database(&name).unwrap();
        let l = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
        match l.acquire(AcquireOptions::default()) {
            Err(Error::TimeOffset { offset, max }) => {
                assert!((1.5..2.5).contains(&offset), "measured offset {offset}");
                assert_eq!(max, 0.5);
            }
            other => panic!(
                "clock 2 s {}: expected TimeOffset, got {other:?}",
                if ahead { "ahead" } else { "behind" }
            ),
        }
        assert!(
            !l.locked().unwrap(),
            "a TimeOffset acquire must not take the lock"
        );
        // The bad measurement is not cached as good: it fails again.
        assert!(matches!(
            l.acquire(nonblocking()),
            Err(Error::TimeOffset { .. })
        ));
        // A larger maxoffset accepts the same clock.
        let lenient = MongoLocker::new(
            "res",
            &db,
            LockerOptions {
                maxoffset: 3.0,
                ttl: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .unwrap();
        lenient.acquire(nonblocking()).unwrap();
        lenient.release(false).unwrap();
        // timeparanoid=false skips the check.
        let careless = MongoLocker::new(
            "res",
            &db,
            LockerOptions {
                timeparanoid: false,
                ttl: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .unwrap();
        careless.acquire(nonblocking()).unwrap();
        careless.release(false).unwrap();
    }
}

#[test]
fn clock_check_accepts_an_offset_within_maxoffset() {
    let c = with_offset(Duration::from_millis(200), true);
    let db = c.database(&db_name("clockok")).unwrap();
    let l = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    l.acquire(AcquireOptions::default()).unwrap();
    assert!(l.owned().unwrap());
    // The lock's times come from the injected clock.
    let cur = l.get_current().unwrap().unwrap();
    let expected = SystemTime::now() + Duration::from_millis(200) + Duration::from_secs(30);
    assert!(
        near(cur.ts_expire, expected, SLACK),
        "{:?} vs {expected:?}",
        cur.ts_expire
    );
    l.release(false).unwrap();
}

#[test]
fn huge_ttl_and_timeout_are_accepted() {
    let (_c, db) = fresh_db("huge");
    let l = MongoLocker::new("k", &db, opts(Duration::from_secs(999 * 365 * 86_400))).unwrap();
    l.acquire(AcquireOptions {
        timeout: Some(Duration::MAX),
        ..Default::default()
    })
    .expect("a timeout beyond any deadline means no deadline");
    assert!(l.owned().unwrap());
    assert!(l.ts_expire().unwrap() > SystemTime::now() + Duration::from_secs(900 * 365 * 86_400));
}

#[test]
fn a_nonblocking_acquire_with_a_timeout_is_one_bounded_attempt() {
    let (_c, db) = fresh_db("try");
    let a = MongoLocker::new("k", &db, opts(Duration::from_secs(30))).unwrap();
    let b = MongoLocker::new("k", &db, opts(Duration::from_secs(30))).unwrap();
    a.acquire(once(false, Duration::from_secs(5)))
        .expect("a free lock");
    assert!(a.owned().unwrap() && a.fence() > 0);
    let t = Instant::now();
    let r = b.acquire(once(false, Duration::from_secs(5)));
    assert!(matches!(r, Err(Error::LockExists { .. })), "{r:?}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "one attempt, no waiting"
    );
    let fence = a.fence();
    b.acquire(once(true, Duration::from_secs(5)))
        .expect("force takes it from a live holder");
    assert!(b.owned().unwrap() && !a.owned().unwrap() && b.fence() > fence);
}

#[test]
fn error_messages_cut_long_keys() {
    let (_c, db) = fresh_db("longkey");
    let key = "k".repeat(1 << 20);
    let a = MongoLocker::new(&key, &db, opts(Duration::from_secs(30))).unwrap();
    let b = MongoLocker::new(&key, &db, opts(Duration::from_secs(30))).unwrap();
    a.acquire(nonblocking()).unwrap();
    let msg = b.acquire(nonblocking()).unwrap_err().to_string();
    assert!(
        msg.len() < 1000 && msg.contains("(1048576 bytes)"),
        "{} bytes: {}",
        msg.len(),
        &msg[..msg.len().min(300)]
    );
}

/// A locker (ttl 5 s) on a local port where nothing listens; `query` is
/// appended to the URI's options.
fn unreachable_locker(query: &str) -> MongoLocker {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(&format!(
        "mongodb://127.0.0.1:{port}/?directConnection=true{query}"
    ))
    .unwrap();
    let db = c.database("nowhere").unwrap();
    MongoLocker::new("res", &db, opts(Duration::from_secs(5))).unwrap()
}

#[test]
fn unreachable_server_with_default_selection_timeout_is_bounded_by_our_limits() {
    // serverSelectionTimeoutMS stays at its 30 s default: our own limits must cut
    // every call short, the first one's index creation included.
    let l = unreachable_locker("");
    let t = Instant::now();
    let r = l.acquire(once(false, Duration::from_secs(1)));
    assert!(matches!(r, Err(Error::AcquireTimeout(_))), "{r:?}");
    assert_within(t, Duration::from_secs(1) + SLACK);
    let t = Instant::now();
    let r = l.acquire(fast(Some(Duration::from_secs(1))));
    assert!(matches!(r, Err(Error::AcquireTimeout(_))), "{r:?}");
    assert_within(t, Duration::from_secs(1) + SLACK);
    // Without a deadline, one call is bounded by the op limit (5 s for this ttl)
    // once, not once for the index and again for the read.
    let t = Instant::now();
    assert!(matches!(l.locked(), Err(Error::Database(_))));
    assert_within(t, Duration::from_secs(5) + SLACK);
}

#[test]
fn unreachable_server_gives_a_database_error_in_bounded_time() {
    let l = unreachable_locker("&serverSelectionTimeoutMS=300");
    let t = Instant::now();
    assert!(matches!(l.locked(), Err(Error::Database(_))));
    let r = l.acquire(AcquireOptions {
        timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    });
    assert!(
        matches!(r, Err(Error::Database(_)) | Err(Error::AcquireTimeout(_))),
        "{r:?}"
    );
    assert_within(t, Duration::from_secs(8));
    assert!(matches!(
        l.touch(),
        Err(Error::NotOwned(_)) | Err(Error::Database(_))
    ));
}

/// Old generations are collected once a generation of ours above them is
/// older than the grace period (5 s at the default maxoffset); the first
/// generation and the head never.
#[test]
fn old_generations_are_collected_after_the_grace_period() {
    let (_c, db) = fresh_db("collect");
    let a = MongoLocker::new("res", &db, opts(Duration::from_secs(60))).unwrap();
    let pairs = |n| {
        for _ in 0..n {
            a.acquire(nonblocking()).unwrap();
            a.release(false).unwrap();
        }
    };
    let raw = Raw::new(db.name());
    let gens = || -> Vec<i64> {
        let mut g: Vec<i64> = raw
            .find("mongolocker", doc! {"key": "res"})
            .iter()
            .map(|d| d.get_i64("gen").unwrap())
            .collect();
        g.sort_unstable();
        g
    };
    // 80 generations in well under the grace period (a few ms each).
    pairs(40);
    assert_eq!(
        gens().len(),
        80,
        "nothing is collected within the grace period"
    );
    std::thread::sleep(Duration::from_secs(6));
    // The next win starts a collection below the newest of ours older than
    // 5 s: generation 80, our last release.
    pairs(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while gens().len() > 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        gens(),
        [1, 80, 81, 82],
        "everything below our newest generation older than the grace is collected but the \
         first (it tells a key never written) and the head"
    );
    // A new locker (no start to read forward from) finds the head past the gap.
    let b = MongoLocker::new("res", &db, opts(Duration::from_secs(60))).unwrap();
    b.acquire(nonblocking()).unwrap();
    assert_eq!(b.fence(), 83, "generations continue after collection");
}

/// A waiting acquire, cancelled from another thread, returns `Cancelled`
/// within milliseconds and leaves the holder's lock alone.
#[test]
fn cancelling_a_waiting_acquire_returns_at_once_and_leaves_the_lock() {
    let (_c, db) = fresh_db("cancelwait");
    let a = MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap();
    let b = Arc::new(MongoLocker::new("res", &db, opts(Duration::from_secs(30))).unwrap());
    a.acquire(AcquireOptions::default()).unwrap();
    let token = CancelToken::new();
    let (b2, t2) = (b.clone(), token.clone());
    let waiter = std::thread::spawn(move || {
        let r = b2.acquire(AcquireOptions {
            step: Duration::from_secs(10),
            cancel: Some(t2),
            ..Default::default()
        });
        (r, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    let cancelled_at = Instant::now();
    token.cancel();
    let (r, returned_at) = waiter.join().unwrap();
    assert_eq!(r, Err(Error::Cancelled));
    let lag = returned_at.duration_since(cancelled_at);
    assert!(
        lag < Duration::from_millis(50),
        "returned {lag:?} after cancel"
    );
    assert!(a.owned().unwrap(), "the holder keeps the lock");
    assert!(!b.owned().unwrap());
    let again = b.acquire(AcquireOptions {
        cancel: Some(token),
        ..Default::default()
    });
    assert_eq!(
        again,
        Err(Error::Cancelled),
        "a cancelled token stops the call before it starts"
    );
}

/// A cancelled round trip (not only a retry sleep): the token cuts a read
/// short on a server that never answers.
#[test]
fn cancelling_cuts_a_round_trip_short() {
    let l = unreachable_locker("");
    let token = CancelToken::new();
    let t2 = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        t2.cancel();
    });
    let t = Instant::now();
    assert_eq!(l.locked_with(Some(&token)), Err(Error::Cancelled));
    assert_within(t, Duration::from_millis(300) + SLACK);
}

/// `abandon` (what the C ABI's free does) never releases a holding: it lasts
/// until its ttl.
#[test]
fn abandon_keeps_the_lock_until_its_ttl() {
    let (_c, db) = fresh_db("abandon");
    let ttl = Duration::from_secs(2);
    let a = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    let b = MongoLocker::new("res", &db, opts(ttl)).unwrap();
    a.acquire(AcquireOptions::default()).unwrap();
    let uuid = a.uuid().to_owned();
    a.abandon();
    drop(a);
    let cur = b
        .get_current()
        .unwrap()
        .expect("still held after abandon and drop");
    assert_eq!(cur.uuid, uuid);
    std::thread::sleep(ttl + Duration::from_millis(200));
    assert!(!b.locked().unwrap(), "the lease ends by its ttl");
}

/// A wall clock the test can step, as NTP or `date` would.
struct SteppedClock(std::sync::atomic::AtomicI64);

impl Clock for SteppedClock {
    fn now(&self) -> SystemTime {
        let ms = self.0.load(std::sync::atomic::Ordering::SeqCst);
        if ms >= 0 {
            SystemTime::now() + Duration::from_millis(ms as u64)
        } else {
            SystemTime::now() - Duration::from_millis(ms.unsigned_abs())
        }
    }
}

/// A clock that steps after a good check must not take over a lock another
/// process still holds: the cached check is void once wall and monotonic
/// time disagree, and the next acquire measures again (issue 14).
#[test]
fn a_clock_step_after_a_good_check_is_noticed_at_once() {
    let name = db_name("clockstep");
    let step = Arc::new(SteppedClock(std::sync::atomic::AtomicI64::new(0)));
    let c = Client::with_clock(&uri(), step.clone()).unwrap();
    let db = c.database(&name).unwrap();
    let other = client();
    let odb = other.database(&name).unwrap();
    let holder = MongoLocker::new("res", &odb, opts(Duration::from_secs(5))).unwrap();
    let stepped = MongoLocker::new("res", &db, opts(Duration::from_secs(5))).unwrap();
    // A good check, cached for ten minutes.
    stepped.acquire(nonblocking()).unwrap();
    stepped.release(false).unwrap();
    holder.acquire(nonblocking()).unwrap();
    step.0.store(6_000, std::sync::atomic::Ordering::SeqCst);
    // By the stepped clock the holder's lease (5 s) has ended: only the
    // check stands between this locker and a second holder.
    match stepped.acquire(nonblocking()) {
        Err(Error::TimeOffset { offset, .. }) => assert!(offset > 5.0, "offset {offset}"),
        other => panic!("a stepped clock took over a live lock: {other:?}"),
    }
    assert!(holder.owned().unwrap());
}
