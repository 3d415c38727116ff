//! CMD as a supervised child. It runs in a process group of its own, so a
//! signal reaches everything it started (as with timeout(1)); the kernel
//! sends it SIGTERM if we die (PR_SET_PDEATHSIG), so a SIGKILLed holder does
//! not leave it running; a thread reaps it and reports its exit as an event.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mongoelector::core::lease::Lease;

use crate::exit::{self, Failure};

/// What a supervising command waits for.
pub enum Event {
    /// We received this signal.
    Signal(i32),
    /// CMD exited.
    Exited(ExitStatus),
    /// This lease (a lock's holding or an elector's term) ended.
    Lost(Arc<Lease>),
    /// The elector became leader.
    Leader,
}

/// Sends `Event::Lost` when `lease` ends, for whatever reason.
pub fn watch(lease: Arc<Lease>, tx: Sender<Event>) {
    std::thread::spawn(move || {
        lease.token().wait(None);
        let _ = tx.send(Event::Lost(lease));
    });
}

/// A running CMD.
pub struct Child {
    pid: libc::pid_t,
    /// Set, under the lock, when the waiter reaps CMD: until then its pid
    /// (and so its process group's id) cannot be reused, so signalling is safe.
    reaped: Arc<Mutex<bool>>,
    stopping: bool,
    kill_at: Option<Instant>,
}

/// Starts CMD with `env` added to ours. Call it from the main thread: the
/// death signal fires when the thread that started the child ends.
pub fn spawn(
    cmd: &[OsString],
    env: &[(&str, String)],
    tx: Sender<Event>,
) -> Result<Child, Failure> {
    let (prog, args) = cmd.split_first().expect("clap requires CMD");
    let mut command = Command::new(prog);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .process_group(0);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec only async-signal-safe calls, no allocation.
    unsafe {
        command.pre_exec(move || {
            // Our blocked signals (see signals.rs) would stay blocked in CMD.
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            #[cfg(target_os = "linux")]
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| {
        let name = prog.to_string_lossy();
        match e.kind() {
            std::io::ErrorKind::NotFound => {
                Failure::new(exit::NOT_FOUND, format!("{name}: command not found"))
            }
            _ => Failure::new(exit::CANNOT_RUN, format!("cannot run {name}: {e}")),
        }
    })?;
    let pid = child.id() as libc::pid_t;
    let reaped = Arc::new(Mutex::new(false));
    let flag = reaped.clone();
    std::thread::spawn(move || {
        // Wait for the exit without reaping, then reap under the lock.
        loop {
            // SAFETY: waitid fills the siginfo it is given.
            let rc = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
                break;
            }
        }
        let mut done = flag.lock().unwrap_or_else(|e| e.into_inner());
        let status = child
            .wait()
            .unwrap_or_else(|_| ExitStatus::from_raw(i32::from(exit::INTERNAL) << 8));
        *done = true;
        drop(done);
        let _ = tx.send(Event::Exited(status));
    });
    Ok(Child {
        pid,
        reaped,
        stopping: false,
        kill_at: None,
    })
}

impl Child {
    /// Sends `sig` to CMD's process group, unless CMD was reaped.
    pub fn signal(&self, sig: i32) {
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if !*reaped {
            // SAFETY: kill(2) on the group of our unreaped child.
            unsafe { libc::kill(-self.pid, sig) };
        }
    }

    /// SIGTERM now and SIGKILL once `grace` has passed (see `tick`); once.
    pub fn stop(&mut self, grace: Duration) {
        if !self.stopping {
            self.stopping = true;
            self.signal(libc::SIGTERM);
            self.kill_at = Some(Instant::now() + grace);
        }
    }

    /// Whether `stop` was called: CMD's exit is then ours, not its own.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// How long to wait for an event before `tick` is due.
    pub fn wait_limit(&self) -> Duration {
        self.kill_at.map_or(Duration::from_secs(3600), |t| {
            t.saturating_duration_since(Instant::now())
        })
    }

    /// Sends the SIGKILL when its time has come.
    pub fn tick(&mut self) {
        if self.kill_at.is_some_and(|t| Instant::now() >= t) {
            self.kill_at = None;
            self.signal(libc::SIGKILL);
        }
    }
}
