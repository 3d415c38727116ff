//! What a server would do to our lock documents on its own: a TTL index
//! deletes them (the original package leaves one on `ts_expire`), a unique
//! index on our fields rejects new generations. Either breaks the chain of
//! generations (a released lock read as held, fences going backwards), so such
//! a collection is refused, with the index named and the fix.

use mongodb::bson::{doc, Document};

use super::client::Client;
use super::error::{Error, Result};

/// Why collection `name` of `db` is unsafe for lock documents, if it is,
/// from its indexes (one round trip, on the connection the call goes on to use).
pub(crate) async fn refusal(
    client: &Client,
    db: &mongodb::Database,
    name: &str,
) -> Result<Option<String>> {
    let indexes = match db.run_command(doc! {"listIndexes": name}).await {
        Ok(r) => first_batch(&r),
        // A collection that does not exist yet has no indexes.
        Err(e) if is_namespace_not_found(&e) => Vec::new(),
        Err(e) => return Err(client.db_error(e)),
    };
    Ok(indexes.iter().find_map(|i| index_refusal(name, i)))
}

fn first_batch(reply: &Document) -> Vec<Document> {
    reply
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .map(|b| b.iter().filter_map(|i| i.as_document().cloned()).collect())
        .unwrap_or_default()
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
