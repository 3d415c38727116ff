//! The one error type of the core; the C ABI maps each variant to a status code.

use std::fmt;
use std::time::Duration;

/// Everything that can go wrong in a lock or election operation.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum Error {
    /// A caller passed a value the API does not accept (empty key, ttl <= 0, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A non-blocking acquire found the lock held by someone else.
    #[error("lock {} is held by {host} pid {pid} (expires in {expires_in:.1?})", shown(.key))]
    LockExists {
        key: String,
        host: String,
        pid: i64,
        expires_in: Duration,
    },
    /// A blocking acquire ran out of time.
    /// The text says which lock and how long the call took.
    #[error("timeout reached, lock {0}")]
    AcquireTimeout(String),
    /// The host clock differs from the server's by more than `maxoffset`.
    #[error("clock offset vs the server is too high: {offset:.3}s (maxoffset {max:.3}s)")]
    TimeOffset { offset: f64, max: f64 },
    /// `touch` on a lock this locker does not hold (never acquired, released, expired or taken over).
    #[error("lock {} is not held by this locker", shown(.0))]
    NotOwned(String),
    /// The driver or the server failed: connection, timeout, authentication, write error.
    #[error("database error: {0}")]
    Database(String),
    /// The object is in a state that does not allow the call (e.g. start on a running elector).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The caller's cancellation token was cancelled while the call waited.
    #[error("cancelled")]
    Cancelled,
    /// The handle was closed (before or during the call).
    #[error("closed: {0}")]
    Closed(String),
}

/// Shorthand used throughout the core.
pub type Result<T> = std::result::Result<T, Error>;

/// The timeout of an acquire of `key` that started at `started`.
pub(crate) fn timed_out(key: &str, started: std::time::Instant) -> Error {
    Error::AcquireTimeout(format!(
        "{} not acquired after {:.2?}",
        shown(key),
        started.elapsed()
    ))
}

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

/// A key as messages show it: quoted, and cut after 200 characters (a key may
/// be megabytes long; a message should not be).
pub(crate) struct Shown<'a>(&'a str);

pub(crate) fn shown(key: &str) -> Shown<'_> {
    Shown(key)
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 200;
        match self.0.char_indices().nth(MAX_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}... ({} bytes)", &self.0[..cut], self.0.len()),
        }
    }
}
