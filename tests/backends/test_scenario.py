"""One full story through both services, checked against the outbox at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf.field_mask_pb2 import FieldMask

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    DeleteNodeRequest,
    GetMindmapRequest,
    ListMindmapsRequest,
    Mindmap,
    MoveNodeRequest,
    Node,
    UpdateMindmapRequest,
    UpdateNodeRequest,
)
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, Plan, UpdateUserRequest, User
from hub.storage.store import Store
from tests.backends.support import all_events, assert_sound_tree

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub


async def test_a_user_builds_reshapes_and_prunes_mindmaps(
    store: Store, users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    ada = (
        await users.CreateUser(
            CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
        )
    ).user
    ada = (
        await users.UpdateUser(
            UpdateUserRequest(
                user=User(id=ada.id, plan=Plan.PLAN_PRO, etag=ada.etag),
                update_mask=FieldMask(paths=["plan"]),
            )
        )
    ).user
    plans = (
        await mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=ada.id, title="Plans"))
        )
    ).mindmap
    root = plans.nodes[0].id

    # Grow: root → (work → (report), home); each write chains on the previous etag.
    etag = plans.etag
    ids: dict[str, str] = {}
    for text, parent in [("work", root), ("home", root), ("report", "work")]:
        response = await mindmaps.AddNode(
            AddNodeRequest(
                mindmap_id=plans.id,
                node=Node(parent_id=ids.get(parent, parent), text=text),
                etag=etag,
            )
        )
        ids[text], etag = response.node.id, response.mindmap.etag

    # Reshape: home goes first under work; report is renamed; the map is retitled.
    moved = await mindmaps.MoveNode(
        MoveNodeRequest(
            mindmap_id=plans.id, node_id=ids["home"], new_parent_id=ids["work"], position=0
        )
    )
    await mindmaps.UpdateNode(
        UpdateNodeRequest(
            mindmap_id=plans.id,
            node=Node(id=ids["report"], text="Q3 report"),
            etag=moved.mindmap.etag,
        )
    )
    await mindmaps.UpdateMindmap(
        UpdateMindmapRequest(
            mindmap=Mindmap(id=plans.id, title="Plans 2026"), update_mask=FieldMask(paths=["title"])
        )
    )
    reshaped = (await mindmaps.GetMindmap(GetMindmapRequest(id=plans.id))).mindmap
    assert_sound_tree(reshaped.nodes)
    assert ["Plans", "work", "home", "Q3 report"] == [n.text for n in reshaped.nodes]
    assert "Plans 2026" == reshaped.title

    # Prune: deleting work takes home and the report with it.
    pruned = (
        await mindmaps.DeleteNode(DeleteNodeRequest(mindmap_id=plans.id, node_id=ids["work"]))
    ).mindmap
    assert (["Plans"], 1) == ([n.text for n in pruned.nodes], pruned.node_count)

    # More mindmaps, then list them all, two per page.
    titles = ["Plans 2026"]
    for i in range(6):
        titles.append(f"Map {i}")
        await mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=ada.id, title=f"Map {i}"))
        )
    pages: list[list[Mindmap]] = []
    token = ""
    while not pages or token:
        page = await mindmaps.ListMindmaps(
            ListMindmapsRequest(owner_id=ada.id, page_size=2, page_token=token)
        )
        pages.append(list(page.mindmaps))
        token = page.next_page_token
    listed = [m for page_items in pages for m in page_items]
    assert [2, 2, 2, 1] == [len(p) for p in pages]
    assert titles == [m.title for m in listed]
    assert len(listed) == len({m.id for m in listed})

    expected_types = [
        "user.created",
        "user.updated",
        "mindmap.created",
        "mindmap.node_added",
        "mindmap.node_added",
        "mindmap.node_added",
        "mindmap.node_moved",
        "mindmap.node_updated",
        "mindmap.updated",
        "mindmap.node_deleted",
        *["mindmap.created"] * 6,
    ]
    events = await all_events(store)
    assert expected_types == [e.type for e in events]
    assert [e.id for e in events] == sorted({e.id for e in events})
    assert {ada.id} == {e.owner_id for e in events}
