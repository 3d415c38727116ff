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
	"sync"
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
		if cbs.onLeader != nil {
			cbs.onLeader()
		}
		if cbs.onStartedLeading != nil {
			cbs.startLeading()
		}
	case 1:
		cbs.onLeaderLoss()
	case 2:
		cbs.onLoop()
	}
}

// startLeading runs OnStartedLeading on a goroutine of its own with the
// context of the term that has just begun (none if it is already over).
func (cbs *callbacks) startLeading() {
	var f C.int64_t
	ctx, ok := cbs.term.get(C.me_elector_term_token(cbs.ptr, &f), int64(f))
	if !ok {
		return
	}
	cbs.leading.start(func() {
		defer func() {
			if r := recover(); r != nil {
				log.Printf("mongoelector: panic in OnStartedLeading (recovered): %v\n%s", r, debug.Stack())
			}
		}()
		cbs.onStartedLeading(ctx)
	})
}

// goroutines counts the OnStartedLeading goroutines still running.
type goroutines struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (g *goroutines) start(f func()) {
	g.mu.Lock()
	if g.n == 0 {
		g.idle = make(chan struct{})
	}
	g.n++
	g.mu.Unlock()
	go func() {
		defer func() {
			g.mu.Lock()
			if g.n--; g.n == 0 {
				close(g.idle)
			}
			g.mu.Unlock()
		}()
		f()
	}()
}

// wait returns once none runs.
func (g *goroutines) wait() {
	g.mu.Lock()
	idle, n := g.idle, g.n
	g.mu.Unlock()
	if n > 0 {
		<-idle
	}
}

// meGoNewLeader runs OnNewLeader with a copy of the borrowed leader record
// (nil: no leader).
//
//export meGoNewLeader
func meGoNewLeader(h C.uintptr_t, leader *C.me_leader_info) {
	defer func() {
		if r := recover(); r != nil {
			log.Printf("mongoelector: panic in OnNewLeader callback (recovered): %v\n%s", r, debug.Stack())
		}
	}()
	var info *LeaderInfo
	if leader != nil {
		info = leaderInfoOf(leader)
	}
	cgo.Handle(h).Value().(*callbacks).onNewLeader(info)
}

// lockerCallbacks is the value behind a Locker's cgo.Handle.
type lockerCallbacks struct{ onLost func() }

// meGoLockerLost runs a Locker's OnLost.
//
//export meGoLockerLost
func meGoLockerLost(h C.uintptr_t) {
	defer func() {
		if r := recover(); r != nil {
			log.Printf("mongoelector: panic in OnLost callback (recovered): %v\n%s", r, debug.Stack())
		}
	}()
	cgo.Handle(h).Value().(lockerCallbacks).onLost()
}

// meGoUserDataFree deletes the cgo.Handle of an elector's or a locker's
// callbacks: the library calls it once, after the last callback can have run
// (in me_elector_free or me_locker_free, or later on a library thread).
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
