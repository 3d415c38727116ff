//go:build !mongoelector_debug

package mongoelector

// maybeGC forces a collection before each C call under the mongoelector_debug
// build tag, to flush out a missing runtime.KeepAlive; it does nothing otherwise.
func maybeGC() {}
