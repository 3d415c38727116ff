//! The cross-language contender program (lang `rust`), see tests/README.md:
//!
//! `rust_contender URI DB KEY ITERATIONS HOLD_MS LOGFILE`
//!
//! ITERATIONS times: blocking acquire of KEY (ttl 10 s, default step), read
//! CLOCK_MONOTONIC as start, sleep HOLD_MS, read CLOCK_MONOTONIC as end, then
//! release, and append `rust <pid> <fence> <start_ns> <end_ns>` to LOGFILE with
//! one write() on an O_APPEND descriptor.

use std::fs::OpenOptions;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use mongoelector::{AcquireOptions, Client, LockerOptions, MongoLocker};

fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn run(args: &[String]) -> Result<(), String> {
    let [uri, db, key, iterations, hold_ms, logfile] = args else {
        return Err("usage: rust_contender URI DB KEY ITERATIONS HOLD_MS LOGFILE".into());
    };
    let iterations: u64 = iterations.parse().map_err(|e| format!("ITERATIONS: {e}"))?;
    let hold = Duration::from_millis(hold_ms.parse().map_err(|e| format!("HOLD_MS: {e}"))?);
    let client = Client::new(uri).map_err(|e| e.to_string())?;
    let db = client.database(db).map_err(|e| e.to_string())?;
    let opts = LockerOptions {
        ttl: Duration::from_secs(10),
        ..Default::default()
    };
    let lock = MongoLocker::new(key, &db, opts).map_err(|e| e.to_string())?;
    let mut log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(logfile)
        .map_err(|e| format!("{logfile}: {e}"))?;
    let pid = std::process::id();
    for _ in 0..iterations {
        lock.acquire(AcquireOptions::default())
            .map_err(|e| format!("acquire: {e}"))?;
        let start = mono_ns();
        let fence = lock.fence();
        std::thread::sleep(hold);
        let end = mono_ns();
        lock.release(false).map_err(|e| format!("release: {e}"))?;
        let line = format!("rust {pid} {fence} {start} {end}\n");
        let n = log
            .write(line.as_bytes())
            .map_err(|e| format!("{logfile}: {e}"))?;
        if n != line.len() {
            return Err(format!("{logfile}: short write ({n} of {})", line.len()));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rust_contender: {e}");
            ExitCode::FAILURE
        }
    }
}
