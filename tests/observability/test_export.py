"""Spans leave the hub the way they do in production: through the SDK's batch processor, to
an OTLP receiver over gRPC (what Jaeger and the OpenTelemetry Collector accept), or as JSON
on stdout (`exporter: console`); everything buffered is flushed when the hub stops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from hub.testing import running_hub

SIGNUP = {"email": "ada@example.com", "displayName": "Ada"}
CREATE_USER = "/hub.user.v1.UserService/CreateUser"
INSTRUMENTATION = "opentelemetry.instrumentation.grpc"


class _Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP trace receiver that keeps what it is sent."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: object
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, str]]:
    """A receiver on its own threads (the hub flushes its spans from the event loop's thread
    when it stops, so a receiver on that loop could not answer), and its endpoint."""
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    servicer = _Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"http://127.0.0.1:{port}"
    finally:
        server.stop(None)


async def _sign_up(tmp_path: Path, tracing: dict[str, Any]) -> None:
    """POST /api/v1/users on a hub with `tracing`, sampling everything; stops the hub."""
    observability = {"tracing": {"sampling_ratio": 1.0, **tracing}}
    async with (
        running_hub(tmp_path, observability=observability) as running,
        httpx.AsyncClient(base_url=running.http_url) as http,
    ):
        assert 200 == (await http.post("/api/v1/users", json=SIGNUP)).status_code
        await running.published_event_id()  # its delivery span is made by then


def _json_values(text: str) -> list[Any]:
    """The JSON values written one after another in `text` (the console exporter's)."""
    decoder = json.JSONDecoder()
    values, position = [], 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        value, position = decoder.raw_decode(text, position)
        values.append(value)
    return values


async def test_spans_reach_an_otlp_receiver_as_one_trace(
    tmp_path: Path, receiver: tuple[_Receiver, str]
) -> None:
    servicer, endpoint = receiver
    await _sign_up(
        tmp_path, {"exporter": "otlp", "otlp_endpoint": endpoint, "service_name": "hub-otlp"}
    )

    spans: dict[tuple[str, str, int], Span] = {}
    services = set()
    for request in servicer.requests:
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            services.add(attributes["service.name"])
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans[(scope_spans.scope.name, span.name, span.kind)] = span
    assert {"hub-otlp"} == services
    http = spans[("hub", "POST /api/v1/users", Span.SPAN_KIND_SERVER)]
    client = spans[(INSTRUMENTATION, CREATE_USER, Span.SPAN_KIND_CLIENT)]
    backend = spans[(INSTRUMENTATION, CREATE_USER, Span.SPAN_KIND_SERVER)]
    delivered = spans[("hub", "deliver user.created", Span.SPAN_KIND_CONSUMER)]
    assert 4 == len(spans)
    assert {http.trace_id} == {span.trace_id for span in spans.values()}
    assert (b"", http.span_id, client.span_id, backend.span_id) == (
        http.parent_span_id,
        client.parent_span_id,
        backend.parent_span_id,
        delivered.parent_span_id,
    )


async def test_the_console_exporter_writes_each_span_as_json_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _sign_up(tmp_path, {"exporter": "console"})

    spans = _json_values(capsys.readouterr().out)
    assert {
        ("POST /api/v1/users", "SpanKind.SERVER"),
        (CREATE_USER, "SpanKind.CLIENT"),
        (CREATE_USER, "SpanKind.SERVER"),
        ("deliver user.created", "SpanKind.CONSUMER"),
    } == {(span["name"], span["kind"]) for span in spans}
    assert 1 == len({span["context"]["trace_id"] for span in spans})
