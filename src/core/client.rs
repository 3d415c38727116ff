//! A connection pool to one deployment, shared by every locker and elector made
//! from it, plus the per-client caches (clock check, indexes already ensured).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mongodb::event::sdam::SdamEvent;
use mongodb::event::EventHandler;
use mongodb::options::{
    Acknowledgment, ClientOptions, ReadPreference, SelectionCriteria, ServerMonitoringMode,
    WriteConcern,
};

use super::clock::{Clock, ClockCheck, SystemClock};
use super::error::{invalid, Error, Result};
use super::runtime;

/// How long a URI parse (which may resolve SRV records) may take.
const PARSE_LIMIT: Duration = Duration::from_secs(30);
/// See [`Client::short_network`].
const SHORT_RTT: Duration = Duration::from_millis(100);
/// How often the monitor measures the round trip unless the URI says: the
/// driver's 10 s would judge a network that just became long as short for 10 s.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// A handle to a MongoDB deployment. Cheap to clone; clones share one pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    /// The driver and the process it was made in. A forked child gets a
    /// driver of its own (the parent's pool and monitors belong to threads
    /// the child does not have); the parent's is never touched there.
    driver: Mutex<(u32, mongodb::Client)>,
    options: ClientOptions,
    secrets: Vec<String>,
    clock: Arc<dyn Clock>,
    clock_check: ClockCheck,
    indexed: Mutex<HashSet<(String, String)>>,
    /// Whether the server serves filters from secondary indexes, once its
    /// `buildInfo` told (FerretDB v1 does not: its queries scan).
    secondary_indexes: OnceLock<bool>,
    /// The latest round trip of the driver's server monitor (`hello`, which
    /// no server answers from a collection), in ns; `u64::MAX` until one.
    rtt_ns: Arc<AtomicU64>,
}

impl Client {
    /// Connects lazily to `uri`: parsing errors are reported now, an unreachable
    /// server on the first operation (after the URI's `serverSelectionTimeoutMS`).
    /// Lock writes use write concern `majority` and reads go to the primary,
    /// and the monitor polls every second, unless the URI says otherwise.
    pub fn new(uri: &str) -> Result<Client> {
        Self::with_clock(uri, Arc::new(SystemClock))
    }

    /// Like [`Client::new`], with a wall clock of the caller's (tests and simulations).
    pub fn with_clock(uri: &str, clock: Arc<dyn Clock>) -> Result<Client> {
        let mut secrets: Vec<String> = uri_password(uri).into_iter().collect();
        let scrub = |msg: String, secrets: &[String]| redact(&msg, secrets);
        let mut opts = runtime::run(PARSE_LIMIT, "parsing the URI", async {
            ClientOptions::parse(uri).await.map_err(|e| {
                invalid(format!(
                    "bad MongoDB URI: {}",
                    scrub(e.to_string(), &secrets)
                ))
            })
        })?;
        if let Some(pw) = opts.credential.as_ref().and_then(|c| c.password.clone()) {
            secrets.push(pw);
        }
        if opts.write_concern.is_none() {
            opts.write_concern = Some(WriteConcern::builder().w(Acknowledgment::Majority).build());
        }
        if opts.selection_criteria.is_none() {
            opts.selection_criteria =
                Some(SelectionCriteria::ReadPreference(ReadPreference::Primary));
        }
        let rtt_ns = Arc::new(AtomicU64::new(u64::MAX));
        // Polled heartbeats are each a measured round trip; streamed ones are
        // the server's wait, and the driver's own RTT pings emit no event.
        if opts.heartbeat_freq.is_none() && opts.server_monitoring_mode.is_none() {
            opts.heartbeat_freq = Some(HEARTBEAT);
            opts.server_monitoring_mode = Some(ServerMonitoringMode::Poll);
        }
        if opts.sdam_event_handler.is_none() {
            let rtt = rtt_ns.clone();
            opts.sdam_event_handler = Some(EventHandler::callback(move |ev| {
                // An awaited heartbeat's time is mostly the server's wait.
                if let SdamEvent::ServerHeartbeatSucceeded(hb) = ev {
                    if !hb.awaited {
                        let ns = u64::try_from(hb.duration.as_nanos()).unwrap_or(u64::MAX - 1);
                        rtt.store(ns, Ordering::Relaxed);
                    }
                }
            }));
        }
        let driver = connect(&opts, &secrets)?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                driver: Mutex::new((std::process::id(), driver)),
                options: opts,
                secrets,
                clock,
                clock_check: ClockCheck::default(),
                indexed: Mutex::new(HashSet::new()),
                secondary_indexes: OnceLock::new(),
                rtt_ns,
            }),
        })
    }

    /// The database `name` of this deployment.
    pub fn database(&self, name: &str) -> Result<Database> {
        validate_db_name(name)?;
        Ok(Database {
            client: self.clone(),
            name: name.to_owned(),
        })
    }

    /// This process's driver: made anew, from the same options, in a forked child.
    pub(crate) fn driver(&self) -> Result<mongodb::Client> {
        let pid = std::process::id();
        let mut d = self.inner.driver.lock().unwrap_or_else(|e| e.into_inner());
        if d.0 != pid {
            let fresh = connect(&self.inner.options, &self.inner.secrets)?;
            // Dropping the parent's driver would end its sessions through the
            // parent's sockets; leave it be.
            std::mem::forget(std::mem::replace(&mut *d, (pid, fresh)));
        }
        Ok(d.1.clone())
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    pub(crate) fn clock_check(&self) -> &ClockCheck {
        &self.inner.clock_check
    }

    /// Turns a driver error into ours, with any password of the URI removed.
    pub(crate) fn db_error(&self, err: impl std::fmt::Display) -> Error {
        Error::Database(redact(&err.to_string(), &self.inner.secrets))
    }

    /// The network's round trip to the server, as its monitor last measured
    /// it (none before the first measurement).
    fn network_rtt(&self) -> Option<Duration> {
        match self.inner.rtt_ns.load(Ordering::Relaxed) {
            u64::MAX => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Whether the network is short enough that a few round trips cost less
    /// than one scanning query: the monitor measured a round trip under
    /// `SHORT_RTT`. On a long one a contender must see a release in one round
    /// trip to win the race for it.
    pub(crate) fn short_network(&self) -> bool {
        self.network_rtt().is_some_and(|rtt| rtt < SHORT_RTT)
    }

    /// The secrets `db_error` redacts, for background work that must not keep
    /// the client alive.
    pub(crate) fn secrets(&self) -> Vec<String> {
        self.inner.secrets.clone()
    }

    /// Whether the server serves filters from secondary indexes, if known yet.
    pub(crate) fn secondary_indexes(&self) -> Option<bool> {
        self.inner.secondary_indexes.get().copied()
    }

    pub(crate) fn learned_secondary_indexes(&self, yes: bool) {
        let _ = self.inner.secondary_indexes.set(yes);
    }

    /// True the first time it is called for (db, collection): the caller then
    /// creates that collection's indexes.
    pub(crate) fn first_use(&self, db: &str, coll: &str) -> bool {
        let mut seen = self.inner.indexed.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert((db.to_owned(), coll.to_owned()))
    }

    /// Makes the next `first_use` of (db, collection) true again (its indexes
    /// could not be created because the server was unreachable).
    pub(crate) fn retry_first_use(&self, db: &str, coll: &str) {
        let mut seen = self.inner.indexed.lock().unwrap_or_else(|e| e.into_inner());
        seen.remove(&(db.to_owned(), coll.to_owned()));
    }
}

/// A database of a [`Client`]: the `db` argument of lockers and electors.
#[derive(Clone)]
pub struct Database {
    client: Client,
    name: String,
}

impl Database {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn driver(&self) -> Result<mongodb::Database> {
        Ok(self.client.driver()?.database(&self.name))
    }
}

fn connect(opts: &ClientOptions, secrets: &[String]) -> Result<mongodb::Client> {
    runtime::enter(|| mongodb::Client::with_options(opts.clone()))
        .map_err(|e| Error::Database(redact(&e.to_string(), secrets)))
}

fn validate_db_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid("database name is empty"));
    }
    if let Some(c) = name.chars().find(|c| "/\\. \"$\0".contains(*c)) {
        return Err(invalid(format!("database name {name:?} contains {c:?}")));
    }
    if name.len() > 63 {
        return Err(invalid(format!(
            "database name {name:?} is longer than 63 bytes"
        )));
    }
    // `local` is not replicated: after a failover a lock there could be held
    // twice. `config` belongs to the cluster's own metadata.
    if name == "local" || name == "config" {
        return Err(invalid(format!(
            "database {name:?} is reserved by MongoDB (`local` is not replicated)"
        )));
    }
    Ok(())
}

/// The password in `scheme://user:password@hosts/...`, if any.
fn uri_password(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    let pw = userinfo.split_once(':')?.1;
    (!pw.is_empty()).then(|| pw.to_owned())
}

/// Replaces every secret (raw and percent-decoded) in `msg` with `****`.
pub(crate) fn redact(msg: &str, secrets: &[String]) -> String {
    let mut out = msg.to_owned();
    for s in secrets {
        for form in [s.clone(), percent_decode(s)] {
            if !form.is_empty() {
                out = out.replace(&form, "****");
            }
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_redacts_uri_passwords() {
        let uri = "mongodb://bob:s%40cret@h1:27017,h2/db?tls=true";
        let pw = uri_password(uri).unwrap();
        assert_eq!(pw, "s%40cret");
        let msg = redact(
            "auth failed for bob:s@cret at mongodb://bob:s%40cret@h1",
            &[pw],
        );
        assert!(
            !msg.contains("s@cret") && !msg.contains("s%40cret"),
            "{msg}"
        );
        assert_eq!(uri_password("mongodb://h1:27017/?x=1"), None);
        assert_eq!(uri_password("mongodb://bob@h1"), None);
    }

    #[test]
    fn rejects_bad_database_names() {
        for bad in ["", "a.b", "a b", "a$", "a/b", &"x".repeat(64)] {
            assert!(validate_db_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_db_name("my_db-1").is_ok());
    }
}
