//go:build mongoelector_pkgconfig

package mongoelector

// With -tags mongoelector_pkgconfig the header and the library come from an
// installed mongoelector (`make install PREFIX=...`), located through
// pkg-config (set PKG_CONFIG_PATH to $PREFIX/lib/pkgconfig when the prefix is
// not a standard one, and LD_LIBRARY_PATH or an rpath when running).

/*
#cgo pkg-config: mongoelector
*/
import "C"
