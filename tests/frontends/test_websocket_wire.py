"""The WebSocket protocol under `/ws` (hub/frontends/websocket/wire.py), end to end on a real
server: the handshake, fragmented messages, ping frames, invalid UTF-8, both closing
handshakes, and a client that sends without reading."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed

from hub.testing import RunningHub, running_hub
from tests.frontends.wsclient import WAIT_SECONDS, connect

_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningHub]:
    """A hub with default settings."""
    async with running_hub(tmp_path) as hub:
        yield hub


async def _until(condition: Callable[[], bool]) -> None:
    """Returns once `condition()` holds, looking every few ms (fails after WAIT_SECONDS)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while not condition():  # noqa: ASYNC110 - the hub offers no event to wait on
            await asyncio.sleep(0.005)


async def test_a_fragmented_text_message_is_read_whole(running: RunningHub) -> None:
    """A message sent in three frames is one message."""
    client = await connect(running.ws_url)
    await client.connection.send(iter(['{"type"', ': "pi', 'ng"}']))

    assert {"type": "pong"} == await client.receive()


async def test_ping_frames_are_answered(running: RunningHub) -> None:
    """The client's own keepalive works: its ping frame gets a pong frame."""
    client = await connect(running.ws_url)
    pong = await client.connection.ping(b"are you there")
    async with asyncio.timeout(WAIT_SECONDS):
        latency = await pong

    assert latency >= 0


async def test_a_client_that_answers_ping_frames_stays_connected(tmp_path: Path) -> None:
    """The keepalive pings every `ping_interval_seconds`; each pong in time keeps the
    connection open, ping after ping."""
    keepalive = {"ping_interval_seconds": 0.05, "ping_timeout_seconds": 0.05}
    async with running_hub(tmp_path, http={"websocket": keepalive}) as running:
        client = await connect(running.ws_url)
        await asyncio.sleep(0.5)  # about ten pings and pongs
        await client.ping()
        connections = running.hub.websocket.stats().connections

    assert 1 == connections


async def test_a_text_frame_that_is_not_utf8_closes_the_connection_with_1007(
    running: RunningHub,
) -> None:
    """Text frames carry UTF-8; anything else is invalid data."""
    client = await connect(running.ws_url)
    await client.connection.send(b'{"type": "ping\xff"}', text=True)

    with pytest.raises(ConnectionClosed) as closed:
        await client.receive()
    assert closed.value.rcvd is not None
    assert 1007 == closed.value.rcvd.code


async def test_a_client_that_closes_leaves_no_connection_or_subscription(
    running: RunningHub,
) -> None:
    """The client's close frame is echoed (same code) and everything it held is released."""
    others = running.hub.bus.stats().subscriptions  # the hub's own (business metrics)
    client = await connect(running.ws_url)
    await client.subscribe("s", user_id=_ID)
    await client.connection.close(1000, "bye")
    await _until(lambda: running.hub.websocket.stats().connections == 0)

    assert (1000, others) == (
        client.connection.close_code,
        running.hub.bus.stats().subscriptions,
    )


async def test_a_handshake_without_a_key_is_refused_with_400(running: RunningHub) -> None:
    """An upgrade request websockets cannot accept is answered 400, and the server carries
    on serving others."""
    address = urlsplit(running.ws_url)
    assert address.hostname is not None
    assert address.port is not None
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    async with asyncio.timeout(WAIT_SECONDS):
        status_line = await reader.readline()
    writer.close()
    other = await connect(running.ws_url)
    await other.ping()

    assert b"HTTP/1.1 400 Bad Request\r\n" == status_line


async def test_a_client_that_sends_without_reading_is_not_read_either(
    running: RunningHub,
) -> None:
    """While the answers to a client back up beyond the transport's high-water mark, the
    hub reads none of its messages, so it buffers no more answers for it."""
    address = urlsplit(running.ws_url)
    assert address.hostname is not None
    assert address.port is not None
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (address.hostname, address.port))
    client = await connect(running.ws_url, sock=raw, max_queue=1)
    (connection,) = running.hub.websocket.connections
    client.connection.transport.pause_reading()
    # Each is answered with an error that quotes the unknown type: 30 KB per answer.
    unknown = json.dumps({"type": "x" * 30_000})
    async with asyncio.timeout(WAIT_SECONDS):
        while connection.writable:  # until the answers fill the socket buffers
            await client.connection.send(unknown)
            await asyncio.sleep(0)  # the hub runs in this loop too
    answered = running.hub.websocket.stats().sent["error"]
    for _ in range(10):
        await client.connection.send(unknown)
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    answered_later = running.hub.websocket.stats().sent["error"]
    client.connection.transport.abort()

    assert answered == answered_later
