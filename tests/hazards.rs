//! Collections whose server would delete or reject lock documents on its own
//! (issue 14): a TTL index (the original package leaves one on `ts_expire`),
//! a unique index on our fields. They are refused with
//! the index named and the fix, and accepted again once fixed.

mod common;

use std::time::Duration;

use common::*;
use mongodb::bson::doc;
use mongoelector::{AcquireOptions, Error, LockerOptions, MongoLocker};

fn locker(db: &mongoelector::Database, coll: &str) -> MongoLocker {
    MongoLocker::new(
        "k",
        db,
        LockerOptions {
            dbcollection: coll.into(),
            ttl: Duration::from_secs(30),
            ..Default::default()
        },
    )
    .unwrap()
}

fn refused(l: &MongoLocker, what: &str) -> String {
    match l.acquire(AcquireOptions::default()) {
        Err(Error::InvalidState(m)) => {
            assert!(m.contains(what), "{m}");
            m
        }
        other => panic!("acquire on a collection with {what}: {other:?}"),
    }
}

#[test]
fn a_unique_index_on_our_fields_is_refused_until_dropped() {
    let (_c, db) = fresh_db("hz-unique");
    let raw = Raw::new(db.name());
    raw.command(doc! {"createIndexes": "locks", "indexes": [{"key": {"key": 1}, "name": "key_1", "unique": true}]})
        .unwrap();
    let l = locker(&db, "locks");
    let m = refused(&l, "unique index \"key_1\"");
    assert!(
        m.contains("dropIndex(\"key_1\")"),
        "the message gives the fix: {m}"
    );
    assert!(
        matches!(l.locked(), Err(Error::InvalidState(_))),
        "every call, not only the first"
    );
    raw.command(doc! {"dropIndexes": "locks", "index": "key_1"})
        .unwrap();
    l.acquire(AcquireOptions::default()).unwrap();
    assert!(l.owned().unwrap());
}

#[test]
fn the_originals_ttl_index_is_refused() {
    if is_ferretdb() {
        eprintln!("SKIP the_originals_ttl_index_is_refused: FerretDB v1 cannot create TTL indexes (so no such collection exists there)");
        return;
    }
    let (_c, db) = fresh_db("hz-ttl");
    let raw = Raw::new(db.name());
    raw.command(doc! {"createIndexes": "mongolocker", "indexes": [{"key": {"ts_expire": 1}, "name": "ts_expire_1", "expireAfterSeconds": 0}]})
        .unwrap();
    let m = refused(&locker(&db, "mongolocker"), "TTL index \"ts_expire_1\"");
    assert!(m.contains("dropIndex(\"ts_expire_1\")"), "{m}");
}
