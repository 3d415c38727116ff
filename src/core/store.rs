//! The database operations of a lock: read the head, insert a generation,
//! collect old generations. Every call is bounded in time.
//!
//! A holder finds the next head by point reads of `_id`s, forward from a
//! generation known to have been the head recently (docs/design.md, "Finding
//! the head"); FerretDB v1 scans its collection for every read and delete
//! (docs/ferretdb-pushdown.md), so collections are spaced by what they cost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::client::{redact, Client, Database};
use super::collection_check;
use super::error::{Error, Result};
use super::garbage::VERIFY_AFTER;
use super::log::log_at;
use super::record::{record_id, Record};
use super::runtime;
use super::stats::Counters;

const INDEX_NAME: &str = "mongoelector_key_gen";
/// A start is trusted for point reads this long after it was the head: no
/// later generation can be collected sooner (garbage.rs).
const FRESH: Duration = VERIFY_AFTER;
/// Point reads for one head before the query takes over.
const MAX_PROBES: usize = 4;
/// A collection makes the next one wait this many times as long as it took
/// (FerretDB reads the whole collection for it, about 50 us per document), and
/// at least `MIN_GAP`: collections then take at most a sixth of the server's time.
const GAP_FACTOR: u32 = 5;
const MIN_GAP: Duration = Duration::from_secs(1);

/// A generation that was the head at wall time `at` (`head: None`: the key had
/// no generation then). Every later generation was decided after `at`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Start {
    pub head: Option<Record>,
    pub at: SystemTime,
}

/// The lock collection of one locker.
pub(crate) struct Store {
    db: Database,
    coll: Collection<Document>,
    /// A collection of old generations is under way.
    collecting: Arc<AtomicBool>,
    /// No collection starts before this instant.
    next_collect: Arc<Mutex<Option<Instant>>>,
    counters: Arc<Counters>,
}

/// Ends a collection, however its future ends (a timeout drops it): the next
/// one may start after a gap proportional to this one's length.
struct Collecting {
    busy: Arc<AtomicBool>,
    next: Arc<Mutex<Option<Instant>>>,
    began: Instant,
}

impl Drop for Collecting {
    fn drop(&mut self) {
        let gap = (self.began.elapsed() * GAP_FACTOR).max(MIN_GAP);
        *self.next.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + gap);
        self.busy.store(false, Ordering::Release);
    }
}

/// The outcome of inserting a generation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    Won,
    /// Someone else inserted this generation first (E11000).
    Lost,
}

impl Store {
    pub fn new(db: &Database, collection: &str) -> Result<Store> {
        Ok(Store {
            db: db.clone(),
            coll: db.driver()?.collection(collection),
            collecting: Arc::default(),
            next_collect: Arc::default(),
            counters: Arc::default(),
        })
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn collection_name(&self) -> &str {
        self.coll.name()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn counters_arc(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// One round trip of the lock, timed for the counters.
    fn round_trip<T>(
        &self,
        limit: Duration,
        what: &str,
        fut: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let sent = Instant::now();
        let res = runtime::run(limit, what, fut);
        self.counters.round_trip(sent.elapsed());
        res
    }

    /// The newest generation of `key`, if any. From a fresh `start` by point
    /// reads; otherwise, or when the reads outlast the start's freshness, by
    /// the `{key, gen}` query, which may scan.
    pub fn head(
        &self,
        key: &str,
        start: Option<&Start>,
        limit: Duration,
    ) -> Result<Option<Record>> {
        // What the first use left of the limit, from now.
        let left_after_first_use = self.ensure_index(limit)?;
        let end = Instant::now() + left_after_first_use;
        let left = || end.saturating_duration_since(Instant::now());
        let start = start.filter(|s| self.fresh(s.at)).cloned();
        if let Some(start) = start {
            if let Some(head) = self.probe(key, start, &left)? {
                return Ok(head);
            }
        }
        // Where the query scans, a key never written is told by one point
        // read (its first generation is never collected), when a round trip
        // more costs less than the scan.
        let client = self.db.client();
        if client.secondary_indexes() == Some(false)
            && client.short_network()
            && self.by_gen(key, 1, left())?.is_none()
        {
            return Ok(None);
        }
        self.scan_head(key, left())
    }

    /// The head, by point reads of the generations after `start`; `None` when
    /// `start` stopped being fresh before the last read was answered, or the
    /// head moved on faster than we read (the query then reads it at once).
    fn probe(
        &self,
        key: &str,
        mut start: Start,
        left: &impl Fn() -> Duration,
    ) -> Result<Option<Option<Record>>> {
        for _ in 0..MAX_PROBES {
            let next = start.head.as_ref().map_or(1, |h| h.gen + 1);
            match self.by_gen(key, next, left())? {
                Some(rec) => start.head = Some(rec),
                // The first missing generation ends the chain: the head is the one before.
                None => return Ok(self.fresh(start.at).then_some(start.head)),
            }
        }
        Ok(None)
    }

    /// Generation `gen` of `key`, by its `_id`.
    fn by_gen(&self, key: &str, gen: i64, limit: Duration) -> Result<Option<Record>> {
        let d = self.find_one(doc! {"_id": record_id(key, gen)}, limit)?;
        d.map(|d| self.record(&d)).transpose()
    }

    /// The head by the `{key, gen}` query: right whatever this locker knows,
    /// but a collection scan on FerretDB.
    fn scan_head(&self, key: &str, limit: Duration) -> Result<Option<Record>> {
        let client = self.db.client();
        let d = self.round_trip(limit, "reading the lock", async {
            let mut cursor = self
                .coll
                .find(doc! {"key": key, "gen": {"$gte": 1_i64}})
                .sort(doc! {"gen": -1})
                .limit(1)
                .await
                .map_err(|e| client.db_error(e))?;
            if !cursor.advance().await.map_err(|e| client.db_error(e))? {
                return Ok(None);
            }
            let raw = cursor
                .deserialize_current()
                .map_err(|e| client.db_error(e))?;
            Ok(Some(raw))
        })?;
        d.map(|d| self.record(&d)).transpose()
    }

    fn find_one(&self, filter: Document, limit: Duration) -> Result<Option<Document>> {
        let client = self.db.client();
        self.round_trip(limit, "reading the lock", async {
            self.coll
                .find_one(filter)
                .await
                .map_err(|e| client.db_error(e))
        })
    }

    fn record(&self, d: &Document) -> Result<Record> {
        Record::from_document(d).ok_or_else(|| {
            self.db
                .client()
                .db_error(format!("malformed lock document {:?}", d.get("_id")))
        })
    }

    /// Whether a start observed at `at` is still fresh by this host's clock.
    fn fresh(&self, at: SystemTime) -> bool {
        let now = self.db.client().clock().now();
        now.duration_since(at).map_or(true, |age| age < FRESH)
    }

    /// Inserts `rec`; `Lost` when its generation already exists.
    pub fn insert(&self, rec: &Record, limit: Duration) -> Result<Insert> {
        let limit = self.ensure_index(limit)?;
        let client = self.db.client();
        self.round_trip(limit, "writing the lock", async {
            match self.coll.insert_one(rec.to_document()).await {
                Ok(_) => Ok(Insert::Won),
                Err(e) if is_duplicate_key(&e) => Ok(Insert::Lost),
                Err(e) => Err(client.db_error(e)),
            }
        })
    }

    /// Whether a collection may start now: none is under way, and the gap
    /// after the last one has passed.
    pub fn may_collect(&self) -> bool {
        !self.collecting.load(Ordering::Acquire)
            && self
                .next_collect
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none_or(|t| Instant::now() >= t)
    }

    /// Deletes the generations of `key` below `below_gen`, in the background:
    /// FerretDB reads the whole collection for a delete, so no caller waits
    /// for it. `below_gen` is never the head's successor, and documents are
    /// immutable, so this cannot race with a decision: see docs/design.md
    /// ("Collecting old generations").
    pub fn collect(&self, key: &str, below_gen: i64, limit: Duration) {
        // One at a time per locker: a slow server must not pile deletes up.
        if self.collecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let done = Collecting {
            busy: self.collecting.clone(),
            next: self.next_collect.clone(),
            began: Instant::now(),
        };
        // Not the client: a collection under way must not keep it alive.
        let (coll, secrets) = (self.coll.clone(), self.db.client().secrets());
        // Generation 1 stays: its absence tells that a key was never written.
        let filter = doc! {"key": key, "gen": {"$gt": 1_i64, "$lt": below_gen}};
        runtime::spawn(limit, "collecting old lock generations", async move {
            let _done = done;
            coll.delete_many(filter)
                .await
                .map(|_| ())
                .map_err(|e| Error::Database(redact(&e.to_string(), &secrets)))
        });
    }

    /// Creates the `{key, gen}` index once per client and collection, within
    /// the `limit` of the call it precedes, and returns what is left of it.
    /// Failure is logged, not fatal (the call goes on) unless it used up the
    /// whole limit (an unreachable server: the call would only wait again).
    /// We never drop or change an existing index.
    fn ensure_index(&self, limit: Duration) -> Result<Duration> {
        if !self.db.client().first_use(self.db.name(), self.coll.name()) {
            return Ok(limit);
        }
        let end = Instant::now() + limit;
        let model = IndexModel::builder()
            .keys(doc! {"key": 1, "gen": -1})
            .options(IndexOptions::builder().name(INDEX_NAME.to_owned()).build())
            .build();
        let client = self.db.client();
        let driver_db = self.db.driver()?;
        // One after the other on one connection: a first use through a slow
        // network must not open more connections than it needs.
        let prepared = runtime::run(limit, "preparing the lock collection", async {
            let refusal = collection_check::refusal(client, &driver_db, self.coll.name()).await;
            if !matches!(refusal, Ok(None)) || !uses_secondary_indexes(client, &driver_db).await {
                return Ok((refusal, Ok(())));
            }
            let created = self.coll.create_index(model).await.map(|_| ());
            Ok((refusal, created.map_err(|e| client.db_error(e))))
        });
        // Fail closed: a collection we could not check is checked again next time.
        let refused = match prepared {
            Ok((Ok(None), created)) => {
                if let Err(e) = created {
                    log_at!(
                        Warn,
                        "could not create index {INDEX_NAME} on {}: {e}",
                        self.coll.name()
                    );
                }
                None
            }
            Ok((Ok(Some(why)), _)) => Some(collection_check::refused(why)),
            Ok((Err(e), _)) | Err(e) => {
                log_at!(Warn, "could not check collection {}: {e}", self.coll.name());
                Some(e)
            }
        };
        if let Some(e) = refused {
            client.retry_first_use(self.db.name(), self.coll.name());
            return Err(e);
        }
        Ok(end.saturating_duration_since(Instant::now()))
    }
}

/// Whether the server serves filtered queries from secondary indexes. FerretDB
/// v1 never does (docs/ferretdb-pushdown.md): there the `{key, gen}` index
/// would only make every insert slower (by about a third). Its embedded builds
/// report the version "unknown". In doubt, yes.
async fn uses_secondary_indexes(client: &Client, db: &mongodb::Database) -> bool {
    if let Some(known) = client.secondary_indexes() {
        return known;
    }
    let Ok(info) = db.run_command(doc! {"buildInfo": 1}).await else {
        return true;
    };
    let yes = info.get_str("ferretdbVersion").map_or(true, |version| {
        let major = version.trim_start_matches('v').split('.').next();
        major
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m >= 2)
    });
    client.learned_secondary_indexes(yes);
    yes
}

/// Creates one index (a no-op on the server when it exists as asked).
pub(crate) fn create_index(
    db: &Database,
    coll: &Collection<Document>,
    model: IndexModel,
    limit: Duration,
) -> Result<()> {
    runtime::run(limit, "creating an index", async {
        coll.create_index(model)
            .await
            .map_err(|e| db.client().db_error(e))?;
        Ok(())
    })
}

/// True for E11000, however the server or driver wraps it.
pub(crate) fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(we)) => we.code == 11000,
        ErrorKind::Command(ce) => ce.code == 11000,
        ErrorKind::InsertMany(im) => im
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|we| we.code == 11000)),
        _ => false,
    }
}
