"""5. Scenarios meaningful only on a real MongoDB."""

import os
import time

import pytest

from harness import Proc, log, mix, programs
import melib
from melib import lib


def test_takeover_race_single_winner_per_generation(uri, dbname, mongo, is_ferretdb, tmp_path):
    """Property (MongoDB only): 12 contender processes of mixed languages race
    to take over one expired lock at once. Exactly one wins the next generation
    (one document per generation, fences of successive holds distinct and
    increasing), and no two holds overlap."""
    if is_ferretdb:
        msg = ("skipped on FerretDB (buildInfo has ferretdbVersion): the takeover race is meant to "
               "run against MongoDB's storage engine; set MONGOELECTOR_TEST_URI to a MongoDB to run it")
        print(msg)
        pytest.skip(msg)
    progs = programs()
    client = melib.client_new(uri)
    lk = melib.locker_new(client, dbname, "race", ttl=1.0)
    melib.check("me_locker_acquire", melib.acquire(lk, blocking=False))
    lib().me_client_free(client)  # keeps the lock document; the holder simply stops renewing
    time.sleep(1.2)
    logfile = str(tmp_path / "holds.log")
    procs = [Proc(f"{lang}#{i}", progs[lang]["contender"] + [uri, dbname, "race", "3", "20", logfile],
                  str(tmp_path / f"c{i}.out")) for i, lang in enumerate(mix(progs, 12))]
    for p in procs:
        assert p.p.wait(120) == 0, p.stderr()
    from harness import hold_overlaps
    holds = [tuple([l[0], int(l[1])] + [int(x) for x in l[2:]]) for l in
             (line.split() for line in open(logfile).read().splitlines())]
    assert not hold_overlaps(holds)
    docs = list(mongo[dbname]["mongolocker"].find({"key": "race"}))
    gens = [d["gen"] for d in docs]
    assert len(gens) == len(set(gens)), f"two documents for one generation: {sorted(gens)}"
    fences = sorted(h[2] for h in holds)
    assert len(fences) == len(set(fences)) == 36, f"fences {fences}"
    lib().me_locker_free(lk)
    log(f"takeover race: {len(docs)} generations, {len(holds)} holds")
