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


def _run_block(uri, heading, n=0):
    text = (PY_ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text.split(heading, 1)[1], re.S)[n]
    import os

    env = {"MONGO_URI": uri, "PYTHONPATH": str(PY_ROOT), "PATH": "/usr/bin:/bin"}
    env.update({k: v for k, v in os.environ.items() if k.startswith(("MONGOELECTOR_", "LD_", "HOME"))})
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_the_job_that_stops_on_loss_runs_as_written(uri, mongo_client):
    mongo_client.drop_database("jobs")
    try:
        out = _run_block(uri, "## Long work")
    finally:
        mongo_client.drop_database("jobs")
    assert len(out) == 1 and out[0].startswith("done under fence ") and out[0].endswith("held: True"), out


def test_the_leaders_work_example_runs_as_written(uri, mongo_client):
    mongo_client.drop_database("jobs")
    try:
        out = _run_block(uri, "## Observing an election")
    finally:
        mongo_client.drop_database("jobs")
    assert out[0].startswith("leader now: {"), out
    assert any(line.startswith("worked as leader under fence ") for line in out), out
    assert "(True, 'leading') 1" in out, out
