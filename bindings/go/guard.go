package mongoelector

import (
	"fmt"
	"sync"
)

// guard makes Close safe against concurrent use of a handle: the C ABI lets
// every handle be used from several threads at once, except that *_free must
// not race other calls. Calls enter and exit the guard; Close marks it closing
// (new calls fail with closedError, waits such as a blocking Acquire stop), waits
// until the calls in flight have returned, then frees.
type guard struct {
	kind    string // "client", "locker", "elector": for closedError
	key     string // the lock or group key; "" for a client
	mu      sync.Mutex
	idle    *sync.Cond
	active  int
	closing bool
	done    chan struct{} // closed when closing starts
	once    sync.Once     // runs the close sequence once; later Closes wait for it
}

// newGuard makes a guard. It must be allocated apart from the object it
// guards: its sync.Cond points at its own mutex, and an object with a finalizer
// that points at itself is never finalized.
func newGuard(kind, key string) *guard {
	g := &guard{kind: kind, key: key, done: make(chan struct{})}
	g.idle = sync.NewCond(&g.mu)
	return g
}

// enter registers a call; false when the handle is closed or closing.
func (g *guard) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.active++
	return true
}

// closedError is the error of op on the closed handle.
func (g *guard) closedError(op string) error {
	if g.key == "" {
		return closedError(op, g.kind)
	}
	return closedError(op, fmt.Sprintf("%s for %q", g.kind, g.key))
}

func (g *guard) exit() {
	g.mu.Lock()
	g.active--
	if g.active == 0 {
		g.idle.Broadcast()
	}
	g.mu.Unlock()
}

// close runs stop (may be nil) once new calls are refused, then waits for the
// calls in flight, then runs free. Concurrent and later calls wait for the
// first one to finish and do nothing.
func (g *guard) close(stop, free func()) {
	g.once.Do(func() {
		g.mu.Lock()
		g.closing = true
		close(g.done)
		g.mu.Unlock()
		if stop != nil {
			stop()
		}
		g.mu.Lock()
		for g.active > 0 {
			g.idle.Wait()
		}
		g.mu.Unlock()
		free()
	})
}
