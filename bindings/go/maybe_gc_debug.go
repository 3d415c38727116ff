//go:build mongoelector_debug

package mongoelector

import "runtime"

func maybeGC() { runtime.GC() }
