#!/usr/bin/env bash
# ThreadSanitizer run of the thread-sharing tests against MONGOELECTOR_TEST_URI:
#   - tests/threads.rs (threads share one locker and one elector, Rust API)
#   - tests/c/test_*.c but test_fork.c, among them test_threads.c (the same through the C
#     ABI, plus cancel, close and free while another thread waits) and the callback tests
#     (callbacks on the elector thread, close while one runs)
# The library, its dependencies and the standard library are all built with
# -Zsanitizer=thread (-Zbuild-std), so the synchronisation inside std, tokio and
# the driver is visible to TSan and a report is a real race. Stable toolchain:
# RUSTC_BOOTSTRAP=1 lets it accept the nightly-only flags; it needs the rust-src
# component, and the run is skipped, saying why, where that cannot be installed.
# Any ThreadSanitizer report fails the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
: "${MONGOELECTOR_TEST_URI:?set MONGOELECTOR_TEST_URI (make test sets it)}"

if ! rustup component add rust-src >/dev/null 2>&1; then
  echo "SKIP ThreadSanitizer run: the rust-src component (needed to build std with TSan) cannot be installed here"
  exit 0
fi

target=$(rustc -vV | sed -n 's/^host: //p')
out=$root/target/tsan
logs=$out/logs
mkdir -p "$logs"
export RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=$out
# halt_on_error: the first report ends the program with exitcode 66.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
build=(-Zbuild-std --target "$target" --release)

echo "== tsan: building the library and tests/threads.rs with ThreadSanitizer"
# One build of both, so the dependencies are compiled once (with the same features).
cargo build "${build[@]}" --lib --test threads
bin=$(cargo build "${build[@]}" --lib --test threads --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "FAIL tsan: no test binary built"; exit 1; }

# The C program links the TSan runtime of the Rust toolchain, the one the library was
# instrumented for (gcc's own libtsan lacks some entry points LLVM emits); the
# runtime is exported so that the library's calls into it resolve to the program's.
lib=$out/$target/release
rt=$(ls "$(rustc --print sysroot)/lib/rustlib/$target/lib/"librustc-*_rt.tsan.a | head -n 1)
c_tests=()
for src in tests/c/test_*.c; do
  t=$(basename "$src" .c)
  # test_fork is about processes, not threads, and TSan's runtime does not support a
  # multi-threaded process that starts threads in a forked child.
  [ "$t" = test_fork ] && continue
  c_tests+=("$t")
  cc -std=c99 -Wall -Wextra -Werror -pedantic -g -O1 -fsanitize=thread -I"$root/include" -c "$src" -o "$out/$t.o"
  cc "$out/$t.o" -o "$out/$t" -rdynamic -Wl,--whole-archive "$rt" -Wl,--no-whole-archive \
    -L"$lib" -Wl,-rpath,"$lib" -lmongoelector -lpthread -ldl -lm -lrt
done

failed=0
run() {
  local name=$1
  shift
  echo "== tsan: $name"
  local rc=0
  "$@" >"$logs/$name.log" 2>&1 || rc=$?
  if [ $rc != 0 ] || grep -q "WARNING: ThreadSanitizer" "$logs/$name.log"; then
    failed=$((failed + 1))
    echo "FAIL  $name under ThreadSanitizer (exit $rc); the report:"
    grep -A60 -m1 "WARNING: ThreadSanitizer" "$logs/$name.log" || tail -n 40 "$logs/$name.log"
  else
    echo "PASS  $name under ThreadSanitizer, no report ($(grep -E 'test result|passed, ' "$logs/$name.log" | tail -n 1))"
  fi
}
run threads.rs "$bin" --test-threads=1
for t in "${c_tests[@]}"; do run "$t.c" "$out/$t"; done
[ $failed = 0 ]
