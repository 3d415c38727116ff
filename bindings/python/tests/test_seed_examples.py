"""The seed's README examples, executed unchanged.

The code blocks below are copied verbatim from the seed's README (the
original pure-Python mongoelector). They run in order in one namespace, as a
reader would paste them. Only the environment differs: `MongoClient()`
connects to the test server (MONGOELECTOR_TEST_URI) and its `my_database`
is this test's own database.
"""

from __future__ import annotations

import io
import sys
import threading
import time

import pytest

from conftest import wait_for

# ---- the seed's README examples, verbatim ----

LOCK_QUICK_START = '''
from pymongo import MongoClient
from mongoelector import MongoLocker

db = MongoClient().my_database
lock = MongoLocker("my-resource", db, ttl=30)

lock.acquire()
try:
    # do work while holding the lock
    pass
finally:
    lock.release()
'''

LOCK_CONTEXT_MANAGER = '''
with MongoLocker("my-resource", db, ttl=30) as lock:
    # lock is acquired automatically
    pass
# lock is released on exit
'''

LOCK_NON_BLOCKING = '''
from mongoelector import LockExists

lock = MongoLocker("my-resource", db, ttl=30)
try:
    lock.acquire(blocking=False)
except LockExists:
    print("Lock is already held")
'''

LOCK_TIMEOUT = '''
from mongoelector import AcquireTimeout

lock = MongoLocker("my-resource", db, ttl=30)
try:
    lock.acquire(timeout=5)
except AcquireTimeout:
    print("Could not acquire lock within 5 seconds")
'''

ELECTION = '''
from pymongo import MongoClient
from mongoelector import MongoLeaderElector

db = MongoClient().my_database

def became_leader():
    print("I am the leader now")

def lost_leadership():
    print("No longer the leader")

elector = MongoLeaderElector(
    "my-service",
    db,
    ttl=15,
    on_leader=became_leader,
    on_leader_loss=lost_leadership,
)
elector.start()
'''

ELECTION_CONTEXT_MANAGER = '''
from time import sleep

with MongoLeaderElector("my-service", db, ttl=15, on_leader=became_leader) as elector:
    while elector.running:
        sleep(1)
# elector is stopped and leadership released on exit
'''

CLUSTER_STATE = '''
print(f"Is leader: {elector.is_leader}")
print(f"Leader exists: {elector.leader_exists}")
print(f"Node status: {elector.node_status}")
print(f"Cluster detail: {elector.cluster_detail}")
'''

# ---- the environment ----


@pytest.fixture
def test_server_as_default(monkeypatch, uri, dbname):
    """MongoClient() -> the test server; client.my_database -> this test's database."""
    import pymongo

    real = pymongo.MongoClient

    class TestServerClient(real):
        def __init__(self, host=None, *args, **kwargs):
            super().__init__(uri if host is None else host, *args, **kwargs)

        def __getattr__(self, name):
            if name == "my_database":
                return self[dbname]
            return super().__getattr__(name)

    monkeypatch.setattr(pymongo, "MongoClient", TestServerClient)
    yield dbname


class Output:
    """stdout of the examples, including prints from the elector's thread."""

    def __init__(self):
        self.buf = io.StringIO()
        self.lock = threading.Lock()

    def write(self, s):
        with self.lock:
            return self.buf.write(s)

    def flush(self):
        pass

    def text(self):
        with self.lock:
            return self.buf.getvalue()


def run(block, ns, out):
    if sys.stdout is not out:
        out.saved, sys.stdout = sys.stdout, out
    exec(compile(block, "<seed README>", "exec"), ns)


@pytest.fixture
def out():
    """Captures print() from any thread (the elector's callbacks too) for the whole test."""
    o = Output()
    yield o
    if sys.stdout is o:
        sys.stdout = o.saved


def test_lock_examples_on_a_free_lock(test_server_as_default, mongo_client, out):
    ns = {}
    for block in (LOCK_QUICK_START, LOCK_CONTEXT_MANAGER, LOCK_NON_BLOCKING, LOCK_TIMEOUT):
        run(block, ns, out)
    # As in the seed, rebinding `lock` does not release the non-blocking
    # example's lock (a collected locker keeps its lock until its ttl), so the
    # timeout example finds it held.
    assert out.text() == "Could not acquire lock within 5 seconds\n"
    assert ns["db"].name == test_server_as_default
    assert ns["lock"].locked() and not ns["lock"].owned()


def test_lock_examples_on_a_held_lock(test_server_as_default, mongo_client, out):
    from mongoelector import MongoLocker

    holder = MongoLocker("my-resource", mongo_client[test_server_as_default], ttl=60)
    holder.acquire()
    ns = {}
    run("from pymongo import MongoClient\nfrom mongoelector import MongoLocker\ndb = MongoClient().my_database\n", ns, out)
    t0 = time.monotonic()
    run(LOCK_NON_BLOCKING, ns, out)
    run(LOCK_TIMEOUT, ns, out)
    assert out.text() == "Lock is already held\nCould not acquire lock within 5 seconds\n"
    assert time.monotonic() - t0 >= 4.5
    assert holder.owned()


def test_election_examples(test_server_as_default, out):
    ns = {}
    run(ELECTION, ns, out)
    first = ns["elector"]
    wait_for(lambda: "I am the leader now" in out.text(), what="on_leader of the first example")
    assert first.is_leader and first.running

    # The context-manager example loops while the elector runs; stop it from
    # outside once it has started, as another part of a program would.
    stopped = threading.Event()

    def stopper():
        wait_for(lambda: ns.get("elector") is not first and ns["elector"].running, what="second elector")
        time.sleep(0.5)
        ns["elector"].stop()
        stopped.set()

    t = threading.Thread(target=stopper)
    t.start()
    run(ELECTION_CONTEXT_MANAGER, ns, out)
    t.join(60)
    assert stopped.is_set()
    second = ns["elector"]
    assert second is not first and not second.running and not second.is_leader

    run(CLUSTER_STATE, ns, out)
    text = out.text()
    assert "Is leader: False" in text and "Leader exists: True" in text  # the first elector still leads
    assert "Node status: {" in text and "Cluster detail: {" in text
    assert f"'uuid': '{first.mlock.uuid}'" in text  # the leader shown in the cluster detail

    first.stop()
    wait_for(lambda: "No longer the leader" in out.text(), what="on_leader_loss of the first example")
    assert text.count("I am the leader now") == 1
