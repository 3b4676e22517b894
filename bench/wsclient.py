"""`python -m bench.wsclient URL MINDMAP_ID COUNT`: one process holding idle WebSocket subscribers.

The ws-fanout scenario (bench/fanout.py) runs several of these, since one process may hold
at most 20,000 open files here. Each opens COUNT connections to URL without
permessage-deflate, subscribes every one to the mindmap with the hub's protocol
(`subscribe` → `subscribed`), then prints `{"ready": COUNT}` and obeys commands on stdin:

- `collect SECONDS`: waits until every connection has received one more `event` (or SECONDS
  pass), then prints `{"latencies_ms": [...], "missing": n}`: for each delivery, receipt
  time minus the event's `time` (the write's commit time, same machine and clock). Receipt
  is stamped when the bytes arrive; parsing the JSON waits until the round is complete.
- `close` (or end of input): closes the connections and exits.

The same client serves the hub and the bare baseline server (bench/wsbare.py), which speaks
the same messages, so client-side costs weigh on both sides alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from datetime import datetime
from typing import cast

import uvloop
from websockets.client import ClientProtocol
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

CONNECTING_AT_ONCE = 100  # connection attempts in flight, so the server's backlog never overflows
OPEN_TIMEOUT_SECONDS = 60.0  # for the handshake and subscription; and for closing


def raise_open_file_limit() -> None:
    """Lifts this process's soft limit on open files to the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def commit_time(message: bytes) -> float | None:
    """The event's `time` (seconds since the epoch) if `message` is an `event`, else None."""
    document = json.loads(message)
    if document.get("type") != "event":
        return None
    return datetime.fromisoformat(document["event"]["time"]).timestamp()


class Received:
    """(receipt time, message) pairs of every connection, and whether a round is complete."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.messages: list[tuple[float, bytes]] = []
        self.complete = asyncio.Event()

    def add(self, receipt: float, message: bytes) -> None:
        """Records one message."""
        self.messages.append((receipt, message))
        if len(self.messages) >= self.expected:
            self.complete.set()

    async def collect(self, seconds: float) -> dict[str, object]:
        """Waits for one message per connection (at most `seconds`); their latencies."""
        try:
            async with asyncio.timeout(seconds):
                await self.complete.wait()
        except TimeoutError:
            pass
        received, self.messages = self.messages, []
        self.complete.clear()
        latencies = []
        for receipt, message in received:
            committed = commit_time(message)
            if committed is not None:
                latencies.append(round((receipt - committed) * 1e3, 3))
        return {"latencies_ms": latencies, "missing": self.expected - len(latencies)}


class Subscriber(asyncio.Protocol):
    """One connection, driven by websockets' sans-I/O client protocol so that a message's
    receipt is stamped in `data_received`, before any parsing or task switch: the latency
    measured is the servers', not this process's scheduling of thousands of readers."""

    def __init__(self, url: str, subscribe: str, received: Received) -> None:
        self._protocol = ClientProtocol(parse_uri(url))  # no extensions: no compression
        self._subscribe = subscribe
        self._received = received
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Sends the opening handshake."""
        self._transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass
        self._protocol.send_request(self._protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        """Stamps, then parses: the handshake answer, `subscribed`, events, pings."""
        receipt = time.time()
        self._protocol.receive_data(data)
        for event in self._protocol.events_received():
            if isinstance(event, Response):
                if self._protocol.handshake_exc is not None:
                    self._fail(self._protocol.handshake_exc)
                    return
                self._protocol.send_text(self._subscribe.encode())
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                message = bytes(event.data)
                if self.subscribed.done():
                    self._received.add(receipt, message)
                elif json.loads(message).get("type") == "subscribed":
                    self.subscribed.set_result(None)
                else:
                    self._fail(RuntimeError(f"subscribe answered with {message!r}"))
                    return
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        """Marks the connection closed (a failure if it never subscribed)."""
        if not self.subscribed.done():
            self.subscribed.set_exception(exc or ConnectionError("closed before subscribed"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        """Starts the closing handshake; `closed` completes when the server ends the TCP."""
        if self._protocol.state is not State.OPEN:
            return  # the server closed it already
        self._protocol.send_close(CloseCode.NORMAL_CLOSURE)
        self._flush()

    def _fail(self, error: Exception) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(error)
        if self._transport is not None:
            self._transport.abort()

    def _flush(self) -> None:
        if self._transport is None:
            return
        for chunk in self._protocol.data_to_send():
            if chunk:
                self._transport.write(chunk)
            elif self._transport.can_write_eof():
                self._transport.write_eof()


async def open_subscribers(
    url: str, mindmap_id: str, count: int, received: Received
) -> list[Subscriber]:
    """`count` connections to `url`, each subscribed to the mindmap."""
    uri = parse_uri(url)
    subscribe = json.dumps(
        {"type": "subscribe", "id": "s1", "channel": "mindmap", "mindmapId": mindmap_id}
    )
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    subscribers: list[Subscriber] = []

    async def one() -> None:
        async with gate, asyncio.timeout(OPEN_TIMEOUT_SECONDS):
            _, subscriber = await loop.create_connection(
                lambda: Subscriber(url, subscribe, received), uri.host, uri.port
            )
            subscribers.append(subscriber)
            await subscriber.subscribed

    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(one())
    return subscribers


async def close_subscribers(subscribers: list[Subscriber]) -> None:
    """Closes every connection, waiting for the server to end each."""
    for subscriber in subscribers:
        subscriber.close()
    async with asyncio.timeout(OPEN_TIMEOUT_SECONDS):
        await asyncio.gather(*(subscriber.closed for subscriber in subscribers))


async def _serve(url: str, mindmap_id: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    received = Received(count)
    subscribers = await open_subscribers(url, mindmap_id, count, received)
    _reply({"ready": count})
    while (line := (await commands.readline()).decode().split()) and line[0] != "close":
        if line[0] != "collect":
            raise RuntimeError(f"unknown command {line}")
        _reply(await received.collect(float(line[1])))
    await close_subscribers(subscribers)


def _reply(document: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wsclient", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("mindmap_id")
    parser.add_argument("count", type=int)
    args = parser.parse_args()
    raise_open_file_limit()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(args.url, args.mindmap_id, args.count))


if __name__ == "__main__":
    _main()
