"""A table of bad requests, one or more for every RPC of both services, over a real server.

Each case names the exact status code it must get and, for INVALID_ARGUMENT, the exact set
of fields of the BadRequest violations (decoded from `grpc-status-details-bin`). Every
answer carries an ErrorInfo of domain "hub", no case is UNKNOWN or INTERNAL, and no
rejected request leaves an event in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from hub.contracts.mindmap.v1 import mindmap_pb2
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
from hub.contracts.user.v1 import user_pb2
from hub.contracts.user.v1.user_pb2 import (
    BatchGetUsersRequest,
    CreateUserRequest,
    DeleteUserRequest,
    GetUserRequest,
    ListUsersRequest,
    Plan,
    UpdateUserRequest,
    User,
)
from hub.storage.store import Store
from tests.backends.support import (
    World,
    all_events,
    build_world,
    error_info,
    resource_info,
    violation_fields,
)

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
EXISTS = grpc.StatusCode.ALREADY_EXISTS
ABORTED = grpc.StatusCode.ABORTED
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

USER = "hub.user.v1.User"
MINDMAP = "hub.mindmap.v1.Mindmap"
NODE = "hub.mindmap.v1.Node"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

USER_RPCS = {m.name for m in user_pb2.DESCRIPTOR.services_by_name["UserService"].methods}
MINDMAP_RPCS = {m.name for m in mindmap_pb2.DESCRIPTOR.services_by_name["MindmapService"].methods}


@dataclass(frozen=True)
class Case:
    """One bad request: `request` builds it against the world; the rest is the answer.

    `fields`: the BadRequest field names (INVALID_ARGUMENT only); `reason`: the ErrorInfo
    reason; `resource`: the ResourceInfo resource type (NOT_FOUND, ALREADY_EXISTS only).
    """

    name: str
    rpc: str
    request: Callable[[World], Message]
    code: grpc.StatusCode
    fields: frozenset[str] = frozenset()
    reason: str = ""
    resource: str = ""


def invalid(rpc: str, name: str, fields: str, request: Callable[[World], Message]) -> Case:
    """INVALID_ARGUMENT with violations on exactly the space-separated `fields`."""
    return Case(
        f"{rpc}: {name}", rpc, request, INVALID, frozenset(fields.split()), "INVALID_ARGUMENT"
    )


def not_found(rpc: str, name: str, resource: str, request: Callable[[World], Message]) -> Case:
    return Case(f"{rpc}: {name}", rpc, request, NOT_FOUND, reason="NOT_FOUND", resource=resource)


def aborted(rpc: str, name: str, request: Callable[[World], Message]) -> Case:
    return Case(f"{rpc}: {name}", rpc, request, ABORTED, reason="ETAG_MISMATCH")


def mask(*paths: str) -> FieldMask:
    return FieldMask(paths=list(paths))


def long(length: int) -> str:
    return "x" * length


# fmt: off
CASES = [
    # UserService ----------------------------------------------------------------------------
    invalid("CreateUser", "empty", "user.email user.display_name",
            lambda w: CreateUserRequest()),
    invalid("CreateUser", "blank name, unknown plan", "user.display_name user.plan",
            lambda w: CreateUserRequest(user=User(email="a@example.com", display_name="  ",
                                                  plan=Plan.ValueType(9)))),
    invalid("CreateUser", "oversized", "user.email user.display_name",
            lambda w: CreateUserRequest(user=User(email=long(250) + "@b.co",
                                                  display_name=long(101)))),
    invalid("CreateUser", "bad email", "user.email",
            lambda w: CreateUserRequest(user=User(email="not-an-email", display_name="Ada"))),
    invalid("CreateUser", "email with a space", "user.email",
            lambda w: CreateUserRequest(user=User(email="a b@example.com", display_name="A"))),
    invalid("CreateUser", "name of white space that ECMA 262 does not count as such",
            "user.display_name",
            lambda w: CreateUserRequest(user=User(email="a@example.com",
                                                  display_name="\x1c\x1f\x85"))),
    invalid("CreateUser", "name of 100 characters padded to 101", "user.display_name",
            lambda w: CreateUserRequest(user=User(email="a@example.com",
                                                  display_name=" " + long(100)))),
    Case("CreateUser: email taken, other case", "CreateUser",
         lambda w: CreateUserRequest(user=User(email=w.owner.email.upper(), display_name="B")),
         EXISTS, reason="EMAIL_TAKEN", resource=USER),
    invalid("GetUser", "no id", "id",
            lambda w: GetUserRequest()),
    not_found("GetUser", "unknown id", USER,
              lambda w: GetUserRequest(id=UNKNOWN_ID)),
    invalid("GetUser", "oversized id", "id",
            lambda w: GetUserRequest(id=long(10_000))),
    invalid("BatchGetUsers", "no ids", "ids",
            lambda w: BatchGetUsersRequest()),
    invalid("BatchGetUsers", "1001 ids", "ids",
            lambda w: BatchGetUsersRequest(ids=[w.owner.id] * 1001)),
    invalid("BatchGetUsers", "empty and oversized ids: the first bad one", "ids[1]",
            lambda w: BatchGetUsersRequest(ids=[w.owner.id, "", long(65)] * 300)),
    invalid("BatchGetUsers", "too many, and an oversized id", "ids ids[1000]",
            lambda w: BatchGetUsersRequest(ids=[w.owner.id] * 1000 + [long(65)])),
    invalid("ListUsers", "page_size -1", "page_size",
            lambda w: ListUsersRequest(page_size=-1)),
    invalid("ListUsers", "page_size 1001", "page_size",
            lambda w: ListUsersRequest(page_size=1001)),
    invalid("ListUsers", "garbage token", "page_token",
            lambda w: ListUsersRequest(page_token="garbage!")),
    invalid("ListUsers", "token of ListMindmaps", "page_token",
            lambda w: ListUsersRequest(page_token=w.owner_mindmaps_page_token)),
    invalid("ListUsers", "bad size and token", "page_size page_token",
            lambda w: ListUsersRequest(page_size=-5, page_token="x")),
    invalid("UpdateUser", "unknown mask path", "update_mask",
            lambda w: UpdateUserRequest(user=User(id=w.owner.id),
                                        update_mask=mask("create_time"))),
    invalid("UpdateUser", "'*' with a path", "update_mask",
            lambda w: UpdateUserRequest(user=User(id=w.owner.id, plan=Plan.PLAN_PRO),
                                        update_mask=mask("*", "plan"))),
    invalid("UpdateUser", "no id, bad email", "user.id user.email",
            lambda w: UpdateUserRequest(user=User(email="nope"), update_mask=mask("email"))),
    invalid("UpdateUser", "empty mask, empty fields (no plan means free)",
            "user.email user.display_name",
            lambda w: UpdateUserRequest(user=User(id=w.owner.id))),
    invalid("UpdateUser", "bad email outside the mask", "user.email",
            lambda w: UpdateUserRequest(user=User(id=w.owner.id, email="nope"),
                                        update_mask=mask("plan"))),
    invalid("UpdateUser", "unknown plan", "user.plan",
            lambda w: UpdateUserRequest(user=User(id=w.owner.id, plan=Plan.ValueType(4)),
                                        update_mask=mask("plan"))),
    not_found("UpdateUser", "unknown id", USER,
              lambda w: UpdateUserRequest(user=User(id=UNKNOWN_ID, display_name="X"),
                                          update_mask=mask("display_name"))),
    aborted("UpdateUser", "stale etag",
            lambda w: UpdateUserRequest(user=User(id=w.owner.id, display_name="X",
                                                  etag=w.stale_user_etag),
                                        update_mask=mask("display_name"))),
    Case("UpdateUser: email of another user", "UpdateUser",
         lambda w: UpdateUserRequest(user=User(id=w.other.id, email=w.owner.email),
                                     update_mask=mask("email")),
         EXISTS, reason="EMAIL_TAKEN", resource=USER),
    invalid("DeleteUser", "no id", "id",
            lambda w: DeleteUserRequest()),
    not_found("DeleteUser", "unknown id", USER,
              lambda w: DeleteUserRequest(id=UNKNOWN_ID)),
    aborted("DeleteUser", "stale etag",
            lambda w: DeleteUserRequest(id=w.owner.id, etag=w.stale_user_etag)),
    Case("DeleteUser: owns mindmaps", "DeleteUser",
         lambda w: DeleteUserRequest(id=w.owner.id),
         PRECONDITION, reason="USER_HAS_MINDMAPS"),
    # MindmapService -------------------------------------------------------------------------
    invalid("CreateMindmap", "empty", "mindmap.owner_id mindmap.title",
            lambda w: CreateMindmapRequest()),
    invalid("CreateMindmap", "oversized", "mindmap.title mindmap.description",
            lambda w: CreateMindmapRequest(mindmap=Mindmap(owner_id=w.owner.id, title=long(201),
                                                           description=long(2001)))),
    invalid("CreateMindmap", "client nodes", "mindmap.nodes",
            lambda w: CreateMindmapRequest(mindmap=Mindmap(owner_id=w.owner.id, title="T",
                                                           nodes=[Node(text="root")]))),
    Case("CreateMindmap: unknown owner", "CreateMindmap",
         lambda w: CreateMindmapRequest(mindmap=Mindmap(owner_id=UNKNOWN_ID, title="T")),
         NOT_FOUND, reason="OWNER_NOT_FOUND", resource=USER),
    invalid("GetMindmap", "no id, unknown view", "id view",
            lambda w: GetMindmapRequest(view=MindmapView.ValueType(7))),
    not_found("GetMindmap", "unknown id", MINDMAP,
              lambda w: GetMindmapRequest(id=UNKNOWN_ID)),
    invalid("BatchGetMindmaps", "no ids", "ids",
            lambda w: BatchGetMindmapsRequest()),
    invalid("BatchGetMindmaps", "an empty id", "ids[0]",
            lambda w: BatchGetMindmapsRequest(ids=["", w.mindmap.id])),
    invalid("BatchGetMindmaps", "1001 ids, unknown view", "ids view",
            lambda w: BatchGetMindmapsRequest(ids=[w.mindmap.id] * 1001,
                                              view=MindmapView.ValueType(-1))),
    invalid("BatchListMindmaps", "no owner ids", "owner_ids",
            lambda w: BatchListMindmapsRequest()),
    invalid("BatchListMindmaps", "an empty owner id, page_size 101", "owner_ids[1] page_size",
            lambda w: BatchListMindmapsRequest(owner_ids=[w.owner.id, ""], page_size=101)),
    invalid("BatchListMindmaps", "1001 owner ids, unknown view", "owner_ids view",
            lambda w: BatchListMindmapsRequest(owner_ids=[w.owner.id] * 1001,
                                               view=MindmapView.ValueType(9))),
    invalid("ListMindmaps", "page_size -1", "page_size",
            lambda w: ListMindmapsRequest(page_size=-1)),
    invalid("ListMindmaps", "page_size 1001", "page_size",
            lambda w: ListMindmapsRequest(page_size=1001)),
    invalid("ListMindmaps", "token of another owner", "page_token",
            lambda w: ListMindmapsRequest(owner_id=w.other.id,
                                          page_token=w.owner_mindmaps_page_token)),
    invalid("ListMindmaps", "owner's token without the owner", "page_token",
            lambda w: ListMindmapsRequest(page_token=w.owner_mindmaps_page_token)),
    invalid("ListMindmaps", "token of ListUsers", "page_token",
            lambda w: ListMindmapsRequest(owner_id=w.owner.id, page_token=w.users_page_token)),
    invalid("ListMindmaps", "unknown view", "view",
            lambda w: ListMindmapsRequest(view=MindmapView.ValueType(3))),
    invalid("ListMindmaps", "oversized owner id", "owner_id",
            lambda w: ListMindmapsRequest(owner_id=long(65))),
    invalid("UpdateMindmap", "owner is fixed", "update_mask",
            lambda w: UpdateMindmapRequest(mindmap=Mindmap(id=w.mindmap.id, owner_id=w.other.id),
                                           update_mask=mask("owner_id"))),
    invalid("UpdateMindmap", "no id, blank title", "mindmap.id mindmap.title",
            lambda w: UpdateMindmapRequest(mindmap=Mindmap(title=" "))),
    invalid("UpdateMindmap", "long description", "mindmap.description",
            lambda w: UpdateMindmapRequest(mindmap=Mindmap(id=w.mindmap.id,
                                                           description=long(2001)),
                                           update_mask=mask("description"))),
    not_found("UpdateMindmap", "unknown id", MINDMAP,
              lambda w: UpdateMindmapRequest(mindmap=Mindmap(id=UNKNOWN_ID, title="T"),
                                             update_mask=mask("title"))),
    aborted("UpdateMindmap", "stale etag",
            lambda w: UpdateMindmapRequest(mindmap=Mindmap(id=w.mindmap.id, title="T",
                                                           etag=w.stale_mindmap_etag),
                                           update_mask=mask("title"))),
    invalid("DeleteMindmap", "no id", "id",
            lambda w: DeleteMindmapRequest()),
    not_found("DeleteMindmap", "unknown id", MINDMAP,
              lambda w: DeleteMindmapRequest(id=UNKNOWN_ID)),
    aborted("DeleteMindmap", "stale etag",
            lambda w: DeleteMindmapRequest(id=w.mindmap.id, etag=w.stale_mindmap_etag)),
    invalid("AddNode", "empty", "mindmap_id node.text",
            lambda w: AddNodeRequest()),
    invalid("AddNode", "long text, negative position", "node.text position",
            lambda w: AddNodeRequest(mindmap_id=w.mindmap.id, position=-1,
                                     node=Node(parent_id=w.root_id, text=long(501)))),
    not_found("AddNode", "unknown mindmap", MINDMAP,
              lambda w: AddNodeRequest(mindmap_id=UNKNOWN_ID,
                                       node=Node(parent_id=w.root_id, text="t"))),
    not_found("AddNode", "unknown parent", NODE,
              lambda w: AddNodeRequest(mindmap_id=w.mindmap.id,
                                       node=Node(parent_id=UNKNOWN_ID, text="t"))),
    aborted("AddNode", "stale etag",
            lambda w: AddNodeRequest(mindmap_id=w.mindmap.id, etag=w.stale_mindmap_etag,
                                     node=Node(parent_id=w.root_id, text="t"))),
    invalid("UpdateNode", "empty", "mindmap_id node.id node.text",
            lambda w: UpdateNodeRequest()),
    invalid("UpdateNode", "many huge unknown mask paths", "update_mask",
            lambda w: UpdateNodeRequest(mindmap_id=w.mindmap.id, node=Node(id=w.a_id, text="t"),
                                        update_mask=mask(*[long(1000)] * 1000))),
    invalid("UpdateNode", "blank text", "node.text",
            lambda w: UpdateNodeRequest(mindmap_id=w.mindmap.id,
                                        node=Node(id=w.a_id, text=" \t\n"))),
    invalid("UpdateNode", "unknown mask path", "update_mask",
            lambda w: UpdateNodeRequest(mindmap_id=w.mindmap.id, node=Node(id=w.a_id, text="t"),
                                        update_mask=mask("parent_id"))),
    not_found("UpdateNode", "unknown node", NODE,
              lambda w: UpdateNodeRequest(mindmap_id=w.mindmap.id,
                                          node=Node(id=UNKNOWN_ID, text="t"))),
    aborted("UpdateNode", "stale etag",
            lambda w: UpdateNodeRequest(mindmap_id=w.mindmap.id, etag=w.stale_mindmap_etag,
                                        node=Node(id=w.a_id, text="t"))),
    invalid("MoveNode", "empty", "mindmap_id node_id new_parent_id",
            lambda w: MoveNodeRequest()),
    invalid("MoveNode", "negative position", "position",
            lambda w: MoveNodeRequest(mindmap_id=w.mindmap.id, node_id=w.b_id,
                                      new_parent_id=w.root_id, position=-3)),
    invalid("MoveNode", "under its descendant", "new_parent_id",
            lambda w: MoveNodeRequest(mindmap_id=w.mindmap.id, node_id=w.a_id,
                                      new_parent_id=w.b_id)),
    invalid("MoveNode", "under itself", "new_parent_id",
            lambda w: MoveNodeRequest(mindmap_id=w.mindmap.id, node_id=w.a_id,
                                      new_parent_id=w.a_id)),
    invalid("MoveNode", "the root", "node_id",
            lambda w: MoveNodeRequest(mindmap_id=w.mindmap.id, node_id=w.root_id,
                                      new_parent_id=w.b_id)),
    not_found("MoveNode", "unknown node", NODE,
              lambda w: MoveNodeRequest(mindmap_id=w.mindmap.id, node_id=UNKNOWN_ID,
                                        new_parent_id=w.root_id)),
    not_found("MoveNode", "unknown new parent", NODE,
              lambda w: MoveNodeRequest(mindmap_id=w.mindmap.id, node_id=w.b_id,
                                        new_parent_id=UNKNOWN_ID)),
    aborted("MoveNode", "stale etag",
            lambda w: MoveNodeRequest(mindmap_id=w.mindmap.id, node_id=w.b_id,
                                      new_parent_id=w.root_id, etag=w.stale_mindmap_etag)),
    invalid("DeleteNode", "empty", "mindmap_id node_id",
            lambda w: DeleteNodeRequest()),
    invalid("DeleteNode", "the root", "node_id",
            lambda w: DeleteNodeRequest(mindmap_id=w.mindmap.id, node_id=w.root_id)),
    invalid("DeleteNode", "oversized ids", "mindmap_id node_id",
            lambda w: DeleteNodeRequest(mindmap_id=long(65), node_id="😀" * 65)),
    not_found("DeleteNode", "unknown node", NODE,
              lambda w: DeleteNodeRequest(mindmap_id=w.mindmap.id, node_id=UNKNOWN_ID)),
    not_found("DeleteNode", "unknown mindmap", MINDMAP,
              lambda w: DeleteNodeRequest(mindmap_id=UNKNOWN_ID, node_id=w.a_id)),
    aborted("DeleteNode", "stale etag",
            lambda w: DeleteNodeRequest(mindmap_id=w.mindmap.id, node_id=w.b_id,
                                        etag=w.stale_mindmap_etag)),
]
# fmt: on


def test_the_table_covers_every_rpc_of_both_services() -> None:
    """So every RPC is proven to answer with rich status (i.e. is wrapped by `status.rpc`)."""
    assert USER_RPCS | MINDMAP_RPCS == {case.rpc for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_bad_request(
    case: Case, store: Store, users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    world = await build_world(users, mindmaps)
    events_before = await all_events(store)
    call = getattr(users if case.rpc in USER_RPCS else mindmaps, case.rpc)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(case.request(world))

    error = raised.value
    assert error.code() not in {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
    assert case.code == error.code()
    info = error_info(error)
    assert ("hub", case.reason) == (info.domain, info.reason)
    if case.code == INVALID:
        assert sorted(case.fields) == violation_fields(error)
    if case.resource:
        assert case.resource == resource_info(error).resource_type
    assert events_before == await all_events(store)
