import os
import re
import subprocess
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ROOT, log  # noqa: E402

SOAK = os.environ.get("MONGOELECTOR_SOAK") == "1"


@pytest.fixture(scope="session")
def uri():
    u = os.environ.get("MONGOELECTOR_TEST_URI")
    if u:
        yield u
        return
    # Standalone run: a server of our own for the session.
    env = dict(os.environ, MONGOELECTOR_SERVER_STATE=f"/tmp/me-state-reliability-{os.getpid()}")
    u = subprocess.run([os.path.join(ROOT, "scripts", "test-server"), "start"], env=env,
                       capture_output=True, text=True, check=True).stdout.strip()
    yield u
    subprocess.run([os.path.join(ROOT, "scripts", "test-server"), "stop"], env=env)


@pytest.fixture(scope="session")
def mongo(uri):
    import pymongo
    c = pymongo.MongoClient(uri)
    yield c
    c.close()


@pytest.fixture(scope="session")
def is_ferretdb(mongo):
    return "ferretdbVersion" in mongo.admin.command("buildInfo")


@pytest.fixture
def dbname(request, mongo):
    name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:40]
    db = f"rel_{name}_{uuid.uuid4().hex[:8]}"
    yield db
    try:
        mongo.drop_database(db)
    except Exception as e:  # noqa: BLE001
        log(f"drop {db}: {e}")


def pytest_report_header(config):
    return f"mongoelector reliability suite (soak={'on' if SOAK else 'off'})"
