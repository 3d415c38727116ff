//! The group's status documents (`elector.leader_status`): each elector
//! reports itself under its own uuid; dead members' reports are removed.

use std::time::{Duration, SystemTime};

use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::{IndexOptions, ReplaceOptions};
use mongodb::{Collection, IndexModel};

use crate::core::client::Database;
use crate::core::error::Result;
use crate::core::log::log_at;
use crate::core::status::{LockStatus, NodeStatus};
use crate::core::{runtime, store};

pub const STATUS_COLLECTION: &str = "elector.leader_status";
/// A member whose latest report is older than this many ttls is dead.
pub(crate) const LIVE_TTLS: u32 = 3;

pub(crate) struct Members {
    db: Database,
    coll: Collection<Document>,
    key: String,
    ttl: Duration,
}

impl Members {
    pub fn new(db: &Database, key: &str, ttl: Duration) -> Result<Members> {
        Ok(Members {
            db: db.clone(),
            coll: db.driver()?.collection(STATUS_COLLECTION),
            key: key.to_owned(),
            ttl,
        })
    }

    fn live_after(&self, now: SystemTime) -> DateTime {
        DateTime::from_system_time(now - self.ttl * LIVE_TTLS)
    }

    /// Writes this node's report (its `_id` is the node's uuid).
    pub fn report(&self, status: &NodeStatus, limit: Duration) -> Result<()> {
        self.ensure_indexes(limit);
        let client = self.db.client();
        let doc = to_document(status);
        runtime::run(limit, "reporting node status", async {
            self.coll
                .replace_one(doc! {"_id": &status.lock.uuid}, doc)
                .with_options(ReplaceOptions::builder().upsert(true).build())
                .await
                .map_err(|e| client.db_error(e))?;
            Ok(())
        })
    }

    /// Removes reports of this group's members that stopped reporting; for
    /// servers without TTL indexes (the leader calls it about once per ttl).
    pub fn remove_dead(&self, now: SystemTime, limit: Duration) -> Result<u64> {
        let client = self.db.client();
        let filter = doc! {"key": &self.key, "timestamp": {"$lt": self.live_after(now)}};
        runtime::run(limit, "removing dead members", async {
            let res = self
                .coll
                .delete_many(filter)
                .await
                .map_err(|e| client.db_error(e))?;
            Ok(res.deleted_count)
        })
    }

    /// The group's live members, newest report first.
    pub fn live(&self, now: SystemTime, limit: Duration) -> Result<Vec<NodeStatus>> {
        let client = self.db.client();
        let filter = doc! {"key": &self.key, "timestamp": {"$gt": self.live_after(now)}};
        runtime::run(limit, "reading members", async {
            let mut cursor = self
                .coll
                .find(filter)
                .sort(doc! {"timestamp": -1})
                .await
                .map_err(|e| client.db_error(e))?;
            let mut out = Vec::new();
            while cursor.advance().await.map_err(|e| client.db_error(e))? {
                let d: Document = cursor
                    .deserialize_current()
                    .map_err(|e| client.db_error(e))?;
                match from_document(&d) {
                    Some(s) => out.push(s),
                    None => log_at!(
                        Debug,
                        "skipping malformed status document {:?}",
                        d.get("_id")
                    ),
                }
            }
            Ok(out)
        })
    }

    /// A TTL index where the server has them (FerretDB v1 refuses: 238), and
    /// an index on `key`. Failures are logged; existing indexes are never dropped.
    fn ensure_indexes(&self, limit: Duration) {
        if !self
            .db
            .client()
            .first_use(self.db.name(), STATUS_COLLECTION)
        {
            return;
        }
        let expire = self.ttl * LIVE_TTLS;
        let ttl_index = IndexModel::builder()
            .keys(doc! {"timestamp": 1})
            .options(
                IndexOptions::builder()
                    .name("mongoelector_status_ttl".to_owned())
                    .expire_after(expire.max(Duration::from_secs(1)))
                    .build(),
            )
            .build();
        let key_index = IndexModel::builder()
            .keys(doc! {"key": 1})
            .options(
                IndexOptions::builder()
                    .name("mongoelector_status_key".to_owned())
                    .build(),
            )
            .build();
        for model in [ttl_index, key_index] {
            if let Err(e) = store::create_index(&self.db, &self.coll, model, limit) {
                log_at!(
                    Debug,
                    "status index not created (dead members are removed by the leader): {e}"
                );
            }
        }
    }
}

fn opt_time(t: Option<SystemTime>) -> Bson {
    t.map_or(Bson::Null, |t| {
        Bson::DateTime(DateTime::from_system_time(t))
    })
}

fn to_document(s: &NodeStatus) -> Document {
    let l = &s.lock;
    doc! {
        "_id": &l.uuid,
        "uuid": &l.uuid,
        "key": &l.key,
        "ttl": l.ttl.as_secs_f64(),
        "timestamp": DateTime::from_system_time(l.timestamp),
        "host": &l.host,
        "pid": l.pid,
        "lock_owned": l.lock_owned,
        "lock_created": opt_time(l.lock_created),
        "lock_expires": opt_time(l.lock_expires),
        "fence": l.fence.map_or(Bson::Null, Bson::Int64),
        "is_leader": s.is_leader,
        "elector_running": s.elector_running,
        "last_poll": opt_time(s.last_poll),
        "app_version": s.app_version.as_deref().map_or(Bson::Null, |v| Bson::String(v.to_owned())),
    }
}

fn get_time(d: &Document, k: &str) -> Option<SystemTime> {
    d.get_datetime(k).ok().map(|t| t.to_system_time())
}

fn from_document(d: &Document) -> Option<NodeStatus> {
    Some(NodeStatus {
        lock: LockStatus {
            uuid: d.get_str("uuid").ok()?.to_owned(),
            key: d.get_str("key").ok()?.to_owned(),
            ttl: Duration::try_from_secs_f64(d.get_f64("ttl").ok()?).ok()?,
            timestamp: get_time(d, "timestamp")?,
            host: d.get_str("host").ok()?.to_owned(),
            pid: d.get_i64("pid").ok()?,
            lock_owned: d.get_bool("lock_owned").ok()?,
            lock_created: get_time(d, "lock_created"),
            lock_expires: get_time(d, "lock_expires"),
            fence: d.get_i64("fence").ok(),
        },
        is_leader: d.get_bool("is_leader").ok()?,
        elector_running: d.get_bool("elector_running").ok()?,
        last_poll: get_time(d, "last_poll"),
        app_version: d.get_str("app_version").ok().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_documents_round_trip() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_234_567);
        let s = NodeStatus {
            lock: LockStatus {
                uuid: "u".into(),
                key: "k".into(),
                ttl: Duration::from_millis(1500),
                timestamp: t,
                host: "h".into(),
                pid: 9,
                lock_owned: true,
                lock_created: Some(t),
                lock_expires: None,
                fence: Some(4),
            },
            is_leader: true,
            elector_running: false,
            last_poll: Some(t),
            app_version: None,
        };
        assert_eq!(from_document(&to_document(&s)), Some(s));
    }
}
