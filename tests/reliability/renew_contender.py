"""A contender for test_autorenew.py, over ctypes (melib): acquires one key N times with
auto_renew on and holds it for a random time (some holds last several ttls, so only the
background renewals keep them), watching the holding's lease token. Each hold is appended
to LOGFILE as one line (one write, O_APPEND):

    pid fence start_ns end_ns lost renewals

start_ns: after the acquire returned; end_ns: before the release was sent, or when the lease
token reported the holding lost (CLOCK_MONOTONIC). lost: 1 when the token was cancelled
before the hold was over. The process bounds itself with alarm(DEADLINE).

usage: renew_contender.py URI DB KEY N TTL LOGFILE SEED [DEADLINE_S]"""

import os
import random
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import melib  # noqa: E402
from melib import lib, mono_ns  # noqa: E402


def main():
    uri, db, key, n, ttl, logfile, seed = sys.argv[1:8]
    deadline = int(sys.argv[8]) if len(sys.argv) > 8 else 300
    signal.alarm(deadline)  # SIGALRM ends a hung contender
    n, ttl = int(n), float(ttl)
    rnd = random.Random(int(seed))
    client = melib.client_new(uri)
    # maxoffset: the holder's lease is ttl - 2 x maxoffset; timeparanoid off (one host)
    locker = melib.locker_new(client, db, key, ttl=ttl, timeparanoid=False, auto_renew=True,
                              maxoffset=ttl / 8)
    fd = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pid = os.getpid()
    for i in range(n):
        st = melib.acquire(locker, blocking=True, timeout=120, step=0.01)
        melib.check("me_locker_acquire", st)
        start = mono_ns()
        token, fence = melib.lease_token(locker)
        assert token is not None and fence == lib().me_locker_fence(locker), "a holding has its token"
        before = melib.stats(locker)["renewals"]
        # Mostly short holds, one in five for 1 to 3 ttls.
        hold = rnd.uniform(1.0, 3.0) * ttl if rnd.random() < 0.2 else rnd.uniform(0.0, 0.05)
        lost = lib().me_cancel_wait(token, hold)
        if lost:
            end = mono_ns()  # the holding ended by itself: this process stops acting as holder
        else:
            assert lib().me_locker_held(locker), "held while the lease token is live"
            end = mono_ns()
        renewals = melib.stats(locker)["renewals"] - before
        melib.check("me_locker_release", melib.release(locker))
        assert lib().me_cancel_is_cancelled(token), "a release cancels the lease token"
        lib().me_cancel_free(token)
        os.write(fd, f"{pid} {fence} {start} {end} {int(lost)} {renewals} {hold:.3f}\n".encode())
    os.close(fd)
    melib.check("me_locker_close", melib.close(locker))
    lib().me_locker_free(locker)
    lib().me_client_free(client)


if __name__ == "__main__":
    main()
