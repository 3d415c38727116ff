"""An elector inside the test process (through ctypes), sampling is_leader."""

import ctypes as C
import threading
import time

import melib
from melib import lib, mono_ns


class InProcElector:
    def __init__(self, uri, db, key, ttl):
        self.events = []  # (kind, mono_ns)
        self.samples = []  # (mono_ns, is_leader)
        self._cb_leader = melib.CALLBACK(lambda _: self.events.append(("leader", mono_ns())))
        self._cb_loss = melib.CALLBACK(lambda _: self.events.append(("loss", mono_ns())))
        opts = melib.ElectorOptions()
        lib().me_elector_options_init(C.byref(opts))
        opts.ttl = ttl
        opts.on_leader = self._cb_leader
        opts.on_leader_loss = self._cb_loss
        self.client = melib.client_new(uri)
        self.h = C.c_void_p()
        melib.check("me_elector_new", melib.call("me_elector_new", self.client, melib.b(db), melib.b(key),
                                                          C.byref(opts), C.byref(self.h)))
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def start(self):
        melib.check("me_elector_start", melib.call("me_elector_start", self.h, False))
        self._sampler.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.samples.append((mono_ns(), lib().me_elector_is_leader(self.h)))
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._sampler.join(5)
        st = melib.call("me_elector_close", self.h)  # stops, releases, fires the final loss
        lib().me_elector_free(self.h)
        lib().me_client_free(self.client)
        return st
