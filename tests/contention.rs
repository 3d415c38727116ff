//! Many lockers on one key, in threads and in processes: never two holders at
//! once, fencing tokens strictly increasing in hold order, exactly one winner
//! per generation.

mod common;

use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use mongodb::bson::doc;
use mongoelector::{AcquireOptions, Client, Error, LockerOptions, MongoLocker};

fn locker(db: &mongoelector::Database, key: &str, ttl: Duration) -> MongoLocker {
    MongoLocker::new(
        key,
        db,
        LockerOptions {
            ttl,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Threads (some sharing a client, some with their own) take turns on one key.
fn threads_take_turns(threads: usize, iterations: usize) {
    let (shared, db) = fresh_db("threads");
    let holds = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = if t % 2 == 0 {
                db.clone()
            } else {
                client().database(db.name()).unwrap()
            };
            let _keep = shared.clone();
            let holds = holds.clone();
            std::thread::spawn(move || {
                let l = locker(&db, "res", Duration::from_secs(10));
                for _ in 0..iterations {
                    l.acquire(AcquireOptions {
                        step: Duration::from_millis(20),
                        timeout: Some(Duration::from_secs(60)),
                        ..Default::default()
                    })
                    .expect("acquire");
                    let start = mono_ns();
                    let fence = l.fence();
                    std::thread::sleep(Duration::from_millis(3));
                    let end = mono_ns();
                    assert!(
                        l.release(false).expect("release"),
                        "release of a held lock returned false"
                    );
                    holds.lock().unwrap().push(Hold {
                        who: format!("thread {t}"),
                        fence,
                        start,
                        end,
                    });
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("contender thread");
    }
    let holds = holds.lock().unwrap().clone();
    assert_eq!(holds.len(), threads * iterations);
    assert_exclusive(&holds);
}

#[test]
fn threads_never_hold_at_once() {
    threads_take_turns(8, 5);
}

#[test]
#[ignore = "long: run by `make soak`"]
fn threads_never_hold_at_once_soak() {
    threads_take_turns(16, 40);
}

/// Several contender processes (the rust_contender example) and threads of
/// this process on one key.
fn processes_take_turns(procs: usize, iterations: usize) {
    let exe = example("rust_contender");
    let name = db_name("procs");
    let dir = std::env::temp_dir().join(format!("me-contention-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let logfile = dir.join("holds.log");
    let mut children: Vec<Child> = (0..procs)
        .map(|_| {
            Child(
                Command::new(&exe)
                    .args([
                        &uri(),
                        &name,
                        "res",
                        &iterations.to_string(),
                        "10",
                        logfile.to_str().unwrap(),
                    ])
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("spawn rust_contender"),
            )
        })
        .collect();
    // Two threads of this process join the contest.
    let mine = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let name = name.clone();
            let mine = mine.clone();
            std::thread::spawn(move || {
                let db = client().database(&name).unwrap();
                let l = locker(&db, "res", Duration::from_secs(10));
                for _ in 0..iterations {
                    l.acquire(AcquireOptions {
                        timeout: Some(Duration::from_secs(120)),
                        ..Default::default()
                    })
                    .expect("acquire");
                    let start = mono_ns();
                    let fence = l.fence();
                    std::thread::sleep(Duration::from_millis(10));
                    let end = mono_ns();
                    l.release(false).expect("release");
                    mine.lock().unwrap().push(Hold {
                        who: format!("test-thread {t}"),
                        fence,
                        start,
                        end,
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("contender thread");
    }
    for c in children.iter_mut() {
        let st = c
            .wait_for(Duration::from_secs(120))
            .expect("rust_contender did not finish");
        assert!(st.success(), "rust_contender failed: {st}");
    }
    let text = std::fs::read_to_string(&logfile).unwrap();
    let mut holds = parse_holds(&text);
    assert_eq!(holds.len(), procs * iterations, "log:\n{text}");
    for c in &children {
        let who = format!("rust {}", c.pid());
        assert_eq!(
            holds.iter().filter(|h| h.who == who).count(),
            iterations,
            "lines of {who}"
        );
    }
    holds.extend(mine.lock().unwrap().iter().cloned());
    assert_exclusive(&holds);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn processes_never_hold_at_once() {
    processes_take_turns(3, 6);
}

#[test]
#[ignore = "long: run by `make soak`"]
fn processes_never_hold_at_once_soak() {
    processes_take_turns(6, 30);
}

/// Many threads race for a free (or just expired) lock: exactly one wins each
/// round, the losers get LockExists, and no loser's write lands (the number of
/// generations is exactly the number of winning transitions).
#[test]
fn exactly_one_winner_per_generation() {
    let n = 12;
    let rounds = 6;
    let ttl = Duration::from_millis(800);
    let (_c, db) = fresh_db("race");
    let lockers: Vec<Arc<MongoLocker>> = (0..n)
        .map(|i| {
            let db = if i % 3 == 0 {
                client().database(db.name()).unwrap()
            } else {
                db.clone()
            };
            Arc::new(locker(&db, "res", ttl))
        })
        .collect();
    let mut last_fence = 0;
    let mut transitions = 0;
    for round in 0..rounds {
        let start = Arc::new(Barrier::new(n));
        let results: Vec<_> = lockers
            .iter()
            .map(|l| {
                let (l, start) = (l.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    l.acquire(AcquireOptions {
                        blocking: false,
                        ..Default::default()
                    })
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: winners {winners:?}, results {results:?}"
        );
        for (i, r) in results.iter().enumerate() {
            if i != winners[0] {
                assert!(
                    matches!(r, Err(Error::LockExists { .. })),
                    "round {round} loser {i}: {r:?}"
                );
            }
        }
        let w = &lockers[winners[0]];
        transitions += 1;
        assert!(
            w.fence() > last_fence,
            "round {round}: fence {} after {last_fence}",
            w.fence()
        );
        last_fence = w.fence();
        assert_eq!(w.get_current().unwrap().unwrap().uuid, w.uuid());
        if round % 2 == 0 {
            assert!(w.release(false).unwrap());
            transitions += 1;
        } else {
            // Abandon it: the next round races for an expired lock.
            let exp = w.ts_expire().unwrap();
            if let Ok(left) = exp.duration_since(SystemTime::now()) {
                std::thread::sleep(left + Duration::from_millis(50));
            }
            assert!(!w.locked().unwrap());
        }
    }
    let raw = Raw::new(db.name());
    let gens: Vec<i64> = raw
        .find("mongolocker", doc! {"key": "res"})
        .iter()
        .map(|d| d.get_i64("gen").unwrap())
        .collect();
    assert_eq!(
        gens.iter().max().copied(),
        Some(transitions),
        "generations {gens:?}"
    );
    assert_eq!(gens.len() as i64, transitions, "generations {gens:?}");
}

fn wall_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// Short ttl and holders that die without releasing: each takeover happens
/// only after the dead holder's lease ended, holds never overlap, fences rise.
/// (Wall-clock intervals here: a dead holder's hold ends at its ts_expire.)
fn takeovers(threads: usize, iterations: usize) {
    let ttl = Duration::from_millis(600);
    let (_c, db) = fresh_db("takeover");
    let holds = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = db.clone();
            let holds = holds.clone();
            std::thread::spawn(move || {
                let mut graveyard = Vec::new(); // dead holders are never dropped (drop releases)
                let mut l = locker(&db, "res", ttl);
                for i in 0..iterations {
                    l.acquire(AcquireOptions {
                        step: Duration::from_millis(20),
                        timeout: Some(Duration::from_secs(60)),
                        ..Default::default()
                    })
                    .expect("acquire");
                    let start = wall_ns(SystemTime::now());
                    let fence = l.fence();
                    if (i + t) % 3 == 0 {
                        let end = wall_ns(l.ts_expire().unwrap());
                        holds.lock().unwrap().push(Hold {
                            who: format!("thread {t} dead {i}"),
                            fence,
                            start,
                            end,
                        });
                        graveyard.push(std::mem::replace(&mut l, locker(&db, "res", ttl)));
                    } else {
                        std::thread::sleep(Duration::from_millis(3));
                        let end = wall_ns(SystemTime::now());
                        assert!(l.release(false).expect("release"));
                        holds.lock().unwrap().push(Hold {
                            who: format!("thread {t} {i}"),
                            fence,
                            start,
                            end,
                        });
                    }
                }
                // Now that everyone is done, a dead holder's release changes nothing.
                graveyard
            })
        })
        .collect();
    let graveyards: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let holds = holds.lock().unwrap().clone();
    assert_eq!(holds.len(), threads * iterations);
    assert_exclusive(&holds);
    // A new holder takes the lock; then no dead holder's late release touches it.
    let probe = locker(&db, "res", Duration::from_secs(30));
    probe.acquire(AcquireOptions::default()).unwrap();
    let head_before = probe.get_current().unwrap().expect("probe holds it");
    for g in graveyards.iter().flatten() {
        assert!(
            !g.release(false).unwrap(),
            "a dead holder's late release released something"
        );
    }
    assert_eq!(probe.get_current().unwrap(), Some(head_before));
    assert!(probe.owned().unwrap());
}

#[test]
fn takeovers_of_dead_holders_never_overlap() {
    takeovers(5, 6);
}

#[test]
#[ignore = "long: run by `make soak`"]
fn takeovers_of_dead_holders_never_overlap_soak() {
    takeovers(10, 30);
}

/// Blocking waiters with a timeout all either get the lock in turn or time
/// out; none returns a lock while another holds it.
#[test]
fn blocking_waiters_with_timeouts() {
    let (_c, db) = fresh_db("waiters");
    let n = 6;
    let busy = Arc::new(Mutex::new(0usize));
    let max_busy = Arc::new(Mutex::new(0usize));
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let db: mongoelector::Database =
                Client::new(&uri()).unwrap().database(db.name()).unwrap();
            let (busy, max_busy) = (busy.clone(), max_busy.clone());
            std::thread::spawn(move || {
                let l = locker(&db, "res", Duration::from_secs(10));
                let r = l.acquire(AcquireOptions {
                    timeout: Some(Duration::from_secs(20)),
                    step: Duration::from_millis(30),
                    ..Default::default()
                });
                if r.is_ok() {
                    {
                        let mut b = busy.lock().unwrap();
                        *b += 1;
                        let mut m = max_busy.lock().unwrap();
                        *m = (*m).max(*b);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    *busy.lock().unwrap() -= 1;
                    l.release(false).unwrap();
                }
                r
            })
        })
        .collect();
    for h in handles {
        let r = h.join().unwrap();
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(*max_busy.lock().unwrap(), 1, "two holders at once");
    assert!(start.elapsed() < Duration::from_secs(20));
}
