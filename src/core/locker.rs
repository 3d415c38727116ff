//! `MongoLocker`: a distributed lock whose every transition is the insert of
//! the next generation document (see docs/design.md).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use mongodb::bson::DateTime;

use super::cancel::{self, CancelToken, Cause};
use super::client::Database;
use super::error::{invalid, shown, timed_out, Error, Result};
use super::garbage::{grace, Bounds, VERIFY_AFTER};
use super::identity;
use super::lease::{boot_at, boot_now, Ended, Lease};
use super::log::log_at;
use super::record::{Holder, Record};
use super::stats::{bump, Counters, Stats};
use super::status::{CurrentLock, LockStatus};
use super::store::{Insert, Start, Store};
use super::turn::Turn;

/// A head we observed ourselves is trusted this long for an optimistic insert
/// (an older one would need the insert verified: garbage.rs).
const KNOWN_FOR: Duration = VERIFY_AFTER;

/// Called when a holding ends by itself: its lease ran out unrenewed, or a
/// takeover was seen. Runs on a thread of its own, once per holding.
pub type OnLost = Arc<dyn Fn() + Send + Sync>;

/// Options of a [`MongoLocker`], with the seed's defaults.
#[derive(Clone)]
pub struct LockerOptions {
    /// Collection of the lock documents.
    pub dbcollection: String,
    /// Lease length; must be positive.
    pub ttl: Duration,
    /// Check the host clock against the server before acquiring.
    pub timeparanoid: bool,
    /// Largest clock offset `timeparanoid` accepts, in seconds.
    pub maxoffset: f64,
    /// Renew a holding every ttl/4 in the background until it is released
    /// (off, as in the seed). If renewals fail until the lease ends by this
    /// locker's clock, the holding is lost: `held()` turns false, the
    /// holding's token is cancelled and `on_lost` runs, on time even when the
    /// database is unreachable.
    pub auto_renew: bool,
    /// See [`OnLost`].
    pub on_lost: Option<OnLost>,
}

impl Default for LockerOptions {
    fn default() -> Self {
        LockerOptions {
            dbcollection: "mongolocker".into(),
            ttl: Duration::from_secs(600),
            timeparanoid: true,
            maxoffset: 0.5,
            auto_renew: false,
            on_lost: None,
        }
    }
}

impl std::fmt::Debug for LockerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockerOptions")
            .field("dbcollection", &self.dbcollection)
            .field("ttl", &self.ttl)
            .field("timeparanoid", &self.timeparanoid)
            .field("maxoffset", &self.maxoffset)
            .field("auto_renew", &self.auto_renew)
            .field("on_lost", &self.on_lost.is_some())
            .finish()
    }
}

/// Arguments of [`MongoLocker::acquire`], with the seed's defaults.
#[derive(Debug, Clone)]
pub struct AcquireOptions {
    /// Wait until the lock is free (or `timeout`); otherwise make one attempt
    /// and fail with `LockExists` if someone else holds it.
    pub blocking: bool,
    /// The longest the call may take, its round trips included; `None`: no
    /// limit but the library's own per round trip (5 to 30 s by the ttl).
    /// With `blocking: false` it bounds the one attempt.
    pub timeout: Option<Duration>,
    /// Delay between attempts while the lock is held by someone else.
    pub step: Duration,
    /// Take the lock even from a live holder. Use with care.
    pub force: bool,
    /// Cancelling it makes the call return `Error::Cancelled` at once.
    pub cancel: Option<CancelToken>,
}

impl Default for AcquireOptions {
    fn default() -> Self {
        AcquireOptions {
            blocking: true,
            timeout: None,
            step: Duration::from_millis(250),
            force: false,
            cancel: None,
        }
    }
}

/// What a caller wants from the next generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Intent {
    /// Hold the lock. `force` takes it from a live holder; `new_term` starts a
    /// new holding (new fence) even when this locker already holds it.
    Acquire { force: bool, new_term: bool },
    /// Extend this locker's live holding.
    Renew,
    /// Give the lock up (`force`: whoever holds it).
    Release { force: bool },
}

/// What came of a transition.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// We inserted this generation; the instant is when its `ts_expire` was
    /// computed (a lease counted from it never outlasts the written one).
    Wrote(Record, Instant),
    /// Nothing to do (release of a lock we do not hold).
    Nothing,
    /// Someone else holds it (acquire without force).
    Held(Record),
    /// `Renew` of a lock we do not hold.
    NotOwned,
    /// We wrote a holding, but its lease had ended by our clock when the
    /// server's reply came (a round trip longer than the ttl): not held.
    Late,
}

/// What `decide` says: write this generation, or stop with this outcome.
enum Decision {
    Write(Record),
    Done(Outcome),
}

/// A head we read or wrote, and the monotonic time of the request that showed it.
#[derive(Clone)]
struct Known {
    head: Option<Record>,
    basis: Instant,
}

#[derive(Default)]
struct State {
    known: Option<Known>,
    /// The newest head we read or wrote, where point reads for the next head
    /// begin; kept when `known` is forgotten (it stays a true start).
    start: Option<Start>,
    /// Expiry and fence of this locker's latest acquisition or renewal.
    ts_expire: Option<SystemTime>,
    fence: i64,
    /// Whether our latest write was a holding of ours (not yet released).
    holding: bool,
    /// An insert of ours failed in transit: it may have landed.
    uncertain: bool,
    /// Public calls under way (`close` waits for them to return).
    calls: u32,
    /// The current holding as this locker counts it.
    lease: Option<Arc<Lease>>,
    /// The generation of our latest write.
    written_gen: i64,
    /// Our own wins, below which old generations may be collected.
    bounds: Bounds,
}

/// A distributed lock on `key`. All methods take `&self` and may be called from
/// several threads at once; there is no nesting count (acquiring a lock this
/// locker holds renews it, one release frees it). Dropping it closes it
/// (releasing the lock); its methods are those of [`Locker`].
pub struct MongoLocker {
    inner: Arc<Locker>,
}

impl std::ops::Deref for MongoLocker {
    type Target = Locker;
    fn deref(&self) -> &Locker {
        &self.inner
    }
}

/// The lock itself, shared with its background renewals.
pub struct Locker {
    key: String,
    uuid: String,
    host: String,
    pid: i64,
    ttl: Duration,
    timeparanoid: bool,
    maxoffset: f64,
    store: Store,
    state: Mutex<State>,
    /// Transitions one at a time (threads sharing the handle queue).
    turn: Turn,
    /// Signalled when the last call under way returns.
    idle: Condvar,
    /// Cancelled by `close`: cuts short every call under way.
    closed: CancelToken,
    auto_renew: bool,
    on_lost: Option<OnLost>,
    /// Kept back from the lease (an elector's time to run its loss callback).
    lease_margin: Duration,
    /// For the background renewals, which must not keep the locker alive.
    me: Weak<Locker>,
}

/// The longest ttl: a thousand years keeps every expiry representable.
const MAX_TTL: Duration = Duration::from_secs(1000 * 365 * 86_400);

/// A ttl must be positive and at most [`MAX_TTL`].
pub(crate) fn check_ttl(ttl: Duration) -> Result<()> {
    if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
        return Err(invalid(format!(
            "ttl must be from {} to {} (1000 years) seconds, got {}",
            MIN_TTL.as_secs_f64(),
            MAX_TTL.as_secs(),
            ttl.as_secs_f64()
        )));
    }
    Ok(())
}

/// The shortest ttl: well above a round trip, so a holding can be confirmed
/// before its lease ends (a shorter one could never be acquired).
pub const MIN_TTL: Duration = Duration::from_millis(100);

/// The longest key: its documents must stay far below the server's 16 MiB
/// limit (the key is written twice, and into every `_id`).
pub const MAX_KEY_BYTES: usize = 1 << 20;

/// Whether `outcome` of `intent` follows from this locker's own writes alone:
/// "not owned" and "nothing to release" (without force) hold until we write.
fn settled_by_us(intent: Intent, outcome: &Outcome) -> bool {
    matches!(
        (intent, outcome),
        (Intent::Renew, Outcome::NotOwned) | (Intent::Release { force: false }, Outcome::Nothing)
    )
}

/// Twice `maxoffset` (a finite number >= 0, checked at creation), the part of
/// a ttl another host's clock may eat; saturating for absurdly large offsets.
pub(crate) fn offset_allowance(maxoffset: f64) -> Duration {
    Duration::try_from_secs_f64(2.0 * maxoffset).unwrap_or(Duration::MAX)
}

/// MongoDB's rules for a collection name, checked before any server sees it.
fn check_collection(db: &Database, name: &str) -> Result<()> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.contains('$') || name.contains('\0') {
        "it contains '$' or NUL"
    } else if name.starts_with('.') || name.starts_with("system.") {
        "it starts with '.' or \"system.\""
    } else if db.name().len() + 1 + name.len() > 255 {
        "<database>.<collection> is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(invalid(format!(
        "bad collection name {}: {why}",
        shown(name)
    )))
}

impl MongoLocker {
    /// A locker for `key` in `db`. Touches no server: the first operation does.
    pub fn new(key: &str, db: &Database, opts: LockerOptions) -> Result<MongoLocker> {
        Self::with_margin(key, db, opts, Duration::ZERO)
    }

    /// A locker whose leases end `margin` early (an elector's).
    pub(crate) fn with_margin(
        key: &str,
        db: &Database,
        opts: LockerOptions,
        margin: Duration,
    ) -> Result<MongoLocker> {
        if key.is_empty() {
            return Err(invalid("key is empty"));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(invalid(format!(
                "key {} is longer than {MAX_KEY_BYTES} bytes",
                shown(key)
            )));
        }
        check_collection(db, &opts.dbcollection)?;
        check_ttl(opts.ttl)?;
        if !opts.maxoffset.is_finite() || opts.maxoffset < 0.0 {
            return Err(invalid("maxoffset must be a finite number >= 0"));
        }
        if opts.auto_renew && opts.ttl.as_secs_f64() <= 2.0 * opts.maxoffset {
            return Err(invalid(format!(
                "auto_renew needs a ttl above twice maxoffset (the lease a holder may count on is ttl - 2 x maxoffset): ttl {}, maxoffset {}",
                opts.ttl.as_secs_f64(),
                opts.maxoffset
            )));
        }
        let store = Store::new(db, &opts.dbcollection)?;
        let inner = Arc::new_cyclic(|me| Locker {
            key: key.to_owned(),
            uuid: identity::new_uuid(),
            host: identity::host_name(),
            pid: identity::pid(),
            ttl: opts.ttl,
            timeparanoid: opts.timeparanoid,
            maxoffset: opts.maxoffset,
            store,
            state: Mutex::new(State::default()),
            turn: Turn::default(),
            idle: Condvar::new(),
            closed: CancelToken::new(),
            auto_renew: opts.auto_renew,
            on_lost: opts.on_lost,
            lease_margin: margin,
            me: me.clone(),
        });
        Ok(MongoLocker { inner })
    }
}

impl Locker {
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn uuid(&self) -> &str {
        &self.uuid
    }
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn pid(&self) -> i64 {
        self.pid
    }
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
    pub fn db(&self) -> &Database {
        self.store.database()
    }
    pub fn dbcollection(&self) -> &str {
        self.store.collection_name()
    }
    pub fn maxoffset(&self) -> f64 {
        self.maxoffset
    }
    pub fn timeparanoid(&self) -> bool {
        self.timeparanoid
    }

    /// Whether this locker holds the lock by its own clock, without a round
    /// trip: its latest holding's lease (ttl minus twice `maxoffset`, counted
    /// from before the write was sent) has not run out, and it was not
    /// released, lost or seen taken over. For hot paths; `owned()` asks the server.
    pub fn held(&self) -> bool {
        self.check_process().is_ok() && self.state().lease.as_ref().is_some_and(|l| l.live())
    }

    /// The current holding's lease: its token is cancelled the moment the
    /// holding ends (lost, taken over, released, closed), and it carries the
    /// holding's fencing token. `None` without a holding (never held, or the
    /// last one released, closed or seen taken over).
    pub fn lease(&self) -> Option<Arc<Lease>> {
        self.state().lease.clone()
    }

    /// Expiry of this locker's latest acquisition or renewal (`None` before the first).
    pub fn ts_expire(&self) -> Option<SystemTime> {
        self.state().ts_expire
    }

    /// The fencing token of this locker's latest acquisition: strictly
    /// increasing per key across all holders; 0 before the first acquisition.
    pub fn fence(&self) -> i64 {
        self.state().fence
    }

    /// Acquires the lock (see [`AcquireOptions`]). Acquiring a lock this locker
    /// already holds renews it and returns at once.
    pub fn acquire(&self, opts: AcquireOptions) -> Result<()> {
        // A timeout beyond what Instant can represent is no deadline at all.
        let started = Instant::now();
        let deadline = opts.timeout.and_then(|t| started.checked_add(t));
        self.call(opts.cancel.as_ref(), || {
            self.acquire_until(&opts, started, deadline)
        })
    }

    fn acquire_until(
        &self,
        opts: &AcquireOptions,
        started: Instant,
        deadline: Option<Instant>,
    ) -> Result<()> {
        // A database call cut short by the deadline is the caller's timeout.
        let ran_out = self.ran_out(started, deadline);
        self.check_clock(deadline).map_err(&ran_out)?;
        let intent = Intent::Acquire {
            force: opts.force,
            new_term: false,
        };
        let mut warned_late = false;
        loop {
            let limit = self.op_limit(deadline);
            match self.transition(intent, limit).map_err(&ran_out)? {
                Outcome::Wrote(..) => return Ok(()),
                Outcome::Held(head) if !opts.blocking => return Err(self.lock_exists(&head)),
                Outcome::Held(_) => {
                    let now = Instant::now();
                    if deadline.is_some_and(|d| now >= d) {
                        return Err(timed_out(&self.key, started));
                    }
                    let nap = deadline.map_or(opts.step, |d| opts.step.min(d - now));
                    cancel::sleep(nap.max(Duration::from_millis(1)))?;
                }
                Outcome::Late if !opts.blocking => {
                    return Err(Error::Database(format!(
                        "the lease of {} ended before the server confirmed it (a round trip longer than the ttl)",
                        shown(&self.key)
                    )))
                }
                Outcome::Late => {
                    if !warned_late {
                        warned_late = true;
                        log_at!(
                            Warn,
                            "{}: the lease ended before the server confirmed it; a ttl of {:?} is shorter than a round trip",
                            shown(&self.key),
                            self.ttl
                        );
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(timed_out(&self.key, started));
                    }
                    cancel::sleep(opts.step.max(Duration::from_millis(1)))?;
                }
                Outcome::Nothing | Outcome::NotOwned => unreachable!("acquire never gives these"),
            }
        }
    }

    /// Releases the lock if this locker holds it (or, with `force`, whoever
    /// does). Returns whether a holding was released; releasing a lock held by
    /// someone else (e.g. after a takeover) is a no-op.
    pub fn release(&self, force: bool) -> Result<bool> {
        self.release_with(force, None)
    }

    /// [`release`](Self::release), cut short by `cancel`.
    pub fn release_with(&self, force: bool, cancel: Option<&CancelToken>) -> Result<bool> {
        self.call(cancel, || {
            let limit = self.op_limit(None);
            Ok(matches!(
                self.transition(Intent::Release { force }, limit)?,
                Outcome::Wrote(..)
            ))
        })
    }

    /// Renews this locker's live holding for another ttl and returns the new
    /// expiry; `NotOwned` if it does not hold the lock (never acquired,
    /// released, expired or taken over).
    pub fn touch(&self) -> Result<SystemTime> {
        self.touch_with(None)
    }

    /// [`touch`](Self::touch), cut short by `cancel`.
    pub fn touch_with(&self, cancel: Option<&CancelToken>) -> Result<SystemTime> {
        self.call(cancel, || {
            match self.transition(Intent::Renew, self.op_limit(None))? {
                Outcome::Wrote(rec, _) => Ok(rec.ts_expire.to_system_time()),
                _ => Err(Error::NotOwned(self.key.clone())),
            }
        })
    }

    /// True if anyone holds the lock now (one read).
    pub fn locked(&self) -> Result<bool> {
        self.locked_with(None)
    }

    /// [`locked`](Self::locked), cut short by `cancel`.
    pub fn locked_with(&self, cancel: Option<&CancelToken>) -> Result<bool> {
        self.call(cancel, || Ok(self.read_holder()? != Holder::Free))
    }

    /// True if this locker holds the lock now (one read).
    pub fn owned(&self) -> Result<bool> {
        self.owned_with(None)
    }

    /// [`owned`](Self::owned), cut short by `cancel`.
    pub fn owned_with(&self, cancel: Option<&CancelToken>) -> Result<bool> {
        self.call(cancel, || Ok(self.read_holder()? == Holder::Me))
    }

    /// The live lock, or `None` when nobody holds it.
    pub fn get_current(&self) -> Result<Option<CurrentLock>> {
        self.get_current_with(None)
    }

    /// [`get_current`](Self::get_current), cut short by `cancel`.
    pub fn get_current_with(&self, cancel: Option<&CancelToken>) -> Result<Option<CurrentLock>> {
        self.call(cancel, || self.current_now())
    }

    fn current_now(&self) -> Result<Option<CurrentLock>> {
        let head = self.read_head(self.op_limit(None))?;
        let now = self.now();
        Ok(head
            .filter(|h| h.holder(&self.uuid, now) != Holder::Free)
            .map(|h| CurrentLock {
                key: h.key,
                locked: true,
                host: h.host,
                uuid: h.uuid,
                pid: h.pid,
                ts_created: h.ts_created.to_system_time(),
                ts_expire: h.ts_expire.to_system_time(),
                fence: h.fence,
            }))
    }

    /// This locker's view of the lock (one read).
    pub fn status(&self) -> Result<LockStatus> {
        self.status_with(None)
    }

    /// [`status`](Self::status), cut short by `cancel`.
    pub fn status_with(&self, cancel: Option<&CancelToken>) -> Result<LockStatus> {
        self.call(cancel, || {
            let head = self.read_head(self.op_limit(None))?;
            Ok(self.status_from(head.as_ref()))
        })
    }

    /// The clock check that `timeparanoid` runs before acquiring, on demand
    /// (whatever `timeparanoid` says), within the timeout and cancellation of
    /// `opts` as that acquire would: `TimeOffset` when this host's clock is
    /// more than `maxoffset` from the server's, `AcquireTimeout` when the
    /// timeout ran out. A good check is cached per client (docs/design.md).
    /// For bindings that expose the check as a seam of their own (the seed's
    /// `_verifytime`).
    pub fn verify_time(&self, opts: &AcquireOptions) -> Result<()> {
        let started = Instant::now();
        let deadline = opts.timeout.and_then(|t| started.checked_add(t));
        self.call(opts.cancel.as_ref(), || {
            self.verify_clock(deadline)
                .map_err(self.ran_out(started, deadline))
        })
    }

    /// Closes the locker: every call under way on it returns `Error::Closed`
    /// within milliseconds, then the lock is released if this locker holds it
    /// (or may: an insert cut short may have landed). Later calls fail with
    /// `Error::Closed`. Idempotent and thread-safe; returns the release's error.
    pub fn close(&self) -> Result<()> {
        self.check_process()?;
        if self.closed.is_cancelled() {
            return Ok(());
        }
        self.closed.cancel();
        let release = {
            let mut st = self.state();
            while st.calls > 0 {
                st = self.idle.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.holding || st.uncertain
        };
        let res = if release {
            self.transition(Intent::Release { force: false }, self.op_limit(None))
                .map(|_| ())
        } else {
            Ok(())
        };
        self.end_lease(Ended::Released);
        res
    }

    /// Closes the locker without releasing: calls under way return
    /// `Error::Closed`, and a holding lasts until its lease ends by its ttl.
    /// For finalizers, which must never release a lock the program may still
    /// rely on. The lease's token is cancelled and `on_lost` does not run.
    pub fn abandon(&self) {
        self.closed.cancel();
        self.end_lease(Ended::Released);
    }

    /// Ends the current lease, if any (its token is cancelled; `on_lost` runs
    /// unless the holder released it).
    pub(crate) fn end_lease(&self, why: Ended) {
        let lease = self.state().lease.take();
        if let Some(l) = lease {
            l.end(why);
        }
    }

    /// The lease a holding may count on: ttl minus twice the clock offset
    /// allowed (another host may judge the expiry by a clock that far ahead),
    /// minus the margin.
    fn lease_len(&self) -> Duration {
        self.ttl
            .saturating_sub(offset_allowance(self.maxoffset))
            .saturating_sub(self.lease_margin)
    }

    /// Starts the lease of a new holding we wrote, extends it at a renewal,
    /// ends it at a release.
    fn track(&self, rec: &Record, decided: Instant) {
        let ended = {
            let mut st = self.state();
            if !rec.locked {
                st.lease.take()
            } else {
                let deadline = boot_at(decided) + self.lease_len();
                let renew_at = self.auto_renew.then(|| boot_now() + self.ttl / 4);
                match &st.lease {
                    Some(l) if l.fence() == rec.fence && l.ended().is_none() => {
                        bump(&self.counters().renewals);
                        l.extend(deadline, renew_at);
                        None
                    }
                    _ => {
                        bump(&self.counters().acquisitions);
                        st.lease.replace(Lease::start(
                            rec.fence,
                            deadline,
                            renew_at,
                            self.renewal(),
                            self.on_end(),
                            self.store.counters_arc(),
                        ))
                    }
                }
            }
        };
        if let Some(l) = ended {
            l.end(Ended::Released);
        }
    }

    /// A read showed `head`: a newer generation than our latest write that
    /// is not our holding means our holding was taken over.
    fn saw(&self, head: Option<&Record>) {
        let Some(h) = head else { return };
        let taken = {
            let st = self.state();
            st.lease.as_ref().is_some_and(|l| l.ended().is_none())
                && h.gen > st.written_gen
                && !(h.locked && h.uuid == self.uuid)
        };
        if taken {
            self.end_lease(Ended::Taken);
        }
    }

    /// The background renewal of an auto-renewing lease (held weakly: a
    /// dropped locker is not renewed).
    fn renewal(&self) -> Option<super::lease::Renewal> {
        if !self.auto_renew {
            return None;
        }
        let me = self.me.clone();
        Some(Arc::new(move || {
            if let Some(l) = me.upgrade() {
                l.renew_in_background();
            }
        }))
    }

    /// `on_lost` for a lease (the lease runs it only when lost).
    fn on_end(&self) -> Option<super::lease::OnEnd> {
        let cb = self.on_lost.clone()?;
        Some(Arc::new(move |_| cb()))
    }

    /// This locker's counters.
    pub fn stats(&self) -> Stats {
        let left = self.lease().map_or(Duration::ZERO, |l| l.left());
        self.store.counters().snapshot(left)
    }

    pub(crate) fn counters(&self) -> &Counters {
        self.store.counters()
    }

    /// One renewal of the current lease, bounded by what is left of it and
    /// cut short by `close`; a failure is retried sooner, never past the lease.
    fn renew_in_background(&self) {
        let Some(lease) = self.lease() else { return };
        if self.closed.is_cancelled() || self.check_process().is_err() {
            return;
        }
        let limit = self.op_limit(None).min(lease.left());
        let closed = Cause::Closed(format!("locker for {} is closed", shown(&self.key)));
        let res = cancel::scoped(
            vec![
                (self.closed.clone(), closed),
                (lease.token().clone(), Cause::Caller),
            ],
            || self.transition(Intent::Renew, limit),
        );
        match res {
            Ok(Outcome::Wrote(..)) => {}
            Ok(_) => {
                bump(&self.counters().failed_renewals);
                lease.end(Ended::Taken)
            }
            Err(e) => {
                bump(&self.counters().failed_renewals);
                log_at!(Debug, "renewing {}: {e}", shown(&self.key));
                let soon = (self.ttl / 4)
                    .min(lease.left() / 3)
                    .max(Duration::from_millis(20));
                lease.retry_at(boot_now() + soon);
            }
        }
    }

    /// Runs a public call: refused in another process or after `close`, cut
    /// short by `cancel` and by `close`, counted so `close` can wait for it.
    fn call<T>(&self, cancel: Option<&CancelToken>, body: impl FnOnce() -> Result<T>) -> Result<T> {
        self.check_process()?;
        self.check_open()?;
        self.state().calls += 1;
        let mut tokens = vec![(
            self.closed.clone(),
            Cause::Closed(format!("locker for {} is closed", shown(&self.key))),
        )];
        tokens.extend(cancel.map(|c| (c.clone(), Cause::Caller)));
        let res = cancel::scoped(tokens, body);
        let mut st = self.state();
        st.calls -= 1;
        if st.calls == 0 {
            self.idle.notify_all();
        }
        res
    }

    /// A locker inherited through fork is not the parent's: refuse it, so
    /// the child never believes it holds the parent's lock.
    pub(crate) fn check_process(&self) -> Result<()> {
        if identity::pid() != self.pid {
            return Err(Error::InvalidState(format!(
                "locker for {} was created in process {}; make a new one in this process",
                shown(&self.key),
                self.pid
            )));
        }
        Ok(())
    }

    // ---- crate-internal, used by the elector ----

    /// Builds a status from a head that was just read.
    pub(crate) fn status_from(&self, head: Option<&Record>) -> LockStatus {
        let now = self.now();
        let mine = head.filter(|h| h.holder(&self.uuid, now) == Holder::Me);
        LockStatus {
            uuid: self.uuid.clone(),
            key: self.key.clone(),
            ttl: self.ttl,
            timestamp: now,
            host: self.host.clone(),
            pid: self.pid,
            lock_owned: mine.is_some(),
            lock_created: mine.map(|h| h.ts_created.to_system_time()),
            lock_expires: mine.map(|h| h.ts_expire.to_system_time()),
            fence: mine.map(|h| h.fence),
        }
    }

    /// Reads the head and remembers it for the next transition.
    pub(crate) fn read_head(&self, limit: Duration) -> Result<Option<Record>> {
        let sent = Instant::now();
        let head = self.fetch_head(limit)?;
        self.saw(head.as_ref());
        self.state().known = Some(Known {
            head: head.clone(),
            basis: sent,
        });
        Ok(head)
    }

    /// Reads the head, by point reads from our latest start when it is fresh,
    /// and keeps the answer as the next start.
    fn fetch_head(&self, limit: Duration) -> Result<Option<Record>> {
        let at = self.now();
        // Point reads forward from a start cost a round trip per generation
        // written since: worth it from our own live holding (nobody else but a
        // force writes after it, so a renewal finds the next one missing at
        // once), and from any start on a short network, where a few round
        // trips cost less than the query (a scan decoding every document on
        // FerretDB, where a point read is a much cheaper scan). On a long one a
        // contender must read past a release in one round trip to win a race:
        // the query does.
        let short = self.store.database().client().short_network();
        let start = self.state().start.clone().filter(|s| {
            short
                || s.head
                    .as_ref()
                    .is_some_and(|h| h.holder(&self.uuid, at) == Holder::Me)
        });
        let head = self.store.head(&self.key, start.as_ref(), limit)?;
        self.state().start = Some(Start {
            head: head.clone(),
            at,
        });
        Ok(head)
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.store.database().client().clock().now()
    }

    /// A database call cut short by an acquire's deadline is its timeout.
    fn ran_out(&self, started: Instant, deadline: Option<Instant>) -> impl Fn(Error) -> Error + '_ {
        move |e: Error| match (&e, deadline) {
            (Error::Database(_), Some(d)) if Instant::now() >= d => timed_out(&self.key, started),
            _ => e,
        }
    }

    pub(crate) fn check_clock(&self, deadline: Option<Instant>) -> Result<()> {
        if !self.timeparanoid {
            return Ok(());
        }
        self.verify_clock(deadline)
    }

    fn verify_clock(&self, deadline: Option<Instant>) -> Result<()> {
        let client = self.store.database().client();
        client
            .clock_check()
            .verify(client, self.maxoffset, self.op_limit(deadline))
    }

    /// One decision and at most one insert per round, until an insert wins or
    /// the head says there is nothing to write. E11000 means someone else
    /// moved first: forget what we knew, re-read and decide again.
    /// `limit` bounds the whole transition, all its round trips together.
    pub(crate) fn transition(&self, intent: Intent, limit: Duration) -> Result<Outcome> {
        self.check_open_unless_release(intent)?;
        let end = Instant::now() + limit;
        let left = || end.saturating_duration_since(Instant::now());
        let _turn = self.turn.take(end)?;
        loop {
            let known = self
                .state()
                .known
                .clone()
                .filter(|k| k.basis.elapsed() < KNOWN_FOR);
            let cached = known.is_some();
            let (head, basis) = match known {
                Some(k) => (k.head, k.basis),
                None => {
                    let sent = Instant::now();
                    (self.fetch_head(left())?, sent)
                }
            };
            let decided = Instant::now();
            let now = self.now();
            let next = match self.decide(intent, head.as_ref(), now) {
                Decision::Write(next) => next,
                // A cached head saves the read before an insert (the insert
                // checks it), and before "not ours" answers (not owned, nothing
                // to release): only our own write makes the lock ours, and the
                // cached head is at least as new as our latest write. Any other
                // answer ("held", a forced release finding the lock free) comes
                // from a fresh read.
                Decision::Done(outcome) if cached && !settled_by_us(intent, &outcome) => {
                    self.forget();
                    continue;
                }
                Decision::Done(outcome) => {
                    self.saw(head.as_ref());
                    self.state().known = Some(Known { head, basis });
                    return Ok(outcome);
                }
            };
            // Generation 1 is never collected, so winning it cannot be a
            // landing in a collected slot, however slow the decision.
            let won = self.store.insert(&next, left()).and_then(|res| {
                Ok(res == Insert::Won
                    && (basis.elapsed() < VERIFY_AFTER
                        || next.gen == 1
                        || self.still_head(&next, left())?))
            });
            match won {
                Ok(true) => {
                    self.record_win(&next, decided);
                    if next.locked && decided.elapsed() >= self.ttl {
                        return Ok(Outcome::Late);
                    }
                    self.track(&next, decided);
                    return Ok(Outcome::Wrote(next, decided));
                }
                Ok(false) => self.forget(),
                Err(e) => {
                    // The insert may have landed: re-read before trusting anything.
                    self.forget();
                    if next.uuid == self.uuid && next.locked {
                        self.state().uncertain = true;
                    }
                    return Err(e);
                }
            }
        }
    }

    // ---- private ----

    /// The generation to insert for `intent`, or the outcome when there is none.
    fn decide(&self, intent: Intent, head: Option<&Record>, now: SystemTime) -> Decision {
        let holder = head.map_or(Holder::Free, |h| h.holder(&self.uuid, now));
        let gen = head.map_or(1, |h| h.gen + 1);
        let expire = DateTime::from_system_time(now + self.ttl);
        let written = DateTime::from_system_time(now);
        let fresh = |locked: bool, fence: i64, created: DateTime, expire: DateTime| Record {
            key: self.key.clone(),
            gen,
            fence,
            locked,
            uuid: self.uuid.clone(),
            host: self.host.clone(),
            pid: self.pid,
            ts_created: created,
            ts_expire: expire,
            ts_written: written,
        };
        match (intent, holder, head) {
            (
                Intent::Acquire {
                    new_term: false, ..
                }
                | Intent::Renew,
                Holder::Me,
                Some(h),
            ) => Decision::Write(fresh(true, h.fence, h.ts_created, expire)),
            (Intent::Renew, _, _) => Decision::Done(Outcome::NotOwned),
            (Intent::Acquire { force: false, .. }, Holder::Other, Some(h)) => {
                Decision::Done(Outcome::Held(h.clone()))
            }
            (Intent::Acquire { .. }, _, _) => Decision::Write(fresh(true, gen, written, expire)),
            (Intent::Release { force }, _, Some(h))
                if h.locked && (force || h.uuid == self.uuid) =>
            {
                Decision::Write(fresh(false, h.fence, h.ts_created, written))
            }
            (Intent::Release { .. }, _, _) => Decision::Done(Outcome::Nothing),
        }
    }

    /// After a slow decision: is our generation still the head? (It might have
    /// landed in a slot freed by collection; then a newer head exists.)
    fn still_head(&self, rec: &Record, limit: Duration) -> Result<bool> {
        // Not from our own start: it is older than the decision, so not fresh.
        let head = self.store.head(&self.key, None, limit)?;
        Ok(head.is_some_and(|h| h.gen == rec.gen))
    }

    fn record_win(&self, rec: &Record, sent: Instant) {
        let written = rec.ts_written.to_system_time();
        let bound = {
            let mut st = self.state();
            st.known = Some(Known {
                head: Some(rec.clone()),
                basis: sent,
            });
            // Later generations are decided after ours, hence after its ts_written.
            st.start = Some(Start {
                head: Some(rec.clone()),
                at: written,
            });
            st.holding = rec.locked;
            st.uncertain = false;
            st.written_gen = rec.gen;
            if rec.locked {
                st.ts_expire = Some(rec.ts_expire.to_system_time());
                st.fence = rec.fence;
            }
            st.bounds.won(rec.gen, written);
            if self.store.may_collect() {
                st.bounds.take(self.now(), grace(self.maxoffset))
            } else {
                None
            }
        };
        if let Some(below) = bound {
            self.store.collect(&self.key, below, self.op_limit(None));
        }
    }

    fn forget(&self) {
        self.state().known = None;
    }

    fn read_holder(&self) -> Result<Holder> {
        let head = self.read_head(self.op_limit(None))?;
        Ok(head.map_or(Holder::Free, |h| h.holder(&self.uuid, self.now())))
    }

    fn lock_exists(&self, head: &Record) -> Error {
        let left = head
            .ts_expire
            .to_system_time()
            .duration_since(self.now())
            .unwrap_or_default();
        Error::LockExists {
            key: self.key.clone(),
            host: head.host.clone(),
            pid: head.pid,
            expires_in: left,
        }
    }

    /// The time one database call may take: long enough for a busy server,
    /// never past a caller's deadline.
    fn op_limit(&self, deadline: Option<Instant>) -> Duration {
        let base = self
            .ttl
            .clamp(Duration::from_secs(5), Duration::from_secs(30));
        match deadline {
            Some(d) => base
                .min(d.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(50)),
            None => base,
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.is_cancelled() {
            return Err(Error::Closed(format!(
                "locker for {} is closed",
                shown(&self.key)
            )));
        }
        Ok(())
    }

    /// A closed locker still releases (that is how `close` gives the lock up).
    fn check_open_unless_release(&self, intent: Intent) -> Result<()> {
        match intent {
            Intent::Release { force: false } => Ok(()),
            _ => self.check_open(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for MongoLocker {
    /// Releases the lock if this locker holds it (best effort, errors logged);
    /// a background renewal under way is cut short.
    fn drop(&mut self) {
        if self.check_process().is_err() {
            return;
        }
        if let Err(e) = self.close() {
            log_at!(Warn, "releasing {} on drop: {e}", shown(&self.key));
        }
    }
}
