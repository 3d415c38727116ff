//! Random sequences of C-ABI calls with random arguments, against the server in
//! MONGOELECTOR_TEST_URI: lockers (options with auto_renew, on_lost and
//! user_data_free; me_locker_acquire with random options and cancellation
//! tokens, release, touch, reads, records, held, the lease token, stats, close
//! and free in any order), electors (start/stop/poll/release/close/free, the
//! read-only locker view, records, on_new_leader, the term token, the observed
//! leader, healthy, stats, user_data_free), tokens (new/cancel/wait/free; lease
//! and term tokens join the pool and are passed to calls). Every call must
//! return a known status with a matching `me_error` (set on failure with the
//! same status and a message, untouched on success), records must be well
//! formed and freed, and nothing may crash or trip a sanitizer. Keys are always
//! prefixed, so the fuzzer only touches its own documents (database
//! `mongoelector_fuzz`).
#![no_main]

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mongoelector::ffi::boundary::*;
use mongoelector::ffi::cancel::*;
use mongoelector::ffi::client::*;
use mongoelector::ffi::elector::*;
use mongoelector::ffi::locker::*;
use mongoelector::ffi::log::*;
use mongoelector::ffi::records::*;
use mongoelector::ffi::status::*;

struct Shared(*mut me_client);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

fn client() -> *mut me_client {
    static C: OnceLock<Shared> = OnceLock::new();
    C.get_or_init(|| {
        let uri = std::env::var("MONGOELECTOR_TEST_URI").expect("set MONGOELECTOR_TEST_URI");
        let uri = CString::new(uri).unwrap();
        let mut out = ptr::null_mut();
        let st = unsafe { me_client_new(uri.as_ptr(), &mut out, ptr::null_mut()) };
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

/// user_data_free calls, to check each elector's runs exactly once.
static FREED: AtomicUsize = AtomicUsize::new(0);
unsafe extern "C" fn on_free(ud: *mut c_void) {
    assert!(ud as usize == 0x5eed, "user_data_free got another pointer");
    FREED.fetch_add(1, Ordering::SeqCst);
}

/// Lockers' on_lost and user_data_free: the pointer of their options.
const LOCKER_UD: usize = 0x10c4;
static LOCKER_FREED: AtomicUsize = AtomicUsize::new(0);
static LOCKERS_MADE: AtomicUsize = AtomicUsize::new(0);
unsafe extern "C" fn on_lost(ud: *mut c_void) {
    assert!(ud as usize == LOCKER_UD, "on_lost got another pointer");
}
unsafe extern "C" fn on_locker_free(ud: *mut c_void) {
    assert!(ud as usize == LOCKER_UD, "a locker's user_data_free got another pointer");
    LOCKER_FREED.fetch_add(1, Ordering::SeqCst);
}

/// on_new_leader: a leader record is borrowed for the call and well formed.
unsafe extern "C" fn on_new_leader(ud: *mut c_void, leader: *const me_leader_info) {
    assert!(ud as usize == 0x5eed, "on_new_leader got another pointer");
    if let Some(l) = leader.as_ref() {
        check_leader(l);
    }
}

unsafe fn check_leader(l: &me_leader_info) {
    text(l.host, "leader.host");
    text(l.uuid, "leader.uuid");
    assert!(l.fence > 0, "a leader's fence is {}", l.fence);
}

/// Counters are never negative or NaN, and a loss seen as a takeover is a loss.
fn check_stats(s: &me_stats) {
    for d in [s.last_round_trip, s.max_round_trip, s.lease_left] {
        assert!(d.is_finite() && d >= 0.0, "a duration of {d}");
    }
    assert!(s.takeovers_seen <= s.losses, "{} takeovers, {} losses", s.takeovers_seen, s.losses);
}

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

/// Checks a status and its error: known, never ME_ERR_INTERNAL; on failure `err`
/// is set with the same status, a non-empty message equal to this thread's last
/// message; on success `err` stays NULL. Frees the error.
fn check(st: me_status, err: *mut me_error) {
    let n = st as i32;
    assert!(matches!(n, 0..=9 | 99), "unknown status {n}");
    unsafe {
        if n == 0 {
            assert!(err.is_null(), "*err set on success");
            return;
        }
        assert!(!err.is_null(), "status {n} without an me_error");
        let msg = CStr::from_ptr(me_error_message(err));
        assert!(n != 99, "ME_ERR_INTERNAL: {msg:?}");
        assert!(me_error_status(err) == st, "me_error_status differs from the returned {n}");
        assert!(!msg.to_bytes().is_empty(), "status {n} without a message");
        assert!(msg == CStr::from_ptr(me_last_error_message()), "me_error_message differs from the last message");
        me_error_free(err);
    }
}

/// A non-NULL, NUL-terminated UTF-8 string of a record.
unsafe fn text(p: *const c_char, what: &str) {
    assert!(!p.is_null(), "{what} is NULL");
    CStr::from_ptr(p).to_str().unwrap_or_else(|_| panic!("{what} is not UTF-8"));
}

unsafe fn check_lock_status(s: &me_lock_status) {
    text(s.uuid, "uuid");
    text(s.key, "key");
    text(s.host, "host");
    assert!(s.ttl > 0.0 && s.timestamp_ms > 0);
    if s.lock_owned {
        assert!(s.fence > 0 && s.lock_expires_ms > 0);
    } else {
        assert!(s.fence == 0 && s.lock_expires_ms == 0 && s.lock_created_ms == 0);
    }
}

unsafe fn check_node(n: &me_node_status) {
    check_lock_status(&n.lock);
    if !n.app_version.is_null() {
        text(n.app_version, "app_version");
    }
    assert!(n.has_last_poll || n.last_poll_ms == 0);
}

fuzz_target!(|data: &[u8]| {
    let c = client();
    let db = c"mongoelector_fuzz";
    let mut inp = In(data);
    let mut lockers: Vec<*mut me_locker> = Vec::new();
    let mut electors: Vec<*mut me_elector> = Vec::new();
    let mut tokens: Vec<*mut me_cancel> = Vec::new();
    let freed_before = FREED.load(Ordering::SeqCst);
    let mut electors_made = 0usize;
    for _ in 0..16 {
        if inp.0.is_empty() {
            break;
        }
        let op = inp.u8();
        let li = inp.u8() as usize;
        let lk = if lockers.is_empty() || li % 5 == 0 { ptr::null_mut() } else { lockers[li % lockers.len()] };
        let el = if electors.is_empty() || li % 5 == 0 { ptr::null_mut() } else { electors[li % electors.len()] };
        let tok: *const me_cancel =
            if tokens.is_empty() || li % 3 != 0 { ptr::null() } else { tokens[li % tokens.len()] };
        let mut err: *mut me_error = ptr::null_mut();
        let e = &mut err as *mut *mut me_error;
        // Half the calls pass err NULL (allowed): then only the status is checked.
        let with_err = op & 128 == 0;
        let ep = if with_err { e } else { ptr::null_mut() };
        let done = |st: me_status, err: *mut me_error| {
            if with_err {
                check(st, err)
            } else {
                assert!(matches!(st as i32, 0..=9), "status {}", st as i32)
            }
        };
        unsafe {
            match op % 30 {
                0 | 1 => {
                    let k = key(&mut inp);
                    let mut o = std::mem::zeroed::<me_locker_options>();
                    me_locker_options_init(&mut o);
                    o.ttl = inp.f64();
                    o.timeparanoid = inp.u8() & 1 == 1;
                    o.maxoffset = inp.f64();
                    let flags = inp.u8();
                    o.auto_renew = flags & 1 == 1;
                    if flags & 2 == 2 {
                        o.on_lost = Some(on_lost);
                    }
                    o.user_data = LOCKER_UD as *mut c_void;
                    if flags & 4 == 4 {
                        o.user_data_free = Some(on_locker_free);
                    }
                    let mut out = ptr::null_mut();
                    let opts = if inp.u8() & 1 == 0 { &o as *const _ } else { ptr::null() };
                    let st = me_locker_new(c, db.as_ptr(), cptr(&k), opts, &mut out, ep);
                    done(st, err);
                    if st == me_status::ME_OK && !opts.is_null() && o.user_data_free.is_some() {
                        LOCKERS_MADE.fetch_add(1, Ordering::SeqCst);
                    }
                    if st == me_status::ME_OK && lockers.len() < 4 {
                        lockers.push(out);
                    } else if st == me_status::ME_OK {
                        me_locker_free(out);
                    }
                }
                2 | 3 => {
                    let mut o = std::mem::zeroed::<me_acquire_options>();
                    me_acquire_options_init(&mut o);
                    o.blocking = inp.u8() & 1 == 1;
                    o.has_timeout = inp.u8() % 4 != 0;
                    o.timeout = match inp.u8() % 3 {
                        0 => inp.f64(),
                        _ => 0.05,
                    };
                    // Keep blocking waits short, unless the argument is invalid anyway.
                    if o.blocking && (!o.has_timeout || o.timeout > 0.3) {
                        o.has_timeout = true;
                        o.timeout = 0.1;
                    }
                    o.step = if inp.u8() % 4 == 0 { inp.f64() } else { 0.02 };
                    o.force = inp.u8() % 8 == 0;
                    o.cancel = tok;
                    let opts: *const me_acquire_options = if op & 64 == 0 { &o } else { ptr::null() };
                    if opts.is_null() {
                        // the defaults block without a timeout: only on a NULL or closed-free path
                        if lk.is_null() {
                            done(me_locker_acquire(lk, opts, ep), err);
                        }
                    } else {
                        done(me_locker_acquire(lk, opts, ep), err);
                    }
                }
                4 => {
                    let mut released = false;
                    let p = if inp.u8() & 1 == 0 { &mut released as *mut bool } else { ptr::null_mut() };
                    done(me_locker_release(lk, inp.u8() % 4 == 0, tok, p, ep), err);
                }
                5 => {
                    let mut x = 0i64;
                    let p = if inp.u8() & 1 == 0 { &mut x as *mut i64 } else { ptr::null_mut() };
                    done(me_locker_touch(lk, tok, p, ep), err);
                }
                6 => {
                    let mut b = false;
                    let p = if inp.u8() & 1 == 0 { &mut b as *mut bool } else { ptr::null_mut() };
                    done(if op & 32 == 0 { me_locker_locked(lk, tok, p, ep) } else { me_locker_owned(lk, tok, p, ep) }, err);
                }
                7 => {
                    if op & 32 == 0 {
                        let mut r: *mut me_current_lock = ptr::null_mut();
                        let st = me_locker_current(lk, tok, &mut r, ep);
                        done(st, err);
                        if let Some(rec) = r.as_ref() {
                            text(rec.key, "key");
                            text(rec.host, "host");
                            text(rec.uuid, "uuid");
                            assert!(rec.locked && rec.fence > 0 && rec.ts_expire_ms >= rec.ts_created_ms);
                        }
                        me_current_lock_free(r);
                    } else {
                        let mut r: *mut me_lock_status = ptr::null_mut();
                        let st = me_locker_status(lk, tok, &mut r, ep);
                        done(st, err);
                        assert!((st == me_status::ME_OK) == !r.is_null());
                        if let Some(rec) = r.as_ref() {
                            check_lock_status(rec);
                        }
                        me_lock_status_free(r);
                    }
                }
                8 => {
                    let _ = (me_locker_key(lk), me_locker_uuid(lk), me_locker_host(lk), me_locker_pid(lk));
                    let _ = (me_locker_dbcollection(lk), me_locker_db_name(lk), me_locker_maxoffset(lk));
                    let mut ms = 0;
                    let _ = (me_locker_ts_expire(lk, &mut ms), me_locker_fence(lk), me_locker_ttl(lk));
                    let _ = me_locker_timeparanoid(lk);
                }
                9 => done(me_locker_close(lk, ep), err),
                10 => {
                    if !lk.is_null() {
                        if inp.u8() & 1 == 0 {
                            done(me_locker_close(lk, ep), err);
                        }
                        lockers.retain(|x| *x != lk);
                        me_locker_free(lk);
                    }
                }
                11 | 12 => {
                    let k = key(&mut inp);
                    let mut o = std::mem::zeroed::<me_elector_options>();
                    me_elector_options_init(&mut o);
                    o.ttl = inp.f64();
                    o.report_status = inp.u8() & 1 == 1;
                    o.on_leader = Some(cb);
                    o.on_leader_loss = Some(cb);
                    o.on_loop = if inp.u8() & 1 == 0 { Some(cb) } else { None };
                    o.user_data = 0x5eed as *mut c_void;
                    o.user_data_free = Some(on_free);
                    o.on_new_leader = if inp.u8() & 1 == 0 { Some(on_new_leader) } else { None };
                    let mut out = ptr::null_mut();
                    let st = me_elector_new(c, db.as_ptr(), cptr(&k), &o, &mut out, ep);
                    done(st, err);
                    if st == me_status::ME_OK {
                        electors_made += 1;
                        if electors.len() < 2 {
                            electors.push(out);
                        } else {
                            me_elector_free(out);
                        }
                    }
                }
                13 => done(me_elector_start(el, false, ep), err),
                14 => done(me_elector_stop(el, ep), err),
                15 => {
                    // A poll only on a stopped elector with a sane ttl (a poll is a few round trips).
                    if !el.is_null() && !me_elector_running(el) && me_elector_ttl(el) >= 0.5 {
                        done(me_elector_poll(el, ep), err);
                    }
                }
                16 => done(if op & 32 == 0 { me_elector_release(el, ep) } else { me_elector_close(el, ep) }, err),
                17 => {
                    let mut b = false;
                    let _ = me_elector_is_leader(el);
                    done(me_elector_leader_exists(el, tok, &mut b, ep), err);
                    let _ = (me_elector_running(el), me_elector_poll_wait(el), me_elector_key(el), me_elector_ttl(el));
                    let view = me_elector_locker(el);
                    if !view.is_null() {
                        // reads work; mutations are refused; free is ignored
                        let mut b2 = false;
                        let mut e2: *mut me_error = ptr::null_mut();
                        let st = me_locker_owned(view, tok, &mut b2, &mut e2);
                        check(st, e2);
                        let mut e3: *mut me_error = ptr::null_mut();
                        let st = me_locker_acquire(view as *mut me_locker, ptr::null(), &mut e3);
                        assert!(matches!(st, me_status::ME_ERR_INVALID_STATE | me_status::ME_ERR_CLOSED), "acquire on a read-only view: {}", st as i32);
                        check(st, e3);
                        me_locker_free(view as *mut me_locker);
                    }
                }
                18 => {
                    if op & 32 == 0 {
                        let mut r: *mut me_node_status = ptr::null_mut();
                        let st = me_elector_node_status(el, tok, &mut r, ep);
                        done(st, err);
                        if let Some(rec) = r.as_ref() {
                            check_node(rec);
                        }
                        me_node_status_free(r);
                    } else {
                        let mut r: *mut me_cluster_detail = ptr::null_mut();
                        let st = me_elector_cluster_detail(el, tok, &mut r, ep);
                        done(st, err);
                        if let Some(rec) = r.as_ref() {
                            assert!(rec.member_count == 0 || !rec.members.is_null());
                            for i in 0..rec.member_count {
                                check_node(&*rec.members.add(i));
                            }
                            if rec.has_leader {
                                text(rec.leader.host, "leader.host");
                                text(rec.leader.uuid, "leader.uuid");
                                assert!(rec.leader.fence > 0);
                            } else {
                                assert!(rec.leader.host.is_null() && rec.leader.uuid.is_null());
                            }
                        }
                        me_cluster_detail_free(r);
                    }
                }
                19 => {
                    if !el.is_null() {
                        if inp.u8() & 1 == 0 {
                            done(me_elector_close(el, ep), err);
                        }
                        electors.retain(|x| *x != el);
                        me_elector_free(el);
                    }
                }
                20 | 21 => match inp.u8() % 3 {
                    0 if tokens.len() < 2 => tokens.push(me_cancel_new()),
                    1 => {
                        me_cancel_cancel(tok);
                        assert!(tok.is_null() || me_cancel_is_cancelled(tok));
                        let _ = me_cancel_wait(tok, 0.0);
                    }
                    _ => {
                        if !tok.is_null() {
                            tokens.retain(|x| *x as *const me_cancel != tok);
                            me_cancel_free(tok as *mut me_cancel);
                        }
                    }
                },
                22 => {
                    let held = me_locker_held(lk);
                    assert!(!held || !lk.is_null());
                    let mut fence = -1i64;
                    let fp = if inp.u8() & 1 == 0 { &mut fence as *mut i64 } else { ptr::null_mut() };
                    let t = me_locker_lease_token(lk, fp);
                    assert!(!t.is_null() || !held, "held without a lease token");
                    if !t.is_null() {
                        assert!(fp.is_null() || fence > 0, "a lease token's fence {fence}");
                        lease_or_term(&mut inp, &mut tokens, t);
                    } else {
                        assert!(fence == -1, "fence written without a token");
                    }
                }
                23 => {
                    let mut s = std::mem::zeroed::<me_stats>();
                    assert!(me_locker_stats(lk, &mut s) == !lk.is_null());
                    check_stats(&s);
                    assert!(!me_locker_stats(lk, ptr::null_mut()));
                }
                24 => {
                    let mut fence = -1i64;
                    let fp = if inp.u8() & 1 == 0 { &mut fence as *mut i64 } else { ptr::null_mut() };
                    let t = me_elector_term_token(el, fp);
                    if t.is_null() {
                        assert!(fence == -1, "fence written without a term");
                    } else {
                        assert!(!el.is_null());
                        assert!(fp.is_null() || fence > 0, "a term's fence {fence}");
                        lease_or_term(&mut inp, &mut tokens, t);
                    }
                    let mut s = std::mem::zeroed::<me_stats>();
                    assert!(me_elector_stats(el, &mut s) == !el.is_null());
                    check_stats(&s);
                }
                25 => {
                    let mut r: *mut me_leader_info = ptr::null_mut();
                    let mut at = -1i64;
                    let rp = if inp.u8() % 8 == 0 { ptr::null_mut() } else { &mut r as *mut _ };
                    let st = me_elector_leader(el, rp, &mut at, ep);
                    done(st, err);
                    if st == me_status::ME_OK {
                        assert!(at >= 0, "observed_ms {at}");
                        if let Some(rec) = r.as_ref() {
                            check_leader(rec);
                            assert!(at > 0, "a leader observed at 0");
                        }
                    } else {
                        assert!(st == me_status::ME_ERR_INVALID_ARGUMENT && (el.is_null() || rp.is_null()));
                        assert!(r.is_null() && at == -1, "outputs written on failure");
                    }
                    me_leader_info_free(r);
                }
                26 => {
                    let mut reason: *const c_char = ptr::null();
                    let rp = if inp.u8() & 1 == 0 { &mut reason as *mut _ } else { ptr::null_mut() };
                    let ok = me_elector_healthy(el, inp.f64(), rp);
                    assert!(!ok || !el.is_null());
                    if !rp.is_null() && !el.is_null() {
                        let r = CStr::from_ptr(reason).to_str().unwrap();
                        let good = matches!(r, "leading" | "following");
                        assert!(
                            good || matches!(r, "renewal overdue" | "polls failing or stuck" | "not running"),
                            "reason {r:?}"
                        );
                        assert!(good == ok, "healthy {ok} with reason {r:?}");
                    }
                }
                27 => {
                    // A short wait on a token (lease, term or plain); NULL returns false at once.
                    let secs = if inp.u8() & 1 == 0 { 0.0 } else { 0.01 };
                    let got = me_cancel_wait(tok, secs);
                    assert!(!got || me_cancel_is_cancelled(tok), "wait true on a live token");
                    assert!(!got || !tok.is_null(), "wait true on NULL");
                }
                _ => {
                    let _ = CStr::from_ptr(me_status_name(inp.u8() as i32 - 10));
                    let _ = CStr::from_ptr(me_version());
                    assert!(me_error_status(ptr::null()) == me_status::ME_ERR_INTERNAL);
                    let _ = CStr::from_ptr(me_error_message(ptr::null()));
                    me_error_free(ptr::null_mut());
                    me_locker_free(ptr::null_mut());
                    me_elector_free(ptr::null_mut());
                    me_client_free(ptr::null_mut());
                    me_cancel_free(ptr::null_mut());
                    me_current_lock_free(ptr::null_mut());
                    me_lock_status_free(ptr::null_mut());
                    me_node_status_free(ptr::null_mut());
                    me_cluster_detail_free(ptr::null_mut());
                    me_leader_info_free(ptr::null_mut());
                    assert!(!me_locker_held(ptr::null()) && me_locker_lease_token(ptr::null(), ptr::null_mut()).is_null());
                    assert!(me_elector_term_token(ptr::null(), ptr::null_mut()).is_null());
                    assert!(!me_elector_healthy(ptr::null(), 0.0, ptr::null_mut()));
                }
            }
        }
    }
    unsafe {
        // Close-then-free or free alone, as the input left them.
        for e in electors {
            me_elector_free(e);
        }
        for l in lockers {
            let _ = me_locker_close(l, ptr::null_mut());
            me_locker_free(l);
        }
        for t in tokens {
            me_cancel_free(t);
        }
    }
    assert_eq!(
        FREED.load(Ordering::SeqCst) - freed_before,
        electors_made,
        "user_data_free must run once per freed elector"
    );
    // A locker's may run after me_locker_free returned (on a library thread), never twice.
    assert!(
        LOCKER_FREED.load(Ordering::SeqCst) <= LOCKERS_MADE.load(Ordering::SeqCst),
        "a locker's user_data_free ran more often than lockers with one were made"
    );
});

/// A lease or term token: kept in the pool (cancelled, waited on, passed to
/// calls, freed like the others) or checked and freed at once.
unsafe fn lease_or_term(inp: &mut In, tokens: &mut Vec<*mut me_cancel>, t: *mut me_cancel) {
    let c = me_cancel_is_cancelled(t);
    let w = me_cancel_wait(t, if inp.u8() & 1 == 0 { 0.0 } else { 0.005 });
    assert!(!c || w, "a cancelled token waited on returned false");
    if tokens.len() < 3 {
        tokens.push(t);
    } else {
        me_cancel_free(t);
    }
}
