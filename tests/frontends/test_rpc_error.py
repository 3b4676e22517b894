"""Decoding a failed call's `google.rpc` details once, for every front end."""

from __future__ import annotations

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from grpc import aio

from hub.frontends.rpc_error import FieldProblem, RpcFailure

DETAILS_KEY = "grpc-status-details-bin"


def _error(
    code: grpc.StatusCode, message: str, trailing: tuple[tuple[str, str | bytes], ...] = ()
) -> aio.AioRpcError:
    return aio.AioRpcError(code, aio.Metadata(), aio.Metadata(*trailing), details=message)


def _details(code: grpc.StatusCode, message: str, *details: Message) -> bytes:
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in details:
        packed = AnyMessage()
        packed.Pack(detail)
        status.details.append(packed)
    return status.SerializeToString()


def test_every_detail_kind_is_decoded() -> None:
    """ErrorInfo, BadRequest, RetryInfo and ResourceInfo each land in their field."""
    code = grpc.StatusCode.INVALID_ARGUMENT
    details = _details(
        code,
        "invalid request: user.email",
        error_details_pb2.ErrorInfo(
            reason="INVALID_ARGUMENT", domain="hub", metadata={"b": "2", "a": "1"}
        ),
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="user.email", description="is required"
                ),
                error_details_pb2.BadRequest.FieldViolation(
                    field="user.displayName", description="is too long"
                ),
            ]
        ),
        error_details_pb2.RetryInfo(retry_delay=Duration(seconds=2, nanos=500_000_000)),
        error_details_pb2.ResourceInfo(resource_type="hub.user.v1.User", resource_name="u-1"),
    )
    error = _error(code, "invalid request: user.email", (("x-other", "v"), (DETAILS_KEY, details)))

    assert RpcFailure(
        code,
        "invalid request: user.email",
        reason="INVALID_ARGUMENT",
        domain="hub",
        metadata=(("a", "1"), ("b", "2")),
        field_violations=(
            FieldProblem("user.email", "is required"),
            FieldProblem("user.displayName", "is too long"),
        ),
        retry_delay_seconds=2.5,
        resource_type="hub.user.v1.User",
        resource_name="u-1",
    ) == RpcFailure.from_error(error)


def test_status_without_details() -> None:
    """No details trailer: just the code and the message."""
    error = _error(grpc.StatusCode.UNAVAILABLE, "connection refused")

    assert RpcFailure(grpc.StatusCode.UNAVAILABLE, "connection refused") == (
        RpcFailure.from_error(error)
    )


def test_empty_message_falls_back_to_the_code_name() -> None:
    """A status without a message still says something."""
    error = _error(grpc.StatusCode.DEADLINE_EXCEEDED, "")

    assert "DEADLINE_EXCEEDED" == RpcFailure.from_error(error).message


def test_garbled_details_are_ignored() -> None:
    """A details trailer that does not parse is no detail, not a crash."""
    error = _error(grpc.StatusCode.NOT_FOUND, "gone", ((DETAILS_KEY, b"\xff\xff\xff"),))

    assert RpcFailure(grpc.StatusCode.NOT_FOUND, "gone") == RpcFailure.from_error(error)


def test_unknown_detail_types_are_skipped() -> None:
    """Details of types no front end shows (here PreconditionFailure) are left out."""
    details = _details(
        grpc.StatusCode.FAILED_PRECONDITION,
        "owner not found",
        error_details_pb2.PreconditionFailure(
            violations=[error_details_pb2.PreconditionFailure.Violation(type="OWNER_NOT_FOUND")]
        ),
        error_details_pb2.ErrorInfo(reason="OWNER_NOT_FOUND", domain="hub"),
    )
    error = _error(
        grpc.StatusCode.FAILED_PRECONDITION, "owner not found", ((DETAILS_KEY, details),)
    )

    assert RpcFailure(
        grpc.StatusCode.FAILED_PRECONDITION,
        "owner not found",
        reason="OWNER_NOT_FOUND",
        domain="hub",
    ) == RpcFailure.from_error(error)


def test_garbled_detail_inside_a_good_status_is_skipped() -> None:
    """One detail whose payload does not parse is skipped; the others still count."""
    broken = AnyMessage(type_url="type.googleapis.com/google.rpc.BadRequest", value=b"\xff\xff\xff")
    status = status_pb2.Status(code=grpc.StatusCode.NOT_FOUND.value[0], message="gone")
    status.details.append(broken)
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason="NOT_FOUND", domain="hub"))
    error = _error(grpc.StatusCode.NOT_FOUND, "gone", ((DETAILS_KEY, status.SerializeToString()),))

    assert RpcFailure(grpc.StatusCode.NOT_FOUND, "gone", reason="NOT_FOUND", domain="hub") == (
        RpcFailure.from_error(error)
    )
