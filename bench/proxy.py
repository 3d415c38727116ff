#!/usr/bin/env python3
"""A counting TCP proxy for the MongoDB wire protocol (benchmark of database load).

    proxy.py UPSTREAM_HOST UPSTREAM_PORT LOGFILE

Listens on 127.0.0.1 (a free port, printed on stdout as "port N"), forwards
every connection to the upstream server, and appends one line per command a
client sends to LOGFILE: "<CLOCK_MONOTONIC ns> <connection> <command name>".
The command name is the first key of an OP_MSG body (or of a legacy OP_QUERY),
so it counts what any driver in any language sends. Runs until killed."""

import asyncio
import struct
import sys
import time

OP_QUERY, OP_COMPRESSED, OP_MSG = 2004, 2012, 2013


def first_key(doc: bytes, at: int) -> str:
    """The first element name of the BSON document starting at `at`."""
    if len(doc) < at + 6 or doc[at + 4] == 0:
        return "?"
    end = doc.index(b"\0", at + 5)
    return doc[at + 5:end].decode("utf-8", "replace")


def command_name(msg: bytes) -> str:
    op = struct.unpack_from("<i", msg, 12)[0]
    try:
        if op == OP_MSG:
            at = 20  # header (16) + flagBits (4)
            while at < len(msg):
                kind = msg[at]
                if kind == 0:
                    return first_key(msg, at + 1)
                size = struct.unpack_from("<i", msg, at + 1)[0]
                at += 1 + size
            return "?"
        if op == OP_QUERY:
            at = msg.index(b"\0", 20) + 1 + 8  # flags, collection name, skip, return
            return first_key(msg, at)
        if op == OP_COMPRESSED:
            return "compressed"
    except (ValueError, IndexError, struct.error):
        pass
    return f"op{op}"


class Counter:
    def __init__(self, path: str):
        self.out = open(path, "a", buffering=1)
        self.conns = 0

    def log(self, conn: int, name: str) -> None:
        self.out.write(f"{time.clock_gettime_ns(time.CLOCK_MONOTONIC)} {conn} {name}\n")


async def pipe_counting(reader, writer, counter: Counter, conn: int) -> None:
    buf = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            buf += data
            while len(buf) >= 16:
                length = struct.unpack_from("<i", buf, 0)[0]
                if len(buf) < length:
                    break
                counter.log(conn, command_name(buf[:length]))
                buf = buf[length:]
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def pipe(reader, writer) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(host: str, port: int, path: str) -> None:
    counter = Counter(path)

    async def handle(creader, cwriter):
        counter.conns += 1
        conn = counter.conns
        try:
            sreader, swriter = await asyncio.open_connection(host, port)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe_counting(creader, swriter, counter, conn), pipe(sreader, cwriter))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
