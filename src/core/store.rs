//! The database operations of a lock: read the head, insert a generation,
//! collect old generations. Every call is bounded in time.
//!
//! FerretDB v1 serves only `_id` equality from an index (docs/ferretdb-pushdown.md),
//! so the head is found by point reads of `_id`s, forward from a generation known
//! to have been the head recently (docs/design.md, "Finding the head").

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mongodb::bson::{doc, DateTime, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::client::{redact, Database};
use super::collection_check;
use super::error::{Error, Result};
use super::locker::GRACE;
use super::log::log_at;
use super::record::{hint_id, record_id, Record};
use super::runtime;
use super::stats::Counters;

const INDEX_NAME: &str = "mongoelector_key_gen";
/// A start is trusted for point reads this long after it was the head: every
/// later generation is younger than this, so none of them can be collected yet.
const FRESH: Duration = Duration::from_secs(GRACE.as_secs() / 2);
/// The least time between two collections by one locker.
const COLLECT_GAP: Duration = Duration::from_secs(GRACE.as_secs() / 2);
/// Generations read together, in one round trip, when reading forward: a
/// contender polling every step finds a few new ones at most (`by_gens`
/// joins this many reads).
const BATCH: usize = 4;
/// Batches read forward before the hint is consulted (it may be further ahead).
const BATCHES_PER_HINT: u32 = 2;
/// Hints are kept per time bucket of this length, so the two newest buckets
/// hold every hint young enough to be fresh.
const HINT_BUCKET: Duration = Duration::from_secs(FRESH.as_secs() / 2);

/// The hint bucket of wall time `t`.
pub(crate) fn hint_bucket(t: SystemTime) -> i64 {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    (secs / HINT_BUCKET.as_secs()) as i64
}

/// A generation that was the head at wall time `at` (`head: None`: the key had
/// no generation then). Every later generation was decided after `at`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Start {
    pub head: Option<Record>,
    pub at: SystemTime,
}

/// Where reading forward begins: generation `next` and on were decided after
/// `at`; `head` is generation `next - 1` when known.
struct Forward {
    next: i64,
    head: Option<Record>,
    at: SystemTime,
}

impl Forward {
    fn after(s: &Start) -> Forward {
        Forward {
            next: s.head.as_ref().map_or(1, |h| h.gen + 1),
            head: s.head.clone(),
            at: s.at,
        }
    }
}

/// A network round trip longer than this makes reading forward (a round trip
/// per batch, and connections of its own) dearer than the one query.
const LONG_RTT: Duration = Duration::from_millis(50);
/// Flat calls whose shortest is taken as the network's round trip.
const RTT_WINDOW: u32 = 16;

/// The network's round trip to the server: the shortest of the latest flat
/// calls (inserts and point reads cost the same on any server whatever the
/// collection holds, so their floor is the network, not the server's load).
struct RttFloor {
    floor_ns: AtomicU64,
    window_ns: AtomicU64,
    samples: AtomicU32,
}

impl RttFloor {
    fn new() -> RttFloor {
        RttFloor {
            floor_ns: AtomicU64::new(0),
            window_ns: AtomicU64::new(u64::MAX),
            samples: AtomicU32::new(0),
        }
    }

    fn add(&self, took: Duration) {
        let ns = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.window_ns.fetch_min(ns, Ordering::Relaxed);
        let n = self.samples.fetch_add(1, Ordering::Relaxed) + 1;
        // The first sample counts at once: a slow network must not wait a window.
        if n == 1 || n.is_multiple_of(RTT_WINDOW) {
            let floor = self.window_ns.swap(u64::MAX, Ordering::Relaxed);
            self.floor_ns.store(floor, Ordering::Relaxed);
        }
    }

    fn long(&self) -> bool {
        self.floor_ns.load(Ordering::Relaxed) > LONG_RTT.as_nanos() as u64
    }
}

/// Marks a collection ended when dropped, also when it timed out.
struct Collecting {
    busy: Arc<AtomicBool>,
    last: Arc<Mutex<Option<Instant>>>,
}

impl Drop for Collecting {
    fn drop(&mut self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.busy.store(false, Ordering::Release);
    }
}

/// The lock collection of one locker.
pub(crate) struct Store {
    db: Database,
    coll: Collection<Document>,
    /// A collection of old generations is under way.
    collecting: Arc<AtomicBool>,
    /// When this locker's latest collection ended.
    last_collect: Arc<Mutex<Option<Instant>>>,
    counters: Arc<Counters>,
    rtt: RttFloor,
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
            last_collect: Arc::default(),
            counters: Arc::default(),
            rtt: RttFloor::new(),
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

    /// The newest generation of `key`, if any, in one bounded call. From a
    /// fresh `start` by point reads forward (by the query when the network's
    /// round trip is long); from a cold start by whichever
    /// answers first of the `{key, gen}` query (one round trip, but a scan on
    /// FerretDB) and the key's hint followed by point reads (flat in the
    /// collection's size, but two round trips or more): a slow network gets
    /// the query's answer, a crowded FerretDB collection the hint's.
    pub fn head(
        &self,
        key: &str,
        start: Option<&Start>,
        limit: Duration,
    ) -> Result<Option<Record>> {
        let limit = self.ensure_index(limit)?;
        let warm = start.filter(|s| self.fresh(s.at)).map(Forward::after);
        self.round_trip(limit, "reading the lock", async {
            if warm.is_some() && self.rtt.long() {
                return self.query(key).await;
            }
            if let Some(from) = warm {
                if let Some(head) = self.forward(key, from).await? {
                    return Ok(head);
                }
                return self.query(key).await;
            }
            let by_hint = async {
                match self.hint(key).await? {
                    Some(from) => self.forward(key, from).await,
                    None => Ok(None),
                }
            };
            let query = self.query(key);
            tokio::pin!(by_hint, query);
            // The query first, so it gets the pooled connection: on a slow
            // network the hint's path waits for new ones.
            tokio::select! {
                biased;
                head = &mut query => head,
                head = &mut by_hint => match head {
                    Ok(Some(head)) => Ok(head),
                    _ => query.await,
                },
            }
        })
    }

    /// The head, by batches of point reads forward from `from`; `None` when
    /// the start stopped being fresh before the last batch was answered, or
    /// a hint's generation was missing (clocks too far apart to trust it).
    async fn forward(&self, key: &str, mut from: Forward) -> Result<Option<Option<Record>>> {
        let mut batches = 0;
        loop {
            let batch = self.gens(key, from.next).await?;
            let found = batch.iter().take_while(|r| r.is_some()).count();
            if found == 0 && from.head.is_none() && from.next > 1 {
                return Ok(None);
            }
            if let Some(rec) = batch.into_iter().take(found).flatten().next_back() {
                from.next = rec.gen + 1;
                from.head = Some(rec);
            }
            // The first missing generation ends the chain: the head is the one before.
            if found < BATCH {
                return Ok(self.fresh(from.at).then_some(from.head));
            }
            batches += 1;
            if batches % BATCHES_PER_HINT == 0 {
                if let Some(h) = self.hint(key).await? {
                    if h.next > from.next {
                        from = h;
                    }
                }
            }
        }
    }

    /// Where the newest fresh hint of `key` says to read from (both buckets'
    /// hints in one round trip, the newer first).
    async fn hint(&self, key: &str) -> Result<Option<Forward>> {
        let now = hint_bucket(self.db.client().clock().now());
        let client = self.db.client();
        let (newer, older) = tokio::join!(
            self.coll.find_one(doc! {"_id": hint_id(key, now)}),
            self.coll.find_one(doc! {"_id": hint_id(key, now - 1)}),
        );
        let (newer, older) = (
            newer.map_err(|e| client.db_error(e))?,
            older.map_err(|e| client.db_error(e))?,
        );
        for d in [newer, older].into_iter().flatten() {
            let (Ok(gen), Ok(at)) = (d.get_i64("head_gen"), d.get_datetime("head_at")) else {
                continue;
            };
            let at = at.to_system_time();
            if self.fresh(at) {
                // The hinted generation itself is read first: it was the head at `at`.
                return Ok(Some(Forward {
                    next: gen,
                    head: None,
                    at,
                }));
            }
        }
        Ok(None)
    }

    /// Records `rec`, a generation that just won, as the hint of the current
    /// time bucket, unless one exists (then that one stands: it is as good),
    /// in the background: nobody waits for a hint. Only inserts: FerretDB
    /// updates and deletes scan the collection.
    pub fn write_hint(&self, rec: &Record, limit: Duration) {
        let bucket = hint_bucket(rec.ts_written.to_system_time());
        let hint = doc! {
            "_id": hint_id(&rec.key, bucket),
            "head_of": &rec.key,
            "head_gen": rec.gen,
            "head_at": rec.ts_written,
        };
        let (coll, client) = (self.coll.clone(), self.db.client().clone());
        runtime::spawn(limit, "writing the lock hint", async move {
            match coll.insert_one(hint).await {
                Err(e) if !is_duplicate_key(&e) => Err(client.db_error(e)),
                _ => Ok(()),
            }
        });
    }

    /// Generations `first` .. `first + BATCH - 1` of `key`, by their `_id`s,
    /// read concurrently (one round trip).
    async fn gens(&self, key: &str, first: i64) -> Result<Vec<Option<Record>>> {
        let client = self.db.client();
        let one = |gen: i64| self.coll.find_one(doc! {"_id": record_id(key, gen)});
        let sent = Instant::now();
        let (a, b, c, d) = tokio::join!(one(first), one(first + 1), one(first + 2), one(first + 3));
        self.rtt.add(sent.elapsed());
        [a, b, c, d]
            .into_iter()
            .map(|r| {
                r.map_err(|e| client.db_error(e))?
                    .map(|d| self.record(&d))
                    .transpose()
            })
            .collect()
    }

    /// The head by the `{key, gen}` query: right whatever this locker knows,
    /// but a collection scan on FerretDB.
    async fn query(&self, key: &str) -> Result<Option<Record>> {
        let client = self.db.client();
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
        self.record(&raw).map(Some)
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
            let sent = Instant::now();
            let res = self.coll.insert_one(rec.to_document()).await;
            self.rtt.add(sent.elapsed());
            match res {
                Ok(_) => Ok(Insert::Won),
                Err(e) if is_duplicate_key(&e) => Ok(Insert::Lost),
                Err(e) => Err(client.db_error(e)),
            }
        })
    }

    /// Deletes generations of `key` below `below_gen`, and its hints, written
    /// before `before`, in the background: FerretDB scans the collection for
    /// any delete, so no caller waits for it. The head is never among them, and
    /// documents are immutable, so this cannot race with a decision: see
    /// docs/design.md ("Collecting old generations").
    ///
    /// One at a time per locker, and at most one per `COLLECT_GAP`: a delete
    /// due sooner waits for the gap's end (with the filter of when it was due,
    /// which only deletes less). On FerretDB each delete scans what the
    /// collection holds, about `rate × (GRACE + COLLECT_GAP)` documents of a
    /// busy key, so spacing them in time keeps the scanning per write constant
    /// whatever the rate, where one delete per 32 writes made it grow with it.
    pub fn collect(&self, key: &str, below_gen: i64, before: DateTime, limit: Duration) {
        if self.collecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let wait = self
            .last_collect
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(Duration::ZERO, |t| COLLECT_GAP.saturating_sub(t.elapsed()));
        // Not the client: a deferred collection must not keep it alive.
        let (coll, secrets) = (self.coll.clone(), self.db.client().secrets());
        let done = Collecting {
            busy: self.collecting.clone(),
            last: self.last_collect.clone(),
        };
        let filter = doc! {"$or": [
            {"key": key, "gen": {"$lt": below_gen}, "ts_written": {"$lt": before}},
            {"head_of": key, "head_at": {"$lt": before}},
        ]};
        runtime::spawn(
            limit + wait,
            "collecting old lock generations",
            async move {
                let _done = done;
                tokio::time::sleep(wait).await;
                coll.delete_many(filter)
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::Database(redact(&e.to_string(), &secrets)))
            },
        );
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
