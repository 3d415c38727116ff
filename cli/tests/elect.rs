//! `mongoelector elect` against the real server, spawning the real binary:
//! one CMD at a time among three members, failover after a SIGKILL, a prompt
//! handoff after a SIGTERM, `--once`, and a CMD that exits on its own.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);
const TTL: f64 = 2.0;

/// A CMD that records `start <id> <ns> <fence>`, and `stop <id> <ns>` on SIGTERM.
fn service(file: &Path, id: usize) -> String {
    let f = file.display();
    format!(
        "echo start {id} $(date +%s%N) $MONGOELECTOR_FENCE >> {f}; \
         trap 'echo stop {id} $(date +%s%N) >> {f}; exit 0' TERM; while :; do sleep 0.05 2>/dev/null; done"
    )
}

/// One run of CMD: which member, its term's fence, when it started and stopped.
#[derive(Debug)]
struct Run {
    id: usize,
    fence: i64,
    start: u128,
    stop: Option<u128>,
}

fn runs(file: &Path) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for l in lines(file) {
        let (id, t): (usize, u128) = (l[1].parse().unwrap(), l[2].parse().unwrap());
        if l[0] == "start" {
            let fence = l[3].parse().unwrap();
            out.push(Run {
                id,
                fence,
                start: t,
                stop: None,
            });
        } else {
            let run = out
                .iter_mut()
                .rev()
                .find(|r| r.id == id)
                .expect("stop before start");
            run.stop = Some(t);
        }
    }
    out
}

/// Exactly one CMD at a time (each run stopped before the next started),
/// and the terms' fences strictly increase.
#[track_caller]
fn assert_one_at_a_time(file: &Path) {
    let r = runs(file);
    for w in r.windows(2) {
        assert!(
            w[0].stop.is_some_and(|stop| stop <= w[1].start),
            "two CMDs at once: {r:?}"
        );
        assert!(w[0].fence < w[1].fence, "fences not increasing: {r:?}");
    }
}

fn member(uri: &str, db: &str, group: &str, cmd: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["elect", group, "--ttl", "2"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", cmd]);
    Proc::spawn(mongoelector(uri, db, &args))
}

#[test]
fn one_cmd_at_a_time_failover_after_sigkill_and_handoff_after_sigterm() {
    let (uri, db, dir) = (uri(), db_name("elect"), Scratch::new("elect"));
    let log = dir.file("runs");
    let mut members: Vec<Proc> = (0..3)
        .map(|id| member(&uri, &db, "g", &service(&log, id), &[]))
        .collect();
    assert!(wait_until(LIMIT, || runs(&log).len() == 1), "nobody led");
    std::thread::sleep(Duration::from_secs_f64(TTL)); // renewals: nobody else starts
    assert_eq!(runs(&log).len(), 1, "{:?}", runs(&log));

    // SIGKILL: its CMD is stopped at once (death signal), another starts about one ttl later.
    let first = runs(&log)[0].id;
    let killed = now_ns();
    members[first].signal(libc::SIGKILL);
    assert!(wait_until(LIMIT, || runs(&log).len() == 2), "no failover");
    let r = runs(&log);
    assert!(
        r[0].stop.is_some_and(|stop| stop - killed < 1_000_000_000),
        "the killed member's CMD ran on: {r:?}"
    );
    let failover = (r[1].start - killed) as f64 / 1e9;
    assert!(failover < 2.5 * TTL, "failover took {failover:.2} s");
    assert_one_at_a_time(&log);

    // SIGTERM: forwarded to CMD, leadership released, the last member leads promptly.
    let second = r[1].id;
    let termed = now_ns();
    members[second].signal(libc::SIGTERM);
    assert_eq!(
        members[second].code_within(LIMIT),
        0,
        "CMD's own status (its trap exits 0)"
    );
    assert!(wait_until(LIMIT, || runs(&log).len() == 3), "no handoff");
    let handoff = (runs(&log)[2].start - termed) as f64 / 1e9;
    assert!(handoff < TTL / 2.0, "handoff took {handoff:.2} s");
    assert_one_at_a_time(&log);

    // The last leader stops the same way.
    let last = runs(&log)[2].id;
    members[last].signal(libc::SIGTERM);
    assert_eq!(members[last].code_within(LIMIT), 0);
}

#[test]
fn once_exits_lost_after_the_first_term_and_a_cmd_that_exits_ends_it() {
    let (uri, db, dir) = (uri(), db_name("once"), Scratch::new("once"));
    let log = dir.file("runs");
    let mut m = member(
        &uri,
        &db,
        "g",
        &service(&log, 0),
        &["--once", "--grace", "1"],
    );
    assert!(wait_until(LIMIT, || runs(&log).len() == 1), "never led");
    // An operator ends the term: the renewal finds the lock gone.
    let out = run(
        mongoelector(
            &uri,
            &db,
            &["release", "--force", "--collection", "elector.locks", "g"],
        ),
        LIMIT,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("pid {}", m.pid())),
        "{}",
        out.stdout
    );
    assert_eq!(m.code_within(Duration::from_secs(10)), 125, "lost");
    let r = runs(&log);
    assert!(r.len() == 1 && r[0].stop.is_some(), "{r:?}");

    let out = run(
        mongoelector(
            &uri,
            &db,
            &["elect", "g2", "--ttl", "2", "--", "sh", "-c", "exit 5"],
        ),
        LIMIT,
    );
    assert_eq!(out.code, 5, "CMD's own status: {}", out.stderr);
    // It released the leadership on its way out.
    let out = run(mongoelector(&uri, &db, &["status", "g2", "--json"]), LIMIT);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v["leader"].is_null(), "{v}");
}

#[test]
fn a_follower_interrupted_exits_128_plus_the_signal() {
    let (uri, db, dir) = (uri(), db_name("follower"), Scratch::new("follower"));
    let log = dir.file("runs");
    let _leader = member(&uri, &db, "g", &service(&log, 0), &[]);
    assert!(wait_until(LIMIT, || runs(&log).len() == 1), "never led");
    let mut follower = member(&uri, &db, "g", &service(&log, 1), &[]);
    std::thread::sleep(Duration::from_millis(800));
    follower.signal(libc::SIGINT);
    assert_eq!(follower.code_within(LIMIT), 130);
    assert_eq!(runs(&log).len(), 1);
}
