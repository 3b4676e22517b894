"""`python -m bench.wsbare`: the ws-fanout baseline, a bare `websockets` server broadcasting.

It speaks just enough of the hub's /ws protocol for bench/wsclient.py: a `subscribe`
message is answered with `subscribed` and adds the connection to the audience. It listens on
a free loopback port, prints `{"port": PORT}`, then for each `publish` line on stdin sends
every subscriber one `event` message shaped and sized like the hub's (a node update), whose
`time` is the moment of sending, with `websockets.broadcast`: one frame built once and
written to every connection without yielding. No permessage-deflate; uvloop, as `hub serve`.
It ends when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.wsclient import raise_open_file_limit

BACKLOG = 2048  # as uvicorn's, in front of the hub


def event_message(sequence: int) -> str:
    """An `event` message like the hub's for a node update, stamped now."""
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    mindmap_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    node = {
        "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "parentId": "e4eaaaf2-d142-11e1-b3e4-080027620cdd",
        "text": f"idea {sequence}",
        "position": 3,
    }
    return json.dumps(
        {
            "type": "event",
            "subscription": "s1",
            "event": {
                "id": str(sequence),
                "type": "mindmap.node_updated",
                "time": now,
                "subject": f"mindmaps/{mindmap_id}",
                "ownerId": "16fd2706-8baf-433b-82eb-8c7fada847da",
                "actor": "",
                "traceparent": "",
                "nodeUpdated": {
                    "mindmapId": mindmap_id,
                    "node": node,
                    "updateMask": "text",
                    "etag": "5d41402abc4b2a76",
                },
            },
        },
        separators=(",", ":"),
    )


async def _serve() -> None:
    audience: set[ServerConnection] = set()

    async def handler(connection: ServerConnection) -> None:
        try:
            async for message in connection:
                request = json.loads(message)
                if request.get("type") == "subscribe":
                    audience.add(connection)
                    await connection.send(json.dumps({"type": "subscribed", "id": request["id"]}))
        finally:
            audience.discard(connection)

    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    async with serve(
        handler, "127.0.0.1", 0, compression=None, ping_interval=None, backlog=BACKLOG
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        sys.stdout.write(json.dumps({"port": port}) + "\n")
        sys.stdout.flush()
        sequence = 0
        while line := await commands.readline():
            if line.strip() == b"publish":
                sequence += 1
                broadcast(audience, event_message(sequence))


def _main() -> None:
    raise_open_file_limit()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve())


if __name__ == "__main__":
    _main()
