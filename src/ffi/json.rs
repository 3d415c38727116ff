//! The JSON texts the C ABI hands out: the seed's dictionaries, datetimes as
//! RFC 3339 UTC strings with milliseconds, missing values as `null`.

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::core::status::{ClusterDetail, CurrentLock, LockStatus, NodeStatus};

/// "2026-11-26T14:00:00.123Z".
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let ms = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    };
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn time(t: Option<SystemTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(rfc3339(t)))
}

pub(crate) fn current(c: &CurrentLock) -> Value {
    json!({
        "_id": c.key,
        "locked": c.locked,
        "host": c.host,
        "uuid": c.uuid,
        "pid": c.pid,
        "ts_created": rfc3339(c.ts_created),
        "ts_expire": rfc3339(c.ts_expire),
        "fence": c.fence,
    })
}

pub(crate) fn lock_status(s: &LockStatus) -> Value {
    json!({
        "uuid": s.uuid,
        "key": s.key,
        "ttl": s.ttl.as_secs_f64(),
        "timestamp": rfc3339(s.timestamp),
        "host": s.host,
        "pid": s.pid,
        "lock_owned": s.lock_owned,
        "lock_created": time(s.lock_created),
        "lock_expires": time(s.lock_expires),
        "fence": s.fence,
    })
}

pub(crate) fn node_status(n: &NodeStatus) -> Value {
    let mut v = lock_status(&n.lock);
    let obj = v.as_object_mut().expect("lock_status is an object");
    obj.insert("_id".into(), json!(n.lock.uuid));
    obj.insert("is_leader".into(), json!(n.is_leader));
    obj.insert("elector_running".into(), json!(n.elector_running));
    obj.insert("last_poll".into(), time(n.last_poll));
    obj.insert("app_version".into(), json!(n.app_version));
    v
}

pub(crate) fn cluster(c: &ClusterDetail) -> Value {
    json!({
        "member_detail": c.member_detail.iter().map(node_status).collect::<Vec<_>>(),
        "leader": c.leader.as_ref().map(|l| json!({
            "host": l.host,
            "process_id": l.process_id,
            "uuid": l.uuid,
            "fence": l.fence,
        })),
        "timestamp": rfc3339(c.timestamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_rfc3339_with_milliseconds() {
        let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(at(1_795_701_600_007)), "2026-11-26T14:00:00.007Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH - Duration::from_millis(1)),
            "1969-12-31T23:59:59.999Z"
        );
    }
}
