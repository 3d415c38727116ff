"""Toxiproxy (github.com/Shopify/toxiproxy/v2, pinned in tools/toxiproxy) between
the library and the server for the bad-network tests: latency each way,
connections cut, TCP resets, and a black hole. Loopback only.

    p = Toxiproxy(("127.0.0.1", server_port)).start()
    p.port                    # clients connect to 127.0.0.1:p.port
    p.set(latency=0.8)        # every chunk is delivered 0.8 s late, each way
    p.set(rst=True)           # every connection that sends data is reset (RST)
    p.set(blackhole=True)     # accept, deliver nothing, never close
    p.set()                   # back to normal
    p.reset_all()             # close every open connection now
    p.stop()
"""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from harness import BUILD, ROOT, end_process, free_port

TOOL = "github.com/Shopify/toxiproxy/v2/cmd/server"
STREAMS = ("upstream", "downstream")


def server_path():
    """Builds toxiproxy-server from tools/toxiproxy (the go tool caches the build)."""
    out = os.path.join(BUILD, "toxiproxy-server")
    os.makedirs(BUILD, exist_ok=True)
    subprocess.run(["go", "build", "-trimpath", "-o", out, TOOL], cwd=os.path.join(ROOT, "tools", "toxiproxy"),
                   check=True, timeout=600)
    return out


class Toxiproxy:
    def __init__(self, upstream, host="127.0.0.1"):
        assert host.startswith("127."), "loopback only"
        self.upstream = f"{upstream[0]}:{upstream[1]}"
        self.host = host
        self.port = None
        self.api = None
        self.proc = None
        self.toxics = []

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.api + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
        return json.loads(text) if text[:1] in (b"{", b"[") else text.decode()  # /version is plain text

    def start(self):
        api_port = free_port()
        self.api = f"http://{self.host}:{api_port}"
        self.proc = subprocess.Popen([server_path(), "-host", self.host, "-port", str(api_port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 30
        while True:
            try:
                self._call("GET", "/version")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("toxiproxy-server did not start")
                time.sleep(0.05)
        made = self._call("POST", "/proxies", {"name": "mongo", "listen": f"{self.host}:0",
                                               "upstream": self.upstream, "enabled": True})
        self.port = int(made["listen"].rsplit(":", 1)[1])
        return self

    def set(self, latency=0.0, blackhole=False, rst=False):
        """Replaces the active faults: `latency` seconds each way, `rst` resets
        every connection as soon as it carries data, `blackhole` drops all data
        and never closes."""
        for name in self.toxics:
            self._call("DELETE", f"/proxies/mongo/toxics/{name}")
        self.toxics = []
        wanted = []
        if latency > 0:
            wanted.append(("latency", {"latency": int(latency * 1000), "jitter": 0}))
        if rst:
            wanted.append(("reset_peer", {"timeout": 0}))
        if blackhole:
            wanted.append(("timeout", {"timeout": 0}))
        for kind, attributes in wanted:
            for stream in STREAMS:
                name = f"{kind}_{stream}"
                self._call("POST", "/proxies/mongo/toxics",
                           {"name": name, "type": kind, "stream": stream, "toxicity": 1.0,
                            "attributes": attributes})
                self.toxics.append(name)

    def reset_all(self):
        """Closes every open connection (disabling the proxy drops them all)."""
        self._call("POST", "/proxies/mongo", {"enabled": False})
        self._call("POST", "/proxies/mongo", {"enabled": True})

    def stop(self):
        end_process(self.proc)
        self.proc = None
