"""This binding's README quick start runs as written."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import PY_ROOT


def test_quick_start_runs_as_written(uri, dbname, mongo_client):
    text = (PY_ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", quick, re.S).group(1)
    env = {"MONGO_URI": uri, "PYTHONPATH": str(PY_ROOT), "PATH": "/usr/bin:/bin"}
    import os

    env.update({k: v for k, v in os.environ.items() if k.startswith(("MONGOELECTOR_", "LD_", "HOME"))})
    mongo_client.drop_database("quickstart")
    try:
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    finally:
        mongo_client.drop_database("quickstart")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("holding nightly-report fence ")
    assert out[1].startswith("someone else waits: ")
    assert out[2] == "free again: True"
    assert out[3] == "I am the leader now"
    assert out[4].startswith("True {") and "'host'" in out[4] and "'fence'" in out[4]
    assert out[5] == "No longer the leader"
