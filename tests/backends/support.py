"""Helpers of the backend tests: a server, rich-status decoding, tree invariants, and a
small world of users and mindmaps to aim requests at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.rpc.error_details_pb2 import BadRequest, ErrorInfo, ResourceInfo
from google.rpc.status_pb2 import Status
from grpc_status import rpc_status

from hub.backends.decoding import MalformedRequests
from hub.backends.mindmaps import MindmapService
from hub.backends.users import UserService
from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    GetMindmapRequest,
    ListMindmapsRequest,
    Mindmap,
    Node,
)
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    ListUsersRequest,
    Plan,
    UpdateUserRequest,
    User,
)
from hub.storage.store import Store

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

M = TypeVar("M", bound=Message)


async def serve(store: Store) -> tuple[grpc.aio.Server, str]:
    """Starts a server with both servicers over `store` on 127.0.0.1:0, set up as a backend
    server must be (with `MalformedRequests`); returns it and its address."""
    server = grpc.aio.server(interceptors=[MalformedRequests()], options=[("grpc.so_reuseport", 0)])
    user_pb2_grpc.add_UserServiceServicer_to_server(UserService(store), server)
    mindmap_pb2_grpc.add_MindmapServiceServicer_to_server(MindmapService(store), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


# Rich status --------------------------------------------------------------------------------


def rich_status(error: grpc.aio.AioRpcError) -> Status:
    """The `google.rpc.Status` in the error's `grpc-status-details-bin` trailer."""
    status = rpc_status.from_call(error)
    assert isinstance(status, Status), f"no rich status in {error!r}"
    return status


def _details(error: grpc.aio.AioRpcError, kind: type[M]) -> list[M]:
    found: list[M] = []
    for packed in rich_status(error).details:
        detail = kind()
        if packed.Unpack(detail):
            found.append(detail)
    return found


def error_info(error: grpc.aio.AioRpcError) -> ErrorInfo:
    """The one ErrorInfo detail of the error."""
    (info,) = _details(error, ErrorInfo)
    return info


def resource_info(error: grpc.aio.AioRpcError) -> ResourceInfo:
    """The one ResourceInfo detail of the error."""
    (info,) = _details(error, ResourceInfo)
    return info


def bad_request(error: grpc.aio.AioRpcError) -> BadRequest:
    """The one BadRequest detail of the error."""
    (found,) = _details(error, BadRequest)
    return found


def violation_fields(error: grpc.aio.AioRpcError) -> list[str]:
    """The field names of the BadRequest field violations, sorted (each field once)."""
    return sorted(v.field for v in bad_request(error).field_violations)


# Events -------------------------------------------------------------------------------------


async def all_events(store: Store) -> list[Event]:
    """Every event in the outbox, by id."""
    return await store.read_outbox(0, 100_000)


# Trees --------------------------------------------------------------------------------------


def assert_sound_tree(nodes: Sequence[Node]) -> None:
    """One root; unique ids; every parent exists; parents before children; positions dense
    (0..n-1) and in order among siblings."""
    roots = [n for n in nodes if not n.parent_id]
    assert 1 == len(roots), f"roots: {roots}"
    assert roots[0] is nodes[0]
    ids = [n.id for n in nodes]
    assert len(ids) == len(set(ids))
    seen: set[str] = set()
    children: dict[str, list[int]] = {}
    for node in nodes:
        if node.parent_id:
            assert node.parent_id in seen, f"{node.id} comes before its parent"
        seen.add(node.id)
        children.setdefault(node.parent_id, []).append(node.position)
    for positions in children.values():
        assert list(range(len(positions))) == positions


# A world to aim requests at -----------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Two users; `owner` owns two mindmaps; `mindmap` (the first) has root → a → b.

    The stale etags were current once and have been superseded by a later write.
    """

    users: UserServiceAsyncStub
    mindmaps: MindmapServiceAsyncStub
    owner: User
    other: User
    stale_user_etag: str
    mindmap: Mindmap
    stale_mindmap_etag: str
    users_page_token: str
    owner_mindmaps_page_token: str

    @property
    def root_id(self) -> str:
        return self.mindmap.nodes[0].id

    @property
    def a_id(self) -> str:
        return self.mindmap.nodes[1].id

    @property
    def b_id(self) -> str:
        return self.mindmap.nodes[2].id


async def build_world(users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub) -> World:
    """Creates the world of `World` through the RPCs."""
    created = await users.CreateUser(
        CreateUserRequest(user=User(email="Owner@Example.com", display_name="Owner"))
    )
    stale_user_etag = created.user.etag
    owner = (
        await users.UpdateUser(
            UpdateUserRequest(
                user=User(id=created.user.id, plan=Plan.PLAN_PRO),
                update_mask=FieldMask(paths=["plan"]),
            )
        )
    ).user
    other = (
        await users.CreateUser(
            CreateUserRequest(user=User(email="other@example.com", display_name="Other"))
        )
    ).user
    first = (
        await mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=owner.id, title="First"))
        )
    ).mindmap
    await mindmaps.CreateMindmap(
        CreateMindmapRequest(mindmap=Mindmap(owner_id=owner.id, title="Second"))
    )
    a = await mindmaps.AddNode(
        AddNodeRequest(mindmap_id=first.id, node=Node(parent_id=first.nodes[0].id, text="a"))
    )
    await mindmaps.AddNode(
        AddNodeRequest(mindmap_id=first.id, node=Node(parent_id=a.node.id, text="b"))
    )
    mindmap = (await mindmaps.GetMindmap(GetMindmapRequest(id=first.id))).mindmap
    users_page = await users.ListUsers(ListUsersRequest(page_size=1))
    mindmaps_page = await mindmaps.ListMindmaps(ListMindmapsRequest(owner_id=owner.id, page_size=1))
    return World(
        users=users,
        mindmaps=mindmaps,
        owner=owner,
        other=other,
        stale_user_etag=stale_user_etag,
        mindmap=mindmap,
        stale_mindmap_etag=first.etag,
        users_page_token=users_page.next_page_token,
        owner_mindmaps_page_token=mindmaps_page.next_page_token,
    )
