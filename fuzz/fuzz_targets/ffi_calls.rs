//! Random sequences of C-ABI calls with random arguments, against the server in
//! MONGOELECTOR_TEST_URI. Every call must return a known status, a failing call
//! must leave a message, and nothing may crash or trip a sanitizer. Keys are
//! always prefixed, so the fuzzer only touches its own documents (database
//! `mongoelector_fuzz`).
#![no_main]

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mongoelector::ffi::client::*;
use mongoelector::ffi::elector::*;
use mongoelector::ffi::locker::*;
use mongoelector::ffi::log::*;
use mongoelector::ffi::status::*;

extern "C" {
    // Exported by the library from a private module; linked from the rlib.
    fn me_string_free(s: *mut c_char);
}

struct Shared(*mut me_client);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

fn client() -> *mut me_client {
    static C: OnceLock<Shared> = OnceLock::new();
    C.get_or_init(|| {
        let uri = std::env::var("MONGOELECTOR_TEST_URI").expect("set MONGOELECTOR_TEST_URI");
        let uri = CString::new(uri).unwrap();
        let mut out = ptr::null_mut();
        let st = unsafe { me_client_new(uri.as_ptr(), &mut out) };
        assert!(st == me_status::ME_OK, "me_client_new failed");
        me_set_log_callback(Some(log_sink), 5, ptr::null_mut());
        Shared(out)
    })
    .0
}

unsafe extern "C" fn log_sink(_: *mut c_void, level: i32, msg: *const c_char) {
    assert!((1..=5).contains(&level));
    let _ = CStr::from_ptr(msg).to_bytes().len();
}

unsafe extern "C" fn cb(_: *mut c_void) {}

/// A byte-stream reader that never fails (zeros at the end).
struct In<'a>(&'a [u8]);
impl In<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.u8() as usize).min(max).min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a.to_vec()
    }
    fn f64(&mut self) -> f64 {
        match self.u8() % 12 {
            0 => 0.0,
            1 => -1.0,
            2 => f64::NAN,
            3 => f64::INFINITY,
            4 => -f64::INFINITY,
            5 => 1e300,
            6 => -0.5,
            7 => 5e-324,
            _ => self.u8() as f64 / 64.0,
        }
    }
}

/// A key: always prefixed with "fz:" (so only our documents are touched)
/// unless the fuzzer asks for a NULL, empty-prefix or raw (maybe non-UTF-8) one.
fn key(inp: &mut In) -> Option<CString> {
    let raw = inp.bytes(40);
    let mut v: Vec<u8> = match inp.u8() % 8 {
        0 => return None,
        1 => raw,
        _ => [b"fz:".as_slice(), &raw].concat(),
    };
    v.retain(|b| *b != 0);
    Some(CString::new(v).unwrap())
}

fn cptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

fn check(st: me_status) {
    let n = st as i32;
    assert!(matches!(n, 0..=7 | 99), "unknown status {n}");
    assert!(n != 99, "ME_ERR_INTERNAL: {:?}", unsafe { CStr::from_ptr(me_last_error_message()) });
    let msg = unsafe { CStr::from_ptr(me_last_error_message()) };
    if n != 0 {
        assert!(!msg.to_bytes().is_empty(), "status {n} without a message");
    }
}

fn take(s: *mut c_char) {
    if !s.is_null() {
        let text = unsafe { CStr::from_ptr(s) }.to_str().expect("JSON is UTF-8");
        assert!(text.starts_with('{'), "not a JSON object: {text}");
        unsafe { me_string_free(s) };
    }
}

fuzz_target!(|data: &[u8]| {
    let c = client();
    let db = c"mongoelector_fuzz";
    let mut inp = In(data);
    let mut lockers: Vec<*mut me_locker> = Vec::new();
    let mut electors: Vec<*mut me_elector> = Vec::new();
    for _ in 0..16 {
        if inp.0.is_empty() {
            break;
        }
        let op = inp.u8();
        let li = inp.u8() as usize;
        let lk = if lockers.is_empty() || li % 5 == 0 { ptr::null_mut() } else { lockers[li % lockers.len()] };
        let el = if electors.is_empty() || li % 5 == 0 { ptr::null_mut() } else { electors[li % electors.len()] };
        unsafe {
            match op % 20 {
                0 | 1 => {
                    let k = key(&mut inp);
                    let mut o = std::mem::zeroed::<me_locker_options>();
                    me_locker_options_init(&mut o);
                    o.ttl = inp.f64();
                    o.timeparanoid = inp.u8() & 1 == 1;
                    o.maxoffset = inp.f64();
                    let mut out = ptr::null_mut();
                    let opts = if inp.u8() & 1 == 0 { &o as *const _ } else { ptr::null() };
                    let st = me_locker_new(c, db.as_ptr(), cptr(&k), opts, &mut out);
                    check(st);
                    if st == me_status::ME_OK && lockers.len() < 4 {
                        lockers.push(out);
                    } else if st == me_status::ME_OK {
                        me_locker_free(out);
                    }
                }
                2 | 3 => {
                    let blocking = inp.u8() & 1 == 1;
                    // Keep blocking waits short: a bounded timeout unless the argument is invalid anyway.
                    let t = match inp.u8() % 4 {
                        0 => -1.0,
                        1 => inp.f64(),
                        _ => 0.05,
                    };
                    let t = if blocking && (t == -1.0 || t > 0.3) { 0.1 } else { t };
                    let force = inp.u8() % 8 == 0;
                    check(if op & 64 == 0 {
                        me_acquire(lk, blocking, t, 0.02, force)
                    } else {
                        me_try_acquire(lk, t, force)
                    });
                }
                4 => check(me_release(lk, inp.u8() % 4 == 0)),
                5 => {
                    let mut e = 0i64;
                    let p = if inp.u8() & 1 == 0 { &mut e as *mut i64 } else { ptr::null_mut() };
                    check(me_touch(lk, p));
                }
                6 => {
                    let mut b = false;
                    let p = if inp.u8() & 1 == 0 { &mut b as *mut bool } else { ptr::null_mut() };
                    check(if op & 32 == 0 { me_locked(lk, p) } else { me_owned(lk, p) });
                }
                7 => {
                    let mut s = ptr::null_mut();
                    check(if op & 32 == 0 { me_get_current(lk, &mut s) } else { me_locker_status(lk, &mut s) });
                    take(s);
                }
                8 => {
                    let _ = (me_locker_key(lk), me_locker_uuid(lk), me_locker_host(lk), me_locker_pid(lk));
                    let mut ms = 0;
                    let _ = (me_locker_ts_expire(lk, &mut ms), me_locker_fence(lk), me_locker_ttl(lk));
                }
                9 => {
                    if !lk.is_null() {
                        lockers.retain(|x| *x != lk);
                        me_locker_free(lk);
                    }
                }
                10 | 11 => {
                    let k = key(&mut inp);
                    let mut o = std::mem::zeroed::<me_elector_options>();
                    me_elector_options_init(&mut o);
                    o.ttl = inp.f64();
                    o.report_status = inp.u8() & 1 == 1;
                    o.on_leader = Some(cb);
                    o.on_leader_loss = Some(cb);
                    let mut out = ptr::null_mut();
                    let st = me_elector_new(c, db.as_ptr(), cptr(&k), &o, &mut out);
                    check(st);
                    if st == me_status::ME_OK && electors.len() < 2 {
                        electors.push(out);
                    } else if st == me_status::ME_OK {
                        me_elector_free(out);
                    }
                }
                12 => check(me_elector_start(el, false)),
                13 => check(me_elector_stop(el)),
                14 => {
                    // A poll only on a stopped elector with a sane ttl (a poll is a few round trips).
                    if !el.is_null() && !me_elector_running(el) && me_elector_ttl(el) >= 0.5 {
                        check(me_elector_poll(el));
                    }
                }
                15 => check(me_elector_release(el)),
                16 => {
                    let mut b = false;
                    check(if op & 32 == 0 { me_elector_is_leader(el, &mut b) } else { me_elector_leader_exists(el, &mut b) });
                    let _ = (me_elector_running(el), me_elector_poll_wait(el), me_elector_key(el));
                    let borrowed = me_elector_locker(el);
                    me_locker_free(borrowed as *mut me_locker); // must be ignored
                }
                17 => {
                    let mut s = ptr::null_mut();
                    check(if op & 32 == 0 { me_elector_node_status(el, &mut s) } else { me_elector_cluster_detail(el, &mut s) });
                    take(s);
                }
                18 => {
                    if !el.is_null() {
                        electors.retain(|x| *x != el);
                        me_elector_free(el);
                    }
                }
                _ => {
                    let _ = CStr::from_ptr(me_status_name(inp.u8() as i32 - 10));
                    let _ = CStr::from_ptr(me_version());
                    me_string_free(ptr::null_mut());
                    me_locker_free(ptr::null_mut());
                    me_elector_free(ptr::null_mut());
                    me_client_free(ptr::null_mut());
                }
            }
        }
    }
    unsafe {
        for e in electors {
            me_elector_free(e);
        }
        for l in lockers {
            me_locker_free(l);
        }
    }
});
