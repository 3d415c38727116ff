package mongoelector

/*
#include "callbacks.h"
*/
import "C"

import (
	"context"
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
}

// Elector runs a leader election among all electors of one key in a database.
// All methods are safe for concurrent use. While started it stays reachable
// (the package keeps a reference until Stop or Close), so the garbage
// collector never ends a running election; Close it when done. An Elector
// dropped without Close is freed by the garbage collector, which never
// releases: its leadership lapses by the ttl.
type Elector struct {
	ptr  *C.me_elector
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
	cbs := &callbacks{}
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
	}
	if cbs.onLeader != nil {
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
	lk := C.me_elector_locker(p)
	e := &Elector{
		ptr:  p,
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
// returns.
func (e *Elector) Run(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &Error{Code: CodeCancelled, Op: "elector run", Message: "not started", Context: err}
	}
	e.pin()
	defer e.unpin()
	returned, stopped := make(chan struct{}), make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(stopped)
		// A Stop that comes before the loop has started does not end it: stop
		// again until the loop has returned.
		for {
			_ = e.Stop()
			select {
			case <-returned:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	err := e.call("elector start", func(p *C.me_elector, cerr **C.me_error) C.enum_me_status {
		return C.me_elector_start(p, true, cerr)
	})
	close(returned)
	if !stop() {
		<-stopped
	}
	return err
}

// Stop stops the elector and releases leadership (OnLeaderLoss fires if it
// led). From another goroutine it waits for the elector thread to end; from a
// callback it only asks the thread to stop. Stopping a stopped elector only
// releases.
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
