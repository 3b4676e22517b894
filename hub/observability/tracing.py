"""OpenTelemetry tracing of one hub: where its spans go, and the rules every hop follows.

`Tracing` is built from `observability.tracing` (no global provider is set: the server
wrappers, the client wrapper and the middleware are handed this object). It holds an SDK
`TracerProvider` whose spans, of the resource `service.name`, go to an exporter chosen by
config (console, or OTLP over gRPC, through the SDK's `BatchSpanProcessor`) or given by a
test (in memory, through a `SimpleSpanProcessor`: exported as each span ends), under the
SDK's `ParentBased(TraceIdRatioBased(sampling_ratio))` sampler.

Who makes the spans of a sampled trace:
- each gRPC call, served and made: `opentelemetry-instrumentation-grpc`'s asyncio server
  interceptor and client interceptors (`serve_sampled`, `call_sampled`), unchanged, on this
  provider: its span names (`/hub.user.v1.UserService/CreateUser`), `rpc.*` and `net.peer.*`
  attributes, status on error, and W3C propagation through the metadata;
- each HTTP request and WebSocket (asgi.py): a server span from this provider's tracer
  (`start_server_span`), with the current semantic-convention attributes;
- each event published from a sampled write: a consumer span that links to the write
  (`delivered`).

Unsampled traces (nine in ten by default) make no OpenTelemetry call at all, which is what
the SDK's sampler would decide for them anyway, only sooner: the sampling decision is taken
here first, from the headers, and only a sampled hop is handed to the instrumentation. An
unsampled hop's ids travel in its `Hop` (context.py) as hex strings:
- A server hop (HTTP request, RPC served) reads the W3C `traceparent`/`tracestate` it was
  sent. A parent that says "not sampled": no span; the hop keeps the parent's ids and passes
  the decision on. A sampled parent: sampled. No (valid) parent: a root, sampled by
  `TraceIdRatioBased`'s rule on a trace id drawn here (the low 64 bits below
  ratio x 2^64). A sampled root's span gets that very trace id (the provider's id generator
  hands it over, `_DrawnIds`), so the SDK's sampler, asked again by the instrumentation,
  decides the same; an unsampled one keeps it and a new span id, and nothing else.
- A client hop (a call to a backend) under a sampled hop goes through the instrumentation's
  client interceptor (a client span, its `traceparent` in the metadata); under an unsampled
  one it passes the hop's `traceparent` on; outside a trace it adds nothing. Either way any
  `traceparent` the caller put in the metadata is replaced, so the backend sees the hub's
  own hop as its parent.
The common `traceparent` (version 00, no `tracestate`: what the hub's own client sends) is
checked with one regular expression and split by position; anything else goes through
OpenTelemetry's W3C propagator.

Events: each event carries the `traceparent` of the write that caused it
(`current_traceparent`); `delivered` makes one span per published event (not per
subscriber: at 10,000 subscribers that would cost more than the delivery), when that write
was sampled.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from random import getrandbits
from typing import Any, TypeAlias

import grpc
from grpc import aio
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from hub.config import Tracing as TracingSettings
from hub.contracts.events.v1.events_pb2 import Event
from hub.observability.context import CURRENT, Hop

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_VERSION_00 = re.compile("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_NO_TRACE = "0" * 32
_NO_SPAN = "0" * 16
_SAMPLED = int(TraceFlags.SAMPLED)
_LOW_64_BITS = TraceIdRatioBased.TRACE_ID_LIMIT
_PROPAGATOR = TraceContextTextMapPropagator()

_Attributes = Mapping[str, AttributeValue]
_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
ClientContinuation: TypeAlias = Callable[[aio.ClientCallDetails, Any], Awaitable[Any]]
"""How the instrumentation's client interceptor starts the call it traces: with the details
it rewrote (the trace context in their metadata) and the request; returns the call."""

_DRAWN: ContextVar[int] = ContextVar("hub_drawn_trace_id", default=0)
"""The trace id `server_hop` drew for a sampled root, until its span takes it."""


class _DrawnIds(RandomIdGenerator):
    """Random ids, but a sampled root's trace id is the one it was sampled by (`_DRAWN`)."""

    def generate_trace_id(self) -> int:
        drawn = _DRAWN.get()
        if drawn:
            _DRAWN.set(0)
            return drawn
        return super().generate_trace_id()


def current_traceparent() -> str:
    """`traceparent` of the hop being served, "" outside a trace (or with tracing off)."""
    hop = CURRENT.get()
    return "" if hop is None else hop.traceparent


def trace_id_of(traceparent: str) -> str:
    """The trace id a version-00 `traceparent` names, "" if it is not one."""
    split = _split(traceparent)
    return "" if split is None else split[0]


def _split(traceparent: str) -> tuple[str, str, bool] | None:
    """(trace id, parent span id, sampled) of a version-00 `traceparent`, None if it is
    not one (W3C: lower-case hex, neither id all zeros)."""
    if _VERSION_00.fullmatch(traceparent) is None:
        return None
    trace_id, span_id = traceparent[3:35], traceparent[36:52]
    if trace_id == _NO_TRACE or span_id == _NO_SPAN:
        return None
    return trace_id, span_id, bool(int(traceparent[53:], 16) & _SAMPLED)


class Tracing:
    """The hub's span rules, its tracer provider and the gRPC instrumentation on it;
    `shutdown()` flushes and stops the exporter."""

    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        """`exporter`: a test's (spans exported as they end); None: the configured one."""
        processor: SpanProcessor
        if exporter is not None:
            processor = SimpleSpanProcessor(exporter)
        elif settings.exporter == "console":
            # The stdout of now (its default is the one of when the SDK was imported).
            processor = BatchSpanProcessor(ConsoleSpanExporter(out=sys.stdout))
        elif settings.exporter == "otlp":
            endpoint = settings.otlp_endpoint
            processor = BatchSpanProcessor(
                OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
            )
        else:
            raise ValueError("observability.tracing.exporter is none: tracing is off")
        sampler = TraceIdRatioBased(settings.sampling_ratio)
        self._root_bound = sampler.bound
        self._provider = TracerProvider(
            sampler=ParentBased(sampler),
            resource=Resource.create({"service.name": settings.service_name}),
            id_generator=_DrawnIds(),
        )
        self._provider.add_span_processor(processor)
        self._tracer = self._provider.get_tracer("hub")
        # The instrumentation's functions are not annotated.
        self._server: aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
            tracer_provider=self._provider
        )
        interceptors: list[Any] = aio_client_interceptors(  # type: ignore[no-untyped-call]
            tracer_provider=self._provider
        )
        self._unary_unary: aio.UnaryUnaryClientInterceptor = interceptors[0]
        self._unary_stream: aio.UnaryStreamClientInterceptor = interceptors[1]

    def server_hop(
        self, traceparent: str | None, tracestate: str | None, request_id: str = ""
    ) -> Hop:
        """The hop's place in the trace the headers name (see the module docstring): an
        unsampled hop with its ids, or a sampled one, whose span the caller starts
        (`start_server_span`, `serve_sampled`). Without a `request_id`, the hop's is its
        trace id (context.py)."""
        if traceparent is not None:
            split = None if tracestate is not None else _split(traceparent)
            if split is not None and not split[2]:
                return Hop(request_id or split[0], split[0], split[1])
            parent = _remote(traceparent, tracestate, split)
            if parent is not None:
                trace_id = f"{parent.trace_id:032x}"
                if not parent.trace_flags.sampled:
                    return Hop(request_id or trace_id, trace_id, f"{parent.span_id:016x}")
                return Hop(request_id or trace_id, trace_id, sampled=True, parent=parent)
        # A root: one draw for its trace id (the high 128 bits) and its span id.
        ids = getrandbits(192)
        while not ids >> 64 or not ids & _LOW_64_BITS:  # W3C: no all-zero id
            ids = getrandbits(192)
        text = f"{ids:048x}"
        trace_id = text[:32]
        if (ids >> 64) & _LOW_64_BITS >= self._root_bound:
            # Not sampled: the trace id and the id of a span that records nothing.
            return Hop(request_id or trace_id, trace_id, text[32:])
        return Hop(request_id or trace_id, trace_id, sampled=True)

    def start_server_span(self, hop: Hop, name: str, attributes: _Attributes) -> None:
        """Starts the server span of a sampled HTTP or WebSocket hop (`hop.span`); the
        caller makes it current in OpenTelemetry's context for what the hop calls."""
        parent: Context | None = None
        if hop.parent is None:
            _DRAWN.set(int(hop.trace_id, 16))
        else:
            parent = trace.set_span_in_context(NonRecordingSpan(hop.parent))
        hop.adopt(self._tracer.start_span(name, parent, SpanKind.SERVER, attributes))

    @staticmethod
    def end_server_span(hop: Hop, name: str, attributes: _Attributes) -> None:
        """Ends what `start_server_span` started, renamed `name`, with `attributes` added."""
        span = hop.span
        assert span is not None  # start_server_span set it
        span.update_name(name)
        span.set_attributes(attributes)
        span.end()

    async def serve_sampled(
        self, hop: Hop, handler: _Handler, details: grpc.HandlerCallDetails
    ) -> _Handler:
        """`handler` for one call of a sampled hop, wrapped by the instrumentation's server
        interceptor: the call's span starts when the handler runs (which should then
        `adopt` it into `hop`)."""
        if hop.parent is None:
            _DRAWN.set(int(hop.trace_id, 16))

        async def resolved(_: grpc.HandlerCallDetails) -> _Handler:
            return handler

        traced = await self._server.intercept_service(resolved, details)
        assert traced is not None  # it wraps the handler it is given
        return traced

    def call_sampled(
        self, continuation: ClientContinuation, details: aio.ClientCallDetails, request: Any
    ) -> Awaitable[Any]:
        """A unary call of a sampled hop, through the instrumentation's client interceptor:
        the call `continuation` returns, once it has ended (its client span ended too)."""
        call: Awaitable[Any] = self._unary_unary.intercept_unary_unary(
            continuation, details, request
        )
        return call

    def stream_sampled(
        self, continuation: ClientContinuation, details: aio.ClientCallDetails, request: Any
    ) -> Awaitable[Any]:
        """A server-streaming call of a sampled hop, through the instrumentation's client
        interceptor: an async iterator of its messages (its client span ends with them)."""
        stream: Awaitable[Any] = self._unary_stream.intercept_unary_stream(
            continuation, details, request
        )
        return stream

    def delivered(self, event: Event) -> None:
        """One span for a published event whose write was sampled: "deliver <type>", a
        consumer span that is a child of (and links to) the write's span, which the event's
        `traceparent` names. Unsampled writes cost a look at the `traceparent`."""
        split = _split(event.traceparent)
        if split is not None and not split[2]:
            return
        write = _remote(event.traceparent, None, split)
        if write is None or not write.trace_flags.sampled:
            return
        self._tracer.start_span(
            f"deliver {event.type}",
            trace.set_span_in_context(NonRecordingSpan(write)),
            SpanKind.CONSUMER,
            {
                "messaging.system": "hub",
                "messaging.operation.type": "process",
                "messaging.destination.name": event.subject,
                "messaging.message.id": str(event.id),
            },
            links=[Link(write)],
        ).end()

    def shutdown(self) -> None:
        """Exports what is buffered and stops the exporter."""
        self._provider.shutdown()


def _remote(
    traceparent: str, tracestate: str | None, split: tuple[str, str, bool] | None
) -> SpanContext | None:
    """The remote span the headers name, None if they name none; `split`: `_split`'s
    reading of `traceparent`, when it could read it (and there is no `tracestate`)."""
    if split is not None:
        trace_id, span_id, sampled = split
        flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        return SpanContext(int(trace_id, 16), int(span_id, 16), True, flags)
    carrier = {TRACEPARENT: traceparent}
    if tracestate is not None:
        carrier[TRACESTATE] = tracestate
    context: Context = _PROPAGATOR.extract(carrier)
    remote = trace.get_current_span(context).get_span_context()
    return remote if remote.is_valid else None
