"""Each front end, end to end: a GraphQL query and a `/ws` subscription sent with a sampled
`traceparent` make one trace across the hub and its backend (spans exported to memory,
parent and child ids asserted), the expected metric samples, and JSON log lines carrying
that trace id (REST and gRPC: test_tracing.py, test_metrics.py). And the sampling decision
the hub takes before any span work is the one the OpenTelemetry SDK's sampler takes."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import SpanKind

from hub.contracts.user.v1.user_pb2 import CreateUserRequest, GetUserRequest, User
from hub.observability.logging import LoggingSetup
from hub.testing import RunningHub, running_hub
from tests.frontends.wsclient import connect
from tests.observability.scrape import labels, scrape, scrape_until
from tests.policies.tokens import SECRET, hs256

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN_ID = "b7ad6b7169203331"
SAMPLED = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
USERS = "hub.user.v1.UserService"
# Only what arrives with a sampled `traceparent` is traced: set-up calls make no span.
UNSAMPLED_ROOTS: dict[str, Any] = {"tracing": {"sampling_ratio": 0.0}}


def _hex(span: ReadableSpan) -> tuple[str, str, str | None]:
    """(trace id, span id, parent span id) in hex."""
    parent = None if span.parent is None else f"{span.parent.span_id:016x}"
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}", parent


def _one_trace(spans: Sequence[ReadableSpan], root_name: str) -> tuple[ReadableSpan, list[str]]:
    """The server span `root_name`, child of the caller's span, and the methods of the
    backend calls under it: each a client span, child of the root, with one backend server
    span as its child, all in the caller's trace."""
    assert {TRACE_ID} == {_hex(span)[0] for span in spans}
    (root,) = [s for s in spans if s.kind == SpanKind.SERVER and s.name == root_name]
    assert CALLER_SPAN_ID == _hex(root)[2]
    clients = [s for s in spans if s.kind == SpanKind.CLIENT and _hex(s)[2] == _hex(root)[1]]
    assert clients, [(s.kind, s.name) for s in spans]
    for client in clients:
        (backend,) = [s for s in spans if _hex(s)[2] == _hex(client)[1]]
        assert (SpanKind.SERVER, client.name) == (backend.kind, backend.name)
    return root, [client.name.rpartition("/")[2] for client in clients]


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def _user(running: RunningHub) -> str:
    reply = await running.users.CreateUser(
        CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
    )
    return reply.user.id


async def test_a_graphql_query_is_one_trace_with_its_samples_and_log_lines(
    tmp_path: Path, exporter: InMemorySpanExporter, logged: tuple[io.StringIO, LoggingSetup]
) -> None:
    stream, setup = logged
    async with running_hub(
        tmp_path, span_exporter=exporter, access_log=setup.access, observability=UNSAMPLED_ROOTS
    ) as running:
        user_id = await _user(running)
        async with httpx.AsyncClient(base_url=running.http_url) as client:
            response = await client.post(
                "/graphql",
                json={
                    "query": "query Who($id: ID!) { user(id: $id) { id } }",
                    "operationName": "Who",
                    "variables": {"id": user_id},
                },
                headers={"traceparent": SAMPLED, "x-request-id": "gql-1"},
            )
        scraped = await scrape(running)
    assert {"data": {"user": {"id": user_id}}} == response.json()

    root, methods = _one_trace(exporter.get_finished_spans(), "POST graphql:Who")
    assert "graphql:Who" == (root.attributes or {})["http.route"]
    [method] = methods  # GetUser or BatchGetUsers, as the loader batches
    unary = {"grpc_type": "unary", "grpc_service": USERS, "grpc_method": method}
    expected = {
        ("http_requests_total", labels(method="POST", endpoint="graphql:Who", status="200")): 1.0,
        ("grpc_client_handled_total", labels(**unary, grpc_code="OK")): 1.0,
        ("grpc_server_handled_total", labels(**unary, grpc_server="backend", grpc_code="OK")): 1.0,
    }
    assert expected == scraped.expect(expected)
    traced = [line for line in _lines(stream) if line.get("trace_id") == TRACE_ID]
    assert [("http request", None), ("rpc", "backend")] == sorted(
        (line["event"], line.get("grpc_server")) for line in traced
    )
    assert {"gql-1"} == {line["request_id"] for line in traced}


async def test_a_ws_subscription_is_one_trace_with_its_samples_and_log_lines(
    tmp_path: Path, exporter: InMemorySpanExporter, logged: tuple[io.StringIO, LoggingSetup]
) -> None:
    """With authentication on, a `/ws` subscription starts after one backend read made
    with the handshake's credentials: that read is in the trace the handshake's
    `traceparent` names, under the connection's server span (`GET /ws`, which ends with
    the connection), and the connection is counted and logged once it ends."""
    stream, setup = logged
    authentication = {
        "policies": ["authentication"],
        "authentication": {
            "jwt_secret": SECRET.decode(),
            "anonymous": [f"{USERS}/CreateUser"],
        },
    }
    async with running_hub(
        tmp_path,
        span_exporter=exporter,
        access_log=setup.access,
        observability=UNSAMPLED_ROOTS,
        api_gateway=authentication,
    ) as running:
        user_id = await _user(running)
        token = hs256(subject=user_id, roles=[])
        client = await connect(
            f"{running.ws_url}?access_token={token}",
            additional_headers={"traceparent": SAMPLED, "x-request-id": "ws-1"},
        )
        await client.subscribe("mine", user_id=user_id)
        await client.connection.close()
        scraped = await scrape_until(
            running,
            lambda s: (
                s.value("http_requests_total", method="GET", endpoint="/ws", status="101") == 1.0
            ),
        )
    root, methods = _one_trace(exporter.get_finished_spans(), "GET /ws")
    assert ["GetUser"] == methods
    assert {
        "http.request.method": "GET",
        "url.path": "/ws",
        "url.scheme": "ws",
        "http.route": "/ws",
        "http.response.status_code": 101,
    } == dict(root.attributes or {})
    get = {"grpc_type": "unary", "grpc_service": USERS, "grpc_method": "GetUser"}
    expected = {
        ("hub_websocket_messages_sent_total", labels(endpoint="/ws", type="subscribed")): 1.0,
        ("grpc_client_handled_total", labels(**get, grpc_code="OK")): 1.0,
        ("grpc_server_handled_total", labels(**get, grpc_server="backend", grpc_code="OK")): 1.0,
    }
    assert expected == scraped.expect(expected)
    traced = [line for line in _lines(stream) if line.get("trace_id") == TRACE_ID]
    http = next(line for line in traced if line["event"] == "http request")
    rpc = next(line for line in traced if line["event"] == "rpc")
    assert ("/ws", "/ws", 101, _hex(root)[1], "ws-1") == (
        http["path"],  # without the query string, which holds the token
        http["endpoint"],
        http["status"],
        http["span_id"],
        http["request_id"],
    )
    assert ("backend", f"{USERS}/GetUser", "ws-1") == (
        rpc["grpc_server"],
        rpc["grpc_method"],
        rpc["request_id"],
    )


async def test_the_hub_samples_roots_as_the_sdk_sampler_does(
    tmp_path: Path, exporter: InMemorySpanExporter, logged: tuple[io.StringIO, LoggingSetup]
) -> None:
    """At ratio 0.5, requests without a `traceparent` (REST and gRPC): the hub decides
    before any span work, and the traces it samples are exactly those whose trace id
    `TraceIdRatioBased(0.5)` samples (read from every access line), each whole (HTTP or
    front-end span, client span, backend span: the SDK's sampler, asked again by the
    instrumentation at each hop, agreed), and none of the others has a span."""
    stream, setup = logged
    async with running_hub(
        tmp_path,
        span_exporter=exporter,
        access_log=setup.access,
        observability={"tracing": {"sampling_ratio": 0.5}},
    ) as running:
        user_id = await _user(running)
        async with httpx.AsyncClient(base_url=running.http_url) as client:
            for _ in range(20):
                assert 200 == (await client.get(f"/api/v1/users/{user_id}")).status_code
        for _ in range(20):
            await running.users.GetUser(GetUserRequest(id=user_id))
    root_lines = [
        line
        for line in _lines(stream)
        if line["event"] == "http request"
        or (line.get("grpc_server"), line.get("grpc_method", "").partition("/")[0])
        == ("frontend", USERS)
    ]
    # A root's request id is the trace id it was sampled by; its spans carry that id.
    assert all(line["request_id"] == line["trace_id"] for line in root_lines)
    roots = {line["trace_id"] for line in root_lines}
    assert 41 == len(roots)  # CreateUser, 20 REST GETs, 20 gRPC GETs: each its own trace
    bound = TraceIdRatioBased(0.5).bound
    sampled = {root for root in roots if int(root, 16) & TraceIdRatioBased.TRACE_ID_LIMIT < bound}
    assert 0 < len(sampled) < len(roots)  # both kinds (odds against: 1 in 2^40)
    by_trace: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        if span.kind != SpanKind.CONSUMER:  # CreateUser's event delivery
            by_trace.setdefault(_hex(span)[0], []).append(span)
    assert sampled == set(by_trace)
    for whole in by_trace.values():
        (root,) = [span for span in whole if span.parent is None]
        (call,) = [span for span in whole if span.kind == SpanKind.CLIENT]
        (backend,) = [span for span in whole if _hex(span)[2] == _hex(call)[1]]
        assert 3 == len(whole)
        assert (SpanKind.SERVER, _hex(root)[1]) == (root.kind, _hex(call)[2])
        assert (SpanKind.SERVER, call.name) == (backend.kind, backend.name)
