"""What a failed backend call said, decoded once for every front end.

Backends report errors as a gRPC status with `google.rpc` details in the
`grpc-status-details-bin` trailer. `RpcFailure.from_error` decodes that into plain
data; each front end then maps it to its own protocol in one function (REST: problem
JSON, GraphQL: `extensions`), so none of them parses status details itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.message import DecodeError, Message

from hub.rpcstatus import STATUS_DETAILS_KEY


@dataclass(frozen=True)
class FieldProblem:
    """One bad request field, as `BadRequest.FieldViolation` named it."""

    field: str
    description: str


@dataclass(frozen=True)
class RpcFailure:
    """A failed call: its code, message and the details front ends show their clients."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    field_violations: tuple[FieldProblem, ...] = ()
    retry_delay_seconds: float | None = None
    resource_type: str = ""
    resource_name: str = ""

    @classmethod
    def from_error(cls, error: grpc.aio.AioRpcError) -> RpcFailure:
        """Decodes the status and its details; details that do not parse are ignored."""
        status = _status_details(error.trailing_metadata())
        code = error.code()
        message = error.details() or code.name
        if status is None:
            return cls(code, message)
        reason = domain = resource_type = resource_name = ""
        metadata: tuple[tuple[str, str], ...] = ()
        violations: list[FieldProblem] = []
        retry: float | None = None
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            retry_info = error_details_pb2.RetryInfo()
            resource = error_details_pb2.ResourceInfo()
            if _unpack(detail, info):
                reason, domain = info.reason, info.domain
                metadata = tuple(sorted(info.metadata.items()))
            elif _unpack(detail, bad):
                violations.extend(
                    FieldProblem(v.field, v.description) for v in bad.field_violations
                )
            elif _unpack(detail, retry_info):
                retry = retry_info.retry_delay.ToTimedelta().total_seconds()
            elif _unpack(detail, resource):
                resource_type, resource_name = resource.resource_type, resource.resource_name
        return cls(
            code,
            message,
            reason=reason,
            domain=domain,
            metadata=metadata,
            field_violations=tuple(violations),
            retry_delay_seconds=retry,
            resource_type=resource_type,
            resource_name=resource_name,
        )


def _status_details(trailers: object) -> status_pb2.Status | None:
    if not trailers:
        return None
    for key, value in trailers:  # type: ignore[attr-defined]
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status()
            try:
                status.ParseFromString(value)
            except DecodeError:  # a garbled trailer is no detail
                return None
            return status
    return None


def _unpack(detail: AnyMessage, into: Message) -> bool:
    """Whether `detail` holds an `into` message, now unpacked into it (a garbled one
    counts as not)."""
    try:
        return detail.Unpack(into)
    except DecodeError:
        return False
