//! The values lockers and electors report: the seed's dictionaries as structs.

use std::time::{Duration, SystemTime};

/// The live lock of a key (`get_current()`): the seed's document plus `fence`.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentLock {
    /// The lock key (the seed's `_id`).
    pub key: String,
    /// Always true: a released or expired lock has no current document.
    pub locked: bool,
    pub host: String,
    pub uuid: String,
    pub pid: i64,
    pub ts_created: SystemTime,
    pub ts_expire: SystemTime,
    /// The fencing token of the holding.
    pub fence: i64,
}

/// A locker's view of its lock (`status`).
#[derive(Debug, Clone, PartialEq)]
pub struct LockStatus {
    pub uuid: String,
    pub key: String,
    pub ttl: Duration,
    pub timestamp: SystemTime,
    pub host: String,
    pub pid: i64,
    pub lock_owned: bool,
    /// When this locker's holding began; `None` unless `lock_owned`.
    pub lock_created: Option<SystemTime>,
    pub lock_expires: Option<SystemTime>,
    /// The fencing token of this locker's holding; `None` unless `lock_owned`.
    pub fence: Option<i64>,
}

/// One elector's report (`node_status`, and each entry of `member_detail`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    pub lock: LockStatus,
    pub is_leader: bool,
    pub elector_running: bool,
    pub last_poll: Option<SystemTime>,
    pub app_version: Option<String>,
}

/// Who leads, from the lock's head (never from the nodes' own reports).
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderInfo {
    pub host: String,
    pub process_id: i64,
    pub uuid: String,
    pub fence: i64,
}

/// The whole group (`cluster_detail`): live members, newest report first.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDetail {
    pub member_detail: Vec<NodeStatus>,
    pub leader: Option<LeaderInfo>,
    pub timestamp: SystemTime,
}
