//! The cross-language elector program (lang `rust`), see tests/README.md:
//!
//! `rust_elector URI DB KEY TTL_S RUN_S`
//!
//! Runs a leader elector on KEY for RUN_S seconds (0: until SIGTERM/SIGINT),
//! printing `leader rust <pid> <mono_ns>` from on_leader and
//! `loss rust <pid> <mono_ns>` from on_leader_loss (CLOCK_MONOTONIC), flushed.
//! On SIGTERM/SIGINT or at the end it stops the elector (releasing leadership,
//! which fires loss if leading) and exits 0.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mongoelector::{Client, ElectorOptions, MongoLeaderElector};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn say(what: &'static str) -> Arc<dyn Fn() + Send + Sync> {
    Arc::new(move || {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{what} rust {} {}", std::process::id(), mono_ns());
        let _ = out.flush();
    })
}

fn install_signal_handlers() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction with an async-signal-safe handler (one atomic store).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [uri, db, key, ttl, run_s] = args else {
        return Err("usage: rust_elector URI DB KEY TTL_S RUN_S".into());
    };
    let ttl: f64 = ttl.parse().map_err(|e| format!("TTL_S: {e}"))?;
    let run_s: f64 = run_s.parse().map_err(|e| format!("RUN_S: {e}"))?;
    let ttl = Duration::try_from_secs_f64(ttl).map_err(|e| format!("TTL_S: {e}"))?;
    let run_for = Duration::try_from_secs_f64(run_s).map_err(|e| format!("RUN_S: {e}"))?;
    install_signal_handlers();
    let client = Client::new(uri).map_err(|e| e.to_string())?;
    let db = client.database(db).map_err(|e| e.to_string())?;
    let opts = ElectorOptions {
        ttl,
        on_leader: Some(say("leader")),
        on_leader_loss: Some(say("loss")),
        ..Default::default()
    };
    let elector = MongoLeaderElector::new(key, &db, opts).map_err(|e| e.to_string())?;
    elector.start(false).map_err(|e| e.to_string())?;
    let started = Instant::now();
    while !STOP.load(Ordering::SeqCst) && (run_for.is_zero() || started.elapsed() < run_for) {
        std::thread::sleep(Duration::from_millis(20));
    }
    elector.stop().map_err(|e| format!("stop: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rust_elector: {e}");
            ExitCode::FAILURE
        }
    }
}
