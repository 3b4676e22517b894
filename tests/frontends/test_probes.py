"""`/healthz` and `/readyz` as HTTP, over the ASGI apps: status codes, JSON bodies, methods.
(Each role's HTTP server serving them: tests/parts/test_split.py.)"""

from __future__ import annotations

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.frontends.probes import Readiness, probe_pages


def _client(readiness: Readiness) -> httpx.AsyncClient:
    pages = probe_pages(lambda: readiness)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        page: ASGIApp = pages[scope["path"]]
        await page(scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")


async def test_liveness_is_200_whatever_the_readiness() -> None:
    async with _client(Readiness("draining")) as client:
        response = await client.get("/healthz")

    assert (200, {"status": "alive"}) == (response.status_code, response.json())
    assert ("application/json", "no-store") == (
        response.headers["content-type"],
        response.headers["cache-control"],
    )


@pytest.mark.parametrize(
    ("readiness", "status", "body"),
    [
        (Readiness("serving"), 200, {"ready": True, "state": "serving"}),
        (Readiness("starting"), 503, {"ready": False, "state": "starting"}),
        (Readiness("draining"), 503, {"ready": False, "state": "draining"}),
        (
            Readiness("serving", {"user-service": True, "mindmap-service": True}),
            200,
            {
                "ready": True,
                "state": "serving",
                "backends": {"user-service": True, "mindmap-service": True},
            },
        ),
        (
            Readiness("serving", {"user-service": True, "mindmap-service": False}),
            503,
            {
                "ready": False,
                "state": "serving",
                "backends": {"user-service": True, "mindmap-service": False},
            },
        ),
    ],
)
async def test_readiness_says_why(
    readiness: Readiness, status: int, body: dict[str, object]
) -> None:
    """503 while starting, draining, or (a gateway) while a backend service has no
    reachable replica; the body says which."""
    async with _client(readiness) as client:
        response = await client.get("/readyz")

    assert (status, body) == (response.status_code, response.json())


async def test_head_is_answered_like_get_without_a_body() -> None:
    async with _client(Readiness("starting")) as client:
        response = await client.head("/readyz")

    assert (503, b"") == (response.status_code, response.content)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_other_methods_are_refused(path: str) -> None:
    async with _client(Readiness("serving")) as client:
        response = await client.post(path)

    assert (405, "GET, HEAD", {"detail": "use GET"}) == (
        response.status_code,
        response.headers["allow"],
        response.json(),
    )
