"""Requests that do not parse: INVALID_ARGUMENT, not grpc's UNKNOWN.

grpc.aio parses a request before the servicer runs, and answers bytes that are not a valid
message (a string that is not UTF-8, a truncated field) with UNKNOWN: `status.rpc` never sees
them. `MalformedRequests`, a server interceptor for every server that hosts the backends,
lets the handler receive the raw bytes, parses them itself, and answers a failure with
INVALID_ARGUMENT (reason MALFORMED_REQUEST, one violation on the whole request, field "")
through `status`, like every other error.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from google.protobuf.message import DecodeError

from hub.backends import status
from hub.errors import FieldViolation, InvalidArgument
from hub.rpcstatus import abort

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic only in the stubs


class MalformedRequests(grpc.aio.ServerInterceptor):
    """Parses the requests of async unary handlers in the handler, so that a malformed one
    is INVALID_ARGUMENT; other handlers pass untouched.

    Each method's handler is adapted once and kept by method name (a server's handlers do
    not change once it runs): a call costs a dict lookup, not a new handler (about 19,000
    CPU instructions per call, measured with bench/instructions.py)."""

    def __init__(self) -> None:
        self._handlers: dict[str, _Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        method: str = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            handler = await continuation(handler_call_details)
            if handler is None:
                return None
            handler = self._handlers[method] = _adapted(handler)
        return handler


def _adapted(handler: _Handler) -> _Handler:
    """`handler`, parsing its own requests if it is an async unary one with a parser."""
    if (
        handler.request_deserializer is None  # a bytes handler: nothing to parse
        or not inspect.iscoroutinefunction(handler.unary_unary)  # grpc runs it in a thread
    ):
        return handler
    return _parsing(handler.unary_unary, handler.request_deserializer, handler)


def _parsing(
    behavior: Callable[[Any, Any], Any], parse: Callable[[bytes], Any], handler: _Handler
) -> _Handler:
    """`handler`, receiving raw bytes and parsing them with `parse` before `behavior`."""

    async def parse_then_handle(raw: bytes, context: status.Context) -> Any:
        try:
            request = parse(raw)
        except DecodeError as error:
            malformed = InvalidArgument(
                [FieldViolation("", f"the request is not a valid message: {error}")],
                reason="MALFORMED_REQUEST",
            )
            await abort(context, status.to_rpc_status(malformed))
        return await behavior(request, context)

    return grpc.unary_unary_rpc_method_handler(
        parse_then_handle, response_serializer=handler.response_serializer
    )
