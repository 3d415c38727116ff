package mongoelector

/*
#include "callbacks.h"
*/
import "C"

import (
	"context"
	"net/http"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// ElectorOptions configure an Elector. A zero field keeps the library's
// default (me_elector_options_init: ttl 15 s, no callbacks, status reports
// on). Values are passed through: the library rejects bad ones with
// ErrInvalidArgument.
type ElectorOptions struct {
	// TTL is the leader lease.
	TTL time.Duration
	// OnLeader is called when this elector becomes leader.
	OnLeader func()
	// OnLeaderLoss is called when it stops being leader (lease lost, Release,
	// Stop or Close).
	OnLeaderLoss func()
	// OnLoop is called after each poll cycle.
	OnLoop func()
	// OnStartedLeading, as client-go's, is called on a goroutine of its own
	// each time this elector becomes leader (right after OnLeader), with the
	// term's context (see Term): it is cancelled the moment the term ends
	// (lease run out, leadership taken, Release, Stop, Close), on time even
	// when the database is unreachable. Do the leader's work in it and
	// return when ctx is done. Run returns only after it has returned.
	OnStartedLeading func(ctx context.Context)
	// OnNewLeader is called on every elector, leader or not, when the
	// group's leader changes as its polls read it (no extra round trip):
	// with the new leader, or nil for none.
	OnNewLeader func(leader *LeaderInfo)
	// AppVersion is included in status reports.
	AppVersion string
	// NoStatusReport turns off writing this node's status to the database.
	NoStatusReport bool
}

// Callbacks run on the elector's own thread (or, for the OnLeaderLoss caused by
// your own Stop, Release or Close, on the goroutine making that call before it
// returns), never two at once for one elector and none after Stop or Close has
// returned. A callback may call Stop, Release and Close of its elector. A
// panic in a callback is recovered and logged; the elector goes on.

// callbacks is the value behind the cgo.Handle given to C as user_data; the
// library deletes the handle through user_data_free when the elector is freed.
type callbacks struct {
	onLeader, onLeaderLoss, onLoop func()
	onStartedLeading               func(context.Context)
	onNewLeader                    func(*LeaderInfo)
	ptr                            *C.me_elector // set before any callback can run
	term                           *lossContexts // the terms' contexts
	leading                        goroutines    // OnStartedLeading calls running
}

// Elector runs a leader election among all electors of one key in a database.
// All methods are safe for concurrent use. While started it stays reachable
// (the package keeps a reference until Stop or Close), so the garbage
// collector never ends a running election; Close it when done. An Elector
// dropped without Close is freed by the garbage collector, which never
// releases: its leadership lapses by the ttl.
type Elector struct {
	ptr  *C.me_elector
	cbs  *callbacks
	key  string
	uuid string
	host string
	pid  int64
}

// running electors, kept reachable while started.
var (
	pinnedMu sync.Mutex
	pinned   = map[*Elector]struct{}{}
)

func (e *Elector) pin() {
	pinnedMu.Lock()
	pinned[e] = struct{}{}
	pinnedMu.Unlock()
}

func (e *Elector) unpin() {
	pinnedMu.Lock()
	delete(pinned, e)
	pinnedMu.Unlock()
}

// NewElector makes an elector for group key in database db. It sends nothing
// until it polls. opts may be nil.
func (c *Client) NewElector(db, key string, opts *ElectorOptions) (*Elector, error) {
	var o C.me_elector_options
	C.me_elector_options_init(&o)
	cbs := &callbacks{term: new(lossContexts)}
	if opts != nil {
		if opts.TTL != 0 {
			o.ttl = C.double(opts.TTL.Seconds())
		}
		if opts.AppVersion != "" {
			av, err := cString("app version", opts.AppVersion)
			if err != nil {
				return nil, err
			}
			defer C.free(unsafe.Pointer(av))
			o.app_version = av
		}
		if opts.NoStatusReport {
			o.report_status = false
		}
		cbs.onLeader, cbs.onLeaderLoss, cbs.onLoop = opts.OnLeader, opts.OnLeaderLoss, opts.OnLoop
		cbs.onStartedLeading, cbs.onNewLeader = opts.OnStartedLeading, opts.OnNewLeader
	}
	if cbs.onNewLeader != nil {
		o.on_new_leader = C.me_leader_callback(C.me_go_on_new_leader)
	}
	if cbs.onLeader != nil || cbs.onStartedLeading != nil {
		o.on_leader = C.me_callback(C.me_go_on_leader)
	}
	if cbs.onLeaderLoss != nil {
		o.on_leader_loss = C.me_callback(C.me_go_on_leader_loss)
	}
	if cbs.onLoop != nil {
		o.on_loop = C.me_callback(C.me_go_on_loop)
	}
	cdb, err := cString("database name", db)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cdb))
	ckey, err := cString("key", key)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(ckey))
	h := cgo.NewHandle(cbs)
	C.me_go_elector_options_set_handle(&o, C.uintptr_t(h))
	var p *C.me_elector
	err = c.use("elector new", func(cp *C.me_client) error {
		var cerr *C.me_error
		return takeError("elector new", C.me_elector_new(cp, cdb, ckey, &o, &p, &cerr), cerr, nil)
	})
	if err != nil {
		h.Delete() // no elector: user_data_free is never called
		return nil, err
	}
	cbs.ptr = p
	lk := C.me_elector_locker(p)
	e := &Elector{
		ptr:  p,
		cbs:  cbs,
		key:  C.GoString(C.me_elector_key(p)),
		uuid: C.GoString(C.me_locker_uuid(lk)),
		host: C.GoString(C.me_locker_host(lk)),
		pid:  int64(C.me_locker_pid(lk)),
	}
	runtime.SetFinalizer(e, func(e *Elector) { C.me_elector_free(e.ptr) })
	return e, nil
}

// call runs one C call of op with the error out-parameter.
func (e *Elector) call(op string, f func(p *C.me_elector, cerr **C.me_error) C.enum_me_status) error {
	maybeGC()
	var cerr *C.me_error
	st := f(e.ptr, &cerr)
	runtime.KeepAlive(e)
	return takeError(op, st, cerr, nil)
}

// read runs one C read of op with a token for ctx and the error out-parameter.
func (e *Elector) read(ctx context.Context, op string, f func(p *C.me_elector, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status) error {
	tok := newToken(ctx)
	defer tok.free()
	maybeGC()
	var cerr *C.me_error
	st := f(e.ptr, tok.ptr, &cerr)
	runtime.KeepAlive(e)
	return takeError(op, st, cerr, ctx)
}

// Close closes the elector (me_elector_close): it stops it, releases
// leadership (OnLeaderLoss fires if it led) and returns once no callback of
// it runs on another goroutine. From a callback it only flags the stop (the
// elector thread releases on its way out). Later calls fail with ErrClosed;
// the getters keep working. Idempotent.
func (e *Elector) Close() error {
	err := e.call("elector close", func(p *C.me_elector, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_close(p, cerr)
	})
	e.unpin()
	return err
}

// Start runs the elector on its own thread until Stop or Close.
func (e *Elector) Start() error {
	e.pin()
	err := e.call("elector start", func(p *C.me_elector, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_start(p, false, cerr)
	})
	if err != nil && !e.Running() {
		e.unpin()
	}
	return err
}

// Run runs the elector loop on the calling goroutine (and its OS thread) until
// ctx is done, Stop is called (from a callback or another goroutine) or the
// Elector is closed. It returns nil when stopped, whatever the reason; when
// ctx ends it, leadership is released (and OnLeaderLoss has run) before it
// returns. It returns only after every OnStartedLeading call has returned.
func (e *Elector) Run(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &Error{Code: CodeCancelled, Op: "elector run", Message: "not started", Context: err}
	}
	e.pin()
	defer e.unpin()
	tok := newToken(ctx)
	defer tok.free()
	err := e.call("elector run", func(p *C.me_elector, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_run(p, tok.ptr, cerr)
	})
	e.cbs.leading.wait()
	return err
}

// Stop stops the elector and releases leadership (OnLeaderLoss fires if it
// led). From another goroutine it waits for the elector thread to end; from a
// callback it only asks the thread to stop. Stopping a stopped elector only
// releases. It ends the term, so the term's context is cancelled, but it
// does not wait for OnStartedLeading to return (it may be called from it):
// Run does.
func (e *Elector) Stop() error {
	err := e.call("elector stop", func(p *C.me_elector, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_stop(p, cerr)
	})
	if err == nil && !e.Running() {
		e.unpin()
	}
	return err
}

// Poll runs one poll cycle on the calling goroutine: renew if leading, try to
// lead if not, report status, then fire the callbacks of what happened.
func (e *Elector) Poll() error {
	return e.call("elector poll", func(p *C.me_elector, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_poll(p, cerr)
	})
}

// Release gives up leadership now (OnLeaderLoss fires if it led). A running
// elector leaves the lock to the others for half a ttl, then competes again.
func (e *Elector) Release() error {
	return e.call("elector release", func(p *C.me_elector, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_release(p, cerr)
	})
}

// IsLeader reports whether this elector leads and its lease, by its own
// monotonic clock, has not run out. No database call.
func (e *Elector) IsLeader() bool {
	maybeGC()
	defer runtime.KeepAlive(e)
	return bool(C.me_elector_is_leader(e.ptr))
}

// Running reports whether the elector loop runs.
func (e *Elector) Running() bool {
	maybeGC()
	defer runtime.KeepAlive(e)
	return bool(C.me_elector_running(e.ptr))
}

// PollWait is the time until the next poll of a running elector; a quarter of
// the ttl otherwise.
func (e *Elector) PollWait() time.Duration {
	maybeGC()
	defer runtime.KeepAlive(e)
	return seconds(float64(C.me_elector_poll_wait(e.ptr)))
}

// TTL is the leader lease.
func (e *Elector) TTL() time.Duration {
	maybeGC()
	defer runtime.KeepAlive(e)
	return seconds(float64(C.me_elector_ttl(e.ptr)))
}

// Key is the election group's key.
func (e *Elector) Key() string { return e.key }

// Lock is the lock the election runs on, as a read-only Locker: its getters
// and reads (Locked, Owned, Current, Status) work; Acquire, Release,
// ForceRelease, Touch and Close fail with ErrInvalidState.
// The Locker keeps the Elector alive.
func (e *Elector) Lock() *Locker {
	defer runtime.KeepAlive(e)
	return wrapLocker(C.me_elector_locker(e.ptr), e)
}

// UUID identifies this elector (its lock's UUID, that of its status report).
func (e *Elector) UUID() string { return e.uuid }

// Host is the host name this elector reports.
func (e *Elector) Host() string { return e.host }

// PID is the process id this elector reports.
func (e *Elector) PID() int64 { return e.pid }

// Fence is the fencing token of this elector's latest term as leader; 0 if it
// never led.
func (e *Elector) Fence() int64 {
	maybeGC()
	defer runtime.KeepAlive(e)
	return int64(C.me_locker_fence(C.me_elector_locker(e.ptr)))
}

// LeaderExists reports whether any elector of the group leads now (one read).
func (e *Elector) LeaderExists(ctx context.Context) (bool, error) {
	var b C.bool
	err := e.read(ctx, "leader exists", func(p *C.me_elector, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_leader_exists(p, tok, &b, cerr)
	})
	return bool(b), err
}

// NodeStatus gives this node's status (one read).
func (e *Elector) NodeStatus(ctx context.Context) (*NodeStatus, error) {
	var rec *C.me_node_status
	err := e.read(ctx, "node status", func(p *C.me_elector, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_node_status(p, tok, &rec, cerr)
	})
	if err != nil {
		return nil, err
	}
	defer C.me_node_status_free(rec)
	st := nodeStatusOf(rec)
	return &st, nil
}

// ClusterDetail gives the live members of the group and the leader, taken from
// the lock itself (two reads).
func (e *Elector) ClusterDetail(ctx context.Context) (*ClusterDetail, error) {
	var rec *C.me_cluster_detail
	err := e.read(ctx, "cluster detail", func(p *C.me_elector, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_cluster_detail(p, tok, &rec, cerr)
	})
	if err != nil {
		return nil, err
	}
	defer C.me_cluster_detail_free(rec)
	return clusterDetailOf(rec), nil
}

// Term gives the context of this elector's current term as leader, cancelled
// the moment the term ends (lease run out, leadership taken, Release, Stop,
// Close, or the Elector freed by the garbage collector), on time even while
// a callback holds the elector's thread, and the term's fencing token. ok is
// false when it does not lead (ctx is then done). Calls for one term give the
// same context, the one OnStartedLeading gets. No goroutine outlives the
// term.
func (e *Elector) Term() (ctx context.Context, fence int64, ok bool) {
	maybeGC()
	var f C.int64_t
	tok := C.me_elector_term_token(e.ptr, &f)
	runtime.KeepAlive(e)
	ctx, ok = e.cbs.term.get(tok, int64(f))
	if !ok {
		return ctx, 0, false
	}
	return ctx, int64(f), true
}

// Leader gives the group's leader as this elector last observed it, from
// memory (no round trip): leader is nil when the lock was free; observed is
// when it was seen; ok is false before the first observation.
func (e *Elector) Leader() (leader *LeaderInfo, observed time.Time, ok bool) {
	maybeGC()
	var rec *C.me_leader_info
	var ms C.int64_t
	var cerr *C.me_error
	st := C.me_elector_leader(e.ptr, &rec, &ms, &cerr)
	runtime.KeepAlive(e)
	if takeError("elector leader", st, cerr, nil) != nil || ms == 0 {
		return nil, time.Time{}, false
	}
	if rec != nil {
		leader = leaderInfoOf(rec)
		C.me_leader_info_free(rec)
	}
	return leader, msTime(ms), true
}

// Healthy is a health check for probes, from memory (no round trip): false
// when this elector believes it leads but its last renewal is older than
// tolerance (<= 0: its lease), when its polls have not succeeded for two poll
// intervals, or when it does not run. reason says why: "leading",
// "following", "renewal overdue", "polls failing or stuck", "not running".
func (e *Elector) Healthy(tolerance time.Duration) (ok bool, reason string) {
	maybeGC()
	var r *C.char
	ok = bool(C.me_elector_healthy(e.ptr, C.double(tolerance.Seconds()), &r))
	runtime.KeepAlive(e)
	return ok, C.GoString(r) // a static string
}

// Stats gives this elector's counters: its lock's, plus leader transitions
// (no round trip).
func (e *Elector) Stats() Stats {
	maybeGC()
	var s C.me_stats
	C.me_elector_stats(e.ptr, &s)
	runtime.KeepAlive(e)
	return statsOf(&s)
}

// HealthHandler is an http.Handler answering e.Healthy(tolerance): status 200
// with "ok: <reason>" or 503 with "unhealthy: <reason>" (text/plain), for
// liveness or readiness probes.
func HealthHandler(e *Elector, tolerance time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ok, reason := e.Healthy(tolerance)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ok {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("ok: " + reason))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("unhealthy: " + reason))
	})
}
