"""OpenTelemetry tracing of one hub: its TracerProvider, and the span rules every hop follows.

`Tracing` owns a `TracerProvider` built from `observability.tracing` (no global provider is
set: the interceptors and the middleware are handed this object), with the resource
`service.name`, the sampler `ParentBased(TraceIdRatioBased(sampling_ratio))`, and an exporter
chosen by config (console or OTLP over gRPC, batched) or given by a test (in memory,
exported as each span ends).

One span per hop, and no span work that can be skipped:
- A server hop (HTTP request, RPC served) reads the W3C `traceparent`/`tracestate` it was
  sent. If they carry an unsampled decision, no span is started at all: the remote context
  is made current as it is, so the hop passes "not sampled" on. Otherwise the SDK starts a
  server span (a child of the remote one, or a root sampled at the ratio).
- A client hop (a call to a backend) starts a client span only under a recording span; under
  a non-recording one it passes that context on unchanged; with none (background calls such
  as health watches) it adds nothing. It always replaces any `traceparent` the caller put
  in the metadata, so the backend sees the hub's own span as its parent.
Propagation is W3C trace context (`traceparent_of` writes the header).

Events: each event carries the `traceparent` of the write that caused it; `delivered` makes
one span per published event (not per subscriber: at 10,000 subscribers that would cost
more than the delivery), when that write was sampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import Token

from opentelemetry import context as otel_context
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
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
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

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_TRACEPARENT_LENGTH = 55  # "00-" + 32 + "-" + 16 + "-" + 2

_Attributes = Mapping[str, AttributeValue]


def traceparent_of(span_context: SpanContext) -> str:
    """The W3C `traceparent` header that names `span_context` as the parent."""
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
        f"-{int(span_context.trace_flags):02x}"
    )


def current_traceparent() -> str:
    """`traceparent` of the current span, "" when there is none (tracing off)."""
    span_context = trace.get_current_span().get_span_context()
    return traceparent_of(span_context) if span_context.is_valid else ""


class ServerHop:
    """The trace state of one server hop: its span (None when it records nothing) and the
    context it made current. `finish` ends the span and restores the previous context."""

    __slots__ = ("_token", "span")

    def __init__(self, span: Span | None, token: Token[Context]) -> None:
        self.span = span
        self._token = token

    def finish(self, attributes: _Attributes | None = None) -> None:
        """Ends the hop; `attributes` are set on the span first (if it records)."""
        if self.span is not None:
            if attributes:
                self.span.set_attributes(attributes)
            self.span.end()
        otel_context.detach(self._token)


class Tracing:
    """The hub's tracer and its span rules; `shutdown()` flushes and stops the exporter."""

    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        """`exporter`: a test's (spans exported as they end); None: the configured one."""
        self.provider = TracerProvider(
            sampler=ParentBased(TraceIdRatioBased(settings.sampling_ratio)),
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
        self._propagator = TraceContextTextMapPropagator()

    def server_hop(
        self,
        name: str,
        traceparent: str | None,
        tracestate: str | None,
        attributes: _Attributes,
    ) -> ServerHop:
        """Starts a server hop under the remote context the headers carry (see module)."""
        parent: Context | None = None
        if traceparent is not None:
            parent = self._remote(traceparent, tracestate)
            remote_context = trace.get_current_span(parent).get_span_context()
            if remote_context.is_valid and not remote_context.trace_flags.sampled:
                return ServerHop(None, otel_context.attach(parent))
        span = self.tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return ServerHop(span if span.is_recording() else None, token)

    def _remote(self, traceparent: str, tracestate: str | None) -> Context:
        """The remote context the headers name. The common case (version 00, no
        tracestate: what the hub's own client sends) is read without the propagator's
        regular expression; anything else goes through it."""
        if tracestate is None and len(traceparent) == _TRACEPARENT_LENGTH:
            version, trace_id, span_id, flags = traceparent.split("-")
            try:
                remote = SpanContext(
                    int(trace_id, 16),
                    int(span_id, 16),
                    is_remote=True,
                    trace_flags=TraceFlags(int(flags, 16)),
                )
            except ValueError:
                remote = INVALID_SPAN_CONTEXT
            if version == "00" and remote.is_valid:
                return trace.set_span_in_context(NonRecordingSpan(remote))
        carrier = {TRACEPARENT: traceparent}
        if tracestate is not None:
            carrier[TRACESTATE] = tracestate
        return self._propagator.extract(carrier)

    def client_span(self, name: str, attributes: _Attributes) -> tuple[Span | None, str]:
        """A client span under the current span, when that one records, and the
        `traceparent` to send ("" with no current span: send none)."""
        current = trace.get_current_span()
        span_context = current.get_span_context()
        if not span_context.is_valid:
            return None, ""
        if not current.is_recording():
            return None, traceparent_of(span_context)
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        return span, traceparent_of(span.get_span_context())

    def delivered(self, event: Event) -> None:
        """One span for a published event whose write was sampled: "deliver <type>", a
        consumer span that is a child of (and links to) the write's span, which the event's
        `traceparent` names. Unsampled writes cost a string comparison."""
        traceparent = event.traceparent
        if not traceparent.endswith("-01"):
            return
        parent = self._propagator.extract({TRACEPARENT: traceparent})
        write = trace.get_current_span(parent).get_span_context()
        if not write.is_valid:
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
