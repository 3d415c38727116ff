#!/usr/bin/env bash
# Runs the C-ABI fuzz target with AddressSanitizer for a bounded time:
#   fuzz/run.sh [SECONDS]       (default 60; needs MONGOELECTOR_TEST_URI)
# Installs cargo-fuzz if missing; uses the nightly toolchain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
: "${MONGOELECTOR_TEST_URI:?set MONGOELECTOR_TEST_URI (make test sets it)}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz
fi
mkdir -p "$here/corpus/ffi_calls" "$here/artifacts/ffi_calls"
cd "$here"
# Leak detection is off: the fuzzer's shared client (and the driver's runtime) live for the process.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
  cargo +nightly fuzz run --sanitizer address ffi_calls "corpus/ffi_calls" -- \
  -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -max_len=512 \
  -artifact_prefix="$here/artifacts/ffi_calls/" -print_final_stats=1
