//! `mongoelector lock` against the real server, spawning the real binary:
//! mutual exclusion and fences, --no-wait, --timeout, renewal through a long
//! CMD, loss when the server freezes, signals.

mod common;

use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

/// A CMD that records `start <ns> <fence>` and `end <ns> <fence>` around a nap.
fn recorder(file: &std::path::Path, nap: f64) -> String {
    let f = file.display();
    format!(
        "echo start $(date +%s%N) $MONGOELECTOR_FENCE $MONGOELECTOR_KEY >> {f}; sleep {nap}; \
         echo end $(date +%s%N) $MONGOELECTOR_FENCE >> {f}"
    )
}

#[test]
fn two_lockers_never_overlap_and_fences_increase() {
    let (uri, db, dir) = (uri(), db_name("excl"), Scratch::new("excl"));
    let log = dir.file("holds");
    let cmd = recorder(&log, 0.3);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (uri, db, cmd) = (uri.clone(), db.clone(), cmd.clone());
            std::thread::spawn(move || {
                for _ in 0..3 {
                    let c = mongoelector(
                        &uri,
                        &db,
                        &["lock", "k", "--ttl", "5", "--", "sh", "-c", &cmd],
                    );
                    let out = run(c, LIMIT);
                    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    let lines = lines(&log);
    assert_eq!(lines.len(), 12, "{lines:?}");
    // Each hold is a start line followed by its end line: nothing in between.
    let mut last: Option<(u128, i64)> = None;
    for pair in lines.chunks(2) {
        assert_eq!(
            (pair[0][0].as_str(), pair[1][0].as_str()),
            ("start", "end"),
            "{lines:?}"
        );
        assert_eq!(pair[0][3], "k", "MONGOELECTOR_KEY");
        let (start, fence): (u128, i64) =
            (pair[0][1].parse().unwrap(), pair[0][2].parse().unwrap());
        let end: u128 = pair[1][1].parse().unwrap();
        assert_eq!(pair[1][2], pair[0][2], "one fence per hold");
        if let Some((prev_end, prev_fence)) = last {
            assert!(prev_end <= start, "overlap: {lines:?}");
            assert!(prev_fence < fence, "fences not increasing: {lines:?}");
        }
        last = Some((end, fence));
    }
}

#[test]
fn no_wait_on_a_held_lock_fails_at_once_and_timeout_is_honoured() {
    let (uri, db, dir) = (uri(), db_name("nowait"), Scratch::new("nowait"));
    let log = dir.file("holds");
    let mut holder = Proc::spawn(mongoelector(
        &uri,
        &db,
        &["lock", "k", "--", "sh", "-c", &recorder(&log, 8.0)],
    ));
    assert!(
        wait_until(LIMIT, || !lines(&log).is_empty()),
        "holder never started"
    );

    let out = run(
        mongoelector(&uri, &db, &["lock", "k", "--no-wait", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.code, 75, "stderr: {}", out.stderr);
    assert!(out.stderr.contains("is held by"), "{}", out.stderr);
    assert!(out.took < Duration::from_secs(3), "took {:?}", out.took);

    let out = run(
        mongoelector(&uri, &db, &["lock", "k", "--timeout", "1.5", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.code, 124, "stderr: {}", out.stderr);
    assert!(out.stderr.contains("timeout"), "{}", out.stderr);
    assert!(
        out.took >= Duration::from_millis(1500) && out.took < Duration::from_secs(4),
        "took {:?}",
        out.took
    );
    holder.signal(libc::SIGTERM);
    assert_eq!(
        holder.code_within(LIMIT),
        143,
        "sh died of the forwarded SIGTERM"
    );
}

#[test]
fn a_long_cmd_keeps_the_lock_for_five_ttls() {
    let (uri, db, dir) = (uri(), db_name("long"), Scratch::new("long"));
    let log = dir.file("holds");
    let ttl = 1.0;
    let mut holder = Proc::spawn(mongoelector(
        &uri,
        &db,
        &[
            "lock",
            "k",
            "--ttl",
            "1",
            "--",
            "sh",
            "-c",
            &recorder(&log, 5.0 * ttl),
        ],
    ));
    assert!(
        wait_until(LIMIT, || !lines(&log).is_empty()),
        "holder never started"
    );
    let fence = lines(&log)[0][2].clone();
    let started = Instant::now();
    let mut tries = 0;
    while lines(&log).len() < 2 && started.elapsed() < Duration::from_secs_f64(4.5 * ttl) {
        let out = run(
            mongoelector(&uri, &db, &["lock", "k", "--no-wait", "--", "true"]),
            LIMIT,
        );
        assert_eq!(
            out.code,
            75,
            "another process took it after {:?}: {}",
            started.elapsed(),
            out.stderr
        );
        tries += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(tries >= 5, "only {tries} tries");
    assert_eq!(holder.code_within(LIMIT), 0);
    let lines = lines(&log);
    assert_eq!(lines[1][2], fence, "renewals keep the fence");
    // Released on exit: the next one gets it at once.
    let out = run(
        mongoelector(&uri, &db, &["lock", "k", "--no-wait", "--", "true"]),
        LIMIT,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_frozen_server_makes_the_lock_lost_and_cmd_is_stopped_in_time() {
    let server = Runner::start();
    let (db, dir) = (db_name("frozen"), Scratch::new("frozen"));
    let log = dir.file("events");
    let cmd = format!(
        "trap 'echo term $(date +%s%N) >> {f}; exit 0' TERM; echo start $(date +%s%N) >> {f}; \
         while :; do sleep 0.05 2>/dev/null; done",
        f = log.display()
    );
    let mut holder = Proc::spawn(mongoelector(
        &server.uri,
        &db,
        &[
            "lock", "k", "--ttl", "2", "--grace", "1", "--", "sh", "-c", &cmd,
        ],
    ));
    assert!(
        wait_until(LIMIT, || !lines(&log).is_empty()),
        "holder never started"
    );
    std::thread::sleep(Duration::from_millis(1200)); // a few renewals
    let mut server = server;
    server.proc.signal(libc::SIGSTOP);
    let frozen = now_ns();
    let code = holder.code_within(Duration::from_secs(10));
    server.proc.signal(libc::SIGCONT);
    assert_eq!(code, 125, "the exit status says lost");
    let events = lines(&log);
    let term = events
        .iter()
        .find(|l| l[0] == "term")
        .expect("CMD got no SIGTERM");
    let term: u128 = term[1].parse().unwrap();
    // Before the lease ends: no document of the holding lasts past the SIGTERM.
    let gens = generations(&server.uri, &db, "mongolocker", "k");
    let lease_end = gens
        .iter()
        .filter(|d| d.get_bool("locked").unwrap())
        .map(|d| date_ns(d, "ts_expire"))
        .max()
        .unwrap();
    assert!(
        term < lease_end,
        "SIGTERM {} ms after the lease ended",
        (term - lease_end) / 1_000_000
    );
    assert!(
        term - frozen < 2_000_000_000,
        "SIGTERM {} ms after the freeze",
        (term - frozen) / 1_000_000
    );
}

#[test]
fn sigterm_is_forwarded_then_the_lock_is_released() {
    let (uri, db, dir) = (uri(), db_name("sig"), Scratch::new("sig"));
    let log = dir.file("events");
    let cmd = format!(
        "trap 'echo term >> {f}; exit 7' TERM; echo start >> {f}; while :; do sleep 0.05 2>/dev/null; done",
        f = log.display()
    );
    let mut holder = Proc::spawn(mongoelector(
        &uri,
        &db,
        &["lock", "k", "--", "sh", "-c", &cmd],
    ));
    assert!(
        wait_until(LIMIT, || !lines(&log).is_empty()),
        "holder never started"
    );
    // A waiter interrupted before its CMD starts exits 128+15 and never runs it.
    let ran = format!("echo ran >> {}", log.display());
    let mut waiter = Proc::spawn(mongoelector(
        &uri,
        &db,
        &["lock", "k", "--", "sh", "-c", &ran],
    ));
    std::thread::sleep(Duration::from_millis(700));
    waiter.signal(libc::SIGTERM);
    assert_eq!(waiter.code_within(LIMIT), 143);

    holder.signal(libc::SIGTERM);
    assert_eq!(holder.code_within(LIMIT), 7, "CMD's own status");
    let start = Instant::now();
    let out = run(mongoelector(&uri, &db, &["show", "k", "--json"]), LIMIT);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["held"], false, "released before exiting: {v}");
    assert!(start.elapsed() < Duration::from_secs(5));
    let events: Vec<String> = lines(&log).into_iter().map(|l| l.join(" ")).collect();
    assert_eq!(events, ["start", "term"]);
}
