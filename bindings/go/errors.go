package mongoelector

/*
#include "mongoelector.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Code is a status code of the C ABI (me_status).
type Code int

// The status codes of the C ABI.
const (
	CodeOK              Code = 0
	CodeInvalidArgument Code = 1
	CodeLockExists      Code = 2
	CodeAcquireTimeout  Code = 3
	CodeTimeOffset      Code = 4
	CodeNotOwned        Code = 5
	CodeDatabase        Code = 6
	CodeInvalidState    Code = 7
	CodeCancelled       Code = 8
	CodeClosed          Code = 9
	CodeInternal        Code = 99
)

// String gives the C name of the code, e.g. "ME_ERR_LOCK_EXISTS" ("ME_UNKNOWN"
// for a value the library does not know).
func (c Code) String() string {
	return C.GoString(C.me_status_name(C.int(c)))
}

// Sentinel errors, one per status code. Every error of this package is an
// *Error whose Unwrap gives the sentinel of its code, so callers test them
// with errors.Is(err, ErrLockExists).
var (
	// ErrInvalidArgument: a value the library does not accept (empty key, ttl <= 0, ...).
	ErrInvalidArgument = errors.New("mongoelector: invalid argument")
	// ErrLockExists: a non-blocking acquire found the lock held by someone else.
	ErrLockExists = errors.New("mongoelector: lock exists")
	// ErrAcquireTimeout: an Acquire ran out of time, by its Timeout option or by
	// its context's deadline (that error also matches context.DeadlineExceeded).
	ErrAcquireTimeout = errors.New("mongoelector: acquire timeout")
	// ErrTimeOffset: the host clock differs from the server's by more than the allowed offset.
	ErrTimeOffset = errors.New("mongoelector: clock offset too high")
	// ErrNotOwned: Touch on a lock this locker does not hold.
	ErrNotOwned = errors.New("mongoelector: lock not owned")
	// ErrDatabase: the driver or the server failed (connection, timeout, auth, write error).
	ErrDatabase = errors.New("mongoelector: database error")
	// ErrInvalidState: the object's state does not allow the call (e.g. Start on
	// a running elector, a mutating call on an elector's read-only lock).
	ErrInvalidState = errors.New("mongoelector: invalid state")
	// ErrCancelled: the call's context was done (the error also matches
	// ctx.Err(): context.Canceled or context.DeadlineExceeded).
	ErrCancelled = errors.New("mongoelector: cancelled")
	// ErrClosed: the Client, Locker or Elector was closed, before or during the call.
	ErrClosed = errors.New("mongoelector: closed")
	// ErrInternal: a bug in the library (a caught panic).
	ErrInternal = errors.New("mongoelector: internal error")
)

var sentinels = map[Code]error{
	CodeInvalidArgument: ErrInvalidArgument,
	CodeLockExists:      ErrLockExists,
	CodeAcquireTimeout:  ErrAcquireTimeout,
	CodeTimeOffset:      ErrTimeOffset,
	CodeNotOwned:        ErrNotOwned,
	CodeDatabase:        ErrDatabase,
	CodeInvalidState:    ErrInvalidState,
	CodeCancelled:       ErrCancelled,
	CodeClosed:          ErrClosed,
	CodeInternal:        ErrInternal,
}

// Error is a failed call: the status code, the operation and the library's
// message. errors.Is matches it against the sentinel of its code and, when
// the call's context ended it, against the context's error.
type Error struct {
	Code    Code   // the me_status of the call
	Op      string // the operation, e.g. "acquire"
	Message string // the library's message (me_error_message)
	Context error  // ctx.Err() when the call's context ended it; nil otherwise
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	if e.Context != nil {
		msg += " (" + e.Context.Error() + ")"
	}
	return fmt.Sprintf("mongoelector: %s: %s", e.Op, msg)
}

// Unwrap gives the sentinel error of the code (nil for an unknown code) and
// the context's error, if any.
func (e *Error) Unwrap() []error {
	var errs []error
	if s := sentinels[e.Code]; s != nil {
		errs = append(errs, s)
	}
	if e.Context != nil {
		errs = append(errs, e.Context)
	}
	return errs
}

// takeError turns the status and the owned me_error of a call into an error
// and frees the me_error. A call cut short by its context (ME_ERR_CANCELLED)
// carries ctx.Err(); for an acquire a deadline is an acquire timeout.
func takeError(op string, st C.enum_me_status, cerr *C.me_error, ctx context.Context) error {
	defer C.me_error_free(cerr)
	if st == C.ME_OK {
		return nil
	}
	e := &Error{Code: Code(st), Op: op, Message: C.GoString(C.me_error_message(cerr))}
	if e.Code == CodeCancelled && ctx != nil {
		e.Context = ctx.Err()
		if op == "acquire" && errors.Is(e.Context, context.DeadlineExceeded) {
			e.Code = CodeAcquireTimeout
		}
	}
	return e
}

// cString copies s for C. A NUL byte inside would silently cut the string
// short in C, so it is refused.
func cString(what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, &Error{Code: CodeInvalidArgument, Op: what, Message: fmt.Sprintf("%s contains a NUL byte: %.200q", what, s)}
	}
	return C.CString(s), nil
}

// Version is the version of the loaded C library, e.g. "0.2.0".
func Version() string { return C.GoString(C.me_version()) }
