//! The database operations of a lock: read the head, insert a generation,
//! collect old generations. Every call is bounded in time.

use std::time::{Duration, Instant};

use mongodb::bson::{doc, DateTime, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::client::Database;
use super::error::Result;
use super::log::log_at;
use super::record::Record;
use super::runtime;

const INDEX_NAME: &str = "mongoelector_key_gen";

/// The lock collection of one locker.
pub(crate) struct Store {
    db: Database,
    coll: Collection<Document>,
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
        })
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn collection_name(&self) -> &str {
        self.coll.name()
    }

    /// The newest generation of `key`, if any.
    pub fn head(&self, key: &str, limit: Duration) -> Result<Option<Record>> {
        let limit = self.ensure_index(limit)?;
        let client = self.db.client();
        let docs = runtime::run(limit, "reading the lock", async {
            let mut cursor = self
                .coll
                .find(doc! {"key": key, "gen": {"$gte": 1_i64}})
                .sort(doc! {"gen": -1})
                .limit(1)
                .await
                .map_err(|e| client.db_error(e))?;
            let has = cursor.advance().await.map_err(|e| client.db_error(e))?;
            if !has {
                return Ok(None);
            }
            let raw = cursor
                .deserialize_current()
                .map_err(|e| client.db_error(e))?;
            Ok(Some(raw))
        })?;
        match docs {
            None => Ok(None),
            Some(d) => Record::from_document(&d).map(Some).ok_or_else(|| {
                client.db_error(format!("malformed lock document {:?}", d.get("_id")))
            }),
        }
    }

    /// Inserts `rec`; `Lost` when its generation already exists.
    pub fn insert(&self, rec: &Record, limit: Duration) -> Result<Insert> {
        let limit = self.ensure_index(limit)?;
        let client = self.db.client();
        runtime::run(limit, "writing the lock", async {
            match self.coll.insert_one(rec.to_document()).await {
                Ok(_) => Ok(Insert::Won),
                Err(e) if is_duplicate_key(&e) => Ok(Insert::Lost),
                Err(e) => Err(client.db_error(e)),
            }
        })
    }

    /// Deletes generations of `key` below `below_gen` written before `before`.
    /// The head is never among them, and documents are immutable, so this
    /// cannot race with a decision: see docs/design.md ("Collecting old generations").
    pub fn collect(
        &self,
        key: &str,
        below_gen: i64,
        before: DateTime,
        limit: Duration,
    ) -> Result<u64> {
        let client = self.db.client();
        runtime::run(limit, "collecting old lock generations", async {
            let filter =
                doc! {"key": key, "gen": {"$lt": below_gen}, "ts_written": {"$lt": before}};
            let res = self
                .coll
                .delete_many(filter)
                .await
                .map_err(|e| client.db_error(e))?;
            Ok(res.deleted_count)
        })
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
        if let Err(e) = create_index(&self.db, &self.coll, model, limit) {
            log_at!(
                Warn,
                "could not create index {INDEX_NAME} on {}: {e}",
                self.coll.name()
            );
            if Instant::now() >= end {
                self.db
                    .client()
                    .retry_first_use(self.db.name(), self.coll.name());
                return Err(e);
            }
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
