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
		CodeInvalidState: "ME_ERR_INVALID_STATE", CodeCancelled: "ME_ERR_CANCELLED", CodeClosed: "ME_ERR_CLOSED",
		CodeInternal: "ME_ERR_INTERNAL", Code(42): "ME_UNKNOWN",
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
	// Derived values come from the library's getters: the defaults of
	// me_locker_options_init where the options left them.
	if l.DB() != db || l.Collection() != "mongolocker" || l.TTL() != 30*time.Second || other.TTL() != 600*time.Second ||
		l.MaxOffset() != 500*time.Millisecond || !l.TimeParanoid() {
		t.Fatalf("getters: db %q collection %q ttl %v (other %v) maxoffset %v timeparanoid %v",
			l.DB(), l.Collection(), l.TTL(), other.TTL(), l.MaxOffset(), l.TimeParanoid())
	}
	tuned := newLocker(t, c, db, "res", &LockerOptions{Collection: "locks2", NoTimeParanoid: true, MaxOffset: 2 * time.Second})
	if tuned.Collection() != "locks2" || tuned.TimeParanoid() || tuned.MaxOffset() != 2*time.Second {
		t.Fatalf("tuned getters: collection %q timeparanoid %v maxoffset %v", tuned.Collection(), tuned.TimeParanoid(), tuned.MaxOffset())
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
	locked, err := l.Locked(bg)
	mustBool(t, "Locked before", false, locked, err)
	owned, err := l.Owned(bg)
	mustBool(t, "Owned before", false, owned, err)
	cur, err := l.Current(bg)
	must(t, err)
	if cur != nil {
		t.Fatalf("Current before = %+v", cur)
	}
	st, err := l.Status(bg)
	must(t, err)
	if st.Owned || st.UUID != l.UUID() || st.Key != "res" || st.TTL != 30*time.Second || st.Fence != 0 ||
		!st.Created.IsZero() || !st.Expires.IsZero() || st.PID != l.PID() || st.Host != l.Host() {
		t.Fatalf("Status before = %+v", st)
	}
	if d := time.Since(st.Timestamp); d < -time.Minute || d > time.Minute {
		t.Fatalf("Status timestamp %v is far from now", st.Timestamp)
	}
	if _, err := l.Touch(bg); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Touch before acquiring: %v, want ErrNotOwned", err)
	}

	before := time.Now()
	must(t, l.Acquire(bg))
	fence := l.Fence()
	if fence <= 0 {
		t.Fatalf("Fence after acquire = %d", fence)
	}
	exp, ok := l.Expires()
	if !ok || exp.Before(before.Add(25*time.Second)) || exp.After(time.Now().Add(35*time.Second)) {
		t.Fatalf("Expires after acquire = %v, %v (ttl 30 s)", exp, ok)
	}
	locked, err = other.Locked(bg)
	mustBool(t, "Locked (other)", true, locked, err)
	owned, err = l.Owned(bg)
	mustBool(t, "Owned", true, owned, err)
	owned, err = other.Owned(bg)
	mustBool(t, "Owned (other)", false, owned, err)

	cur, err = other.Current(bg)
	must(t, err)
	if cur == nil || cur.Key != "res" || !cur.Locked || cur.UUID != l.UUID() || cur.PID != l.PID() ||
		cur.Host != l.Host() || cur.Fence != fence || !cur.Expires.Equal(exp) || cur.Created.After(cur.Expires) {
		t.Fatalf("Current = %+v (fence %d, expires %v)", cur, fence, exp)
	}
	st, err = l.Status(bg)
	must(t, err)
	if !st.Owned || st.Fence != fence || !st.Expires.Equal(exp) || !st.Created.Equal(cur.Created) {
		t.Fatalf("Status while holding = %+v", st)
	}

	time.Sleep(20 * time.Millisecond)
	newExp, err := l.Touch(bg)
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

	release(t, l, true)
	owned, err = l.Owned(bg)
	mustBool(t, "Owned after release", false, owned, err)
	locked, err = other.Locked(bg)
	mustBool(t, "Locked after release", false, locked, err)
	cur, err = l.Current(bg)
	must(t, err)
	if cur != nil {
		t.Fatalf("Current after release = %+v", cur)
	}
	if _, err := l.Touch(bg); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Touch after release: %v, want ErrNotOwned", err)
	}
	release(t, l, false) // releasing a free lock is a no-op

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
	owned, err := b.Owned(bg)
	mustBool(t, "Owned after timeout", false, owned, err)

	// A blocking acquire gets the lock once it is released.
	done := acquireWaiting(t, ctx, b, Step(50*time.Millisecond))
	release(t, a, true)
	must(t, acquireResult(t, done, 30*time.Second, "blocking acquire of the released lock"))
	owned, err = b.Owned(bg)
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
	owned, err := b.Owned(bg)
	mustBool(t, "Owned by the forcer", true, owned, err)
	owned, err = a.Owned(bg)
	mustBool(t, "Owned by the old holder", false, owned, err)
	if _, err := a.Touch(bg); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Touch after takeover: %v, want ErrNotOwned", err)
	}
	release(t, a, false) // not ours any more: no-op
	owned, err = b.Owned(bg)
	mustBool(t, "Owned after the old holder's release", true, owned, err)
	released, err := a.ForceRelease(bg)
	mustBool(t, "ForceRelease", true, released, err)
	locked, err := b.Locked(bg)
	mustBool(t, "Locked after ForceRelease", false, locked, err)
}

func TestAcquireContext(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	holder := newLocker(t, c, db, "k", nil)
	waiter := newLocker(t, c, db, "k", nil)
	must(t, holder.Acquire(bg))
	fence := holder.Fence()
	holderUntouched := func(what string) {
		t.Helper()
		cur, err := waiter.Current(bg)
		must(t, err)
		if cur == nil || cur.UUID != holder.UUID() || cur.Fence != fence {
			t.Fatalf("%s: the lock is %+v, want it held by %s with fence %d", what, cur, holder.UUID(), fence)
		}
		owned, err := waiter.Owned(bg)
		mustBool(t, what+": Owned by the waiter", false, owned, err)
	}

	// A waiting acquire cancelled from another goroutine returns within 50 ms
	// of the cancel (the library wakes at once, whatever it waits on).
	ctx, cancel := context.WithCancel(bg)
	type result struct {
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		err := waiter.Acquire(ctx, Step(10*time.Second))
		done <- result{err, time.Now()}
	}()
	time.Sleep(300 * time.Millisecond)
	cancelled := time.Now()
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled acquire still waiting after 10 s")
	}
	if !errors.Is(r.err, context.Canceled) || !errors.Is(r.err, ErrCancelled) || errors.Is(r.err, ErrAcquireTimeout) {
		t.Fatalf("cancelled acquire: %v, want context.Canceled and ErrCancelled only", r.err)
	}
	if e := wantErr(t, "cancelled acquire", r.err, ErrCancelled); e != nil && e.Code != CodeCancelled {
		t.Fatalf("cancelled acquire: code %v", e.Code)
	}
	if d := r.at.Sub(cancelled); d > 50*time.Millisecond {
		t.Fatalf("cancelled acquire returned %v after the cancel, want within 50ms", d)
	}
	holderUntouched("after the cancelled acquire")

	// A context deadline is an acquire timeout and context.DeadlineExceeded.
	dctx, dcancel := context.WithTimeout(bg, 300*time.Millisecond)
	defer dcancel()
	start := time.Now()
	err := waiter.Acquire(dctx, Step(50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrAcquireTimeout) || errors.Is(err, ErrCancelled) {
		t.Fatalf("acquire past the deadline: %v, want DeadlineExceeded and ErrAcquireTimeout", err)
	}
	if e := wantErr(t, "acquire past the deadline", err, ErrAcquireTimeout); e != nil && e.Code != CodeAcquireTimeout {
		t.Fatalf("acquire past the deadline: code %v", e.Code)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Fatalf("acquire with a 300ms deadline returned after %v", d)
	}
	if strings.Count(err.Error(), "mongoelector:") != 1 {
		t.Fatalf("doubled prefix: %q", err.Error())
	}
	// The Timeout option's error has the same shape, without the context's.
	err = waiter.Acquire(bg, Timeout(200*time.Millisecond), Step(50*time.Millisecond))
	if !errors.Is(err, ErrAcquireTimeout) || errors.Is(err, context.DeadlineExceeded) || strings.Count(err.Error(), "mongoelector:") != 1 {
		t.Fatalf("acquire past its Timeout: %v, want ErrAcquireTimeout only", err)
	}
	holderUntouched("after the timed-out acquires")

	// A context cancelled before the call: the call does nothing, even for a
	// free lock, and every call that talks to the database says so.
	release(t, holder, true)
	for name, err := range map[string]error{
		"Acquire":             waiter.Acquire(ctx),
		"Acquire NonBlocking": waiter.Acquire(ctx, NonBlocking()),
	} {
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCancelled) {
			t.Fatalf("%s with a cancelled context: %v", name, err)
		}
	}
	_, err = waiter.Locked(ctx)
	wantErr(t, "Locked with a cancelled context", err, context.Canceled)
	_, err = waiter.Touch(ctx)
	wantErr(t, "Touch with a cancelled context", err, context.Canceled)
	_, err = waiter.Status(ctx)
	wantErr(t, "Status with a cancelled context", err, context.Canceled)
	_, err = waiter.Current(ctx)
	wantErr(t, "Current with a cancelled context", err, context.Canceled)
	_, err = waiter.Owned(ctx)
	wantErr(t, "Owned with a cancelled context", err, context.Canceled)
	_, err = waiter.Release(ctx)
	wantErr(t, "Release with a cancelled context", err, context.Canceled)
	locked, err := waiter.Locked(bg)
	mustBool(t, "Locked", false, locked, err)

	// Deadlines that do not run out leave the call alone: a free lock is
	// taken with a context deadline, non-blocking too, and a blocking acquire
	// with both a Timeout and a context deadline gets the lock once released.
	lctx, lcancel := context.WithTimeout(bg, 30*time.Second)
	defer lcancel()
	must(t, waiter.Acquire(lctx, NonBlocking()))
	done2 := acquireWaiting(t, lctx, holder, Timeout(20*time.Second), Step(50*time.Millisecond))
	released, err := waiter.Release(lctx)
	mustBool(t, "Release with a deadline", true, released, err)
	must(t, acquireResult(t, done2, 30*time.Second, "acquire with a deadline of the released lock"))
	owned, err := holder.Owned(lctx)
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
	if _, err := l.Locked(bg); !errors.Is(err, ErrDatabase) {
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
	_, err = c2.NewLocker(db, "x", nil)
	wantClosed(t, "NewLocker on a closed client", err)
	must(t, l2.Acquire(ctx, NonBlocking()))
	must(t, l2.Close())

	// Close wakes a waiting acquire at once (ErrClosed) and releases a held lock.
	must(t, a.Acquire(ctx))
	fence := a.Fence()
	type result struct {
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		err := b.Acquire(ctx, Step(10*time.Second))
		done <- result{err, time.Now()}
	}()
	time.Sleep(300 * time.Millisecond)
	closed := time.Now()
	must(t, b.Close())
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("acquire still waiting 10 s after Close")
	}
	wantClosed(t, "acquire stopped by Close", r.err)
	if d := r.at.Sub(closed); d > time.Second {
		t.Fatalf("acquire returned %v after Close", d)
	}
	owned, err := a.Owned(ctx)
	mustBool(t, "Owned by the holder after the waiter's Close", true, owned, err)
	must(t, a.Close())
	must(t, a.Close())
	locked, err := probe.Locked(ctx)
	mustBool(t, "Locked after the holder closed", false, locked, err)
	if a.Fence() != fence || a.Key() != "k" || a.DB() != db {
		t.Fatalf("getters after Close: fence %d (want %d), key %q, db %q", a.Fence(), fence, a.Key(), a.DB())
	}
	wantClosed(t, "Acquire after Close", a.Acquire(ctx))
	_, err = a.Release(ctx)
	wantClosed(t, "Release after Close", err)
	_, err = a.ForceRelease(ctx)
	wantClosed(t, "ForceRelease after Close", err)
	_, err = a.Touch(ctx)
	wantClosed(t, "Touch after Close", err)
	_, err = a.Status(ctx)
	wantClosed(t, "Status after Close", err)
	_, err = a.Current(ctx)
	wantClosed(t, "Current after Close", err)
	_, err = a.Owned(ctx)
	wantClosed(t, "Owned after Close", err)
}

// Close racing with calls from many goroutines (run with -race).
func TestConcurrentUseAndClose(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	l := newLocker(t, c, db, "k", nil)
	must(t, l.Acquire(bg))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				var err error
				switch (i + j) % 4 {
				case 0:
					_, err = l.Owned(bg)
				case 1:
					_, err = l.Status(bg)
				case 2:
					_, err = l.Touch(bg)
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
	locked, err := probe.Locked(bg)
	mustBool(t, "Locked after Close", false, locked, err)
}

// A Locker dropped while holding is freed by its finalizer (me_locker_free),
// which never releases: the lock stays held by its uuid until its ttl.
func TestLockerFinalizer(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	freed := watchLog(t, "freed while holding the lock")
	const ttl = 4 * time.Second
	var uuid string
	var fence int64
	func() {
		l, err := c.NewLocker(db, "k", &LockerOptions{TTL: ttl})
		must(t, err)
		must(t, l.Acquire(bg))
		uuid, fence = l.UUID(), l.Fence()
	}()
	acquired := time.Now()
	probe := newLocker(t, c, db, "k", nil)
	eventually(t, ttl/2, "the finalizer to free the dropped locker", func() bool {
		runtime.GC()
		return freed()
	})
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	for time.Since(acquired) < ttl-time.Second {
		cur, err := probe.Current(bg)
		must(t, err)
		if cur == nil || cur.UUID != uuid || cur.Fence != fence {
			t.Fatalf("%v after acquiring (ttl %v), the lock of the collected locker is %+v; want it held by %s", time.Since(acquired), ttl, cur, uuid)
		}
		time.Sleep(200 * time.Millisecond)
	}
	wantErr(t, "Acquire of the lock held by the collected locker", probe.Acquire(bg, NonBlocking()), ErrLockExists)
	// Its lease ends by the ttl.
	must(t, probe.Acquire(bg, Timeout(ttl+10*time.Second), Step(100*time.Millisecond)))
	if waited := time.Since(acquired); waited < ttl-500*time.Millisecond {
		t.Fatalf("the lock was free %v after acquiring, before its ttl %v", waited, ttl)
	}
}

// Temporary lockers (issue 14): goroutines that make a Locker, acquire it
// non-blocking and drop it without Release, with collections in between. At
// most one ever acquires: the collector frees the dropped lockers but never
// their lock.
func TestTemporaryLockers(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	var mu sync.Mutex
	var winners []string
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := c.NewLocker(db, "k", &LockerOptions{TTL: time.Minute})
				if err != nil {
					t.Error(err)
					return
				}
				<-start
				err = l.Acquire(bg, NonBlocking())
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, l.UUID())
					mu.Unlock()
				case !errors.Is(err, ErrLockExists):
					t.Errorf("Acquire: %v", err)
				}
				runtime.GC()
			}()
		}
		close(start)
		wg.Wait()
		for i := 0; i < 3; i++ {
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d temporary lockers acquired the lock: %v, want exactly one", len(winners), winners)
	}
	probe := newLocker(t, c, db, "k", nil)
	cur, err := probe.Current(bg)
	must(t, err)
	if cur == nil || cur.UUID != winners[0] {
		t.Fatalf("the lock is %+v, want it held by the one winner %s", cur, winners[0])
	}
}

func TestErrorMapping(t *testing.T) {
	all := []error{ErrInvalidArgument, ErrLockExists, ErrAcquireTimeout, ErrTimeOffset, ErrNotOwned,
		ErrDatabase, ErrInvalidState, ErrCancelled, ErrClosed, ErrInternal}
	codes := []Code{CodeInvalidArgument, CodeLockExists, CodeAcquireTimeout, CodeTimeOffset, CodeNotOwned,
		CodeDatabase, CodeInvalidState, CodeCancelled, CodeClosed, CodeInternal}
	for i, code := range codes {
		err := error(&Error{Code: code, Op: "op", Message: "msg"})
		for j, s := range all {
			if errors.Is(err, s) != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v", code, s, !(i == j))
			}
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v matches a context error", code)
		}
		if err.Error() != "mongoelector: op: msg" {
			t.Errorf("Error() = %q", err.Error())
		}
	}
	if len((&Error{Code: 1234}).Unwrap()) != 0 {
		t.Error("an unknown code unwraps to a sentinel")
	}
	if s := (&Error{Code: CodeNotOwned, Op: "touch"}).Error(); s != "mongoelector: touch: ME_ERR_NOT_OWNED" {
		t.Errorf("Error() without message = %q", s)
	}
	deadline := &Error{Code: CodeAcquireTimeout, Op: "acquire", Message: "cancelled", Context: context.DeadlineExceeded}
	if !errors.Is(deadline, ErrAcquireTimeout) || !errors.Is(deadline, context.DeadlineExceeded) || errors.Is(deadline, ErrCancelled) ||
		deadline.Error() != "mongoelector: acquire: cancelled (context deadline exceeded)" {
		t.Errorf("deadline error %q", deadline.Error())
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
		_, _ = l.Locked(bg)
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
