"""The events of a running hub: writes made through its front end reach `hub.bus` in commit
order (woken by the write itself: the poll is set to an hour), a hub restarted on the same
data lets a subscriber resume with what it missed, including events committed while no hub
ran, and stopping the hub ends the subscriptions."""

from __future__ import annotations

from pathlib import Path

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    DeleteMindmapRequest,
    DeleteNodeRequest,
    Mindmap,
    Node,
    UpdateNodeRequest,
)
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.events.bus import EventFilter, Subscription
from hub.storage.sqlite import SqliteStore
from hub.testing import RunningHub, running_hub
from tests.events.streams import rest, take
from tests.storage.messages import add_user

HOUR_MS = 3_600_000
# The store's test builders date their events in January 2026: retain them whatever the age.
KEEP_ALL = {"poll_interval_ms": HOUR_MS, "retention_seconds": 1e10}


async def received(subscription: Subscription, count: int) -> list[Event]:
    events: list[Event] = []
    async for event in subscription:
        events.append(event)
        if len(events) == count:
            break
    return events


async def new_user(running: RunningHub, name: str) -> User:
    request = CreateUserRequest(user=User(email=f"{name}@example.com", display_name=name))
    return (await running.users.CreateUser(request)).user


async def test_grpc_writes_reach_the_bus_in_commit_order_each_once(tmp_path: Path) -> None:
    async with running_hub(tmp_path, "tcp", events={"poll_interval_ms": HOUR_MS}) as running:
        # A reply comes when the write commits, maybe before the relay publishes its event:
        # subscribers resume from the id they know, not from "now".
        await new_user(running, "someone-else")
        subscription = running.hub.bus.subscribe(EventFilter(), since=1)
        ada = await new_user(running, "ada")
        owned = running.hub.bus.subscribe(EventFilter(owner_id=ada.id), since=2)
        mindmap = (
            await running.mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=ada.id, title="Plans"))
            )
        ).mindmap
        root = mindmap.nodes[0].id
        added = await running.mindmaps.AddNode(
            AddNodeRequest(mindmap_id=mindmap.id, node=Node(parent_id=root, text="a"))
        )
        await running.mindmaps.UpdateNode(
            UpdateNodeRequest(mindmap_id=mindmap.id, node=Node(id=added.node.id, text="A"))
        )
        await running.mindmaps.DeleteNode(
            DeleteNodeRequest(mindmap_id=mindmap.id, node_id=added.node.id)
        )
        await running.mindmaps.DeleteMindmap(DeleteMindmapRequest(id=mindmap.id))

        events = await received(subscription, 6)
        maps = f"mindmaps/{mindmap.id}"
        assert [
            ("user.created", f"users/{ada.id}"),
            ("mindmap.created", maps),
            ("mindmap.node_added", maps),
            ("mindmap.node_updated", maps),
            ("mindmap.node_deleted", maps),
            ("mindmap.deleted", maps),
        ] == [(event.type, event.subject) for event in events]
        assert list(range(2, 8)) == [event.id for event in events]
        assert [*range(3, 8)] == await take(owned, 5)
        assert {ada.id} == {event.owner_id for event in events}


async def test_a_subscriber_resumes_across_a_restart_with_what_it_missed(tmp_path: Path) -> None:
    """Events committed by the first hub after the subscriber's last one, and events
    committed while no hub ran (straight into the store: the relay never saw them), reach
    the subscriber that resumes on the next hub, each once."""
    async with running_hub(tmp_path, events=KEEP_ALL) as first:
        subscription = first.hub.bus.subscribe(EventFilter())
        await new_user(first, "ada")
        last_seen = await take(subscription, 1)
        await new_user(first, "bob")
    store = SqliteStore(first.hub.settings.sqlite_path())
    await store.open()
    await add_user(store)
    await store.close()

    async with running_hub(tmp_path, events=KEEP_ALL) as second:
        resumed = second.hub.bus.subscribe(EventFilter(), since=last_seen[-1])
        await new_user(second, "cyd")

        assert [2, 3, 4] == await take(resumed, 3)
        assert 0 == resumed.queued


async def test_a_subscriber_that_left_for_100_writes_resumes_with_exactly_those(
    tmp_path: Path,
) -> None:
    async with running_hub(tmp_path) as running:
        first = running.hub.bus.subscribe(EventFilter())
        await new_user(running, "first")
        last_seen = (await take(first, 1))[-1]
        first.close()
        for number in range(100):
            await new_user(running, f"user{number}")

        resumed = running.hub.bus.subscribe(EventFilter(), since=last_seen)

        assert list(range(last_seen + 1, last_seen + 101)) == await take(resumed, 100)


async def test_stopping_the_hub_ends_every_subscription(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as running:
        subscription = running.hub.bus.subscribe(EventFilter())
        await new_user(running, "ada")
        delivered = await take(subscription, 1)

    assert [1] == delivered
    assert [] == await rest(subscription)
