//! `MongoLeaderElector`: leader election on a [`MongoLocker`] with a lease
//! that the leader tracks on its own monotonic clock (see docs/design.md).

mod dispatch;
mod members;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime};

pub use dispatch::{Callback, LeaderCallback};
use dispatch::{Callbacks, Dispatcher, Event};
use members::Members;

use super::cancel::{self, CancelToken, Cause};
use super::client::Database;
use super::error::{shown, Error, Result};
use super::identity;
use super::lease::{Ended, Lease};
use super::locker::{check_ttl, offset_allowance, Intent, LockerOptions, MongoLocker, Outcome};
use super::log::log_at;
use super::record::Record;
use super::stats::{bump, Stats};
use super::status::{ClusterDetail, LeaderInfo, NodeStatus};

/// What [`MongoLeaderElector::healthy`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Leading,
    Following,
    RenewalOverdue,
    PollsFailing,
    NotRunning,
}

impl Health {
    pub fn is_ok(self) -> bool {
        matches!(self, Health::Leading | Health::Following)
    }

    /// Why, in a few words.
    pub fn reason(self) -> &'static str {
        match self {
            Health::Leading => "leading",
            Health::Following => "following",
            Health::RenewalOverdue => "renewal overdue",
            Health::PollsFailing => "polls failing or stuck",
            Health::NotRunning => "not running",
        }
    }
}

/// Time kept back from the lease to run `on_leader_loss` before it ends.
fn callback_margin(ttl: Duration) -> Duration {
    (ttl / 20).min(Duration::from_millis(100))
}

/// The lock collection of electors, as in the seed.
pub const LOCK_COLLECTION: &str = "elector.locks";
pub use members::STATUS_COLLECTION;

/// Options of a [`MongoLeaderElector`], with the seed's defaults.
#[derive(Clone)]
pub struct ElectorOptions {
    /// Leader lease length; must be positive.
    pub ttl: Duration,
    /// Called when this elector becomes leader.
    pub on_leader: Option<Callback>,
    /// Called when this elector stops being leader (lease lost or released).
    pub on_leader_loss: Option<Callback>,
    /// Called after each poll cycle.
    pub on_loop: Option<Callback>,
    /// Called on every elector, leader or not, when the group's leader (as
    /// its polls read it) changes, with the new leader or `None`.
    pub on_new_leader: Option<LeaderCallback>,
    /// Included in status reports.
    pub app_version: Option<String>,
    /// Write this node's status to `elector.leader_status`.
    pub report_status: bool,
}

impl Default for ElectorOptions {
    fn default() -> Self {
        ElectorOptions {
            ttl: Duration::from_secs(15),
            on_leader: None,
            on_leader_loss: None,
            on_loop: None,
            on_new_leader: None,
            app_version: None,
            report_status: true,
        }
    }
}

/// This elector's current leadership.
#[derive(Clone, Copy)]
struct Term {
    /// When to have stepped down at the latest: the lease as the others may
    /// judge it, on our monotonic clock, minus a little time to run the callback.
    step_down_at: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// stop() from another thread: it joins, then releases on its own thread.
    Joined,
    /// stop() from a callback on the elector thread, or the token of
    /// `run_until`: the thread releases on its way out.
    FromSelf,
    /// abandon(): the thread ends without releasing or firing anything.
    Abandon,
}

#[derive(Default)]
struct State {
    running: bool,
    thread: Option<ThreadId>,
    handle: Option<JoinHandle<()>>,
    stop: Option<Stop>,
    term: Option<Term>,
    last_poll: Option<SystemTime>,
    next_poll: Option<Instant>,
    /// After release(), leave the lock to the others for a while.
    hold_off_until: Option<Instant>,
    /// release() calls under way (not competing meanwhile).
    releasing: u32,
    last_report: Option<(Instant, bool)>,
    last_member_sweep: Option<Instant>,
    /// Cancelled by stop(): cuts short the running loop's round trips.
    run_token: CancelToken,
    /// The group's leader as last observed (`None`: none), and when.
    observed: Option<(Option<LeaderInfo>, SystemTime)>,
    last_renewal: Option<Instant>,
    last_poll_ok: Option<Instant>,
    started: Option<Instant>,
}

struct Inner {
    mlock: Arc<MongoLocker>,
    members: Members,
    callbacks: Callbacks,
    app_version: Option<String>,
    report_status: bool,
    /// The lease as this node may count on it: ttl minus twice the clock offset allowed.
    lease: Duration,
    state: Mutex<State>,
    wake: Condvar,
    /// Serialises poll cycles and releases (never held during callbacks).
    poll_lock: Mutex<()>,
    events: Dispatcher,
    /// Cancelled by `close`/`abandon`: every later call fails with `Error::Closed`.
    closed: CancelToken,
}

/// Leader election among all electors of `key` in a database. Methods take
/// `&self` and may be called from any thread, including from its callbacks.
pub struct MongoLeaderElector {
    inner: Arc<Inner>,
}

impl MongoLeaderElector {
    /// An elector for group `key` in `db`. Touches no server until it polls.
    pub fn new(key: &str, db: &Database, opts: ElectorOptions) -> Result<MongoLeaderElector> {
        check_ttl(opts.ttl)?;
        // Short leases need a tighter clock bound, or the margin eats the lease.
        let maxoffset = (opts.ttl.as_secs_f64() / 10.0).min(0.5);
        // The lock's lease ends when the term must have: its token is the term's.
        let mlock = MongoLocker::with_margin(
            key,
            db,
            LockerOptions {
                dbcollection: LOCK_COLLECTION.into(),
                ttl: opts.ttl,
                timeparanoid: true,
                maxoffset,
                ..Default::default()
            },
            callback_margin(opts.ttl),
        )?;
        let lease = opts.ttl.saturating_sub(offset_allowance(maxoffset));
        Ok(MongoLeaderElector {
            inner: Arc::new(Inner {
                members: Members::new(db, key, opts.ttl)?,
                mlock: Arc::new(mlock),
                callbacks: Callbacks {
                    on_leader: opts.on_leader,
                    on_leader_loss: opts.on_leader_loss,
                    on_loop: opts.on_loop,
                    on_new_leader: opts.on_new_leader,
                },
                app_version: opts.app_version,
                report_status: opts.report_status,
                lease,
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                poll_lock: Mutex::new(()),
                events: Dispatcher::default(),
                closed: CancelToken::new(),
            }),
        })
    }

    pub fn key(&self) -> &str {
        self.inner.mlock.key()
    }
    pub fn db(&self) -> &Database {
        self.inner.mlock.db()
    }
    pub fn ttl(&self) -> Duration {
        self.inner.mlock.ttl()
    }
    /// The lock the election runs on.
    pub fn mlock(&self) -> &Arc<MongoLocker> {
        &self.inner.mlock
    }

    /// Starts the elector thread; with `blocking`, runs the loop on this thread
    /// until `stop()` (from a callback or another thread).
    pub fn start(&self, blocking: bool) -> Result<()> {
        self.begin()?;
        if blocking {
            self.inner.state().thread = Some(thread::current().id());
            Inner::run(&self.inner);
            return Ok(());
        }
        self.spawn_loop()
    }

    /// Runs the loop on this thread until `stop()`, `close()` or `cancel` is
    /// cancelled (then it releases on its way out, firing `on_leader_loss` if
    /// it led, as a stop from a callback does). A token cancelled before the
    /// loop starts ends it at once: there is no window in which it is missed.
    pub fn run_until(&self, cancel: &CancelToken) -> Result<()> {
        self.begin()?;
        self.inner.state().thread = Some(thread::current().id());
        let done = CancelToken::new();
        let either = CancelToken::child_of([cancel, &done]);
        let (inner, caller) = (self.inner.clone(), cancel.clone());
        let watcher = thread::Builder::new()
            .name("mongoelector-run".into())
            .spawn(move || {
                either.wait(None);
                if caller.is_cancelled() {
                    inner.stop_from_self();
                }
            });
        let watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                let mut st = self.inner.state();
                st.running = false;
                st.thread = None;
                return Err(Error::InvalidState(format!(
                    "cannot start the elector's watcher thread: {e}"
                )));
            }
        };
        Inner::run(&self.inner);
        done.cancel();
        let _ = watcher.join();
        Ok(())
    }

    /// Marks the loop running on this thread's behalf.
    fn begin(&self) -> Result<()> {
        self.inner.check_usable()?;
        {
            let mut st = self.inner.state();
            if st.running {
                return Err(Error::InvalidState("elector is already running".into()));
            }
            st.running = true;
            st.stop = None;
            st.handle = None;
            st.run_token = CancelToken::new();
            st.started = Some(Instant::now());
        }
        Ok(())
    }

    /// Moves the loop that `begin` marked to a thread of its own.
    fn spawn_loop(&self) -> Result<()> {
        let inner = self.inner.clone();
        let spawned = thread::Builder::new()
            .name("mongoelector".into())
            .spawn(move || Inner::run(&inner));
        let mut st = self.inner.state();
        match spawned {
            Ok(handle) => {
                st.thread = Some(handle.thread().id());
                st.handle = Some(handle);
                Ok(())
            }
            Err(e) => {
                st.running = false;
                Err(Error::InvalidState(format!(
                    "cannot start the elector thread: {e}"
                )))
            }
        }
    }

    /// Stops the elector and releases leadership. From another thread it waits
    /// for the elector thread to end, then fires `on_leader_loss` (if leading)
    /// on the caller's thread before returning. From a callback it only asks
    /// the thread to stop; the thread releases on its way out.
    pub fn stop(&self) -> Result<()> {
        self.inner.mlock.check_process()?;
        if !self.halt(Stop::Joined) {
            return Ok(());
        }
        self.inner.release()
    }

    /// Ends the loop (`how` says what the thread does on its way out) and
    /// joins it; false when called from the elector's own thread, which only
    /// flags the stop and returns.
    fn halt(&self, how: Stop) -> bool {
        let me = thread::current().id();
        let handle = {
            let mut st = self.inner.state();
            if st.running && st.thread == Some(me) {
                if st.stop != Some(Stop::Abandon) {
                    st.stop = Some(if how == Stop::Abandon {
                        how
                    } else {
                        Stop::FromSelf
                    });
                }
                st.run_token.cancel();
                self.inner.wake.notify_all();
                return false;
            }
            if st.running {
                st.stop = Some(how);
                st.run_token.cancel();
                self.inner.wake.notify_all();
            }
            st.handle.take()
        };
        match handle {
            Some(h) => {
                if h.join().is_err() {
                    log_at!(Error, "the elector thread panicked");
                }
            }
            None => {
                let mut st = self.inner.state();
                while st.running {
                    st = self.inner.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
        true
    }

    /// Closes the elector: stops it and releases leadership (firing
    /// `on_leader_loss` if leading), then returns once no callback of it runs
    /// on another thread. Later calls fail with `Error::Closed`. Idempotent;
    /// from one of its own callbacks it flags the stop and returns (the
    /// thread releases on its way out). Sends nothing if it neither runs nor leads.
    /// Dropping an elector closes it.
    pub fn close(&self) -> Result<()> {
        self.inner.mlock.check_process()?;
        if self.inner.closed.is_cancelled() {
            return Ok(());
        }
        let busy = {
            let st = self.inner.state();
            st.running || st.term.is_some()
        };
        let res = if busy { self.stop() } else { Ok(()) };
        self.inner.closed.cancel();
        self.inner.events.wait_idle();
        res
    }

    /// Closes the elector without releasing leadership or firing callbacks:
    /// the thread ends, queued callbacks are dropped, and the lease lapses by
    /// its ttl. For finalizers, which must never give up a leadership the
    /// program may still rely on. Not from one of its own callbacks' threads
    /// while they run (it cannot wait for itself there, and does not).
    pub fn abandon(&self) {
        // The lock too: its own drop would release.
        self.inner.mlock.abandon();
        self.inner.closed.cancel();
        self.halt(Stop::Abandon);
        self.inner.state().term = None;
        self.inner.events.quiesce();
    }

    /// One poll cycle: renew if leading, try to lead if not, report status,
    /// then fire the callbacks of what happened.
    pub fn poll(&self) -> Result<()> {
        self.inner.check_usable()?;
        let res = self.inner.poll_once();
        self.inner.dispatch();
        res
    }

    /// Gives up leadership now (firing `on_leader_loss` if leading). A running
    /// elector leaves the lock to the others for half a ttl, then competes again.
    pub fn release(&self) -> Result<()> {
        self.inner.check_usable()?;
        self.inner.release()
    }

    pub fn running(&self) -> bool {
        self.inner.state().running
    }

    /// True while this elector leads and its lease, by its own monotonic clock,
    /// has not run out. No database call: it stays correct in an outage.
    pub fn is_leader(&self) -> bool {
        self.inner.is_leader(&self.inner.state())
    }

    /// This node's current term while it leads: its token is cancelled the
    /// moment the term ends (lease run out, taken, released, stopped), on
    /// time even while a callback runs, and it carries the term's fencing token.
    pub fn term(&self) -> Option<Arc<Lease>> {
        self.is_leader().then(|| self.inner.mlock.lease()).flatten()
    }

    /// The group's leader as this elector last observed it (no round trip):
    /// `(leader, when)`, the leader `None` when the lock was free; `None`
    /// before the first observation. Observations come from the elector's own
    /// polls (a follower reads the head every ttl/4).
    pub fn observed_leader(&self) -> Option<(Option<LeaderInfo>, SystemTime)> {
        self.inner.state().observed.clone()
    }

    /// A health check for probes, as client-go's adaptor, from memory (no
    /// round trip). Unhealthy when this node believes it leads but its last
    /// renewal is older than `tolerance` (default: its lease), when its polls
    /// have not succeeded for two poll intervals (a stuck loop, or a server
    /// it cannot reach), or when it does not run.
    pub fn healthy(&self, tolerance: Option<Duration>) -> Health {
        let st = self.inner.state();
        let tolerance = tolerance.unwrap_or(self.inner.lease);
        let overdue = |t: Option<Instant>, after: Duration| t.is_none_or(|t| t.elapsed() > after);
        if !st.running {
            return Health::NotRunning;
        }
        let since_start = st.started.map_or(Duration::ZERO, |t| t.elapsed());
        let polls_late = self.inner.interval() * 2;
        if since_start > polls_late && overdue(st.last_poll_ok, polls_late) {
            return Health::PollsFailing;
        }
        match st.term {
            Some(_) if overdue(st.last_renewal, tolerance) => Health::RenewalOverdue,
            Some(_) => Health::Leading,
            None => Health::Following,
        }
    }

    /// This elector's counters (its lock's, plus leader transitions).
    pub fn stats(&self) -> Stats {
        self.inner.mlock.stats()
    }

    /// True if any elector of the group leads now (one read).
    pub fn leader_exists(&self) -> Result<bool> {
        self.leader_exists_with(None)
    }

    /// [`leader_exists`](Self::leader_exists), cut short by `cancel`.
    pub fn leader_exists_with(&self, cancel: Option<&CancelToken>) -> Result<bool> {
        self.inner.call(cancel, || self.inner.mlock.locked())
    }

    /// Seconds until the next poll of a running elector; a quarter ttl otherwise.
    pub fn poll_wait(&self) -> Duration {
        let st = self.inner.state();
        match (st.running, st.next_poll) {
            (true, Some(at)) => at.saturating_duration_since(Instant::now()),
            _ => self.inner.interval(),
        }
    }

    /// This node's status (one read).
    pub fn node_status(&self) -> Result<NodeStatus> {
        self.node_status_with(None)
    }

    /// [`node_status`](Self::node_status), cut short by `cancel`.
    pub fn node_status_with(&self, cancel: Option<&CancelToken>) -> Result<NodeStatus> {
        self.inner.call(cancel, || {
            let head = self.inner.mlock.read_head(self.inner.op_limit())?;
            Ok(self.inner.node_status(head.as_ref()))
        })
    }

    /// The live members and the leader, taken from the lock itself.
    pub fn cluster_detail(&self) -> Result<ClusterDetail> {
        self.cluster_detail_with(None)
    }

    /// [`cluster_detail`](Self::cluster_detail), cut short by `cancel`.
    pub fn cluster_detail_with(&self, cancel: Option<&CancelToken>) -> Result<ClusterDetail> {
        self.inner.call(cancel, || self.cluster_detail_now())
    }

    fn cluster_detail_now(&self) -> Result<ClusterDetail> {
        let limit = self.inner.op_limit();
        let head = self.inner.mlock.read_head(limit)?;
        let now = self.inner.mlock.now();
        let leader = head
            .filter(|h| h.locked && h.ts_expire.to_system_time() > now)
            .map(|h| LeaderInfo {
                host: h.host,
                process_id: h.pid,
                uuid: h.uuid,
                fence: h.fence,
            });
        Ok(ClusterDetail {
            member_detail: self.inner.members.live(now, limit)?,
            leader,
            timestamp: now,
        })
    }
}

impl Drop for MongoLeaderElector {
    /// Stops the elector (releasing leadership) if it runs or leads.
    fn drop(&mut self) {
        if self.inner.mlock.check_process().is_err() {
            return;
        }
        if let Err(e) = self.close() {
            log_at!(Warn, "stopping elector {} on drop: {e}", shown(self.key()));
        }
    }
}

impl Inner {
    /// Refused in another process (an inherited elector never leads there)
    /// and after `close`.
    fn check_usable(&self) -> Result<()> {
        self.mlock.check_process()?;
        if self.closed.is_cancelled() {
            return Err(self.closed_error());
        }
        Ok(())
    }

    fn closed_error(&self) -> Error {
        Error::Closed(format!("elector for {} is closed", shown(self.mlock.key())))
    }

    /// Runs a public read: refused as by `check_usable`, cut short by
    /// `cancel` and by `close`.
    fn call<T>(&self, cancel: Option<&CancelToken>, body: impl FnOnce() -> Result<T>) -> Result<T> {
        self.check_usable()?;
        let mut tokens = vec![(
            self.closed.clone(),
            Cause::Closed(format!("elector for {} is closed", shown(self.mlock.key()))),
        )];
        tokens.extend(cancel.map(|c| (c.clone(), Cause::Caller)));
        cancel::scoped(tokens, body)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ttl(&self) -> Duration {
        self.mlock.ttl()
    }

    /// Leaders renew four times per ttl, so one slow round trip costs nothing;
    /// followers look as often, so a released lock is taken within a quarter ttl.
    fn interval(&self) -> Duration {
        self.ttl() / 4
    }

    /// A follower's database calls: well inside a ttl.
    fn op_limit(&self) -> Duration {
        (self.ttl() / 2).max(Duration::from_millis(200))
    }

    /// A follower's attempt to lead may take longer than its other calls: a
    /// follower reads the lock by the query, which on a crowded
    /// FerretDB collection scans for longer than half a short ttl, and a group
    /// none of whose followers finishes one would never elect a leader. The
    /// lease counts from after the read, so its length costs nothing.
    fn lead_limit(&self) -> Duration {
        self.op_limit().max(Duration::from_secs(5))
    }

    /// Never in a process that inherited the elector through fork: the
    /// child is not the parent's leader.
    fn is_leader(&self, st: &State) -> bool {
        st.term.is_some_and(|t| Instant::now() < t.step_down_at)
            && self.mlock.check_process().is_ok()
    }

    /// Fires queued callbacks here, after any other thread's dispatch.
    fn dispatch(&self) {
        self.events.run(&self.callbacks, true);
    }

    /// The elector thread: poll, fire callbacks, sleep until the next poll or
    /// the lease's end, whichever is first; `stop()` wakes it at once.
    /// Ends a running loop as a stop from one of its callbacks does: the
    /// loop releases on its way out.
    fn stop_from_self(&self) {
        let mut st = self.state();
        if st.running && st.stop.is_none() {
            st.stop = Some(Stop::FromSelf);
            st.run_token.cancel();
            self.wake.notify_all();
        }
    }

    fn run(self: &Arc<Self>) {
        let token = self.state().run_token.clone();
        loop {
            if self.state().stop.is_some() {
                break;
            }
            let polled = cancel::scoped(vec![(token.clone(), Cause::Caller)], || self.poll_once());
            if let Err(e) = polled {
                if e == Error::Cancelled {
                    continue;
                }
                log_at!(
                    Warn,
                    "elector {}: poll failed: {e}",
                    shown(self.mlock.key())
                );
            }
            // Never wait for another thread's dispatch here: its callback may be joining us.
            self.events.run(&self.callbacks, false);
            let mut st = self.state();
            loop {
                if st.stop.is_some() {
                    break;
                }
                let now = Instant::now();
                let mut until = st.next_poll.unwrap_or(now);
                if let Some(t) = st.term {
                    until = until.min(t.step_down_at);
                }
                if now >= until {
                    break;
                }
                st = self
                    .wake
                    .wait_timeout(st, until - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let stop = self.state().stop;
        if stop == Some(Stop::FromSelf) {
            if let Err(e) = self.release() {
                log_at!(
                    Warn,
                    "elector {}: release on stop failed: {e}",
                    shown(self.mlock.key())
                );
            }
        }
        let mut st = self.state();
        st.running = false;
        st.thread = None;
        st.next_poll = None;
        self.wake.notify_all();
    }

    /// Gives up leadership locally and fires `on_leader_loss` before writing
    /// the release, so the application has stopped acting as leader before
    /// any other node can lead.
    /// The node stays out of the race while the release is under way and for
    /// half a ttl after it is written, so another node can take over.
    fn release(&self) -> Result<()> {
        let was_leader = {
            let _poll = self.poll_lock.lock().unwrap_or_else(|e| e.into_inner());
            let mut st = self.state();
            st.releasing += 1;
            st.term.take().is_some()
        };
        self.mlock.end_lease(Ended::Released);
        if was_leader {
            self.lost_leadership();
            self.dispatch();
        }
        let _poll = self.poll_lock.lock().unwrap_or_else(|e| e.into_inner());
        let res = self
            .mlock
            .transition(Intent::Release { force: false }, self.op_limit())
            .map(|_| ());
        let mut st = self.state();
        st.releasing -= 1;
        st.hold_off_until = Some(Instant::now() + self.ttl() / 2);
        res
    }

    /// Steps down if the lease has run out; true if it did.
    fn step_down_if_due(&self) -> bool {
        let mut st = self.state();
        match st.term {
            Some(t) if Instant::now() >= t.step_down_at => {
                st.term = None;
                drop(st);
                self.mlock.end_lease(Ended::Expired);
                self.lost_leadership();
                true
            }
            _ => false,
        }
    }

    fn start_term(&self, decided: Instant) -> Term {
        Term {
            step_down_at: decided + self.lease.saturating_sub(callback_margin(self.ttl())),
        }
    }

    fn poll_once(&self) -> Result<()> {
        let _poll = self.poll_lock.lock().unwrap_or_else(|e| e.into_inner());
        let now_wall = self.mlock.now();
        self.state().last_poll = Some(now_wall);
        if self.step_down_if_due() {
            // Let on_leader_loss fire now, before any database call; poll again at once.
            self.state().next_poll = Some(Instant::now());
            return Ok(());
        }
        let (term, stopping, held_off) = {
            let st = self.state();
            let held_off =
                st.releasing > 0 || st.hold_off_until.is_some_and(|t| Instant::now() < t);
            (st.term, st.stop.is_some(), held_off)
        };
        let mut next = self.interval();
        let mut head: Option<Record> = None;
        let result = if let Some(term) = term {
            self.renew(term, &mut head, &mut next)
        } else if !stopping && !held_off {
            self.try_lead(&mut head, &mut next)
        } else {
            Ok(())
        };
        let reported = match &result {
            Ok(()) => {
                self.state().last_poll_ok = Some(Instant::now());
                if let Some(h) = &head {
                    self.observe(Some(h));
                }
                self.report(head.as_ref())
            }
            Err(_) => Ok(()),
        };
        self.state().next_poll = Some(Instant::now() + next);
        self.events.push(Event::Loop);
        result.and(reported)
    }

    fn renew(&self, term: Term, head: &mut Option<Record>, next: &mut Duration) -> Result<()> {
        let left = term.step_down_at.saturating_duration_since(Instant::now());
        match self
            .mlock
            .transition(Intent::Renew, left.min(self.op_limit()))
        {
            Ok(Outcome::Wrote(rec, decided)) => {
                let mut st = self.state();
                if st.term.is_some() {
                    st.term = Some(self.start_term(decided));
                    st.last_renewal = Some(Instant::now());
                }
                *head = Some(rec);
                Ok(())
            }
            Ok(_) => {
                bump(&self.mlock.counters().failed_renewals);
                // Our lease ended or was taken (force): we are not the leader.
                let mut st = self.state();
                if st.term.take().is_some() {
                    drop(st);
                    self.mlock.end_lease(Ended::Taken);
                    self.lost_leadership();
                }
                Ok(())
            }
            Err(e) => {
                bump(&self.mlock.counters().failed_renewals);
                // Keep leading until the lease ends; retry a few times before that.
                let left = term.step_down_at.saturating_duration_since(Instant::now());
                *next = (*next).min(left / 3).max(Duration::from_millis(20));
                Err(e)
            }
        }
    }

    fn try_lead(&self, head: &mut Option<Record>, next: &mut Duration) -> Result<()> {
        self.mlock.check_clock(None)?;
        let intent = Intent::Acquire {
            force: false,
            new_term: true,
        };
        match self.mlock.transition(intent, self.lead_limit())? {
            Outcome::Wrote(rec, decided) => {
                {
                    let mut st = self.state();
                    st.term = Some(self.start_term(decided));
                    st.last_renewal = Some(Instant::now());
                }
                bump(&self.mlock.counters().leader_transitions);
                self.events.push(Event::Leader);
                *head = Some(rec);
            }
            Outcome::Held(rec) => {
                // Look again right when this lease ends (with a little jitter),
                // so a dead leader is replaced about one ttl after its last renewal.
                let left = rec
                    .ts_expire
                    .to_system_time()
                    .duration_since(self.mlock.now())
                    .unwrap_or_default();
                let jitter = (self.ttl() / 20)
                    .min(Duration::from_millis(50))
                    .mul_f64(identity::random_fraction());
                *next = (*next).min(left + jitter + Duration::from_millis(5));
                *head = Some(rec);
            }
            Outcome::Nothing | Outcome::NotOwned | Outcome::Late => {}
        }
        Ok(())
    }

    /// Queues `on_leader_loss` and counts the transition; the group then has
    /// no leader that this node knows of.
    fn lost_leadership(&self) {
        bump(&self.mlock.counters().leader_transitions);
        self.events.push(Event::LeaderLoss);
        self.observe(None);
    }

    /// Records the group's leader as a read (or our own write) showed it,
    /// queueing `on_new_leader` when it changed. `None`: the lock is free.
    fn observe(&self, head: Option<&Record>) {
        let now = self.mlock.now();
        let leader = head
            .filter(|h| h.locked && h.ts_expire.to_system_time() > now)
            .map(|h| LeaderInfo {
                host: h.host.clone(),
                process_id: h.pid,
                uuid: h.uuid.clone(),
                fence: h.fence,
            });
        let changed = {
            let mut st = self.state();
            let same = st.observed.as_ref().is_some_and(|(seen, _)| {
                seen.as_ref().map(|l| (&l.uuid, l.fence))
                    == leader.as_ref().map(|l| (&l.uuid, l.fence))
            });
            st.observed = Some((leader.clone(), now));
            !same
        };
        if changed {
            self.events.push(Event::NewLeader(leader));
        }
    }

    fn node_status(&self, head: Option<&Record>) -> NodeStatus {
        let st = self.state();
        NodeStatus {
            lock: self.mlock.status_from(head),
            is_leader: self.is_leader(&st),
            elector_running: st.running,
            last_poll: st.last_poll,
            app_version: self.app_version.clone(),
        }
    }

    /// Reports status every half ttl, and at once when leadership changed;
    /// the leader also sweeps dead members' reports about once per ttl.
    fn report(&self, head: Option<&Record>) -> Result<()> {
        if !self.report_status {
            return Ok(());
        }
        let status = self.node_status(head);
        let due = self.state().last_report.is_none_or(|(at, leader)| {
            at.elapsed() >= self.ttl() / 2 || leader != status.is_leader
        });
        if due {
            self.members.report(&status, self.op_limit())?;
            self.state().last_report = Some((Instant::now(), status.is_leader));
        }
        let sweep = status.is_leader && {
            let mut st = self.state();
            let due = st
                .last_member_sweep
                .is_none_or(|at| at.elapsed() >= self.ttl());
            if due {
                st.last_member_sweep = Some(Instant::now());
            }
            due
        };
        if sweep {
            self.members
                .remove_dead(status.lock.timestamp, self.op_limit())?;
        }
        Ok(())
    }
}
