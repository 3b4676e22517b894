"""What GraphQL clients see when something fails: errors with `extensions.code`.

Resolvers raise `GraphQLFailure`; graphql-core copies its `extensions` onto the error it
places in the response, next to the field's path, so the other fields keep their data.
A failed backend call becomes one through `rpc_failure`, the one mapping from gRPC status
to GraphQL codes; it agrees with the REST front end's mapping (`hub/frontends/rest`):

| gRPC status                                 | `extensions.code`                        |
|---------------------------------------------|------------------------------------------|
| INVALID_ARGUMENT, OUT_OF_RANGE              | BAD_USER_INPUT (+ `fieldViolations`)     |
| FAILED_PRECONDITION                         | FAILED_PRECONDITION; CONFLICT for a stale etag |
| NOT_FOUND                                   | NOT_FOUND                                |
| ALREADY_EXISTS, ABORTED                     | CONFLICT                                 |
| UNAUTHENTICATED                             | UNAUTHENTICATED                          |
| PERMISSION_DENIED                           | FORBIDDEN                                |
| RESOURCE_EXHAUSTED                          | RATE_LIMITED (+ `retryAfterSeconds`)     |
| UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED   | UNAVAILABLE                              |
| anything else                               | INTERNAL_SERVER_ERROR, message masked    |

`extensions.reason` keeps the backend's ErrorInfo reason (`ETAG_MISMATCH`,
`USER_HAS_MINDMAPS`, ...). A message is shown only when a hub backend wrote it (ErrorInfo
domain `hub`); statuses from elsewhere (the channel's own UNAVAILABLE) can name internal
addresses, so a fixed text stands in, as in REST.

Errors that are not a `GraphQLFailure` (a bug, an unexpected exception) are masked and
logged by `hub.frontends.graphql.outcome`.
"""

from __future__ import annotations

from typing import Any, assert_never

import grpc

from hub.errors import DOMAIN
from hub.frontends.rpc_error import RpcFailure

INTERNAL = "INTERNAL_SERVER_ERROR"
INTERNAL_MESSAGE = "internal error"
_ETAG_MISMATCH = "ETAG_MISMATCH"


class GraphQLFailure(Exception):
    """An expected failure, shown to the client: `message` and `extensions` (with `code`)."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": code, **extensions}


def bad_input(field: str, description: str) -> GraphQLFailure:
    """BAD_USER_INPUT for one argument that the front end itself refuses."""
    return GraphQLFailure(
        f"invalid argument: {field}",
        "BAD_USER_INPUT",
        fieldViolations=[{"field": field, "description": description}],
    )


def rpc_failure(error: grpc.aio.AioRpcError) -> GraphQLFailure:
    """The GraphQL error for a failed backend call (see the module docstring's table)."""
    failure = RpcFailure.from_error(error)
    code = _code(failure)
    extensions: dict[str, Any] = {}
    if failure.reason:
        extensions["reason"] = failure.reason
    if failure.field_violations:
        extensions["fieldViolations"] = [
            {"field": v.field, "description": v.description} for v in failure.field_violations
        ]
    if failure.retry_delay_seconds is not None:
        extensions["retryAfterSeconds"] = failure.retry_delay_seconds
    if code == INTERNAL:
        return GraphQLFailure(INTERNAL_MESSAGE, code)
    message = failure.message if failure.domain == DOMAIN else _generic(code)
    return GraphQLFailure(message, code, **extensions)


def _code(failure: RpcFailure) -> str:
    """The `extensions.code` of a gRPC status: an exhaustive match over every code."""
    match failure.code:
        case grpc.StatusCode.INVALID_ARGUMENT | grpc.StatusCode.OUT_OF_RANGE:
            return "BAD_USER_INPUT"
        case grpc.StatusCode.FAILED_PRECONDITION:
            return "CONFLICT" if failure.reason == _ETAG_MISMATCH else "FAILED_PRECONDITION"
        case grpc.StatusCode.NOT_FOUND:
            return "NOT_FOUND"
        case grpc.StatusCode.ALREADY_EXISTS | grpc.StatusCode.ABORTED:
            return "CONFLICT"
        case grpc.StatusCode.UNAUTHENTICATED:
            return "UNAUTHENTICATED"
        case grpc.StatusCode.PERMISSION_DENIED:
            return "FORBIDDEN"
        case grpc.StatusCode.RESOURCE_EXHAUSTED:
            return "RATE_LIMITED"
        case (
            grpc.StatusCode.UNAVAILABLE
            | grpc.StatusCode.DEADLINE_EXCEEDED
            | grpc.StatusCode.CANCELLED
        ):
            return "UNAVAILABLE"
        case (
            grpc.StatusCode.OK
            | grpc.StatusCode.UNKNOWN
            | grpc.StatusCode.UNIMPLEMENTED
            | grpc.StatusCode.INTERNAL
            | grpc.StatusCode.DATA_LOSS
        ):
            return INTERNAL
        case _:
            assert_never(failure.code)


def _generic(code: str) -> str:
    return {
        "UNAVAILABLE": "the service is unavailable; try again later",
        "RATE_LIMITED": "a limit was exceeded",
    }.get(code, "the call failed")
