//! Wall-clock time and the check that this host's clock agrees with the server's.
//!
//! Lease expiry is decided by comparing `ts_expire` (written with the holder's
//! clock) with the reader's clock, so every host's clock must be within
//! `maxoffset` of the server's. `timeparanoid` lockers verify that before
//! acquiring, reading `localTime` from `hello` (no privileges needed).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use mongodb::bson::{doc, Bson, DateTime, Document};

use super::client::Client;
use super::error::{Error, Result};
use super::runtime;

/// A source of wall-clock time. Tests inject one that is off by a known amount.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The host's real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A good measurement is trusted this long, as in the seed.
const CHECK_VALID_FOR: Duration = Duration::from_secs(600);

/// The latest clock measurement of one client.
#[derive(Default)]
pub(crate) struct ClockCheck {
    last: Mutex<Option<Measured>>,
}

#[derive(Clone, Copy)]
struct Measured {
    offset: f64,
    at: Instant,
    wall: SystemTime,
}

impl Measured {
    /// How far the wall clock moved apart from the monotonic one since the
    /// measurement: a step (NTP, a VM migration, `date`) shows here.
    fn drift(&self, now: SystemTime) -> f64 {
        let wall = match now.duration_since(self.wall) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        (wall - self.at.elapsed().as_secs_f64()).abs()
    }
}

/// The offset that `|server - local|` has to stay under, given the uncertainty
/// of a round trip: the server read its clock somewhere between send and receive.
pub(crate) fn offset(server: SystemTime, sent: SystemTime, received: SystemTime) -> f64 {
    let mid = sent + received.duration_since(sent).unwrap_or_default() / 2;
    match server.duration_since(mid) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => e.duration().as_secs_f64(),
    }
}

/// Compares a measured offset with `maxoffset`.
pub(crate) fn judge(offset: f64, max: f64) -> Result<()> {
    if offset > max {
        return Err(Error::TimeOffset { offset, max });
    }
    Ok(())
}

impl ClockCheck {
    /// Fails with `TimeOffset` when the client's clock is more than `max`
    /// seconds off the server's; measures at most every ten minutes while
    /// good, and again at once when the wall clock stepped since (moved
    /// apart from the monotonic clock by more than a quarter of `max`): a
    /// step after a good check would otherwise go unnoticed for ten minutes.
    pub(crate) fn verify(&self, client: &Client, max: f64, limit: Duration) -> Result<()> {
        let cached = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = cached {
            let stepped = m.drift(client.clock().now()) > max / 4.0;
            if m.at.elapsed() < CHECK_VALID_FOR && m.offset <= max && !stepped {
                return Ok(());
            }
        }
        let offset = measure(client, limit)?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Measured {
            offset,
            at: Instant::now(),
            wall: client.clock().now(),
        });
        judge(offset, max)
    }
}

/// Two samples, keeping the one with the shorter round trip: the first may
/// include opening a connection, which would count as clock offset.
fn measure(client: &Client, limit: Duration) -> Result<f64> {
    let first = sample(client, limit)?;
    let second = sample(client, limit)?;
    Ok(if second.1 < first.1 {
        second.0
    } else {
        first.0
    })
}

/// One offset measurement and its round-trip time.
fn sample(client: &Client, limit: Duration) -> Result<(f64, Duration)> {
    let admin = client.driver()?.database("admin");
    let clock = client.clock();
    let sent = clock.now();
    let server = runtime::run(limit, "reading the server clock", async {
        let hello = admin.run_command(doc! {"hello": 1}).await;
        if let Some(t) = hello.ok().as_ref().and_then(local_time) {
            return Ok(t);
        }
        // Servers without `hello` (before 4.4) still answer serverStatus.
        let status = admin
            .run_command(doc! {"serverStatus": 1})
            .await
            .map_err(|e| client.db_error(e))?;
        local_time(&status).ok_or_else(|| Error::Database("server reports no localTime".into()))
    })?;
    let received = clock.now();
    let rtt = received.duration_since(sent).unwrap_or_default();
    Ok((offset(server.to_system_time(), sent, received), rtt))
}

fn local_time(reply: &Document) -> Option<DateTime> {
    match reply.get("localTime") {
        Some(Bson::DateTime(t)) => Some(*t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_measured_from_the_round_trip_midpoint() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let t1 = t0 + Duration::from_millis(200);
        assert!((offset(t0 + Duration::from_millis(100), t0, t1)).abs() < 1e-9);
        assert!((offset(t0 + Duration::from_millis(1_100), t0, t1) - 1.0).abs() < 1e-9);
        assert!((offset(t0 - Duration::from_millis(900), t0, t1) - 1.0).abs() < 1e-9);
        assert!(judge(0.5, 0.5).is_ok());
        assert!(matches!(judge(0.6, 0.5), Err(Error::TimeOffset { .. })));
    }
}
