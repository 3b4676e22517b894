"""Headers: what the REST layer reads from them (sans-IO), and what reaches a backend.

The end-to-end half puts the REST app, on a real uvicorn server, in front of the fake
backend of `tests/frontends/conftest.py`, which records the metadata and deadline of every
call it gets; its `ListUsers` waits until the call is cancelled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.client import BackendClient
from hub.config import SERVICE_NAMES, ApiGateway, Http
from hub.frontends.rest.app import create_rest_app
from hub.frontends.rest.headers import RequestHeaders, read_headers
from hub.frontends.rest.responses import HttpProblem
from hub.parts.gateway import rest_routes
from hub.testing import Binding
from tests.frontends.conftest import FakeBackend, backend_address, fake_backend
from tests.frontends.rest.conftest import served

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
PASSED_ON = ("authorization", "traceparent", "tracestate", "x-request-id")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], RequestHeaders()),
        (
            [
                (b"authorization", b"Bearer t"),
                (b"traceparent", TRACEPARENT.encode()),
                (b"x-request-id", b"r-1"),
                (b"cookie", b"c=1"),
                (b"x-hub-principal", b"admin"),
            ],
            RequestHeaders(
                metadata=(
                    ("authorization", "Bearer t"),
                    ("traceparent", TRACEPARENT),
                    ("x-request-id", "r-1"),
                ),
                request_id="r-1",
            ),
        ),
        (
            [(b"content-type", b"application/json"), (b"content-length", b"12")],
            RequestHeaders(content_type=b"application/json", content_length=12),
        ),
        ([(b"if-match", b'"5f2a"')], RequestHeaders(if_match="5f2a")),
        ([(b"if-match", b"*")], RequestHeaders()),
        ([(b"x-request-timeout", b"2.5")], RequestHeaders(timeout=2.5)),
        ([(b"x-request-timeout", b"0.001")], RequestHeaders(timeout=0.001)),
    ],
)
def test_read_headers(raw: list[tuple[bytes, bytes]], expected: RequestHeaders) -> None:
    """Only the headers the REST layer acts on are kept; x-hub-* and the rest are dropped."""
    assert expected == read_headers(raw)


@pytest.mark.parametrize(
    ("raw", "status", "detail"),
    [
        ((b"if-match", b"abc"), 400, "header If-Match: expected one entity tag in double"),
        ((b"if-match", b'"a", "b"'), 400, "header If-Match: only one entity tag can be given"),
        ((b"if-match", b'W/"a"'), 412, "If-Match: a weak entity tag never matches"),
        ((b"x-request-timeout", b"-1"), 400, "header X-Request-Timeout: expected a number"),
        ((b"x-request-timeout", b"1e3"), 400, "header X-Request-Timeout: expected a number"),
        ((b"x-request-timeout", b"01"), 400, "header X-Request-Timeout: expected a number"),
        ((b"x-request-id", b" padded"), 400, "header X-Request-Id: expected 1 to 128"),
        ((b"tracestate", b"k=\xc3\xa9"), 400, "header tracestate: only printable ASCII"),
    ],
)
def test_unusable_header_values(raw: tuple[bytes, bytes], status: int, detail: str) -> None:
    """A value the app cannot act on is refused with the header named."""
    with pytest.raises(HttpProblem) as raised:
        read_headers([raw])

    assert (status, True) == (raised.value.status, raised.value.detail.startswith(detail))


@asynccontextmanager
async def rest_in_front_of(backend: FakeBackend, **settings: Any) -> AsyncIterator[str]:
    """The REST app (default gateway routes) serving the fake backend; yields its URL."""
    client = BackendClient(dict.fromkeys(SERVICE_NAMES, backend.target))
    app = create_rest_app(client, rest_routes(ApiGateway()), settings=Http(**settings))
    try:
        async with served(app) as url:
            yield url
    finally:
        await client.close()


@pytest.fixture
async def backend(tmp_path: Path, binding: Binding) -> AsyncIterator[FakeBackend]:
    """The recording fake backend, over `binding`."""
    async with fake_backend(backend_address(tmp_path, binding)) as fake:
        yield fake


async def test_selected_headers_become_metadata(backend: FakeBackend) -> None:
    """Authorization, trace context and request id reach the backend; x-hub-* and other
    headers do not; the request id comes back."""
    sent = {
        "Authorization": "Bearer token-1",
        "traceparent": TRACEPARENT,
        "tracestate": "vendor=1",
        "X-Request-Id": "r-42",
        "X-Hub-Principal": "admin",
        "Cookie": "session=1",
    }
    async with rest_in_front_of(backend) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/api/v1/users/u-1", headers=sent)

    assert ("u-1", "Fake", "r-42") == (
        response.json()["id"],
        response.json()["displayName"],
        response.headers["x-request-id"],
    )
    [seen] = backend.seen
    assert {
        "authorization": "Bearer token-1",
        "traceparent": TRACEPARENT,
        "tracestate": "vendor=1",
        "x-request-id": "r-42",
    } == {key: value for key, value in seen.metadata.items() if key in PASSED_ON}
    assert not {"x-hub-principal", "cookie"} & set(seen.metadata)


@pytest.mark.parametrize(
    ("settings", "headers", "limit"),
    [
        ({}, {"X-Request-Timeout": "0.3"}, 0.3),
        ({"default_timeout_seconds": 0.3}, {}, 0.3),
        ({"max_timeout_seconds": 0.3}, {"X-Request-Timeout": "100"}, 0.3),
    ],
    ids=["header", "default", "capped"],
)
async def test_deadline_of_the_backend_call(
    backend: FakeBackend, settings: dict[str, float], headers: dict[str, str], limit: float
) -> None:
    """The call's deadline comes from X-Request-Timeout, else the configured default, never
    above the configured maximum; a call that outlives it is a 504 problem."""
    async with (
        rest_in_front_of(backend, **settings) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        response = await http.get("/api/v1/users", headers=headers)

    problem = response.json()
    assert (504, "DEADLINE_EXCEEDED", "the call did not finish within its deadline") == (
        response.status_code,
        problem["grpcCode"],
        problem["detail"],
    )
    [seen] = backend.seen
    assert seen.time_remaining is not None
    # gRPC rounds the timeout it sends up a little; any other deadline would be >= 30 s.
    assert 0 < seen.time_remaining < 2 * limit


async def test_unreachable_backend_is_503_without_internals(tmp_path: Path) -> None:
    """A backend that cannot be reached: 503, and the problem names no internal address."""
    socket_path = tmp_path / "nobody-listens-here.sock"
    client = BackendClient(dict.fromkeys(SERVICE_NAMES, f"unix:{socket_path}"))
    app = create_rest_app(client, rest_routes(ApiGateway()), settings=Http())
    try:
        async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
            response = await http.get("/api/v1/users")
    finally:
        await client.close()

    assert (503, "the service is unavailable; try again later") == (
        response.status_code,
        response.json()["detail"],
    )
    assert str(socket_path) not in response.text
