#!/usr/bin/env bash
# Reliability and security suite (issue 8): python3 -m pytest -q tests/reliability.
# Needs MONGOELECTOR_TEST_URI (make test sets it; without it the suite starts its
# own server) and the library built (cargo build --release).
#   MONGOELECTOR_SOAK=1        long variants (200 acquisitions per contender, 10 min chaos)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
export MONGOELECTOR_ROOT="$root"
if ! python3 -c 'import pytest, pymongo' 2>/dev/null; then
  python3 -m pip install --quiet pytest pymongo || python3 -m pip install --quiet --user pytest pymongo
fi
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
[ -f target/release/libmongoelector.so ] || cargo build --release
[ -x target/c/me_contender ] && [ -x target/c/me_elector ] || make -C tests/c programs
python3 -m pytest -q -rs -p no:cacheprovider tests/reliability "$@"
