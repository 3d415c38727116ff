//! mongoelector: distributed locks and leader election backed by MongoDB.
//!
//! Every contended lock transition (acquire, takeover, renew, release, force)
//! is the insert of a new immutable generation document with a unique `_id`,
//! so the lock is safe on MongoDB and on any server that enforces a unique
//! `_id` (see docs/design.md). The generation that began a holding is its
//! fencing token.
//!
//! ```no_run
//! use mongoelector::{AcquireOptions, Client, LockerOptions, MongoLocker};
//! use std::time::Duration;
//!
//! let client = Client::new("mongodb://127.0.0.1:27017")?;
//! let db = client.database("my_database")?;
//! let lock = MongoLocker::new("my-resource", &db, LockerOptions { ttl: Duration::from_secs(30), ..Default::default() })?;
//! lock.acquire(AcquireOptions::default())?;
//! // ... work while holding the lock; lock.fence() is the fencing token ...
//! lock.release(false)?;
//! # Ok::<(), mongoelector::Error>(())
//! ```

pub mod core;
pub mod ffi;

pub use crate::core::cancel::CancelToken;
pub use crate::core::client::{Client, Database};
pub use crate::core::clock::{Clock, SystemClock};
pub use crate::core::elector::{
    Callback, ElectorOptions, Health, LeaderCallback, MongoLeaderElector,
};
pub use crate::core::error::{Error, Result};
pub use crate::core::lease::{Ended, Lease};
pub use crate::core::locker::{
    AcquireOptions, Locker, LockerOptions, MongoLocker, OnLost, MAX_KEY_BYTES, MIN_TTL,
};
pub use crate::core::stats::Stats;
pub use crate::core::status::{ClusterDetail, CurrentLock, LeaderInfo, LockStatus, NodeStatus};

/// The README's Rust example is compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
