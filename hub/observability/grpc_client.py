"""The client side of the gRPC observability: the calls the hub makes to its backends.

`ObservedChannel` wraps each channel of `BackendClient` (the composition root passes
`ClientObservability.wrap` as its `channel_wrapper`): every unary and server-streaming
call made through it records the grpc-ecosystem client metrics, gets a client span under
the current recording span, and carries the trace context and the request id in its
metadata (replacing any `traceparent` the caller forwarded, so the backend sees the hub's
span as its parent).

Why not a grpc.aio `ClientInterceptor`: with one, every call goes through grpc's
`InterceptedUnaryUnaryCall`, which runs the interceptor chain in a task of its own; that
machinery cost about 190 µs of CPU per REST request here (bench/observability.py, the
client interceptor removed against kept), far more than the recording itself. Wrapping
the multicallable and the call it returns adds a function call and a generator frame, and
no task. The wrapped call is a complete `UnaryUnaryCall` (it delegates everything else),
so callers keep reading its metadata and status as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any

import grpc
from grpc import aio

from hub.observability.context import CURRENT
from hub.observability.grpc import CODE_NAMES, Method
from hub.observability.logging import REQUEST_ID_KEY
from hub.observability.metrics import GrpcMetrics
from hub.observability.spans import SpanRecord
from hub.observability.tracing import TRACEPARENT, Tracing

_OK = grpc.StatusCode.OK
_Metadata = Any  # aio.Metadata, a sequence of pairs, or None


class ClientObservability:
    """Builds the observed channels; one per hub, shared by its channels."""

    def __init__(self, metrics: GrpcMetrics, tracing: Tracing | None) -> None:
        self._metrics = metrics
        self._tracing = tracing

    def wrap(self, channel: aio.Channel) -> aio.Channel:
        """`channel`, with every unary and server-streaming call observed."""
        return ObservedChannel(channel, self)

    def method(self, kind: str, method: str) -> Method:
        """The metrics and span data of `method` (call once per multicallable)."""
        return Method(self._metrics.method(kind, method), method)

    def outgoing(self, metadata: _Metadata, method: Method) -> tuple[_Metadata, SpanRecord | None]:
        """`metadata` with the trace context and request id of the hop making the call, and
        the client span (None when none was started: see tracing.py)."""
        hop = CURRENT.get()
        if hop is None:  # not within a request: a background call
            return metadata, None
        span = None
        traceparent = ""
        if self._tracing is not None and method.traced:
            if hop.span is not None:
                span, traceparent = self._tracing.client_span(
                    hop.span, method.name, method.attributes
                )
            else:
                traceparent = hop.traceparent
        # Sent no `x-request-id`, the backend takes the trace id as request id (context.py).
        request_id = "" if traceparent and hop.request_id == hop.trace_id else hop.request_id
        if not traceparent and not request_id:
            return metadata, span
        pairs = []
        for pair in metadata or ():
            key = pair[0]
            if not (traceparent and key == TRACEPARENT) and not (
                request_id and key == REQUEST_ID_KEY
            ):
                pairs.append(pair)
        if traceparent:
            pairs.append((TRACEPARENT, traceparent))
        if request_id:
            pairs.append((REQUEST_ID_KEY, request_id))
        return tuple(pairs), span


def _finish(method: Method, span: SpanRecord | None, code: grpc.StatusCode, start: float) -> None:
    method.metrics.finish(
        "OK" if code is _OK else CODE_NAMES[code],  # no Enum.__hash__ call when OK
        time.perf_counter() - start,
    )
    if span is not None:
        span.attributes["rpc.grpc.status_code"] = code.value[0]
        span.end()


class _Observing:
    """What the observed multicallables share: their method's metrics and span data, and
    how a call starts (counted, with the trace context and request id in its metadata)."""

    _kind: str

    def __init__(self, inner: Any, owner: ClientObservability, path: str) -> None:
        self._inner = inner
        self._owner = owner
        self._method = owner.method(self._kind, path)

    def _start(
        self,
        request: Any,
        timeout: float | None,
        metadata: _Metadata,
        credentials: grpc.CallCredentials | None,
        wait_for_ready: bool | None,
        compression: grpc.Compression | None,
    ) -> tuple[Any, SpanRecord | None]:
        method = self._method
        method.metrics.started.value += 1
        method.metrics.sent.value += 1
        metadata, span = self._owner.outgoing(metadata, method)
        call = self._inner(
            request,
            timeout=timeout,
            metadata=metadata,
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )
        return call, span


class _ObservedUnaryUnary(_Observing, aio.UnaryUnaryMultiCallable[Any, Any]):
    _kind = "unary"

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: _Metadata = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> aio.UnaryUnaryCall[Any, Any]:
        call, span = self._start(
            request, timeout, metadata, credentials, wait_for_ready, compression
        )
        return _ObservedCall(call, self._method, span)


class _Delegating:
    """The `Call` methods of a wrapped call, passed through (the coroutine ones return the
    wrapped call's coroutine as it is: no frame of their own)."""

    _call: Any

    def cancelled(self) -> bool:
        return bool(self._call.cancelled())

    def done(self) -> bool:
        return bool(self._call.done())

    def time_remaining(self) -> float | None:
        remaining: float | None = self._call.time_remaining()
        return remaining

    def cancel(self) -> bool:
        return bool(self._call.cancel())

    def add_done_callback(self, callback: Any) -> None:
        self._call.add_done_callback(callback)

    def initial_metadata(self) -> Coroutine[Any, Any, aio.Metadata]:
        coroutine: Coroutine[Any, Any, aio.Metadata] = self._call.initial_metadata()
        return coroutine

    def trailing_metadata(self) -> Coroutine[Any, Any, aio.Metadata]:
        coroutine: Coroutine[Any, Any, aio.Metadata] = self._call.trailing_metadata()
        return coroutine

    def code(self) -> Coroutine[Any, Any, grpc.StatusCode]:
        coroutine: Coroutine[Any, Any, grpc.StatusCode] = self._call.code()
        return coroutine

    def details(self) -> Coroutine[Any, Any, str]:
        coroutine: Coroutine[Any, Any, str] = self._call.details()
        return coroutine

    def wait_for_connection(self) -> Coroutine[Any, Any, None]:
        coroutine: Coroutine[Any, Any, None] = self._call.wait_for_connection()
        return coroutine


class _ObservedCall(_Delegating, aio.UnaryUnaryCall[Any, Any]):
    """A unary call whose completion is recorded (once) when it is awaited."""

    def __init__(
        self, call: aio.UnaryUnaryCall[Any, Any], method: Method, span: SpanRecord | None
    ) -> None:
        self._call = call
        self._method = method
        self._span = span
        self._start = time.perf_counter()
        self._recorded = False

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            response = yield from self._call.__await__()
        except aio.AioRpcError as error:
            self._record(error.code())
            raise
        except asyncio.CancelledError:
            self._record(grpc.StatusCode.CANCELLED)
            raise
        if not self._recorded:
            self._recorded = True
            self._method.metrics.received.value += 1
            _finish(self._method, self._span, _OK, self._start)
        return response

    def _record(self, code: grpc.StatusCode) -> None:
        """Records the call's end with `code` (not OK), once."""
        if not self._recorded:
            self._recorded = True
            _finish(self._method, self._span, code, self._start)


class _ObservedUnaryStream(_Observing, aio.UnaryStreamMultiCallable[Any, Any]):
    _kind = "server_stream"

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: _Metadata = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> aio.UnaryStreamCall[Any, Any]:
        call, span = self._start(
            request, timeout, metadata, credentials, wait_for_ready, compression
        )
        return _ObservedStream(call, self._method, span)


class _ObservedStream(_Delegating, aio.UnaryStreamCall[Any, Any]):
    """A server-streaming call: each message counted as it is iterated, the end recorded."""

    def __init__(
        self, call: aio.UnaryStreamCall[Any, Any], method: Method, span: SpanRecord | None
    ) -> None:
        self._call = call
        self._method = method
        self._span = span

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Any]:
        start = time.perf_counter()
        code = _OK
        try:
            async for message in self._call:
                self._method.metrics.received.value += 1
                yield message
        except aio.AioRpcError as error:
            code = error.code()
            raise
        except (asyncio.CancelledError, GeneratorExit):
            code = grpc.StatusCode.CANCELLED
            raise
        finally:
            _finish(self._method, self._span, code, start)

    async def read(self) -> Any:
        message = await self._call.read()
        if message is not aio.EOF:
            self._method.metrics.received.value += 1
        return message


class ObservedChannel(aio.Channel):
    """`channel` with its unary and server-streaming calls observed; everything else is
    the wrapped channel's."""

    def __init__(self, channel: aio.Channel, owner: ClientObservability) -> None:
        self._channel = channel
        # The generated stubs pass `_registered_method`, which the type stubs do not know.
        self._untyped: Any = channel
        self._owner = owner

    async def __aenter__(self) -> ObservedChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._channel.close()

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()

    def unary_unary(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
        _registered_method: bool | None = False,
    ) -> aio.UnaryUnaryMultiCallable[Any, Any]:
        inner = self._untyped.unary_unary(
            method, request_serializer, response_deserializer, _registered_method
        )
        return _ObservedUnaryUnary(inner, self._owner, method)

    def unary_stream(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
        _registered_method: bool | None = False,
    ) -> aio.UnaryStreamMultiCallable[Any, Any]:
        inner = self._untyped.unary_stream(
            method, request_serializer, response_deserializer, _registered_method
        )
        return _ObservedUnaryStream(inner, self._owner, method)

    def stream_unary(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
        _registered_method: bool | None = False,
    ) -> aio.StreamUnaryMultiCallable[Any, Any]:
        """Not observed: the hub makes no client-streaming call."""
        inner: aio.StreamUnaryMultiCallable[Any, Any] = self._untyped.stream_unary(
            method, request_serializer, response_deserializer, _registered_method
        )
        return inner

    def stream_stream(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
        _registered_method: bool | None = False,
    ) -> aio.StreamStreamMultiCallable[Any, Any]:
        """Not observed: the hub makes no bidirectional call."""
        inner: aio.StreamStreamMultiCallable[Any, Any] = self._untyped.stream_stream(
            method, request_serializer, response_deserializer, _registered_method
        )
        return inner
