//! The records the C ABI hands out: `repr(C)` structs allocated by the
//! library, each freed (with the strings it owns) by its own `*_free`.
//! Times are `int64_t` milliseconds since the Unix epoch (UTC).

use std::ffi::{c_char, CString};
use std::time::{SystemTime, UNIX_EPOCH};

use super::boundary;
use crate::core::stats::Stats;
use crate::core::status::{ClusterDetail, CurrentLock, LeaderInfo, LockStatus, NodeStatus};

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn text(s: &str) -> *const c_char {
    CString::new(s.replace('\0', "\\0"))
        .unwrap_or_default()
        .into_raw()
        .cast_const()
}

fn opt_text(s: Option<&str>) -> *const c_char {
    s.map_or(std::ptr::null(), text)
}

/// # Safety
/// `p` is NULL or came from [`text`] and is not used again.
unsafe fn free_text(p: *const c_char) {
    if !p.is_null() {
        drop(CString::from_raw(p.cast_mut()));
    }
}

/// The live lock of a key (`me_locker_current`). Strings are owned by the
/// record.
#[repr(C)]
pub struct me_current_lock {
    /// The lock key.
    pub key: *const c_char,
    /// Always true: a released or expired lock has no record.
    pub locked: bool,
    pub host: *const c_char,
    pub uuid: *const c_char,
    pub pid: i64,
    /// When the holding began.
    pub ts_created_ms: i64,
    /// When its lease ends.
    pub ts_expire_ms: i64,
    /// The fencing token of the holding.
    pub fence: i64,
}

/// A locker's view of its lock (`me_locker_status`, and the `lock` of a node
/// status). Strings are owned by the record.
#[repr(C)]
pub struct me_lock_status {
    pub uuid: *const c_char,
    pub key: *const c_char,
    /// The lease length, seconds.
    pub ttl: f64,
    /// When this view was taken.
    pub timestamp_ms: i64,
    pub host: *const c_char,
    pub pid: i64,
    /// Whether this locker holds the lock; the next three are 0 when not.
    pub lock_owned: bool,
    pub lock_created_ms: i64,
    pub lock_expires_ms: i64,
    pub fence: i64,
}

/// One elector's report (`me_elector_node_status`, each member of a cluster
/// detail). Strings are owned by the record.
#[repr(C)]
pub struct me_node_status {
    pub lock: me_lock_status,
    pub is_leader: bool,
    pub elector_running: bool,
    /// Whether the elector has polled; `last_poll_ms` is 0 when not.
    pub has_last_poll: bool,
    pub last_poll_ms: i64,
    /// NULL when the elector has none.
    pub app_version: *const c_char,
}

/// Who leads, from the lock's head. Strings are owned by the record (or, in
/// `on_new_leader`, by the library for the length of the call).
#[repr(C)]
pub struct me_leader_info {
    pub host: *const c_char,
    pub process_id: i64,
    pub uuid: *const c_char,
    pub fence: i64,
}

/// The whole group (`me_elector_cluster_detail`): live members, newest
/// report first, and the leader. Everything is owned by the record.
#[repr(C)]
pub struct me_cluster_detail {
    pub members: *const me_node_status,
    pub member_count: usize,
    /// Whether a leader holds the lock now; `leader`'s strings are NULL when not.
    pub has_leader: bool,
    pub leader: me_leader_info,
    pub timestamp_ms: i64,
}

/// A locker's or elector's counters (`me_locker_stats`, `me_elector_stats`),
/// written into the caller's struct. Durations are seconds.
#[repr(C)]
pub struct me_stats {
    /// Holdings won (for an elector: terms).
    pub acquisitions: u64,
    /// Renewals written.
    pub renewals: u64,
    /// Renewals that failed (a database error, or the lock no longer ours).
    pub failed_renewals: u64,
    /// Holdings or terms that ended without a release (lease run out, taken).
    pub losses: u64,
    /// Of those, ended because another holder was seen.
    pub takeovers_seen: u64,
    /// Times an elector became leader or stopped being leader.
    pub leader_transitions: u64,
    /// Database round trips of the lock.
    pub round_trips: u64,
    pub last_round_trip: f64,
    pub max_round_trip: f64,
    /// Time left on the current lease by the holder's clock (0 when none).
    pub lease_left: f64,
}

pub(crate) fn stats(s: &Stats) -> me_stats {
    me_stats {
        acquisitions: s.acquisitions,
        renewals: s.renewals,
        failed_renewals: s.failed_renewals,
        losses: s.losses,
        takeovers_seen: s.takeovers_seen,
        leader_transitions: s.leader_transitions,
        round_trips: s.round_trips,
        last_round_trip: s.last_round_trip.as_secs_f64(),
        max_round_trip: s.max_round_trip.as_secs_f64(),
        lease_left: s.lease_left.as_secs_f64(),
    }
}

pub(crate) fn current(c: &CurrentLock) -> *mut me_current_lock {
    Box::into_raw(Box::new(me_current_lock {
        key: text(&c.key),
        locked: c.locked,
        host: text(&c.host),
        uuid: text(&c.uuid),
        pid: c.pid,
        ts_created_ms: millis(c.ts_created),
        ts_expire_ms: millis(c.ts_expire),
        fence: c.fence,
    }))
}

fn lock_status_value(s: &LockStatus) -> me_lock_status {
    me_lock_status {
        uuid: text(&s.uuid),
        key: text(&s.key),
        ttl: s.ttl.as_secs_f64(),
        timestamp_ms: millis(s.timestamp),
        host: text(&s.host),
        pid: s.pid,
        lock_owned: s.lock_owned,
        lock_created_ms: s.lock_created.map_or(0, millis),
        lock_expires_ms: s.lock_expires.map_or(0, millis),
        fence: s.fence.unwrap_or(0),
    }
}

pub(crate) fn lock_status(s: &LockStatus) -> *mut me_lock_status {
    Box::into_raw(Box::new(lock_status_value(s)))
}

fn node_status_value(n: &NodeStatus) -> me_node_status {
    me_node_status {
        lock: lock_status_value(&n.lock),
        is_leader: n.is_leader,
        elector_running: n.elector_running,
        has_last_poll: n.last_poll.is_some(),
        last_poll_ms: n.last_poll.map_or(0, millis),
        app_version: opt_text(n.app_version.as_deref()),
    }
}

pub(crate) fn node_status(n: &NodeStatus) -> *mut me_node_status {
    Box::into_raw(Box::new(node_status_value(n)))
}

fn leader_value(l: Option<&LeaderInfo>) -> me_leader_info {
    me_leader_info {
        host: opt_text(l.map(|l| l.host.as_str())),
        process_id: l.map_or(0, |l| l.process_id),
        uuid: opt_text(l.map(|l| l.uuid.as_str())),
        fence: l.map_or(0, |l| l.fence),
    }
}

/// A leader record the library owns for the length of a callback.
pub(crate) struct LeaderRecord(pub me_leader_info);

impl LeaderRecord {
    pub fn new(l: &LeaderInfo) -> LeaderRecord {
        LeaderRecord(leader_value(Some(l)))
    }
}

impl Drop for LeaderRecord {
    fn drop(&mut self) {
        // SAFETY: the strings came from `text` and are freed once, here.
        unsafe { clear_leader(&self.0) }
    }
}

pub(crate) fn leader(l: &LeaderInfo) -> *mut me_leader_info {
    Box::into_raw(Box::new(leader_value(Some(l))))
}

/// # Safety
/// The strings of `l` came from [`text`] (or are NULL) and are not used again.
unsafe fn clear_leader(l: &me_leader_info) {
    free_text(l.host);
    free_text(l.uuid);
}

/// Frees a leader record from `me_elector_leader` and its strings. NULL is
/// a no-op; must not be called twice.
///
/// # Safety
/// `rec` is NULL or a record from `me_elector_leader` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn me_leader_info_free(rec: *mut me_leader_info) {
    boundary::infallible((), || {
        if !rec.is_null() {
            clear_leader(&Box::from_raw(rec));
        }
    })
}

pub(crate) fn cluster(c: &ClusterDetail) -> *mut me_cluster_detail {
    let members: Box<[me_node_status]> = c.member_detail.iter().map(node_status_value).collect();
    let member_count = members.len();
    Box::into_raw(Box::new(me_cluster_detail {
        members: Box::into_raw(members).cast::<me_node_status>().cast_const(),
        member_count,
        has_leader: c.leader.is_some(),
        leader: leader_value(c.leader.as_ref()),
        timestamp_ms: millis(c.timestamp),
    }))
}

/// # Safety
/// The strings of `s` came from [`text`] and are not used again.
unsafe fn clear_lock_status(s: &me_lock_status) {
    free_text(s.uuid);
    free_text(s.key);
    free_text(s.host);
}

/// # Safety
/// As for [`clear_lock_status`].
unsafe fn clear_node_status(n: &me_node_status) {
    clear_lock_status(&n.lock);
    free_text(n.app_version);
}

/// Frees a current-lock record and its strings. NULL is a no-op; must not be
/// called twice.
///
/// # Safety
/// `rec` is NULL or a record from `me_locker_current` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn me_current_lock_free(rec: *mut me_current_lock) {
    boundary::infallible((), || {
        if rec.is_null() {
            return;
        }
        let r = Box::from_raw(rec);
        free_text(r.key);
        free_text(r.host);
        free_text(r.uuid);
    })
}

/// Frees a lock-status record and its strings. NULL is a no-op; must not be
/// called twice.
///
/// # Safety
/// `rec` is NULL or a record from `me_locker_status` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn me_lock_status_free(rec: *mut me_lock_status) {
    boundary::infallible((), || {
        if !rec.is_null() {
            clear_lock_status(&Box::from_raw(rec));
        }
    })
}

/// Frees a node-status record and its strings. NULL is a no-op; must not be
/// called twice.
///
/// # Safety
/// `rec` is NULL or a record from `me_elector_node_status` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn me_node_status_free(rec: *mut me_node_status) {
    boundary::infallible((), || {
        if !rec.is_null() {
            clear_node_status(&Box::from_raw(rec));
        }
    })
}

/// Frees a cluster-detail record, its members and every string. NULL is a
/// no-op; must not be called twice.
///
/// # Safety
/// `rec` is NULL or a record from `me_elector_cluster_detail` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn me_cluster_detail_free(rec: *mut me_cluster_detail) {
    boundary::infallible((), || {
        if rec.is_null() {
            return;
        }
        let r = Box::from_raw(rec);
        let members = Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            r.members.cast_mut(),
            r.member_count,
        ));
        members.iter().for_each(|m| clear_node_status(m));
        clear_leader(&r.leader);
    })
}
