//! `mongoelector elect GROUP -- CMD`: campaign; run CMD during each term of
//! leadership and stop it when the term ends, until a signal (or, with
//! `--once`, the first term's end). CMD exiting on its own ends the command.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use mongoelector::{AcquireOptions, CancelToken, ElectorOptions, MongoLeaderElector};

use crate::args::{Cli, ElectArgs};
use crate::exit::{self, Failure};
use crate::run_child::{self, Child, Event};
use crate::signals;

pub fn run(cli: &Cli, a: &ElectArgs) -> Result<u8, Failure> {
    signals::block();
    let (tx, rx) = mpsc::channel();
    signals::listen(tx.clone(), CancelToken::new());
    let db = cli.database()?;
    let leader = tx.clone();
    let elector = MongoLeaderElector::new(
        &a.group,
        &db,
        ElectorOptions {
            ttl: a.ttl,
            app_version: a.app_version.clone(),
            on_leader: Some(Arc::new(move || {
                let _ = leader.send(Event::Leader);
            })),
            ..Default::default()
        },
    )?;
    // Fail now on an unreachable server or a clock too far off; once it
    // runs, the elector rides out outages (it steps down and keeps trying).
    elector.mlock().verify_time(&AcquireOptions::default())?;
    elector.start(false)?;
    // CMD and the fence of the term it runs for.
    let mut running: Option<(Child, i64)> = None;
    // A term began that has no CMD yet (the last one may still be stopping).
    let mut pending = false;
    // A signal we forwarded: CMD's exit then ends the command.
    let mut interrupted = false;
    let code = loop {
        let limit = running.as_ref().map(|(c, _)| c.wait_limit());
        let ev = rx.recv_timeout(limit.unwrap_or(Duration::from_secs(3600)));
        match (ev, running.as_mut()) {
            (Ok(Event::Leader), _) => pending = true,
            (Ok(Event::Signal(sig)), Some((child, _))) => {
                interrupted = true;
                child.signal(sig);
            }
            (Ok(Event::Signal(sig)), None) => break 128u8.wrapping_add(sig as u8),
            (Ok(Event::Lost(term)), Some((child, fence)))
                if term.fence() == *fence && !child.stopping() =>
            {
                eprintln!(
                    "mongoelector: the term (fence {fence}) of {:?} ended; stopping CMD",
                    a.group
                );
                child.stop(a.child.grace);
            }
            (Ok(Event::Exited(st)), Some((child, _))) => {
                let stopped = child.stopping();
                running = None;
                if interrupted || !stopped {
                    break exit::of_child(st);
                }
                if a.once {
                    break exit::LOST;
                }
            }
            (_, Some((child, _))) => child.tick(),
            _ => {}
        }
        if pending && running.is_none() && !interrupted {
            pending = false;
            // None when the term ended before we got here: the next one says Leader again.
            if let Some(term) = elector.term() {
                let fence = term.fence();
                run_child::watch(term, tx.clone());
                let env = [
                    ("MONGOELECTOR_KEY", a.group.clone()),
                    ("MONGOELECTOR_FENCE", fence.to_string()),
                ];
                running = Some((run_child::spawn(&a.child.cmd, &env, tx.clone())?, fence));
            }
        }
    };
    // Stopping releases leadership, so another member takes over at its next poll.
    if let Err(e) = elector.stop() {
        eprintln!(
            "mongoelector: releasing the leadership of {:?}: {e} (it ends by its ttl)",
            a.group
        );
    }
    Ok(code)
}
