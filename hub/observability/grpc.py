"""The gRPC server interceptor, on every grpc server the hub runs (its client side, for
`BackendClient`, is grpc_client.py).

It records the grpc-ecosystem server metrics (metrics.py), runs the hop's trace rules
(tracing.py) and writes one access line per RPC (logging.py). A call of a sampled trace is
handed, for this call only, to opentelemetry-instrumentation-grpc's server interceptor
(`Tracing.serve_sampled`), which makes its span around the handler; the others (nine in
ten at the default ratio) cost no OpenTelemetry call.

`ServerObservability` wraps each method's handler once and keeps the wrapper by method
name (a server's handlers do not change once it runs), so a call costs a dict lookup and
the wrapper's own work. The call's hop (context.py: request id, trace) is made from the
metadata grpc already read for the interceptor (`HandlerCallDetails.invocation_metadata`)
and set in the call's context there, in the task that then runs the handler; reading it
again with `context.invocation_metadata()` would convert every pair to Python objects a
second time. The wrapper never touches the messages: the front end forwards
serialized bytes and its handlers stay that way. Streams count each message sent or
received (a server-streaming `WatchEvents` counts every event it sends). A call's code is
the one its context was given (by `abort` or `set_code`), UNKNOWN for an exception the
handler let escape, CANCELLED when the client went away.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import grpc
from grpc import aio
from opentelemetry import trace

from hub.observability.context import CURRENT, Hop
from hub.observability.logging import REQUEST_ID_KEY, AccessLog
from hub.observability.metrics import GrpcMetrics, GrpcServer, MethodMetrics
from hub.observability.tracing import TRACEPARENT, TRACESTATE, Tracing, trace_id_of

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
_Metadata: TypeAlias = Sequence[tuple[str, str | bytes]]

CODE_NAMES = {
    code: "".join(part.title() for part in code.name.split("_")) for code in grpc.StatusCode
}
"""grpc-ecosystem code label values: OK, NotFound, InvalidArgument, DeadlineExceeded, ..."""
CODE_NAMES[grpc.StatusCode.OK] = "OK"
_OK = grpc.StatusCode.OK
UNTRACED_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)


def _grpc_type(client_streaming: bool, server_streaming: bool) -> str:
    if client_streaming:
        return "bidi_stream" if server_streaming else "client_stream"
    return "server_stream" if server_streaming else "unary"


class Method:
    """What the wrapper of one method needs: its metrics, its name, and whether it is traced
    (health checks and reflection are not: they are background noise that would start root
    traces of their own)."""

    __slots__ = ("metrics", "name", "path", "traced")

    def __init__(self, metrics: MethodMetrics, method: str) -> None:
        """`method`: its wire path, `/hub.user.v1.UserService/CreateUser`."""
        self.metrics = metrics
        self.path = method
        self.name = method.lstrip("/")
        self.traced = self.name.partition("/")[0] not in UNTRACED_SERVICES


class ServerObservability(aio.ServerInterceptor):
    """Metrics, a server span and an access line for every RPC a server handles.

    `server`: the `grpc_server` label ("frontend" or "backend"); `tracing`: None when
    tracing is off; `access_log`: where the access lines go. Put it first in the server's
    interceptors so it sees every call.
    """

    def __init__(
        self,
        metrics: GrpcMetrics,
        server: GrpcServer,
        tracing: Tracing | None,
        access_log: AccessLog,
    ) -> None:
        self._metrics = metrics
        self._server = server
        self._tracing = tracing
        self._wrapped: dict[str, tuple[_Handler, Method]] = {}
        self._log = access_log

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        """The method's wrapped handler (None for an unknown method), with the call's hop
        made current for it. grpc.aio runs each RPC, this and then its handler, in a task of
        its own, so the hop is the call's alone and ends with it."""
        method: str = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None:
                return None
            wrapped = self._wrapped[method] = self._wrap(method, handler)
        hop = self._hop(wrapped[1], handler_call_details.invocation_metadata)
        CURRENT.set(hop)
        if hop.sampled and self._tracing is not None:
            return await self._tracing.serve_sampled(hop, wrapped[0], handler_call_details)
        return wrapped[0]

    def _wrap(self, method: str, handler: _Handler) -> tuple[_Handler, Method]:
        kind = _grpc_type(handler.request_streaming, handler.response_streaming)
        called = Method(self._metrics.method(kind, method, self._server), method)
        return self._wrap_behaviour(kind, called, handler), called

    def _wrap_behaviour(self, kind: str, called: Method, handler: _Handler) -> _Handler:
        behaviour: Any
        inner: Any
        if kind == "unary":
            inner = handler.unary_unary
            behaviour = self._unary(called, inner)
            return handler._replace(unary_unary=behaviour)  # type: ignore[attr-defined,no-any-return]
        if kind == "server_stream":
            inner = handler.unary_stream
            behaviour = self._streaming(called, inner, streamed_request=False)
            return handler._replace(unary_stream=behaviour)  # type: ignore[attr-defined,no-any-return]
        if kind == "client_stream":
            inner = handler.stream_unary
            behaviour = self._unary(called, inner, streamed_request=True)
            return handler._replace(stream_unary=behaviour)  # type: ignore[attr-defined,no-any-return]
        inner = handler.stream_stream
        behaviour = self._streaming(called, inner, streamed_request=True)
        return handler._replace(stream_stream=behaviour)  # type: ignore[attr-defined,no-any-return]

    def _unary(
        self, called: Method, inner: Callable[..., Any], *, streamed_request: bool = False
    ) -> Callable[..., Awaitable[Any]]:
        metrics = called.metrics

        async def handle(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            start = time.perf_counter()
            metrics.started.value += 1
            if streamed_request:
                request = _counting(request, metrics)
            else:
                metrics.received.value += 1
            hop = CURRENT.get()
            assert hop is not None  # intercept_service set it
            if hop.sampled:
                hop.adopt(trace.get_current_span())  # the instrumentation's (serve_sampled)
            code = _OK
            try:
                response = await inner(request, context)
            except BaseException as error:
                code = _failure(context, error)
                raise
            else:
                given: grpc.StatusCode | None = context.code()  # None until set
                code = _OK if given is None else given
                metrics.sent.value += 1
            finally:
                self._end(called, hop, code, start)
            return response

        return handle

    def _streaming(
        self, called: Method, inner: Callable[..., Any], *, streamed_request: bool
    ) -> Callable[..., Any]:
        metrics = called.metrics
        if not inspect.isasyncgenfunction(inner):
            # A handler that writes with `context.write`: messages sent cannot be seen here,
            # and it gets no span (the instrumentation iterates a streaming handler's messages).
            called.traced = False
            return self._unary(called, inner, streamed_request=streamed_request)

        async def handle(
            request: Any, context: aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            start = time.perf_counter()
            metrics.started.value += 1
            if streamed_request:
                request = _counting(request, metrics)
            else:
                metrics.received.value += 1
            hop = CURRENT.get()
            assert hop is not None  # intercept_service set it
            if hop.sampled:
                hop.adopt(trace.get_current_span())  # the instrumentation's (serve_sampled)
            code = _OK
            try:
                async for message in inner(request, context):
                    metrics.sent.value += 1
                    yield message
            except BaseException as error:
                code = _failure(context, error)
                raise
            else:
                code = _status(context)
            finally:
                self._end(called, hop, code, start)

        return handle

    def _hop(self, called: Method, metadata: _Metadata | None) -> Hop:
        """The call's hop: its request id and trace, from its metadata."""
        traceparent = tracestate = None
        request_id = ""
        for key, value in metadata or ():
            if key == TRACEPARENT:
                traceparent = str(value)
            elif key == TRACESTATE:
                tracestate = str(value)
            elif key == REQUEST_ID_KEY:
                request_id = str(value)
        if self._tracing is None or not called.traced:
            if not request_id and traceparent is not None:
                request_id = trace_id_of(traceparent)  # as server_hop does (context.py)
            hop = Hop(request_id)
        else:
            hop = self._tracing.server_hop(traceparent, tracestate, request_id)
        return hop

    def _end(self, called: Method, hop: Hop, code: grpc.StatusCode, start: float) -> None:
        seconds = time.perf_counter() - start
        name = "OK" if code is _OK else CODE_NAMES[code]  # no Enum.__hash__ call when OK
        called.metrics.finish(name, seconds)
        self._log.rpc(hop, self._server, called.name, name, seconds)


def _status(context: Any, default: grpc.StatusCode = _OK) -> grpc.StatusCode:
    """The code `context` was given; `default` if none (`code()` is None until set)."""
    code: grpc.StatusCode | None = context.code()
    return default if code is None else code


def _failure(context: aio.ServicerContext[Any, Any], error: BaseException) -> grpc.StatusCode:
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    if isinstance(error, aio.AbortError):
        return _status(context, grpc.StatusCode.UNKNOWN)
    return grpc.StatusCode.UNKNOWN


async def _counting(requests: AsyncIterable[Any], metrics: MethodMetrics) -> AsyncIterator[Any]:
    async for request in requests:
        metrics.received.value += 1
        yield request
