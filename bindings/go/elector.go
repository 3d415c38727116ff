package mongoelector

/*
#include "shims.h"
*/
import "C"

import (
	"context"
	"math"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// ElectorOptions configure an Elector. The zero value gives the library's
// defaults (ttl 15 s, no callbacks, status reports on).
type ElectorOptions struct {
	// TTL is the leader lease; 0 means 15 s. Negative values are rejected.
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
// returned. A callback may call Stop and Release of its elector (not Close). A
// panic in a callback is recovered and logged; the elector goes on.

// callbacks is the value behind the cgo.Handle given to C as user_data. It
// does not reference the Elector, so an idle Elector can be collected.
type callbacks struct {
	onLeader, onLeaderLoss, onLoop func()
}

// Elector runs a leader election among all electors of one key in a database.
// All methods are safe for concurrent use. While started it stays reachable
// (the package keeps a reference until Stop or Close), so a running election is
// never ended by the garbage collector; Close it when done.
type Elector struct {
	ptr    *C.me_elector
	g      *guard
	handle cgo.Handle
	key    string
	uuid   string
	host   string
	pid    int64
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

// NewElector makes an elector for group key in database db. It touches no
// server until it polls. opts may be nil.
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
	C.me_go_elector_options_set_callbacks(&o, C.uintptr_t(h),
		C.bool(cbs.onLeader != nil), C.bool(cbs.onLeaderLoss != nil), C.bool(cbs.onLoop != nil))
	var p *C.me_elector
	err = c.use("elector new", func(cp *C.me_client) error {
		var msg *C.char
		return check("elector new", C.me_go_elector_new(cp, cdb, ckey, &o, &p, &msg), msg)
	})
	if err != nil {
		h.Delete()
		return nil, err
	}
	lk := C.me_elector_locker(p)
	e := &Elector{
		ptr:    p,
		g:      newGuard("elector", key),
		handle: h,
		key:    C.GoString(C.me_elector_key(p)),
		uuid:   C.GoString(C.me_locker_uuid(lk)),
		host:   C.GoString(C.me_locker_host(lk)),
		pid:    int64(C.me_locker_pid(lk)),
	}
	runtime.SetFinalizer(e, (*Elector).Close)
	return e, nil
}

// Close stops the elector if it runs (releasing leadership; OnLeaderLoss fires
// if it led) and frees it. Calls in flight finish first; later calls fail with
// ErrClosed (an ErrInvalidState). Idempotent. Do not call it from a callback
// of this elector.
func (e *Elector) Close() error {
	var err error
	e.g.close(func() {
		var msg *C.char
		maybeGC()
		err = check("elector stop", C.me_go_elector_stop(e.ptr, &msg), msg)
	}, func() {
		runtime.SetFinalizer(e, nil)
		C.me_elector_free(e.ptr)
		e.ptr = nil
		e.handle.Delete() // no callback runs after free has returned
		e.unpin()
	})
	return err
}

func (e *Elector) use(op string, f func(p *C.me_elector) error) error {
	if !e.g.enter() {
		return e.g.closedError(op)
	}
	defer e.g.exit()
	maybeGC()
	err := f(e.ptr)
	runtime.KeepAlive(e)
	return err
}

func (e *Elector) call(op string, f func(p *C.me_elector, msg **C.char) C.int) error {
	return e.use(op, func(p *C.me_elector) error {
		var msg *C.char
		st := f(p, &msg)
		return check(op, st, msg)
	})
}

// Start runs the elector on its own thread until Stop or Close.
func (e *Elector) Start() error {
	e.pin()
	err := e.call("elector start", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_start(p, false, msg)
	})
	if err != nil && !e.Running() {
		e.unpin()
	}
	return err
}

// Run runs the elector loop on the calling goroutine (and its OS thread) until
// ctx is done, Stop is called (from a callback or another goroutine) or the
// Elector is closed. It returns nil when stopped, whatever the reason.
func (e *Elector) Run(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stopped, watcherDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
			_ = e.Stop()
		case <-stopped:
		}
	}()
	e.pin()
	defer e.unpin()
	err := e.call("elector start", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_start(p, true, msg)
	})
	// When ctx ended the loop, Stop releases leadership (and fires
	// OnLeaderLoss) after the loop has ended: wait for it.
	close(stopped)
	<-watcherDone
	return err
}

// Stop stops the elector and releases leadership (OnLeaderLoss fires if it
// led). From another goroutine it waits for the elector thread to end; from a
// callback it only asks the thread to stop.
func (e *Elector) Stop() error {
	err := e.call("elector stop", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_stop(p, msg)
	})
	if err == nil && !e.Running() {
		e.unpin()
	}
	return err
}

// Poll runs one poll cycle on the calling goroutine: renew if leading, try to
// lead if not, report status, then fire the callbacks of what happened.
func (e *Elector) Poll() error {
	return e.call("elector poll", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_poll(p, msg)
	})
}

// Release gives up leadership now (OnLeaderLoss fires if it led). A running
// elector leaves the lock to the others for half a ttl, then competes again.
func (e *Elector) Release() error {
	return e.call("elector release", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_release(p, msg)
	})
}

// IsLeader reports whether this elector leads and its lease, by its own
// monotonic clock, has not run out. No database call. False once closed.
func (e *Elector) IsLeader() bool {
	var b C.bool
	_ = e.call("elector is leader", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_is_leader(p, &b, msg)
	})
	return bool(b)
}

// LeaderExists reports whether any elector of the group leads now (one read).
func (e *Elector) LeaderExists() (bool, error) {
	var b C.bool
	err := e.call("elector leader exists", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_leader_exists(p, &b, msg)
	})
	return bool(b), err
}

// Running reports whether the elector loop runs. False once closed.
func (e *Elector) Running() bool {
	var r bool
	_ = e.use("elector running", func(p *C.me_elector) error {
		r = bool(C.me_elector_running(p))
		return nil
	})
	return r
}

// PollWait is the time until the next poll of a running elector; a quarter of
// the ttl otherwise. Zero once closed.
func (e *Elector) PollWait() time.Duration {
	var d time.Duration
	_ = e.use("elector poll wait", func(p *C.me_elector) error {
		d = seconds(float64(C.me_elector_poll_wait(p)))
		return nil
	})
	return d
}

// TTL is the leader lease. Zero once closed.
func (e *Elector) TTL() time.Duration {
	var d time.Duration
	_ = e.use("elector ttl", func(p *C.me_elector) error {
		d = seconds(float64(C.me_elector_ttl(p)))
		return nil
	})
	return d
}

// Key is the election group's key.
func (e *Elector) Key() string { return e.key }

// UUID identifies this elector (its lock's UUID, the _id of its status report).
func (e *Elector) UUID() string { return e.uuid }

// Host is the host name this elector reports.
func (e *Elector) Host() string { return e.host }

// PID is the process id this elector reports.
func (e *Elector) PID() int64 { return e.pid }

// Fence is the fencing token of this elector's latest term as leader; 0 if it
// never led (or once closed).
func (e *Elector) Fence() int64 {
	var f int64
	_ = e.use("elector fence", func(p *C.me_elector) error {
		f = int64(C.me_locker_fence(C.me_elector_locker(p)))
		return nil
	})
	return f
}

// NodeStatus gives this node's status (one read).
func (e *Elector) NodeStatus() (*NodeStatus, error) {
	var js *C.char
	err := e.call("elector node status", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_node_status(p, &js, msg)
	})
	if err != nil {
		return nil, err
	}
	s, _ := takeString(js)
	return decodeNodeStatus(s)
}

// ClusterDetail gives the live members of the group and the leader, taken from
// the lock itself.
func (e *Elector) ClusterDetail() (*ClusterDetail, error) {
	var js *C.char
	err := e.call("elector cluster detail", func(p *C.me_elector, msg **C.char) C.int {
		return C.me_go_elector_cluster_detail(p, &js, msg)
	})
	if err != nil {
		return nil, err
	}
	s, _ := takeString(js)
	return decodeCluster(s)
}

// seconds converts the library's seconds to a Duration, rounded to the
// nanosecond and saturated at the Duration range: the largest ttl a Duration
// can give comes back as 9223372036.854776 s, just above math.MaxInt64 ns, and
// a plain conversion of a float that large to an integer is undefined.
func seconds(s float64) time.Duration {
	ns := math.Round(s * float64(time.Second))
	switch {
	case ns != ns: // NaN
		return 0
	case ns >= math.MaxInt64: // float64(math.MaxInt64) is 2^63
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}
