package mongoelector

/*
#include "mongoelector.h"
*/
import "C"

import (
	"context"
	"sync"
)

// token is an me_cancel token cancelled when a context is done: every call
// that talks to the database takes one, and the library then returns
// ME_ERR_CANCELLED within milliseconds, whatever it waits on.
type token struct {
	ptr  *C.me_cancel // nil for a context that is never done: no token
	stop func() bool  // stops the context.AfterFunc
	done chan struct{}
}

// newToken gives the token of ctx; free it once the call has returned.
func newToken(ctx context.Context) *token {
	if ctx.Done() == nil {
		return &token{}
	}
	t := &token{ptr: C.me_cancel_new(), done: make(chan struct{})}
	if ctx.Err() != nil {
		// Cancelled before the call: the call returns ME_ERR_CANCELLED at once.
		C.me_cancel_cancel(t.ptr)
		close(t.done)
		t.stop = func() bool { return false }
		return t
	}
	t.stop = context.AfterFunc(ctx, func() {
		C.me_cancel_cancel(t.ptr)
		close(t.done)
	})
	return t
}

// free frees the token, once the AfterFunc can no longer use it.
func (t *token) free() {
	if t.ptr == nil {
		return
	}
	if !t.stop() {
		<-t.done
	}
	C.me_cancel_free(t.ptr)
}

// lossContexts bridges the loss tokens of a Locker's holdings
// (me_locker_lease_token) or an Elector's terms (me_elector_term_token) to
// contexts: one context per holding (by its fencing token), cancelled by one
// goroutine blocked in me_cancel_wait until the token is cancelled. The
// library cancels the token when the holding or term ends, and also at close
// and free, so that goroutine always ends: no goroutine outlives the
// holding, the Locker or the Elector.
type lossContexts struct {
	mu    sync.Mutex
	fence int64
	ctx   context.Context // nil before the first holding asked for
}

// endedContext is the context of a holding that is over.
var endedContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// get takes the owned token tok of the holding with fence (nil: none) and
// gives that holding's context and whether the holding is live.
func (b *lossContexts) get(tok *C.me_cancel, fence int64) (context.Context, bool) {
	if tok == nil {
		return endedContext, false
	}
	live := !bool(C.me_cancel_is_cancelled(tok))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx != nil && b.fence == fence {
		C.me_cancel_free(tok)
		return b.ctx, live
	}
	if !live {
		C.me_cancel_free(tok)
		return endedContext, false
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.ctx, b.fence = ctx, fence
	go func() {
		for !bool(C.me_cancel_wait(tok, -1)) {
		}
		cancel()
		C.me_cancel_free(tok)
	}()
	return ctx, true
}
