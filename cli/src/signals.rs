//! SIGTERM, SIGINT and SIGHUP as events: they are blocked in every thread
//! and taken by one thread with sigwait, so a signal never kills us before
//! the lock or leadership is released. CMD starts with an empty signal mask
//! (run_child clears it).

use std::sync::mpsc::Sender;

use mongoelector::CancelToken;

use crate::run_child::Event;

const SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the signals in this thread and so in every thread started after:
/// call it before anything starts a thread (the client does).
pub fn block() {
    let set = set();
    // SAFETY: a valid set; the old mask is not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Starts the thread that sends each signal as `Event::Signal`, cancelling
/// `cancel` at the first one (it cuts short a wait for the lock).
pub fn listen(tx: Sender<Event>, cancel: CancelToken) {
    std::thread::spawn(move || {
        let set = set();
        loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: a valid set, and an int for the signal number.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                continue;
            }
            cancel.cancel();
            if tx.send(Event::Signal(sig)).is_err() {
                return;
            }
        }
    });
}
