package mongoelector

/*
#include "shims.h"
*/
import "C"

import (
	"log"
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"
)

var callbackNames = [...]string{"OnLeader", "OnLeaderLoss", "OnLoop"}

// meGoElectorCallback is called by the C trampolines in shims.c with the
// cgo.Handle given as user_data and which callback fired.
//
//export meGoElectorCallback
func meGoElectorCallback(h C.uintptr_t, kind C.int) {
	cbs, ok := cgo.Handle(h).Value().(*callbacks)
	if !ok {
		return
	}
	var f func()
	switch kind {
	case 0:
		f = cbs.onLeader
	case 1:
		f = cbs.onLeaderLoss
	case 2:
		f = cbs.onLoop
	}
	if f == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			log.Printf("mongoelector: panic in %s callback (recovered): %v\n%s", callbackNames[kind], r, debug.Stack())
		}
	}()
	f()
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
		C.me_go_set_log(false, C.int(maxLevel))
		return
	}
	logFunc.Store(&f)
	C.me_go_set_log(true, C.int(maxLevel))
}

//export meGoLog
func meGoLog(level C.int, msg *C.char) {
	f := logFunc.Load()
	if f == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			log.Printf("mongoelector: panic in log function (recovered): %v", r)
		}
	}()
	(*f)(int(level), C.GoString(msg))
}
