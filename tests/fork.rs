//! Processes that fork (issue 13): a child gets its own runtime and
//! connections, so new lockers and electors work there with every timeout
//! honoured; lockers inherited from the parent are refused, never the
//! parent's holding. One test per binary run: forking a test harness with
//! other tests' threads mid-call would inherit their locks.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mongoelector::{
    AcquireOptions, ElectorOptions, Error, LockerOptions, MongoLeaderElector, MongoLocker,
};

/// Runs `child` in a forked process bounded by an alarm; returns its exit code.
fn in_child(limit: Duration, child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child` and exits without unwinding.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain libc calls in the child.
        unsafe { libc::alarm(limit.as_secs() as u32 + 1) };
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: exit at once, without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if start.elapsed() > limit + Duration::from_secs(5) {
            // SAFETY: killing our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child hung past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        libc::WIFEXITED(status),
        "the child died by a signal: status {status}"
    );
    libc::WEXITSTATUS(status)
}

fn lopts() -> LockerOptions {
    LockerOptions {
        ttl: Duration::from_secs(30),
        ..Default::default()
    }
}

fn bounded(secs: u64) -> AcquireOptions {
    AcquireOptions {
        timeout: Some(Duration::from_secs(secs)),
        step: Duration::from_millis(50),
        ..Default::default()
    }
}

#[test]
fn a_forked_child_makes_its_own_lockers_and_electors_and_never_acts_for_the_parent() {
    let (client, db) = fresh_db("fork");
    // Use the library first, so the parent's runtime and pool exist.
    let warm = MongoLocker::new("warm", &db, lopts()).unwrap();
    warm.acquire(bounded(5)).unwrap();
    warm.release(false).unwrap();
    let held = MongoLocker::new("held", &db, lopts()).unwrap();
    held.acquire(bounded(5)).unwrap();
    let leading = MongoLeaderElector::new(
        "parent-group",
        &db,
        ElectorOptions {
            ttl: Duration::from_secs(10),
            ..Default::default()
        },
    )
    .unwrap();
    leading.start(false).unwrap();
    assert!(wait_until(Duration::from_secs(5), || leading.is_leader()));
    // The child drops its copy of the parent's locker; the parent keeps its own.
    let inherited = std::cell::RefCell::new(Some(held));

    let code = in_child(Duration::from_secs(20), || {
        // The inherited client works for new lockers, with timeouts honoured.
        let l = MongoLocker::new("child", &db, lopts()).unwrap();
        if l.acquire(bounded(5)).is_err() || !l.owned().unwrap_or(false) {
            return 2;
        }
        if l.release(false) != Ok(true) {
            return 3;
        }
        // A fresh client too.
        let c2 = mongoelector::Client::new(&uri()).unwrap();
        let db2 = c2.database(db.name()).unwrap();
        let e = MongoLeaderElector::new(
            "child-group",
            &db2,
            ElectorOptions {
                ttl: Duration::from_secs(2),
                ..Default::default()
            },
        )
        .unwrap();
        e.start(false).unwrap();
        if !wait_until(Duration::from_secs(5), || e.is_leader()) {
            return 4;
        }
        e.stop().unwrap();
        // The parent's locker is not ours: every call is refused, nothing released.
        let held = inherited.borrow_mut().take().unwrap();
        if held.held() || leading.is_leader() {
            return 8;
        }
        if !matches!(held.owned(), Err(Error::InvalidState(_))) {
            return 5;
        }
        if !matches!(held.release(true), Err(Error::InvalidState(_))) {
            return 6;
        }
        if !matches!(held.close(), Err(Error::InvalidState(_))) {
            return 7;
        }
        drop(held);
        0
    });
    assert_eq!(code, 0, "the child failed at step {code}");
    let held = inherited.into_inner().unwrap();
    // The parent's holding survived the child, and its lockers still work.
    assert!(
        held.owned().unwrap(),
        "the child released the parent's lock"
    );
    let _ = client;
    warm.acquire(bounded(5)).unwrap();
    assert!(warm.owned().unwrap());
    warm.release(false).unwrap();
    held.release(false).unwrap();
}
