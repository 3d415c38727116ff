package mongoelector

/*
#include "shims.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// LockerOptions configure a Locker. The zero value gives the library's
// defaults (collection "mongolocker", ttl 600 s, clock check on, max offset 0.5 s).
type LockerOptions struct {
	// Collection holding the lock documents; "" means "mongolocker".
	Collection string
	// TTL is the lease length of a holding; 0 means 600 s. Negative values are rejected.
	TTL time.Duration
	// NoTimeParanoid turns off the check of the host clock against the server
	// before acquiring (on by default).
	NoTimeParanoid bool
	// MaxOffset is the largest clock offset the check accepts; 0 means 0.5 s.
	MaxOffset time.Duration
}

// Locker is a distributed lock on one key. There is no nesting: acquiring a
// lock this Locker holds renews it, one Release frees it. All methods are safe
// for concurrent use. Close (or the finalizer, as a safety net) releases the
// lock if this Locker holds it, so keep the Locker reachable while holding.
type Locker struct {
	ptr  *C.me_locker
	g    *guard
	key  string
	uuid string
	host string
	pid  int64

	lastFence int64 // Fence at Close
}

// NewLocker makes a locker for key in database db. It touches no server: the
// first operation does. opts may be nil.
func (c *Client) NewLocker(db, key string, opts *LockerOptions) (*Locker, error) {
	var o C.me_locker_options
	C.me_locker_options_init(&o)
	if opts != nil {
		if opts.Collection != "" {
			coll, err := cString("collection", opts.Collection)
			if err != nil {
				return nil, err
			}
			defer C.free(unsafe.Pointer(coll))
			o.dbcollection = coll
		}
		if opts.TTL != 0 {
			o.ttl = C.double(opts.TTL.Seconds())
		}
		if opts.NoTimeParanoid {
			o.timeparanoid = false
		}
		if opts.MaxOffset != 0 {
			o.maxoffset = C.double(opts.MaxOffset.Seconds())
		}
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
	var p *C.me_locker
	err = c.use("locker new", func(cp *C.me_client) error {
		var msg *C.char
		return check("locker new", C.me_go_locker_new(cp, cdb, ckey, &o, &p, &msg), msg)
	})
	if err != nil {
		return nil, err
	}
	l := &Locker{
		ptr:  p,
		g:    newGuard("locker", key),
		key:  C.GoString(C.me_locker_key(p)),
		uuid: C.GoString(C.me_locker_uuid(p)),
		host: C.GoString(C.me_locker_host(p)),
		pid:  int64(C.me_locker_pid(p)),
	}
	runtime.SetFinalizer(l, (*Locker).Close)
	return l, nil
}

// Close releases the lock if this Locker holds it (best effort; the library
// logs errors) and frees the Locker. It stops a waiting Acquire (which then
// fails with ErrClosed, an ErrInvalidState) and waits for calls in flight.
// Later calls fail the same way. Idempotent.
func (l *Locker) Close() error {
	l.g.close(nil, func() {
		runtime.SetFinalizer(l, nil)
		l.lastFence = int64(C.me_locker_fence(l.ptr))
		C.me_locker_free(l.ptr)
		l.ptr = nil
	})
	return nil
}

func (l *Locker) use(op string, f func(p *C.me_locker) error) error {
	if !l.g.enter() {
		return l.g.closedError(op)
	}
	defer l.g.exit()
	maybeGC()
	err := f(l.ptr)
	runtime.KeepAlive(l)
	return err
}

// Key is the lock key.
func (l *Locker) Key() string { return l.key }

// UUID identifies this Locker in the lock documents.
func (l *Locker) UUID() string { return l.uuid }

// Host is the host name recorded in the lock documents.
func (l *Locker) Host() string { return l.host }

// PID is the process id recorded in the lock documents.
func (l *Locker) PID() int64 { return l.pid }

// Fence is the fencing token of this Locker's latest acquisition: strictly
// increasing per key across all holders, 0 before the first acquisition.
// After Close it gives the value at Close.
func (l *Locker) Fence() int64 {
	var f int64
	if l.use("fence", func(p *C.me_locker) error {
		f = int64(C.me_locker_fence(p))
		return nil
	}) != nil {
		l.g.close(nil, func() {}) // no-op: waits for a Close in progress
		return l.lastFence
	}
	return f
}

// Expires is the expiry of this Locker's latest acquisition or renewal; ok is
// false when it never acquired (or is closed).
func (l *Locker) Expires() (t time.Time, ok bool) {
	_ = l.use("expires", func(p *C.me_locker) error {
		var ms C.int64_t
		if C.me_locker_ts_expire(p, &ms) {
			t, ok = time.UnixMilli(int64(ms)), true
		}
		return nil
	})
	return t, ok
}

type acquireConfig struct {
	blocking   bool
	hasTimeout bool
	timeout    time.Duration
	step       time.Duration
	force      bool
}

// AcquireOption changes how Acquire waits.
type AcquireOption func(*acquireConfig)

// NonBlocking makes Acquire try once and fail with ErrLockExists when the lock
// is held. That one attempt ends by the context's deadline, if it has one.
func NonBlocking() AcquireOption { return func(c *acquireConfig) { c.blocking = false } }

// Timeout bounds how long a blocking Acquire takes, database round trips
// included; then it fails with ErrAcquireTimeout. Timeout(0) makes one
// attempt, with the least time the library gives a round trip (50 ms).
// Negative values, and any Timeout with NonBlocking, are rejected
// (ErrInvalidArgument).
func Timeout(d time.Duration) AcquireOption {
	return func(c *acquireConfig) { c.hasTimeout, c.timeout = true, d }
}

// Step is the delay between attempts while the lock is held (default 250 ms).
// Cancellation of the context and Close are noticed at once while waiting, and
// otherwise when the attempt in progress ends (by the deadline, if there is one).
func Step(d time.Duration) AcquireOption { return func(c *acquireConfig) { c.step = d } }

// Force takes the lock even from a live holder. Use with care.
func Force() AcquireOption { return func(c *acquireConfig) { c.force = true } }

// noTimeout is ME_NO_TIMEOUT: for me_try_acquire, the library's own bound on
// each round trip (5 to 30 s, by the ttl).
const noTimeout = -1.0

// DefaultStep is the delay between attempts of a blocking Acquire.
const DefaultStep = 250 * time.Millisecond

// Acquire takes the lock. By default it waits until the lock is free, the
// Timeout passes (ErrAcquireTimeout), the context is done (the error then
// wraps ctx.Err(), and for a deadline also ErrAcquireTimeout) or the Locker is
// closed (ErrClosed). Acquiring a lock this Locker holds renews it.
//
// Acquire returns by the earlier of the Timeout and the context's deadline:
// every attempt in the library (clock check, read, insert) is given the time
// left until then, and the error says which of the two ran out. Without
// either, an unreachable server fails an attempt with ErrDatabase after the
// library's bound on a round trip (5 to 30 s, by the ttl). Cancellation (as
// opposed to a deadline) and Close are noticed at once between attempts, and
// when the attempt in progress ends otherwise.
//
// A NonBlocking Acquire makes one attempt, bounded by the context's deadline
// in the same way.
func (l *Locker) Acquire(ctx context.Context, opts ...AcquireOption) error {
	cfg := acquireConfig{blocking: true, step: DefaultStep}
	for _, o := range opts {
		o(&cfg)
	}
	if err := ctx.Err(); err != nil {
		return l.ctxError(err)
	}
	if err := cfg.check(); err != nil {
		return err
	}
	d := acquireDeadlineOf(ctx, cfg)
	// Attempts in C, each within the time left, and between them a wait of one
	// step in Go that the context or Close can cut short.
	var timer *time.Timer
	for {
		err := l.tryAcquire(d.limit(), cfg.force)
		if err == nil {
			return nil
		}
		// Out of time: the library says so, or a database call failed past the
		// deadline (the library makes the same call: cut short by the deadline).
		if d.set && (errors.Is(err, ErrAcquireTimeout) || d.passed() && errors.Is(err, ErrDatabase)) {
			return l.deadlineError(ctx, d)
		}
		if !cfg.blocking || !errors.Is(err, ErrLockExists) {
			return err
		}
		if d.passed() {
			return l.deadlineError(ctx, d)
		}
		wait := cfg.step
		if d.set {
			wait = min(wait, time.Until(d.at))
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			return l.ctxError(ctx.Err())
		case <-l.g.done:
			return l.g.closedError("acquire")
		}
	}
}

// check refuses option combinations the library would refuse. me_try_acquire
// takes no Timeout or Step, so the checks me_acquire made are made here: a
// NonBlocking attempt takes no Timeout and no negative Step; a blocking one
// takes no negative Timeout and needs a positive Step.
func (cfg acquireConfig) check() error {
	switch {
	case !cfg.blocking && cfg.hasTimeout:
		return invalidArg("acquire", "NonBlocking is incompatible with a Timeout (got %v)", cfg.timeout)
	case !cfg.blocking && cfg.step < 0:
		return invalidArg("acquire", "step must be >= 0, got %v", cfg.step)
	case cfg.blocking && cfg.hasTimeout && cfg.timeout < 0:
		return invalidArg("acquire", "timeout must be >= 0, got %v", cfg.timeout)
	case cfg.blocking && cfg.step <= 0:
		return invalidArg("acquire", "step must be > 0, got %v", cfg.step)
	}
	return nil
}

// acquireDeadline is the earlier of an Acquire's Timeout deadline and its
// context's deadline.
type acquireDeadline struct {
	at      time.Time
	set     bool // false: neither exists
	fromCtx bool // the context's deadline is the earlier one
}

func acquireDeadlineOf(ctx context.Context, cfg acquireConfig) acquireDeadline {
	var d acquireDeadline
	if cfg.hasTimeout {
		// A huge Timeout does not overflow into the past: Add then drops the
		// monotonic reading and keeps the wall clock.
		d = acquireDeadline{at: time.Now().Add(cfg.timeout), set: true}
	}
	if at, ok := ctx.Deadline(); ok && (!d.set || at.Before(d.at)) {
		d = acquireDeadline{at: at, set: true, fromCtx: true}
	}
	return d
}

// limit is the timeout of one me_try_acquire: the time left (0 once passed;
// the library still lets each round trip have a few tens of milliseconds), or
// ME_NO_TIMEOUT without a deadline.
func (d acquireDeadline) limit() C.double {
	if !d.set {
		return noTimeout
	}
	return C.double(max(time.Until(d.at), 0).Seconds())
}

func (d acquireDeadline) passed() bool { return d.set && !time.Now().Before(d.at) }

// deadlineError is the error of an Acquire that ran out of time: the
// context's error when its deadline came first (context.DeadlineExceeded even
// if the context's timer has not fired yet), otherwise ErrAcquireTimeout.
func (l *Locker) deadlineError(ctx context.Context, d acquireDeadline) error {
	if !d.fromCtx {
		return l.timeoutError()
	}
	err := ctx.Err()
	if err == nil {
		err = context.DeadlineExceeded
	}
	return l.ctxError(err)
}

// tryAcquire is one attempt whose round trips end within limit seconds
// (noTimeout: the library's own bound).
func (l *Locker) tryAcquire(limit C.double, force bool) error {
	return l.use("acquire", func(p *C.me_locker) error {
		var msg *C.char
		return check("acquire", C.me_go_try_acquire(p, limit, C.bool(force), &msg), msg)
	})
}

func (l *Locker) timeoutError() error {
	return &Error{Code: CodeAcquireTimeout, Op: "acquire", Message: fmt.Sprintf("timeout reached, lock %q not acquired", l.key)}
}

func (l *Locker) ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("mongoelector: acquire %q: %w: %w", l.key, ErrAcquireTimeout, err)
	}
	return fmt.Errorf("mongoelector: acquire %q: %w", l.key, err)
}

// Release frees the lock if this Locker holds it; releasing a lock held by
// someone else (e.g. after a takeover) is a no-op.
func (l *Locker) Release() error { return l.release(false) }

// ForceRelease frees the lock whoever holds it. Use with care.
func (l *Locker) ForceRelease() error { return l.release(true) }

func (l *Locker) release(force bool) error {
	return l.use("release", func(p *C.me_locker) error {
		var msg *C.char
		return check("release", C.me_go_release(p, C.bool(force), &msg), msg)
	})
}

// Touch renews this Locker's live holding for another ttl and returns the new
// expiry; ErrNotOwned when it does not hold the lock.
func (l *Locker) Touch() (time.Time, error) {
	var ms C.int64_t
	err := l.use("touch", func(p *C.me_locker) error {
		var msg *C.char
		return check("touch", C.me_go_touch(p, &ms, &msg), msg)
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(ms)), nil
}

// Locked reports whether anyone holds the lock now (one read).
func (l *Locker) Locked() (bool, error) {
	var b C.bool
	err := l.use("locked", func(p *C.me_locker) error {
		var msg *C.char
		return check("locked", C.me_go_locked(p, &b, &msg), msg)
	})
	return bool(b), err
}

// Owned reports whether this Locker holds the lock now (one read).
func (l *Locker) Owned() (bool, error) {
	var b C.bool
	err := l.use("owned", func(p *C.me_locker) error {
		var msg *C.char
		return check("owned", C.me_go_owned(p, &b, &msg), msg)
	})
	return bool(b), err
}

// Current gives the live lock of the key, or nil when nobody holds it.
func (l *Locker) Current() (*CurrentLock, error) {
	var js *C.char
	err := l.use("get current", func(p *C.me_locker) error {
		var msg *C.char
		return check("get current", C.me_go_get_current(p, &js, &msg), msg)
	})
	if err != nil {
		return nil, err
	}
	s, ok := takeString(js)
	if !ok {
		return nil, nil
	}
	return decodeCurrent(s)
}

// Status gives this Locker's view of its lock (one read).
func (l *Locker) Status() (*LockStatus, error) {
	var js *C.char
	err := l.use("status", func(p *C.me_locker) error {
		var msg *C.char
		return check("status", C.me_go_locker_status(p, &js, &msg), msg)
	})
	if err != nil {
		return nil, err
	}
	s, _ := takeString(js)
	return decodeLockStatus(s)
}
