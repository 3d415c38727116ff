#!/usr/bin/env bash
# Runs the Python binding's tests against MONGOELECTOR_TEST_URI (set by `make test`), in place
# on target/release, then the packaging test (test_packaging.sh) on a pip-built wheel.
# Installs pytest, pymongo, prometheus_client and mypy with pip when they are missing. The library must be built.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-python3}

if [ -z "${MONGOELECTOR_TEST_URI:-}" ]; then
  echo "bindings/python/test.sh: MONGOELECTOR_TEST_URI is not set (run it through \`make test\`)" >&2
  exit 2
fi
if [ ! -e "$root/target/release/libmongoelector.so" ] && [ -z "${MONGOELECTOR_LIBRARY:-}" ]; then
  echo "bindings/python/test.sh: target/release/libmongoelector.so is missing: run \`cargo build --release\`" >&2
  exit 2
fi

if ! "$py" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
  echo "bindings/python/test.sh: Python >= 3.10 is required ($py)" >&2
  exit 2
fi
if ! "$py" -c 'import pytest, pymongo' 2>/dev/null; then
  echo "installing pytest and pymongo..." >&2
  "$py" -m pip install --quiet 'pytest>=7' 'pymongo>=4.13,<5.0'
fi
# The Prometheus collector's test and the README's typing test (mypy --strict).
if ! "$py" -c 'import prometheus_client, mypy' 2>/dev/null; then
  echo "installing prometheus_client and mypy..." >&2
  "$py" -m pip install --quiet 'prometheus_client>=0.17' 'mypy>=1.10'
fi

(cd "$here" && "$py" -m pytest -q -p no:cacheprovider tests "$@")
"$here/test_packaging.sh"
