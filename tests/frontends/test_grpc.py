"""The public gRPC front end forwards every method, unchanged, over both backend bindings:
results, error status with rich details, metadata (less `x-hub-*`), and deadlines."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc import aio
from grpc_status import rpc_status

from hub.client import SERVICE_DESCRIPTORS, method_path
from hub.config import SERVICE_NAMES
from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
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
    MoveNodeRequest,
    Node,
    UpdateMindmapRequest,
    UpdateNodeRequest,
)
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import (
    BatchGetUsersRequest,
    CreateUserRequest,
    DeleteUserRequest,
    GetUserRequest,
    ListUsersRequest,
    UpdateUserRequest,
    User,
)
from hub.testing import Binding, RunningHub
from tests.frontends.conftest import Forwarding, backend_address, frontend_for

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class _MethodRecorder(aio.UnaryUnaryClientInterceptor):
    """Notes the path of every unary call made through the channel it is installed on."""

    def __init__(self) -> None:
        self.methods: set[str] = set()

    async def intercept_unary_unary(
        self,
        continuation: Callable[
            [aio.ClientCallDetails, Req], Awaitable[aio.UnaryUnaryCall[Req, Resp]]
        ],
        client_call_details: aio.ClientCallDetails,
        request: Req,
    ) -> aio.UnaryUnaryCall[Req, Resp]:
        method: str | bytes = client_call_details.method  # bytes at run time, despite the stubs
        self.methods.add(method.decode() if isinstance(method, bytes) else method)
        return await continuation(client_call_details, request)


async def test_every_rpc_is_forwarded(running: RunningHub) -> None:
    """A scenario that calls each method of both services through the front end once."""
    recorder = _MethodRecorder()
    async with aio.insecure_channel(running.target, interceptors=[recorder]) as channel:
        users: UserServiceAsyncStub = user_pb2_grpc.UserServiceStub(channel)
        mindmaps: MindmapServiceAsyncStub = mindmap_pb2_grpc.MindmapServiceStub(channel)

        user = (
            await users.CreateUser(
                CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
            )
        ).user
        assert user == (await users.GetUser(GetUserRequest(id=user.id))).user
        batch = await users.BatchGetUsers(BatchGetUsersRequest(ids=[user.id, UNKNOWN_ID]))
        assert ([user], [UNKNOWN_ID]) == (list(batch.users), list(batch.missing_ids))
        assert [user] == list((await users.ListUsers(ListUsersRequest())).users)
        renamed = await users.UpdateUser(
            UpdateUserRequest(
                user=User(id=user.id, display_name="Ada L."),
                update_mask=FieldMask(paths=["display_name"]),
            )
        )
        assert "Ada L." == renamed.user.display_name

        mindmap = (
            await mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=user.id, title="Plans"))
            )
        ).mindmap
        assert mindmap == (await mindmaps.GetMindmap(GetMindmapRequest(id=mindmap.id))).mindmap
        fetched = await mindmaps.BatchGetMindmaps(BatchGetMindmapsRequest(ids=[mindmap.id]))
        assert [mindmap] == list(fetched.mindmaps)
        listed = await mindmaps.ListMindmaps(ListMindmapsRequest(owner_id=user.id))
        pages = await mindmaps.BatchListMindmaps(BatchListMindmapsRequest(owner_ids=[user.id]))
        assert [mindmap.id] == [m.id for m in pages.pages[0].mindmaps]
        assert [mindmap.id] == [m.id for m in listed.mindmaps]
        retitled = await mindmaps.UpdateMindmap(
            UpdateMindmapRequest(
                mindmap=Mindmap(id=mindmap.id, title="Big plans"),
                update_mask=FieldMask(paths=["title"]),
            )
        )
        assert "Big plans" == retitled.mindmap.title

        root = mindmap.nodes[0].id
        a = await mindmaps.AddNode(
            AddNodeRequest(mindmap_id=mindmap.id, node=Node(parent_id=root, text="a"))
        )
        b = await mindmaps.AddNode(
            AddNodeRequest(mindmap_id=mindmap.id, node=Node(parent_id=root, text="b"))
        )
        edited = await mindmaps.UpdateNode(
            UpdateNodeRequest(mindmap_id=mindmap.id, node=Node(id=a.node.id, text="A"))
        )
        assert "A" == edited.node.text
        moved = await mindmaps.MoveNode(
            MoveNodeRequest(mindmap_id=mindmap.id, node_id=b.node.id, new_parent_id=a.node.id)
        )
        assert a.node.id == moved.node.parent_id
        pruned = await mindmaps.DeleteNode(
            DeleteNodeRequest(mindmap_id=mindmap.id, node_id=b.node.id)
        )
        assert [root, a.node.id] == [n.id for n in pruned.mindmap.nodes]
        await mindmaps.DeleteMindmap(DeleteMindmapRequest(id=mindmap.id))
        await users.DeleteUser(DeleteUserRequest(id=user.id))

    every_method = {
        method_path(descriptor, method.name)
        for descriptor in SERVICE_DESCRIPTORS.values()
        for method in descriptor.methods
    }
    assert every_method == recorder.methods


@dataclass(frozen=True)
class _World:
    """A user who owns a mindmap with one child node, and the user's superseded etag."""

    owner: User
    stale_etag: str
    mindmap: Mindmap


async def _build_world(users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub) -> _World:
    created = await users.CreateUser(
        CreateUserRequest(user=User(email="owner@example.com", display_name="Owner"))
    )
    owner = (
        await users.UpdateUser(
            UpdateUserRequest(
                user=User(id=created.user.id, display_name="Owner 2"),
                update_mask=FieldMask(paths=["display_name"]),
            )
        )
    ).user
    mindmap = (
        await mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=owner.id, title="Tree"))
        )
    ).mindmap
    added = await mindmaps.AddNode(
        AddNodeRequest(mindmap_id=mindmap.id, node=Node(parent_id=mindmap.nodes[0].id, text="a"))
    )
    return _World(owner=owner, stale_etag=created.user.etag, mindmap=added.mindmap)


_Failing = Callable[["UserServiceAsyncStub", "MindmapServiceAsyncStub", _World], Awaitable[Any]]

ERROR_CASES: dict[str, tuple[grpc.StatusCode, _Failing]] = {
    "field violations": (
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda u, m, w: u.CreateUser(
            CreateUserRequest(user=User(email="not an address", display_name=""))
        ),
    ),
    "not found": (
        grpc.StatusCode.NOT_FOUND,
        lambda u, m, w: u.GetUser(GetUserRequest(id=UNKNOWN_ID)),
    ),
    "email taken": (
        grpc.StatusCode.ALREADY_EXISTS,
        lambda u, m, w: u.CreateUser(
            CreateUserRequest(user=User(email=w.owner.email.upper(), display_name="Twin"))
        ),
    ),
    "stale etag": (
        grpc.StatusCode.ABORTED,
        lambda u, m, w: u.UpdateUser(
            UpdateUserRequest(
                user=User(id=w.owner.id, display_name="X", etag=w.stale_etag),
                update_mask=FieldMask(paths=["display_name"]),
            )
        ),
    ),
    "user owns mindmaps": (
        grpc.StatusCode.FAILED_PRECONDITION,
        lambda u, m, w: u.DeleteUser(DeleteUserRequest(id=w.owner.id)),
    ),
    "unknown owner": (
        grpc.StatusCode.NOT_FOUND,
        lambda u, m, w: m.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=UNKNOWN_ID, title="Orphan"))
        ),
    ),
    "move under itself": (
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda u, m, w: m.MoveNode(
            MoveNodeRequest(
                mindmap_id=w.mindmap.id,
                node_id=w.mindmap.nodes[1].id,
                new_parent_id=w.mindmap.nodes[1].id,
            )
        ),
    ),
    "bad page token": (
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda u, m, w: u.ListUsers(ListUsersRequest(page_token="not a token")),
    ),
}


async def _failure(call: Awaitable[Any]) -> aio.AioRpcError:
    with pytest.raises(aio.AioRpcError) as raised:
        await call
    return raised.value


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
async def test_errors_arrive_as_the_backend_sent_them(running: RunningHub, case: str) -> None:
    """Code, message and rich status (field violations, ErrorInfo, ResourceInfo...) through the
    front end equal those of the same call made straight to the backend."""
    expected_code, failing = ERROR_CASES[case]
    world = await _build_world(running.users, running.mindmaps)
    targets = running.backend_targets
    async with (
        aio.insecure_channel(targets["user-service"]) as users_channel,
        aio.insecure_channel(targets["mindmap-service"]) as mindmaps_channel,
    ):
        direct = await _failure(
            failing(
                user_pb2_grpc.UserServiceStub(users_channel),
                mindmap_pb2_grpc.MindmapServiceStub(mindmaps_channel),
                world,
            )
        )
    forwarded = await _failure(failing(running.users, running.mindmaps, world))

    assert expected_code == direct.code()
    assert (direct.code(), direct.details()) == (forwarded.code(), forwarded.details())
    direct_status = rpc_status.from_call(direct)
    assert direct_status is not None
    assert len(direct_status.details) > 0
    assert direct_status == rpc_status.from_call(forwarded)


async def test_caller_cannot_claim_a_principal(running: RunningHub) -> None:
    """A client-sent `x-hub-principal` never reaches the backend: the write's event has no
    actor, while the caller's `traceparent` does arrive."""
    await running.users.CreateUser(
        CreateUserRequest(user=User(email="eve@example.com", display_name="Eve")),
        metadata=(("x-hub-principal", "admin"), ("traceparent", TRACEPARENT)),
    )

    (event,) = await running.hub.store.read_outbox(0, 10)
    assert ("user.created", "", TRACEPARENT) == (event.type, event.actor, event.traceparent)


async def test_metadata_crosses_both_ways_less_gateway_keys(forwarding: Forwarding) -> None:
    """Caller metadata reaches the backend less every `x-hub-*` key; the backend's initial and
    trailing metadata reach the caller."""
    call = forwarding.front.users.GetUser(
        GetUserRequest(id="u1"),
        metadata=(
            ("x-hub-principal", "admin"),
            ("x-hub-tenant", "other"),
            ("traceparent", TRACEPARENT),
            ("x-request-id", "r-42"),
            ("trace-bin", b"\x00\x01\x02"),
        ),
    )
    reply = await call

    assert "u1" == reply.user.id
    (seen,) = forwarding.backend.seen
    forwarded = {k: v for k, v in seen.metadata.items() if k != "user-agent"}
    assert {"traceparent": TRACEPARENT, "x-request-id": "r-42", "trace-bin": b"\x00\x01\x02"} == (
        forwarded
    )
    assert [("x-backend-initial", "hello")] == list(await call.initial_metadata() or ())
    assert [("x-backend-trailing", "bye"), ("x-hub-served-by", "fake")] == list(
        await call.trailing_metadata() or ()
    )


async def test_caller_deadline_reaches_the_backend(forwarding: Forwarding) -> None:
    """A call whose deadline passes while the backend works ends DEADLINE_EXCEEDED, and the
    backend saw the caller's deadline; a call without one passes none."""
    await forwarding.front.users.GetUser(GetUserRequest(id="u1"))
    failure = await _failure(forwarding.front.users.ListUsers(ListUsersRequest(), timeout=0.5))

    assert grpc.StatusCode.DEADLINE_EXCEEDED == failure.code()
    without, with_deadline = forwarding.backend.seen
    assert ("GetUser", None) == (without.method, without.time_remaining)
    assert "ListUsers" == with_deadline.method
    assert with_deadline.time_remaining is not None
    # The wire encodes deadlines as a rounded-up timeout: allow for that, not for a new one.
    assert 0 < with_deadline.time_remaining < 1.0


async def test_unreachable_backend_is_unavailable(tmp_path: Path, binding: Binding) -> None:
    """With nothing listening at the backend's address, calls end UNAVAILABLE (not UNKNOWN)."""
    with socket.socket() as bound_not_listening:
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        address = backend_address(tmp_path, binding) if binding == "unix" else f"127.0.0.1:{port}"
        async with frontend_for(dict.fromkeys(SERVICE_NAMES, address)) as front:
            failure = await _failure(front.users.GetUser(GetUserRequest(id="u1"), timeout=10))

    assert grpc.StatusCode.UNAVAILABLE == failure.code()


async def test_malformed_request_bytes_are_invalid_argument(running: RunningHub) -> None:
    """Bytes that are no valid message (here a string field holding invalid UTF-8) pass the
    forwarding hop untouched and are answered INVALID_ARGUMENT by the backend, never
    UNKNOWN, and nothing is written."""
    # CreateUserRequest{user: User{email: b"\xff"}}: field 1 (LEN) holding field 2 (LEN).
    garbage = b"\x0a\x03\x12\x01\xff"
    call: aio.UnaryUnaryMultiCallable[bytes, bytes] = running.channel.unary_unary(
        "/hub.user.v1.UserService/CreateUser"
    )
    failure = await _failure(call(garbage))

    status = rpc_status.from_call(failure)
    assert status is not None
    assert grpc.StatusCode.INVALID_ARGUMENT == failure.code()
    assert [] == await running.hub.store.read_outbox(0, 10)
