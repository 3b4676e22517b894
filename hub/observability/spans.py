"""The hub's sampled spans: recorded as plain data, handed to the SDK's span processor at the end.

The OpenTelemetry SDK's `Tracer.start_span` and `Span` are general: a sampler call, attribute
cleaning and locking per value, span limits, events, the processors' `on_start`, a copy
into a `ReadableSpan` at the end. Measured under callgrind, one span cost about 176,000
instructions that way (docs/benchmarks.md), about as much as a tenth of a whole REST
request: with three spans per sampled request, sampling at 0.1 cost the hub more than all
its metrics. The hub's spans have one fixed shape (a server span per hop, a client span
per backend call, a consumer span per delivered event; string and integer attributes, no
events, no status), so `SpanRecord` keeps just that, and `end` builds the SDK's own
`ReadableSpan` from it and hands it to the span processor (batched to the OTLP or console
exporter, or a test's in-memory one): about 24,000 instructions a span. Everything after
that point (batching, export, encoding) is the SDK's, unchanged.

The sampling decision is the caller's (tracing.py): a `SpanRecord` is made only for a
sampled trace.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags
from opentelemetry.util.types import AttributeValue

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def new_id(bits: int) -> int:
    """A random trace (128 bits) or span (64 bits) id; never 0, which W3C forbids."""
    value = random.getrandbits(bits)
    while not value:
        value = random.getrandbits(bits)
    return value


class SpanSink:
    """Where ended spans go: the span processor, with the resource and instrumentation
    scope every span of this hub carries."""

    __slots__ = ("processor", "resource", "scope")

    def __init__(self, processor: SpanProcessor, resource: Resource) -> None:
        self.processor = processor
        self.resource = resource
        self.scope = InstrumentationScope("hub")


class SpanRecord:
    """A sampled span being recorded. `name` and `attributes` may change until `end`."""

    __slots__ = ("_sink", "attributes", "context", "kind", "links", "name", "parent", "start")

    def __init__(
        self,
        sink: SpanSink,
        name: str,
        kind: SpanKind,
        parent: SpanContext | None,
        attributes: dict[str, AttributeValue],
        links: Sequence[Link] = (),
        root: tuple[int, int] | None = None,
    ) -> None:
        """A child of `parent` (in its trace, with its trace state), or a root in a new
        trace when `parent` is None: `root` (trace id, span id) if the caller drew them,
        else new ones. It starts now."""
        self._sink = sink
        self.name = name
        self.kind = kind
        self.parent = parent
        self.attributes = attributes
        self.links = links
        if parent is None:
            trace_id, span_id = (new_id(128), new_id(64)) if root is None else root
            self.context = SpanContext(trace_id, span_id, False, _SAMPLED)
        else:
            self.context = SpanContext(
                parent.trace_id, new_id(64), False, _SAMPLED, parent.trace_state
            )
        self.start = time.time_ns()

    def end(self) -> None:
        """Ends the span now and hands it to the processor."""
        sink = self._sink
        sink.processor.on_end(
            ReadableSpan(
                self.name,
                self.context,
                self.parent,
                sink.resource,
                self.attributes,
                links=self.links,
                kind=self.kind,
                start_time=self.start,
                end_time=time.time_ns(),
                instrumentation_scope=sink.scope,
            )
        )
