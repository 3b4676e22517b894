"""Builders of the messages the storage tests write, and a check for rejected writes.

Every builder makes fresh ids and etags, so tests never collide with each other's data.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap, Node
from hub.contracts.user.v1.user_pb2 import Plan, User
from hub.errors import DomainError
from hub.storage.store import Store

E = TypeVar("E", bound=DomainError)
Kind = Literal["created", "updated", "deleted"]

USER = "hub.user.v1.User"
MINDMAP = "hub.mindmap.v1.Mindmap"


def new_id() -> str:
    return str(uuid.uuid4())


def new_etag() -> str:
    return secrets.token_hex(8)


def at(seconds: int) -> Timestamp:
    """A time with nanoseconds, so that storing it loses nothing only if it is exact."""
    return Timestamp(seconds=1_767_225_600 + seconds, nanos=123_456_789)


def new_user(email: str = "") -> User:
    user_id = new_id()
    return User(
        id=user_id,
        email=email or f"{user_id}@example.com",
        display_name="Ada Lovelace",
        plan=Plan.PLAN_PRO,
        create_time=at(0),
        update_time=at(0),
        etag=new_etag(),
    )


def changed_user(user: User, **fields: str) -> User:
    """`user` as an update writes it: other name (or `fields`), plan, time and etag."""
    changed = User()
    changed.CopyFrom(user)
    changed.display_name = "Countess of Lovelace"
    changed.plan = Plan.PLAN_TEAM
    changed.update_time.CopyFrom(at(60))
    changed.etag = new_etag()
    for name, value in fields.items():
        setattr(changed, name, value)
    return changed


def new_mindmap(owner_id: str) -> Mindmap:
    root = Node(id=new_id(), parent_id="", text="Holiday", position=0)
    children = [
        Node(id=new_id(), parent_id=root.id, text=text, position=position)
        for position, text in enumerate(["Route ✈", 'Packing "list"'])
    ]
    return Mindmap(
        id=new_id(),
        owner_id=owner_id,
        title="Holiday",
        description="Where to, and what to take",
        nodes=[root, *children],
        node_count=3,
        create_time=at(0),
        update_time=at(0),
        etag=new_etag(),
    )


def changed_mindmap(mindmap: Mindmap, title: str = "Holiday 2026") -> Mindmap:
    """`mindmap` as an update writes it: new title, one more node, new time and etag."""
    changed = Mindmap()
    changed.CopyFrom(mindmap)
    changed.title = title
    changed.nodes.append(
        Node(id=new_id(), parent_id=mindmap.nodes[0].id, text="Budget", position=2)
    )
    changed.node_count = len(changed.nodes)
    changed.update_time.CopyFrom(at(60))
    changed.etag = new_etag()
    return changed


def user_event(kind: Kind, user: User) -> Event:
    event = Event(
        type=f"user.{kind}",
        time=user.update_time,
        subject=f"users/{user.id}",
        owner_id=user.id,
        actor="users/admin",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    if kind == "created":
        event.user_created.user.CopyFrom(user)
    elif kind == "updated":
        event.user_updated.user.CopyFrom(user)
    else:
        event.user_deleted.user_id = user.id
    return event


def mindmap_event(kind: Kind, mindmap: Mindmap) -> Event:
    event = Event(
        type=f"mindmap.{kind}",
        time=mindmap.update_time,
        subject=f"mindmaps/{mindmap.id}",
        owner_id=mindmap.owner_id,
    )
    if kind == "created":
        event.mindmap_created.mindmap.CopyFrom(mindmap)
    elif kind == "updated":
        event.mindmap_updated.mindmap.CopyFrom(mindmap)
    else:
        event.mindmap_deleted.mindmap_id = mindmap.id
    return event


def summary(mindmap: Mindmap) -> Mindmap:
    """`mindmap` as a read without nodes returns it."""
    without_nodes = Mindmap()
    without_nodes.CopyFrom(mindmap)
    del without_nodes.nodes[:]
    return without_nodes


async def add_user(store: Store, email: str = "") -> User:
    user = new_user(email)
    await store.insert_user(user, user_event("created", user))
    return user


async def add_mindmap(store: Store, owner_id: str) -> Mindmap:
    mindmap = new_mindmap(owner_id)
    await store.insert_mindmap(mindmap, mindmap_event("created", mindmap))
    return mindmap


async def outbox(store: Store) -> list[Event]:
    return await store.read_outbox(0, 1_000_000)


async def rejected(store: Store, write: Callable[[], Awaitable[int]], error: type[E]) -> E:
    """Runs a write that must fail with `error`, and checks that it left no outbox row."""
    before = await outbox(store)
    with pytest.raises(error) as caught:
        await write()
    assert before == await outbox(store)
    return caught.value
