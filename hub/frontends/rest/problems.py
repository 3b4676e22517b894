"""Errors as HTTP: gRPC status to HTTP status, and RFC 9457 problem details.

`http_status` is the one mapping from gRPC codes to HTTP (the table grpc-gateway and
Envoy use). `problem` renders an `application/problem+json` body for any failure,
whether the backend reported it (`RpcFailure`) or the REST layer found it itself
(malformed JSON, unknown field, body too large...), so a client sees one shape.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import grpc

from hub.errors import DOMAIN
from hub.frontends.rpc_error import FieldProblem, RpcFailure

PROBLEM_JSON = "application/problem+json"

_HTTP_BY_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


def http_status(code: grpc.StatusCode, *, conditional: bool = False) -> int:
    """The HTTP status for a gRPC code. `conditional`: the request carried `If-Match`,
    so a lost etag race (ABORTED) is the precondition failing, 412."""
    if conditional and code is grpc.StatusCode.ABORTED:
        return 412
    return _HTTP_BY_CODE[code]


def problem(
    status: int,
    detail: str,
    *,
    code: grpc.StatusCode,
    instance: str,
    reason: str = "",
    field_violations: tuple[FieldProblem, ...] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem object, with the gRPC code and field violations as extensions."""
    body: dict[str, Any] = {
        "type": f"urn:hub:problem:{(reason or code.name).lower().replace('_', '-')}",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "instance": instance,
        "grpcCode": code.name,
    }
    if reason:
        body["reason"] = reason
    if field_violations:
        body["fieldViolations"] = [
            {"field": v.field, "description": v.description} for v in field_violations
        ]
    if extra:
        body.update(extra)
    return body


def failure_problem(failure: RpcFailure, *, instance: str, conditional: bool) -> dict[str, Any]:
    """The problem object for a failed backend call. Its message is shown only when a hub
    backend wrote it (ErrorInfo domain "hub"); a status from anywhere else, such as the
    channel's own UNAVAILABLE, can name internal addresses, so a fixed text stands in."""
    status = http_status(failure.code, conditional=conditional)
    extra: dict[str, Any] = {}
    if failure.retry_delay_seconds is not None:
        extra["retryAfterSeconds"] = failure.retry_delay_seconds
    detail = failure.message if failure.domain == DOMAIN else _generic_detail(failure.code)
    return problem(
        status,
        detail,
        code=failure.code,
        instance=instance,
        reason=failure.reason,
        field_violations=failure.field_violations,
        extra=extra,
    )


def _generic_detail(code: grpc.StatusCode) -> str:
    return _GENERIC_DETAILS.get(code, "the call failed")


_GENERIC_DETAILS = {
    grpc.StatusCode.CANCELLED: "the call was cancelled",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the call did not finish within its deadline",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "a limit was exceeded",
    grpc.StatusCode.UNIMPLEMENTED: "the service does not implement this call",
    grpc.StatusCode.UNAVAILABLE: "the service is unavailable; try again later",
}


def _title(status: int) -> str:
    if status == 499:
        return "Client Closed Request"
    return HTTPStatus(status).phrase
