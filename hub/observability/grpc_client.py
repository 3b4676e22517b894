"""The client side of the gRPC observability: the calls the hub makes to its backends.

`ObservedChannel` wraps each channel of `BackendClient` (the composition root passes
`ClientObservability.wrap` as its `channel_wrapper`): every unary and server-streaming
call made through it records the grpc-ecosystem client metrics and carries the trace
context and the request id in its metadata (replacing any `traceparent` the caller
forwarded, so the backend sees the hub's hop as its parent). A call made by a sampled hop
goes through opentelemetry-instrumentation-grpc's client interceptor (`Tracing.call_sampled`,
`_TracedCall`), which makes its client span and writes the `traceparent`; the others pass
the hop's `traceparent` on themselves.

Why not grpc.aio's `ClientInterceptor` machinery: with it, every call goes through grpc's
`InterceptedUnaryUnaryCall`, which runs the interceptor chain in a task of its own; that
machinery cost about 190 µs of CPU per REST request here (bench/observability.py, the
client interceptor removed against kept), far more than the recording itself. Wrapping
the multicallable and the call it returns adds a function call and a generator frame, and
no task. The instrumentation's interceptor is called directly, with a continuation that
makes the call on the wrapped channel: no task either. The wrapped call is a complete
`UnaryUnaryCall` (it delegates everything else), so callers keep reading its metadata and
status as before.
"""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any

import grpc
from grpc import aio

from hub.observability.context import CURRENT, Hop
from hub.observability.grpc import CODE_NAMES, Method
from hub.observability.logging import REQUEST_ID_KEY
from hub.observability.metrics import GrpcMetrics
from hub.observability.tracing import TRACEPARENT, ClientContinuation, Tracing

_OK = grpc.StatusCode.OK
_Metadata = Any  # aio.Metadata, a sequence of pairs, or None


class ClientObservability:
    """Builds the observed channels; one per hub, shared by its channels."""

    def __init__(self, metrics: GrpcMetrics, tracing: Tracing | None) -> None:
        self._metrics = metrics
        self.tracing = tracing

    def wrap(self, channel: aio.Channel) -> aio.Channel:
        """`channel`, with every unary and server-streaming call observed."""
        return ObservedChannel(channel, self)

    def method(self, kind: str, method: str) -> Method:
        """The metrics and trace data of `method` (call once per multicallable)."""
        return Method(self._metrics.method(kind, method), method)

    def outgoing(
        self, metadata: _Metadata, hop: Hop, *, traced: bool, traceparent: str = ""
    ) -> _Metadata:
        """`metadata` with the request id of `hop` and `traceparent` ("": none to add).
        `traced`: the call carries the hop's trace context (in `traceparent`, or added by the
        instrumentation)."""
        # Sent no `x-request-id`, the backend takes the trace id as request id (context.py).
        request_id = "" if traced and hop.request_id == hop.trace_id else hop.request_id
        if not traceparent and not request_id:
            return metadata
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
        return tuple(pairs)


def _finish(method: Method, code: grpc.StatusCode, start: float) -> None:
    method.metrics.finish(
        "OK" if code is _OK else CODE_NAMES[code],  # no Enum.__hash__ call when OK
        time.perf_counter() - start,
    )


class _Observing:
    """What the observed multicallables share: their method's metrics and trace data, and
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
    ) -> Any:
        """The call; for a sampled hop, one that starts through the instrumentation when it
        is awaited (or iterated)."""
        method = self._method
        method.metrics.started.value += 1
        method.metrics.sent.value += 1
        hop = CURRENT.get()
        if hop is not None:  # else: not within a request, a background call
            tracing = self._owner.tracing
            if tracing is not None and method.traced:
                if hop.sampled:
                    details = aio.ClientCallDetails(
                        method.path,
                        timeout,
                        self._owner.outgoing(metadata, hop, traced=True),
                        credentials,
                        wait_for_ready,
                    )
                    return self._traced(tracing, details, request, compression)
                metadata = self._owner.outgoing(
                    metadata, hop, traced=True, traceparent=hop.traceparent
                )
            else:
                metadata = self._owner.outgoing(metadata, hop, traced=False)
        return self._inner(
            request,
            timeout=timeout,
            metadata=metadata,
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )

    @abstractmethod
    def _traced(
        self,
        tracing: Tracing,
        details: aio.ClientCallDetails,
        request: Any,
        compression: grpc.Compression | None,
    ) -> Any:
        """The call of a sampled hop: made through the instrumentation's client interceptor
        when it is awaited (or iterated)."""

    def _continuation(
        self, pending: _Delegating, compression: grpc.Compression | None
    ) -> ClientContinuation:
        """What the instrumentation calls to make the call, with the details it rewrote;
        `pending` delegates to the call from then on."""

        async def make(details: aio.ClientCallDetails, request: Any) -> Any:
            pending._call = self._inner(
                request,
                timeout=details.timeout,
                metadata=details.metadata,
                credentials=details.credentials,
                wait_for_ready=details.wait_for_ready,
                compression=compression,
            )
            return pending._call

        return make


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
        call = self._start(request, timeout, metadata, credentials, wait_for_ready, compression)
        return _ObservedCall(call, self._method)

    def _traced(
        self,
        tracing: Tracing,
        details: aio.ClientCallDetails,
        request: Any,
        compression: grpc.Compression | None,
    ) -> Any:
        call = _TracedCall()
        call.ended = tracing.call_sampled(self._continuation(call, compression), details, request)
        return call


class _Delegating:
    """The `Call` methods of a wrapped call, passed through (the coroutine ones return the
    wrapped call's coroutine as it is: no frame of their own). A traced call has no call to
    pass them to before it is awaited (or iterated): it starts then."""

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

    def __init__(self, call: aio.UnaryUnaryCall[Any, Any], method: Method) -> None:
        self._call = call
        self._method = method
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
            _finish(self._method, _OK, self._start)
        return response

    def _record(self, code: grpc.StatusCode) -> None:
        """Records the call's end with `code` (not OK), once."""
        if not self._recorded:
            self._recorded = True
            _finish(self._method, code, self._start)


class _TracedCall(_Delegating, aio.UnaryUnaryCall[Any, Any]):
    """A unary call of a sampled hop. Awaited, it awaits `ended` (`Tracing.call_sampled`:
    the instrumentation makes the call, with `_Observing._continuation`, and returns it once
    it has ended and its span with it), then the call's response."""

    def __init__(self) -> None:
        self._call: Any = None
        self.ended: Awaitable[Any] | None = None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._response().__await__()

    async def _response(self) -> Any:
        assert self.ended is not None  # set as soon as it is made
        try:
            call = await self.ended
        except asyncio.CancelledError:
            if self._call is not None:
                self._call.cancel()
            raise
        return await call


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
        call = self._start(request, timeout, metadata, credentials, wait_for_ready, compression)
        return _ObservedStream(call, self._method)

    def _traced(
        self,
        tracing: Tracing,
        details: aio.ClientCallDetails,
        request: Any,
        compression: grpc.Compression | None,
    ) -> Any:
        call = _TracedStream()
        call.messages = tracing.stream_sampled(
            self._continuation(call, compression), details, request
        )
        return call


class _ObservedStream(_Delegating, aio.UnaryStreamCall[Any, Any]):
    """A server-streaming call: each message counted as it is iterated, the end recorded."""

    def __init__(self, call: aio.UnaryStreamCall[Any, Any], method: Method) -> None:
        self._call = call
        self._method = method

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
            _finish(self._method, code, start)

    async def read(self) -> Any:
        message = await self._call.read()
        if message is not aio.EOF:
            self._method.metrics.received.value += 1
        return message


class _TracedStream(_Delegating, aio.UnaryStreamCall[Any, Any]):
    """A server-streaming call of a sampled hop: `messages` (`Tracing.stream_sampled`)
    makes the call when first iterated or read, and gives its messages, traced."""

    def __init__(self) -> None:
        self._call: Any = None
        self.messages: Awaitable[AsyncIterator[Any]] | None = None
        self._reading: AsyncIterator[Any] | None = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Any]:
        assert self.messages is not None  # set as soon as it is made
        async for message in await self.messages:
            yield message

    async def read(self) -> Any:
        if self._reading is None:
            self._reading = self._messages()
        try:
            return await anext(self._reading)
        except StopAsyncIteration:
            return aio.EOF


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
