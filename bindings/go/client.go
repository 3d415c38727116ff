package mongoelector

/*
#include "mongoelector.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// Client is a connection pool to a MongoDB deployment. Share one per process.
// Lockers and electors made from it hold their own reference to the pool, so
// closing the Client does not affect them. All methods are safe for
// concurrent use.
type Client struct {
	mu  *sync.RWMutex // me_client_free must not race me_locker_new/me_elector_new
	ptr *C.me_client  // nil once closed
}

// NewClient makes a client for uri (a MongoDB connection string). Nothing is
// sent yet: against an unreachable server the first operation fails after
// the URI's serverSelectionTimeoutMS (default 30 s).
func NewClient(uri string) (*Client, error) {
	curi, err := cString("uri", uri)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(curi))
	var p *C.me_client
	var cerr *C.me_error
	if err := takeError("client new", C.me_client_new(curi, &p, &cerr), cerr, nil); err != nil {
		return nil, err
	}
	c := &Client{mu: new(sync.RWMutex), ptr: p}
	runtime.SetFinalizer(c, func(c *Client) { C.me_client_free(c.ptr) })
	return c, nil
}

// Close frees this reference to the pool (me_client_free). Idempotent; NewLocker
// and NewElector then fail with ErrClosed. Lockers and electors made from the
// Client keep working.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr != nil {
		runtime.SetFinalizer(c, nil)
		C.me_client_free(c.ptr)
		c.ptr = nil
	}
	return nil
}

// use runs f with the C pointer while the Client is open.
func (c *Client) use(op string, f func(p *C.me_client) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return &Error{Code: CodeClosed, Op: op, Message: "the client is closed"}
	}
	maybeGC()
	err := f(c.ptr)
	runtime.KeepAlive(c)
	return err
}
