//! Reference programs for bench/run.sh, using the MongoDB Rust driver directly.
//!
//!   driver-baseline pairs URI DB KEY PAIRS WARMUP
//!       PAIRS times: insert a document shaped like a lock generation, then delete
//!       it (write concern majority, as the library uses). Prints
//!       "pairs N median_ns mean_ns p90_ns", then "cpu NS" (process CPU time per pair).
//!   driver-baseline footprint URI DB
//!       Prints "bare THREADS RSS_KIB", then connects, writes one document and
//!       prints "driver THREADS RSS_KIB".
//!   driver-baseline serverinfo URI
//!       Prints "ferretdb VERSION" when buildInfo has ferretdbVersion, else "mongodb VERSION".

use std::time::{Duration, Instant, SystemTime};

use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Collection, IndexModel};

fn footprint() -> (i64, i64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(-1)
    };
    (field("Threads:"), field("VmRSS:"))
}

/// CPU time of the whole process so far (every thread), in ns.
fn process_cpu_ns() -> i64 {
    let mut sum = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            let stat = std::fs::read_to_string(e.path().join("schedstat")).unwrap_or_default();
            sum += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
        }
    }
    sum
}

async fn collection(uri: &str, db: &str) -> Collection<Document> {
    let mut opts = ClientOptions::parse(uri).await.expect("bad URI");
    if opts.write_concern.is_none() {
        opts.write_concern = Some(WriteConcern::builder().w(Acknowledgment::Majority).build());
    }
    let client = Client::with_options(opts).expect("client");
    client.database(db).collection("driver_baseline")
}

/// Whether the server reports a FerretDB version below 2 ("unknown" for its
/// embedded builds), as the library judges it.
async fn ferretdb_v1(uri: &str) -> bool {
    let client = Client::with_uri_str(uri).await.expect("client");
    let info = client
        .database("admin")
        .run_command(doc! {"buildInfo": 1})
        .await
        .expect("buildInfo");
    info.get_str("ferretdbVersion").is_ok_and(|v| {
        let major = v.trim_start_matches('v').split('.').next();
        !major
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m >= 2)
    })
}

fn lock_doc(key: &str, gen: i64) -> Document {
    let now = SystemTime::now();
    doc! {
        "_id": format!("{key}#{gen}"), "key": key, "gen": gen, "fence": gen, "locked": true,
        "uuid": "00000000-0000-4000-8000-000000000000", "host": "bench-host",
        "pid": std::process::id() as i64,
        "ts_created": DateTime::from_system_time(now),
        "ts_expire": DateTime::from_system_time(now + Duration::from_secs(60)),
        "ts_written": DateTime::from_system_time(now),
    }
}

async fn pairs(uri: &str, db: &str, key: &str, n: usize, warmup: usize) {
    let coll = collection(uri, db).await;
    // The library's head index where the library creates it (not on FerretDB
    // v1, which never uses it), so both sides maintain the same indexes.
    if !ferretdb_v1(uri).await {
        let model = IndexModel::builder()
            .keys(doc! {"key": 1, "gen": -1})
            .options(
                IndexOptions::builder()
                    .name("mongoelector_key_gen".to_owned())
                    .build(),
            )
            .build();
        coll.create_index(model).await.expect("create index");
    }
    let mut times = Vec::with_capacity(n);
    let mut cpu0 = 0;
    for i in 0..warmup + n {
        if i == warmup {
            cpu0 = process_cpu_ns();
        }
        let d = lock_doc(key, i as i64 + 1);
        let id = d.get_str("_id").unwrap().to_owned();
        let t0 = Instant::now();
        coll.insert_one(d).await.expect("insert");
        coll.delete_one(doc! {"_id": id}).await.expect("delete");
        if i >= warmup {
            times.push(t0.elapsed().as_nanos() as i64);
        }
    }
    let cpu = (process_cpu_ns() - cpu0) / n as i64;
    let mean = times.iter().sum::<i64>() as f64 / times.len() as f64;
    times.sort_unstable();
    println!(
        "pairs {} {} {:.0} {}",
        times.len(),
        times[times.len() / 2],
        mean,
        times[times.len() * 9 / 10]
    );
    println!("cpu {cpu}");
}

async fn driver_footprint(uri: &str, db: &str) {
    let coll = collection(uri, db).await;
    let key = format!("footprint-{}", std::process::id());
    coll.insert_one(lock_doc(&key, 1)).await.expect("insert");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (t, rss) = footprint();
    println!("driver {t} {rss}");
    coll.delete_one(doc! {"key": &key}).await.expect("delete");
}

async fn server_info(uri: &str) {
    let opts = ClientOptions::parse(uri).await.expect("bad URI");
    let client = Client::with_options(opts).expect("client");
    let info = client
        .database("admin")
        .run_command(doc! {"buildInfo": 1})
        .await
        .expect("buildInfo");
    match info.get_str("ferretdbVersion") {
        Ok(v) => println!("ferretdb {v}"),
        Err(_) => println!("mongodb {}", info.get_str("version").unwrap_or("?")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (t, rss) = footprint();
    // One worker thread, as the library's runtime has.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("pairs") if args.len() == 7 => rt.block_on(pairs(
            &args[2],
            &args[3],
            &args[4],
            args[5].parse().expect("PAIRS"),
            args[6].parse().expect("WARMUP"),
        )),
        Some("footprint") if args.len() == 4 => {
            println!("bare {t} {rss}");
            rt.block_on(driver_footprint(&args[2], &args[3]))
        }
        Some("serverinfo") if args.len() == 3 => rt.block_on(server_info(&args[2])),
        _ => {
            eprintln!(
                "usage: driver-baseline pairs URI DB KEY PAIRS WARMUP | footprint URI DB | serverinfo URI"
            );
            std::process::exit(64)
        }
    }
}
