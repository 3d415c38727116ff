package mongoelector

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// privateServer is a FerretDB of the test's own (scripts/test-server run DIR)
// in its own process group, so that it can be frozen with SIGSTOP. Its whole
// life is bounded by a timeout; the test's cleanup kills it.
type privateServer struct {
	cmd *exec.Cmd
	uri string
}

func startPrivateServer(t *testing.T) *privateServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "scripts", "test-server"), "run", t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 10 * time.Second
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	s := &privateServer{cmd: cmd}
	t.Cleanup(func() {
		cancel() // SIGCONT and SIGKILL to the group
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		l, _ := r.ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		l = strings.TrimRight(strings.TrimSpace(l), "/")
		if !strings.HasPrefix(l, "mongodb://") {
			t.Fatalf("the private server printed %q, not a URI", l)
		}
		s.uri = l + "/?directConnection=true&serverSelectionTimeoutMS=5000"
	case <-time.After(2 * time.Minute):
		t.Fatal("the private server printed no URI in 2 minutes")
	}
	return s
}

func (s *privateServer) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	must(t, syscall.Kill(-s.cmd.Process.Pid, sig))
}

// leading records the contexts OnStartedLeading gets and when it returns.
type leading struct {
	mu       sync.Mutex
	ctxs     []context.Context
	running  atomic.Int32
	returned atomic.Int32
}

func (l *leading) run(ctx context.Context) {
	l.mu.Lock()
	l.ctxs = append(l.ctxs, ctx)
	l.mu.Unlock()
	l.running.Add(1)
	defer l.running.Add(-1)
	<-ctx.Done()
	l.returned.Add(1)
}

func (l *leading) terms() []context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]context.Context(nil), l.ctxs...)
}

// The leadership context of the Run form: OnStartedLeading gets the term's
// context (the one Term gives), cancelled when Run's context ends; Run returns
// only after OnStartedLeading has returned.
func TestElectorRunLeadershipContext(t *testing.T) {
	c := newClient(t)
	var ld leading
	e := newElector(t, c, testDB(t), "run", &ElectorOptions{TTL: 2 * time.Second, OnStartedLeading: ld.run})
	if ctx, fence, ok := e.Term(); ok || fence != 0 || ctx.Err() == nil {
		t.Fatalf("Term before leading: %v %d %v", ctx.Err(), fence, ok)
	}
	runCtx, stop := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	eventually(t, 30*time.Second, "OnStartedLeading", func() bool { return ld.running.Load() == 1 })
	ctx, fence, ok := e.Term()
	if terms := ld.terms(); !ok || len(terms) != 1 || terms[0] != ctx || fence != e.Fence() || fence <= 0 {
		t.Fatalf("Term while leading: %v %d %v (Fence %d), OnStartedLeading got %d contexts", ctx.Err(), fence, ok, e.Fence(), len(terms))
	}
	stop()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if ld.returned.Load() != 1 || ld.running.Load() != 0 || ctx.Err() == nil {
		t.Fatalf("Run returned before OnStartedLeading: returned %d running %d ctx %v", ld.returned.Load(), ld.running.Load(), ctx.Err())
	}
}

// The term's context ends at Stop and at Release; a new term gets a new one.
func TestElectorTermContextStopRelease(t *testing.T) {
	c := newClient(t)
	var ld leading
	const ttl = 2 * time.Second
	e := newElector(t, c, testDB(t), "term", &ElectorOptions{TTL: ttl, OnStartedLeading: ld.run})
	must(t, e.Start())
	eventually(t, 30*time.Second, "the first term", func() bool { return len(ld.terms()) == 1 })
	first, fence1, ok := e.Term()
	if !ok || first != ld.terms()[0] {
		t.Fatal("Term is not OnStartedLeading's context")
	}

	must(t, e.Release())
	if !closedWithin(first, 2*time.Second) {
		t.Fatal("the term's context not done after Release")
	}
	eventually(t, 5*time.Second, "OnStartedLeading to return after Release", func() bool { return ld.returned.Load() == 1 })
	// A running elector competes again after half a ttl: a new term, a new context.
	eventually(t, 30*time.Second, "the second term", func() bool { return len(ld.terms()) == 2 })
	second, fence2, ok := e.Term()
	if !ok || second != ld.terms()[1] || second == first || fence2 <= fence1 || second.Err() != nil {
		t.Fatalf("second term: ok %v, fence %d after %d, err %v", ok, fence2, fence1, second.Err())
	}

	must(t, e.Stop())
	if !closedWithin(second, 2*time.Second) {
		t.Fatal("the term's context not done after Stop")
	}
	eventually(t, 5*time.Second, "OnStartedLeading to return after Stop", func() bool { return ld.returned.Load() == 2 })
	if _, _, ok := e.Term(); ok {
		t.Fatal("Term ok after Stop")
	}
}

// With the server frozen (SIGSTOP) the leader's term context ends by its
// lease, its health check fails (and the handler answers 503); after SIGCONT
// it is healthy again.
func TestElectorFrozenServer(t *testing.T) {
	srv := startPrivateServer(t)
	c, err := NewClient(srv.uri)
	must(t, err)
	t.Cleanup(func() { c.Close() })
	var ld leading
	const ttl = 2 * time.Second
	e := newElector(t, c, testDB(t), "frozen", &ElectorOptions{TTL: ttl, OnStartedLeading: ld.run})
	h := HealthHandler(e, 0)
	must(t, e.Start())
	eventually(t, 60*time.Second, "leadership", func() bool { return ld.running.Load() == 1 })
	ctx, _, ok := e.Term()
	if !ok {
		t.Fatal("no term while leading")
	}
	if ok, reason := e.Healthy(0); !ok || reason != "leading" {
		t.Fatalf("Healthy of a working leader: %v %q", ok, reason)
	}
	wantHealth(t, h, http.StatusOK, "ok: leading")

	srv.signal(t, syscall.SIGSTOP)
	frozen := time.Now()
	// The lease by the elector's clock is at most the ttl: generous bound.
	if !closedWithin(ctx, ttl+3*time.Second) {
		t.Fatalf("the term's context not done %v after the server froze", ttl+3*time.Second)
	}
	t.Logf("term ended %v after the freeze", time.Since(frozen))
	eventually(t, 5*time.Second, "OnStartedLeading to return", func() bool { return ld.returned.Load() == 1 })
	var reason string
	eventually(t, 3*ttl, "Healthy false with the server frozen", func() bool {
		var ok bool
		ok, reason = e.Healthy(0)
		return !ok
	})
	t.Logf("frozen: unhealthy, %q", reason)
	if reason != "renewal overdue" && reason != "polls failing or stuck" {
		t.Fatalf("unhealthy reason %q", reason)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.HasPrefix(rec.Body.String(), "unhealthy: ") {
		t.Fatalf("handler with the server frozen: %d %q", rec.Code, rec.Body.String())
	}

	srv.signal(t, syscall.SIGCONT)
	eventually(t, 60*time.Second, "Healthy true after SIGCONT", func() bool { ok, _ := e.Healthy(0); return ok })
	ok, reason = e.Healthy(0)
	t.Logf("thawed: %v %q", ok, reason)
	must(t, e.Close())
}

func wantHealth(t *testing.T, h http.Handler, code int, body string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != code || rec.Body.String() != body {
		t.Fatalf("health handler: %d %q, want %d %q", rec.Code, rec.Body.String(), code, body)
	}
}

// The health handler's answers for an elector not running, a leader and a
// follower; the elector's stats count its terms and transitions.
func TestHealthHandlerAndElectorStats(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	a := newElector(t, c, db, "health", &ElectorOptions{TTL: 2 * time.Second})
	b := newElector(t, c, db, "health", &ElectorOptions{TTL: 2 * time.Second})
	wantHealth(t, HealthHandler(a, 0), http.StatusServiceUnavailable, "unhealthy: not running")
	must(t, a.Start())
	eventually(t, 30*time.Second, "a to lead", a.IsLeader)
	must(t, b.Start())
	eventually(t, 30*time.Second, "b to follow", func() bool { ok, r := b.Healthy(0); return ok && r == "following" })
	wantHealth(t, HealthHandler(a, 0), http.StatusOK, "ok: leading")
	wantHealth(t, HealthHandler(b, time.Second), http.StatusOK, "ok: following")
	st := a.Stats()
	if st.Acquisitions != 1 || st.LeaderTransitions != 1 || st.RoundTrips == 0 || st.LeaseLeft <= 0 {
		t.Fatalf("stats of the leader: %+v", st)
	}
	must(t, a.Stop())
	st = a.Stats()
	t.Logf("leader's stats after Stop: %+v", st)
	if st.Acquisitions != 1 || st.LeaderTransitions != 2 || st.Losses != 0 || st.LeaseLeft != 0 {
		t.Fatalf("stats of the stopped leader: %+v", st)
	}
	if st := b.Stats(); st.Acquisitions != 0 && !b.IsLeader() {
		t.Fatalf("stats of the follower: %+v", st)
	}
	wantHealth(t, HealthHandler(a, 0), http.StatusServiceUnavailable, "unhealthy: not running")
}

// OnNewLeader: three electors see the same leaders, in the same order, over
// a Stop of the leader; Leader gives the last one from memory.
func TestOnNewLeader(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	type seen struct {
		mu    sync.Mutex
		uuids []string // consecutive duplicates and nil leaders left out
		nils  int
	}
	const n = 3
	var obs [n]seen
	es := make([]*Elector, n)
	for i := range es {
		o := &obs[i]
		es[i] = newElector(t, c, db, "observed", &ElectorOptions{TTL: 2 * time.Second, OnNewLeader: func(l *LeaderInfo) {
			o.mu.Lock()
			defer o.mu.Unlock()
			if l == nil {
				o.nils++
				return
			}
			if len(o.uuids) == 0 || o.uuids[len(o.uuids)-1] != l.UUID {
				o.uuids = append(o.uuids, l.UUID)
			}
		}})
		if l, at, ok := es[i].Leader(); ok || l != nil || !at.IsZero() {
			t.Fatalf("Leader before any poll: %+v %v %v", l, at, ok)
		}
	}
	list := func(i int) []string {
		obs[i].mu.Lock()
		defer obs[i].mu.Unlock()
		return append([]string(nil), obs[i].uuids...)
	}
	for _, e := range es {
		must(t, e.Start())
	}
	var first *Elector
	eventually(t, 30*time.Second, "a leader seen by all", func() bool {
		first = nil
		for _, e := range es {
			if e.IsLeader() {
				first = e
			}
		}
		if first == nil {
			return false
		}
		for i := range es {
			if l := list(i); len(l) == 0 || l[len(l)-1] != first.UUID() {
				return false
			}
		}
		return true
	})
	must(t, first.Stop())
	var second *Elector
	eventually(t, 60*time.Second, "a new leader seen by the others", func() bool {
		second = nil
		for _, e := range es {
			if e != first && e.IsLeader() {
				second = e
			}
		}
		if second == nil {
			return false
		}
		for i, e := range es {
			if l := list(i); e != first && (len(l) == 0 || l[len(l)-1] != second.UUID()) {
				return false
			}
		}
		return true
	})
	want := []string{first.UUID(), second.UUID()}
	for i, e := range es {
		got := list(i)
		t.Logf("elector %d (%s) saw %v and %d nil leaders", i, e.UUID(), got, obs[i].nils)
		if e == first {
			if len(got) == 0 || got[0] != want[0] {
				t.Errorf("the stopped leader saw %v, want %v first", got, want[0])
			}
			continue
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("elector %d saw leaders %v, want %v", i, got, want)
		}
		l, at, ok := e.Leader()
		if !ok || l == nil || l.UUID != second.UUID() || l.Fence != second.Fence() || l.Host != second.Host() ||
			l.PID != second.PID() || time.Since(at) > time.Minute || time.Since(at) < -time.Minute {
			t.Errorf("Leader of elector %d: %+v at %v (%v), want %s fence %d", i, l, at, ok, second.UUID(), second.Fence())
		}
	}
}
