//! Many threads share one locker and one elector: every call gives an allowed
//! result, nothing deadlocks, leadership intervals never overlap, and the
//! handles still work afterwards. `tests/sanitizers/tsan.sh` runs this binary
//! under ThreadSanitizer.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use mongoelector::{AcquireOptions, Error, LockerOptions, MongoLeaderElector, MongoLocker};

const THREADS: usize = 8;
const ROUNDS: usize = 12;

/// Runs `work(thread, round)` on THREADS threads; returns the evidence of every
/// call that failed the check (empty when all passed).
fn hammer(
    work: impl Fn(usize, usize) -> Result<(), String> + Send + Sync + 'static,
) -> Vec<String> {
    let work = Arc::new(work);
    let bad = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (work, bad) = (work.clone(), bad.clone());
            std::thread::spawn(move || {
                for r in 0..ROUNDS {
                    if let Err(e) = work(t, r) {
                        bad.lock()
                            .unwrap()
                            .push(format!("thread {t} round {r}: {e}"));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a sharing thread panicked");
    }
    let out = bad.lock().unwrap().clone();
    out
}

fn allowed<T>(what: &str, r: Result<T, Error>, ok: impl Fn(&Error) -> bool) -> Result<(), String> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if ok(&e) => Ok(()),
        Err(e) => Err(format!("{what} -> {e:?}")),
    }
}

#[test]
fn threads_share_one_locker() {
    let (_c, db) = fresh_db("share_locker");
    let opts = LockerOptions {
        ttl: Duration::from_secs(30),
        ..Default::default()
    };
    let l = Arc::new(MongoLocker::new("shared", &db, opts).expect("MongoLocker::new"));
    let lk = l.clone();
    let t0 = Instant::now();
    let bad = hammer(move |t, r| match (t + r) % 5 {
        // Every thread uses the same handle, so acquiring while held renews.
        0 => allowed(
            "acquire",
            lk.acquire(AcquireOptions {
                blocking: true,
                timeout: Some(Duration::from_secs(20)),
                step: Duration::from_millis(10),
                ..Default::default()
            }),
            |_| false,
        ),
        1 => allowed("touch", lk.touch(), |e| matches!(e, Error::NotOwned(_))),
        2 => allowed("release", lk.release(false), |_| false),
        3 => {
            allowed("locked", lk.locked(), |_| false)?;
            allowed("owned", lk.owned(), |_| false)?;
            allowed("get_current", lk.get_current(), |_| false)?;
            allowed("status", lk.status(), |_| false)
        }
        _ => {
            let (key, fence, _) = (lk.key(), lk.fence(), lk.ts_expire());
            if key != "shared" || fence < 0 {
                return Err(format!("getters changed: key {key:?} fence {fence}"));
            }
            Ok(())
        }
    });
    assert!(bad.is_empty(), "calls on a shared locker failed: {bad:#?}");
    eprintln!(
        "{THREADS} threads x {ROUNDS} rounds on one locker: {:?}",
        t0.elapsed()
    );
    l.acquire(AcquireOptions {
        blocking: false,
        ..Default::default()
    })
    .expect("the shared handle still acquires");
    assert!(
        l.owned().unwrap(),
        "the shared handle owns the lock afterwards"
    );
    l.release(false).unwrap();
}

#[test]
fn threads_share_one_elector() {
    let (_c, db) = fresh_db("share_elector");
    let ttl = Duration::from_secs(1);
    let (ev, rival_ev) = (Events::default(), Events::default());
    let shared = Arc::new(MongoLeaderElector::new("svc", &db, ev.options(ttl)).expect("elector"));
    // A rival on the same key keeps the lock contended while the threads work.
    let rival = MongoLeaderElector::new("svc", &db, rival_ev.options(ttl)).expect("rival");
    rival.start(false).expect("rival starts");
    let e = shared.clone();
    let stop_hammering = Arc::new(AtomicBool::new(false));
    let busy = stop_hammering.clone();
    let t0 = Instant::now();
    let bad = hammer(move |t, r| {
        if busy.load(Ordering::SeqCst) {
            return Ok(());
        }
        let state = |e: &Error| matches!(e, Error::InvalidState(_));
        let res = match (t + r) % 6 {
            // Starting a running elector is refused; any other error is not allowed.
            0 => allowed("start", e.start(false), state),
            1 => allowed("stop", e.stop(), |_| false),
            2 => allowed("poll", e.poll(), |_| false),
            3 => allowed("release", e.release(), |_| false),
            4 => {
                let _ = (e.is_leader(), e.running(), e.poll_wait(), e.mlock().fence());
                allowed("leader_exists", e.leader_exists(), |_| false)
            }
            _ => {
                allowed("node_status", e.node_status(), |_| false)?;
                allowed("cluster_detail", e.cluster_detail(), |_| false)
            }
        };
        std::thread::sleep(Duration::from_millis(20));
        res
    });
    stop_hammering.store(true, Ordering::SeqCst);
    assert!(bad.is_empty(), "calls on a shared elector failed: {bad:#?}");
    eprintln!(
        "{THREADS} threads x {ROUNDS} rounds on one elector: {:?}",
        t0.elapsed()
    );

    // The handle still works: stopped, it leads once started alone.
    shared.stop().expect("stop");
    rival.stop().expect("rival stops");
    assert!(!shared.running() && !shared.is_leader());
    shared.start(false).expect("start again");
    assert!(
        wait_until(Duration::from_secs(10), || shared.is_leader()),
        "the shared elector leads again after the hammering"
    );
    shared.stop().expect("final stop");

    // Each elector's callbacks alternate, and the two never led at once.
    let (mine, theirs) = (ev.all(), rival_ev.all());
    assert_alternating(&ev.transitions());
    assert_alternating(&rival_ev.transitions());
    let intervals = |log: &[(&str, u64)], who: &str| -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        let mut start = None;
        for (what, at) in log {
            match (*what, start) {
                ("leader", None) => start = Some(*at),
                ("loss", Some(s)) => {
                    out.push((who.to_owned(), s, *at));
                    start = None;
                }
                _ => {}
            }
        }
        out
    };
    let mut all = intervals(&mine, "shared");
    all.extend(intervals(&theirs, "rival"));
    all.sort_by_key(|i| i.1);
    for w in all.windows(2) {
        assert!(
            w[0].2 <= w[1].1,
            "two leaders at once: {:?} and {:?}",
            w[0],
            w[1]
        );
    }
}

/// 64 threads looping acquire + release on one locker, and one more thread on
/// another key through the same client: on a healthy server every call
/// succeeds (the threads queue for their turns in order; none times out, with
/// a generous 30 s), every thread gets turns, and the other key is served
/// throughout. Its speed is `make bench`'s (row 14).
#[test]
fn sixty_four_threads_share_one_locker_without_timeouts() {
    const MANY: usize = 64;
    let (_c, db) = fresh_db("share_64");
    let opts = || LockerOptions {
        ttl: Duration::from_secs(30),
        ..Default::default()
    };
    let shared = Arc::new(MongoLocker::new("shared", &db, opts()).expect("MongoLocker::new"));
    let other = MongoLocker::new("other", &db, opts()).expect("MongoLocker::new");
    let waiting = AcquireOptions {
        blocking: true,
        timeout: Some(Duration::from_secs(30)),
        step: Duration::from_millis(10),
        ..Default::default()
    };
    let end = Instant::now() + Duration::from_secs(4);
    let threads: Vec<_> = (0..MANY)
        .map(|_| {
            let (l, w) = (shared.clone(), waiting.clone());
            std::thread::spawn(move || -> Result<usize, String> {
                let mut turns = 0;
                while Instant::now() < end || turns == 0 {
                    l.acquire(w.clone())
                        .map_err(|e| format!("acquire: {e:?}"))?;
                    l.release(false).map_err(|e| format!("release: {e:?}"))?;
                    turns += 1;
                }
                Ok(turns)
            })
        })
        .collect();
    let mut other_turns = 0;
    while Instant::now() < end {
        other
            .acquire(waiting.clone())
            .expect("the other key's acquire");
        other.release(false).expect("the other key's release");
        other_turns += 1;
    }
    let turns: Vec<usize> = threads
        .into_iter()
        .map(|t| t.join().expect("a sharing thread panicked"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("a call on the shared locker failed: {e}"));
    eprintln!(
        "{MANY} threads on one locker: {} acquisitions (fewest per thread {}); other key {other_turns}",
        turns.iter().sum::<usize>(),
        turns.iter().min().unwrap()
    );
    assert!(other_turns > 0, "the other key was served");
}
