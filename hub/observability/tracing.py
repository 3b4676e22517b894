"""OpenTelemetry tracing of one hub: where its spans go, and the rules every hop follows.

`Tracing` is built from `observability.tracing` (no global provider is set: the server
wrappers, the client wrapper and the middleware are handed this object): spans of the
resource `service.name` go to an exporter chosen by config (console, or OTLP over gRPC,
through the SDK's `BatchSpanProcessor`) or given by a test (in memory, through a
`SimpleSpanProcessor`: exported as each span ends). The spans themselves are recorded by
spans.py, not by the SDK's `Tracer` (see there why).

Sampling is parent-based with a ratio at the root (`sampling_ratio`), decided before any
span work, so that the traces not sampled (nine in ten by default) cost no span object and
no OpenTelemetry call at all; their ids travel in the hop's `Hop` (context.py), as hex
strings:
- A server hop (HTTP request, RPC served) reads the W3C `traceparent`/`tracestate` it was
  sent. A parent that says "not sampled": no span; the hop keeps the parent's ids and passes
  the decision on. A sampled parent: a server span, its child. No (valid) parent: a root,
  sampled by `TraceIdRatioBased`'s rule (the low 64 bits of a new random trace id below
  ratio x 2^64), as `ParentBased(TraceIdRatioBased(ratio))` would; if it is not sampled,
  the hop keeps that trace id and a new span id, and nothing else.
- A client hop (a call to a backend) starts a client span only under a recording hop;
  under an unsampled one it passes the hop's `traceparent` on; outside a trace it adds
  nothing. It always replaces any `traceparent` the caller put in the metadata, so the
  backend sees the hub's own span as its parent.
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
from collections.abc import Mapping
from random import getrandbits

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from hub.config import Tracing as TracingSettings
from hub.contracts.events.v1.events_pb2 import Event
from hub.observability.context import CURRENT, Hop
from hub.observability.spans import SpanRecord, SpanSink

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_VERSION_00 = re.compile("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_NO_TRACE = "0" * 32
_NO_SPAN = "0" * 16
_SAMPLED = int(TraceFlags.SAMPLED)
_LOW_64_BITS = TraceIdRatioBased.TRACE_ID_LIMIT
_PROPAGATOR = TraceContextTextMapPropagator()

_Attributes = Mapping[str, AttributeValue]


def traceparent_of(span_context: SpanContext) -> str:
    """The W3C `traceparent` header that names `span_context` as the parent."""
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
        f"-{int(span_context.trace_flags) & _SAMPLED:02x}"
    )


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
    """The hub's span rules and where its spans go; `shutdown()` flushes and stops the
    exporter."""

    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        """`exporter`: a test's (spans exported as they end); None: the configured one."""
        processor: SpanProcessor
        if exporter is not None:
            processor = SimpleSpanProcessor(exporter)
        elif settings.exporter == "console":
            processor = BatchSpanProcessor(ConsoleSpanExporter())
        elif settings.exporter == "otlp":
            endpoint = settings.otlp_endpoint
            processor = BatchSpanProcessor(
                OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
            )
        else:
            raise ValueError("observability.tracing.exporter is none: tracing is off")
        self._sink = SpanSink(processor, Resource.create({"service.name": settings.service_name}))
        self._root_bound = TraceIdRatioBased(settings.sampling_ratio).bound

    def server_hop(
        self,
        name: str,
        traceparent: str | None,
        tracestate: str | None,
        attributes: _Attributes,
        request_id: str = "",
    ) -> Hop:
        """The hop's trace state under the remote context the headers carry, with a server
        span if the trace is sampled (see the module docstring). Without a `request_id`,
        the hop's is its trace id (context.py)."""
        parent: SpanContext | None = None
        if traceparent is not None:
            split = None if tracestate is not None else _split(traceparent)
            if split is not None and not split[2]:
                return Hop(request_id or split[0], split[0], split[1])
            parent = _remote(traceparent, tracestate, split)
            if parent is not None and not parent.trace_flags.sampled:
                trace_id = f"{parent.trace_id:032x}"
                return Hop(request_id or trace_id, trace_id, f"{parent.span_id:016x}")
        root = None
        if parent is None:
            # A root: one draw for its trace id (the high 128 bits) and its span id.
            ids = getrandbits(192)
            while not ids >> 64 or not ids & _LOW_64_BITS:  # W3C: no all-zero id
                ids = getrandbits(192)
            if (ids >> 64) & _LOW_64_BITS >= self._root_bound:
                # Not sampled: the trace id and the id of a span that records nothing.
                text = f"{ids:048x}"
                trace_id = text[:32]
                return Hop(request_id or trace_id, trace_id, text[32:])
            root = (ids >> 64, ids & _LOW_64_BITS)
        span = SpanRecord(self._sink, name, SpanKind.SERVER, parent, dict(attributes), root=root)
        own = span.context
        trace_id = f"{own.trace_id:032x}"
        return Hop(request_id or trace_id, trace_id, f"{own.span_id:016x}", span=span)

    def client_span(
        self, parent: SpanRecord, name: str, attributes: _Attributes
    ) -> tuple[SpanRecord, str]:
        """A client span, child of the recording `parent`, and the `traceparent` that names
        it."""
        span = SpanRecord(self._sink, name, SpanKind.CLIENT, parent.context, dict(attributes))
        return span, traceparent_of(span.context)

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
        SpanRecord(
            self._sink,
            f"deliver {event.type}",
            SpanKind.CONSUMER,
            write,
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
        self._sink.processor.shutdown()


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
