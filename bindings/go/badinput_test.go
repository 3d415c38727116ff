package mongoelector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// wantErr checks that err matches one of sentinels and is an *Error with a message.
func wantErr(t testing.TB, what string, err error, sentinels ...error) *Error {
	t.Helper()
	matched := false
	for _, s := range sentinels {
		matched = matched || errors.Is(err, s)
	}
	var e *Error
	switch {
	case !matched:
		t.Errorf("%s: %v, want %v", what, err, sentinels)
		return nil
	case !errors.As(err, &e):
		t.Errorf("%s: %T %v is not an *Error", what, err, err)
	case e.Message == "":
		t.Errorf("%s: %v without a message", what, err)
	}
	return e
}

// wantClosed checks the error of a call on a closed handle: ME_ERR_CLOSED,
// matching ErrClosed only.
func wantClosed(t testing.TB, what string, err error) {
	t.Helper()
	if e := wantErr(t, what, err, ErrClosed); e != nil && (e.Code != CodeClosed || errors.Is(err, ErrInvalidState)) {
		t.Errorf("%s: %#v, want code CodeClosed matching ErrClosed only", what, err)
	}
}

// heldState is what another key's holder sees of its holding; the bad input
// must leave it as it was.
type heldState struct {
	owned   bool
	fence   int64
	expires time.Time
	current CurrentLock
}

func holdingOf(t testing.TB, l *Locker) heldState {
	t.Helper()
	owned, err := l.Owned(bg)
	must(t, err)
	cur, err := l.Current(bg)
	must(t, err)
	if cur == nil {
		t.Fatalf("Current of %q: nobody holds it", l.Key())
	}
	exp, _ := l.Expires()
	return heldState{owned: owned, fence: l.Fence(), expires: exp, current: *cur}
}

func (h heldState) String() string {
	c := h.current
	return fmt.Sprintf("owned %v, fence %d, expires %s; current: key %q uuid %s pid %d fence %d created %s expires %s",
		h.owned, h.fence, h.expires.UTC().Format(time.RFC3339Nano), c.Key, c.UUID, c.PID, c.Fence,
		c.Created.Format(time.RFC3339Nano), c.Expires.Format(time.RFC3339Nano))
}

func (h heldState) equal(o heldState) bool {
	a, b := h.current, o.current
	return h.owned == o.owned && h.fence == o.fence && h.expires.Equal(o.expires) && a.Key == b.Key &&
		a.Locked == b.Locked && a.UUID == b.UUID && a.Host == b.Host && a.PID == b.PID && a.Fence == b.Fence &&
		a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires)
}

// TestBadInputAndMisuse is the Go side of tests/reliability/test_bad_input.py
// (issue 8): bad keys, ttls, acquire options, URIs and database names, and
// misuse of lockers, electors and clients (double start, stop of a stopped
// elector, Close during a waiting Acquire, use after Close) each give an
// *Error with a message matching the sentinel of the status the C ABI gives
// for the same case; nothing panics or hangs; and the holdings of another key
// in the same collection and in another collection stay as they were.
func TestBadInputAndMisuse(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	ctx := context.Background()

	// Sentinels of "no data of another key is touched": key "victim" held in
	// the lock collection the barrage uses (its first generation's document is
	// "victim#1", also a key below) and in another collection.
	victim := newLocker(t, c, db, "victim", nil)
	must(t, victim.Acquire(ctx, NonBlocking()))
	elsewhere := newLocker(t, c, db, "victim", &LockerOptions{Collection: "other"})
	must(t, elsewhere.Acquire(ctx, NonBlocking()))
	victimBefore, elsewhereBefore := holdingOf(t, victim), holdingOf(t, elsewhere)
	if !victimBefore.owned || !elsewhereBefore.owned || victimBefore.current.UUID == elsewhereBefore.current.UUID {
		t.Fatalf("sentinels: %v; %v", victimBefore, elsewhereBefore)
	}

	t.Run("keys", func(t *testing.T) {
		for _, key := range []string{"", "\xff\xfeab", "k\x00x"} {
			_, err := c.NewLocker(db, key, nil)
			wantErr(t, fmt.Sprintf("NewLocker(key %q)", key), err, ErrInvalidArgument)
			_, err = c.NewElector(db, key, nil)
			wantErr(t, fmt.Sprintf("NewElector(key %q)", key), err, ErrInvalidArgument)
		}
		// Keys that look like operators, paths or our own document ids are plain
		// strings, and so is a 1 MiB key. The C ABI lets a server refuse the
		// latter (ME_ERR_DATABASE): a document or index size limit.
		huge := strings.Repeat("x", 1<<20)
		for _, key := range []string{"$where", "a.b", `{"$gt":""}`, "$gt", "victim#1", "é🔒\\u0000", huge} {
			name := fmt.Sprintf("key %.20q", key)
			a := newLocker(t, c, db, key, nil)
			b := newLocker(t, c, db, key, nil)
			if a.Key() != key {
				t.Errorf("%s: Key() = %.20q", name, a.Key())
			}
			err := a.Acquire(ctx, Timeout(10*time.Second), Step(100*time.Millisecond))
			if key == huge && errors.Is(err, ErrDatabase) {
				wantErr(t, name+": Acquire", err, ErrDatabase)
				continue
			}
			if err != nil {
				t.Errorf("%s: Acquire: %v", name, err)
				continue
			}
			cur, err := b.Current(bg)
			if err != nil || cur == nil || cur.Key != key || cur.UUID != a.UUID() || cur.Fence != a.Fence() {
				t.Errorf("%s: Current = %+v, %v; want the key held by %s, fence %d", name, cur, err, a.UUID(), a.Fence())
			}
			wantErr(t, name+": Acquire of the held key", b.Acquire(ctx, NonBlocking()), ErrLockExists)
			// Force and ForceRelease act on this key only.
			if err := b.Acquire(ctx, NonBlocking(), Force()); err != nil {
				t.Errorf("%s: forced Acquire: %v", name, err)
			}
			owned, err := a.Owned(bg)
			mustBool(t, name+": Owned by the first after the takeover", false, owned, err)
			release(t, a, false) // not its lock any more: a no-op
			owned, err = b.Owned(bg)
			mustBool(t, name+": Owned by the taker", true, owned, err)
			released, err := a.ForceRelease(bg)
			mustBool(t, name+": ForceRelease", true, released, err)
			locked, err := b.Locked(bg)
			mustBool(t, name+": Locked after ForceRelease", false, locked, err)
			if cur, err := a.Current(bg); err != nil || cur != nil {
				t.Errorf("%s: Current after ForceRelease = %+v, %v", name, cur, err)
			}
		}
	})

	t.Run("ttl", func(t *testing.T) {
		// TTL is a time.Duration: NaN and ±Inf, which the C ABI rejects, cannot
		// be expressed. 0 is the documented default (600 s for a locker, 15 s
		// for an elector), not a zero ttl. The extremes it can express:
		for _, ttl := range []time.Duration{-time.Nanosecond, -time.Second, math.MinInt64} {
			_, err := c.NewLocker(db, "k", &LockerOptions{TTL: ttl})
			wantErr(t, fmt.Sprintf("NewLocker(ttl %v)", ttl), err, ErrInvalidArgument)
			_, err = c.NewElector(db, "k", &ElectorOptions{TTL: ttl})
			wantErr(t, fmt.Sprintf("NewElector(ttl %v)", ttl), err, ErrInvalidArgument)
		}
		_, err := c.NewLocker(db, "k", &LockerOptions{MaxOffset: -time.Second})
		wantErr(t, "NewLocker(max offset -1s)", err, ErrInvalidArgument)
		_, err = c.NewLocker(db, "k", &LockerOptions{Collection: "a$b"})
		wantErr(t, "NewLocker(collection a$b)", err, ErrInvalidArgument)

		st, err := newLocker(t, c, db, "ttl-default", &LockerOptions{TTL: 0}).Status(bg)
		if err != nil || st.TTL != 600*time.Second {
			t.Errorf("locker ttl 0: Status = %+v, %v; want the default ttl 600s", st, err)
		}
		if ttl := newElector(t, c, db, "ttl-default", &ElectorOptions{TTL: 0}).TTL(); ttl != 15*time.Second {
			t.Errorf("elector ttl 0: TTL() = %v, want the default 15s", ttl)
		}

		// The largest Duration (292 years) is a valid lease, and reads back as itself.
		long := newLocker(t, c, db, "ttl-huge", &LockerOptions{TTL: math.MaxInt64})
		must(t, long.Acquire(ctx, NonBlocking()))
		st, err = long.Status(bg)
		if err != nil || st.TTL != math.MaxInt64 || !st.Owned || st.Expires.Before(time.Now().AddDate(290, 0, 0)) {
			t.Errorf("locker ttl MaxInt64: Status = %+v, %v", st, err)
		}
		release(t, long, true)
		if ttl := newElector(t, c, db, "ttl-huge", &ElectorOptions{TTL: math.MaxInt64}).TTL(); ttl != math.MaxInt64 {
			t.Errorf("elector ttl MaxInt64: TTL() = %v", ttl)
		}

		// A lease under 100 ms could never be confirmed in time: refused up front.
		_, err = c.NewLocker(db, "ttl-1ns", &LockerOptions{TTL: time.Nanosecond})
		wantErr(t, "NewLocker with ttl 1ns", err, ErrInvalidArgument)
		_, err = c.NewElector(db, "ttl-1ns", &ElectorOptions{TTL: time.Nanosecond})
		wantErr(t, "NewElector with ttl 1ns", err, ErrInvalidArgument)
	})

	t.Run("acquire options", func(t *testing.T) {
		l := newLocker(t, c, db, "ok-key", nil)
		for what, opts := range map[string][]AcquireOption{
			"timeout -1ns":                  {Timeout(-time.Nanosecond)},
			"timeout -2s":                   {Timeout(-2 * time.Second)},
			"timeout MinInt64":              {Timeout(math.MinInt64)},
			"step -1s":                      {Step(-time.Second)},
			"step MinInt64":                 {Step(math.MinInt64)},
			"non-blocking, step -1s":        {NonBlocking(), Step(-time.Second)},
			"non-blocking with timeout -1s": {NonBlocking(), Timeout(-time.Second)},
		} {
			wantErr(t, "Acquire("+what+")", l.Acquire(ctx, opts...), ErrInvalidArgument)
		}
		locked, err := l.Locked(bg)
		mustBool(t, "Locked after the rejected acquires", false, locked, err)

		_, err = l.Touch(bg)
		wantErr(t, "Touch of a lock never held", err, ErrNotOwned)
		release(t, l, false) // a lock never held: a no-op, as me_locker_release gives ME_OK

		// Options are passed through: NonBlocking with a Timeout bounds the one
		// attempt, and Step(0) keeps the default step.
		must(t, l.Acquire(ctx, NonBlocking(), Timeout(10*time.Second), Step(0)))
		release(t, l, true)

		// The largest timeout and step: a free lock is taken at once...
		must(t, l.Acquire(ctx, Timeout(math.MaxInt64), Step(math.MaxInt64)))
		// ...and a held one is waited for (the deadline does not overflow into
		// the past) until the context is cancelled.
		w := newLocker(t, c, db, "ok-key", nil)
		cctx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(300*time.Millisecond, cancel)
		defer timer.Stop()
		start := time.Now()
		err = w.Acquire(cctx, Timeout(math.MaxInt64), Step(50*time.Millisecond))
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrAcquireTimeout) || time.Since(start) < 300*time.Millisecond {
			t.Errorf("Acquire(timeout MaxInt64) of a held lock: %v after %v, want context.Canceled after 300ms", err, time.Since(start))
		}
		release(t, l, true)
	})

	t.Run("uri and database", func(t *testing.T) {
		for _, uri := range []string{"not a uri", "", "mongodb://\xff\xfe/", "mongodb://h/?x=\x00"} {
			_, err := NewClient(uri)
			wantErr(t, fmt.Sprintf("NewClient(%q)", uri), err, ErrInvalidArgument)
		}
		for _, name := range []string{"a.b", "", "a$b", "a/b", "\xff", strings.Repeat("d", 64), "d\x00"} {
			_, err := c.NewLocker(name, "k", nil)
			wantErr(t, fmt.Sprintf("NewLocker(database %q)", name), err, ErrInvalidArgument)
			_, err = c.NewElector(name, "k", nil)
			wantErr(t, fmt.Sprintf("NewElector(database %q)", name), err, ErrInvalidArgument)
		}

		// Unreachable: a free port. A clear error within a few seconds.
		l := newLocker(t, newUnreachableClient(t, "?serverSelectionTimeoutMS=300"), db, "k", nil) // touches no server
		start := time.Now()
		err := l.Acquire(ctx, Timeout(2*time.Second))
		wantErr(t, "Acquire on an unreachable server", err, ErrDatabase, ErrAcquireTimeout)
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("Acquire(timeout 2s) on an unreachable server took %v", d)
		}
	})

	t.Run("elector", func(t *testing.T) {
		e := newElector(t, c, db, "$where", nil)
		must(t, e.Release()) // not leading, stopped: a no-op
		must(t, e.Stop())    // stopped: a no-op
		must(t, e.Start())
		wantErr(t, "Start of a running elector", e.Start(), ErrInvalidState)
		if !e.Running() {
			t.Error("the failed second Start stopped the elector")
		}
		must(t, e.Stop())
		must(t, e.Stop())
		if e.Running() {
			t.Error("Running after Stop")
		}

		// Release by an elector that does not lead leaves the leader alone.
		leader := newElector(t, c, db, "group", nil)
		must(t, leader.Poll())
		follower := newElector(t, c, db, "group", nil)
		must(t, follower.Poll())
		if !leader.IsLeader() || follower.IsLeader() {
			t.Fatalf("leader %v, follower %v", leader.IsLeader(), follower.IsLeader())
		}
		must(t, follower.Release())
		cd, err := follower.ClusterDetail(bg)
		if err != nil || cd.Leader == nil || cd.Leader.UUID != leader.UUID() || cd.Leader.Fence != leader.Fence() ||
			!leader.IsLeader() {
			t.Errorf("after the follower's Release: %+v, %v; leader %v", cd, err, leader.IsLeader())
		}
	})

	t.Run("close during acquire", func(t *testing.T) {
		holder := newLocker(t, c, db, "contended", nil)
		must(t, holder.Acquire(ctx, NonBlocking()))
		fence := holder.Fence()
		waiter := newLocker(t, c, db, "contended", nil)
		done := acquireWaiting(t, ctx, waiter, Step(50*time.Millisecond))
		closed := time.Now()
		must(t, waiter.Close())
		wantClosed(t, "Acquire stopped by Close", acquireResult(t, done, 10*time.Second, "after Close"))
		if d := time.Since(closed); d > 5*time.Second {
			t.Errorf("the waiter returned %v after Close", d)
		}
		owned, err := holder.Owned(bg)
		mustBool(t, "Owned by the holder after the waiter's Close", true, owned, err)
		if holder.Fence() != fence {
			t.Errorf("holder's fence %d -> %d", fence, holder.Fence())
		}
	})

	t.Run("use after close", func(t *testing.T) {
		l := newLocker(t, c, db, "closed", nil)
		must(t, l.Acquire(ctx, NonBlocking()))
		fence := l.Fence()
		must(t, l.Close())
		must(t, l.Close())
		wantClosed(t, "Locker.Acquire", l.Acquire(ctx))
		wantClosed(t, "Locker.Acquire(NonBlocking)", l.Acquire(ctx, NonBlocking()))
		_, err := l.Release(bg)
		wantClosed(t, "Locker.Release", err)
		_, err = l.ForceRelease(bg)
		wantClosed(t, "Locker.ForceRelease", err)
		_, err = l.Touch(bg)
		wantClosed(t, "Locker.Touch", err)
		_, err = l.Locked(bg)
		wantClosed(t, "Locker.Locked", err)
		_, err = l.Owned(bg)
		wantClosed(t, "Locker.Owned", err)
		_, err = l.Current(bg)
		wantClosed(t, "Locker.Current", err)
		_, err = l.Status(bg)
		wantClosed(t, "Locker.Status", err)
		// The getters keep working until the Locker is freed.
		if _, ok := l.Expires(); !ok || l.Fence() != fence || l.Key() != "closed" || l.TTL() != 600*time.Second {
			t.Errorf("closed locker: Expires ok %v, Fence %d (want %d), Key %q, TTL %v", ok, l.Fence(), fence, l.Key(), l.TTL())
		}
		locked, err := newLocker(t, c, db, "closed", nil).Locked(bg)
		mustBool(t, "Locked after the holder's Close", false, locked, err)

		e := newElector(t, c, db, "closed-elector", nil)
		must(t, e.Start())
		must(t, e.Close())
		must(t, e.Close())
		wantClosed(t, "Elector.Start", e.Start())
		wantClosed(t, "Elector.Run", e.Run(ctx))
		must(t, e.Stop()) // stopping a stopped elector only releases: nothing to do once closed
		wantClosed(t, "Elector.Poll", e.Poll())
		wantClosed(t, "Elector.Release", e.Release())
		_, err = e.LeaderExists(bg)
		wantClosed(t, "Elector.LeaderExists", err)
		_, err = e.NodeStatus(bg)
		wantClosed(t, "Elector.NodeStatus", err)
		_, err = e.ClusterDetail(bg)
		wantClosed(t, "Elector.ClusterDetail", err)
		if e.IsLeader() || e.Running() || e.TTL() != 15*time.Second || e.Key() != "closed-elector" {
			t.Errorf("closed elector: leader %v running %v ttl %v key %q", e.IsLeader(), e.Running(), e.TTL(), e.Key())
		}

		c2, err := NewClient(testURI)
		must(t, err)
		must(t, c2.Close())
		must(t, c2.Close())
		_, err = c2.NewLocker(db, "k", nil)
		wantClosed(t, "Client.NewLocker", err)
		_, err = c2.NewElector(db, "k", nil)
		wantClosed(t, "Client.NewElector", err)
	})

	if after := holdingOf(t, victim); !after.owned || !after.equal(victimBefore) {
		t.Errorf("the holding of another key changed:\nbefore %v\nafter  %v", victimBefore, after)
	}
	if after := holdingOf(t, elsewhere); !after.owned || !after.equal(elsewhereBefore) {
		t.Errorf("the holding in another collection changed:\nbefore %v\nafter  %v", elsewhereBefore, after)
	}
}
