//! The immutable generation documents that make up a lock.
//!
//! A lock `key` is the sequence of documents `{_id: "<key>#<gen>", key, gen, ...}`;
//! the one with the highest `gen` (the head) is the lock's state. Documents are
//! only ever inserted, never updated, so the unique `_id` index alone decides
//! every race.

use std::time::SystemTime;

use mongodb::bson::{doc, DateTime, Document};

/// One generation of a lock.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub key: String,
    pub gen: i64,
    /// The generation at which the holding began (the fencing token); kept by renewals.
    pub fence: i64,
    /// False for a release record.
    pub locked: bool,
    pub uuid: String,
    pub host: String,
    pub pid: i64,
    /// When the holding began.
    pub ts_created: DateTime,
    /// When the lease ends (for a release record: when it was released).
    pub ts_expire: DateTime,
    /// When this document was written; old generations are collected by it.
    pub ts_written: DateTime,
}

/// What the head says about the lock, judged at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Never locked, released, or expired.
    Free,
    /// Held by the locker with this uuid.
    Me,
    Other,
}

/// The `_id` of generation `gen` of `key`. The generation is the text after
/// the last `#`, so any key (including ones with `#`) maps to distinct ids.
pub(crate) fn record_id(key: &str, gen: i64) -> String {
    format!("{key}#{gen}")
}

impl Record {
    /// Who holds the lock according to this head, at wall time `now`.
    pub fn holder(&self, my_uuid: &str, now: SystemTime) -> Holder {
        if !self.locked || self.ts_expire.to_system_time() <= now {
            Holder::Free
        } else if self.uuid == my_uuid {
            Holder::Me
        } else {
            Holder::Other
        }
    }

    pub fn to_document(&self) -> Document {
        doc! {
            "_id": record_id(&self.key, self.gen),
            "key": &self.key,
            "gen": self.gen,
            "fence": self.fence,
            "locked": self.locked,
            "uuid": &self.uuid,
            "host": &self.host,
            "pid": self.pid,
            "ts_created": self.ts_created,
            "ts_expire": self.ts_expire,
            "ts_written": self.ts_written,
        }
    }

    /// Reads a document written by [`Record::to_document`]; `None` if it is not one.
    pub fn from_document(d: &Document) -> Option<Record> {
        Some(Record {
            key: d.get_str("key").ok()?.to_owned(),
            gen: d.get_i64("gen").ok()?,
            fence: d.get_i64("fence").ok()?,
            locked: d.get_bool("locked").ok()?,
            uuid: d.get_str("uuid").ok()?.to_owned(),
            host: d.get_str("host").ok()?.to_owned(),
            pid: d.get_i64("pid").ok()?,
            ts_created: *d.get_datetime("ts_created").ok()?,
            ts_expire: *d.get_datetime("ts_expire").ok()?,
            ts_written: *d.get_datetime("ts_written").ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rec(locked: bool, uuid: &str, expire_ms: i64) -> Record {
        Record {
            key: "k#1".into(),
            gen: 7,
            fence: 5,
            locked,
            uuid: uuid.into(),
            host: "h".into(),
            pid: 1,
            ts_created: DateTime::from_millis(0),
            ts_expire: DateTime::from_millis(expire_ms),
            ts_written: DateTime::from_millis(0),
        }
    }

    #[test]
    fn documents_round_trip_and_ids_are_unambiguous() {
        let r = rec(true, "u", 10);
        let d = r.to_document();
        assert_eq!(d.get_str("_id").unwrap(), "k#1#7");
        assert_eq!(Record::from_document(&d), Some(r));
        assert_ne!(record_id("a#1", 2), record_id("a", 12));
        assert_eq!(Record::from_document(&doc! {"_id": "x"}), None);
    }

    #[test]
    fn holder_follows_locked_owner_and_expiry() {
        let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(rec(true, "me", 1000).holder("me", at(999)), Holder::Me);
        assert_eq!(rec(true, "you", 1000).holder("me", at(999)), Holder::Other);
        assert_eq!(rec(true, "you", 1000).holder("me", at(1000)), Holder::Free);
        assert_eq!(rec(false, "me", 5000).holder("me", at(1)), Holder::Free);
    }
}
