"""`PolicyInterceptor`: the gateway policies, applied to every call the hub makes to a backend.

It is one grpc.aio client interceptor on every channel of `hub.client.BackendClient`, so it
sees each backend call whatever front end it serves (REST, GraphQL, WebSocket, the gRPC
front end's forwarding). A policy that refuses a call raises, before anything leaves, the
same `AioRpcError` a server would (`hub.rpcstatus.client_error`), and each front end signals
it in its own protocol through the status mapping it already has.

Policies in force, in this order:
- authentication (`Authenticator`): the `authorization` metadata (which every front end
  passes on) is verified and replaced by the principal, `x-hub-principal` (subject) and
  `x-hub-roles` (comma-separated), the only credentials a backend sees (front ends strip
  any `x-hub-*` a client sends; `hub.principal`). No credentials on an RPC that is not
  anonymous, or bad credentials on any RPC: UNAUTHENTICATED with the reason
  (`CREDENTIALS_MISSING`, `TOKEN_EXPIRED`, ...).
- rate limiting (`RateLimiter`): a token from the bucket of the caller (the principal, or
  the client's address, `x-hub-peer`, which the front ends set) for this RPC; an empty
  bucket is RESOURCE_EXHAUSTED, reason `RATE_LIMITED` (metadata `quota`, `windowSeconds`,
  `remaining`, `resetSeconds`), with `RetryInfo`.
- caching (`CachingPolicy`): a cached read is answered without a backend call (the key
  includes the caller's authorization scope); a successful write invalidates what it may
  have changed before its caller has the answer.
- circuit breaking (`CircuitBreaker`, one per backend service): while a backend's breaker is
  open its calls fail at once with UNAVAILABLE, `ErrorInfo` reason `CIRCUIT_OPEN` (metadata:
  the gRPC service) and `RetryInfo` (when it will let a probe through). Outcomes that say the
  backend is unhealthy count as failures: UNAVAILABLE, INTERNAL, UNKNOWN and DATA_LOSS.
  DEADLINE_EXCEEDED does not (a client's own short deadline must not open the breaker for
  every client), nor does any answer about the request itself (NOT_FOUND, INVALID_ARGUMENT,
  ABORTED, ...). The outcome is the call's final one, after gRPC's own retries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from grpc import aio

from hub.policies.auth import Authenticator, Unauthenticated
from hub.policies.breaker import BreakerOpen, CircuitBreaker
from hub.policies.caching import CachingPolicy
from hub.policies.ratelimit import RateLimiter
from hub.principal import AUTHORIZATION_KEY, GATEWAY_PREFIX, PEER_KEY, Principal
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


def wire_path(method: str | bytes) -> str:
    """A method's wire path as text (grpc.aio hands interceptors bytes, though its type hints
    say str)."""
    return method.decode() if isinstance(method, bytes) else method


def service_of(path: str) -> str:
    """The gRPC service of a wire path: `/hub.user.v1.UserService/GetUser` ->
    `hub.user.v1.UserService`."""
    return path.split("/", 2)[1]


class PolicyInterceptor(aio.UnaryUnaryClientInterceptor):
    """The policies of every unary backend call. `authenticator`: None when authentication
    is off; `anonymous`: wire paths open without credentials; `rate_limiter`: None when
    rate limiting is off; `breakers` by gRPC service (none when circuit breaking is off)."""

    def __init__(
        self,
        *,
        authenticator: Authenticator | None = None,
        anonymous: frozenset[str] = frozenset(),
        rate_limiter: RateLimiter | None = None,
        caching: CachingPolicy | None = None,
        breakers: Mapping[str, CircuitBreaker],
    ) -> None:
        self._authenticator = authenticator
        self._anonymous = anonymous
        self._rate_limiter = rate_limiter
        self._caching = caching
        self._breakers = dict(breakers)
        self._admits = authenticator is not None or rate_limiter is not None
        self.idle = not (self._admits or caching is not None or self._breakers)
        """No policy is on: the composition root leaves this interceptor out."""

    async def intercept_unary_unary(
        self, continuation: _Continuation, client_call_details: aio.ClientCallDetails, request: Any
    ) -> Any:
        path = wire_path(client_call_details.method)
        principal: Principal | None = None
        if self._admits:
            client_call_details, principal = await self._admit(path, client_call_details)
        caching = self._caching
        if caching is None:
            return await self._call(continuation, client_call_details, request, path)
        if caching.cached(path):
            key = caching.key(path, principal, caching.encode(request))
            hit = await caching.cache.get(key)
            if hit is not None:
                return caching.answer(path, hit, raw=isinstance(request, bytes))
            since = caching.cache.begin()
            call = await self._call(continuation, client_call_details, request, path)
            if await call.code() == grpc.StatusCode.OK:
                response = caching.encode(await call)
                await caching.store(path, key, request, response, since)
            return call
        call = await self._call(continuation, client_call_details, request, path)
        if caching.writes(path) and await call.code() == grpc.StatusCode.OK:
            await caching.written(path, request)  # before the caller has the answer
        return call

    async def _call(
        self, continuation: _Continuation, details: aio.ClientCallDetails, request: Any, path: str
    ) -> Any:
        """The backend call, through the backend's circuit breaker."""
        service = service_of(path)
        breaker = self._breakers.get(service)
        if breaker is None:
            return await continuation(details, request)
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
            call = await continuation(details, request)
            code = await call.code()
        except BaseException:  # cancelled, or the channel is closing: no outcome
            breaker.forget()
            raise
        breaker.record(success=code not in UNHEALTHY_CODES)
        return call

    async def _admit(
        self, path: str, details: aio.ClientCallDetails
    ) -> tuple[aio.ClientCallDetails, Principal | None]:
        """Authenticates and rate-limits the call; returns its details with the principal
        in place of the credentials and the gateway's own keys, and the principal. Raises the
        refusal."""
        kept: list[tuple[str, str | bytes]] = []
        authorization: str | None = None
        peer = ""
        for key, value in details.metadata or ():
            if key == AUTHORIZATION_KEY and isinstance(value, str):
                authorization = value
                if self._authenticator is None:  # the backend gets what it always got
                    kept.append((key, value))
            elif key == PEER_KEY and isinstance(value, str):
                peer = value
            elif not key.startswith(GATEWAY_PREFIX):
                kept.append((key, value))
        principal: Principal | None = None
        if self._authenticator is not None:
            principal = await self._authenticate(self._authenticator, path, authorization)
            if principal is not None:
                kept += principal.metadata()
        if self._rate_limiter is not None:
            caller = principal.subject if principal is not None else f"addr:{peer}"
            await self._limit(self._rate_limiter, caller, path)
        admitted = aio.ClientCallDetails(
            details.method,
            details.timeout,
            aio.Metadata(*kept),
            details.credentials,
            details.wait_for_ready,
        )
        return admitted, principal

    async def _authenticate(
        self, authenticator: Authenticator, path: str, authorization: str | None
    ) -> Principal | None:
        """The caller; raises UNAUTHENTICATED when credentials are missing (and needed) or
        bad."""
        try:
            principal = await authenticator.authenticate(authorization)
        except Unauthenticated as refused:
            raise client_error(
                status(grpc.StatusCode.UNAUTHENTICATED, refused.message, refused.reason)
            ) from None
        if principal is None and path not in self._anonymous:
            raise client_error(
                status(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "this call needs credentials: 'Bearer <token>' or 'ApiKey <key>'",
                    "CREDENTIALS_MISSING",
                )
            )
        return principal

    @staticmethod
    async def _limit(limiter: RateLimiter, caller: str, path: str) -> None:
        """Takes a token from the caller's bucket for `path`; raises RESOURCE_EXHAUSTED
        (`RATE_LIMITED`, with the bucket's numbers and `RetryInfo`) when it is empty."""
        answer = await limiter.hit(caller, path)
        if answer is None:
            return
        decision, limit = answer
        if decision.allowed:
            return
        raise client_error(
            status(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit of {limit.burst} calls, refilled at {limit.rate:g}/s, reached; "
                f"retry in {decision.retry_after:.2f} s",
                "RATE_LIMITED",
                metadata={
                    "quota": str(limit.burst),
                    "windowSeconds": str(math.ceil(limit.window_seconds)),
                    "remaining": str(decision.remaining),
                    "resetSeconds": str(math.ceil(decision.reset)),
                },
                details=[retry_info(decision.retry_after)],
            )
        )
