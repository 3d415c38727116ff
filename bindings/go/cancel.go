package mongoelector

/*
#include "mongoelector.h"
*/
import "C"

import "context"

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
