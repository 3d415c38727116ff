//! Exit statuses of the command, and how a failure maps to one.

use mongoelector::Error;

/// A bad flag, value or URI (clap's own status for usage errors).
pub const USAGE: u8 = 2;
/// The database failed or is unreachable, or the clock is too far off the server's.
pub const DATABASE: u8 = 69;
/// A failure of our own (a bug).
pub const INTERNAL: u8 = 70;
/// `--no-wait` found the lock held (EX_TEMPFAIL: try again later).
pub const HELD: u8 = 75;
/// `--timeout` ran out before the lock was acquired (as timeout(1)).
pub const TIMEOUT: u8 = 124;
/// The lock or the leadership was lost while CMD ran; CMD was stopped.
pub const LOST: u8 = 125;
/// CMD exists but could not be run (as the shell says).
pub const CANNOT_RUN: u8 = 126;
/// CMD was not found (as the shell says).
pub const NOT_FOUND: u8 = 127;

/// The table shown by `--help` (the README has the same).
pub const TABLE: &str = "\
Exit status:
  CMD's own       when CMD ran: its exit status, or 128+N if signal N ended it
  2               usage error: bad flag or value, no URI, bad URI
  69              database error: server unreachable, write failed, clock offset too high
  70              internal error
  75              lock held by another process (--no-wait)
  124             --timeout ran out before the lock was acquired
  125             lock or leadership lost while CMD ran (CMD got SIGTERM, SIGKILL after --grace)
  126, 127        CMD could not be run / was not found
  128+N           signal N arrived before CMD started (the lock was released)";

/// A failure: the message for stderr and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    /// The core's messages already have any URI password scrubbed.
    fn from(e: Error) -> Failure {
        let code = match e {
            Error::InvalidArgument(_) => USAGE,
            Error::LockExists { .. } => HELD,
            Error::AcquireTimeout(_) => TIMEOUT,
            Error::Database(_) | Error::TimeOffset { .. } => DATABASE,
            Error::NotOwned(_) | Error::InvalidState(_) | Error::Cancelled | Error::Closed(_) => {
                INTERNAL
            }
        };
        Failure::new(code, e.to_string())
    }
}

/// The status a shell would report for a child: its code, or 128+signal.
pub fn of_child(st: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
        (None, None) => INTERNAL,
    }
}
