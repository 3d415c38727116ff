package mongoelector

/*
#include "shims.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Client is a connection pool to a MongoDB server. Share one per process.
// Lockers and electors made from it hold their own reference to the pool, so
// closing the Client does not affect them. All methods are safe for
// concurrent use.
type Client struct {
	ptr *C.me_client
	g   *guard
}

// NewClient connects to uri (a MongoDB connection string). It fails, or the
// first operation fails, within the driver's server-selection timeout (settable
// in the URI, e.g. serverSelectionTimeoutMS=5000) when the server is unreachable.
func NewClient(uri string) (*Client, error) {
	curi, err := cString("uri", uri)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(curi))
	var p *C.me_client
	var msg *C.char
	st := C.me_go_client_new(curi, &p, &msg)
	if err := check("client new", st, msg); err != nil {
		return nil, err
	}
	c := &Client{ptr: p, g: newGuard("client", "")}
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// Close releases this reference to the pool. It is idempotent and safe to call
// concurrently with other methods (they finish first). Lockers and electors
// made from the Client keep working.
func (c *Client) Close() error {
	c.g.close(nil, func() {
		runtime.SetFinalizer(c, nil)
		C.me_client_free(c.ptr)
		c.ptr = nil
	})
	return nil
}

// use runs f with the C pointer while the Client is open (op names the call
// in the error otherwise).
func (c *Client) use(op string, f func(p *C.me_client) error) error {
	if !c.g.enter() {
		return c.g.closedError(op)
	}
	defer c.g.exit()
	maybeGC()
	err := f(c.ptr)
	runtime.KeepAlive(c)
	return err
}
