"""`hub.events.v1.EventService.WatchEvents` on the public gRPC front end: the committed writes
of every front end arrive once and in order, resume, too-old resume, filters, invalid
requests, a slow reader cut off, and streams ended on drain."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from hub.backends.events import event_type
from hub.contracts.events.v1 import events_pb2_grpc
from hub.contracts.events.v1.events_pb2 import (
    Event,
    UserCreated,
    UserUpdated,
    WatchEventsRequest,
    WatchEventsResponse,
)
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    DeleteNodeRequest,
    Mindmap,
    Node,
)
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    UpdateUserRequest,
    User,
)
from hub.events.memory import MemoryEventBus
from hub.frontends.grpc_events import EventStreams
from hub.frontends.rpc_error import FieldProblem, RpcFailure
from hub.listening import dial_target, listen, server_options
from hub.rules import check
from hub.testing import RunningHub, running_hub

if TYPE_CHECKING:
    from hub.contracts.events.v1.events_pb2_grpc import EventServiceAsyncStub

READ_TIMEOUT_SECONDS = 10.0
_Stream = aio.UnaryStreamCall[WatchEventsRequest, WatchEventsResponse]


def _stub(channel: aio.Channel) -> EventServiceAsyncStub:
    stub: EventServiceAsyncStub = events_pb2_grpc.EventServiceStub(channel)
    return stub


async def watch(channel: aio.Channel, request: WatchEventsRequest | None = None) -> _Stream:
    """Opens a WatchEvents stream and waits until its subscription is in place (the
    initial metadata says so): every event committed afterwards will arrive on it."""
    call: _Stream = _stub(channel).WatchEvents(request or WatchEventsRequest())
    await call.initial_metadata()
    return call


async def take(call: _Stream, count: int) -> list[Event]:
    """The next `count` events of the stream."""
    events: list[Event] = []
    async with asyncio.timeout(READ_TIMEOUT_SECONDS):
        while len(events) < count:
            response = await call.read()
            if not isinstance(response, WatchEventsResponse):  # aio.EOF
                raise AssertionError(f"the stream ended after {len(events)} of {count} events")
            events.append(response.event)
    return events


async def take_until(call: _Stream, last_id: int) -> list[Event]:
    """The events of the stream up to and including the one with id `last_id`."""
    events: list[Event] = []
    while not events or events[-1].id < last_id:
        events += await take(call, 1)
    return events


async def failure_of(call: _Stream) -> tuple[list[Event], RpcFailure]:
    """The events the stream still delivers, and the status it ends with."""
    events: list[Event] = []
    try:
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            async for response in call:
                events.append(response.event)
    except aio.AioRpcError as error:
        return events, RpcFailure.from_error(error)
    raise AssertionError(f"the stream ended without an error after {len(events)} events")


def summary(events: Sequence[Event]) -> list[tuple[str, str]]:
    """Type and subject of each event."""
    return [(event.type, event.subject) for event in events]


def ids_increase(events: Sequence[Event]) -> bool:
    """Whether the ids are strictly increasing (so no event came twice)."""
    return all(a.id < b.id for a, b in itertools.pairwise(events))


@pytest.fixture
async def hub_running(tmp_path: Path) -> AsyncIterator[RunningHub]:
    """A hub with its backends on the default binding (the event stream does not depend on
    how the backends are reached)."""
    async with running_hub(tmp_path / "data") as running:
        yield running


async def _user(running: RunningHub, email: str) -> User:
    request = CreateUserRequest(user=User(email=email, display_name=email.split("@")[0]))
    return (await running.users.CreateUser(request)).user


async def _rename(running: RunningHub, user: User, name: str) -> None:
    request = UpdateUserRequest(
        user=User(id=user.id, display_name=name), update_mask=FieldMask(paths=["display_name"])
    )
    await running.users.UpdateUser(request)


async def _mindmap(running: RunningHub, owner: User, title: str = "Plans") -> Mindmap:
    request = CreateMindmapRequest(mindmap=Mindmap(owner_id=owner.id, title=title))
    return (await running.mindmaps.CreateMindmap(request)).mindmap


async def _add_node(running: RunningHub, mindmap: Mindmap, text: str) -> Node:
    request = AddNodeRequest(
        mindmap_id=mindmap.id, node=Node(parent_id=mindmap.nodes[0].id, text=text)
    )
    return (await running.mindmaps.AddNode(request)).node


async def test_writes_over_grpc_and_rest_arrive_once_in_order(running: RunningHub) -> None:
    """Each committed write, whichever front end made it, arrives once, in commit order."""
    call = await watch(running.channel)
    async with httpx.AsyncClient(base_url=running.http_url, timeout=30) as http:
        user = await _user(running, "ada@example.com")
        created = await http.post("/api/v1/mindmaps", json={"ownerId": user.id, "title": "P"})
        mindmap_id = created.json()["id"]
        root_id = created.json()["nodes"][0]["id"]
        added = await http.post(
            f"/api/v1/mindmaps/{mindmap_id}/nodes", json={"node": {"parentId": root_id}}
        )
        assert 400 == added.status_code  # refused (no text): no event
        node = (
            await running.mindmaps.AddNode(
                AddNodeRequest(mindmap_id=mindmap_id, node=Node(parent_id=root_id, text="a"))
            )
        ).node
        updated = await http.put(
            f"/api/v1/users/{user.id}",
            json={"email": user.email, "displayName": "Ada L."},
            params={"updateMask": "displayName"},
        )
        assert 200 == updated.status_code
        events = await take(call, 4)
        await running.mindmaps.DeleteNode(DeleteNodeRequest(mindmap_id=mindmap_id, node_id=node.id))
        last = await take(call, 1)

    user_subject, mindmap_subject = f"users/{user.id}", f"mindmaps/{mindmap_id}"
    assert [
        ("user.created", user_subject),
        ("mindmap.created", mindmap_subject),
        ("mindmap.node_added", mindmap_subject),
        ("user.updated", user_subject),
        ("mindmap.node_deleted", mindmap_subject),
    ] == summary(events + last)
    assert ids_increase(events + last)
    assert ("Ada L.", node.id) == (
        events[3].user_updated.user.display_name,
        events[2].node_added.node.id,
    )
    call.cancel()


async def test_resume_delivers_exactly_the_missed_events(hub_running: RunningHub) -> None:
    """A client that watches again with the id of the last event it saw gets the 100 events
    it missed, in order, then live ones: nothing twice, nothing skipped."""
    first = await watch(hub_running.channel)
    user = await _user(hub_running, "ada@example.com")
    [seen] = await take(first, 1)
    first.cancel()
    for number in range(100):
        await _rename(hub_running, user, f"Ada {number}")

    resumed = await watch(hub_running.channel, WatchEventsRequest(since=seen.id))
    missed = await take(resumed, 100)
    marker = await _mindmap(hub_running, user)
    [live] = await take(resumed, 1)

    assert [f"Ada {number}" for number in range(100)] == [
        event.user_updated.user.display_name for event in missed
    ]
    assert ids_increase([seen, *missed, live])
    assert ("mindmap.created", marker.id) == (live.type, live.mindmap_created.mindmap.id)
    resumed.cancel()


async def test_resume_from_before_the_retained_events_is_out_of_range(tmp_path: Path) -> None:
    """With the last 3 of 6 events retained, resuming after the second is refused with
    OUT_OF_RANGE and reason RESUME_TOO_OLD (nothing streamed); resuming after the third,
    the newest one evicted, delivers the 3 retained."""
    async with running_hub(tmp_path / "data", events={"retention_count": 3}) as running:
        live = await watch(running.channel)
        user = await _user(running, "ada@example.com")
        for number in range(5):
            await _rename(running, user, f"Ada {number}")
        ids = [event.id for event in await take(live, 6)]
        live.cancel()

        too_old = _stub(running.channel).WatchEvents(WatchEventsRequest(since=ids[1]))
        delivered, failure = await failure_of(too_old)
        resumed = await watch(running.channel, WatchEventsRequest(since=ids[2]))
        retained = await take(resumed, 3)
        resumed.cancel()

    assert ([], grpc.StatusCode.OUT_OF_RANGE, "RESUME_TOO_OLD", "hub") == (
        delivered,
        failure.code,
        failure.reason,
        failure.domain,
    )
    assert {"since": str(ids[1]), "oldestRetained": str(ids[3])} == dict(failure.metadata)
    assert ids[3:] == [event.id for event in retained]


async def test_filters_select_owner_mindmap_and_types(hub_running: RunningHub) -> None:
    """owner_id, mindmap_id and types each select their events; a write matching all three
    filters closes each stream's window. (An unfiltered stream shows when the events of
    earlier writes are out, so that no filtered stream opened later receives them.)"""
    everything = await watch(hub_running.channel)
    ada = await _user(hub_running, "ada@example.com")
    bob = await _user(hub_running, "bob@example.com")
    await take(everything, 2)
    by_owner = await watch(hub_running.channel, WatchEventsRequest(owner_id=ada.id))
    by_type = await watch(hub_running.channel, WatchEventsRequest(types=["mindmap.node_added"]))
    ada_map = await _mindmap(hub_running, ada)
    await take(everything, 1)
    by_mindmap = await watch(hub_running.channel, WatchEventsRequest(mindmap_id=ada_map.id))

    bob_map = await _mindmap(hub_running, bob)
    await _rename(hub_running, ada, "A")
    await _add_node(hub_running, ada_map, "a")
    await _add_node(hub_running, bob_map, "b")
    await _add_node(hub_running, ada_map, "z")
    typed_events = await take(by_type, 3)
    marker = typed_events[-1]
    owner_events = await take_until(by_owner, marker.id)
    mindmap_events = await take_until(by_mindmap, marker.id)

    ada_user, ada_mm, bob_mm = f"users/{ada.id}", f"mindmaps/{ada_map.id}", f"mindmaps/{bob_map.id}"
    assert [
        ("mindmap.created", ada_mm),
        ("user.updated", ada_user),
        ("mindmap.node_added", ada_mm),
        ("mindmap.node_added", ada_mm),
    ] == summary(owner_events)
    assert [("mindmap.node_added", ada_mm)] * 2 == summary(mindmap_events)
    assert [ada_mm, bob_mm, ada_mm] == [event.subject for event in typed_events]
    for call in (everything, by_owner, by_mindmap, by_type):
        call.cancel()


async def test_invalid_request_names_each_bad_field(hub_running: RunningHub) -> None:
    """An unknown event type and a negative resume point are INVALID_ARGUMENT with one
    field violation each."""
    request = WatchEventsRequest(types=["user.created", "mindmap.exploded"], since=-1)

    delivered, failure = await failure_of(_stub(hub_running.channel).WatchEvents(request))

    assert ([], grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT") == (
        delivered,
        failure.code,
        failure.reason,
    )
    assert [
        FieldProblem("types[1]", "must be an event type like mindmap.node_added"),
        FieldProblem("since", "must be at least 0"),
    ] == list(failure.field_violations)


@pytest.mark.parametrize(
    "payload",
    [getattr(Event(), field.name) for field in Event.DESCRIPTOR.oneofs_by_name["payload"].fields],
    ids=lambda payload: payload.DESCRIPTOR.name,
)
def test_types_rule_accepts_every_event_type(payload: Any) -> None:
    """The `types` rule in events.proto accepts the type the backends give each payload."""
    assert [] == check(WatchEventsRequest(types=[event_type(payload)]))


@pytest.mark.parametrize(
    "near_miss",
    ["user", "user.created\n", " user.created", "USER.CREATED", "user.created.x", "mindmap.*"],
)
def test_types_rule_refuses_anything_else(near_miss: str) -> None:
    """Strings close to an event type are not one."""
    assert ["types[0]"] == [v.field for v in check(WatchEventsRequest(types=[near_miss]))]


@dataclass(frozen=True)
class Streaming:
    """EventStreams on its own server, over a bus that the test publishes to."""

    bus: MemoryEventBus
    streams: EventStreams
    channel: aio.Channel


@asynccontextmanager
async def streaming(subscriber_queue: int) -> AsyncIterator[Streaming]:
    """Serves EventService from a fresh bus on a free loopback port."""
    bus = MemoryEventBus(
        retention_count=1000, retention_seconds=3600, subscriber_queue=subscriber_queue
    )
    streams = EventStreams(bus)
    server = aio.server(options=server_options(1 << 20))
    events_pb2_grpc.add_EventServiceServicer_to_server(streams, server)
    target = dial_target(listen(server, "127.0.0.1:0"))
    await server.start()
    try:
        async with aio.insecure_channel(target) as channel:
            yield Streaming(bus=bus, streams=streams, channel=channel)
    finally:
        await server.stop(0)
        await bus.close()


def _events(first_id: int, types: Sequence[str]) -> list[Event]:
    now = Timestamp()
    now.GetCurrentTime()
    events = [Event(id=first_id + n, type=kind, time=now) for n, kind in enumerate(types)]
    for event in events:
        if event.type == "user.created":
            event.user_created.CopyFrom(UserCreated())
        else:
            event.user_updated.CopyFrom(UserUpdated())
    return events


async def test_slow_reader_is_cut_off_and_others_keep_receiving() -> None:
    """A reader with more events waiting than its queue holds gets those it had, then
    RESOURCE_EXHAUSTED with reason SLOW_CONSUMER and the last id it got; another reader,
    not behind, keeps its stream."""
    async with streaming(subscriber_queue=4) as served:
        slow = await watch(served.channel)
        other = await watch(served.channel, WatchEventsRequest(types=["user.created"]))
        burst = ["user.created"] + ["user.updated"] * 9
        await served.bus.publish(_events(1, burst))
        delivered, failure = await failure_of(slow)
        await served.bus.publish(_events(11, ["user.created"]))
        kept = await take(other, 2)
        other.cancel()

    assert [1, 2, 3, 4] == [event.id for event in delivered]
    assert (grpc.StatusCode.RESOURCE_EXHAUSTED, "SLOW_CONSUMER", (("lastDelivered", "4"),)) == (
        failure.code,
        failure.reason,
        failure.metadata,
    )
    assert [1, 11] == [event.id for event in kept]


async def test_drain_ends_open_streams_and_refuses_new_ones() -> None:
    """Draining ends an open stream with UNAVAILABLE, reason SHUTTING_DOWN, and answers a
    new watch the same way."""
    async with streaming(subscriber_queue=4) as served:
        open_call = await watch(served.channel)
        served.streams.drain()
        _, ended = await failure_of(open_call)
        _, refused = await failure_of(_stub(served.channel).WatchEvents(WatchEventsRequest()))

    expected = (grpc.StatusCode.UNAVAILABLE, "SHUTTING_DOWN")
    assert [expected, expected] == [(ended.code, ended.reason), (refused.code, refused.reason)]


async def test_hub_stop_ends_open_streams(tmp_path: Path) -> None:
    """Stopping the hub ends a watch with UNAVAILABLE, reason SHUTTING_DOWN, within the
    grace period (a stream the server had to cut off at its end would be CANCELLED)."""
    async with running_hub(tmp_path / "data") as running:
        call = await watch(running.channel)
        async with asyncio.TaskGroup() as group:
            group.create_task(running.hub.stop(grace=1))
            _, failure = await failure_of(call)

    assert (grpc.StatusCode.UNAVAILABLE, "SHUTTING_DOWN") == (failure.code, failure.reason)
