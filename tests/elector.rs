//! MongoLeaderElector against the real server, ttl 1-2 s: start/stop,
//! callbacks, observers, re-entrant callbacks, panics, failover after a kill,
//! graceful handoff, and step-down while the server is down.

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use mongodb::bson::{doc, DateTime};
use mongoelector::core::log::{set_sink, Level};
use mongoelector::{
    CancelToken, Client, Database, ElectorOptions, Error, MongoLeaderElector, MongoLocker,
};

const LEAD_LIMIT: Duration = Duration::from_secs(10);

fn elector(db: &Database, key: &str, opts: ElectorOptions) -> Arc<MongoLeaderElector> {
    Arc::new(MongoLeaderElector::new(key, db, opts).expect("MongoLeaderElector::new"))
}

/// Log messages of the library (all tests of this binary share the sink).
fn logs() -> &'static Mutex<Vec<String>> {
    static LOGS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    static INSTALLED: OnceLock<()> = OnceLock::new();
    let logs = LOGS.get_or_init(|| Mutex::new(Vec::new()));
    INSTALLED.get_or_init(|| {
        set_sink(
            Some(std::sync::Arc::new(|level, msg: &str| {
                eprintln!("mongoelector [{level:?}] {msg}");
                LOGS.get().unwrap().lock().unwrap().push(msg.to_owned());
            })),
            Level::Warn,
        )
    });
    logs
}

#[test]
fn argument_errors() {
    let (_c, db) = fresh_db("eargs");
    let zero = ElectorOptions {
        ttl: Duration::ZERO,
        ..Default::default()
    };
    assert!(matches!(
        MongoLeaderElector::new("k", &db, zero),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        MongoLeaderElector::new("", &db, ElectorOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    let d = ElectorOptions::default();
    assert_eq!(d.ttl, Duration::from_secs(15));
    assert!(d.report_status && d.app_version.is_none());
}

#[test]
fn start_stop_observers_and_status() {
    let _ = logs();
    let (_c, db) = fresh_db("basic");
    let ev = Events::default();
    let ttl = Duration::from_secs(1);
    let e = elector(
        &db,
        "svc",
        ElectorOptions {
            app_version: Some("v1.2".into()),
            ..ev.options(ttl)
        },
    );
    assert_eq!(e.key(), "svc");
    assert_eq!(e.db().name(), db.name());
    assert_eq!(e.ttl(), ttl);
    assert_eq!(e.mlock().key(), "svc");
    assert_eq!(e.mlock().dbcollection(), "elector.locks");
    assert!(!e.running() && !e.is_leader());
    assert_eq!(e.poll_wait(), ttl / 4, "poll_wait of a stopped elector");
    assert!(!e.leader_exists().unwrap());

    e.start(false).unwrap();
    assert!(e.running());
    assert!(
        matches!(e.start(false), Err(Error::InvalidState(_))),
        "start on a running elector"
    );
    assert!(
        wait_until(LEAD_LIMIT, || e.is_leader()),
        "never became leader"
    );
    assert!(
        wait_until(LEAD_LIMIT, || ev.loops() >= 2),
        "on_loop does not fire"
    );
    assert!(e.poll_wait() <= ttl, "poll_wait {:?}", e.poll_wait());
    assert!(e.leader_exists().unwrap());
    assert!(e.mlock().owned().unwrap());

    // It keeps leading for several ttls, renewing: one transition, one fence.
    let fence = e.mlock().fence();
    let lost_at = Arc::new(Mutex::new(None));
    let t = Instant::now();
    while t.elapsed() < ttl * 3 {
        if !e.is_leader() {
            *lost_at.lock().unwrap() = Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        *lost_at.lock().unwrap(),
        None,
        "leadership flickered while the server was up"
    );
    assert_eq!(e.mlock().fence(), fence, "renewals keep the fence");
    assert_eq!(ev.transitions(), vec!["leader"]);
    assert!(
        ev.loops() >= 8,
        "a leader renews several times per ttl: {} polls in 3 ttl",
        ev.loops()
    );

    let ns = e.node_status().unwrap();
    assert!(ns.is_leader && ns.elector_running);
    assert_eq!(ns.app_version.as_deref(), Some("v1.2"));
    assert!(ns.lock.lock_owned);
    assert_eq!(ns.lock.fence, Some(fence));
    assert_eq!(ns.lock.uuid, e.mlock().uuid());
    assert_eq!(ns.lock.key, "svc");
    assert_eq!(ns.lock.ttl, ttl);
    let last_poll = ns.last_poll.expect("last_poll");
    assert!(
        SystemTime::now()
            .duration_since(last_poll)
            .unwrap_or_default()
            < ttl * 2
    );

    let cd = e.cluster_detail().unwrap();
    let leader = cd.leader.expect("cluster_detail.leader");
    assert_eq!(leader.uuid, e.mlock().uuid());
    assert_eq!(leader.process_id, std::process::id() as i64);
    assert_eq!(leader.host, e.mlock().host());
    assert_eq!(leader.fence, fence);
    let me = cd
        .member_detail
        .iter()
        .find(|m| m.lock.uuid == e.mlock().uuid())
        .expect("self in member_detail");
    assert!(me.is_leader && me.elector_running);
    assert_eq!(me.app_version.as_deref(), Some("v1.2"));

    // The seed's collections, with the documented shapes.
    let raw = Raw::new(db.name());
    let locks = raw.find("elector.locks", doc! {"key": "svc"});
    assert!(!locks.is_empty());
    for d in &locks {
        assert_eq!(
            d.get_str("_id").unwrap(),
            format!("svc#{}", d.get_i64("gen").unwrap())
        );
    }
    let st = raw.find("elector.leader_status", doc! {"_id": e.mlock().uuid()});
    assert_eq!(st.len(), 1, "status document of this node");
    for f in [
        "uuid",
        "key",
        "ttl",
        "timestamp",
        "host",
        "pid",
        "lock_owned",
        "lock_created",
        "lock_expires",
        "is_leader",
        "elector_running",
        "last_poll",
        "app_version",
    ] {
        assert!(
            st[0].contains_key(f),
            "status document lacks {f}: {:?}",
            st[0]
        );
    }
    assert!(st[0].get_datetime("timestamp").is_ok());

    let t = Instant::now();
    e.stop().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        t.elapsed()
    );
    assert!(!e.running() && !e.is_leader());
    assert_eq!(ev.transitions(), vec!["leader", "loss"]);
    assert!(!e.leader_exists().unwrap(), "stop releases leadership");
    assert!(!e.node_status().unwrap().elector_running);
    e.stop().unwrap(); // idempotent
    assert_eq!(
        ev.transitions(),
        vec!["leader", "loss"],
        "a second stop fires nothing"
    );

    // It can be started again.
    e.start(false).unwrap();
    assert!(wait_until(LEAD_LIMIT, || e.is_leader()));
    assert!(e.mlock().fence() > fence, "a new term has a new fence");
    e.stop().unwrap();
    assert_eq!(ev.transitions(), vec!["leader", "loss", "leader", "loss"]);
}

/// Starts `a` and waits until it leads, then starts `b` and waits for
/// `loops` of its poll cycles (as a follower).
fn lead_then_follow(
    a: &MongoLeaderElector,
    b: &MongoLeaderElector,
    b_events: &Events,
    loops: usize,
) {
    a.start(false).unwrap();
    assert!(
        wait_until(LEAD_LIMIT, || a.is_leader()),
        "the first elector never led"
    );
    b.start(false).unwrap();
    assert!(
        wait_until(LEAD_LIMIT, || b_events.loops() >= loops),
        "the follower never polled {loops} times"
    );
}

#[test]
fn stop_returns_promptly_with_a_long_ttl() {
    let (_c, db) = fresh_db("prompt");
    let ttl = Duration::from_secs(20);
    let (ea, eb) = (Events::default(), Events::default());
    let a = elector(&db, "svc", ea.options(ttl));
    let b = elector(&db, "svc", eb.options(ttl));
    lead_then_follow(&a, &b, &eb, 1);
    std::thread::sleep(Duration::from_millis(200)); // both now sleep out a long interval
    assert!(
        b.poll_wait() > Duration::from_secs(2),
        "follower waits for the lease: {:?}",
        b.poll_wait()
    );
    for (name, e) in [("follower", &b), ("leader", &a)] {
        let t = Instant::now();
        e.stop().unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "stop of the {name} took {:?}",
            t.elapsed()
        );
        assert!(!e.running());
    }
    assert_eq!(ea.transitions(), vec!["leader", "loss"]);
    assert_eq!(eb.transitions(), Vec::<&str>::new());
}

#[test]
fn graceful_handoff_and_callback_order() {
    let (_c, db) = fresh_db("handoff");
    let ttl = Duration::from_secs(1);
    let (ea, eb) = (Events::default(), Events::default());
    let a = elector(&db, "svc", ea.options(ttl));
    let b = elector(&db, "svc", eb.options(ttl));
    lead_then_follow(&a, &b, &eb, 2);
    assert!(!b.is_leader() && b.leader_exists().unwrap());
    let fa = a.mlock().fence();

    a.release().unwrap();
    assert!(!a.is_leader(), "is_leader right after release()");
    assert!(a.running(), "release() does not stop the elector");
    assert!(
        wait_until(Duration::from_secs(3), || eb.count("leader") == 1),
        "follower did not take over after release"
    );
    let a_loss = ea.nth("loss", 0).expect("A's on_leader_loss");
    let b_lead = eb.nth("leader", 0).expect("B's on_leader");
    assert!(
        b_lead.saturating_sub(a_loss) < 1_500_000_000,
        "handoff took {:.3}s",
        secs(b_lead.saturating_sub(a_loss))
    );
    assert!(b.mlock().fence() > fa);

    // A stays a follower (B renews), then takes over when B stops.
    std::thread::sleep(ttl * 2);
    assert!(!a.is_leader() && b.is_leader());
    b.stop().unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || ea.count("leader") == 2),
        "A did not take over after B stopped"
    );
    a.stop().unwrap();

    assert_eq!(ea.transitions(), vec!["leader", "loss", "leader", "loss"]);
    assert_eq!(eb.transitions(), vec!["leader", "loss"]);
    // (That each leader callback comes after the other's completed loss
    // callback is checked on its own below.)
    let a_all = ea.all();
    // Each on_loop comes after the poll's transition: a leader event is
    // followed by a loop event of the same poll.
    let i = a_all.iter().position(|e| e.0 == "leader").unwrap();
    assert!(a_all[i + 1..].iter().any(|e| e.0 == "loop"));
}

/// A graceful release lets the old leader's on_leader_loss finish before the
/// lock is released, so no two nodes act as leader at once (as the lease path
/// keeps a margin to run the callback before the lease ends).
#[test]
fn graceful_release_lets_on_leader_loss_finish_before_another_leads() {
    let (_c, db) = fresh_db("lossfirst");
    let ttl = Duration::from_secs(1);
    let (ea, eb) = (Events::default(), Events::default());
    // A's loss callback takes a while, as a real one winding down work would.
    let loss_done = Arc::new(AtomicU64::new(0));
    let (ea2, ld) = (ea.clone(), loss_done.clone());
    let a = elector(
        &db,
        "svc",
        ElectorOptions {
            on_leader_loss: Some(Arc::new(move || {
                ea2.push("loss");
                std::thread::sleep(Duration::from_millis(400));
                let _ = ld.compare_exchange(0, mono_ns(), Ordering::SeqCst, Ordering::SeqCst);
            })),
            ..ea.options(ttl)
        },
    );
    let b = elector(&db, "svc", eb.options(ttl));
    lead_then_follow(&a, &b, &eb, 2);
    a.release().unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || eb.count("leader") == 1),
        "no takeover after release"
    );
    let done = loss_done.load(Ordering::SeqCst);
    let b_lead = eb.nth("leader", 0).unwrap();
    b.stop().unwrap();
    a.stop().unwrap();
    assert!(done != 0);
    assert!(
        b_lead >= done,
        "B became leader {:.3}s before A's on_leader_loss returned: release() writes the release before it fires the callback",
        secs(done - b_lead)
    );
}

/// While release() runs a slow on_leader_loss, the elector's own thread must
/// not take the lock back (the hold-off lasts until the release is written);
/// otherwise the node believes it leads while its lock is released.
#[test]
fn slow_loss_callback_during_release_does_not_let_the_node_relead() {
    let (_c, db) = fresh_db("slowloss");
    let ttl = Duration::from_secs(1);
    let ev = Events::default();
    let ev2 = ev.clone();
    let a = elector(
        &db,
        "svc",
        ElectorOptions {
            on_leader_loss: Some(Arc::new(move || {
                ev2.push("loss");
                std::thread::sleep(Duration::from_millis(1000)); // longer than the hold-off (ttl/2)
            })),
            ..ev.options(ttl)
        },
    );
    a.start(false).unwrap();
    assert!(wait_until(LEAD_LIMIT, || ev.count("leader") == 1));
    a.release().unwrap();
    assert_eq!(
        ev.transitions(),
        vec!["leader", "loss"],
        "re-led during its own release"
    );
    assert!(!a.is_leader(), "is_leader() after release()");
    assert!(!a.leader_exists().unwrap(), "release() left the lock held");
    std::thread::sleep(Duration::from_millis(300)); // still inside the hold-off
    assert!(!a.is_leader() && !a.leader_exists().unwrap());
    a.stop().unwrap();
}

#[test]
fn poll_by_hand_fires_callbacks_on_the_calling_thread() {
    let (_c, db) = fresh_db("poll");
    let ttl = Duration::from_secs(1);
    let threads = Arc::new(Mutex::new(Vec::new()));
    let (ea, eb) = (Events::default(), Events::default());
    let th = threads.clone();
    let ea2 = ea.clone();
    let a = elector(
        &db,
        "svc",
        ElectorOptions {
            on_leader: Some(Arc::new(move || {
                th.lock().unwrap().push(std::thread::current().id());
                ea2.push("leader");
            })),
            ..ea.options(ttl)
        },
    );
    let b = elector(&db, "svc", eb.options(ttl));
    a.poll().unwrap();
    assert!(a.is_leader() && !a.running());
    assert_eq!(ea.transitions(), vec!["leader"]);
    assert_eq!(ea.loops(), 1);
    assert_eq!(*threads.lock().unwrap(), vec![std::thread::current().id()]);
    b.poll().unwrap();
    assert!(!b.is_leader());
    assert!(b.leader_exists().unwrap());
    assert_eq!(eb.transitions(), Vec::<&str>::new());
    assert_eq!(eb.loops(), 1);

    // Without polls the lease runs out by the monotonic clock alone.
    assert!(
        wait_until(ttl * 2, || !a.is_leader()),
        "is_leader stays true past the lease"
    );
    let lease_end = Instant::now();
    // The next poll reports the loss (before any database call); that poll or
    // the one after leads again (nobody else holds it).
    a.poll().unwrap();
    assert_eq!(ea.transitions()[..2], ["leader", "loss"]);
    if ea.transitions().len() == 2 {
        a.poll().unwrap();
    }
    assert_eq!(ea.transitions(), vec!["leader", "loss", "leader"]);
    assert!(a.is_leader());
    assert!(lease_end.elapsed() < Duration::from_secs(5));

    a.release().unwrap();
    assert_eq!(ea.transitions(), vec!["leader", "loss", "leader", "loss"]);
    b.poll().unwrap();
    assert!(b.is_leader());
    assert_eq!(eb.transitions(), vec!["leader"]);
    // A released: it leaves the lock to others for a while even if free.
    b.release().unwrap();
    a.poll().unwrap();
    assert!(!a.is_leader(), "release() holds a node off for a while");
    std::thread::sleep(ttl / 2 + Duration::from_millis(100));
    a.poll().unwrap();
    assert!(a.is_leader(), "after the hold-off it competes again");
}

/// The elector behind a callback (set once the elector exists).
type Slot = Arc<OnceLock<Weak<MongoLeaderElector>>>;

fn with_slot(
    slot: &Slot,
    f: impl Fn(&MongoLeaderElector) + Send + Sync + 'static,
) -> mongoelector::Callback {
    let slot = slot.clone();
    Arc::new(move || {
        if let Some(e) = slot.get().and_then(Weak::upgrade) {
            f(&e);
        }
    })
}

#[test]
fn callback_calling_stop_does_not_deadlock() {
    let (_c, db) = fresh_db("cbstop");
    let ttl = Duration::from_secs(1);
    let ev = Events::default();
    let slot: Slot = Default::default();
    let ev2 = ev.clone();
    let e = elector(
        &db,
        "svc",
        ElectorOptions {
            on_leader: Some(with_slot(&slot, move |e| {
                ev2.push("leader");
                e.stop().expect("stop from on_leader");
                ev2.push("stop-returned");
            })),
            ..ev.options(ttl)
        },
    );
    slot.set(Arc::downgrade(&e)).ok();
    e.start(false).unwrap();
    assert!(
        wait_until(LEAD_LIMIT, || !e.running()),
        "a stop() from on_leader never ended the elector"
    );
    assert!(wait_until(Duration::from_secs(2), || ev.count("loss") == 1));
    let order: Vec<&str> = ev
        .all()
        .into_iter()
        .map(|x| x.0)
        .filter(|w| *w != "loop")
        .collect();
    assert_eq!(order, vec!["leader", "stop-returned", "loss"]);
    assert!(
        !e.leader_exists().unwrap(),
        "stop from a callback releases leadership"
    );
    let t = Instant::now();
    e.stop().unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(ev.count("loss"), 1);

    // The same from on_loop, while following.
    let (eh, ef) = (Events::default(), Events::default());
    let holder = elector(&db, "svc2", eh.options(ttl));
    holder.start(false).unwrap();
    assert!(wait_until(LEAD_LIMIT, || holder.is_leader()));
    let slot: Slot = Default::default();
    let ef2 = ef.clone();
    let f = elector(
        &db,
        "svc2",
        ElectorOptions {
            on_loop: Some(with_slot(&slot, move |e| {
                ef2.push("loop");
                e.stop().expect("stop from on_loop");
            })),
            ..ef.options(ttl)
        },
    );
    slot.set(Arc::downgrade(&f)).ok();
    f.start(false).unwrap();
    assert!(
        wait_until(LEAD_LIMIT, || !f.running()),
        "a stop() from on_loop never ended the elector"
    );
    assert_eq!(ef.transitions(), Vec::<&str>::new());
    assert!(holder.is_leader());
    holder.stop().unwrap();
}

#[test]
fn blocking_start_returns_after_stop_from_a_callback() {
    let (_c, db) = fresh_db("cbblock");
    let ev = Events::default();
    let slot: Slot = Default::default();
    let ev2 = ev.clone();
    let e = elector(
        &db,
        "svc",
        ElectorOptions {
            on_loop: Some(with_slot(&slot, move |e| {
                ev2.push("loop");
                if e.is_leader() {
                    e.stop().expect("stop from on_loop");
                }
            })),
            ..ev.options(Duration::from_secs(1))
        },
    );
    slot.set(Arc::downgrade(&e)).ok();
    let (tx, rx) = std::sync::mpsc::channel();
    let e2 = e.clone();
    std::thread::spawn(move || tx.send(e2.start(true)).unwrap());
    let r = rx
        .recv_timeout(LEAD_LIMIT)
        .expect("start(blocking) did not return after stop() from a callback");
    r.unwrap();
    assert!(!e.running());
    assert_eq!(ev.transitions(), vec!["leader", "loss"]);
    assert!(!e.leader_exists().unwrap());
}

#[test]
fn callback_calling_release_does_not_deadlock() {
    let (_c, db) = fresh_db("cbrel");
    let ttl = Duration::from_secs(1);
    let ev = Events::default();
    let slot: Slot = Default::default();
    let ev2 = ev.clone();
    let first = Arc::new(AtomicBool::new(true));
    let e = elector(
        &db,
        "svc",
        ElectorOptions {
            on_leader: Some(with_slot(&slot, move |e| {
                ev2.push("leader");
                if first.swap(false, Ordering::SeqCst) {
                    e.release().expect("release from on_leader");
                    assert!(!e.is_leader());
                }
            })),
            ..ev.options(ttl)
        },
    );
    slot.set(Arc::downgrade(&e)).ok();
    e.start(false).unwrap();
    assert!(
        wait_until(LEAD_LIMIT, || ev.count("leader") == 2),
        "after release() from on_leader the elector did not lead again: {:?}",
        ev.transitions()
    );
    assert!(e.running() && e.is_leader());
    e.stop().unwrap();
    assert_eq!(ev.transitions(), vec!["leader", "loss", "leader", "loss"]);
}

#[test]
fn panicking_callbacks_are_logged_and_the_elector_keeps_running() {
    let logs = logs();
    let (_c, db) = fresh_db("panic");
    let ttl = Duration::from_secs(1);
    let leaders = Arc::new(AtomicUsize::new(0));
    let loops = Arc::new(AtomicUsize::new(0));
    let (l1, l2) = (leaders.clone(), loops.clone());
    let e = elector(
        &db,
        "svc",
        ElectorOptions {
            ttl,
            on_leader: Some(Arc::new(move || {
                l1.fetch_add(1, Ordering::SeqCst);
                panic!("test: on_leader panics on purpose");
            })),
            on_loop: Some(Arc::new(move || {
                l2.fetch_add(1, Ordering::SeqCst);
                panic!("test: on_loop panics on purpose");
            })),
            ..Default::default()
        },
    );
    e.start(false).unwrap();
    assert!(wait_until(LEAD_LIMIT, || e.is_leader()));
    let fence = e.mlock().fence();
    std::thread::sleep(ttl * 3);
    assert!(e.running(), "the elector thread died");
    assert!(e.is_leader(), "leadership lost after panicking callbacks");
    assert_eq!(e.mlock().fence(), fence, "it kept renewing the same term");
    assert_eq!(leaders.load(Ordering::SeqCst), 1);
    assert!(
        loops.load(Ordering::SeqCst) >= 6,
        "polls went on: {}",
        loops.load(Ordering::SeqCst)
    );
    let logged = logs
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("panicked"))
        .count();
    assert!(logged >= 2, "panics were not logged (saw {logged})");
    let t = Instant::now();
    e.stop().unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(!e.leader_exists().unwrap());
}

#[test]
fn cluster_detail_lists_live_members_and_takes_the_leader_from_the_lock() {
    let (_c, db) = fresh_db("cluster");
    let ttl = Duration::from_secs(1);
    let mk = |v: &str, report: bool| {
        elector(
            &db,
            "svc",
            ElectorOptions {
                ttl,
                app_version: Some(v.into()),
                report_status: report,
                ..Default::default()
            },
        )
    };
    let (a, b, quiet) = (mk("a", true), mk("b", true), mk("q", false));
    a.start(false).unwrap();
    assert!(wait_until(LEAD_LIMIT, || a.is_leader()));
    b.start(false).unwrap();
    quiet.start(false).unwrap();
    // A false self-report must not make anyone the leader.
    let raw = Raw::new(db.name());
    raw.insert(
        "elector.leader_status",
        doc! {
            "_id": "impostor", "uuid": "impostor", "key": "svc", "ttl": 1.0,
            "timestamp": DateTime::from_system_time(SystemTime::now() + Duration::from_secs(1)),
            "host": "elsewhere", "pid": 1_i64, "lock_owned": true, "lock_created": DateTime::now(),
            "lock_expires": DateTime::now(), "fence": 999_i64, "is_leader": true, "elector_running": true,
            "last_poll": DateTime::now(), "app_version": "x",
        },
    );
    let uuids = |cd: &mongoelector::ClusterDetail| -> Vec<String> {
        cd.member_detail
            .iter()
            .map(|m| m.lock.uuid.clone())
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(5), || {
            let u = uuids(&b.cluster_detail().unwrap());
            u.contains(&a.mlock().uuid().to_owned()) && u.contains(&b.mlock().uuid().to_owned())
        }),
        "members did not report"
    );
    for e in [&a, &b, &quiet] {
        let cd = e.cluster_detail().unwrap();
        let leader = cd.leader.clone().expect("a leader");
        assert_eq!(
            leader.uuid,
            a.mlock().uuid(),
            "leader from the lock, not from self-reports"
        );
        assert_eq!(leader.fence, a.mlock().fence());
        assert!(
            !uuids(&cd).contains(&quiet.mlock().uuid().to_owned()),
            "report_status=false was reported"
        );
        let mb = cd
            .member_detail
            .iter()
            .find(|m| m.lock.uuid == b.mlock().uuid())
            .unwrap();
        assert!(!mb.is_leader && mb.elector_running);
        assert_eq!(mb.app_version.as_deref(), Some("b"));
    }
    assert!(raw
        .find("elector.leader_status", doc! {"_id": quiet.mlock().uuid()})
        .is_empty());

    // B dies (stops reporting): it leaves member_detail, and the leader
    // removes its document (and the impostor's) after a few ttl.
    b.stop().unwrap();
    let b_uuid = b.mlock().uuid().to_owned();
    assert!(
        wait_until(ttl * 8, || !uuids(&a.cluster_detail().unwrap())
            .contains(&b_uuid)),
        "a dead member is still listed"
    );
    assert!(
        wait_until(ttl * 8, || raw
            .find("elector.leader_status", doc! {"_id": &b_uuid})
            .is_empty()
            && raw
                .find("elector.leader_status", doc! {"_id": "impostor"})
                .is_empty()),
        "the leader did not remove dead members' documents"
    );
    assert!(uuids(&a.cluster_detail().unwrap()).contains(&a.mlock().uuid().to_owned()));
    a.stop().unwrap();
    quiet.stop().unwrap();
}

// ---- other processes: the rust_elector example ----

fn spawn_elector(uri: &str, db: &str, key: &str, ttl: f64) -> (Child, Lines) {
    let mut child = Command::new(example("rust_elector"))
        .args([uri, db, key, &ttl.to_string(), "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn rust_elector");
    let lines = Lines::follow(child.stdout.take().unwrap());
    (Child(child), lines)
}

/// `<what> rust <pid> <mono_ns>` -> mono_ns, checking the rest of the line.
fn event_time(line: &str, what: &str, pid: i32) -> u64 {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 4, "bad elector line {line:?}");
    assert_eq!(
        (f[0], f[1], f[2]),
        (what, "rust", pid.to_string().as_str()),
        "{line:?}"
    );
    f[3].parse().expect("mono_ns")
}

#[test]
fn killed_leader_is_replaced_within_about_a_ttl() {
    let ttl = 1.5;
    let name = db_name("kill");
    let (mut child, lines) = spawn_elector(&uri(), &name, "svc", ttl);
    let line = lines
        .wait_for("leader ", LEAD_LIMIT)
        .expect("the child never led");
    event_time(&line, "leader", child.pid());

    let db = client().database(&name).unwrap();
    let ev = Events::default();
    let b = elector(&db, "svc", ev.options(Duration::from_secs_f64(ttl)));
    b.start(false).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert!(!b.is_leader(), "two leaders: the child still runs");
    let cd = b.cluster_detail().unwrap();
    let leader = cd.leader.expect("the child leads");
    assert_eq!(leader.process_id, child.pid() as i64);
    let child_fence = leader.fence;

    child.signal(libc::SIGKILL);
    let killed = mono_ns();
    child
        .wait_for(Duration::from_secs(5))
        .expect("child not dead");
    assert!(
        wait_until(Duration::from_secs(10), || ev.count("leader") == 1),
        "no takeover"
    );
    let took = ev.nth("leader", 0).unwrap() - killed;
    assert!(
        took as f64 <= (ttl + 1.0) * 1e9,
        "takeover took {:.3}s after the kill (ttl {ttl}s)",
        secs(took)
    );
    assert!(b.mlock().fence() > child_fence);
    assert!(
        !lines.snapshot().iter().any(|l| l.starts_with("loss")),
        "a killed child printed loss"
    );
    b.stop().unwrap();
}

#[test]
fn child_elector_hands_off_gracefully_on_sigterm() {
    let ttl = 1.0;
    let name = db_name("term");
    let (mut child, lines) = spawn_elector(&uri(), &name, "svc", ttl);
    lines
        .wait_for("leader ", LEAD_LIMIT)
        .expect("the child never led");
    let db = client().database(&name).unwrap();
    let ev = Events::default();
    let b = elector(&db, "svc", ev.options(Duration::from_secs_f64(ttl)));
    b.start(false).unwrap();
    assert!(wait_until(LEAD_LIMIT, || ev.loops() >= 2));
    assert!(!b.is_leader());

    child.signal(libc::SIGTERM);
    let st = child
        .wait_for(Duration::from_secs(10))
        .expect("the child did not exit on SIGTERM");
    assert!(st.success(), "child exit: {st}");
    let loss = lines
        .wait_for("loss ", Duration::from_secs(2))
        .expect("the child printed no loss line");
    let loss_ns = event_time(&loss, "loss", child.pid());
    assert!(
        wait_until(Duration::from_secs(5), || ev.count("leader") == 1),
        "no takeover after a graceful stop"
    );
    let lead_ns = ev.nth("leader", 0).unwrap();
    assert!(lead_ns > loss_ns, "B led before the child's on_leader_loss");
    assert!(
        lead_ns - loss_ns < 1_500_000_000,
        "handoff took {:.3}s",
        secs(lead_ns - loss_ns)
    );
    b.stop().unwrap();
}

// ---- the server goes away mid-election ----

#[derive(Clone, Copy, Debug)]
enum Outage {
    /// The server process dies (SIGKILL): connections are refused.
    Killed,
    /// The server process freezes (SIGSTOP): requests hang, replies never come.
    Frozen,
}

fn step_down_during_outage(kind: Outage) {
    let dir = std::env::temp_dir().join(format!("me-outage-{}", uuid::Uuid::new_v4().simple()));
    let mut runner = Runner::start(&dir, "127.0.0.1:0");
    let ttl = Duration::from_secs(2);
    let c = Client::new(&runner.uri()).unwrap();
    let db = c.database("outage").unwrap();
    let ev = Events::default();
    let e = elector(&db, "svc", ev.options(ttl));
    e.start(false).unwrap();
    assert!(wait_until(LEAD_LIMIT, || e.is_leader()), "never led");
    std::thread::sleep(Duration::from_millis(1200)); // a few renewals
    assert!(e.is_leader());
    let fence = e.mlock().fence();

    // The first moment is_leader() is false, sampled every 5 ms.
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let first_false = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (e, stop, first) = (e.clone(), stop_sampling.clone(), first_false.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if !e.is_leader() && first.load(Ordering::SeqCst) == 0 {
                    first.store(mono_ns(), Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let t_out = mono_ns();
    match kind {
        Outage::Killed => runner.child.signal(libc::SIGKILL),
        Outage::Frozen => runner.child.signal(libc::SIGSTOP),
    }
    if let Outage::Killed = kind {
        runner
            .child
            .wait_for(Duration::from_secs(5))
            .expect("runner not dead");
    }

    assert!(
        wait_until(ttl * 3, || ev.count("loss") == 1),
        "{kind:?}: on_leader_loss did not fire during the outage"
    );
    let loss = ev.nth("loss", 0).unwrap();
    // The lease was counted from a renewal sent before the outage began, so
    // on_leader_loss must come before t_out + ttl (the bound is the lease itself).
    assert!(
        loss < t_out + ttl.as_nanos() as u64,
        "{kind:?}: on_leader_loss fired {:.3}s after the outage began (ttl {:?}): after the lease ended",
        secs(loss - t_out),
        ttl
    );
    wait_until(Duration::from_millis(500), || {
        first_false.load(Ordering::SeqCst) != 0
    });
    let ff = first_false.load(Ordering::SeqCst);
    assert!(
        ff != 0 && ff < t_out + ttl.as_nanos() as u64,
        "{kind:?}: is_leader() still true after the lease"
    );
    // is_leader stays false while the server is away; the elector keeps running.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(1500) {
        assert!(
            !e.is_leader(),
            "{kind:?}: is_leader() true during the outage"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(e.running(), "{kind:?}: poll errors killed the elector");
    stop_sampling.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let t = Instant::now();
    assert!(
        matches!(e.leader_exists(), Err(Error::Database(_))),
        "{kind:?}: leader_exists during the outage"
    );
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "leader_exists blocked {:?}",
        t.elapsed()
    );

    // The server comes back: a leader exists again.
    let addr = runner.addr.clone();
    match kind {
        Outage::Killed => {
            drop(runner);
            runner = Runner::start(&dir, &addr);
            assert_eq!(runner.addr, addr);
        }
        Outage::Frozen => runner.child.signal(libc::SIGCONT),
    }
    assert!(
        wait_until(Duration::from_secs(30), || ev.count("leader") == 2),
        "{kind:?}: no leader after the server came back: {:?}",
        ev.transitions()
    );
    assert!(e.is_leader() && e.leader_exists().unwrap());
    assert!(e.mlock().fence() > fence);
    let t = Instant::now();
    e.stop().unwrap();
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(ev.transitions(), vec!["leader", "loss", "leader", "loss"]);
    drop(runner);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn leader_steps_down_when_the_server_is_killed() {
    step_down_during_outage(Outage::Killed);
}

#[test]
fn leader_steps_down_when_the_server_freezes() {
    step_down_during_outage(Outage::Frozen);
}

/// `abandon` (what the C ABI's free does, and so a garbage collector's
/// finalizer) stops the elector without giving up leadership: the lease
/// lapses by its ttl, and no callback fires.
#[test]
fn abandon_keeps_leadership_until_the_lease_lapses() {
    let (_c, db) = fresh_db("abandon");
    let ttl = Duration::from_secs(3);
    let losses = Arc::new(AtomicUsize::new(0));
    let l2 = losses.clone();
    let a = elector(
        &db,
        "svc",
        ElectorOptions {
            ttl,
            on_leader_loss: Some(Arc::new(move || {
                l2.fetch_add(1, Ordering::SeqCst);
            })),
            ..Default::default()
        },
    );
    a.start(false).unwrap();
    assert!(wait_until(Duration::from_secs(5), || a.is_leader()));
    let uuid = a.mlock().uuid().to_owned();
    a.abandon();
    let abandoned = Instant::now();
    drop(a);
    let watcher = MongoLocker::new(
        "svc",
        &db,
        mongoelector::LockerOptions {
            dbcollection: "elector.locks".into(),
            ttl,
            ..Default::default()
        },
    )
    .unwrap();
    let head = watcher
        .get_current()
        .unwrap()
        .expect("still leading after abandon");
    assert_eq!(head.uuid, uuid);
    assert!(wait_until(ttl * 2, || !watcher.locked().unwrap()));
    assert!(
        abandoned.elapsed() > ttl / 2,
        "leadership ended early: {:?}",
        abandoned.elapsed()
    );
    assert_eq!(
        losses.load(Ordering::SeqCst),
        0,
        "no callback after abandon"
    );
}

/// `run_until` ends on its token: at once when it is already cancelled (a
/// stop sent around a blocking start could be missed; the token cannot), and
/// while leading by releasing on its way out.
#[test]
fn run_until_ends_on_its_token_and_releases() {
    let (_c, db) = fresh_db("rununtil");
    let e = elector(
        &db,
        "svc",
        ElectorOptions {
            ttl: Duration::from_secs(1),
            ..Default::default()
        },
    );
    let early = CancelToken::new();
    early.cancel();
    let t = Instant::now();
    e.run_until(&early).unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(!e.running() && !e.is_leader());

    let token = CancelToken::new();
    let (e2, t2) = (e.clone(), token.clone());
    let run = std::thread::spawn(move || e2.run_until(&t2));
    assert!(wait_until(LEAD_LIMIT, || e.is_leader()));
    token.cancel();
    run.join().unwrap().unwrap();
    assert!(!e.running() && !e.is_leader());
    assert!(!e.leader_exists().unwrap(), "released on its way out");
}
