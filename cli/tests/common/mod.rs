//! Helpers of the command's tests: the server, the real `mongoelector`
//! binary as a child bounded by timeouts, a private server to freeze, and
//! raw reads of the documents the command wrote.
//!
//! The tests run against the server in `MONGOELECTOR_TEST_URI`
//! (`scripts/test-server start` prints one; `make test` sets it).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mongodb::bson::{doc, Document};

pub fn uri() -> String {
    match std::env::var("MONGOELECTOR_TEST_URI") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => panic!(
            "MONGOELECTOR_TEST_URI is not set: start a server with \
             `export MONGOELECTOR_SERVER_STATE=/tmp/me-state-$USER; export MONGOELECTOR_TEST_URI=$(scripts/test-server start)` \
             or run `make test`"
        ),
    }
}

/// A database name of this test's own.
pub fn db_name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t_cli_{tag}_{:x}_{}_{}",
        nanos % (1 << 40),
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A scratch directory of this test's own (removed when dropped).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(db_name(tag));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Wall-clock nanoseconds, comparable with `date +%s%N` in a CMD.
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `mongoelector ARGS` on `uri` and database `db`.
pub fn mongoelector(uri: &str, db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mongoelector"));
    c.env("MONGODB_URI", uri)
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null());
    c
}

/// A running `mongoelector`, SIGKILLed and reaped when dropped.
pub struct Proc(pub std::process::Child);

impl Proc {
    pub fn spawn(mut c: Command) -> Proc {
        Proc(c.spawn().expect("spawn mongoelector"))
    }
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    /// Sends `sig` unless the child was reaped (so never to a reused pid).
    pub fn signal(&mut self, sig: i32) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: kill(2) on our own unreaped child.
            unsafe { libc::kill(self.pid(), sig) };
        }
    }
    /// Its exit status within `limit`, or None.
    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
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
    /// Its exit code within `limit`; panics past it.
    #[track_caller]
    pub fn code_within(&mut self, limit: Duration) -> i32 {
        let st = self
            .wait_for(limit)
            .unwrap_or_else(|| panic!("still running after {limit:?}"));
        st.code()
            .unwrap_or_else(|| panic!("killed by a signal: {st:?}"))
    }
}

impl Drop for Proc {
    /// SIGTERM first, so the command stops its CMD and releases.
    fn drop(&mut self) {
        self.signal(libc::SIGTERM);
        if self.wait_for(Duration::from_secs(10)).is_none() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// What a finished `mongoelector` said.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// Runs to the end within `limit` (killed and failing past it).
#[track_caller]
pub fn run(mut c: Command, limit: Duration) -> Output {
    let start = Instant::now();
    let dir = Scratch::new("out");
    let (out, err) = (dir.file("stdout"), dir.file("stderr"));
    c.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut p = Proc::spawn(c);
    let code = p.code_within(limit);
    Output {
        code,
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(err).unwrap(),
        took: start.elapsed(),
    }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The lines of a file a CMD appends to (none yet if it does not exist).
pub fn lines(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

// ---- the documents, read with the driver ----

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Every document of `coll` matching `filter`.
pub fn find(uri: &str, db: &str, coll: &str, filter: Document) -> Vec<Document> {
    block_on(async {
        let client = mongodb::Client::with_uri_str(uri).await?;
        let mut cur = client
            .database(db)
            .collection::<Document>(coll)
            .find(filter)
            .await?;
        let mut out = Vec::new();
        while cur.advance().await? {
            out.push(cur.deserialize_current()?);
        }
        Ok::<_, mongodb::error::Error>(out)
    })
    .expect("raw find")
}

/// The generation documents of a lock, oldest first.
pub fn generations(uri: &str, db: &str, coll: &str, key: &str) -> Vec<Document> {
    let mut docs = find(uri, db, coll, doc! {"key": key});
    docs.sort_by_key(|d| d.get_i64("gen").unwrap());
    docs
}

/// A document's date field in Unix nanoseconds.
pub fn date_ns(d: &Document, field: &str) -> u128 {
    d.get_datetime(field).unwrap().timestamp_millis() as u128 * 1_000_000
}

// ---- a private server, to freeze ----

/// `scripts/test-server run DIR`: a server of this test's own.
pub struct Runner {
    pub proc: Proc,
    pub uri: String,
    _dir: Scratch,
}

impl Runner {
    pub fn start() -> Runner {
        let dir = Scratch::new("server");
        let out = dir.file("uri");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-server");
        let mut c = Command::new(script);
        c.arg("run")
            .arg(dir.file("data"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap());
        std::fs::create_dir_all(dir.file("data")).unwrap();
        let proc = Proc::spawn(c);
        let mut line = String::new();
        assert!(
            wait_until(Duration::from_secs(120), || {
                line = std::fs::read_to_string(&out).unwrap_or_default();
                line.contains('\n')
            }),
            "the private server printed no URI"
        );
        let base = line
            .lines()
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        Runner {
            proc,
            uri: format!("{base}/?directConnection=true&serverSelectionTimeoutMS=2000"),
            _dir: dir,
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.proc.signal(libc::SIGCONT);
    }
}
