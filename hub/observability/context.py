"""The hop being served, in one ContextVar: its request id and its place in a trace.

A hop is one HTTP request (the middleware) or one RPC (a server wrapper, grpc.py). When it
begins, it sets `CURRENT` to its `Hop`; the access line, stdlib log records, the calls it
makes to the backends (grpc_client.py) and the events a backend writes all read it there,
and the hop resets it when it ends.

`Hop` holds the request id and, while tracing is on, the trace id, the span id (its own
span's when it records one, else its parent's: an unsampled hop starts no span and passes
its parent's decision on), whether the trace is sampled, and, once it has started, the
OpenTelemetry span of a sampled hop (tracing.py says who makes it).

The request id is the `x-request-id` the hop was sent; without one, its trace id. So a
request that starts a new trace at the hub is identified by that trace id in every line of
every hop, and the hub's client sends `x-request-id` on to a backend only when the request
id differs from the trace id (one gRPC metadata pair less per call: about 20,000 CPU
instructions). The HTTP middleware makes a random request id up when there is no trace
id to use: tracing is off, or the request joins a trace the client started (whose id other
requests share).

The ids are kept as the hex strings they are written as, in `traceparent` and in log
lines, so an unsampled hop converts nothing: it passes on what it read.

OpenTelemetry's own context is used by sampled hops only (their spans are current there, for
the gRPC instrumentation to find): attaching and detaching it, and the span objects an
unsampled trace would need there, cost more per request than everything else recorded
(docs/benchmarks.md).
"""

from __future__ import annotations

from contextvars import ContextVar

from opentelemetry.trace import Span, SpanContext


class Hop:
    """One hop being served; see the module docstring."""

    __slots__ = ("parent", "request_id", "sampled", "span", "span_id", "trace_id")

    def __init__(
        self,
        request_id: str,
        trace_id: str = "",
        span_id: str = "",
        *,
        sampled: bool = False,
        parent: SpanContext | None = None,
    ) -> None:
        """`trace_id` (32 hex digits) and `span_id` (16): "" outside a trace, and `span_id`
        "" for a sampled hop until its span starts (`adopt`); `parent`: the remote parent
        of a sampled hop (None for a root)."""
        self.request_id = request_id
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled
        self.parent = parent
        self.span: Span | None = None

    @property
    def traceparent(self) -> str:
        """The W3C `traceparent` that names this hop's span as the parent and passes the
        sampling decision on; "" outside a trace (or before a sampled hop's span starts)."""
        if not self.span_id:
            return ""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def adopt(self, span: Span) -> None:
        """Takes `span`, just started for this sampled hop, as the hop's own."""
        context = span.get_span_context()
        if not context.is_valid:  # none started (instrumentation suppressed): keep no span
            return
        self.span = span
        self.sampled = context.trace_flags.sampled
        self.trace_id = f"{context.trace_id:032x}"
        self.span_id = f"{context.span_id:016x}"


CURRENT: ContextVar[Hop | None] = ContextVar("hub_hop", default=None)
"""The hop this code runs in; None outside one (start-up, background tasks)."""
