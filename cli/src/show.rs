//! `mongoelector show KEY` and `mongoelector status GROUP`: what the
//! documents say, as text or JSON. Read-only: neither joins nor writes.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mongoelector::{ElectorOptions, LockerOptions, MongoLeaderElector, MongoLocker};
use serde_json::{json, Value};

use crate::args::{Cli, ShowArgs, StatusArgs};
use crate::exit::Failure;

pub fn show(cli: &Cli, a: &ShowArgs) -> Result<u8, Failure> {
    let db = cli.database()?;
    let lock = MongoLocker::new(&a.key, &db, read_only(&a.collection))?;
    let current = lock.get_current()?;
    let now = SystemTime::now();
    let out = match (&current, a.json) {
        (None, true) => json!({"key": a.key, "held": false}).to_string(),
        (None, false) => format!("{:?} is free", a.key),
        (Some(c), true) => json!({
            "key": c.key,
            "held": true,
            "host": c.host,
            "pid": c.pid,
            "uuid": c.uuid,
            "fence": c.fence,
            "ts_created": rfc3339(c.ts_created),
            "ts_expire": rfc3339(c.ts_expire),
            "expires_in": secs_between(now, c.ts_expire),
        })
        .to_string(),
        (Some(c), false) => format!(
            "key:      {:?}\nholder:   {} pid {} (uuid {})\nfence:    {}\nsince:    {} ({:.1} s ago)\nexpires:  {} (in {:.1} s)",
            c.key,
            c.host,
            c.pid,
            c.uuid,
            c.fence,
            rfc3339(c.ts_created),
            secs_between(c.ts_created, now),
            rfc3339(c.ts_expire),
            secs_between(now, c.ts_expire),
        ),
    };
    print(&out);
    Ok(0)
}

pub fn status(cli: &Cli, a: &StatusArgs) -> Result<u8, Failure> {
    let db = cli.database()?;
    // An observer: it never starts, so it neither competes nor reports.
    let observer = MongoLeaderElector::new(
        &a.group,
        &db,
        ElectorOptions {
            report_status: false,
            ..Default::default()
        },
    )?;
    let d = observer.cluster_detail()?;
    let leader_uuid = d.leader.as_ref().map(|l| l.uuid.as_str());
    let out = if a.json {
        let members: Vec<Value> = d
            .member_detail
            .iter()
            .map(|m| {
                json!({
                    "uuid": m.lock.uuid,
                    "host": m.lock.host,
                    "pid": m.lock.pid,
                    "is_leader": Some(m.lock.uuid.as_str()) == leader_uuid,
                    "elector_running": m.elector_running,
                    "app_version": m.app_version,
                    "ttl": m.lock.ttl.as_secs_f64(),
                    "reported": rfc3339(m.lock.timestamp),
                })
            })
            .collect();
        let leader = d.leader.as_ref().map(
            |l| json!({"uuid": l.uuid, "host": l.host, "pid": l.process_id, "fence": l.fence}),
        );
        json!({
            "group": a.group,
            "leader": leader,
            "members": members,
            "timestamp": rfc3339(d.timestamp),
        })
        .to_string()
    } else {
        let mut s = match &d.leader {
            Some(l) => format!(
                "group {:?}: leader {} pid {} (uuid {}, fence {})\n",
                a.group, l.host, l.process_id, l.uuid, l.fence
            ),
            None => format!("group {:?}: no leader\n", a.group),
        };
        s += &format!(
            "{:<36}  {:<20}  {:>8}  {:<6}  {:<7}  {:<11}  {}",
            "UUID", "HOST", "PID", "LEADER", "RUNNING", "APP VERSION", "REPORTED"
        );
        for m in &d.member_detail {
            let yes = |b: bool| if b { "yes" } else { "no" };
            s += &format!(
                "\n{:<36}  {:<20}  {:>8}  {:<6}  {:<7}  {:<11}  {:.1} s ago",
                m.lock.uuid,
                m.lock.host,
                m.lock.pid,
                yes(Some(m.lock.uuid.as_str()) == leader_uuid),
                yes(m.elector_running),
                m.app_version.as_deref().unwrap_or("-"),
                secs_between(m.lock.timestamp, d.timestamp),
            );
        }
        s
    };
    print(&out);
    Ok(0)
}

/// Options of a locker that only reads (or force-releases): no clock check.
pub fn read_only(collection: &str) -> LockerOptions {
    LockerOptions {
        dbcollection: collection.to_owned(),
        timeparanoid: false,
        ..Default::default()
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print(s: &str) {
    let _ = writeln!(std::io::stdout(), "{s}");
}

/// `b - a` in seconds, negative when `b` is earlier.
fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// UTC, RFC 3339 with milliseconds (the documents' precision).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let (days, rem) = ((d.as_secs() / 86_400) as i64, d.as_secs() % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(951_825_600_123); // a leap day
        assert_eq!(rfc3339(t), "2000-02-29T12:00:00.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(rfc3339(t), "2099-12-31T23:59:59.000Z");
    }
}
