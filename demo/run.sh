#!/usr/bin/env bash
# make demo: build the library and every language's demo programs, start the
# embedded test server, run demo/demo.py, stop the server (even on failure).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "building the demo programs (C, Go, C++, Python needs none)..."
make -s -C tests/c programs
(cd bindings/go && go build -o "$root/target/demo/go/" ./cmd/elector ./cmd/contender)
cmake -S bindings/cpp -B target/demo/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build target/demo/cpp --target me_elector_cpp me_contender_cpp >/dev/null
python3 -c "import pymongo" 2>/dev/null || python3 -m pip install -q "pymongo>=4.13,<5"

export MONGOELECTOR_SERVER_STATE="$root/target/demo-server"
uri=$(scripts/test-server start)
trap 'scripts/test-server stop' EXIT
python3 demo/demo.py "$uri"
