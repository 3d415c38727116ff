#!/usr/bin/env bash
# `make install` into a temporary prefix, then build and run a consumer that
# finds the package with find_package(mongoelector) and links mongoelector::mongoelector.
set -euo pipefail
root=${MONGOELECTOR_ROOT:?}
here=$(cd "$(dirname "$0")" && pwd)
: "${MONGOELECTOR_TEST_URI:?MONGOELECTOR_TEST_URI is not set}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

echo "== make install PREFIX=$prefix"
make -C "$root" --no-print-directory install PREFIX="$prefix"

for f in include/mongoelector.h include/mongoelector.hpp lib/cmake/mongoelector/mongoelectorConfig.cmake \
         lib/cmake/mongoelector/mongoelectorConfigVersion.cmake; do
  [ -f "$prefix/$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done
ls "$prefix"/lib/libmongoelector.so* >/dev/null

echo "== consumer with find_package(mongoelector)"
cmake -S "$here/consumer" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/build"
# The consumer must load the installed library, not the in-tree one.
# (ldd's output is read whole first: `ldd | grep -q` fails under pipefail when grep exits early.)
libs=$(ldd "$tmp/build/consumer")
grep -q "$prefix/lib/libmongoelector.so" <<<"$libs" \
  || { echo "FAIL: consumer does not link the installed library"; echo "$libs"; exit 1; }
"$tmp/build/consumer" "$MONGOELECTOR_TEST_URI" "cpp_install_$$"

echo "== a version the package does not satisfy is refused"
mkdir -p "$tmp/too_new"
sed 's/find_package(mongoelector 0.2 REQUIRED)/find_package(mongoelector 99.0 REQUIRED)/' \
  "$here/consumer/CMakeLists.txt" > "$tmp/too_new/CMakeLists.txt"
cp "$here/consumer/main.cpp" "$tmp/too_new/"
if cmake -S "$tmp/too_new" -B "$tmp/build_too_new" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
  echo "FAIL: find_package(mongoelector 99.0) succeeded"; exit 1
fi

echo "== staged install (DESTDIR) of the C++ package alone"
make -C "$root/bindings/cpp" --no-print-directory install PREFIX=/opt/me DESTDIR="$tmp/stage" BUILD="$tmp/cpp-install" >/dev/null
[ -f "$tmp/stage/opt/me/include/mongoelector.hpp" ] && [ -f "$tmp/stage/opt/me/lib/cmake/mongoelector/mongoelectorConfig.cmake" ] \
  || { echo "FAIL: DESTDIR install"; find "$tmp/stage"; exit 1; }
echo "install test passed"
