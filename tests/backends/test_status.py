"""Domain errors → gRPC status (hub/backends/status.py), and what a bug becomes: INTERNAL with
a generic message, logged at the boundary."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar, get_args

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc.error_details_pb2 import (
    BadRequest,
    ErrorInfo,
    PreconditionFailure,
    ResourceInfo,
)
from google.rpc.status_pb2 import Status

from hub.backends import status
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.errors import (
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from hub.storage.sqlite import SqliteStore
from tests.backends.support import error_info, serve

M = TypeVar("M", bound=Message)


def unpack(rpc_status: Status, kind: type[M]) -> list[M]:
    found: list[M] = []
    for packed in rpc_status.details:
        detail = kind()
        if packed.Unpack(detail):
            found.append(detail)
    return found


def test_every_domain_error_is_mapped() -> None:
    """`MappedError` (matched exhaustively) covers every concrete domain error."""
    assert set(DomainError.__subclasses__()) == set(get_args(status.MappedError))


def test_invalid_argument_carries_one_field_violation_per_field() -> None:
    error = InvalidArgument([FieldViolation("a", "bad a"), FieldViolation("b.c", "bad c")])
    mapped = status.to_rpc_status(error)
    assert grpc.StatusCode.INVALID_ARGUMENT.value[0] == mapped.code
    assert error.message == mapped.message
    expected = BadRequest(
        field_violations=[
            BadRequest.FieldViolation(field="a", description="bad a"),
            BadRequest.FieldViolation(field="b.c", description="bad c"),
        ]
    )
    assert [expected] == unpack(mapped, BadRequest)
    assert [ErrorInfo(reason="INVALID_ARGUMENT", domain="hub")] == unpack(mapped, ErrorInfo)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("hub.user.v1.User", "u1"), grpc.StatusCode.NOT_FOUND),
        (
            AlreadyExists("hub.user.v1.User", "a@b.c", "taken", reason="EMAIL_TAKEN"),
            grpc.StatusCode.ALREADY_EXISTS,
        ),
    ],
)
def test_not_found_and_already_exists_name_the_resource(
    error: NotFound | AlreadyExists, code: grpc.StatusCode
) -> None:
    mapped = status.to_rpc_status(error)
    assert code.value[0] == mapped.code
    expected = ResourceInfo(
        resource_type=error.resource_type, resource_name=error.name, description=error.message
    )
    assert [expected] == unpack(mapped, ResourceInfo)
    assert [ErrorInfo(reason=error.reason, domain="hub")] == unpack(mapped, ErrorInfo)


def test_aborted_is_an_etag_mismatch_naming_the_resource() -> None:
    mapped = status.to_rpc_status(Aborted("hub.mindmap.v1.Mindmap", "m1"))
    assert grpc.StatusCode.ABORTED.value[0] == mapped.code
    expected = ErrorInfo(
        reason="ETAG_MISMATCH",
        domain="hub",
        metadata={"resource_type": "hub.mindmap.v1.Mindmap", "resource_name": "m1"},
    )
    assert [expected] == unpack(mapped, ErrorInfo)
    assert 1 == len(mapped.details)


def test_failed_precondition_carries_a_precondition_violation() -> None:
    error = FailedPrecondition("users/u1", "owns mindmaps", reason="USER_HAS_MINDMAPS")
    mapped = status.to_rpc_status(error)
    assert grpc.StatusCode.FAILED_PRECONDITION.value[0] == mapped.code
    expected = PreconditionFailure(
        violations=[
            PreconditionFailure.Violation(
                type="USER_HAS_MINDMAPS", subject="users/u1", description="owns mindmaps"
            )
        ]
    )
    assert [expected] == unpack(mapped, PreconditionFailure)
    assert [ErrorInfo(reason="USER_HAS_MINDMAPS", domain="hub")] == unpack(mapped, ErrorInfo)


def test_internal_status_reveals_nothing() -> None:
    mapped = status.internal_status()
    assert (grpc.StatusCode.INTERNAL.value[0], "internal error") == (mapped.code, mapped.message)
    assert [ErrorInfo(reason="INTERNAL", domain="hub")] == unpack(mapped, ErrorInfo)


@pytest.fixture
async def broken_channel(tmp_path: Path) -> AsyncIterator[grpc.aio.Channel]:
    """A server whose store was never opened: every store call fails like a bug would."""
    server, address = await serve(SqliteStore(tmp_path / "never-opened.sqlite3"))
    async with grpc.aio.insecure_channel(address) as channel:
        yield channel
    await server.stop(None)


async def test_a_bug_is_internal_with_a_generic_message_and_logged(
    broken_channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    users = user_pb2_grpc.UserServiceStub(broken_channel)
    request = CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
    with (
        caplog.at_level(logging.ERROR, logger="hub.backends.status"),
        pytest.raises(grpc.aio.AioRpcError) as raised,
    ):
        await users.CreateUser(request)
    assert (grpc.StatusCode.INTERNAL, "internal error") == (
        raised.value.code(),
        raised.value.details(),
    )
    assert "INTERNAL" == error_info(raised.value).reason
    (record,) = caplog.records
    assert "unexpected failure in UserService.CreateUser" == record.getMessage()
    assert record.exc_info is not None
    assert RuntimeError is record.exc_info[0]
