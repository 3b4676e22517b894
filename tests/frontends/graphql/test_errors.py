"""gRPC status → GraphQL `extensions.code`, one function, tested without sockets; and an
unexpected exception in a resolver, masked in the answer and logged with its traceback."""

from __future__ import annotations

import functools
import logging

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc
import pytest
import strawberry
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from grpc import aio

from hub.frontends.graphql.documents import Documents, OperationGuard
from hub.frontends.graphql.errors import rpc_failure
from hub.frontends.graphql.schema import HubSchema

DETAILS_KEY = "grpc-status-details-bin"
CODES = {
    grpc.StatusCode.INVALID_ARGUMENT: "BAD_USER_INPUT",
    grpc.StatusCode.OUT_OF_RANGE: "BAD_USER_INPUT",
    grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
    grpc.StatusCode.ALREADY_EXISTS: "CONFLICT",
    grpc.StatusCode.ABORTED: "CONFLICT",
    grpc.StatusCode.FAILED_PRECONDITION: "FAILED_PRECONDITION",
    grpc.StatusCode.UNAUTHENTICATED: "UNAUTHENTICATED",
    grpc.StatusCode.PERMISSION_DENIED: "FORBIDDEN",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "RATE_LIMITED",
    grpc.StatusCode.UNAVAILABLE: "UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "UNAVAILABLE",
    grpc.StatusCode.CANCELLED: "UNAVAILABLE",
    grpc.StatusCode.OK: "INTERNAL_SERVER_ERROR",
    grpc.StatusCode.UNKNOWN: "INTERNAL_SERVER_ERROR",
    grpc.StatusCode.UNIMPLEMENTED: "INTERNAL_SERVER_ERROR",
    grpc.StatusCode.INTERNAL: "INTERNAL_SERVER_ERROR",
    grpc.StatusCode.DATA_LOSS: "INTERNAL_SERVER_ERROR",
}


def failed(code: grpc.StatusCode, message: str, *details: Message) -> aio.AioRpcError:
    """A failed call as grpc.aio reports it, with `details` in the status trailer."""
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in details:
        packed = AnyMessage()
        packed.Pack(detail)
        status.details.append(packed)
    trailing = aio.Metadata((DETAILS_KEY, status.SerializeToString()))
    return aio.AioRpcError(code, aio.Metadata(), trailing, details=message)


def hub_info(reason: str) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo a hub backend sends."""
    return error_details_pb2.ErrorInfo(reason=reason, domain="hub")


def test_every_grpc_code_has_its_graphql_code() -> None:
    """The mapping table of docs/graphql.md, for every status code there is."""
    assert set(grpc.StatusCode) == set(CODES)
    mapped = {code: rpc_failure(failed(code, "m", hub_info("R"))).extensions for code in CODES}

    assert CODES == {code: extensions["code"] for code, extensions in mapped.items()}


def test_details_become_extensions() -> None:
    """Field violations, reason and retry delay; a stale etag is a CONFLICT."""
    violations = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="user.email", description="bad")
        ]
    )
    invalid = rpc_failure(
        failed(
            grpc.StatusCode.INVALID_ARGUMENT, "invalid", hub_info("INVALID_ARGUMENT"), violations
        )
    )
    limited = rpc_failure(
        failed(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "slow down",
            hub_info("RATE_LIMITED"),
            error_details_pb2.RetryInfo(retry_delay=Duration(seconds=2, nanos=500_000_000)),
        )
    )
    stale = rpc_failure(
        failed(grpc.StatusCode.FAILED_PRECONDITION, "stale", hub_info("ETAG_MISMATCH"))
    )

    assert (
        "invalid",
        {
            "code": "BAD_USER_INPUT",
            "reason": "INVALID_ARGUMENT",
            "fieldViolations": [{"field": "user.email", "description": "bad"}],
        },
    ) == (invalid.message, invalid.extensions)
    assert {"code": "RATE_LIMITED", "reason": "RATE_LIMITED", "retryAfterSeconds": 2.5} == (
        limited.extensions
    )
    assert {"code": "CONFLICT", "reason": "ETAG_MISMATCH"} == stale.extensions


def test_messages_not_written_by_a_hub_backend_are_replaced() -> None:
    """A channel's own UNAVAILABLE can name addresses; INTERNAL says nothing at all."""
    channel = rpc_failure(failed(grpc.StatusCode.UNAVAILABLE, "connect to unix:/run/x.sock"))
    internal = rpc_failure(
        failed(grpc.StatusCode.INTERNAL, "KeyError at line 3", hub_info("INTERNAL"))
    )

    assert ("the service is unavailable; try again later", {"code": "UNAVAILABLE"}) == (
        channel.message,
        channel.extensions,
    )
    assert ("internal error", {"code": "INTERNAL_SERVER_ERROR"}) == (
        internal.message,
        internal.extensions,
    )


@strawberry.type
class BrokenQuery:
    @strawberry.field
    def fine(self) -> str:
        return "ok"

    @strawberry.field
    def broken(self) -> str | None:
        raise RuntimeError("secret detail from deep inside")


async def test_an_unexpected_exception_is_masked_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The answer says `internal error` (code INTERNAL_SERVER_ERROR) and keeps the other
    fields; the log has the exception with its traceback."""
    documents = Documents((), max_tokens=100, max_length=1000)
    schema = HubSchema(query=BrokenQuery, extensions=[functools.partial(OperationGuard, documents)])

    with caplog.at_level(logging.ERROR, logger="hub.frontends.graphql"):
        result = await schema.execute("{ fine broken }")

    assert {"fine": "ok", "broken": None} == result.data
    assert [
        {
            "message": "internal error",
            "locations": [{"line": 1, "column": 8}],
            "path": ["broken"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ] == [error.formatted for error in result.errors or []]
    [record] = caplog.records
    assert record.exc_info is not None
    assert "secret detail from deep inside" == str(record.exc_info[1])
