//! What a server would do to our lock documents on its own: a TTL index
//! deletes them (the original package leaves one on `ts_expire`), a unique
//! index on our fields rejects new generations, a capped collection drops old
//! ones. Any of these breaks the chain of generations (a released lock read
//! as held, fences going backwards), so such a collection is refused, with the
//! index named and the fix.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::Collection;

use super::client::Database;
use super::error::{Error, Result};
use super::runtime;

/// Why `coll` is unsafe for lock documents, if it is.
pub(crate) fn refusal(
    db: &Database,
    coll: &Collection<Document>,
    limit: Duration,
) -> Result<Option<String>> {
    let client = db.client();
    let name = coll.name().to_owned();
    let driver_db = db.driver()?;
    runtime::run(limit, "checking the lock collection", async {
        let specs = driver_db
            .run_command(doc! {"listCollections": 1, "filter": {"name": &name}})
            .await
            .map_err(|e| client.db_error(e))?;
        let capped = specs
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .ok()
            .and_then(|b| b.first())
            .and_then(|s| s.as_document())
            .and_then(|s| s.get_document("options").ok())
            .is_some_and(|o| o.get_bool("capped").unwrap_or(false));
        if capped {
            return Ok(Some(format!(
                "collection {name} is capped: the server would drop old lock documents; use another collection"
            )));
        }
        let listed = driver_db.run_command(doc! {"listIndexes": &name}).await;
        let indexes = match listed {
            Ok(r) => r
                .get_document("cursor")
                .and_then(|c| c.get_array("firstBatch"))
                .map(|b| {
                    b.iter()
                        .filter_map(|i| i.as_document().cloned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
            // A collection that does not exist yet has no indexes.
            Err(e) if is_namespace_not_found(&e) => Vec::new(),
            Err(e) => return Err(client.db_error(e)),
        };
        Ok(indexes.iter().find_map(|i| index_refusal(&name, i)))
    })
}

/// Why index `i` of collection `coll` is unsafe, if it is.
fn index_refusal(coll: &str, i: &Document) -> Option<String> {
    let name = i.get_str("name").unwrap_or("?");
    let keys = i
        .get_document("key")
        .map(|k| k.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let fix = format!(
        "drop it (db.getCollection(\"{coll}\").dropIndex(\"{name}\")) or use another collection"
    );
    if i.contains_key("expireAfterSeconds") {
        return Some(format!(
            "collection {coll} has a TTL index {name:?} on {keys:?}: the server would delete lock documents \
             and break the chain of generations (the original package creates one on ts_expire); {fix}"
        ));
    }
    let unique = i.get_bool("unique").unwrap_or(false);
    if unique && keys != ["_id"] {
        return Some(format!(
            "collection {coll} has a unique index {name:?} on {keys:?}: the server would reject new lock generations; {fix}"
        ));
    }
    None
}

fn is_namespace_not_found(e: &mongodb::error::Error) -> bool {
    matches!(&*e.kind, mongodb::error::ErrorKind::Command(c) if c.code == 26)
}

/// The error for a refused collection.
pub(crate) fn refused(why: String) -> Error {
    Error::InvalidState(why)
}
