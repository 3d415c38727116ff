package mongoelector

/*
#include "shims.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
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
	CodeInternal        Code = 99
)

// String gives the C name of the code, e.g. "ME_ERR_LOCK_EXISTS" ("ME_UNKNOWN"
// for a value the library does not know).
func (c Code) String() string {
	return C.GoString(C.me_status_name(C.int(c)))
}

// Sentinel errors. Every error returned by this package that comes from the
// library is an *Error whose Unwrap gives one of these, so callers test them
// with errors.Is(err, ErrLockExists).
var (
	// ErrInvalidArgument: a value the library does not accept (empty key, ttl <= 0, ...).
	ErrInvalidArgument = errors.New("mongoelector: invalid argument")
	// ErrLockExists: a non-blocking acquire found the lock held by someone else.
	ErrLockExists = errors.New("mongoelector: lock exists")
	// ErrAcquireTimeout: an Acquire ran out of time, database round trips included (its
	// Timeout option or the context's deadline, whichever came first; in the latter case
	// the error also matches context.DeadlineExceeded).
	ErrAcquireTimeout = errors.New("mongoelector: acquire timeout")
	// ErrTimeOffset: the host clock differs from the server's by more than the allowed offset.
	ErrTimeOffset = errors.New("mongoelector: clock offset too high")
	// ErrNotOwned: Touch on a lock this locker does not hold.
	ErrNotOwned = errors.New("mongoelector: lock not owned")
	// ErrDatabase: the driver or the server failed (connection, timeout, auth, write error).
	ErrDatabase = errors.New("mongoelector: database error")
	// ErrInvalidState: the object's state does not allow the call (e.g. Start on a
	// running elector, or any call on a closed handle).
	ErrInvalidState = errors.New("mongoelector: invalid state")
	// ErrInternal: a bug in the library (a caught panic).
	ErrInternal = errors.New("mongoelector: internal error")
	// ErrClosed: the Client, Locker or Elector was closed. A call on a closed
	// handle (and an Acquire stopped by Close) fails with an *Error of code
	// CodeInvalidState, as the C ABI reports a locker freed during me_acquire;
	// it matches both ErrClosed and ErrInvalidState.
	ErrClosed = errors.New("mongoelector: use of closed handle")
)

var sentinels = map[Code]error{
	CodeInvalidArgument: ErrInvalidArgument,
	CodeLockExists:      ErrLockExists,
	CodeAcquireTimeout:  ErrAcquireTimeout,
	CodeTimeOffset:      ErrTimeOffset,
	CodeNotOwned:        ErrNotOwned,
	CodeDatabase:        ErrDatabase,
	CodeInvalidState:    ErrInvalidState,
	CodeInternal:        ErrInternal,
}

// Error is a failed call of the library: the status code, the operation and
// the library's message. errors.Is matches it against the sentinel of its code.
type Error struct {
	Code    Code   // the me_status the C function returned
	Op      string // the operation, e.g. "acquire"
	Message string // the library's message (me_last_error_message)

	closed bool // a call on a closed handle: also matches ErrClosed
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	return fmt.Sprintf("mongoelector: %s: %s", e.Op, msg)
}

// Unwrap gives the sentinel error of the code (nil for an unknown code).
func (e *Error) Unwrap() error { return sentinels[e.Code] }

// Is reports whether target is ErrClosed and e a call on a closed handle.
func (e *Error) Is(target error) bool { return e.closed && target == ErrClosed }

// closedError is the error of a call (op) on a closed handle (what, e.g. `locker for "k"`).
func closedError(op, what string) error {
	return &Error{Code: CodeInvalidState, Op: op, Message: what + " is closed", closed: true}
}

// check turns a wrapper's status and copied message into an error; it frees msg.
func check(op string, st C.int, msg *C.char) error {
	if msg != nil {
		defer C.free(unsafe.Pointer(msg))
	}
	if Code(st) == CodeOK {
		return nil
	}
	e := &Error{Code: Code(st), Op: op}
	if msg != nil {
		e.Message = C.GoString(msg)
	}
	return e
}

// invalidArg is an ErrInvalidArgument found on the Go side, before any C call.
func invalidArg(op, format string, a ...any) error {
	return &Error{Code: CodeInvalidArgument, Op: op, Message: fmt.Sprintf(format, a...)}
}

// cString copies s for C; a NUL byte inside would silently cut it short, so it is refused.
func cString(what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, invalidArg(what, "%s contains a NUL byte: %q", what, s)
	}
	return C.CString(s), nil
}

// takeString copies a string the library returned through a char** and frees it.
func takeString(s *C.char) (string, bool) {
	if s == nil {
		return "", false
	}
	defer C.me_string_free(s)
	return C.GoString(s), true
}

// Version is the version of the loaded C library, e.g. "0.1.0".
func Version() string { return C.GoString(C.me_version()) }
