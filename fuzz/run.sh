#!/usr/bin/env bash
# Runs the C-ABI fuzz target with AddressSanitizer for a bounded time:
#   fuzz/run.sh [SECONDS]       (default 60; needs MONGOELECTOR_TEST_URI)
# `make fuzz` runs it longer, `make test` runs a short smoke of it.
# Installs cargo-fuzz (pinned) if missing. Builds with the stable toolchain:
# `-Zsanitizer=address` is a nightly flag, but stable ships the ASan runtime and
# RUSTC_BOOTSTRAP=1 lets it accept the flag, so no nightly toolchain is needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
: "${MONGOELECTOR_TEST_URI:?set MONGOELECTOR_TEST_URI (make test sets it)}"
cargo_fuzz_version=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  cargo install --quiet --locked cargo-fuzz --version "$cargo_fuzz_version"
fi
mkdir -p "$here/corpus/ffi_calls" "$here/artifacts/ffi_calls"
cd "$here"
export RUSTC_BOOTSTRAP=1
echo "== fuzz: building ffi_calls with AddressSanitizer"
cargo fuzz build --sanitizer address ffi_calls
echo "== fuzz: ffi_calls for ${secs} s"
# Leak detection is off: the fuzzer's shared client (and the driver's runtime) live for the process.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
  cargo fuzz run --sanitizer address ffi_calls "corpus/ffi_calls" -- \
  -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -max_len=512 \
  -artifact_prefix="$here/artifacts/ffi_calls/" -print_final_stats=1
