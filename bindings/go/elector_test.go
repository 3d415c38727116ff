package mongoelector

import (
	"bytes"
	"context"
	"errors"
	"log"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder counts an elector's callbacks and remembers their order.
type recorder struct {
	mu     sync.Mutex
	events []string
	loops  atomic.Int64
}

func (r *recorder) add(ev string) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) count(ev string) int {
	n := 0
	for _, e := range r.list() {
		if e == ev {
			n++
		}
	}
	return n
}

func (r *recorder) options(ttl time.Duration) *ElectorOptions {
	return &ElectorOptions{
		TTL:          ttl,
		OnLeader:     func() { r.add("leader") },
		OnLeaderLoss: func() { r.add("loss") },
		OnLoop:       func() { r.loops.Add(1) },
		AppVersion:   "test-1.2.3",
	}
}

func newElector(t testing.TB, c *Client, db, key string, opts *ElectorOptions) *Elector {
	t.Helper()
	e, err := c.NewElector(db, key, opts)
	if err != nil {
		t.Fatalf("NewElector: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestElectorPollAndStatus(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	var r recorder
	e := newElector(t, c, db, "group", r.options(4*time.Second))

	if e.Key() != "group" || e.UUID() == "" || e.Host() == "" || e.PID() != int64(os.Getpid()) {
		t.Fatalf("identity: %q %q %q %d", e.Key(), e.UUID(), e.Host(), e.PID())
	}
	if e.TTL() != 4*time.Second {
		t.Fatalf("TTL = %v", e.TTL())
	}
	if e.Running() || e.IsLeader() || e.Fence() != 0 {
		t.Fatalf("fresh elector: running %v leader %v fence %d", e.Running(), e.IsLeader(), e.Fence())
	}
	if w := e.PollWait(); w != time.Second {
		t.Fatalf("PollWait of a stopped elector = %v, want a quarter ttl", w)
	}
	exists, err := e.LeaderExists(bg)
	mustBool(t, "LeaderExists before", false, exists, err)

	must(t, e.Poll())
	if !e.IsLeader() {
		t.Fatal("not leader after polling an empty group")
	}
	if got := r.list(); len(got) != 1 || got[0] != "leader" {
		t.Fatalf("callbacks after the first poll: %v", got)
	}
	if r.loops.Load() != 1 {
		t.Fatalf("OnLoop ran %d times after one poll", r.loops.Load())
	}
	fence := e.Fence()
	if fence <= 0 {
		t.Fatalf("Fence of the leader = %d", fence)
	}
	exists, err = e.LeaderExists(bg)
	mustBool(t, "LeaderExists", true, exists, err)

	ns, err := e.NodeStatus(bg)
	must(t, err)
	if !ns.IsLeader || ns.ElectorRunning || ns.UUID != e.UUID() || ns.Key != "group" ||
		!ns.Owned || ns.Fence != fence || ns.AppVersion != "test-1.2.3" || ns.LastPoll.IsZero() ||
		ns.TTL != 4*time.Second || ns.Expires.IsZero() || ns.PID != e.PID() {
		t.Fatalf("NodeStatus = %+v", ns)
	}

	// A second elector sees the first as leader.
	var r2 recorder
	e2 := newElector(t, c, db, "group", r2.options(4*time.Second))
	must(t, e2.Poll())
	if e2.IsLeader() || r2.count("leader") != 0 {
		t.Fatal("second elector leads while the first does")
	}
	cd, err := e2.ClusterDetail(bg)
	must(t, err)
	if cd.Leader == nil || cd.Leader.UUID != e.UUID() || cd.Leader.Fence != fence || cd.Leader.PID != e.PID() ||
		cd.Leader.Host != e.Host() || cd.Timestamp.IsZero() {
		t.Fatalf("ClusterDetail leader = %+v", cd.Leader)
	}
	seen := map[string]NodeStatus{}
	for _, m := range cd.Members {
		seen[m.UUID] = m
	}
	if m, ok := seen[e.UUID()]; !ok || !m.IsLeader {
		t.Fatalf("leader missing from the members: %+v", cd.Members)
	}
	if m, ok := seen[e2.UUID()]; !ok || m.IsLeader {
		t.Fatalf("second elector missing from the members: %+v", cd.Members)
	}

	// Renewing keeps the term; Release ends it and fires the loss.
	must(t, e.Poll())
	if !e.IsLeader() || e.Fence() != fence || r.count("leader") != 1 {
		t.Fatalf("renewal: leader %v fence %d callbacks %v", e.IsLeader(), e.Fence(), r.list())
	}
	must(t, e.Release())
	if e.IsLeader() {
		t.Fatal("leader after Release")
	}
	if got := r.list(); len(got) != 2 || got[1] != "loss" {
		t.Fatalf("callbacks after Release: %v", got)
	}
	// The lock is free now; the second elector takes it within a few polls.
	eventually(t, 30*time.Second, "the second elector to lead", func() bool {
		must(t, e2.Poll())
		return e2.IsLeader()
	})
	if e2.Fence() <= fence {
		t.Fatalf("second elector after the release: leader %v fence %d (first %d)", e2.IsLeader(), e2.Fence(), fence)
	}
}

func TestElectorStartStop(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	var ra, rb recorder
	a := newElector(t, c, db, "g", ra.options(2*time.Second))
	b := newElector(t, c, db, "g", rb.options(2*time.Second))
	must(t, a.Start())
	if err := a.Start(); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("Start of a running elector: %v, want ErrInvalidState", err)
	}
	if !a.Running() {
		t.Fatal("not running after Start")
	}
	eventually(t, 30*time.Second, "a to lead", a.IsLeader)
	if w := a.PollWait(); w <= 0 || w > 2*time.Second {
		t.Fatalf("PollWait of a running elector = %v", w)
	}
	must(t, b.Start())
	eventually(t, 30*time.Second, "b to poll", func() bool { return rb.loops.Load() >= 2 })
	if b.IsLeader() {
		t.Fatal("two leaders")
	}
	must(t, a.Stop())
	if a.Running() || a.IsLeader() {
		t.Fatalf("after Stop: running %v leader %v", a.Running(), a.IsLeader())
	}
	if got := ra.list(); len(got) != 2 || got[0] != "leader" || got[1] != "loss" {
		t.Fatalf("callbacks of the stopped leader: %v (loss fires before Stop returns)", got)
	}
	eventually(t, 30*time.Second, "b to take over", b.IsLeader)
	must(t, a.Stop()) // stopping a stopped elector is fine
	must(t, b.Close())
	if got := rb.list(); len(got) != 2 || got[1] != "loss" {
		t.Fatalf("callbacks of the closed leader: %v (loss fires before Close returns)", got)
	}
	must(t, b.Close())
	if b.Running() || b.IsLeader() {
		t.Fatal("closed elector reports running or leading")
	}
	if err := b.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if _, err := b.NodeStatus(bg); !errors.Is(err, ErrClosed) {
		t.Fatalf("NodeStatus after Close: %v", err)
	}
	// Restart after Stop.
	must(t, a.Start())
	eventually(t, 30*time.Second, "a to lead again", a.IsLeader)
	must(t, a.Stop())
}

func TestElectorCallbackPanic(t *testing.T) {
	var logs logCapture
	log.SetOutput(&logs)
	defer log.SetOutput(os.Stderr)
	c := newClient(t)
	var loops atomic.Int64
	e := newElector(t, c, testDB(t), "g", &ElectorOptions{
		TTL:      2 * time.Second,
		OnLeader: func() { panic("boom in OnLeader") },
		OnLoop:   func() { loops.Add(1) },
	})
	must(t, e.Start())
	eventually(t, 30*time.Second, "polls after the panic", func() bool { return loops.Load() >= 3 })
	if !e.IsLeader() || !e.Running() {
		t.Fatalf("after a panicking callback: leader %v running %v", e.IsLeader(), e.Running())
	}
	if !bytes.Contains([]byte(logs.String()), []byte("panic in OnLeader callback (recovered): boom in OnLeader")) {
		t.Fatalf("panic not logged; log: %q", logs.String())
	}
	must(t, e.Close())
}

func TestElectorStopFromCallback(t *testing.T) {
	c := newClient(t)
	var r recorder
	var e *Elector
	var stopErr atomic.Value
	opts := r.options(2 * time.Second)
	opts.OnLeader = func() {
		r.add("leader")
		if err := e.Stop(); err != nil {
			stopErr.Store(err)
		}
		if err := e.Release(); err != nil {
			stopErr.Store(err)
		}
	}
	e = newElector(t, c, testDB(t), "g", opts)
	must(t, e.Start())
	eventually(t, 30*time.Second, "the elector to stop itself", func() bool { return !e.Running() })
	if err := stopErr.Load(); err != nil {
		t.Fatalf("Stop/Release from a callback: %v", err)
	}
	if got := r.list(); len(got) != 2 || got[0] != "leader" || got[1] != "loss" {
		t.Fatalf("callbacks: %v", got)
	}
	exists, err := e.LeaderExists(bg)
	mustBool(t, "LeaderExists after stopping from the callback", false, exists, err)
}

func TestElectorRun(t *testing.T) {
	c := newClient(t)
	var r recorder
	e := newElector(t, c, testDB(t), "g", r.options(2*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	eventually(t, 30*time.Second, "Run to lead", e.IsLeader)
	if !e.Running() {
		t.Fatal("not running inside Run")
	}
	cancel()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if e.Running() || e.IsLeader() {
		t.Fatal("running or leading after Run returned")
	}
	if got := r.list(); len(got) != 2 || got[1] != "loss" {
		t.Fatalf("callbacks: %v", got)
	}
	// Close ends a Run too.
	done2 := make(chan error, 1)
	go func() { done2 <- e.Run(context.Background()) }()
	eventually(t, 30*time.Second, "Run to lead again", e.IsLeader)
	must(t, e.Close())
	select {
	case <-done2:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}

func TestElectorNoStatusReport(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	quiet := newElector(t, c, db, "g", &ElectorOptions{TTL: 2 * time.Second, NoStatusReport: true})
	must(t, quiet.Poll())
	if !quiet.IsLeader() {
		t.Fatal("not leader")
	}
	cd, err := quiet.ClusterDetail(bg)
	must(t, err)
	if cd.Leader == nil || cd.Leader.UUID != quiet.UUID() {
		t.Fatalf("leader = %+v", cd.Leader)
	}
	for _, m := range cd.Members {
		if m.UUID == quiet.UUID() {
			t.Fatalf("a node with NoStatusReport is listed: %+v", m)
		}
	}
}

// An idle Elector dropped while leading is freed by its finalizer
// (me_elector_free), which never releases: leadership lapses by the ttl. The
// callbacks' handle is deleted then (user_data_free), so they are collected.
func TestElectorFinalizer(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	const ttl = 4 * time.Second
	var callbacksCollected atomic.Bool
	var uuid string
	func() {
		marker := new(int) // reachable only through the callbacks
		runtime.SetFinalizer(marker, func(*int) { callbacksCollected.Store(true) })
		e, err := c.NewElector(db, "g", &ElectorOptions{TTL: ttl, OnLoop: func() { _ = marker }})
		must(t, err)
		must(t, e.Poll())
		if !e.IsLeader() {
			t.Fatal("not leader")
		}
		uuid = e.UUID()
	}()
	led := time.Now()
	probe := newElector(t, c, db, "g", nil)
	eventually(t, ttl/2, "the elector and its callbacks to be collected", func() bool {
		runtime.GC()
		return callbacksCollected.Load()
	})
	for time.Since(led) < ttl-time.Second {
		cd, err := probe.ClusterDetail(bg)
		must(t, err)
		if cd.Leader == nil || cd.Leader.UUID != uuid {
			t.Fatalf("%v after leading (ttl %v), the leader is %+v; want the collected elector %s: "+
				"me_elector_free must never release leadership (include/mongoelector.h)", time.Since(led), ttl, cd.Leader, uuid)
		}
		time.Sleep(200 * time.Millisecond)
	}
	eventually(t, ttl+10*time.Second, "the lease of the collected elector to lapse", func() bool {
		exists, err := probe.LeaderExists(bg)
		must(t, err)
		return !exists
	})
	if d := time.Since(led); d < ttl-500*time.Millisecond {
		t.Fatalf("leadership lapsed %v after leading, before the ttl %v", d, ttl)
	}
}

// Close while a callback runs on the elector's thread returns once it has
// returned, fires the loss, and no callback runs afterwards.
func TestElectorCloseDuringCallback(t *testing.T) {
	c := newClient(t)
	var inCallback, callbackDone, afterClose atomic.Bool
	var closed atomic.Bool
	entered := make(chan struct{})
	var r recorder
	opts := r.options(2 * time.Second)
	opts.OnLeader = func() {
		r.add("leader")
		inCallback.Store(true)
		close(entered)
		time.Sleep(500 * time.Millisecond)
		callbackDone.Store(true)
	}
	opts.OnLoop = func() {
		if closed.Load() {
			afterClose.Store(true)
		}
	}
	db := testDB(t)
	e := newElector(t, c, db, "g", opts)
	must(t, e.Start())
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("OnLeader never ran")
	}
	must(t, e.Close())
	closed.Store(true)
	if !callbackDone.Load() {
		t.Fatal("Close returned while OnLeader was still running")
	}
	if got := r.list(); len(got) != 2 || got[1] != "loss" {
		t.Fatalf("callbacks: %v (loss fires before Close returns)", got)
	}
	time.Sleep(time.Second)
	if afterClose.Load() {
		t.Fatal("a callback ran after Close returned")
	}
	if e.Running() || e.IsLeader() {
		t.Fatalf("after Close: running %v leader %v", e.Running(), e.IsLeader())
	}
	exists, err := newElector(t, c, db, "g", nil).LeaderExists(bg)
	mustBool(t, "LeaderExists after Close", false, exists, err)
}

// Close from one of the elector's own callbacks flags the stop; the elector
// thread releases on its way out.
func TestElectorCloseFromCallback(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	var r recorder
	var e *Elector
	var closeErr atomic.Value
	opts := r.options(2 * time.Second)
	opts.OnLeader = func() {
		r.add("leader")
		if err := e.Close(); err != nil {
			closeErr.Store(err)
		}
	}
	e = newElector(t, c, db, "g", opts)
	must(t, e.Start())
	eventually(t, 30*time.Second, "the elector to close itself", func() bool { return !e.Running() && r.count("loss") == 1 })
	if err := closeErr.Load(); err != nil {
		t.Fatalf("Close from a callback: %v", err)
	}
	probe := newElector(t, c, db, "g", nil)
	exists, err := probe.LeaderExists(bg)
	mustBool(t, "LeaderExists after the elector closed itself", false, exists, err)
	wantClosed(t, "Poll after Close from a callback", e.Poll())
}

// A started Elector the program no longer references keeps running: the
// garbage collector must not end an election.
func TestStartedElectorStaysAlive(t *testing.T) {
	c := newClient(t)
	var loops atomic.Int64
	var uuid string
	func() {
		e, err := c.NewElector(testDB(t), "g", &ElectorOptions{TTL: time.Second, OnLoop: func() { loops.Add(1) }})
		must(t, err)
		must(t, e.Start())
		uuid = e.UUID()
	}()
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
	}
	before := loops.Load()
	eventually(t, 30*time.Second, "the unreferenced elector to keep polling", func() bool {
		runtime.GC()
		return loops.Load() >= before+3
	})
	// Find it again to close it.
	var found *Elector
	pinnedMu.Lock()
	for e := range pinned {
		if e.UUID() == uuid {
			found = e
		}
	}
	pinnedMu.Unlock()
	if found == nil || !found.Running() {
		t.Fatal("the started elector is not kept")
	}
	must(t, found.Close())
	pinnedMu.Lock()
	_, still := pinned[found]
	pinnedMu.Unlock()
	if still {
		t.Fatal("a closed elector is still kept")
	}
}
