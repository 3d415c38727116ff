//go:build !mongoelector_pkgconfig

package mongoelector

// The default build links the library built in this repository
// (target/release/libmongoelector.so, from `cargo build --release`) and
// records its directory as an rpath, so programs and `go test` run without
// LD_LIBRARY_PATH. Build with -tags mongoelector_pkgconfig to use an
// installed library found through pkg-config instead.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -lmongoelector -Wl,-rpath,${SRCDIR}/../../target/release
*/
import "C"
