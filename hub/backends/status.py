"""The one place where domain errors become gRPC status, with `google.rpc` details.

Every RPC of the servicers is decorated with `rpc`: the handler raises `hub.errors`
domain errors and never touches the status itself. `to_rpc_status` maps each error with an
exhaustive `match`:

| domain error        | gRPC code           | details                                |
|---------------------|---------------------|----------------------------------------|
| InvalidArgument     | INVALID_ARGUMENT    | BadRequest (one violation per field)   |
| NotFound            | NOT_FOUND           | ResourceInfo                           |
| AlreadyExists       | ALREADY_EXISTS      | ResourceInfo                           |
| Aborted             | ABORTED             | (ErrorInfo reason ETAG_MISMATCH only)  |
| FailedPrecondition  | FAILED_PRECONDITION | PreconditionFailure                    |
| PermissionDenied    | PERMISSION_DENIED   | (ErrorInfo reason only)                |
| Unavailable         | UNAVAILABLE         | (ErrorInfo reason only)                |

and every status also carries an `ErrorInfo` (reason, domain "hub"). Any other exception is
a bug: it is logged here, at the boundary, and answered with INTERNAL and a generic message
that reveals nothing of the server.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeAlias, TypeVar, assert_never

import grpc
from google.protobuf.message import Message
from google.rpc.error_details_pb2 import PreconditionFailure, ResourceInfo
from google.rpc.status_pb2 import Status

from hub.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from hub.rpcstatus import abort, bad_request, status

INTERNAL_MESSAGE = "internal error"
"""The only text a client sees of an unexpected failure; the details go to the log."""

MappedError: TypeAlias = (
    InvalidArgument
    | NotFound
    | AlreadyExists
    | Aborted
    | FailedPrecondition
    | PermissionDenied
    | Unavailable
)
"""Every concrete domain error; a test proves it covers all subclasses of `DomainError`."""

_logger = logging.getLogger(__name__)

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
"""The servicer context of any RPC, as the servicer methods take it."""

_S = TypeVar("_S")
_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


def to_rpc_status(error: MappedError) -> Status:
    """The `google.rpc.Status` that tells a client what `error` means."""
    metadata: dict[str, str] = {}
    details: list[Message]
    match error:
        case InvalidArgument():
            code = grpc.StatusCode.INVALID_ARGUMENT
            details = [bad_request(error.violations)]
        case NotFound():
            code = grpc.StatusCode.NOT_FOUND
            details = [_resource_info(error.resource_type, error.name, error.message)]
        case AlreadyExists():
            code = grpc.StatusCode.ALREADY_EXISTS
            details = [_resource_info(error.resource_type, error.name, error.message)]
        case Aborted():
            code = grpc.StatusCode.ABORTED
            metadata = {"resource_type": error.resource_type, "resource_name": error.name}
            details = []
        case FailedPrecondition():
            code = grpc.StatusCode.FAILED_PRECONDITION
            details = [
                PreconditionFailure(
                    violations=[
                        PreconditionFailure.Violation(
                            type=error.reason,
                            subject=error.subject,
                            description=error.description,
                        )
                    ]
                )
            ]
        case PermissionDenied():
            code = grpc.StatusCode.PERMISSION_DENIED
            details = []
        case Unavailable():
            code = grpc.StatusCode.UNAVAILABLE
            details = []
        case _:
            assert_never(error)
    return status(code, error.message, error.reason, metadata=metadata, details=details)


def internal_status() -> Status:
    """The status of an unexpected failure (a bug): INTERNAL, generic message."""
    return status(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE, "INTERNAL")


def rpc(
    handler: Callable[[_S, _Req, grpc.aio.ServicerContext[_Req, _Resp]], Awaitable[_Resp]],
) -> Callable[[_S, _Req, grpc.aio.ServicerContext[_Req, _Resp]], Coroutine[Any, Any, _Resp]]:
    """Wraps a servicer method so that its domain errors (and bugs) end the call with the
    status `to_rpc_status` (or `internal_status`) gives them."""

    @functools.wraps(handler)
    async def handle(
        servicer: _S, request: _Req, context: grpc.aio.ServicerContext[_Req, _Resp]
    ) -> _Resp:
        try:
            return await handler(servicer, request, context)
        # MappedError spelled out: mypy checks each is in it, a test that it covers them all.
        except (
            InvalidArgument,
            NotFound,
            AlreadyExists,
            Aborted,
            FailedPrecondition,
            PermissionDenied,
            Unavailable,
        ) as error:
            await abort(context, to_rpc_status(error))
        except Exception:
            _logger.exception("unexpected failure in %s", handler.__qualname__)
            await abort(context, internal_status())

    return handle


def _resource_info(resource_type: str, name: str, description: str) -> ResourceInfo:
    return ResourceInfo(resource_type=resource_type, resource_name=name, description=description)
