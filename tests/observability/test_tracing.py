"""Traces across the hub and its backends, exported to memory; and the JSON log lines that
carry their ids."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from hub.config import Tracing as TracingSettings
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.observability.asgi import Hops
from hub.observability.logging import LoggingSetup
from hub.observability.tracing import Tracing
from hub.testing import RunningHub, running_hub

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CREATE_USER = "/hub.user.v1.UserService/CreateUser"  # the gRPC instrumentation's span name
INSTRUMENTATION = "opentelemetry.instrumentation.grpc"
CLIENT_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture
async def traced(tmp_path: Path, exporter: InMemorySpanExporter) -> AsyncIterator[RunningHub]:
    """A hub that samples every trace without a parent decision, exporting to `exporter`."""
    async with running_hub(
        tmp_path, span_exporter=exporter, observability={"tracing": {"sampling_ratio": 1.0}}
    ) as running:
        yield running


def _by_kind(spans: tuple[ReadableSpan, ...], kind: SpanKind, name: str) -> ReadableSpan:
    matching = [span for span in spans if span.kind == kind and span.name == name]
    assert 1 == len(matching), [(span.kind, span.name) for span in spans]
    return matching[0]


def _ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    """(trace id, span id, parent span id) in hex."""
    context = span.context
    parent = None if span.parent is None else f"{span.parent.span_id:016x}"
    return f"{context.trace_id:032x}", f"{context.span_id:016x}", parent


async def _until_exported(exporter: InMemorySpanExporter, name: str) -> None:
    """Returns once a span called `name` has ended (spans are exported as they end)."""
    async with asyncio.timeout(10):
        while all(span.name != name for span in exporter.get_finished_spans()):  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.005)


async def _create_user_over_rest(running: RunningHub, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=running.http_url) as client:
        response = await client.post(
            "/api/v1/users",
            json={"email": "ada@example.com", "displayName": "Ada"},
            headers=headers,
        )
    assert 200 == response.status_code, response.text
    user_id: str = response.json()["id"]
    return user_id


async def test_one_request_is_one_trace_from_http_through_the_client_to_the_backend(
    traced: RunningHub, exporter: InMemorySpanExporter
) -> None:
    """POST /api/v1/users with a sampled `traceparent`: the HTTP server span is its child,
    the client span the server span's, the backend's server span the client span's, all in
    the client's trace; the event of the write carries the backend span as its parent, and
    its delivery span is that span's child and links to it."""
    traceparent = f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01"
    user_id = await _create_user_over_rest(traced, {"traceparent": traceparent})
    event = (await traced.hub.store.read_outbox(0, 10))[-1]
    await _until_exported(exporter, "deliver user.created")
    await traced.hub.stop()  # flushes every span

    spans = exporter.get_finished_spans()
    http = _by_kind(spans, SpanKind.SERVER, "POST /api/v1/users")
    client = _by_kind(spans, SpanKind.CLIENT, CREATE_USER)
    backend = _by_kind(spans, SpanKind.SERVER, CREATE_USER)
    http_ids, client_ids, backend_ids = _ids(http), _ids(client), _ids(backend)
    assert (TRACE_ID, CLIENT_SPAN_ID) == (http_ids[0], http_ids[2])
    assert (TRACE_ID, http_ids[1]) == (client_ids[0], client_ids[2])
    assert (TRACE_ID, client_ids[1]) == (backend_ids[0], backend_ids[2])
    assert f"00-{TRACE_ID}-{backend_ids[1]}-01" == event.traceparent
    assert user_id == event.owner_id
    assert {
        "http.request.method": "POST",
        "url.path": "/api/v1/users",
        "url.scheme": "http",
        "http.route": "/api/v1/users",
        "http.response.status_code": 200,
    } == dict(http.attributes or {})
    rpc = {
        "rpc.system": "grpc",
        "rpc.service": "hub.user.v1.UserService",
        "rpc.method": "CreateUser",
        "rpc.grpc.status_code": 0,
    }
    for span in (client, backend):
        assert rpc == {key: (span.attributes or {}).get(key) for key in rpc}
        assert span.instrumentation_scope is not None
        assert INSTRUMENTATION == span.instrumentation_scope.name
    assert "hub" == http.resource.attributes["service.name"]
    delivered = _by_kind(spans, SpanKind.CONSUMER, "deliver user.created")
    assert (TRACE_ID, backend_ids[1]) == (_ids(delivered)[0], _ids(delivered)[2])
    assert [backend_ids[1]] == [f"{link.context.span_id:016x}" for link in delivered.links]


async def test_an_unsampled_parent_records_no_span_anywhere(
    traced: RunningHub, exporter: InMemorySpanExporter
) -> None:
    """A `traceparent` that says "not sampled" is honoured by every hop (parent-based), and
    the write's event still names that trace."""
    await _create_user_over_rest(traced, {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-00"})
    event = (await traced.hub.store.read_outbox(0, 10))[-1]
    await traced.hub.stop()
    assert () == exporter.get_finished_spans()
    assert TRACE_ID == event.traceparent.split("-")[1]


async def test_a_grpc_call_through_the_front_end_is_one_trace(
    traced: RunningHub, exporter: InMemorySpanExporter
) -> None:
    """Front-end server span -> client span -> backend server span, without a parent given
    (sampled at ratio 1.0)."""
    await traced.users.CreateUser(
        CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
    )
    await traced.hub.stop()
    spans = [span for span in exporter.get_finished_spans() if span.name == CREATE_USER]
    by_parent = {_ids(span)[2]: span for span in spans}
    front = by_parent[None]
    client = by_parent[_ids(front)[1]]
    backend = by_parent[_ids(client)[1]]
    assert [SpanKind.SERVER, SpanKind.CLIENT, SpanKind.SERVER] == [
        front.kind,
        client.kind,
        backend.kind,
    ]
    assert 3 == len(spans)
    assert 1 == len({_ids(span)[0] for span in spans})


@pytest.mark.parametrize("direct", [True, False], ids=["hub-serve", "records"])
async def test_log_lines_are_json_with_the_trace_and_request_ids(
    tmp_path: Path,
    exporter: InMemorySpanExporter,
    logged: tuple[io.StringIO, LoggingSetup],
    direct: bool,
) -> None:
    """The HTTP access line and the backend's RPC access line carry the trace id, their own
    span ids and the request id the client sent; every line has the common fields. Access
    lines written directly (as `hub serve` does) and as stdlib records look the same."""
    log_lines, setup = logged
    traceparent = f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01"
    async with running_hub(
        tmp_path,
        span_exporter=exporter,
        access_log=setup.access if direct else None,
        observability={"tracing": {"sampling_ratio": 1.0}},
    ) as traced:
        await _create_user_over_rest(traced, {"traceparent": traceparent, "x-request-id": "req-42"})
        logging.getLogger("hub.test").warning("plain %s record", "stdlib")

    lines: list[dict[str, Any]] = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    http = next(line for line in lines if line["event"] == "http request")
    rpc = next(
        line for line in lines if line["event"] == "rpc" and line.get("grpc_server") == "backend"
    )
    spans = exporter.get_finished_spans()
    http_span = _by_kind(spans, SpanKind.SERVER, "POST /api/v1/users")
    backend_span = _by_kind(spans, SpanKind.SERVER, CREATE_USER)
    assert {
        "logger": "hub.access",
        "level": "info",
        "trace_id": TRACE_ID,
        "span_id": _ids(http_span)[1],
        "request_id": "req-42",
        "method": "POST",
        "path": "/api/v1/users",
        "endpoint": "/api/v1/users",
        "status": 200,
    } == {
        key: http[key]
        for key in (
            "logger",
            "level",
            "trace_id",
            "span_id",
            "request_id",
            "method",
            "path",
            "endpoint",
            "status",
        )
    }
    assert (TRACE_ID, _ids(backend_span)[1], "req-42", "OK") == (
        rpc["trace_id"],
        rpc["span_id"],
        rpc["request_id"],
        rpc["grpc_code"],
    )
    plain = next(line for line in lines if line["logger"] == "hub.test")
    assert ("warning", "plain stdlib record") == (plain["level"], plain["event"])
    assert all(line["timestamp"].endswith("Z") for line in lines)


def _serve_http(tracing: Tracing, traceparent: str, tracestate: str | None) -> None:
    """What the HTTP middleware does with a request's trace headers, without the request."""
    hops = Hops(tracing)
    hop = hops.begin("GET", "/", "http", traceparent, tracestate, None)
    assert hop.span is not None
    hops.end(hop, "GET", "/", 200)


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # not hex
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "garbage",
    ],
)
def test_a_bad_traceparent_starts_a_new_trace(
    exporter: InMemorySpanExporter, traceparent: str
) -> None:
    """A `traceparent` that does not parse is ignored (W3C): the hop starts a root span."""
    tracing = Tracing(TracingSettings(sampling_ratio=1.0), exporter)
    _serve_http(tracing, traceparent, None)
    (span,) = exporter.get_finished_spans()
    assert (None, True) == (span.parent, _ids(span)[0] != TRACE_ID)


def test_a_tracestate_is_kept_with_its_traceparent(exporter: InMemorySpanExporter) -> None:
    """With a `tracestate`, the propagator reads both: the span's parent carries it."""
    tracing = Tracing(TracingSettings(sampling_ratio=0.0), exporter)
    _serve_http(tracing, f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01", "vendor=abc")
    (span,) = exporter.get_finished_spans()
    assert span.parent is not None
    assert (CLIENT_SPAN_ID, "abc") == (
        f"{span.parent.span_id:016x}",
        span.parent.trace_state.get("vendor"),
    )


async def test_a_trace_the_hub_starts_reaches_the_event_and_its_delivery(
    traced: RunningHub, exporter: InMemorySpanExporter
) -> None:
    """POST /api/v1/users without `traceparent` (sampled at ratio 1.0): the hub's HTTP span
    is a root, the event names the backend span of the same trace as sampled, and the
    delivery span is its child."""
    await _create_user_over_rest(traced, {})
    event = (await traced.hub.store.read_outbox(0, 10))[-1]
    await _until_exported(exporter, "deliver user.created")
    await traced.hub.stop()

    spans = exporter.get_finished_spans()
    http = _by_kind(spans, SpanKind.SERVER, "POST /api/v1/users")
    backend = _by_kind(spans, SpanKind.SERVER, CREATE_USER)
    delivered = _by_kind(spans, SpanKind.CONSUMER, "deliver user.created")
    trace_id, backend_id, _ = _ids(backend)
    assert (None, trace_id) == (http.parent, _ids(http)[0])
    assert f"00-{trace_id}-{backend_id}-01" == event.traceparent
    assert (trace_id, backend_id) == (_ids(delivered)[0], _ids(delivered)[2])


@pytest.mark.parametrize("sampling_ratio", [0.0, 1.0], ids=["unsampled", "sampled"])
async def test_without_x_request_id_a_new_trace_is_the_request_id_on_every_hop(
    tmp_path: Path,
    exporter: InMemorySpanExporter,
    logged: tuple[io.StringIO, LoggingSetup],
    sampling_ratio: float,
) -> None:
    """A request that starts a new trace and sends no `x-request-id` is identified by its
    trace id, in the HTTP line and in the backend's line, sampled or not (the client
    sends the backend no `x-request-id` then: it takes the trace id from `traceparent`)."""
    log_lines, setup = logged
    async with running_hub(
        tmp_path,
        span_exporter=exporter,
        access_log=setup.access,
        observability={"tracing": {"sampling_ratio": sampling_ratio}},
    ) as traced:
        await _create_user_over_rest(traced, {})
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    http = next(line for line in lines if line["event"] == "http request")
    rpc = next(
        line for line in lines if line["event"] == "rpc" and line.get("grpc_server") == "backend"
    )
    assert 32 == len(http["trace_id"])
    assert [http["trace_id"]] * 3 == [http["request_id"], rpc["trace_id"], rpc["request_id"]]


async def test_a_request_joining_a_client_trace_gets_its_own_request_id(
    tmp_path: Path,
    exporter: InMemorySpanExporter,
    logged: tuple[io.StringIO, LoggingSetup],
) -> None:
    """With a client's `traceparent` (an id other requests share) and no `x-request-id`,
    the middleware makes a request id up and the backend's line carries it too."""
    log_lines, setup = logged
    async with running_hub(tmp_path, span_exporter=exporter, access_log=setup.access) as traced:
        await _create_user_over_rest(traced, {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-00"})
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    http = next(line for line in lines if line["event"] == "http request")
    rpc = next(
        line for line in lines if line["event"] == "rpc" and line.get("grpc_server") == "backend"
    )
    assert (TRACE_ID, TRACE_ID) == (http["trace_id"], rpc["trace_id"])
    assert 16 == len(http["request_id"])
    assert http["request_id"] == rpc["request_id"]
