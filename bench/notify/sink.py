"""The benchmark's receiver: answers every POST with 200 and counts posts and distinct keys.

    python bench/notify/sink.py PORT

Plain asyncio HTTP/1.1 with keep-alive, so the receiver costs as little as possible and the
same for both runs. `GET /stats/<path>` answers {"posts": n, "keys": distinct Idempotency-Keys}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict

POSTS: dict[str, int] = defaultdict(int)
KEYS: dict[str, set[str]] = defaultdict(set)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while request_line := await reader.readline():
            method, path, _ = request_line.decode().split(" ", 2)
            length, key = 0, ""
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "idempotency-key":
                    key = value.strip()
            await reader.readexactly(length)
            body = b""
            if method == "GET" and path.startswith("/stats/"):
                target = "/" + path.removeprefix("/stats/")
                body = json.dumps({"posts": POSTS[target], "keys": len(KEYS[target])}).encode()
            else:
                POSTS[path] += 1
                KEYS[path].add(key)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
