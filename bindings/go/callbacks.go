package mongoelector

// The Go ends of the C trampolines in callbacks.c. Each recovers a panic: none
// may unwind into the library.

/*
#include "callbacks.h"
*/
import "C"

import (
	"log"
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"
)

var callbackNames = [...]string{"OnLeader", "OnLeaderLoss", "OnLoop"}

// meGoElectorCallback runs the callback kind (0 OnLeader, 1 OnLeaderLoss,
// 2 OnLoop) of the *callbacks behind the cgo.Handle h.
//
//export meGoElectorCallback
func meGoElectorCallback(h C.uintptr_t, kind C.int) {
	defer func() {
		if r := recover(); r != nil {
			log.Printf("mongoelector: panic in %s callback (recovered): %v\n%s", callbackNames[kind], r, debug.Stack())
		}
	}()
	cbs := cgo.Handle(h).Value().(*callbacks)
	switch kind {
	case 0:
		cbs.onLeader()
	case 1:
		cbs.onLeaderLoss()
	case 2:
		cbs.onLoop()
	}
}

// meGoUserDataFree deletes the cgo.Handle of an elector's callbacks: the
// library calls it once, after the last callback can have run (me_elector_free).
//
//export meGoUserDataFree
func meGoUserDataFree(h C.uintptr_t) {
	defer func() {
		if r := recover(); r != nil {
			log.Printf("mongoelector: panic freeing an elector's callbacks (recovered): %v", r)
		}
	}()
	cgo.Handle(h).Delete()
}

// LogFunc receives the library's log messages: level 1 error, 2 warning,
// 3 info, 4 debug, 5 trace. It may be called from several threads at once.
type LogFunc func(level int, message string)

var logFunc atomic.Pointer[LogFunc]

// SetLogFunc routes the library's log messages up to maxLevel to f
// (process-wide). A nil f restores the default: warnings and errors to stderr.
func SetLogFunc(f LogFunc, maxLevel int) {
	if f == nil {
		logFunc.Store(nil)
		C.me_set_log_callback(nil, C.int(maxLevel), nil)
		return
	}
	logFunc.Store(&f)
	C.me_set_log_callback(C.me_log_callback(C.me_go_log), C.int(maxLevel), nil)
}

//export meGoLog
func meGoLog(level C.int, msg *C.char) {
	defer func() {
		if r := recover(); r != nil {
			log.Printf("mongoelector: panic in the log function (recovered): %v", r)
		}
	}()
	if f := logFunc.Load(); f != nil {
		(*f)(int(level), C.GoString(msg))
	}
}
