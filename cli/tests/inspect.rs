//! `show`, `status` and `release --force` against the documents, and bad
//! input: each with a clear message and its documented exit status.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use mongodb::bson::doc;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

fn json(out: &Output) -> Value {
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", out.stdout))
}

/// An RFC 3339 UTC time with milliseconds as Unix milliseconds (the tests' own parse).
fn ms_of(s: &str) -> i64 {
    let d: Vec<i64> = s
        .trim_end_matches('Z')
        .split(|c| "-T:.".contains(c))
        .map(|p| p.parse().unwrap())
        .collect();
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + d[2] - 1 - 719_468;
    ((days * 24 + d[3]) * 60 + d[4]) * 60_000 + d[5] * 1000 + d[6]
}

#[test]
fn show_and_release_say_what_the_documents_say() {
    let (uri, db, dir) = (uri(), db_name("show"), Scratch::new("show"));
    let log = dir.file("events");
    let cmd = format!(
        "echo $MONGOELECTOR_FENCE >> {f}; trap 'echo term >> {f}; exit 0' TERM; while :; do sleep 0.05 2>/dev/null; done",
        f = log.display()
    );
    let free = json(&run(
        mongoelector(&uri, &db, &["show", "k", "--json"]),
        LIMIT,
    ));
    assert_eq!(free, serde_json::json!({"key": "k", "held": false}));

    let mut holder = Proc::spawn(mongoelector(
        &uri,
        &db,
        &[
            "lock",
            "k",
            "--ttl",
            "20",
            "--collection",
            "locks",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
    ));
    assert!(
        wait_until(LIMIT, || !lines(&log).is_empty()),
        "holder never started"
    );
    let fence: i64 = lines(&log)[0][0].parse().unwrap();

    let v = json(&run(
        mongoelector(&uri, &db, &["show", "k", "--collection", "locks", "--json"]),
        LIMIT,
    ));
    let gens = generations(&uri, &db, "locks", "k");
    let head = gens.last().unwrap();
    assert_eq!(v["held"], true);
    assert_eq!(v["fence"], fence);
    assert_eq!(v["fence"], head.get_i64("fence").unwrap());
    assert_eq!(v["pid"], i64::from(holder.pid()));
    assert_eq!(v["pid"], head.get_i64("pid").unwrap());
    assert_eq!(v["uuid"], head.get_str("uuid").unwrap());
    assert_eq!(v["host"], head.get_str("host").unwrap());
    let expire_ms = head.get_datetime("ts_expire").unwrap().timestamp_millis();
    assert!(
        (ms_of(v["ts_expire"].as_str().unwrap()) - expire_ms).abs() <= 5_000,
        "a renewal at most"
    );
    assert_eq!(
        ms_of(v["ts_created"].as_str().unwrap()),
        head.get_datetime("ts_created").unwrap().timestamp_millis()
    );
    let left = v["expires_in"].as_f64().unwrap();
    assert!(left > 10.0 && left <= 20.0, "expires in {left}");

    let text = run(
        mongoelector(&uri, &db, &["show", "k", "--collection", "locks"]),
        LIMIT,
    );
    assert!(
        text.stdout.contains(&format!("pid {}", holder.pid())),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!("fence:    {fence}")),
        "{}",
        text.stdout
    );

    // release needs --force; with it, it says whose holding it removed.
    let out = run(
        mongoelector(&uri, &db, &["release", "k", "--collection", "locks"]),
        LIMIT,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = run(
        mongoelector(
            &uri,
            &db,
            &["release", "--force", "k", "--collection", "locks"],
        ),
        LIMIT,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("pid {}", holder.pid()))
            && out.stdout.contains(&format!("fence {fence}")),
        "{}",
        out.stdout
    );
    let head = generations(&uri, &db, "locks", "k").pop().unwrap();
    assert!(
        !head.get_bool("locked").unwrap(),
        "a release record: {head}"
    );
    // The holder's next renewal finds it gone: CMD is stopped, the status says lost.
    assert_eq!(holder.code_within(Duration::from_secs(15)), 125);
    assert_eq!(lines(&log).last().unwrap()[0], "term");
    let out = run(
        mongoelector(
            &uri,
            &db,
            &["release", "--force", "k", "--collection", "locks"],
        ),
        LIMIT,
    );
    assert!(
        out.code == 0 && out.stdout.contains("not held"),
        "{}",
        out.stdout
    );
}

#[test]
fn status_shows_the_members_and_the_leader() {
    let (uri, db, dir) = (uri(), db_name("status"), Scratch::new("status"));
    let log = dir.file("leader");
    let cmd = format!(
        "echo $MONGOELECTOR_FENCE >> {}; exec sleep 60",
        log.display()
    );
    let members: Vec<Proc> = ["v1", "v2"]
        .iter()
        .map(|v| {
            Proc::spawn(mongoelector(
                &uri,
                &db,
                &[
                    "elect",
                    "g",
                    "--ttl",
                    "2",
                    "--app-version",
                    v,
                    "--",
                    "sh",
                    "-c",
                    &cmd,
                ],
            ))
        })
        .collect();
    assert!(wait_until(LIMIT, || !lines(&log).is_empty()), "nobody led");
    let fence: i64 = lines(&log)[0][0].parse().unwrap();
    let mut v = Value::Null;
    // Both report within half a ttl of starting.
    assert!(wait_until(LIMIT, || {
        v = json(&run(
            mongoelector(&uri, &db, &["status", "g", "--json"]),
            LIMIT,
        ));
        v["members"].as_array().unwrap().len() == 2
    }));
    let head = generations(&uri, &db, "elector.locks", "g").pop().unwrap();
    let leader = &v["leader"];
    assert_eq!(leader["fence"], fence);
    assert_eq!(leader["uuid"], head.get_str("uuid").unwrap());
    assert_eq!(leader["pid"], head.get_i64("pid").unwrap());
    assert!(members.iter().any(|m| leader["pid"] == i64::from(m.pid())));

    let reports = find(&uri, &db, "elector.leader_status", doc! {});
    let mut want: Vec<(String, String)> = reports
        .iter()
        .map(|r| {
            let uuid = r
                .get_str("uuid")
                .or_else(|_| r.get_str("_id"))
                .unwrap()
                .to_owned();
            (uuid, r.get_str("app_version").unwrap().to_owned())
        })
        .collect();
    let mut got: Vec<(String, String)> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["uuid"].as_str().unwrap().to_owned(),
                m["app_version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let leaders: Vec<&Value> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["is_leader"] == true)
        .collect();
    assert_eq!(leaders.len(), 1);
    assert_eq!(leaders[0]["uuid"], leader["uuid"]);

    let text = run(mongoelector(&uri, &db, &["status", "g"]), LIMIT);
    assert!(
        text.stdout.starts_with(&format!(
            "group \"g\": leader {}",
            head.get_str("host").unwrap()
        )),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!("fence {fence}")) && text.stdout.contains("v2"),
        "{}",
        text.stdout
    );
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((ms_of(v["timestamp"].as_str().unwrap()) - now_ms).abs() < 10_000);

    let none = json(&run(
        mongoelector(&uri, &db, &["status", "nobody", "--json"]),
        LIMIT,
    ));
    assert!(
        none["leader"].is_null() && none["members"].as_array().unwrap().is_empty(),
        "{none}"
    );
}

#[test]
fn bad_input_gives_a_clear_message_and_a_code() {
    let (uri, db) = (uri(), db_name("bad"));
    let check = |args: &[&str], code: i32, says: &str| {
        let out = run(mongoelector(&uri, &db, args), LIMIT);
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        out
    };
    check(
        &["lock", "k", "--ttl", "abc", "--", "true"],
        2,
        "not a number of seconds",
    );
    check(&["lock", "k", "--ttl=-1", "--", "true"], 2, "--ttl");
    check(
        &["lock", "k", "--ttl", "0", "--", "true"],
        2,
        "not positive",
    );
    check(&["lock", "k", "--bogus", "--", "true"], 2, "--bogus");
    check(
        &["lock", "k", "--no-wait", "--timeout", "1", "--", "true"],
        2,
        "cannot be used with",
    );
    check(&["lock", "k"], 2, "CMD");
    check(
        &["lock", "k", "--", "/nonexistent/cmd"],
        127,
        "command not found",
    );
    check(
        &["lock", "k", "--collection", "a$b", "--", "true"],
        2,
        "bad collection name",
    );

    let mut c = mongoelector(&uri, &db, &["lock", "k", "--", "true"]);
    c.env_remove("MONGODB_URI");
    let out = run(c, LIMIT);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("MONGODB_URI"), "{}", out.stderr);

    let bad =
        "mongodb://user:s3cr3tpw@127.0.0.1:1/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000";
    for args in [
        &["lock", "k", "--", "true"][..],
        &["show", "k"],
        &["status", "g"],
        &["elect", "g", "--once", "--", "true"],
    ] {
        let mut args = args.to_vec();
        args.insert(0, bad);
        args.insert(0, "--uri");
        let out = run(mongoelector(&uri, &db, &args), LIMIT);
        assert_eq!(out.code, 69, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("database error"), "{}", out.stderr);
        assert!(
            !out.stderr.contains("s3cr3tpw"),
            "password shown: {}",
            out.stderr
        );
        assert!(
            out.took < Duration::from_secs(6),
            "{args:?} took {:?}",
            out.took
        );
    }
    let out = run(
        mongoelector(&uri, &db, &["--uri", "mongodb://u:s3cr3tpw@", "show", "k"]),
        LIMIT,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("bad MongoDB URI") && !out.stderr.contains("s3cr3tpw"),
        "{}",
        out.stderr
    );
}
