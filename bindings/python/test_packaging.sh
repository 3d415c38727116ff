#!/usr/bin/env bash
# Packaging test (run by test.sh): builds the wheel with pip from the checkout, installs it
# into a fresh venv and runs a lock and an elector cycle against MONGOELECTOR_TEST_URI with
# nothing but the installed package (no checkout on sys.path, cwd outside the repository,
# no environment variables); checks the wheel's tag, the sdist's Rust sources, and that
# mypy sees the installed package as typed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-python3}
uri=${MONGOELECTOR_TEST_URI:?set MONGOELECTOR_TEST_URI (run it through \`make test\`)}

tmp=$(mktemp -d /tmp/mongoelector-pkg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The crate's own target/ (cargo's default too), whatever the caller set: pip's build then
# shares `cargo build --release`'s output and, after `make`, compiles nothing.
export CARGO_TARGET_DIR="$root/target"
export PIP_DISABLE_PIP_VERSION_CHECK=1
bounded() { timeout --kill-after=10 "$@"; }
fail() { echo "python packaging: $*" >&2; exit 1; }

echo "python packaging: pip wheel ./bindings/python" >&2
bounded 1200 "$py" -m pip wheel --no-deps -w "$tmp/dist" "$here" > "$tmp/wheel.log" 2>&1 \
  || { cat "$tmp/wheel.log" >&2; fail "pip wheel failed"; }
# Platform-specific, for any Python 3: ctypes loads the library, no CPython extension does.
plat=$(bounded 60 "$py" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')
whl=$(ls "$tmp"/dist/mongoelector-*.whl)
[[ $(basename "$whl") == mongoelector-*-py3-none-"$plat".whl ]] || fail "wrong wheel tag: $(basename "$whl")"
bounded 60 "$py" - "$whl" <<'EOF' || fail "the wheel's contents are wrong"
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
missing = {"mongoelector/libmongoelector.so", "mongoelector/py.typed", "mongoelector/_ffi.py"} - names
assert not missing, f"missing from the wheel: {sorted(missing)}"
EOF

echo "python packaging: sdist" >&2
bounded 300 "$py" -m venv "$tmp/tools"
bounded 300 "$tmp/tools/bin/pip" install --quiet 'build>=1' 'mypy>=1.10' || fail "cannot install build and mypy"
bounded 600 "$tmp/tools/bin/python" -m build --sdist --outdir "$tmp/sdist" "$here" > "$tmp/sdist.log" 2>&1 \
  || { cat "$tmp/sdist.log" >&2; fail "building the sdist failed"; }
# Every file the crate's build reads, as the checkout tracks them, must be in the sdist's rust/.
bounded 60 git -C "$root" ls-files -- Cargo.toml Cargo.lock build.rs cbindgen.toml src include > "$tmp/crate-files"
bounded 60 "$py" - "$tmp"/sdist/mongoelector-*.tar.gz "$tmp/crate-files" <<'EOF' || fail "the sdist lacks the Rust sources"
import sys, tarfile
names = {n.split("/", 1)[1] for n in tarfile.open(sys.argv[1]).getnames() if "/" in n}
crate = {"rust/" + line.strip() for line in open(sys.argv[2]) if line.strip()}
assert "rust/src/lib.rs" in crate, "git ls-files listed no crate sources"
missing = (crate | {"setup.py", "pyproject.toml", "mongoelector/py.typed"}) - names
assert not missing, f"missing from the sdist: {sorted(missing)}"
EOF

echo "python packaging: install into a fresh venv and run" >&2
bounded 300 "$py" -m venv "$tmp/venv"
# --no-index: the wheel needs nothing else.
bounded 300 "$tmp/venv/bin/pip" install --quiet --no-index "$whl" || fail "installing the wheel failed"
cat > "$tmp/smoke.py" <<'EOF'
import sys
import sysconfig
import threading
import uuid
from pathlib import Path

import mongoelector
from mongoelector import LockExists, MongoLeaderElector, MongoLocker

pkg = Path(sysconfig.get_paths()["platlib"]).resolve() / "mongoelector"
assert Path(mongoelector.__file__).resolve().parent == pkg, mongoelector.__file__
assert Path(mongoelector.library_path).resolve() == pkg / "libmongoelector.so", mongoelector.library_path

db = (sys.argv[1], "mongoelector_packaging")
key = f"packaging-{uuid.uuid4().hex}"

lock = MongoLocker(key, db, ttl=30)
assert lock.acquire(blocking=False) is True
assert lock.owned() and lock.locked() and lock.fence > 0
try:
    MongoLocker(key, db, ttl=30).acquire(blocking=False)
    raise AssertionError("a second locker acquired a held lock")
except LockExists:
    pass
lock.release()
assert not lock.locked()

leading, lost = threading.Event(), threading.Event()
elector = MongoLeaderElector(key, db, ttl=5, on_leader=leading.set, on_leader_loss=lost.set)
elector.start()
assert leading.wait(30), "the elector did not lead within 30 s"
assert elector.is_leader
elector.stop()
assert not elector.is_leader and lost.is_set()
print("python packaging: lock and elector cycles ok with", mongoelector.library_path)
EOF
# -I and env -i: only the venv's site-packages, whatever the caller's PYTHONPATH,
# MONGOELECTOR_LIBRARY or MONGOELECTOR_ROOT.
(cd "$tmp" && bounded 120 env -i PATH=/usr/bin:/bin HOME="$tmp" "$tmp/venv/bin/python" -I smoke.py "$uri") \
  || fail "the installed package failed its lock and elector cycles"

# Without the installed py.typed mypy reports the package as untyped (import-untyped).
echo 'import mongoelector' > "$tmp/typed.py"
(cd "$tmp" && bounded 300 env -i PATH=/usr/bin:/bin HOME="$tmp" "$tmp/tools/bin/mypy" --no-incremental \
  --python-executable "$tmp/venv/bin/python" typed.py) || fail "mypy does not see the installed package as typed"
echo "python packaging: ok" >&2
