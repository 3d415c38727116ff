package mongoelector

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVersionAndCodes(t *testing.T) {
	if v := Version(); v == "" || strings.Count(v, ".") != 2 {
		t.Fatalf("Version() = %q", v)
	}
	for code, name := range map[Code]string{
		CodeOK: "ME_OK", CodeInvalidArgument: "ME_ERR_INVALID_ARGUMENT", CodeLockExists: "ME_ERR_LOCK_EXISTS",
		CodeAcquireTimeout: "ME_ERR_ACQUIRE_TIMEOUT", CodeTimeOffset: "ME_ERR_TIME_OFFSET",
		CodeNotOwned: "ME_ERR_NOT_OWNED", CodeDatabase: "ME_ERR_DATABASE",
		CodeInvalidState: "ME_ERR_INVALID_STATE", CodeInternal: "ME_ERR_INTERNAL", Code(42): "ME_UNKNOWN",
	} {
		if got := code.String(); got != name {
			t.Errorf("Code(%d).String() = %q, want %q", int(code), got, name)
		}
	}
}

func TestLockerMethods(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	l := newLocker(t, c, db, "res", &LockerOptions{TTL: 30 * time.Second})
	other := newLocker(t, c, db, "res", nil)

	if l.Key() != "res" || l.UUID() == "" || l.Host() == "" || l.PID() != int64(os.Getpid()) {
		t.Fatalf("identity: key %q uuid %q host %q pid %d", l.Key(), l.UUID(), l.Host(), l.PID())
	}
	if l.UUID() == other.UUID() {
		t.Fatal("two lockers share a UUID")
	}
	if l.Fence() != 0 {
		t.Fatalf("Fence before acquiring = %d", l.Fence())
	}
	if _, ok := l.Expires(); ok {
		t.Fatal("Expires ok before acquiring")
	}
	locked, err := l.Locked()
	mustBool(t, "Locked before", false, locked, err)
	owned, err := l.Owned()
	mustBool(t, "Owned before", false, owned, err)
	cur, err := l.Current()
	must(t, err)
	if cur != nil {
		t.Fatalf("Current before = %+v", cur)
	}
	st, err := l.Status()
	must(t, err)
	if st.Owned || st.UUID != l.UUID() || st.Key != "res" || st.TTL != 30*time.Second || st.Fence != 0 ||
		!st.Created.IsZero() || !st.Expires.IsZero() || st.PID != l.PID() || st.Host != l.Host() {
		t.Fatalf("Status before = %+v", st)
	}
	if d := time.Since(st.Timestamp); d < -time.Minute || d > time.Minute {
		t.Fatalf("Status timestamp %v is far from now", st.Timestamp)
	}
	if _, err := l.Touch(); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Touch before acquiring: %v, want ErrNotOwned", err)
	}

	before := time.Now()
	must(t, l.Acquire(context.Background()))
	fence := l.Fence()
	if fence <= 0 {
		t.Fatalf("Fence after acquire = %d", fence)
	}
	exp, ok := l.Expires()
	if !ok || exp.Before(before.Add(25*time.Second)) || exp.After(time.Now().Add(35*time.Second)) {
		t.Fatalf("Expires after acquire = %v, %v (ttl 30 s)", exp, ok)
	}
	locked, err = other.Locked()
	mustBool(t, "Locked (other)", true, locked, err)
	owned, err = l.Owned()
	mustBool(t, "Owned", true, owned, err)
	owned, err = other.Owned()
	mustBool(t, "Owned (other)", false, owned, err)

	cur, err = other.Current()
	must(t, err)
	if cur == nil || cur.Key != "res" || !cur.Locked || cur.UUID != l.UUID() || cur.PID != l.PID() ||
		cur.Host != l.Host() || cur.Fence != fence || !cur.Expires.Equal(exp) || cur.Created.After(cur.Expires) {
		t.Fatalf("Current = %+v (fence %d, expires %v)", cur, fence, exp)
	}
	st, err = l.Status()
	must(t, err)
	if !st.Owned || st.Fence != fence || !st.Expires.Equal(exp) || !st.Created.Equal(cur.Created) {
		t.Fatalf("Status while holding = %+v", st)
	}

	time.Sleep(20 * time.Millisecond)
	newExp, err := l.Touch()
	must(t, err)
	if !newExp.After(exp) {
		t.Fatalf("Touch gave %v, not after the previous expiry %v", newExp, exp)
	}
	if e, _ := l.Expires(); !e.Equal(newExp) {
		t.Fatalf("Expires after Touch = %v, Touch returned %v", e, newExp)
	}
	if l.Fence() != fence {
		t.Fatalf("Touch changed the fence: %d -> %d", fence, l.Fence())
	}
	// Acquiring a held lock renews it, same fence.
	must(t, l.Acquire(context.Background(), NonBlocking()))
	if l.Fence() != fence {
		t.Fatalf("re-acquire changed the fence: %d -> %d", fence, l.Fence())
	}

	must(t, l.Release())
	owned, err = l.Owned()
	mustBool(t, "Owned after release", false, owned, err)
	locked, err = other.Locked()
	mustBool(t, "Locked after release", false, locked, err)
	cur, err = l.Current()
	must(t, err)
	if cur != nil {
		t.Fatalf("Current after release = %+v", cur)
	}
	if _, err := l.Touch(); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Touch after release: %v, want ErrNotOwned", err)
	}
	must(t, l.Release()) // releasing a free lock is a no-op

	// The next holder gets a larger fence.
	must(t, other.Acquire(context.Background(), NonBlocking()))
	if other.Fence() <= fence {
		t.Fatalf("fence of the next holding %d <= %d", other.Fence(), fence)
	}
}

func TestLockerContention(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	a := newLocker(t, c, db, "k", nil)
	b := newLocker(t, c, db, "k", nil)
	ctx := context.Background()

	must(t, a.Acquire(ctx))
	err := b.Acquire(ctx, NonBlocking())
	if !errors.Is(err, ErrLockExists) {
		t.Fatalf("non-blocking acquire of a held lock: %v, want ErrLockExists", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeLockExists || e.Message == "" || !strings.Contains(err.Error(), e.Message) {
		t.Fatalf("error details: %#v", err)
	}
	if errors.Is(err, ErrAcquireTimeout) || errors.Is(err, ErrDatabase) {
		t.Fatalf("%v matches a wrong sentinel", err)
	}

	start := time.Now()
	err = b.Acquire(ctx, Timeout(400*time.Millisecond), Step(50*time.Millisecond))
	if !errors.Is(err, ErrAcquireTimeout) {
		t.Fatalf("acquire with timeout: %v, want ErrAcquireTimeout", err)
	}
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Fatalf("timed out after %v, before the 400ms timeout", waited)
	}
	owned, err := b.Owned()
	mustBool(t, "Owned after timeout", false, owned, err)

	// A blocking acquire gets the lock once it is released.
	done := acquireWaiting(t, ctx, b, Step(50*time.Millisecond))
	must(t, a.Release())
	must(t, acquireResult(t, done, 30*time.Second, "blocking acquire of the released lock"))
	owned, err = b.Owned()
	mustBool(t, "Owned by the waiter", true, owned, err)
	if b.Fence() <= a.Fence() {
		t.Fatalf("fences not increasing: %d then %d", a.Fence(), b.Fence())
	}
}

func TestLockerForce(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	a := newLocker(t, c, db, "k", nil)
	b := newLocker(t, c, db, "k", nil)
	ctx := context.Background()

	must(t, a.Acquire(ctx))
	must(t, b.Acquire(ctx, NonBlocking(), Force()))
	owned, err := b.Owned()
	mustBool(t, "Owned by the forcer", true, owned, err)
	owned, err = a.Owned()
	mustBool(t, "Owned by the old holder", false, owned, err)
	if _, err := a.Touch(); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Touch after takeover: %v, want ErrNotOwned", err)
	}
	must(t, a.Release()) // not ours any more: no-op
	owned, err = b.Owned()
	mustBool(t, "Owned after the old holder's release", true, owned, err)
	must(t, a.ForceRelease())
	locked, err := b.Locked()
	mustBool(t, "Locked after ForceRelease", false, locked, err)
}

func TestAcquireContext(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	holder := newLocker(t, c, db, "k", nil)
	waiter := newLocker(t, c, db, "k", nil)
	must(t, holder.Acquire(context.Background()))

	// Cancellation of a blocking acquire is noticed promptly.
	ctx, cancel := context.WithCancel(context.Background())
	done := acquireWaiting(t, ctx, waiter, Step(time.Second))
	cancelled := time.Now()
	cancel()
	if err := acquireResult(t, done, 30*time.Second, "cancelled acquire"); !errors.Is(err, context.Canceled) || errors.Is(err, ErrAcquireTimeout) {
		t.Fatalf("cancelled acquire: %v, want context.Canceled only", err)
	}
	// Generous bound: one step is 1 s; a waiting acquire returns at once.
	if d := time.Since(cancelled); d > 10*time.Second {
		t.Fatalf("cancellation noticed after %v", d)
	}

	// A context deadline is an acquire timeout too.
	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	err := waiter.Acquire(dctx, Step(50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrAcquireTimeout) {
		t.Fatalf("acquire past the deadline: %v, want DeadlineExceeded and ErrAcquireTimeout", err)
	}

	// An already cancelled context does not even try, even for a free lock.
	must(t, holder.Release())
	if err := waiter.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a cancelled context: %v", err)
	}
	locked, err := waiter.Locked()
	mustBool(t, "Locked", false, locked, err)

	// Deadlines that do not run out leave the attempts alone: a free lock is
	// taken with a context deadline, non-blocking too, and a blocking acquire
	// with both a Timeout and a context deadline gets the lock once released.
	lctx, lcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer lcancel()
	must(t, waiter.Acquire(lctx, NonBlocking()))
	done = acquireWaiting(t, lctx, holder, Timeout(20*time.Second), Step(50*time.Millisecond))
	must(t, waiter.Release())
	must(t, acquireResult(t, done, 30*time.Second, "acquire with a deadline of the released lock"))
	owned, err := holder.Owned()
	mustBool(t, "Owned after the acquire with a deadline", true, owned, err)
}

func TestDatabaseError(t *testing.T) {
	// Nothing listens on port 1: operations fail within the selection timeout.
	c, err := NewClient("mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=300&connectTimeoutMS=300")
	if err != nil {
		if !errors.Is(err, ErrDatabase) {
			t.Fatalf("NewClient of an unreachable server: %v, want ErrDatabase", err)
		}
		return
	}
	defer c.Close()
	l, err := c.NewLocker("db", "k", &LockerOptions{NoTimeParanoid: true})
	must(t, err)
	defer l.Close()
	if _, err := l.Locked(); !errors.Is(err, ErrDatabase) {
		t.Fatalf("Locked on an unreachable server: %v, want ErrDatabase", err)
	}
	if err := l.Acquire(context.Background(), NonBlocking()); !errors.Is(err, ErrDatabase) {
		t.Fatalf("Acquire on an unreachable server: %v, want ErrDatabase", err)
	}
	if _, err := NewClient("not a uri"); !errors.Is(err, ErrInvalidArgument) && !errors.Is(err, ErrDatabase) {
		t.Fatalf("NewClient(bad uri): %v", err)
	}
}

// Against an unreachable server, with the driver's default server selection
// timeout (30 s) and the default ttl (600 s, so the library's own bound on a
// round trip is 30 s), Acquire still returns by the earlier of its Timeout and
// its context's deadline, with the error of the one that ran out.
func TestAcquireDeadlineUnreachable(t *testing.T) {
	c := newUnreachableClient(t, "")
	db := testDB(t)
	// Behavioural bounds: generous slack for a shared, noisy machine.
	const limit, slack, far = time.Second, 2 * time.Second, 20 * time.Second
	for _, tc := range []struct {
		name        string
		opts        *LockerOptions
		ctxDeadline time.Duration // 0: none
		acquire     []AcquireOption
		ctxFirst    bool // the context's deadline runs out first: context.DeadlineExceeded
	}{
		{name: "Timeout", acquire: []AcquireOption{Timeout(limit)}},
		{name: "Timeout, no clock check", opts: &LockerOptions{NoTimeParanoid: true}, acquire: []AcquireOption{Timeout(limit)}},
		{name: "Timeout before the context's deadline", ctxDeadline: far, acquire: []AcquireOption{Timeout(limit)}},
		{name: "context deadline", ctxDeadline: limit, ctxFirst: true},
		{name: "context deadline, no clock check", opts: &LockerOptions{NoTimeParanoid: true}, ctxDeadline: limit, ctxFirst: true},
		{name: "context deadline before the Timeout", ctxDeadline: limit, acquire: []AcquireOption{Timeout(far)}, ctxFirst: true},
		{name: "NonBlocking, context deadline", ctxDeadline: limit, acquire: []AcquireOption{NonBlocking()}, ctxFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocker(t, c, db, "k", tc.opts)
			ctx := context.Background()
			if tc.ctxDeadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxDeadline)
				defer cancel()
			}
			start := time.Now()
			err := l.Acquire(ctx, tc.acquire...)
			took := time.Since(start)
			if took > limit+slack {
				t.Errorf("returned after %v, want within %v + %v", took, limit, slack)
			}
			if took < limit-100*time.Millisecond {
				t.Errorf("returned after %v, before the %v deadline", took, limit)
			}
			if tc.ctxFirst {
				// ctxError: the context's error, which is an acquire timeout too.
				if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrAcquireTimeout) || errors.Is(err, ErrDatabase) {
					t.Fatalf("Acquire: %v, want context.DeadlineExceeded (and ErrAcquireTimeout)", err)
				}
				return
			}
			if e := wantErr(t, "Acquire", err, ErrAcquireTimeout); e != nil && (e.Code != CodeAcquireTimeout || errors.Is(err, context.DeadlineExceeded)) {
				t.Fatalf("Acquire: %#v, want the Timeout's ErrAcquireTimeout only", err)
			}
		})
	}
}

func TestClose(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	ctx := context.Background()
	a := newLocker(t, c, db, "k", nil)
	b := newLocker(t, c, db, "k", nil)
	probe := newLocker(t, c, db, "k", nil)

	// Closing the client leaves its lockers working.
	c2, err := NewClient(testURI)
	must(t, err)
	l2, err := c2.NewLocker(db, "other", nil)
	must(t, err)
	must(t, c2.Close())
	must(t, c2.Close())
	if _, err := c2.NewLocker(db, "x", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewLocker on a closed client: %v", err)
	}
	must(t, l2.Acquire(ctx, NonBlocking()))
	must(t, l2.Close())

	// Close stops a waiting acquire and releases a held lock.
	must(t, a.Acquire(ctx))
	fence := a.Fence()
	done := acquireWaiting(t, ctx, b)
	must(t, b.Close())
	if err := acquireResult(t, done, 30*time.Second, "acquire stopped by Close"); !errors.Is(err, ErrClosed) {
		t.Fatalf("acquire stopped by Close: %v, want ErrClosed", err)
	}
	must(t, a.Close())
	must(t, a.Close())
	locked, err := probe.Locked()
	mustBool(t, "Locked after the holder closed", false, locked, err)
	if a.Fence() != fence {
		t.Fatalf("Fence after Close = %d, want %d", a.Fence(), fence)
	}
	if a.Key() != "k" {
		t.Fatalf("Key after Close = %q", a.Key())
	}
	for name, err := range map[string]error{
		"Acquire": a.Acquire(ctx), "Release": a.Release(), "ForceRelease": a.ForceRelease(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := a.Touch(); !errors.Is(err, ErrClosed) {
		t.Errorf("Touch after Close: %v", err)
	}
	if _, err := a.Status(); !errors.Is(err, ErrClosed) {
		t.Errorf("Status after Close: %v", err)
	}
	if _, err := a.Current(); !errors.Is(err, ErrClosed) {
		t.Errorf("Current after Close: %v", err)
	}
	if _, err := a.Owned(); !errors.Is(err, ErrClosed) {
		t.Errorf("Owned after Close: %v", err)
	}
}

// Close racing with calls from many goroutines (run with -race).
func TestConcurrentUseAndClose(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	l := newLocker(t, c, db, "k", nil)
	must(t, l.Acquire(context.Background()))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				var err error
				switch (i + j) % 4 {
				case 0:
					_, err = l.Owned()
				case 1:
					_, err = l.Status()
				case 2:
					_, err = l.Touch()
				case 3:
					l.Fence()
					_, _ = l.Expires()
				}
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("goroutine %d: %v", i, err)
					return
				}
			}
		}(i)
	}
	time.Sleep(100 * time.Millisecond)
	var cw sync.WaitGroup
	for i := 0; i < 3; i++ {
		cw.Add(1)
		go func() { defer cw.Done(); l.Close() }()
	}
	cw.Wait()
	wg.Wait()
	probe := newLocker(t, c, db, "k", nil)
	locked, err := probe.Locked()
	mustBool(t, "Locked after Close", false, locked, err)
}

// A Locker dropped while holding is released by its finalizer.
func TestLockerFinalizer(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	func() {
		l, err := c.NewLocker(db, "k", nil)
		must(t, err)
		must(t, l.Acquire(context.Background()))
	}()
	probe := newLocker(t, c, db, "k", nil)
	eventually(t, 30*time.Second, "the finalizer to release the lock", func() bool {
		runtime.GC()
		locked, err := probe.Locked()
		must(t, err)
		return !locked
	})
}

func TestErrorMapping(t *testing.T) {
	all := []error{ErrInvalidArgument, ErrLockExists, ErrAcquireTimeout, ErrTimeOffset, ErrNotOwned,
		ErrDatabase, ErrInvalidState, ErrInternal}
	codes := []Code{CodeInvalidArgument, CodeLockExists, CodeAcquireTimeout, CodeTimeOffset, CodeNotOwned,
		CodeDatabase, CodeInvalidState, CodeInternal}
	for i, code := range codes {
		err := error(&Error{Code: code, Op: "op", Message: "msg"})
		for j, s := range all {
			if errors.Is(err, s) != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v", code, s, !(i == j))
			}
		}
		if errors.Is(err, ErrClosed) {
			t.Errorf("%v is ErrClosed", code)
		}
		if err.Error() != "mongoelector: op: msg" {
			t.Errorf("Error() = %q", err.Error())
		}
	}
	if errors.Unwrap(&Error{Code: 1234}) != nil {
		t.Error("an unknown code unwraps to a sentinel")
	}
	if s := (&Error{Code: CodeNotOwned, Op: "touch"}).Error(); s != "mongoelector: touch: ME_ERR_NOT_OWNED" {
		t.Errorf("Error() without message = %q", s)
	}
}

func TestLogFunc(t *testing.T) {
	type msg struct {
		level int
		text  string
	}
	var mu sync.Mutex
	var got []msg
	collect := func(level int, text string) {
		mu.Lock()
		got = append(got, msg{level, text})
		mu.Unlock()
	}
	defer SetLogFunc(nil, 2)
	// Against an unreachable server the library warns (the index it could not create).
	provoke := func() {
		c, err := NewClient("mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=200")
		if err != nil {
			return
		}
		defer c.Close()
		l, err := c.NewLocker("db", "k", &LockerOptions{NoTimeParanoid: true})
		must(t, err)
		defer l.Close()
		_, _ = l.Locked()
	}

	SetLogFunc(collect, 1) // errors only: the warning is filtered out
	provoke()
	mu.Lock()
	for _, m := range got {
		if m.level != 1 {
			t.Errorf("message above the max level 1: %+v", m)
		}
	}
	got = nil
	mu.Unlock()

	SetLogFunc(collect, 5)
	provoke()
	mu.Lock()
	defer mu.Unlock()
	warned := false
	for _, m := range got {
		if m.level < 1 || m.level > 5 || m.text == "" {
			t.Errorf("bad log message %+v", m)
		}
		if m.level <= 2 {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no warning logged through the log function; got %+v", got)
	}
}
