"""`PolicyInterceptor`: the gateway policies, applied to every call the hub makes to a backend.

It is one grpc.aio client interceptor on every channel of `hub.client.BackendClient`, so it
sees each backend call whatever front end it serves (REST, GraphQL, WebSocket, the gRPC
front end's forwarding). A policy that refuses a call raises, before anything leaves, the
same `AioRpcError` a server would (`hub.rpcstatus.client_error`), and each front end signals
it in its own protocol through the status mapping it already has.

Policies in force:
- circuit breaking (`CircuitBreaker`, one per backend service): while a backend's breaker is
  open its calls fail at once with UNAVAILABLE, `ErrorInfo` reason `CIRCUIT_OPEN` (metadata:
  the gRPC service) and `RetryInfo` (when it will let a probe through). Outcomes that say the
  backend is unhealthy count as failures: UNAVAILABLE, INTERNAL, UNKNOWN and DATA_LOSS.
  DEADLINE_EXCEEDED does not (a client's own short deadline must not open the breaker for
  every client), nor does any answer about the request itself (NOT_FOUND, INVALID_ARGUMENT,
  ABORTED, ...). The outcome is the call's final one, after gRPC's own retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc
from grpc import aio

from hub.policies.breaker import BreakerOpen, CircuitBreaker
from hub.rpcstatus import client_error, retry_info, status

UNHEALTHY_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
    }
)
"""Outcomes that count as a backend failure for its breaker."""

_Continuation = Callable[[aio.ClientCallDetails, Any], Any]


def service_of(method: str | bytes) -> str:
    """The gRPC service of a method's wire path: `/hub.user.v1.UserService/GetUser` ->
    `hub.user.v1.UserService` (grpc.aio hands interceptors the path as bytes, though its
    type hints say str)."""
    path = method.decode() if isinstance(method, bytes) else method
    return path.split("/", 2)[1]


class PolicyInterceptor(aio.UnaryUnaryClientInterceptor):
    """The policies of every unary backend call; `breakers` by gRPC service name."""

    def __init__(self, *, breakers: Mapping[str, CircuitBreaker]) -> None:
        self._breakers = dict(breakers)

    async def intercept_unary_unary(
        self, continuation: _Continuation, client_call_details: aio.ClientCallDetails, request: Any
    ) -> Any:
        service = service_of(client_call_details.method)
        breaker = self._breakers.get(service)
        if breaker is None:
            return await continuation(client_call_details, request)
        try:
            breaker.admit()
        except BreakerOpen as refused:
            raise client_error(
                status(
                    grpc.StatusCode.UNAVAILABLE,
                    str(refused),
                    "CIRCUIT_OPEN",
                    metadata={"service": service},
                    details=[retry_info(refused.retry_after)],
                )
            ) from None
        try:
            call = await continuation(client_call_details, request)
            code = await call.code()
        except BaseException:  # cancelled, or the channel is closing: no outcome
            breaker.forget()
            raise
        breaker.record(success=code not in UNHEALTHY_CODES)
        return call
