#!/usr/bin/env bash
# Benchmarks (issue 7), called by `make bench` after `cargo build --release`.
# Builds the bench programs into bench/build/, starts its own test server unless
# MONGOELECTOR_TEST_URI is set (and stops it at the end), runs bench/bench.py,
# writes BENCHMARKS.md at the repository root and prints the same table.
# Knobs (environment): BENCH_ROUNDS, BENCH_PAIRS, BENCH_ELECT_ROUNDS,
# BENCH_FOOT_ROUNDS, BENCH_CONTEND_ROUNDS, BENCH_LOAD_WINDOW (see bench.py), and
# for the sustained-load rows (issue 19):
#   BENCH_SUSTAINED_S (30) and BENCH_SUSTAINED_ROUNDS (3): sustained loop length/rounds
#   BENCH_KEYS ("1,1000,10000"), BENCH_KEYS_S (8), BENCH_KEYS_ROUNDS (3): other keys
#   BENCH_CROWD_GROUPS (10000), BENCH_CROWD_TTLS ("1,5"), BENCH_CROWD_ROUNDS (2)
#   BENCH_THREADS ("1,8,64"), BENCH_THREAD_S (8), BENCH_THREAD_ROUNDS (2)
#   BENCH_ONLY: comma-separated sections to run (round_trips, elections, load,
#     footprint, contention, sustained, seed_failover, keys, crowds, threads)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$here/build
mkdir -p "$build"
rm -f "$build"/unavailable-*.txt

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v cc >/dev/null || missing+=(gcc)
command -v c++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
fi

[ -f "$root/target/release/libmongoelector.so" ] || (cd "$root" && cargo build --release)

echo "== building the bench programs (bench/build)"
make -s -C "$here/c" OUT="$build"
make -s -C "$root/tests/c" programs   # target/c/me_elector (failover, handoff)
CARGO_TARGET_DIR=$build/driver-baseline-target \
  cargo build --release --quiet --manifest-path "$here/driver-baseline/Cargo.toml"
cp "$build/driver-baseline-target/release/driver-baseline" "$build/driver-baseline"
cp "$root/target/c/me_elector" "$build/me_elector"

# Bindings: a binding that cannot be built is reported as "not measured: <why>".
unavailable() { echo "$2" > "$build/unavailable-$1.txt"; echo "  $1: not measured: $2"; }
if [ ! -f "$root/bindings/go/go.mod" ]; then
  unavailable go "bindings/go is not there"
elif ! command -v go >/dev/null; then
  unavailable go "no Go toolchain"
elif ! (cd "$here/go" && CGO_ENABLED=1 go build -o "$build/me_bench_pairs_go" . ) > "$build/go-build.log" 2>&1; then
  unavailable go "the Go bench program does not build: $(tail -n 1 "$build/go-build.log")"
fi
if [ ! -f "$root/bindings/cpp/include/mongoelector.hpp" ]; then
  unavailable cpp "bindings/cpp is not there"
elif ! c++ -std=c++17 -O2 -Wall -Wextra -Werror -I"$root/bindings/cpp/include" -I"$root/include" \
    "$here/cpp/pairs.cpp" -o "$build/me_bench_pairs_cpp" -L"$root/target/release" \
    -Wl,-rpath,"$root/target/release" -lmongoelector > "$build/cpp-build.log" 2>&1; then
  unavailable cpp "the C++ bench program does not build: $(grep -m1 error "$build/cpp-build.log" || tail -n 1 "$build/cpp-build.log")"
fi
if ! (cd "$root/bindings/python" 2>/dev/null && python3 -c "import mongoelector") > "$build/python-import.log" 2>&1; then
  unavailable python "the Python binding does not import: $(tail -n 1 "$build/python-import.log")"
fi

# The original package (mongoelector 1.0.2 from PyPI) in its own venv, reused if
# present; its pymongo also counts documents for the storage rows.
seed_venv=$build/seed-venv
if [ ! -x "$seed_venv/bin/python" ] || ! "$seed_venv/bin/python" -c "import mongoelector, pymongo" 2>/dev/null; then
  echo "== installing mongoelector==1.0.2 from PyPI into $seed_venv"
  if ! { python3 -m venv "$seed_venv" && timeout 600 "$seed_venv/bin/python" -m pip install --quiet \
      "mongoelector==1.0.2"; } > "$build/seed-install.log" 2>&1; then
    unavailable seed "the original package could not be installed: $(tail -n 1 "$build/seed-install.log")"
  fi
fi

stop_server=false
if [ -z "${MONGOELECTOR_TEST_URI:-}" ]; then
  export MONGOELECTOR_SERVER_STATE=${MONGOELECTOR_SERVER_STATE:-${TMPDIR:-/tmp}/me-state-bench-$$}
  uri=$("$root/scripts/test-server" start)
  stop_server=true
else
  uri=$MONGOELECTOR_TEST_URI
fi
cleanup() { if $stop_server; then "$root/scripts/test-server" stop >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
echo "== benchmarks against $(echo "${uri%%\?*}" | sed -E "s#//[^@/]*@#//#") (a few minutes)"
python3 "$here/bench.py" --uri "$uri" --build "$build" --out "$root/BENCHMARKS.md"
