"""The wire form of a failure: `google.rpc.Status` with details, built the same way wherever
the hub reports one (the backends' domain errors, the event stream, the gateway policies).

Every status carries an `ErrorInfo` first (domain "hub", a stable UPPER_SNAKE_CASE reason,
optional metadata), then any other details (`BadRequest`, `RetryInfo`, ...). A server ends a
call with it through `abort`; a client-side interceptor that refuses a call before it leaves
(a policy) raises `client_error(status)`, which reaches the caller exactly as the same status
from a server would, `grpc-status-details-bin` trailer included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from grpc import aio
from grpc_status import rpc_status

from hub.errors import DOMAIN, FieldViolation

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def status(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    *,
    metadata: Mapping[str, str] | None = None,
    details: Sequence[Message] = (),
) -> status_pb2.Status:
    """A status of `code` with an `ErrorInfo` (`reason`, `metadata`) and `details`."""
    built = status_pb2.Status(code=code.value[0], message=message)
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata)
    for detail in (info, *details):
        packed = AnyMessage()
        packed.Pack(detail)
        built.details.append(packed)
    return built


def bad_request(violations: Sequence[FieldViolation]) -> error_details_pb2.BadRequest:
    """The `BadRequest` detail listing `violations`."""
    return error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field=violation.field, description=violation.description
            )
            for violation in violations
        ]
    )


def retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    """The `RetryInfo` detail: retry after `seconds`."""
    delay = Duration()
    delay.FromNanoseconds(round(seconds * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


async def abort(context: aio.ServicerContext[Any, Any], failure: status_pb2.Status) -> NoReturn:
    """Ends a server call with `failure`, details included (grpc.aio's abort raises)."""
    await context.abort_with_status(rpc_status.to_status(failure))


def client_error(failure: status_pb2.Status) -> aio.AioRpcError:
    """The error a client call that ended with `failure` raises."""
    return aio.AioRpcError(
        _code(failure.code),
        aio.Metadata(),
        aio.Metadata((STATUS_DETAILS_KEY, failure.SerializeToString())),
        details=failure.message,
    )


def _code(value: int) -> grpc.StatusCode:
    return next(code for code in grpc.StatusCode if code.value[0] == value)
