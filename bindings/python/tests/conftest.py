"""Shared fixtures: the test server (MONGOELECTOR_TEST_URI), one database per test."""

from __future__ import annotations

import os
import re
import sys
import uuid
from pathlib import Path

import pytest

PY_ROOT = Path(__file__).resolve().parents[1]  # bindings/python
REPO = PY_ROOT.parents[1]
# Use the package in place unless told to test the installed one.
if not os.environ.get("MONGOELECTOR_TEST_INSTALLED"):
    sys.path.insert(0, str(PY_ROOT))


@pytest.fixture(scope="session")
def uri() -> str:
    u = os.environ.get("MONGOELECTOR_TEST_URI")
    if not u:
        pytest.fail("MONGOELECTOR_TEST_URI is not set: run bindings/python/test.sh or `make test`")
    return u


@pytest.fixture(scope="session")
def mongo_client(uri):
    from pymongo import MongoClient

    c = MongoClient(uri)
    yield c
    c.close()


@pytest.fixture(scope="session")
def is_ferretdb(mongo_client) -> bool:
    return "ferretdbVersion" in mongo_client.admin.command("buildInfo")


@pytest.fixture
def dbname(request, mongo_client) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:40]
    name = f"py_{base}_{uuid.uuid4().hex[:8]}"
    yield name
    try:
        mongo_client.drop_database(name)
    except Exception:
        pass


@pytest.fixture
def db(mongo_client, dbname):
    """A pymongo Database, as the seed takes."""
    return mongo_client[dbname]


@pytest.fixture
def dbt(uri, dbname):
    """The (uri, db_name) form."""
    return (uri, dbname)


def wait_for(pred, timeout=30.0, interval=0.05, what="condition"):
    """Liveness helper: polls pred() until true; generous bound, fails loudly."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
