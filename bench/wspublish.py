"""`python -m bench.wspublish [N]`: the Python cost of one `/ws` delivery, without sockets.

N (default 10,000) `/ws` connections of the hub's own protocol, each on a transport that
takes every write and sends nothing, subscribe to one mindmap on a `MemoryEventBus`; then
20 events are published one by one and the last `publish` is timed: bus matching, push,
frame lookup, protocol and counters, per delivery. What `python -m bench ws-fanout` adds on
top of this is the kernel's `send` (and the relay's hop), which a bare server pays as well.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from hub.config import WebSocket
from hub.contracts.events.v1.events_pb2 import Event
from hub.events.memory import MemoryEventBus
from hub.frontends.websocket.endpoint import WebSocketEndpoint

EVENTS = 20
SUBJECT = "mindmaps/0f8fad5b-d9cb-469f-a165-70867728950e"


class _Sink(asyncio.Transport):
    """A transport that takes every write and sends nothing."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Drops `data`."""

    def is_closing(self) -> bool:
        """Never."""
        return False

    def get_write_buffer_size(self) -> int:
        """Always empty."""
        return 0


async def measure(count: int) -> float:
    """Microseconds of one `publish` per delivery, to `count` subscribers."""
    bus = MemoryEventBus(retention_count=EVENTS, retention_seconds=3600, subscriber_queue=1024)
    endpoint = WebSocketEndpoint(bus, WebSocket())
    subscribe = (
        '{"type": "subscribe", "id": "s1", "channel": "mindmap", "mindmapId": "'
        + SUBJECT.removeprefix("mindmaps/")
        + '"}'
    )
    for _ in range(count):
        connection = endpoint.connect(set())
        connection.connection_made(_Sink())
        connection.received(subscribe)
    if bus.stats().subscriptions != count:
        raise RuntimeError("the connections did not all subscribe")
    elapsed = 0.0
    for event_id in range(1, EVENTS + 1):
        event = Event(id=event_id, type="mindmap.node_updated", subject=SUBJECT, owner_id="u")
        event.time.GetCurrentTime()
        started = time.perf_counter()
        await bus.publish([event])
        elapsed = time.perf_counter() - started
    return elapsed / count * 1e6


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wspublish", description=__doc__)
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    args = parser.parse_args()
    micros = asyncio.run(measure(args.count))
    print(f"{micros:.2f} us of Python per delivery, {args.count} subscribers")


if __name__ == "__main__":
    _main()
