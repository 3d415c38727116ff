package mongoelector

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lease settings of the auto-renew tests: the lease by the holder's clock is
// ttl - 2 x maxoffset = 1.6 s, renewed every ttl/4 = 0.5 s.
const (
	renewTTL       = 2 * time.Second
	renewMaxOffset = 200 * time.Millisecond
)

// closedWithin reports whether ctx is done within limit.
func closedWithin(ctx context.Context, limit time.Duration) bool {
	select {
	case <-ctx.Done():
		return true
	case <-time.After(limit):
		return false
	}
}

// A job of five ttls under AutoRenew: the lock stays held throughout (another
// locker cannot take it), the fence does not change, the holding's context
// stays live, and Release ends it.
func TestAutoRenewLongJob(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	lostCount := 0
	var mu sync.Mutex
	l := newLocker(t, c, db, "job", &LockerOptions{TTL: renewTTL, MaxOffset: renewMaxOffset, AutoRenew: true,
		OnLost: func() { mu.Lock(); lostCount++; mu.Unlock() }})
	other := newLocker(t, c, db, "job", &LockerOptions{TTL: renewTTL})

	if ctx, fence, ok := l.Holding(); ok || fence != 0 || ctx.Err() == nil {
		t.Fatalf("Holding before any acquire: %v %d %v, want a done context, 0, false", ctx.Err(), fence, ok)
	}
	must(t, l.Acquire(bg))
	hctx, fence, ok := l.Holding()
	if !ok || fence <= 0 || fence != l.Fence() || hctx.Err() != nil {
		t.Fatalf("Holding after Acquire: %v %d %v (Fence %d)", hctx.Err(), fence, ok, l.Fence())
	}
	if again, _, _ := l.Holding(); again != hctx {
		t.Fatal("a second Holding of the same holding gave another context")
	}
	end := time.Now().Add(5 * renewTTL)
	attempts := 0
	for time.Now().Before(end) {
		if closedWithin(hctx, 300*time.Millisecond) {
			t.Fatalf("the holding's context ended during the job (after %d attempts): %v", attempts, l.Stats())
		}
		if !l.Held() {
			t.Fatal("Held() false during the job")
		}
		err := other.Acquire(bg, NonBlocking(), Timeout(5*time.Second))
		if !errors.Is(err, ErrLockExists) {
			t.Fatalf("another locker's Acquire during the job: %v, want ErrLockExists", err)
		}
		attempts++
		if f := l.Fence(); f != fence {
			t.Fatalf("fence changed during the job: %d -> %d", fence, f)
		}
	}
	cur, err := l.Current(bg)
	must(t, err)
	if cur == nil || cur.UUID != l.UUID() || cur.Fence != fence {
		t.Fatalf("Current after the job: %+v, want this locker with fence %d", cur, fence)
	}
	st := l.Stats()
	t.Logf("after 5 ttls: %d attempts by the other locker; stats %+v", attempts, st)
	// 20 renewals are due in 5 ttls; half of them is a generous floor.
	if st.Acquisitions != 1 || st.Renewals < 10 || st.Losses != 0 || st.LeaseLeft <= 0 || st.LeaseLeft > renewTTL {
		t.Fatalf("stats after the job: %+v", st)
	}

	release(t, l, true)
	if !closedWithin(hctx, 2*time.Second) {
		t.Fatal("the holding's context not done after Release")
	}
	if l.Held() {
		t.Fatal("Held() true after Release")
	}
	if ctx, f, ok := l.Holding(); ok || ctx.Err() == nil || f != 0 {
		t.Fatalf("Holding after Release: %v %d %v, want a done context, 0, false", ctx.Err(), f, ok)
	}
	mu.Lock()
	defer mu.Unlock()
	if lostCount != 0 {
		t.Fatalf("OnLost ran %d times for a released holding", lostCount)
	}
}

// A forced takeover ends the auto-renewed holding within one renewal period:
// its context is cancelled, OnLost fires once, Held turns false.
func TestAutoRenewTakeover(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	lost := make(chan struct{}, 4)
	l := newLocker(t, c, db, "taken", &LockerOptions{TTL: renewTTL, MaxOffset: renewMaxOffset, AutoRenew: true,
		OnLost: func() { lost <- struct{}{} }})
	thief := newLocker(t, c, db, "taken", &LockerOptions{TTL: renewTTL})
	must(t, l.Acquire(bg))
	hctx, fence, ok := l.Holding()
	if !ok {
		t.Fatal("no holding after Acquire")
	}
	must(t, thief.Acquire(bg, Force()))
	forced := time.Now()
	// One renewal period (ttl/4) plus a generous margin for a loaded machine.
	limit := renewTTL/4 + 1500*time.Millisecond
	if !closedWithin(hctx, limit) {
		t.Fatalf("the holding's context not done %v after a forced takeover; stats %+v", limit, l.Stats())
	}
	t.Logf("holding ended %v after the takeover", time.Since(forced))
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("OnLost did not fire after a takeover")
	}
	if l.Held() {
		t.Fatal("Held() true after a takeover")
	}
	if thief.Fence() <= fence {
		t.Fatalf("the thief's fence %d is not above %d", thief.Fence(), fence)
	}
	st := l.Stats()
	if st.Losses != 1 || st.TakeoversSeen != 1 || st.Acquisitions != 1 {
		t.Fatalf("stats after a takeover: %+v", st)
	}
	// Close does not fire OnLost again, and the lock stays the thief's.
	must(t, l.Close())
	select {
	case <-lost:
		t.Fatal("OnLost fired twice")
	case <-time.After(300 * time.Millisecond):
	}
	owned, err := thief.Owned(bg)
	mustBool(t, "thief Owned after the loser's Close", true, owned, err)
}

// The goroutine watching a holding ends with it: at Release, at Close, and
// when a Locker dropped without Close is freed by the garbage collector.
func TestHoldingContextGoroutines(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	settle := func() int {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	base := settle()
	back := func(what string) {
		t.Helper()
		eventually(t, 10*time.Second, "the goroutines to go back to "+what, func() bool { return settle() <= base })
	}

	l := newLocker(t, c, db, "g", &LockerOptions{TTL: renewTTL})
	for round := 0; round < 3; round++ {
		must(t, l.Acquire(bg))
		ctx, _, _ := l.Holding()
		for i := 0; i < 5; i++ {
			if again, _, _ := l.Holding(); again != ctx {
				t.Fatal("Holding gave another context for the same holding")
			}
		}
		if n := settle(); n > base+1 {
			t.Fatalf("%d goroutines for one holding watched 6 times (base %d)", n, base)
		}
		release(t, l, true)
		if !closedWithin(ctx, 2*time.Second) {
			t.Fatal("holding context not done after Release")
		}
		back("the base after Release")
	}

	must(t, l.Acquire(bg))
	ctx, _, _ := l.Holding()
	must(t, l.Close())
	if !closedWithin(ctx, 2*time.Second) {
		t.Fatal("holding context not done after Close")
	}
	back("the base after Close")

	// A Locker dropped while holding: freed by its finalizer, which cancels
	// the token (and releases nothing).
	ctx = func() context.Context {
		d, err := c.NewLocker(db, "dropped", &LockerOptions{TTL: renewTTL})
		must(t, err)
		must(t, d.Acquire(bg))
		ctx, _, ok := d.Holding()
		if !ok {
			t.Fatal("no holding")
		}
		return ctx
	}()
	eventually(t, 20*time.Second, "the dropped locker's holding context to end", func() bool {
		runtime.GC()
		return ctx.Err() != nil
	})
	back("the base after the finalizer")
}

// Stats count what was done: n acquisitions, m touches.
func TestLockerStats(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	l := newLocker(t, c, db, "stats", &LockerOptions{TTL: 10 * time.Second})
	if st := l.Stats(); st != (Stats{}) {
		t.Fatalf("stats of a new locker: %+v", st)
	}
	const n, m = 3, 4
	for i := 0; i < n; i++ {
		must(t, l.Acquire(bg))
		if i == n-1 {
			for j := 0; j < m; j++ {
				_, err := l.Touch(bg)
				must(t, err)
			}
			st := l.Stats()
			if st.LeaseLeft <= 0 || st.LeaseLeft > 10*time.Second {
				t.Fatalf("LeaseLeft while held: %v", st.LeaseLeft)
			}
		}
		release(t, l, true)
	}
	st := l.Stats()
	t.Logf("stats: %+v", st)
	if st.Acquisitions != n || st.Renewals != m || st.FailedRenewals != 0 || st.Losses != 0 || st.TakeoversSeen != 0 ||
		st.LeaderTransitions != 0 || st.RoundTrips < n+m || st.LastRoundTrip <= 0 || st.MaxRoundTrip < st.LastRoundTrip ||
		st.LeaseLeft != 0 {
		t.Fatalf("stats after %d acquisitions and %d touches: %+v", n, m, st)
	}
}

// Hardening: a tiny ttl, an auto-renew ttl the clock margin eats, and a key
// of 2 MiB are refused with ErrInvalidArgument and a short message.
func TestRefusedOptions(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	_, err := c.NewLocker(db, "k", &LockerOptions{TTL: time.Millisecond})
	wantErr(t, "NewLocker ttl 1 ms", err, ErrInvalidArgument)
	_, err = c.NewElector(db, "k", &ElectorOptions{TTL: time.Millisecond})
	wantErr(t, "NewElector ttl 1 ms", err, ErrInvalidArgument)
	_, err = c.NewLocker(db, "k", &LockerOptions{TTL: time.Second, MaxOffset: 500 * time.Millisecond, AutoRenew: true})
	wantErr(t, "NewLocker AutoRenew ttl = 2 x maxoffset", err, ErrInvalidArgument)

	huge := strings.Repeat("k", 2<<20)
	_, err = c.NewLocker(db, huge, nil)
	if e := wantErr(t, "NewLocker 2 MiB key", err, ErrInvalidArgument); e != nil && len(err.Error()) >= 1000 {
		t.Errorf("message of a 2 MiB key is %d bytes long: %.300s...", len(err.Error()), err)
	}
	_, err = c.NewElector(db, huge, nil)
	if e := wantErr(t, "NewElector 2 MiB key", err, ErrInvalidArgument); e != nil && len(err.Error()) >= 1000 {
		t.Errorf("message of a 2 MiB key is %d bytes long: %.300s...", len(err.Error()), err)
	}
	t.Logf("2 MiB key: %v", err)
}
