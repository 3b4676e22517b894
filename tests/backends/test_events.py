"""The outbox: exactly one event per committed write, with the right type, subject, owner,
payload, time, actor and traceparent; none for a rejected write."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from hub.backends.events import Payload, event_type
from hub.contracts.events.v1.events_pb2 import (
    Event,
    MindmapCreated,
    MindmapDeleted,
    MindmapUpdated,
    NodeAdded,
    NodeDeleted,
    NodeMoved,
    NodeUpdated,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    DeleteMindmapRequest,
    DeleteNodeRequest,
    Mindmap,
    MoveNodeRequest,
    Node,
    UpdateMindmapRequest,
    UpdateNodeRequest,
)
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    DeleteUserRequest,
    Plan,
    UpdateUserRequest,
    User,
)
from hub.storage.store import Store
from tests.backends.support import all_events

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub


class Outbox:
    """Reads the events committed since the last look."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._seen = 0

    async def new(self) -> list[Event]:
        events = await self._store.read_outbox(self._seen, 1000)
        if events:
            self._seen = events[-1].id
        return events


def test_every_payload_kind_has_its_dotted_type() -> None:
    payloads: list[Payload] = [
        UserCreated(),
        UserUpdated(),
        UserDeleted(),
        MindmapCreated(),
        MindmapUpdated(),
        MindmapDeleted(),
        NodeAdded(),
        NodeUpdated(),
        NodeMoved(),
        NodeDeleted(),
    ]
    expected = [
        "user.created",
        "user.updated",
        "user.deleted",
        "mindmap.created",
        "mindmap.updated",
        "mindmap.deleted",
        "mindmap.node_added",
        "mindmap.node_updated",
        "mindmap.node_moved",
        "mindmap.node_deleted",
    ]
    assert expected == [event_type(p) for p in payloads]
    oneof = Event.DESCRIPTOR.oneofs_by_name["payload"]
    assert len(oneof.fields) == len(payloads)


async def test_each_committed_write_leaves_exactly_its_event(
    store: Store, users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    outbox = Outbox(store)

    user = (
        await users.CreateUser(
            CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
        )
    ).user
    (created,) = await outbox.new()
    assert ("user.created", f"users/{user.id}", user.id) == (
        created.type,
        created.subject,
        created.owner_id,
    )
    assert UserCreated(user=user) == created.user_created
    assert user.create_time == created.time

    user = (
        await users.UpdateUser(
            UpdateUserRequest(
                user=User(id=user.id, plan=Plan.PLAN_TEAM), update_mask=FieldMask(paths=["plan"])
            )
        )
    ).user
    (updated,) = await outbox.new()
    assert ("user.updated", f"users/{user.id}", user.id) == (
        updated.type,
        updated.subject,
        updated.owner_id,
    )
    expected_update = UserUpdated(
        user=user, update_mask=FieldMask(paths=["plan"]), previous_plan=Plan.PLAN_FREE
    )
    assert expected_update == updated.user_updated
    assert user.update_time == updated.time

    mindmap = (
        await mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=user.id, title="Plans"))
        )
    ).mindmap
    subject = f"mindmaps/{mindmap.id}"
    (mindmap_created,) = await outbox.new()
    assert ("mindmap.created", subject, user.id) == (
        mindmap_created.type,
        mindmap_created.subject,
        mindmap_created.owner_id,
    )
    assert MindmapCreated(mindmap=mindmap) == mindmap_created.mindmap_created

    root_id = mindmap.nodes[0].id
    added = await mindmaps.AddNode(
        AddNodeRequest(mindmap_id=mindmap.id, node=Node(parent_id=root_id, text="a"))
    )
    (node_added,) = await outbox.new()
    assert ("mindmap.node_added", subject, user.id) == (
        node_added.type,
        node_added.subject,
        node_added.owner_id,
    )
    expected_added = NodeAdded(mindmap_id=mindmap.id, node=added.node, etag=added.mindmap.etag)
    assert expected_added == node_added.node_added
    assert added.mindmap.update_time == node_added.time

    other = await mindmaps.AddNode(
        AddNodeRequest(mindmap_id=mindmap.id, node=Node(parent_id=root_id, text="b"))
    )
    await outbox.new()

    text_changed = await mindmaps.UpdateNode(
        UpdateNodeRequest(mindmap_id=mindmap.id, node=Node(id=added.node.id, text="A"))
    )
    (node_updated,) = await outbox.new()
    expected_node_update = NodeUpdated(
        mindmap_id=mindmap.id,
        node=text_changed.node,
        update_mask=FieldMask(paths=["text"]),
        etag=text_changed.mindmap.etag,
    )
    assert ("mindmap.node_updated", expected_node_update) == (
        node_updated.type,
        node_updated.node_updated,
    )

    moved = await mindmaps.MoveNode(
        MoveNodeRequest(mindmap_id=mindmap.id, node_id=added.node.id, new_parent_id=other.node.id)
    )
    (node_moved,) = await outbox.new()
    expected_move = NodeMoved(
        mindmap_id=mindmap.id, node=moved.node, old_parent_id=root_id, etag=moved.mindmap.etag
    )
    assert ("mindmap.node_moved", expected_move) == (node_moved.type, node_moved.node_moved)

    retitled = await mindmaps.UpdateMindmap(
        UpdateMindmapRequest(mindmap=Mindmap(id=mindmap.id, title="New"))
    )
    (mindmap_updated,) = await outbox.new()
    basic = Mindmap()
    basic.CopyFrom(retitled.mindmap)
    basic.ClearField("nodes")
    expected_mindmap_update = MindmapUpdated(
        mindmap=basic, update_mask=FieldMask(paths=["title", "description"])
    )
    assert ("mindmap.updated", expected_mindmap_update) == (
        mindmap_updated.type,
        mindmap_updated.mindmap_updated,
    )

    pruned = await mindmaps.DeleteNode(
        DeleteNodeRequest(mindmap_id=mindmap.id, node_id=other.node.id)
    )
    (node_deleted,) = await outbox.new()
    expected_delete = NodeDeleted(
        mindmap_id=mindmap.id,
        node_id=other.node.id,
        deleted_node_ids=[other.node.id, added.node.id],
        etag=pruned.mindmap.etag,
    )
    assert ("mindmap.node_deleted", expected_delete) == (
        node_deleted.type,
        node_deleted.node_deleted,
    )

    await mindmaps.DeleteMindmap(DeleteMindmapRequest(id=mindmap.id))
    (mindmap_deleted,) = await outbox.new()
    assert ("mindmap.deleted", subject, user.id, MindmapDeleted(mindmap_id=mindmap.id)) == (
        mindmap_deleted.type,
        mindmap_deleted.subject,
        mindmap_deleted.owner_id,
        mindmap_deleted.mindmap_deleted,
    )

    await users.DeleteUser(DeleteUserRequest(id=user.id))
    (user_deleted,) = await outbox.new()
    assert ("user.deleted", f"users/{user.id}", user.id, UserDeleted(user_id=user.id)) == (
        user_deleted.type,
        user_deleted.subject,
        user_deleted.owner_id,
        user_deleted.user_deleted,
    )


async def test_a_rejected_write_leaves_no_event(store: Store, users: UserServiceAsyncStub) -> None:
    request = CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
    user = (await users.CreateUser(request)).user
    before = await all_events(store)
    with pytest.raises(grpc.aio.AioRpcError):
        await users.CreateUser(request)  # email taken: the store refuses
    with pytest.raises(grpc.aio.AioRpcError):
        await users.UpdateUser(UpdateUserRequest(user=User(id=user.id, etag="stale")))
    with pytest.raises(grpc.aio.AioRpcError):
        await users.CreateUser(CreateUserRequest())  # invalid: never reaches the store
    assert before == await all_events(store)


async def test_actor_and_traceparent_come_from_the_call_metadata(
    store: Store, users: UserServiceAsyncStub
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    metadata = (("x-hub-principal", "user:alice"), ("traceparent", traceparent))
    await users.CreateUser(
        CreateUserRequest(user=User(email="a@example.com", display_name="A")), metadata=metadata
    )
    await users.CreateUser(CreateUserRequest(user=User(email="b@example.com", display_name="B")))
    with_origin, anonymous = await all_events(store)
    assert ("user:alice", traceparent) == (with_origin.actor, with_origin.traceparent)
    assert ("", "") == (anonymous.actor, anonymous.traceparent)
