"""gRPC status to HTTP, and the RFC 9457 problem bodies every REST failure is rendered as."""

from __future__ import annotations

import grpc
import pytest

from hub.frontends.rest.problems import failure_problem, http_status, problem
from hub.frontends.rpc_error import FieldProblem, RpcFailure

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (Code.OK, 200),
        (Code.CANCELLED, 499),
        (Code.UNKNOWN, 500),
        (Code.INVALID_ARGUMENT, 400),
        (Code.DEADLINE_EXCEEDED, 504),
        (Code.NOT_FOUND, 404),
        (Code.ALREADY_EXISTS, 409),
        (Code.PERMISSION_DENIED, 403),
        (Code.UNAUTHENTICATED, 401),
        (Code.RESOURCE_EXHAUSTED, 429),
        (Code.FAILED_PRECONDITION, 400),
        (Code.ABORTED, 409),
        (Code.OUT_OF_RANGE, 400),
        (Code.UNIMPLEMENTED, 501),
        (Code.INTERNAL, 500),
        (Code.UNAVAILABLE, 503),
        (Code.DATA_LOSS, 500),
    ],
)
def test_status_table(code: grpc.StatusCode, status: int) -> None:
    """The table grpc-gateway and Envoy use, for every code."""
    assert status == http_status(code)


def test_conditional_request_turns_aborted_into_412() -> None:
    """With If-Match, a lost etag race is the precondition failing; nothing else changes."""
    assert 412 == http_status(Code.ABORTED, conditional=True)
    assert 409 == http_status(Code.ALREADY_EXISTS, conditional=True)
    assert 404 == http_status(Code.NOT_FOUND, conditional=True)


def test_problem_body_shape() -> None:
    """type from the reason, title from the status, the gRPC code and violations as
    extensions."""
    body = problem(
        400,
        "invalid request: user.email",
        code=Code.INVALID_ARGUMENT,
        instance="/api/v1/users",
        reason="INVALID_ARGUMENT",
        field_violations=(FieldProblem("user.email", "is required"),),
    )

    assert {
        "type": "urn:hub:problem:invalid-argument",
        "title": "Bad Request",
        "status": 400,
        "detail": "invalid request: user.email",
        "instance": "/api/v1/users",
        "grpcCode": "INVALID_ARGUMENT",
        "reason": "INVALID_ARGUMENT",
        "fieldViolations": [{"field": "user.email", "description": "is required"}],
    } == body


def test_problem_without_reason_is_typed_by_code() -> None:
    """No reason: the type comes from the gRPC code, and no empty extensions appear."""
    body = problem(499, "gone", code=Code.CANCELLED, instance="/x")

    assert {
        "type": "urn:hub:problem:cancelled",
        "title": "Client Closed Request",
        "status": 499,
        "detail": "gone",
        "instance": "/x",
        "grpcCode": "CANCELLED",
    } == body


def test_backend_failure_keeps_the_backends_words() -> None:
    """A status a hub backend wrote (ErrorInfo domain "hub") is shown as it is."""
    failure = RpcFailure(
        Code.ABORTED,
        "hub.mindmap.v1.Mindmap 'm' was changed concurrently; read it again and retry",
        reason="ETAG_MISMATCH",
        domain="hub",
    )

    body = failure_problem(failure, instance="/api/v1/mindmaps/m", conditional=True)

    assert (412, "urn:hub:problem:etag-mismatch", failure.message) == (
        body["status"],
        body["type"],
        body["detail"],
    )


def test_foreign_failure_message_is_not_shown() -> None:
    """A status from elsewhere (the channel itself) may name internal addresses: a fixed
    text stands in for it, and a retry delay is passed on."""
    failure = RpcFailure(
        Code.UNAVAILABLE,
        "failed to connect to all addresses; last error: unix:/srv/hub/run/user.sock",
        retry_delay_seconds=1.5,
    )

    body = failure_problem(failure, instance="/api/v1/users", conditional=False)

    assert {
        "type": "urn:hub:problem:unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the service is unavailable; try again later",
        "instance": "/api/v1/users",
        "grpcCode": "UNAVAILABLE",
        "retryAfterSeconds": 1.5,
    } == body
