"""Authorization in the backends, RPC by RPC, over a real server: a user reads and changes
only their own profile and mindmaps, an admin everything, an anonymous call (no principal:
the gateway let it through) is not restricted; a user is refused a mindmap that is not theirs
and one that does not exist alike (AIP-211)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    BatchGetMindmapsRequest,
    BatchListMindmapsRequest,
    CreateMindmapRequest,
    DeleteMindmapRequest,
    GetMindmapRequest,
    ListMindmapsRequest,
    Mindmap,
    Node,
    UpdateMindmapRequest,
)
from hub.contracts.user.v1.user_pb2 import (
    BatchGetUsersRequest,
    CreateUserRequest,
    DeleteUserRequest,
    GetUserRequest,
    ListUsersRequest,
    UpdateUserRequest,
    User,
)
from hub.principal import Principal
from tests.backends.support import error_info

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub


def as_(subject: str, *roles: str) -> tuple[tuple[str, str], ...]:
    return Principal(subject, frozenset(roles)).metadata()


async def _setup(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> tuple[str, str, str, str]:
    """Two users, each with one mindmap: (ada, bob, ada's mindmap, bob's mindmap)."""
    ids = []
    for name in ("ada", "bob"):
        reply = await users.CreateUser(
            CreateUserRequest(user=User(email=f"{name}@example.com", display_name=name))
        )
        ids.append(reply.user.id)
    maps = []
    for owner in ids:
        created = await mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=owner, title="plans")),
            metadata=as_(owner),
        )
        maps.append(created.mindmap.id)
    return ids[0], ids[1], maps[0], maps[1]


Call = Callable[[Any, Any, tuple[str, str, str, str]], Awaitable[object]]

CALLS: dict[str, tuple[Call, Call]] = {
    # name: (a call on ada's own data, the same call on bob's), both made as ada
    "GetUser": (
        lambda u, m, ids: u.GetUser(GetUserRequest(id=ids[0]), metadata=as_(ids[0])),
        lambda u, m, ids: u.GetUser(GetUserRequest(id=ids[1]), metadata=as_(ids[0])),
    ),
    "BatchGetUsers": (
        lambda u, m, ids: u.BatchGetUsers(BatchGetUsersRequest(ids=[ids[0]]), metadata=as_(ids[0])),
        lambda u, m, ids: u.BatchGetUsers(
            BatchGetUsersRequest(ids=[ids[0], ids[1]]), metadata=as_(ids[0])
        ),
    ),
    "UpdateUser": (
        lambda u, m, ids: u.UpdateUser(
            UpdateUserRequest(
                user=User(id=ids[0], display_name="Ada"),
                update_mask=FieldMask(paths=["display_name"]),
            ),
            metadata=as_(ids[0]),
        ),
        lambda u, m, ids: u.UpdateUser(
            UpdateUserRequest(
                user=User(id=ids[1], display_name="Bob"),
                update_mask=FieldMask(paths=["display_name"]),
            ),
            metadata=as_(ids[0]),
        ),
    ),
    "CreateMindmap": (
        lambda u, m, ids: m.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=ids[0], title="more")),
            metadata=as_(ids[0]),
        ),
        lambda u, m, ids: m.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=ids[1], title="more")),
            metadata=as_(ids[0]),
        ),
    ),
    "GetMindmap": (
        lambda u, m, ids: m.GetMindmap(GetMindmapRequest(id=ids[2]), metadata=as_(ids[0])),
        lambda u, m, ids: m.GetMindmap(GetMindmapRequest(id=ids[3]), metadata=as_(ids[0])),
    ),
    "BatchGetMindmaps": (
        lambda u, m, ids: m.BatchGetMindmaps(
            BatchGetMindmapsRequest(ids=[ids[2]]), metadata=as_(ids[0])
        ),
        lambda u, m, ids: m.BatchGetMindmaps(
            BatchGetMindmapsRequest(ids=[ids[2], ids[3]]), metadata=as_(ids[0])
        ),
    ),
    "ListMindmaps": (
        lambda u, m, ids: m.ListMindmaps(
            ListMindmapsRequest(owner_id=ids[0]), metadata=as_(ids[0])
        ),
        lambda u, m, ids: m.ListMindmaps(
            ListMindmapsRequest(owner_id=ids[1]), metadata=as_(ids[0])
        ),
    ),
    "BatchListMindmaps": (
        lambda u, m, ids: m.BatchListMindmaps(
            BatchListMindmapsRequest(owner_ids=[ids[0]]), metadata=as_(ids[0])
        ),
        lambda u, m, ids: m.BatchListMindmaps(
            BatchListMindmapsRequest(owner_ids=[ids[0], ids[1]]), metadata=as_(ids[0])
        ),
    ),
    "UpdateMindmap": (
        lambda u, m, ids: m.UpdateMindmap(
            UpdateMindmapRequest(
                mindmap=Mindmap(id=ids[2], title="new"), update_mask=FieldMask(paths=["title"])
            ),
            metadata=as_(ids[0]),
        ),
        lambda u, m, ids: m.UpdateMindmap(
            UpdateMindmapRequest(
                mindmap=Mindmap(id=ids[3], title="new"), update_mask=FieldMask(paths=["title"])
            ),
            metadata=as_(ids[0]),
        ),
    ),
    "AddNode": (
        lambda u, m, ids: m.AddNode(
            AddNodeRequest(mindmap_id=ids[2], node=Node(text="x")), metadata=as_(ids[0])
        ),
        lambda u, m, ids: m.AddNode(
            AddNodeRequest(mindmap_id=ids[3], node=Node(text="x")), metadata=as_(ids[0])
        ),
    ),
    "DeleteMindmap": (
        lambda u, m, ids: m.DeleteMindmap(DeleteMindmapRequest(id=ids[2]), metadata=as_(ids[0])),
        lambda u, m, ids: m.DeleteMindmap(DeleteMindmapRequest(id=ids[3]), metadata=as_(ids[0])),
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_a_user_may_act_on_their_own_data_only(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub, name: str
) -> None:
    ids = await _setup(users, mindmaps)
    own, other = CALLS[name]

    await own(users, mindmaps, ids)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await other(users, mindmaps, ids)

    assert (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED") == (
        refused.value.code(),
        error_info(refused.value).reason,
    )


async def test_listing_every_user_or_every_mindmap_is_for_admins(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    ada, _, _, _ = await _setup(users, mindmaps)

    for call in (
        users.ListUsers(ListUsersRequest(), metadata=as_(ada)),
        mindmaps.ListMindmaps(ListMindmapsRequest(), metadata=as_(ada)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert grpc.StatusCode.PERMISSION_DENIED == refused.value.code()
    listed = await users.ListUsers(ListUsersRequest(), metadata=as_("root", "admin"))
    assert 2 == len(listed.users)


async def test_an_admin_acts_on_anyones_data(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    _, bob, _, bobs_map = await _setup(users, mindmaps)
    admin = as_("root", "admin")

    user = await users.GetUser(GetUserRequest(id=bob), metadata=admin)
    mindmap = await mindmaps.GetMindmap(GetMindmapRequest(id=bobs_map), metadata=admin)

    assert ("bob", bob) == (user.user.display_name, mindmap.mindmap.owner_id)


async def test_a_missing_mindmap_and_someone_elses_are_refused_alike(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    ada, _, _, bobs_map = await _setup(users, mindmaps)
    answers = []
    for mindmap_id in (bobs_map, "no-such-mindmap"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap_id), metadata=as_(ada))
        answers.append(refused.value.code())

    assert [grpc.StatusCode.PERMISSION_DENIED] * 2 == answers
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await mindmaps.GetMindmap(
            GetMindmapRequest(id="no-such-mindmap"), metadata=as_("root", "admin")
        )
    assert grpc.StatusCode.NOT_FOUND == missing.value.code()


async def test_anonymous_calls_are_not_restricted_by_the_backend(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    _, bob, _, bobs_map = await _setup(users, mindmaps)

    user = await users.GetUser(GetUserRequest(id=bob))
    mindmap = await mindmaps.GetMindmap(GetMindmapRequest(id=bobs_map))

    assert (bob, bob) == (user.user.id, mindmap.mindmap.owner_id)


async def test_a_user_may_not_delete_another_user(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    ada, bob, _, _ = await _setup(users, mindmaps)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await users.DeleteUser(DeleteUserRequest(id=bob), metadata=as_(ada))

    assert grpc.StatusCode.PERMISSION_DENIED == refused.value.code()
