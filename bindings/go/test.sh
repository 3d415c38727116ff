#!/usr/bin/env bash
# Go binding suite: gofmt check, go vet, go test -race against the test server,
# a short run with forced GCs (-tags mongoelector_debug), the promexport module's
# tests and a build through pkg-config (-tags mongoelector_pkgconfig).
# Uses MONGOELECTOR_TEST_URI when set (make test); otherwise starts its own server.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Toolchain: Go >= 1.21 (it fetches the 1.22 toolchain go.mod asks for through the
# module proxy if needed), a C compiler for cgo, pkg-config.
missing=()
command -v go >/dev/null || missing+=(golang-go)
command -v cc >/dev/null || missing+=(gcc)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v make >/dev/null || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root apt-get install -y -qq "${missing[@]}"
fi
gov=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n1.21\n' "${gov%%[a-z]*}" | sort -V | head -n1)" != "1.21" ]; then
  echo "Go $gov is too old: Go 1.21 or newer is needed (it fetches the 1.22 toolchain itself)" >&2
  exit 1
fi
export CGO_ENABLED=1

# The library (make test builds it first).
if [ ! -f "$root/include/mongoelector.h" ] || [ ! -f "$root/target/release/libmongoelector.so" ]; then
  (cd "$root" && cargo build --release)
fi

# A fixed prefix: the go build cache keeps a cgo package's pkg-config flags, so a
# fresh temporary directory each run would leave a stale -L behind.
prefix=${TMPDIR:-/tmp}/mongoelector-go-pkgconfig-$(id -u)
rm -rf "$prefix"
own_server=
cleanup() {
  rm -rf "$prefix"
  if [ -n "$own_server" ]; then "$root/scripts/test-server" stop; fi
}
trap cleanup EXIT

# The server.
if [ -z "${MONGOELECTOR_TEST_URI:-}" ]; then
  export MONGOELECTOR_SERVER_STATE=${MONGOELECTOR_SERVER_STATE:-/tmp/me-state-go-$$}
  own_server=1
  MONGOELECTOR_TEST_URI=$("$root/scripts/test-server" start)
  export MONGOELECTOR_TEST_URI
fi

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "== go vet"
go vet ./...
go vet -tags mongoelector_debug ./...

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...

echo "== go test -tags mongoelector_debug (a GC before every C call)"
go test -race -count=1 -timeout 10m -tags mongoelector_debug \
  -run 'TestLockerMethods|TestAcquireContext|TestClose|TestConcurrentUseAndClose|TestLockerFinalizer|TestTemporaryLockers|TestLockerRecordsAgainstServer|TestElectorRecordsAgainstServer|TestElectorPollAndStatus|TestElectorStopFromCallback|TestElectorCloseDuringCallback|TestElectorCloseFromCallback|TestBadInputAndMisuse|TestHoldingContextGoroutines|TestLockerStats|TestAutoRenewTakeover|TestElectorRunLeadershipContext|TestHealthHandlerAndElectorStats|TestOnNewLeader|Example' .

echo "== promexport (a module of its own: the Prometheus collector)"
(cd promexport && go vet ./... && go test -race -count=1 -timeout 5m ./...)

echo "== build and test through pkg-config (-tags mongoelector_pkgconfig)"
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
ln -s "$root/include/mongoelector.h" "$prefix/include/"
lib=$root/target/release/libmongoelector.so
ln -s "$lib" "$prefix/lib/libmongoelector.so"
soname=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ -n "$soname" ] && [ "$soname" != libmongoelector.so ]; then ln -s "$lib" "$prefix/lib/$soname"; fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
if [ -f "$root/packaging/mongoelector.pc.in" ]; then
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$root/packaging/mongoelector.pc.in" \
    > "$prefix/lib/pkgconfig/mongoelector.pc"
else
  printf 'prefix=%s\nName: mongoelector\nDescription: mongoelector\nVersion: %s\nCflags: -I${prefix}/include\nLibs: -L${prefix}/lib -lmongoelector\n' \
    "$prefix" "$version" > "$prefix/lib/pkgconfig/mongoelector.pc"
fi
# CGO_CPPFLAGS names the prefix so that it is part of the build cache key.
PKG_CONFIG_PATH=$prefix/lib/pkgconfig LD_LIBRARY_PATH=$prefix/lib CGO_CPPFLAGS="-DME_GO_PKGCONFIG_PREFIX=$prefix" \
  go test -count=1 -tags mongoelector_pkgconfig -run 'TestVersionAndCodes|TestLockerMethods|Example' .
