"""Concurrent writes to one mindmap: stale writes are rejected, never lost or half-applied,
and the stored tree stays sound whatever interleaving the server picks."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from hub.backends.writes import MAX_ATTEMPTS
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    DeleteNodeRequest,
    GetMindmapRequest,
    Mindmap,
    MoveNodeRequest,
    Node,
    UpdateMindmapRequest,
)
from hub.storage.store import Store
from tests.backends.support import all_events, assert_sound_tree, build_world

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

WRITERS = 20


async def outcomes(calls: list[Awaitable[Message]]) -> list[grpc.StatusCode]:
    """The status code of each call, run concurrently."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    codes = []
    for result in results:
        if isinstance(result, grpc.aio.AioRpcError):
            codes.append(result.code())
        else:
            assert isinstance(result, Message), result
            codes.append(grpc.StatusCode.OK)
    return codes


async def test_concurrent_updates_with_one_etag_let_exactly_one_through(
    store: Store, users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    world = await build_world(users, mindmaps)
    events_before = len(await all_events(store))
    calls: list[Awaitable[Message]] = [
        mindmaps.UpdateMindmap(
            UpdateMindmapRequest(
                mindmap=Mindmap(id=world.mindmap.id, title=f"title {i}", etag=world.mindmap.etag),
                update_mask=FieldMask(paths=["title"]),
            )
        )
        for i in range(WRITERS)
    ]
    codes = await outcomes(calls)
    assert {grpc.StatusCode.OK: 1, grpc.StatusCode.ABORTED: WRITERS - 1} == Counter(codes)

    winner = f"title {codes.index(grpc.StatusCode.OK)}"
    stored = (await mindmaps.GetMindmap(GetMindmapRequest(id=world.mindmap.id))).mindmap
    assert winner == stored.title
    assert world.mindmap.nodes == stored.nodes
    events = (await all_events(store))[events_before:]
    assert [("mindmap.updated", winner)] == [
        (e.type, e.mindmap_updated.mindmap.title) for e in events
    ]


async def test_concurrent_moves_with_one_etag_let_exactly_one_through(
    store: Store, users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    world = await build_world(users, mindmaps)
    leaves = []
    for i in range(WRITERS):
        leaf = Node(parent_id=world.root_id, text=f"leaf {i}")
        added = await mindmaps.AddNode(AddNodeRequest(mindmap_id=world.mindmap.id, node=leaf))
        leaves.append(added.node.id)
    current = (await mindmaps.GetMindmap(GetMindmapRequest(id=world.mindmap.id))).mindmap
    events_before = len(await all_events(store))
    calls: list[Awaitable[Message]] = [
        mindmaps.MoveNode(
            MoveNodeRequest(
                mindmap_id=world.mindmap.id,
                node_id=leaf,
                new_parent_id=world.b_id,
                etag=current.etag,
            )
        )
        for leaf in leaves
    ]
    codes = await outcomes(calls)
    assert {grpc.StatusCode.OK: 1, grpc.StatusCode.ABORTED: WRITERS - 1} == Counter(codes)

    stored = (await mindmaps.GetMindmap(GetMindmapRequest(id=world.mindmap.id))).mindmap
    assert_sound_tree(stored.nodes)
    moved = leaves[codes.index(grpc.StatusCode.OK)]
    assert [moved] == [n.id for n in stored.nodes if n.parent_id == world.b_id]
    assert ["mindmap.node_moved"] == [e.type for e in (await all_events(store))[events_before:]]


async def test_concurrent_adds_without_etag_all_apply(
    store: Store, users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    """Up to MAX_ATTEMPTS writers without etag all get through: each lost swap means
    another writer's swap won, so nobody loses more than MAX_ATTEMPTS - 1 times."""
    world = await build_world(users, mindmaps)
    events_before = len(await all_events(store))
    calls: list[Awaitable[Message]] = [
        mindmaps.AddNode(
            AddNodeRequest(
                mindmap_id=world.mindmap.id, node=Node(parent_id=world.root_id, text=f"n{i}")
            )
        )
        for i in range(MAX_ATTEMPTS)
    ]
    assert [grpc.StatusCode.OK] * MAX_ATTEMPTS == await outcomes(calls)

    stored = (await mindmaps.GetMindmap(GetMindmapRequest(id=world.mindmap.id))).mindmap
    assert_sound_tree(stored.nodes)
    added = sorted(n.text for n in stored.nodes if n.text.startswith("n"))
    assert sorted(f"n{i}" for i in range(MAX_ATTEMPTS)) == added
    events = (await all_events(store))[events_before:]
    assert ["mindmap.node_added"] * MAX_ATTEMPTS == [e.type for e in events]
    assert stored.etag == events[-1].node_added.etag


async def test_a_storm_of_writes_without_etag_keeps_the_tree_sound(
    store: Store, users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    """Random concurrent adds, moves and deletes: each one applies whole or is refused with a
    domain status, and there is one event per applied write."""
    world = await build_world(users, mindmaps)
    chance = random.Random(7)
    ids = [world.root_id, world.a_id, world.b_id]
    for i in range(10):
        response = await mindmaps.AddNode(
            AddNodeRequest(
                mindmap_id=world.mindmap.id, node=Node(parent_id=chance.choice(ids), text=f"{i}")
            )
        )
        ids.append(response.node.id)
    events_before = len(await all_events(store))

    calls: list[Awaitable[Message]] = []
    for i in range(3 * WRITERS):
        target, other = chance.choice(ids), chance.choice(ids)
        kind = chance.choice(["add", "add", "move", "move", "move", "delete"])
        if kind == "add":
            node = Node(parent_id=target, text=f"storm {i}")
            calls.append(mindmaps.AddNode(AddNodeRequest(mindmap_id=world.mindmap.id, node=node)))
        elif kind == "move":
            move = MoveNodeRequest(
                mindmap_id=world.mindmap.id, node_id=target, new_parent_id=other, position=0
            )
            calls.append(mindmaps.MoveNode(move))
        else:
            delete = DeleteNodeRequest(mindmap_id=world.mindmap.id, node_id=target)
            calls.append(mindmaps.DeleteNode(delete))
    codes = await outcomes(calls)

    allowed = {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,  # root, or a cycle in the tree of that moment
        grpc.StatusCode.NOT_FOUND,  # a node deleted by an earlier write
        grpc.StatusCode.ABORTED,  # lost the swap MAX_ATTEMPTS times
    }
    assert set(codes) <= allowed
    stored = (await mindmaps.GetMindmap(GetMindmapRequest(id=world.mindmap.id))).mindmap
    assert_sound_tree(stored.nodes)
    assert len(stored.nodes) == stored.node_count
    events = (await all_events(store))[events_before:]
    assert codes.count(grpc.StatusCode.OK) == len(events)
    assert stored.etag == getattr(events[-1], str(events[-1].WhichOneof("payload"))).etag
