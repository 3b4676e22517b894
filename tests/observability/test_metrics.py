"""`/metrics` of a running hub: what REST, WebSocket and gRPC requests record, label bounds,
the format (promtool), and the system families."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import string
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from starlette.types import Message, Receive, Scope, Send

from hub.contracts.events.v1.events_pb2 import WatchEventsRequest
from hub.contracts.events.v1.events_pb2_grpc import EventServiceStub
from hub.contracts.mindmap.v1.mindmap_pb2 import CreateMindmapRequest, Mindmap
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, GetUserRequest, User
from hub.observability.asgi import ENDPOINT_KEY, Hops, ObservabilityMiddleware
from hub.observability.logging import AccessLog
from hub.observability.metrics import MAX_ENDPOINTS, HubMetrics
from hub.observability.system import NetworkCounter
from hub.testing import RunningHub, running_hub
from tests.frontends.wsclient import connect
from tests.observability.scrape import Scrape, labels, scrape, scrape_until

USERS = "hub.user.v1.UserService"


async def _user(running: RunningHub, email: str = "ada@example.com") -> str:
    reply = await running.users.CreateUser(
        CreateUserRequest(user=User(email=email, display_name="Ada"))
    )
    return reply.user.id


def _unary(method: str) -> dict[str, str]:
    return {"grpc_type": "unary", "grpc_service": USERS, "grpc_method": method}


async def test_a_rest_request_records_http_and_grpc_client_and_backend_samples(
    running: RunningHub,
) -> None:
    """GET /api/v1/users/{id}: the HTTP sample carries the route template; the hub's call to
    the backend shows as a client call and as a backend server call; a gRPC call through
    the front end as a front-end server call; an unknown path as endpoint "unmatched"."""
    user_id = await _user(running)
    async with httpx.AsyncClient(base_url=running.http_url) as client:
        found = await client.get(f"/api/v1/users/{user_id}")
        missing = await client.get("/api/v1/users/no-such-user")
        unknown = await client.get("/nowhere/at/all")
    assert (200, 404, 404) == (found.status_code, missing.status_code, unknown.status_code)

    route = "/api/v1/users/{id}"
    get = _unary("GetUser")
    create = _unary("CreateUser")
    expected = {
        ("http_requests_total", labels(method="GET", endpoint=route, status="200")): 1.0,
        ("http_requests_total", labels(method="GET", endpoint=route, status="404")): 1.0,
        ("http_requests_total", labels(method="GET", endpoint="unmatched", status="404")): 1.0,
        ("http_request_duration_seconds_count", labels(method="GET", endpoint=route)): 2.0,
        ("grpc_client_started_total", labels(**get)): 2.0,
        ("grpc_client_handled_total", labels(**get, grpc_code="OK")): 1.0,
        ("grpc_client_handled_total", labels(**get, grpc_code="NotFound")): 1.0,
        ("grpc_client_handling_seconds_count", labels(**get)): 2.0,
        ("grpc_client_msg_sent_total", labels(**get)): 2.0,
        ("grpc_client_msg_received_total", labels(**get)): 1.0,
        ("grpc_server_handled_total", labels(**get, grpc_server="backend", grpc_code="OK")): 1.0,
        (
            "grpc_server_handled_total",
            labels(**get, grpc_server="backend", grpc_code="NotFound"),
        ): 1.0,
        (
            "grpc_server_handled_total",
            labels(**create, grpc_server="frontend", grpc_code="OK"),
        ): 1.0,
        ("grpc_server_handled_total", labels(**create, grpc_server="backend", grpc_code="OK")): 1.0,
        ("grpc_server_started_total", labels(**create, grpc_server="frontend")): 1.0,
        ("grpc_server_msg_received_total", labels(**create, grpc_server="frontend")): 1.0,
        ("grpc_server_msg_sent_total", labels(**create, grpc_server="frontend")): 1.0,
        ("grpc_server_handling_seconds_count", labels(**create, grpc_server="backend")): 1.0,
        ("grpc_client_handled_total", labels(**create, grpc_code="OK")): 1.0,
    }
    scraped = await scrape(running)
    assert expected == scraped.expect(expected)
    assert None is scraped.value(
        "grpc_server_handled_total", **get, grpc_server="frontend", grpc_code="OK"
    )


async def test_a_graphql_query_is_labelled_by_its_operation(running: RunningHub) -> None:
    """POST /graphql: the HTTP sample's endpoint is `graphql:<operationName>`, and the
    backend call it made shows as a client call."""
    user_id = await _user(running)
    async with httpx.AsyncClient(base_url=running.http_url) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": "query Who($id: ID!) { user(id: $id) { id } }",
                "operationName": "Who",
                "variables": {"id": user_id},
            },
        )
    assert {"data": {"user": {"id": user_id}}} == response.json()
    scraped = await scrape(running)
    user_calls = {("GetUser",), ("BatchGetUsers",)}  # one or the other, by the loader
    assert {"http": 1.0, "client": 1.0} == {
        "http": scraped.value(
            "http_requests_total", method="POST", endpoint="graphql:Who", status="200"
        ),
        "client": sum(
            value
            for key, value in scraped.values("grpc_client_handled_total").items()
            if dict(key)["grpc_service"] == USERS and (dict(key)["grpc_method"],) in user_calls
        ),
    }


async def test_metrics_count_their_own_scrapes(running: RunningHub) -> None:
    """/metrics is an endpoint like the others: the second scrape shows the first."""
    await scrape(running)
    second = await scrape(running)
    assert 1.0 == second.value(
        "http_requests_total", method="GET", endpoint="/metrics", status="200"
    )


async def test_a_websocket_subscription_records_connection_messages_and_bus_samples(
    tmp_path: Path,
) -> None:
    """A /ws subscriber that receives one event: an open connection while it lasts, the
    messages by type, the bus counts; none once it closes, and then one request in
    http_requests_total (status 101), as the HTTP middleware counts other WebSockets."""
    async with running_hub(tmp_path) as running:
        user_id = await _user(running)
        await running.published_event_id()  # the user's event is not this subscriber's
        client = await connect(running.ws_url)
        await client.subscribe("s", user_id=user_id)
        await running.mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=user_id, title="Ideas"))
        )
        await client.events(1)
        open_ = await scrape_until(running, lambda s: s.value("hub_events_published_total") == 2.0)
        await client.connection.close()
        closed = await scrape_until(
            running,
            lambda s: s.value("hub_websocket_connections", endpoint="/ws") == 0.0,
        )

    ws = {"endpoint": "/ws"}
    assert {
        "connections": 1.0,
        "subscribed": 1.0,
        "event": 1.0,
        "subscriptions": 2.0,  # the client's and the business-metrics consumer's
        "queued": 0.0,
        "pending": 0.0,
        "lag": 0.0,
        "slow": 0.0,
    } == {
        "connections": open_.value("hub_websocket_connections", **ws),
        "subscribed": open_.value("hub_websocket_messages_sent_total", **ws, type="subscribed"),
        "event": open_.value("hub_websocket_messages_sent_total", **ws, type="event"),
        "subscriptions": open_.value("hub_event_subscriptions"),
        "queued": open_.value("hub_event_subscriber_queue_length"),
        "pending": open_.value("hub_outbox_pending_events"),
        "lag": open_.value("hub_event_relay_lag_seconds"),
        "slow": open_.value("hub_event_slow_consumer_disconnects_total"),
    }
    assert (0.0, 1.0) == (
        closed.value("hub_websocket_connections", endpoint="/ws"),
        closed.value("http_requests_total", method="GET", endpoint="/ws", status="101"),
    )


async def test_a_server_stream_counts_each_message_sent(tmp_path: Path) -> None:
    """WatchEvents through the gRPC front end: msg_sent counts every event streamed."""
    async with running_hub(tmp_path) as running:
        user_id = await _user(running)
        stream = EventServiceStub(running.channel).WatchEvents(WatchEventsRequest(owner_id=user_id))
        await stream.initial_metadata()
        for title in ("one", "two", "three"):
            await running.mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=user_id, title=title))
            )
        received = [await stream.read() for _ in range(3)]
        stream.cancel()
        watch = {
            "grpc_type": "server_stream",
            "grpc_service": "hub.events.v1.EventService",
            "grpc_method": "WatchEvents",
            "grpc_server": "frontend",
        }
        scraped = await scrape_until(
            running, lambda s: s.value("grpc_server_started_total", **watch) == 1.0
        )
    assert 3 == len(received)
    assert 3.0 == scraped.value("grpc_server_msg_sent_total", **watch)
    assert 1.0 == scraped.value("grpc_server_msg_received_total", **watch)


async def test_random_paths_fold_into_one_endpoint_value(running: RunningHub) -> None:
    """Paths no route matches are all endpoint "unmatched", whatever they are."""
    rng = random.Random(6)
    async with httpx.AsyncClient(base_url=running.http_url) as client:
        for _ in range(50):
            path = "".join(rng.choices(string.ascii_letters, k=12))
            await client.get(f"/{path}")
    endpoints = {
        dict(key)["endpoint"] for key in (await scrape(running)).values("http_requests_total")
    }
    assert {"unmatched", "/metrics"} >= endpoints
    assert "unmatched" in endpoints


async def test_ten_thousand_distinct_endpoints_do_not_make_ten_thousand_label_values() -> None:
    """Even a front end that named every raw path as its endpoint could not grow the label
    set past MAX_ENDPOINTS (+ "other"): 10,000 random paths through the middleware."""
    registry = CollectorRegistry()
    metrics = HubMetrics(registry)

    async def naive(scope: Scope, receive: Receive, send: Send) -> None:
        scope[ENDPOINT_KEY] = scope["path"]  # the worst a front end could do
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = ObservabilityMiddleware(naive, metrics, NetworkCounter(), Hops(None), AccessLog())
    rng = random.Random(10_000)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        del message

    for _ in range(10_000):
        path = "/" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=16))
        scope = {"type": "http", "method": "GET", "path": path, "scheme": "http", "headers": []}
        await app(scope, receive, send)

    scraped = Scrape.parse(generate_latest(registry).decode())
    counted = scraped.values("http_requests_total")
    timed = scraped.values("http_request_duration_seconds_count")
    assert MAX_ENDPOINTS + 1 == len(counted) == len(timed)
    assert 10_000 - MAX_ENDPOINTS == scraped.value(
        "http_requests_total", method="GET", endpoint="other", status="200"
    )
    assert 10_000.0 == sum(counted.values())


async def test_promtool_finds_nothing_to_complain_about(running: RunningHub) -> None:
    """`promtool check metrics` on the live output, after some traffic: clean. Without
    promtool the test fails on CI (CI=true) and is skipped elsewhere."""
    promtool = shutil.which("promtool")
    if promtool is None:
        assert os.environ.get("CI") != "true", "promtool is missing (Debian package prometheus)"
        pytest.skip("promtool is not installed (Debian package prometheus)")
    user_id = await _user(running)
    await running.users.GetUser(GetUserRequest(id=user_id))
    async with httpx.AsyncClient(base_url=running.http_url) as client:
        await client.get(f"/api/v1/users/{user_id}")
    text = (await scrape(running)).text
    checker = await asyncio.create_subprocess_exec(
        promtool,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await checker.communicate(text.encode())
    assert (0, b"") == (checker.returncode, output)


async def test_system_metrics_are_present_and_typed(running: RunningHub) -> None:
    """Process and host families exist with the catalogue's types."""
    await scrape(running)  # sends a body: the second scrape counts it
    scraped = await scrape(running)
    counters = [
        "process_cpu_seconds",
        "hub_process_disk_read_bytes",
        "hub_process_disk_written_bytes",
        "hub_process_network_receive_bytes",
        "hub_process_network_transmit_bytes",
        "hub_host_cpu_seconds",
        "hub_host_disk_read_bytes",
        "hub_host_disk_written_bytes",
        "hub_host_network_receive_bytes",
        "hub_host_network_transmit_bytes",
    ]
    gauges = [
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "hub_host_cpus",
        "hub_host_memory_total_bytes",
        "hub_host_memory_available_bytes",
    ]
    expected = dict.fromkeys(counters, "counter") | dict.fromkeys(gauges, "gauge")
    assert expected == {name: scraped.types.get(name) for name in expected}
    modes = {dict(key)["mode"] for key in scraped.values("hub_host_cpu_seconds_total")}
    assert {"user", "system", "idle"} <= modes
    assert (os.cpu_count() or 0) == scraped.value("hub_host_cpus")
    assert 0 < (scraped.value("hub_process_network_transmit_bytes_total") or 0)


async def test_observability_off_serves_no_metrics_page(tmp_path: Path) -> None:
    """`observability.enabled: false`: no /metrics (404 like any unknown path)."""
    async with (
        running_hub(tmp_path, observability={"enabled": False}) as running,
        httpx.AsyncClient() as client,
    ):
        response = await client.get(running.metrics_url)
    assert 404 == response.status_code
    assert None is running.hub.observability
