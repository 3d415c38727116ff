#!/usr/bin/env bash
# Tests of the C++ binding (run by `make test`): configure target/cpp-build with
# Ninja, build the suite as C++17 and as C++20 (warnings are errors), ctest;
# then the same once more under AddressSanitizer + UBSan in target/cpp-build-asan.
# Uses MONGOELECTOR_TEST_URI, or starts (and stops) its own test server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export MONGOELECTOR_ROOT=$root

# ---- tools (Debian packages) ----
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v ninja >/dev/null || missing+=(ninja-build)
command -v c++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
[ -f /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# ---- library and server ----
[ -f "$root/target/release/libmongoelector.so" ] || (cd "$root" && cargo build --release)
if [ -z "${MONGOELECTOR_TEST_URI:-}" ]; then
  export MONGOELECTOR_SERVER_STATE=${MONGOELECTOR_SERVER_STATE:-/tmp/me-state-cpp-test-$$}
  MONGOELECTOR_TEST_URI=$("$root/scripts/test-server" start)
  export MONGOELECTOR_TEST_URI
  trap '"$root/scripts/test-server" stop' EXIT
fi
echo "test server: $MONGOELECTOR_TEST_URI"

# The C programs for the cross-language tests (the tests skip, saying so, without them).
make -C "$root/tests/c" --no-print-directory programs || echo "WARNING: could not build the C programs"

jobs=${MONGOELECTOR_CPP_TEST_JOBS:-4}

echo "== build and test (target/cpp-build)"
cmake -G Ninja -S "$here" -B "$root/target/cpp-build" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$root/target/cpp-build"
(cd "$root/target/cpp-build" && ctest --output-on-failure -j "$jobs")

echo "== the same under AddressSanitizer + UBSan (target/cpp-build-asan)"
cmake -G Ninja -S "$here" -B "$root/target/cpp-build-asan" -DCMAKE_BUILD_TYPE=Debug \
  -DMONGOELECTOR_CPP_SANITIZE=ON >/dev/null
cmake --build "$root/target/cpp-build-asan"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$root/target/cpp-build-asan" && ctest --output-on-failure -j "$jobs")
