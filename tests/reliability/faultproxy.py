"""A small fault-injecting TCP proxy (asyncio, loopback only) for the bad-network
tests: added latency per direction, connection resets, and a black hole.

    p = FaultProxy(("127.0.0.1", server_port)).start()
    p.port                    # clients connect to 127.0.0.1:p.port
    p.set(latency=0.8)        # every chunk is delivered 0.8 s late, each way
    p.reset_all()             # RST every open connection
    p.set(blackhole=True)     # accept and read, deliver nothing, never close
    p.set()                   # back to normal
    p.stop()
"""

import asyncio
import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, upstream, host="127.0.0.1"):
        assert host.startswith("127."), "loopback only"
        self.upstream = upstream
        self.host = host
        self.port = None
        self.latency = 0.0
        self.blackhole = False
        self.conns = set()  # (client_writer, server_writer)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None
        self.accepted = 0
        self.resets = 0

    def start(self):
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._listen(), self.loop)
        fut.result(10)
        return self

    async def _listen(self):
        self.server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def set(self, latency=0.0, blackhole=False):
        self.latency = latency
        self.blackhole = blackhole

    def reset_all(self):
        """Closes every open connection with an RST (SO_LINGER 0)."""
        def do():
            for pair in list(self.conns):
                for w in pair:
                    _rst(w)
            self.resets += len(self.conns)
            self.conns.clear()
        self.loop.call_soon_threadsafe(do)

    def stop(self):
        def do():
            if self.server:
                self.server.close()
            for pair in list(self.conns):
                for w in pair:
                    _rst(w)
        self.loop.call_soon_threadsafe(do)
        time.sleep(0.1)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _handle(self, creader, cwriter):
        self.accepted += 1
        try:
            sreader, swriter = await asyncio.open_connection(*self.upstream)
        except OSError:
            _rst(cwriter)
            return
        pair = (cwriter, swriter)
        self.conns.add(pair)
        await asyncio.gather(self._pipe(creader, swriter, pair), self._pipe(sreader, cwriter, pair),
                             return_exceptions=True)
        self.conns.discard(pair)

    async def _pipe(self, reader, writer, pair):
        # Chunks are delivered in order, each `latency` after it was read.
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                delay = due - self.loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                while self.blackhole and pair in self.conns:
                    await asyncio.sleep(0.05)
                if pair not in self.conns:
                    break
                writer.write(data)
                await writer.drain()
            try:
                writer.close()
            except Exception:
                pass

        task = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await queue.put((self.loop.time() + self.latency, data))
        except (ConnectionError, OSError):
            pass
        finally:
            await queue.put((0, None))
            try:
                await task
            except (ConnectionError, OSError):
                pass
            self.conns.discard(pair)
            for w in pair:
                _rst(w)


def _rst(writer):
    try:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    except Exception:
        pass
