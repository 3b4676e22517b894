"""OpenTelemetry tracing of one hub: its TracerProvider, and the rules every hop follows.

`Tracing` owns a `TracerProvider` built from `observability.tracing` (no global provider is
set: the server wrappers, the client wrapper and the middleware are handed this object),
with the resource `service.name` and an exporter chosen by config (console or OTLP over
gRPC, batched) or given by a test (in memory, exported as each span ends).

Sampling is parent-based with a ratio at the root (`sampling_ratio`), and decided before
any OpenTelemetry call, so that the traces not sampled (nine in ten by default) cost no
span object, no sampler call and no context switch; the ids travel in the hop's `Hop`
(context.py), as hex strings:
- A server hop (HTTP request, RPC served) reads the W3C `traceparent`/`tracestate` it was
  sent. A parent that says "not sampled": no span; the hop keeps the parent's ids and passes
  the decision on. A sampled parent: a server span, its child. No (valid) parent: a root,
  sampled by `TraceIdRatioBased`'s rule (the low 64 bits of a new random trace id below
  ratio x 2^64); if it is not, the hop keeps that trace id and a new span id, and nothing
  else. The SDK's sampler is `ParentBased(ALWAYS_ON)`: by the time it is asked for a span,
  the hub has decided to sample it.
- A client hop (a call to a backend) starts a client span only under a recording hop;
  under an unsampled one it passes the hop's `traceparent` on; outside a trace it adds
  nothing. It always replaces any `traceparent` the caller put in the metadata, so the
  backend sees the hub's own span as its parent.
The common `traceparent` (version 00, no `tracestate`: what the hub's own client sends) is
checked and split without the propagator's regular expression; anything else goes through
the propagator.

Events: each event carries the `traceparent` of the write that caused it
(`current_traceparent`); `delivered` makes one span per published event (not per
subscriber: at 10,000 subscribers that would cost more than the delivery), when that write
was sampled.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from hub.config import Tracing as TracingSettings
from hub.contracts.events.v1.events_pb2 import Event
from hub.observability.context import CURRENT, Hop

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_TRACEPARENT_LENGTH = 55  # "00-" + 32 + "-" + 16 + "-" + 2
_HEX = "0123456789abcdef"
_NO_TRACE = "0" * 32
_NO_SPAN = "0" * 16
_SAMPLED = int(TraceFlags.SAMPLED)
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


def _split(traceparent: str) -> tuple[str, str, bool] | None:
    """(trace id, parent span id, sampled) of a version-00 `traceparent`, None if it is
    not one (W3C: lower-case hex, neither id all zeros)."""
    if len(traceparent) != _TRACEPARENT_LENGTH or not traceparent.startswith("00-"):
        return None
    trace_id, span_id, flags = traceparent[3:35], traceparent[36:52], traceparent[53:]
    if (
        traceparent[35] != "-"
        or traceparent[52] != "-"
        or trace_id.strip(_HEX)
        or span_id.strip(_HEX)
        or flags.strip(_HEX)
        or trace_id == _NO_TRACE
        or span_id == _NO_SPAN
    ):
        return None
    return trace_id, span_id, bool(int(flags, 16) & _SAMPLED)


class Tracing:
    """The hub's tracer and its span rules; `shutdown()` flushes and stops the exporter."""

    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        """`exporter`: a test's (spans exported as they end); None: the configured one."""
        self.provider = TracerProvider(
            sampler=ParentBased(ALWAYS_ON),
            resource=Resource.create({"service.name": settings.service_name}),
            shutdown_on_exit=False,
        )
        if exporter is not None:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif settings.exporter == "console":
            self.provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif settings.exporter == "otlp":
            endpoint = settings.otlp_endpoint
            self.provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
                )
            )
        self.tracer = self.provider.get_tracer("hub")
        self._root_bound = TraceIdRatioBased(settings.sampling_ratio).bound
        self._ids = RandomIdGenerator()

    def server_hop(
        self,
        name: str,
        traceparent: str | None,
        tracestate: str | None,
        attributes: _Attributes,
        request_id: str = "",
    ) -> Hop:
        """The hop's trace state under the remote context the headers carry, with a server
        span if the trace is sampled (see the module docstring)."""
        parent: Context | None = None
        if traceparent is not None:
            split = None if tracestate is not None else _split(traceparent)
            if split is not None and not split[2]:
                return Hop(request_id, split[0], split[1])
            parent = _remote(traceparent, tracestate, split)
            if parent is not None:
                remote = trace.get_current_span(parent).get_span_context()
                if not remote.trace_flags.sampled:
                    return Hop(request_id, f"{remote.trace_id:032x}", f"{remote.span_id:016x}")
        if parent is None:
            trace_id_int = self._ids.generate_trace_id()
            if trace_id_int & TraceIdRatioBased.TRACE_ID_LIMIT >= self._root_bound:
                return Hop(
                    request_id, f"{trace_id_int:032x}", f"{self._ids.generate_span_id():016x}"
                )
        span = self.tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        own = span.get_span_context()
        return Hop(request_id, f"{own.trace_id:032x}", f"{own.span_id:016x}", span=span)

    def client_span(self, parent: Span, name: str, attributes: _Attributes) -> tuple[Span, str]:
        """A client span, child of the recording `parent`, and the `traceparent` that names
        it."""
        span = self.tracer.start_span(
            name,
            context=trace.set_span_in_context(parent),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        return span, traceparent_of(span.get_span_context())

    def delivered(self, event: Event) -> None:
        """One span for a published event whose write was sampled: "deliver <type>", a
        consumer span that is a child of (and links to) the write's span, which the event's
        `traceparent` names. Unsampled writes cost a look at the `traceparent`."""
        split = _split(event.traceparent)
        if split is not None and not split[2]:
            return
        parent = _remote(event.traceparent, None, split)
        if parent is None:
            return
        write = trace.get_current_span(parent).get_span_context()
        if not write.trace_flags.sampled:
            return
        self.tracer.start_span(
            f"deliver {event.type}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=[Link(write)],
            attributes={
                "messaging.system": "hub",
                "messaging.operation.type": "process",
                "messaging.destination.name": event.subject,
                "messaging.message.id": str(event.id),
            },
        ).end()

    def shutdown(self) -> None:
        """Exports what is buffered and stops the exporter."""
        self.provider.shutdown()


def _remote(
    traceparent: str, tracestate: str | None, split: tuple[str, str, bool] | None
) -> Context | None:
    """The remote context the headers name, None if they name none; `split`: `_split`'s
    reading of `traceparent`, when it could read it (and there is no `tracestate`)."""
    if split is not None:
        trace_id, span_id, sampled = split
        flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        remote = SpanContext(int(trace_id, 16), int(span_id, 16), True, flags)
        return trace.set_span_in_context(NonRecordingSpan(remote))
    carrier = {TRACEPARENT: traceparent}
    if tracestate is not None:
        carrier[TRACESTATE] = tracestate
    context = _PROPAGATOR.extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None
