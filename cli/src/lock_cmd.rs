//! `mongoelector lock KEY -- CMD`: acquire the lock, run CMD while the lease
//! renews itself in the background, release when CMD exits; if the lock is
//! lost meanwhile, stop CMD and say so in the exit status.

use std::sync::mpsc::{self, Receiver};

use mongoelector::core::lease::Ended;
use mongoelector::{AcquireOptions, CancelToken, Error, LockerOptions, MongoLocker};

use crate::args::{Cli, LockArgs};
use crate::exit::{self, Failure};
use crate::run_child::{self, Event};
use crate::signals;

pub fn run(cli: &Cli, a: &LockArgs) -> Result<u8, Failure> {
    signals::block();
    let (tx, rx) = mpsc::channel();
    let interrupted = CancelToken::new();
    signals::listen(tx.clone(), interrupted.clone());
    let db = cli.database()?;
    let lock = MongoLocker::new(
        &a.key,
        &db,
        LockerOptions {
            dbcollection: a.collection.clone(),
            ttl: a.ttl,
            // A short lease needs a tighter clock bound, or the bound eats it
            // (the lease we count is ttl - 2 x maxoffset), as for electors.
            maxoffset: (a.ttl.as_secs_f64() / 10.0).min(0.5),
            auto_renew: true,
            ..Default::default()
        },
    )?;
    let acquired = lock.acquire(AcquireOptions {
        blocking: !a.no_wait,
        timeout: a.timeout,
        cancel: Some(interrupted),
        ..Default::default()
    });
    match acquired {
        Ok(()) => {}
        Err(Error::Cancelled) => {
            // Closing releases whatever the cut-short acquire may have written.
            release(&lock);
            return Ok(signalled(&rx));
        }
        // Dropping the locker releases what a failed attempt may have written.
        Err(e) => return Err(e.into()),
    }
    let lease = lock
        .lease()
        .ok_or_else(|| Failure::new(exit::INTERNAL, "acquired, but no lease"))?;
    run_child::watch(lease.clone(), tx.clone());
    let env = [
        ("MONGOELECTOR_KEY", a.key.clone()),
        ("MONGOELECTOR_FENCE", lease.fence().to_string()),
    ];
    let mut child = run_child::spawn(&a.child.cmd, &env, tx)?;
    let status = loop {
        match rx.recv_timeout(child.wait_limit()) {
            Ok(Event::Signal(sig)) => child.signal(sig),
            Ok(Event::Lost(l)) if !child.stopping() => {
                let why = match l.ended() {
                    Some(Ended::Taken) => "another process took it over",
                    _ => "no renewal succeeded before its lease ran out",
                };
                eprintln!(
                    "mongoelector: lost the lock {:?} (fence {}): {why}; stopping CMD",
                    a.key,
                    l.fence()
                );
                child.stop(a.child.grace);
            }
            Ok(Event::Exited(st)) => break st,
            _ => child.tick(),
        }
    };
    if child.stopping() {
        // The holding has ended: nothing to release, and the server may be unreachable.
        lock.abandon();
        return Ok(exit::LOST);
    }
    release(&lock);
    Ok(exit::of_child(status))
}

/// Releases the lock; a failure only delays the next holder by the ttl.
fn release(lock: &MongoLocker) {
    if let Err(e) = lock.close() {
        eprintln!(
            "mongoelector: releasing {:?}: {e} (it expires by its ttl)",
            lock.key()
        );
    }
}

/// 128 + the signal that cancelled the acquire (the listener sends it right after).
fn signalled(rx: &Receiver<Event>) -> u8 {
    while let Ok(ev) = rx.recv() {
        if let Event::Signal(sig) = ev {
            return 128u8.wrapping_add(sig as u8);
        }
    }
    exit::INTERNAL
}
