"""MindmapService over a real server and SQLite file: what each RPC does when it succeeds."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    BatchGetMindmapsRequest,
    BatchListMindmapsRequest,
    CreateMindmapRequest,
    DeleteMindmapRequest,
    DeleteNodeRequest,
    GetMindmapRequest,
    ListMindmapsRequest,
    Mindmap,
    MindmapView,
    MoveNodeRequest,
    Node,
    UpdateMindmapRequest,
    UpdateNodeRequest,
)
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from tests.backends.support import assert_sound_tree

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

FULL = MindmapView.MINDMAP_VIEW_FULL
BASIC = MindmapView.MINDMAP_VIEW_BASIC


@pytest.fixture
async def owner(users: UserServiceAsyncStub) -> User:
    request = CreateUserRequest(user=User(email="owner@example.com", display_name="Owner"))
    return (await users.CreateUser(request)).user


async def create(mindmaps: MindmapServiceAsyncStub, owner: User, title: str = "Plans") -> Mindmap:
    request = CreateMindmapRequest(mindmap=Mindmap(owner_id=owner.id, title=title))
    return (await mindmaps.CreateMindmap(request)).mindmap


async def add(
    mindmaps: MindmapServiceAsyncStub, mindmap_id: str, parent_id: str, text: str
) -> Node:
    request = AddNodeRequest(mindmap_id=mindmap_id, node=Node(parent_id=parent_id, text=text))
    return (await mindmaps.AddNode(request)).node


def texts(mindmap: Mindmap) -> list[tuple[str, int]]:
    """(text, position) of every node, in the mindmap's order."""
    by_id = {n.id: n for n in mindmap.nodes}
    return [
        (f"{by_id[n.parent_id].text}/{n.text}" if n.parent_id else n.text, n.position)
        for n in mindmap.nodes
    ]


async def test_create_makes_the_root_node_from_the_title(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    request = CreateMindmapRequest(
        mindmap=Mindmap(
            id="client-id", owner_id=owner.id, title="  Plans ", description=" d ", node_count=9
        )
    )
    mindmap = (await mindmaps.CreateMindmap(request)).mindmap
    assert str(uuid.UUID(mindmap.id)) == mindmap.id
    assert (owner.id, "Plans", " d ", 1) == (
        mindmap.owner_id,
        mindmap.title,
        mindmap.description,
        mindmap.node_count,
    )
    (root,) = mindmap.nodes
    assert ("", "Plans", 0) == (root.parent_id, root.text, root.position)
    assert mindmap.create_time == mindmap.update_time
    assert mindmap == (await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap.id))).mindmap


async def test_get_views_full_by_default_basic_without_nodes(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    mindmap = await create(mindmaps, owner)
    await add(mindmaps, mindmap.id, mindmap.nodes[0].id, "idea")
    full = (await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap.id))).mindmap
    basic = (await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap.id, view=BASIC))).mindmap
    assert (2, 2) == (len(full.nodes), full.node_count)
    assert (0, 2) == (len(basic.nodes), basic.node_count)
    expected_basic = Mindmap()
    expected_basic.CopyFrom(full)
    expected_basic.ClearField("nodes")
    assert expected_basic == basic


async def test_batch_get_keeps_order_and_duplicates_full_by_default(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    first, second = await create(mindmaps, owner, "1"), await create(mindmaps, owner, "2")
    ids = [second.id, "nope", first.id, second.id]
    response = await mindmaps.BatchGetMindmaps(BatchGetMindmapsRequest(ids=ids))
    assert [second, first, second] == list(response.mindmaps)
    assert ["nope"] == list(response.missing_ids)
    basic = await mindmaps.BatchGetMindmaps(BatchGetMindmapsRequest(ids=ids, view=BASIC))
    assert [0, 0, 0] == [len(m.nodes) for m in basic.mindmaps]


async def test_list_is_basic_by_default_filters_by_owner_and_pages(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    other = (
        await users.CreateUser(
            CreateUserRequest(user=User(email="other@example.com", display_name="Other"))
        )
    ).user
    mine = [await create(mindmaps, owner, f"mine {i}") for i in range(3)]
    theirs = await create(mindmaps, other, "theirs")

    page = await mindmaps.ListMindmaps(ListMindmapsRequest(owner_id=owner.id, page_size=2))
    assert [m.id for m in mine[:2]] == [m.id for m in page.mindmaps]
    assert [0, 0] == [len(m.nodes) for m in page.mindmaps]
    assert [1, 1] == [m.node_count for m in page.mindmaps]
    last = await mindmaps.ListMindmaps(
        ListMindmapsRequest(owner_id=owner.id, page_size=2, page_token=page.next_page_token)
    )
    assert ([mine[2].id], "") == ([m.id for m in last.mindmaps], last.next_page_token)

    everyone = await mindmaps.ListMindmaps(ListMindmapsRequest(view=FULL))
    assert [*mine, theirs] == list(everyone.mindmaps)


async def test_batch_list_gives_each_owner_its_first_page_in_request_order(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    """One page per requested owner (repeats and owners without mindmaps included), whose
    token continues that owner's list with ListMindmaps."""
    other = (
        await users.CreateUser(
            CreateUserRequest(user=User(email="other@example.com", display_name="Other"))
        )
    ).user
    mine = [await create(mindmaps, owner, f"mine {i}") for i in range(3)]
    theirs = await create(mindmaps, other, "theirs")

    batch = await mindmaps.BatchListMindmaps(
        BatchListMindmapsRequest(owner_ids=[other.id, owner.id, "nobody", other.id], page_size=2)
    )

    assert [[theirs.id], [m.id for m in mine[:2]], [], [theirs.id]] == [
        [m.id for m in page.mindmaps] for page in batch.pages
    ]
    assert [0, 0] == [len(m.nodes) for m in batch.pages[1].mindmaps]
    rest = await mindmaps.ListMindmaps(
        ListMindmapsRequest(
            owner_id=owner.id, page_size=2, page_token=batch.pages[1].next_page_token
        )
    )
    assert [mine[2].id] == [m.id for m in rest.mindmaps]
    full = await mindmaps.BatchListMindmaps(
        BatchListMindmapsRequest(owner_ids=[other.id], view=FULL)
    )
    assert [theirs] == list(full.pages[0].mindmaps)


async def test_update_changes_the_masked_fields_and_not_the_root_text(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    mindmap = await create(mindmaps, owner)
    request = UpdateMindmapRequest(
        mindmap=Mindmap(id=mindmap.id, title="ignored", description="Now described"),
        update_mask=FieldMask(paths=["description"]),
    )
    updated = (await mindmaps.UpdateMindmap(request)).mindmap
    assert ("Plans", "Now described") == (updated.title, updated.description)
    renamed = (
        await mindmaps.UpdateMindmap(
            UpdateMindmapRequest(
                mindmap=Mindmap(id=mindmap.id, title="Renamed", etag=updated.etag),
                update_mask=FieldMask(paths=["title"]),
            )
        )
    ).mindmap
    assert ("Renamed", "Plans") == (renamed.title, renamed.nodes[0].text)
    assert len({mindmap.etag, updated.etag, renamed.etag}) == 3
    assert renamed == (await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap.id))).mindmap


async def test_delete_removes_the_mindmap(mindmaps: MindmapServiceAsyncStub, owner: User) -> None:
    first, second = await create(mindmaps, owner), await create(mindmaps, owner)
    await mindmaps.DeleteMindmap(DeleteMindmapRequest(id=first.id))
    await mindmaps.DeleteMindmap(DeleteMindmapRequest(id=second.id, etag=second.etag))
    response = await mindmaps.BatchGetMindmaps(BatchGetMindmapsRequest(ids=[first.id, second.id]))
    assert [first.id, second.id] == list(response.missing_ids)


async def test_add_node_places_it_and_answers_with_node_and_mindmap(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    mindmap = await create(mindmaps, owner)
    root_id = mindmap.nodes[0].id
    await add(mindmaps, mindmap.id, root_id, "b")
    response = await mindmaps.AddNode(
        AddNodeRequest(mindmap_id=mindmap.id, node=Node(parent_id=root_id, text=" a "), position=0)
    )
    assert ("a", 0, root_id) == (
        response.node.text,
        response.node.position,
        response.node.parent_id,
    )
    clamped = await mindmaps.AddNode(
        AddNodeRequest(
            mindmap_id=mindmap.id,
            node=Node(parent_id=root_id, text="c", position=0),  # output only: ignored
            position=2**31 - 1,
            etag=response.mindmap.etag,
        )
    )
    assert 2 == clamped.node.position
    assert [("Plans", 0), ("Plans/a", 0), ("Plans/b", 1), ("Plans/c", 2)] == texts(clamped.mindmap)
    assert 4 == clamped.mindmap.node_count
    assert clamped.mindmap == (await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap.id))).mindmap


async def test_add_node_without_a_parent_adds_it_under_the_root(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    mindmap = await create(mindmaps, owner)
    response = await mindmaps.AddNode(
        AddNodeRequest(mindmap_id=mindmap.id, node=Node(text="top level"))
    )
    assert mindmap.nodes[0].id == response.node.parent_id
    assert [("Plans", 0), ("Plans/top level", 0)] == texts(response.mindmap)


async def test_update_node_changes_its_text(mindmaps: MindmapServiceAsyncStub, owner: User) -> None:
    mindmap = await create(mindmaps, owner)
    idea = await add(mindmaps, mindmap.id, mindmap.nodes[0].id, "idea")
    response = await mindmaps.UpdateNode(
        UpdateNodeRequest(mindmap_id=mindmap.id, node=Node(id=idea.id, text=" better idea "))
    )
    assert "better idea" == response.node.text
    assert [("Plans", 0), ("Plans/better idea", 0)] == texts(response.mindmap)


async def test_the_root_text_can_be_edited(mindmaps: MindmapServiceAsyncStub, owner: User) -> None:
    mindmap = await create(mindmaps, owner)
    response = await mindmaps.UpdateNode(
        UpdateNodeRequest(mindmap_id=mindmap.id, node=Node(id=mindmap.nodes[0].id, text="Root"))
    )
    assert ("Plans", "Root") == (response.mindmap.title, response.mindmap.nodes[0].text)


async def test_move_node_takes_its_subtree_and_keeps_positions_dense(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    mindmap = await create(mindmaps, owner)
    root_id = mindmap.nodes[0].id
    a = await add(mindmaps, mindmap.id, root_id, "a")
    await add(mindmaps, mindmap.id, a.id, "a1")
    b = await add(mindmaps, mindmap.id, root_id, "b")
    await add(mindmaps, mindmap.id, root_id, "c")
    response = await mindmaps.MoveNode(
        MoveNodeRequest(mindmap_id=mindmap.id, node_id=a.id, new_parent_id=b.id)
    )
    assert (b.id, 0) == (response.node.parent_id, response.node.position)
    expected = [("Plans", 0), ("Plans/b", 0), ("b/a", 0), ("a/a1", 0), ("Plans/c", 1)]
    assert expected == texts(response.mindmap)
    back = await mindmaps.MoveNode(
        MoveNodeRequest(
            mindmap_id=mindmap.id,
            node_id=a.id,
            new_parent_id=root_id,
            position=1,
            etag=response.mindmap.etag,
        )
    )
    expected = [("Plans", 0), ("Plans/b", 0), ("Plans/a", 1), ("a/a1", 0), ("Plans/c", 2)]
    assert expected == texts(back.mindmap)
    assert_sound_tree(back.mindmap.nodes)


async def test_delete_node_removes_its_subtree(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    mindmap = await create(mindmaps, owner)
    root_id = mindmap.nodes[0].id
    a = await add(mindmaps, mindmap.id, root_id, "a")
    await add(mindmaps, mindmap.id, a.id, "a1")
    await add(mindmaps, mindmap.id, root_id, "b")
    response = await mindmaps.DeleteNode(DeleteNodeRequest(mindmap_id=mindmap.id, node_id=a.id))
    assert [("Plans", 0), ("Plans/b", 0)] == texts(response.mindmap)
    assert 2 == response.mindmap.node_count


async def test_a_write_with_a_stale_etag_changes_nothing(
    mindmaps: MindmapServiceAsyncStub, owner: User
) -> None:
    mindmap = await create(mindmaps, owner)
    await add(mindmaps, mindmap.id, mindmap.nodes[0].id, "a")
    before = (await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap.id))).mindmap
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await mindmaps.AddNode(
            AddNodeRequest(
                mindmap_id=mindmap.id,
                node=Node(parent_id=mindmap.nodes[0].id, text="late"),
                etag=mindmap.etag,
            )
        )
    assert grpc.StatusCode.ABORTED == raised.value.code()
    assert before == (await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap.id))).mindmap
