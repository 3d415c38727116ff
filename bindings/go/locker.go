package mongoelector

/*
#include "callbacks.h"
*/
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// LockerOptions configure a Locker. A zero field keeps the library's default
// (me_locker_options_init: collection "mongolocker", ttl 600 s, clock check
// on, max offset 0.5 s, no auto-renewal). Values are passed through: the
// library rejects bad ones with ErrInvalidArgument (a ttl under 100 ms, an
// AutoRenew ttl not above twice MaxOffset, ...).
type LockerOptions struct {
	// Collection holding the lock documents.
	Collection string
	// TTL is the lease length of a holding.
	TTL time.Duration
	// NoTimeParanoid turns off the check of the host clock against the server
	// before acquiring.
	NoTimeParanoid bool
	// MaxOffset is the largest clock offset the check accepts.
	MaxOffset time.Duration
	// AutoRenew renews a holding every ttl/4 in the background (on the
	// library's threads) until Release or Close. If renewals fail until the
	// lease ends by this Locker's clock (ttl minus twice MaxOffset, counted
	// from before the write was sent), the holding is lost: Held turns
	// false, the holding's context (Holding) is cancelled and OnLost runs,
	// on time even when the database is unreachable.
	AutoRenew bool
	// OnLost is called when a holding ends without Release or Close: its
	// lease ran out unrenewed, or a read or renewal found another holder.
	// Once per holding, on a library thread (not a goroutine of yours); a
	// panic in it is recovered and logged.
	OnLost func()
}

// Locker is a distributed lock on one key. There is no nesting: acquiring a
// lock this Locker holds renews it, one Release frees it. All methods are safe
// for concurrent use.
//
// Close releases the lock if held. A Locker dropped without Close is freed by
// the garbage collector, which never releases: a held lock then stays held
// until its ttl.
type Locker struct {
	ptr     *C.me_locker
	holding *lossContexts
	view    *Elector // for an elector's read-only lock: keeps the elector alive
	key     string
	uuid    string
	host    string
	pid     int64
}

// NewLocker makes a locker for key in database db. It sends nothing: the
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
		if opts.AutoRenew {
			o.auto_renew = true
		}
	}
	var h cgo.Handle
	if opts != nil && opts.OnLost != nil {
		h = cgo.NewHandle(lockerCallbacks{onLost: opts.OnLost})
		o.on_lost = C.me_callback(C.me_go_on_lost)
		C.me_go_locker_options_set_handle(&o, C.uintptr_t(h))
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
		var cerr *C.me_error
		return takeError("locker new", C.me_locker_new(cp, cdb, ckey, &o, &p, &cerr), cerr, nil)
	})
	if err != nil {
		if h != 0 {
			h.Delete() // no locker: user_data_free is never called
		}
		return nil, err
	}
	l := wrapLocker(p, nil)
	runtime.SetFinalizer(l, func(l *Locker) { C.me_locker_free(l.ptr) })
	return l, nil
}

func wrapLocker(p *C.me_locker, view *Elector) *Locker {
	return &Locker{
		ptr:     p,
		holding: new(lossContexts),
		view:    view,
		key:     C.GoString(C.me_locker_key(p)),
		uuid:    C.GoString(C.me_locker_uuid(p)),
		host:    C.GoString(C.me_locker_host(p)),
		pid:     int64(C.me_locker_pid(p)),
	}
}

// call runs one C call of op with a token for ctx and the error out-parameter.
func (l *Locker) call(ctx context.Context, op string, f func(p *C.me_locker, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status) error {
	tok := newToken(ctx)
	defer tok.free()
	maybeGC()
	var cerr *C.me_error
	st := f(l.ptr, tok.ptr, &cerr)
	runtime.KeepAlive(l)
	return takeError(op, st, cerr, ctx)
}

// Close closes the Locker (me_locker_close): calls waiting on it (a blocking
// Acquire) return ErrClosed within milliseconds, then the lock is released if
// this Locker holds it. Later calls fail with ErrClosed; the getters (Key,
// Fence, Expires, ...) keep working. Idempotent.
func (l *Locker) Close() error {
	maybeGC()
	var cerr *C.me_error
	st := C.me_locker_close(l.ptr, &cerr)
	runtime.KeepAlive(l)
	return takeError("close", st, cerr, nil)
}

// Key is the lock key.
func (l *Locker) Key() string { return l.key }

// UUID identifies this Locker in the lock documents.
func (l *Locker) UUID() string { return l.uuid }

// Host is the host name recorded in the lock documents.
func (l *Locker) Host() string { return l.host }

// PID is the process id recorded in the lock documents.
func (l *Locker) PID() int64 { return l.pid }

// DB is the database of the lock documents.
func (l *Locker) DB() string {
	maybeGC()
	defer runtime.KeepAlive(l)
	return C.GoString(C.me_locker_db_name(l.ptr))
}

// Collection is the collection of the lock documents.
func (l *Locker) Collection() string {
	maybeGC()
	defer runtime.KeepAlive(l)
	return C.GoString(C.me_locker_dbcollection(l.ptr))
}

// TTL is the lease length of a holding.
func (l *Locker) TTL() time.Duration {
	maybeGC()
	defer runtime.KeepAlive(l)
	return seconds(float64(C.me_locker_ttl(l.ptr)))
}

// MaxOffset is the largest clock offset the clock check accepts.
func (l *Locker) MaxOffset() time.Duration {
	maybeGC()
	defer runtime.KeepAlive(l)
	return seconds(float64(C.me_locker_maxoffset(l.ptr)))
}

// TimeParanoid reports whether the host clock is checked before acquiring.
func (l *Locker) TimeParanoid() bool {
	maybeGC()
	defer runtime.KeepAlive(l)
	return bool(C.me_locker_timeparanoid(l.ptr))
}

// Fence is the fencing token of this Locker's latest acquisition: strictly
// increasing per key across all holders, 0 before the first acquisition.
func (l *Locker) Fence() int64 {
	maybeGC()
	defer runtime.KeepAlive(l)
	return int64(C.me_locker_fence(l.ptr))
}

// Expires is the expiry of this Locker's latest acquisition or renewal; ok is
// false when it never acquired.
func (l *Locker) Expires() (t time.Time, ok bool) {
	maybeGC()
	defer runtime.KeepAlive(l)
	var ms C.int64_t
	if C.me_locker_ts_expire(l.ptr, &ms) {
		return msTime(ms), true
	}
	return time.Time{}, false
}

// AcquireOption changes how Acquire waits. Options not given keep the
// library's defaults (me_acquire_options_init: blocking, no timeout, step
// 250 ms, no force); values are passed through, and the library rejects bad
// ones with ErrInvalidArgument.
type AcquireOption func(*acquireOptions)

// acquireOptions is what the AcquireOptions fill: me_acquire_options.
type acquireOptions struct{ c C.me_acquire_options }

// NonBlocking makes Acquire try once and fail with ErrLockExists when the lock
// is held.
func NonBlocking() AcquireOption {
	return func(o *acquireOptions) { o.c.blocking = false }
}

// Timeout bounds the whole Acquire, database round trips included; then it
// fails with ErrAcquireTimeout. With NonBlocking it bounds the one attempt.
func Timeout(d time.Duration) AcquireOption {
	return func(o *acquireOptions) { o.c.has_timeout, o.c.timeout = true, C.double(d.Seconds()) }
}

// Step is the delay between attempts while the lock is held; 0 keeps the
// default (250 ms).
func Step(d time.Duration) AcquireOption {
	return func(o *acquireOptions) {
		if d != 0 {
			o.c.step = C.double(d.Seconds())
		}
	}
}

// Force takes the lock even from a live holder. Use with care.
func Force() AcquireOption {
	return func(o *acquireOptions) { o.c.force = true }
}

// Acquire takes the lock (one me_locker_acquire). By default it waits until
// the lock is free. It returns early when the Timeout passes
// (ErrAcquireTimeout), when ctx is done (ErrCancelled and context.Canceled,
// or for a deadline ErrAcquireTimeout and context.DeadlineExceeded), or when
// the Locker is closed (ErrClosed), each within milliseconds, whatever the
// library waits on. Acquiring a lock this Locker holds renews it.
func (l *Locker) Acquire(ctx context.Context, opts ...AcquireOption) error {
	return l.call(ctx, "acquire", func(p *C.me_locker, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		var o acquireOptions
		C.me_acquire_options_init(&o.c)
		for _, f := range opts {
			f(&o)
		}
		o.c.cancel = tok
		return C.me_locker_acquire(p, &o.c, cerr)
	})
}

// Release frees the lock if this Locker holds it; released says whether it
// did. Releasing a lock held by someone else (e.g. after a takeover) or by
// nobody is a no-op.
func (l *Locker) Release(ctx context.Context) (released bool, err error) {
	return l.release(ctx, false)
}

// ForceRelease frees the lock whoever holds it. Use with care.
func (l *Locker) ForceRelease(ctx context.Context) (released bool, err error) {
	return l.release(ctx, true)
}

func (l *Locker) release(ctx context.Context, force bool) (bool, error) {
	var b C.bool
	err := l.call(ctx, "release", func(p *C.me_locker, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_locker_release(p, C.bool(force), tok, &b, cerr)
	})
	return bool(b), err
}

// Touch renews this Locker's live holding for another ttl and returns the new
// expiry; ErrNotOwned when it does not hold the lock.
func (l *Locker) Touch(ctx context.Context) (time.Time, error) {
	var ms C.int64_t
	err := l.call(ctx, "touch", func(p *C.me_locker, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_locker_touch(p, tok, &ms, cerr)
	})
	if err != nil {
		return time.Time{}, err
	}
	return msTime(ms), nil
}

// Locked reports whether anyone holds the lock now (one read).
func (l *Locker) Locked(ctx context.Context) (bool, error) {
	var b C.bool
	err := l.call(ctx, "locked", func(p *C.me_locker, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_locker_locked(p, tok, &b, cerr)
	})
	return bool(b), err
}

// Owned reports whether this Locker holds the lock now (one read).
func (l *Locker) Owned(ctx context.Context) (bool, error) {
	var b C.bool
	err := l.call(ctx, "owned", func(p *C.me_locker, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_locker_owned(p, tok, &b, cerr)
	})
	return bool(b), err
}

// Current gives the live lock of the key (one read), or nil when nobody holds it.
func (l *Locker) Current(ctx context.Context) (*CurrentLock, error) {
	var rec *C.me_current_lock
	err := l.call(ctx, "current", func(p *C.me_locker, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_locker_current(p, tok, &rec, cerr)
	})
	if err != nil || rec == nil {
		return nil, err
	}
	defer C.me_current_lock_free(rec)
	return currentLockOf(rec), nil
}

// Status gives this Locker's view of its lock (one read).
func (l *Locker) Status(ctx context.Context) (*LockStatus, error) {
	var rec *C.me_lock_status
	err := l.call(ctx, "status", func(p *C.me_locker, tok *C.me_cancel, cerr **C.me_error) C.enum_me_status {
		return C.me_locker_status(p, tok, &rec, cerr)
	})
	if err != nil {
		return nil, err
	}
	defer C.me_lock_status_free(rec)
	st := lockStatusOf(rec)
	return &st, nil
}

// Held reports whether this Locker holds the lock by its own clock, without a
// round trip: its latest holding's lease (ttl minus twice MaxOffset, from
// before the write was sent) has not run out, and it was not released, lost
// or seen taken over. For hot paths; Owned asks the server.
func (l *Locker) Held() bool {
	maybeGC()
	defer runtime.KeepAlive(l)
	return bool(C.me_locker_held(l.ptr))
}

// Holding gives the context of this Locker's current holding, cancelled the
// moment the holding ends (lease run out, takeover seen, Release, Close, or
// the Locker freed by the garbage collector), and its fencing token. ok is
// false, ctx done and fence 0 when there is no live holding. Calls for one
// holding give the same context. Pass ctx to the work the lock protects, so that the work
// stops when the lock is no longer held:
//
//	if err := l.Acquire(ctx); err != nil { ... }
//	hctx, fence, ok := l.Holding()
//	if ok { err = job(hctx, fence) } // job returns when hctx is done
//
// No goroutine outlives the holding: the one that watches it ends with it.
func (l *Locker) Holding() (ctx context.Context, fence int64, ok bool) {
	maybeGC()
	var f C.int64_t
	tok := C.me_locker_lease_token(l.ptr, &f)
	runtime.KeepAlive(l)
	ctx, ok = l.holding.get(tok, int64(f))
	if !ok {
		return ctx, 0, false
	}
	return ctx, int64(f), true
}

// Stats gives this Locker's counters (no round trip).
func (l *Locker) Stats() Stats {
	maybeGC()
	var s C.me_stats
	C.me_locker_stats(l.ptr, &s)
	runtime.KeepAlive(l)
	return statsOf(&s)
}
