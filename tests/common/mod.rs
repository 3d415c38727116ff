//! Shared helpers of the integration tests: the server URI, a fresh database
//! per test, CLOCK_MONOTONIC, raw driver access (to look at what the library
//! wrote), the example programs and a recorder for elector callbacks.
//!
//! Every test runs against the real server in `MONGOELECTOR_TEST_URI`
//! (`scripts/test-server start` prints one); without it the tests fail.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mongodb::bson::{doc, Bson, Document};
use mongoelector::{Callback, Client, Database, Error};
use once_cell::sync::Lazy;

/// The server every test runs against. Panics (failing the test) when unset.
pub fn uri() -> String {
    match std::env::var("MONGOELECTOR_TEST_URI") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => panic!(
            "MONGOELECTOR_TEST_URI is not set: these tests need a real server. Start one with \
             `export MONGOELECTOR_SERVER_STATE=/tmp/me-state-$USER; export MONGOELECTOR_TEST_URI=$(scripts/test-server start)` \
             or run `make test`"
        ),
    }
}

pub fn client() -> Client {
    Client::new(&uri()).expect("Client::new on MONGOELECTOR_TEST_URI")
}

/// A random database name `t_<tag>_<hex>` (at most 63 characters).
pub fn db_name(tag: &str) -> String {
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(36)
        .collect();
    let rnd = uuid::Uuid::new_v4().simple().to_string();
    format!("t_{tag}_{}", &rnd[..16])
}

/// A fresh database of its own for one test.
pub fn fresh_db(tag: &str) -> (Client, Database) {
    let c = client();
    let db = c.database(&db_name(tag)).expect("database");
    (c, db)
}

/// CLOCK_MONOTONIC in nanoseconds (comparable across processes of this host).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for clock_gettime to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; true if it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts that less than `bound` has passed since `start` (the time taken is the evidence).
#[track_caller]
pub fn assert_within(start: Instant, bound: Duration) {
    let took = start.elapsed();
    assert!(took < bound, "took {took:?}, bound {bound:?}");
}

pub fn is_invalid<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::InvalidArgument(_)))
}

// ---- raw driver access (async driver on a small runtime of the tests') ----

static RT: Lazy<tokio::runtime::Runtime> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime")
});

pub fn block_on<F: std::future::IntoFuture>(f: F) -> F::Output {
    RT.block_on(f.into_future())
}

/// A raw driver handle on database `name` (to check what the library wrote).
pub struct Raw {
    pub db: mongodb::Database,
}

impl Raw {
    pub fn new(name: &str) -> Raw {
        Raw::with_uri(&uri(), name)
    }

    pub fn with_uri(uri: &str, name: &str) -> Raw {
        let client = block_on(async {
            let _g = RT.enter();
            mongodb::Client::with_uri_str(uri).await
        })
        .expect("raw driver client");
        Raw {
            db: client.database(name),
        }
    }

    pub fn find(&self, coll: &str, filter: Document) -> Vec<Document> {
        block_on(async {
            let mut cur = self.db.collection::<Document>(coll).find(filter).await?;
            let mut out = Vec::new();
            while cur.advance().await? {
                out.push(cur.deserialize_current()?);
            }
            Ok::<_, mongodb::error::Error>(out)
        })
        .expect("raw find")
    }

    pub fn insert(&self, coll: &str, d: Document) {
        block_on(self.db.collection::<Document>(coll).insert_one(d)).expect("raw insert");
    }

    /// The collection's index specifications, by name (without volatile fields).
    pub fn indexes(&self, coll: &str) -> Vec<(String, Document)> {
        let reply = block_on(self.db.run_command(doc! {"listIndexes": coll})).expect("listIndexes");
        let batch = reply
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .expect("listIndexes reply")
            .clone();
        let mut out: Vec<(String, Document)> = batch
            .into_iter()
            .filter_map(|b| match b {
                Bson::Document(mut d) => {
                    d.remove("ns");
                    d.remove("v");
                    Some((d.get_str("name").unwrap_or("").to_owned(), d))
                }
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub fn command(&self, cmd: Document) -> mongodb::error::Result<Document> {
        block_on(self.db.run_command(cmd))
    }
}

/// True when the server is FerretDB (buildInfo has `ferretdbVersion`).
pub fn is_ferretdb() -> bool {
    let raw = Raw::new("admin");
    raw.command(doc! {"buildInfo": 1})
        .map(|d| d.contains_key("ferretdbVersion"))
        .unwrap_or(false)
}

/// True when the server is FerretDB v1 (a version "v1.x", or "unknown" as
/// our embedded test server reports it), by the library's rule.
pub fn is_ferretdb_v1() -> bool {
    let raw = Raw::new("admin");
    raw.command(doc! {"buildInfo": 1})
        .ok()
        .and_then(|d| d.get_str("ferretdbVersion").ok().map(str::to_owned))
        .is_some_and(|v| {
            // store.rs: a FerretDB not known to be 2 or later.
            let major = v.trim_start_matches('v').split('.').next();
            major
                .and_then(|m| m.parse::<u32>().ok())
                .is_none_or(|m| m < 2)
        })
}

// ---- the example programs ----

/// `target/<profile>/examples/<name>`, next to this test binary's `deps/`.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "example program {} is missing: build it with `cargo build --release --examples` \
         (`cargo test --release` builds it too)",
        path.display()
    );
    path
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Child(pub std::process::Child);

impl Child {
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    /// Sends `sig` to the child if it has not been reaped (so never to a reused pid).
    pub fn signal(&mut self, sig: i32) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: plain kill(2) on our own, not yet reaped child.
            unsafe {
                libc::kill(self.pid(), sig);
            }
        }
    }
    /// Waits up to `limit` for the child to exit; its status, or None.
    pub fn wait_for(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.0.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// A line-reading thread on a child's stdout: lines go to a shared vector.
#[derive(Clone, Default)]
pub struct Lines(pub Arc<Mutex<Vec<String>>>);

impl Lines {
    pub fn follow(out: impl std::io::Read + Send + 'static) -> Lines {
        use std::io::BufRead;
        let lines = Lines::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                match line {
                    Ok(s) => l.0.lock().unwrap().push(s),
                    Err(_) => break,
                }
            }
        });
        lines
    }
    pub fn snapshot(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    /// The first line starting with `prefix`, waiting up to `limit`.
    pub fn wait_for(&self, prefix: &str, limit: Duration) -> Option<String> {
        let mut found = None;
        wait_until(limit, || {
            found = self.snapshot().into_iter().find(|l| l.starts_with(prefix));
            found.is_some()
        });
        found
    }
}

// ---- elector callback recording ----

/// What an elector's callbacks saw, in order, with CLOCK_MONOTONIC and thread.
#[derive(Clone, Default)]
pub struct Events {
    pub log: Arc<Mutex<Vec<(&'static str, u64)>>>,
    pub loops: Arc<AtomicUsize>,
}

impl Events {
    pub fn push(&self, what: &'static str) {
        self.log.lock().unwrap().push((what, mono_ns()));
    }
    /// The leader/loss transitions, in order (loop events left out).
    pub fn transitions(&self) -> Vec<&'static str> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.0)
            .filter(|w| *w != "loop")
            .collect()
    }
    pub fn all(&self) -> Vec<(&'static str, u64)> {
        self.log.lock().unwrap().clone()
    }
    pub fn count(&self, what: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == what)
            .count()
    }
    /// Time of the `n`th (0-based) event `what`.
    pub fn nth(&self, what: &str, n: usize) -> Option<u64> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == what)
            .nth(n)
            .map(|e| e.1)
    }
    pub fn loops(&self) -> usize {
        self.loops.load(Ordering::SeqCst)
    }
    pub fn on_leader(&self) -> Callback {
        let e = self.clone();
        Arc::new(move || e.push("leader"))
    }
    pub fn on_loss(&self) -> Callback {
        let e = self.clone();
        Arc::new(move || e.push("loss"))
    }
    pub fn on_loop(&self) -> Callback {
        let e = self.clone();
        Arc::new(move || {
            e.loops.fetch_add(1, Ordering::SeqCst);
            e.push("loop");
        })
    }
    /// Options with all three callbacks recording into `self`.
    pub fn options(&self, ttl: Duration) -> mongoelector::ElectorOptions {
        mongoelector::ElectorOptions {
            ttl,
            on_leader: Some(self.on_leader()),
            on_leader_loss: Some(self.on_loss()),
            on_loop: Some(self.on_loop()),
            ..Default::default()
        }
    }
}

/// Asserts leader/loss alternate, starting with leader.
pub fn assert_alternating(t: &[&str]) {
    for (i, w) in t.iter().enumerate() {
        let want = if i % 2 == 0 { "leader" } else { "loss" };
        assert_eq!(*w, want, "transition {i} of {t:?}");
    }
}

/// One hold of a lock: who, its fence and its interval.
#[derive(Debug, Clone)]
pub struct Hold {
    pub who: String,
    pub fence: i64,
    pub start: u64,
    pub end: u64,
}

/// Parses contender log lines `<lang> <pid> <fence> <start_ns> <end_ns>`.
pub fn parse_holds(text: &str) -> Vec<Hold> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 5, "bad contender line {l:?}");
            Hold {
                who: format!("{} {}", f[0], f[1]),
                fence: f[2].parse().expect("fence"),
                start: f[3].parse().expect("start"),
                end: f[4].parse().expect("end"),
            }
        })
        .collect()
}

/// No two holds overlap, and fences strictly increase in the order of the holds.
pub fn assert_exclusive(holds: &[Hold]) {
    let mut h = holds.to_vec();
    h.sort_by_key(|x| x.start);
    for x in &h {
        assert!(x.start <= x.end, "bad interval {x:?}");
        assert!(x.fence > 0, "fence not set: {x:?}");
    }
    for w in h.windows(2) {
        assert!(
            w[0].end <= w[1].start,
            "two holders at once: {:?} and {:?} overlap by {} ns",
            w[0],
            w[1],
            w[0].end - w[1].start
        );
        assert!(
            w[0].fence < w[1].fence,
            "fences not strictly increasing in hold order: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
}

/// A FerretDB runner of this test's own (`scripts/test-server run DIR ADDR`).
pub struct Runner {
    pub child: Child,
    pub addr: String,
    pub dir: PathBuf,
}

impl Runner {
    pub fn start(dir: &std::path::Path, addr: &str) -> Runner {
        let mut child = Command::new(manifest_dir().join("scripts/test-server"))
            .args(["run", dir.to_str().unwrap(), addr])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn scripts/test-server run");
        let lines = Lines::follow(child.stdout.take().unwrap());
        let child = Child(child);
        let line = lines
            .wait_for("mongodb://", Duration::from_secs(120))
            .expect("runner printed no URI");
        let addr = line
            .trim_start_matches("mongodb://")
            .trim_end_matches('/')
            .to_owned();
        Runner {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }
    pub fn uri(&self) -> String {
        format!(
            "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS=2000",
            self.addr
        )
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.child.signal(libc::SIGCONT);
        self.child.signal(libc::SIGKILL);
        let _ = self.child.wait_for(Duration::from_secs(5));
        let _ = &self.dir;
    }
}

/// A private server in a fresh data directory (removed at drop), for tests
/// that freeze or kill it, and a database on it.
pub struct PrivateServer {
    pub runner: Runner,
    pub db: Database,
    _client: Client,
}

impl PrivateServer {
    pub fn start(tag: &str) -> PrivateServer {
        let dir = std::env::temp_dir().join(format!("me-{tag}-{}", uuid::Uuid::new_v4().simple()));
        let runner = Runner::start(&dir, "127.0.0.1:0");
        let client = Client::new(&runner.uri()).unwrap();
        let db = client.database(tag).unwrap();
        PrivateServer {
            runner,
            db,
            _client: client,
        }
    }

    pub fn signal(&mut self, sig: i32) {
        self.runner.child.signal(sig);
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.runner.child.signal(libc::SIGCONT);
        self.runner.child.signal(libc::SIGKILL);
        let _ = self.runner.child.wait_for(Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&self.runner.dir);
    }
}

/// An elector of group "svc" with `ttl` and no callbacks.
pub fn plain_elector(db: &Database, ttl: Duration) -> mongoelector::MongoLeaderElector {
    mongoelector::MongoLeaderElector::new(
        "svc",
        db,
        mongoelector::ElectorOptions {
            ttl,
            ..Default::default()
        },
    )
    .unwrap()
}
