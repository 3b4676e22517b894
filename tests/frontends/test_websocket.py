"""The WebSocket endpoint `/ws` end to end: a whole hub on a real uvicorn server, clients of
the `websockets` library, writes over gRPC and REST. Every message the hub sends is checked
against the committed AsyncAPI document (`wsclient.check_contract`)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from google.protobuf.field_mask_pb2 import FieldMask
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    Mindmap,
    Node,
    UpdateMindmapRequest,
)
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, UpdateUserRequest, User
from hub.events.memory import MemoryEventBus
from hub.testing import RunningHub, running_hub
from tests.frontends.wsclient import WAIT_SECONDS, WsClient, connect


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningHub]:
    """A hub with default settings."""
    async with running_hub(tmp_path) as hub:
        yield hub


async def _user(running: RunningHub, email: str = "ada@example.com") -> str:
    reply = await running.users.CreateUser(
        CreateUserRequest(user=User(email=email, display_name="Ada"))
    )
    return reply.user.id


async def _rename(running: RunningHub, user_id: str, name: str) -> None:
    await running.users.UpdateUser(
        UpdateUserRequest(
            user=User(id=user_id, display_name=name), update_mask=FieldMask(paths=["display_name"])
        )
    )


async def _describe(running: RunningHub, mindmap_id: str, description: str) -> None:
    await running.mindmaps.UpdateMindmap(
        UpdateMindmapRequest(
            mindmap=Mindmap(id=mindmap_id, description=description),
            update_mask=FieldMask(paths=["description"]),
        )
    )


async def _until(condition: Callable[[], bool]) -> None:
    """Returns once `condition()` holds, looking every few ms (fails after WAIT_SECONDS)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while not condition():  # noqa: ASYNC110 - the hub offers no event to wait on
            await asyncio.sleep(0.005)


def _ids(events: list[dict[str, Any]]) -> list[int]:
    return [int(event["id"]) for event in events]


async def _closed(client: WsClient) -> tuple[int, list[dict[str, Any]]]:
    """Reads until the hub closes the connection: its close code, and what came before."""
    before = []
    try:
        while True:
            before.append(await client.receive())
    except ConnectionClosed as closed:
        frame = closed.rcvd
    if frame is None:
        pytest.fail("the hub closed the connection without a close frame")
    return frame.code, before


async def test_writes_over_grpc_and_rest_arrive_once_in_order(running: RunningHub) -> None:
    """A user subscription gets the user's events and their mindmaps' (written over gRPC and
    REST), each once, in id order; a mindmap subscription on the same connection gets that
    mindmap's only (`since: 0`: every retained one)."""
    user_id = await _user(running)
    await running.published_event_id()
    before = running.hub.websocket.stats()
    client = await connect(running.ws_url)
    await client.subscribe("mine", user_id=user_id)
    await _rename(running, user_id, "Ada L.")
    async with httpx.AsyncClient(base_url=running.http_url) as http:
        created = await http.post("/api/v1/mindmaps", json={"ownerId": user_id, "title": "Plans"})
        mindmap_id = created.json()["id"]
        # From the start of the retained events: the mindmap's creation may reach the bus
        # before or after this subscribe.
        await client.subscribe("plans", since=0, mindmap_id=mindmap_id)
        await running.mindmaps.AddNode(
            AddNodeRequest(mindmap_id=mindmap_id, node=Node(text="first"))
        )
        updated = await http.put(
            f"/api/v1/mindmaps/{mindmap_id}",
            params={"updateMask": "title"},
            json={"ownerId": user_id, "title": "Better plans"},
        )
        assert 200 == updated.status_code, updated.text

    received = [await client.receive() for _ in range(7)]

    by_subscription: dict[str, list[dict[str, Any]]] = {"mine": [], "plans": []}
    for message in received:
        by_subscription[message["subscription"]].append(message["event"])
    mine, plans = by_subscription["mine"], by_subscription["plans"]
    assert ["user.updated", "mindmap.created", "mindmap.node_added", "mindmap.updated"] == [
        event["type"] for event in mine
    ]
    assert ["mindmap.created", "mindmap.node_added", "mindmap.updated"] == [
        event["type"] for event in plans
    ]
    assert sorted(_ids(mine)) == _ids(mine)
    assert len(set(_ids(mine))) == len(mine)
    assert _ids(mine)[1:] == _ids(plans)
    assert "Ada L." == mine[0]["userUpdated"]["user"]["displayName"]
    assert f"mindmaps/{mindmap_id}" == plans[2]["subject"]
    # Nothing more is on its way: the next event is the one of the next write.
    await _rename(running, user_id, "Ada")
    assert ["user.updated"] == [event["type"] for event in await client.events(1)]
    # What the metrics read: this connection, and the messages it was sent, by type.
    after = running.hub.websocket.stats()
    assert (1, 8, 2) == (
        after.connections - before.connections,
        after.sent.get("event", 0) - before.sent.get("event", 0),
        after.sent.get("subscribed", 0) - before.sent.get("subscribed", 0),
    )
    await client.connection.close()


async def test_resume_after_100_writes_delivers_exactly_the_missed_ones(
    running: RunningHub,
) -> None:
    """Subscribe, read, disconnect, 100 writes, reconnect with the last id: exactly those 100
    events, in order, then live ones without a duplicate at the seam."""
    user_id = await _user(running)
    await running.published_event_id()
    first = await connect(running.ws_url)
    await first.subscribe("s", user_id=user_id)
    await _rename(running, user_id, "seen")
    (seen,) = await first.events(1)
    await first.connection.close()

    for number in range(100):
        await _rename(running, user_id, f"name {number}")

    second = await connect(running.ws_url)
    await second.subscribe("s", since=int(seen["id"]), user_id=user_id)
    missed = await second.events(100)
    await _rename(running, user_id, "live")
    (live,) = await second.events(1)

    assert [f"name {n}" for n in range(100)] == [
        event["userUpdated"]["user"]["displayName"] for event in missed
    ]
    assert sorted(set(_ids(missed))) == _ids(missed)
    assert int(seen["id"]) < _ids(missed)[0]
    assert "live" == live["userUpdated"]["user"]["displayName"]
    assert _ids(missed)[-1] < int(live["id"])
    await second.connection.close()


async def test_a_resume_point_no_longer_retained_is_reported(tmp_path: Path) -> None:
    """With 5 events retained, resuming after event 1 of 10 is an error RESUME_TOO_OLD for
    that subscription; the connection stays usable."""
    async with running_hub(tmp_path, events={"retention_count": 5}) as running:
        user_id = await _user(running)
        for number in range(9):
            await _rename(running, user_id, f"name {number}")
        await running.published_event_id()
        client = await connect(running.ws_url)
        listener = await connect(running.ws_url)
        await listener.subscribe("live", user_id=user_id)

        await client.send(
            {"type": "subscribe", "id": "old", "channel": "user", "userId": user_id, "since": "1"}
        )
        error = await client.receive()
        await client.ping()
        await client.subscribe("old", user_id=user_id)
        await _rename(running, user_id, "after")
        (event,) = await client.events(1)
        await listener.events(1)

    assert ("error", "RESUME_TOO_OLD", "old") == (
        error["type"],
        error["code"],
        error["subscription"],
    )
    assert "no longer retained" in error["message"]
    assert "after" == event["userUpdated"]["user"]["displayName"]


_ID = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("frame", "code", "subscription"),
    [
        ("{not json", "INVALID_JSON", None),
        ("[1, 2]", "INVALID_MESSAGE", None),
        ('{"id": "x"}', "UNKNOWN_MESSAGE_TYPE", None),
        ('{"type": "publish", "id": "x"}', "UNKNOWN_MESSAGE_TYPE", None),
        ('{"type": "subscribe", "id": "x", "channel": "everything"}', "UNKNOWN_CHANNEL", "x"),
        ('{"type": "subscribe", "id": "x", "channel": "user"}', "INVALID_MESSAGE", "x"),
        (
            f'{{"type": "subscribe", "id": "x", "channel": "user", "mindmapId": "{_ID}"}}',
            "INVALID_MESSAGE",
            "x",
        ),
        (
            f'{{"type": "subscribe", "id": "x", "channel": "user", "userId": "{_ID}", "a": 1}}',
            "INVALID_MESSAGE",
            "x",
        ),
        (
            f'{{"type": "subscribe", "id": "x", "channel": "user", "userId": "{_ID}", '
            '"since": "-1"}',
            "INVALID_MESSAGE",
            "x",
        ),
        (
            '{"type": "subscribe", "id": "", "channel": "user", "userId": "u"}',
            "INVALID_MESSAGE",
            None,
        ),
        ('{"type": "unsubscribe", "id": "nothing"}', "UNKNOWN_SUBSCRIPTION", "nothing"),
        ('{"type": "ping", "extra": true}', "INVALID_MESSAGE", None),
    ],
)
async def test_a_message_the_hub_cannot_use_is_answered_and_the_connection_survives(
    running: RunningHub, frame: str, code: str, subscription: str | None
) -> None:
    """Each bad message gets an `error` with its code (and the subscription it names); a
    `ping` afterwards is answered: the connection is still open."""
    client = await connect(running.ws_url)
    await client.send(frame)
    error = await client.receive()
    await client.ping()
    await client.connection.close()

    assert ("error", code, subscription) == (
        error["type"],
        error["code"],
        error.get("subscription"),
    )


async def test_duplicate_and_ended_subscriptions(running: RunningHub) -> None:
    """An active id cannot be subscribed again; after `unsubscribed` no event of it comes
    (a second subscription witnesses the event it would have had), and the id is free again."""
    user_id = await _user(running)
    await running.published_event_id()
    client = await connect(running.ws_url)
    await client.subscribe("s", user_id=user_id)
    await client.subscribe("witness", user_id=user_id)
    await client.send({"type": "subscribe", "id": "s", "channel": "user", "userId": user_id})
    duplicate = await client.receive()
    await client.send({"type": "unsubscribe", "id": "s"})
    ended = await client.receive()
    await _rename(running, user_id, "unseen")
    witnessed = await client.receive()
    await client.subscribe("s", user_id=user_id)
    await _rename(running, user_id, "seen")
    after = [await client.receive() for _ in range(2)]
    await client.connection.close()

    assert ("error", "DUPLICATE_SUBSCRIPTION") == (duplicate["type"], duplicate["code"])
    assert {"type": "unsubscribed", "id": "s"} == ended
    assert ("witness", "unseen") == (
        witnessed["subscription"],
        witnessed["event"]["userUpdated"]["user"]["displayName"],
    )
    assert [("s", "seen"), ("witness", "seen")] == sorted(
        (m["subscription"], m["event"]["userUpdated"]["user"]["displayName"]) for m in after
    )


async def test_a_connection_holds_a_bounded_number_of_subscriptions(tmp_path: Path) -> None:
    """One subscription above `http.websocket.max_subscriptions` is refused."""
    async with running_hub(tmp_path, http={"websocket": {"max_subscriptions": 2}}) as running:
        client = await connect(running.ws_url)
        await client.subscribe("a", user_id=_ID)
        await client.subscribe("b", user_id=_ID)
        await client.send({"type": "subscribe", "id": "c", "channel": "user", "userId": _ID})
        refused = await client.receive()
        await client.connection.close()

    assert ("TOO_MANY_SUBSCRIPTIONS", "c") == (refused["code"], refused["subscription"])


async def test_a_binary_frame_closes_the_connection_with_1003(running: RunningHub) -> None:
    """The protocol is JSON text: a binary frame is a protocol violation."""
    client = await connect(running.ws_url)
    await client.connection.send(b'{"type": "ping"}')

    assert (1003, []) == await _closed(client)


async def test_an_oversized_message_closes_the_connection_with_1009(tmp_path: Path) -> None:
    """A message above `http.websocket.max_message_bytes` closes with 1009 (too big)."""
    async with running_hub(tmp_path, http={"websocket": {"max_message_bytes": 1024}}) as running:
        client = await connect(running.ws_url)
        await client.send({"type": "ping", "padding": "x" * 2000})
        code, before = await _closed(client)

    assert (1009, []) == (code, before)


async def test_an_upgrade_at_another_path_is_refused_with_a_404_problem(
    running: RunningHub,
) -> None:
    """Only `/ws` speaks WebSocket; elsewhere the handshake gets the REST 404 problem."""
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(running.ws_url + "/elsewhere")
    response = refused.value.response

    assert (404, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert "ROUTE_NOT_FOUND" == json.loads(response.body)["reason"]


async def test_draining_the_hub_closes_connections_with_1001(tmp_path: Path) -> None:
    """On stop, each client gets the close code 1001 (going away) to reconnect elsewhere."""
    async with running_hub(tmp_path) as running:
        client = await connect(running.ws_url)
        await client.subscribe("s", user_id=_ID)

    assert (1001, []) == await _closed(client)


async def test_a_client_that_does_not_answer_ping_frames_is_closed_with_1011(
    tmp_path: Path,
) -> None:
    """The keepalive: ping frames every `ping_interval_seconds`; no pong within
    `ping_timeout_seconds` closes the connection."""
    keepalive = {"ping_interval_seconds": 0.05, "ping_timeout_seconds": 0.05}
    async with running_hub(tmp_path, http={"websocket": keepalive}) as running:
        client = await connect(running.ws_url)
        await client.ping()
        client.connection.transport.pause_reading()  # deaf: no pong goes back
        await _until(lambda: running.hub.websocket.stats().connections == 0)
        client.connection.transport.resume_reading()
        code, before = await _closed(client)

    assert (1011, []) == (code, before)


async def _slow_client(url: str) -> WsClient:
    """A client whose socket buffers are small and that reads nothing until told to: the
    hub's writes to it stall after a few dozen KiB."""
    address = urlsplit(url)
    host, port = address.hostname, address.port
    assert host is not None
    assert port is not None
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, port))
    return await connect(url, sock=raw, max_queue=1)


async def test_a_slow_consumer_is_closed_with_4000_without_delaying_others(
    tmp_path: Path,
) -> None:
    """A client that stops reading is dropped once its queue (4 events) is full, while
    another client receives every event; when it reads again it gets what was queued for it,
    an error SLOW_CONSUMER and the close code 4000, and resuming from its last event id
    delivers the rest exactly."""
    async with running_hub(tmp_path, events={"subscriber_queue": 4}) as running:
        bus = running.hub.bus
        assert isinstance(bus, MemoryEventBus)
        user_id = await _user(running)
        created = await running.mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=user_id, title="Big"))
        )
        mindmap_id = created.mindmap.id
        await running.published_event_id()
        others = bus.stats().subscriptions  # the hub's own (business metrics)
        slow = await _slow_client(running.ws_url)
        await slow.subscribe("s", mindmap_id=mindmap_id)
        fast = await connect(running.ws_url)
        await fast.subscribe("f", mindmap_id=mindmap_id)
        slow.connection.transport.pause_reading()

        writes = 0
        while bus.stats().subscriptions == others + 2:  # until the bus drops the slow one
            assert writes < 5000, "the slow client was never dropped"
            # Large events (2 KB descriptions) fill the socket buffers (a few MB, as the
            # kernel sizes them) in fewer writes.
            await _describe(running, mindmap_id, f"{writes:05} " + "x" * 1990)
            writes += 1
        all_events = await fast.events(writes)

        slow.connection.transport.resume_reading()
        code, before = await _closed(slow)
        *delivered, error = before
        resumed = await connect(running.ws_url)
        last_seen = int(delivered[-1]["event"]["id"])
        await resumed.subscribe("s", since=last_seen, mindmap_id=mindmap_id)
        rest = await resumed.events(len(all_events) - len(delivered))

    assert 4000 == code
    assert ("error", "SLOW_CONSUMER", "s") == (
        error["type"],
        error["code"],
        error["subscription"],
    )
    assert _ids(all_events)[: len(delivered)] == _ids([m["event"] for m in delivered])
    assert _ids(all_events)[len(delivered) :] == _ids(rest)
