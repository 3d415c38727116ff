//! The database operations of a lock: read the head, insert a generation,
//! collect old generations. Every call is bounded in time.
//!
//! FerretDB v1 serves only `_id` equality from an index (docs/ferretdb-pushdown.md),
//! so the head is found by point reads of `_id`s, forward from a generation known
//! to have been the head recently (docs/design.md, "Finding the head").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mongodb::bson::{doc, DateTime, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::client::Database;
use super::collection_check;
use super::error::Result;
use super::locker::GRACE;
use super::log::log_at;
use super::record::{record_id, Record};
use super::runtime;
use super::stats::Counters;

const INDEX_NAME: &str = "mongoelector_key_gen";
/// A start is trusted for point reads this long after it was the head: every
/// later generation is younger than this, so none of them can be collected yet.
const FRESH: Duration = Duration::from_secs(GRACE.as_secs() / 2);

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
    counters: Arc<Counters>,
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
        self.scan_head(key, left())
    }

    /// The head, by point reads of the generations after `start`; `None` when
    /// `start` stopped being fresh before the last read was answered.
    fn probe(
        &self,
        key: &str,
        mut start: Start,
        left: &impl Fn() -> Duration,
    ) -> Result<Option<Option<Record>>> {
        loop {
            let next = start.head.as_ref().map_or(1, |h| h.gen + 1);
            match self.by_gen(key, next, left())? {
                Some(rec) => start.head = Some(rec),
                // The first missing generation ends the chain: the head is the one before.
                None => return Ok(self.fresh(start.at).then_some(start.head)),
            }
        }
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

    /// Deletes generations of `key` below `below_gen` written before `before`, in the background: FerretDB scans the collection for
    /// any delete, so no caller waits for it. The head is never among them, and
    /// documents are immutable, so this cannot race with a decision: see
    /// docs/design.md ("Collecting old generations").
    pub fn collect(&self, key: &str, below_gen: i64, before: DateTime, limit: Duration) {
        // One at a time per locker: a slow server must not pile deletes up.
        if self.collecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let (coll, client, busy) = (
            self.coll.clone(),
            self.db.client().clone(),
            self.collecting.clone(),
        );
        let filter = doc! {"key": key, "gen": {"$lt": below_gen}, "ts_written": {"$lt": before}};
        runtime::spawn(limit, "collecting old lock generations", async move {
            let res = coll
                .delete_many(filter)
                .await
                .map_err(|e| client.db_error(e));
            busy.store(false, Ordering::Release);
            res.map(|_| ())
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
            if !matches!(refusal, Ok(None)) {
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
