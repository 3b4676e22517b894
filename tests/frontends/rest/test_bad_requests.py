"""Bad requests, table-driven: each gets its exact status and problem+json body, and none
of them writes anything (the outbox, where every committed write leaves an event, is
unchanged).

Every row runs against a hub that holds one user and one mindmap, so that the paths the
rows use exist and only the flaw each row names is wrong.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.testing import Binding, RunningHub, running_hub

PROBLEM_JSON = "application/problem+json"
MIB = 1024 * 1024


@pytest.fixture
def binding() -> Binding:
    """The REST layer refuses these requests before any backend call: one binding will do."""
    return "unix"


@dataclass(frozen=True)
class Row:
    """One bad request and the answer it must get."""

    name: str
    method: str
    path: str  # {user} and {mindmap} stand for the ids of the existing ones
    status: int
    reason: str
    grpc_code: str
    violations: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None  # JSON to send
    content: bytes | None = None  # raw body to send instead
    headers: dict[str, str] = field(default_factory=dict)
    allow: str | None = None

    def __str__(self) -> str:
        return self.name


JSON = {"Content-Type": "application/json"}
USER = {"email": "grace@example.com", "displayName": "Grace"}

ROWS = [
    Row("malformed JSON", "POST", "/api/v1/users", 400, "MALFORMED_JSON", "INVALID_ARGUMENT",
        content=b'{"email": "a@b.co",', headers=JSON),
    Row("not JSON at all", "POST", "/api/v1/users", 400, "MALFORMED_JSON", "INVALID_ARGUMENT",
        content=b"email=a@b.co", headers=JSON),
    Row("NaN is not JSON", "POST", "/api/v1/users", 400, "MALFORMED_JSON", "INVALID_ARGUMENT",
        content=b'{"email": "a@b.co", "displayName": NaN}', headers=JSON),
    Row("not UTF-8", "POST", "/api/v1/users", 400, "MALFORMED_JSON", "INVALID_ARGUMENT",
        content=b'{"email": "\xff"}', headers=JSON),
    Row("wrong types", "POST", "/api/v1/users", 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
        body={"email": 5, "displayName": True},
        violations=[("user.email", "must be a string"), ("user.displayName", "must be a string")]),
    Row("missing required fields", "POST", "/api/v1/users", 400, "INVALID_ARGUMENT",
        "INVALID_ARGUMENT", body={},
        violations=[("user.email", "is required"), ("user.displayName", "is required")]),
    Row("unknown field", "POST", "/api/v1/users", 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
        body={**USER, "colour": "red"}, violations=[("user.colour", "is not a known field")]),
    Row("rule broken", "POST", "/api/v1/users", 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
        body={**USER, "displayName": "x" * 101},
        violations=[("user.displayName", "must have at most 100 characters")]),
    Row("body not an object", "POST", "/api/v1/mindmaps/{mindmap}/nodes", 400,
        "INVALID_ARGUMENT", "INVALID_ARGUMENT", body=["a"],
        violations=[("", "must be a JSON object")]),
    Row("missing body", "POST", "/api/v1/users", 400, "MISSING_BODY", "INVALID_ARGUMENT"),
    Row("oversized body", "POST", "/api/v1/users", 413, "BODY_TOO_LARGE", "RESOURCE_EXHAUSTED",
        body={**USER, "padding": "x" * MIB}),
    Row("wrong content type", "POST", "/api/v1/users", 415, "UNSUPPORTED_MEDIA_TYPE",
        "INVALID_ARGUMENT", content=b'{"email": "a@b.co"}', headers={"Content-Type": "text/plain"}),
    Row("no content type", "POST", "/api/v1/users", 415, "UNSUPPORTED_MEDIA_TYPE",
        "INVALID_ARGUMENT", content=b'{"email": "a@b.co"}'),
    Row("JSON in another charset", "POST", "/api/v1/users", 415, "UNSUPPORTED_MEDIA_TYPE",
        "INVALID_ARGUMENT", content=b'{"email": "a@b.co"}',
        headers={"Content-Type": "application/json; charset=latin-1"}),
    Row("unknown route", "GET", "/api/v1/widgets", 404, "ROUTE_NOT_FOUND", "NOT_FOUND"),
    Row("outside the API", "GET", "/", 404, "ROUTE_NOT_FOUND", "NOT_FOUND"),
    Row("trailing slash", "GET", "/api/v1/users/", 404, "ROUTE_NOT_FOUND", "NOT_FOUND"),
    Row("bad method on an item", "PATCH", "/api/v1/users/{user}", 405, "METHOD_NOT_ALLOWED",
        "UNIMPLEMENTED", body=USER, allow="DELETE, GET, HEAD, PUT"),
    Row("bad method on a collection", "DELETE", "/api/v1/users", 405, "METHOD_NOT_ALLOWED",
        "UNIMPLEMENTED", allow="GET, HEAD, POST"),
    Row("unknown method", "TRACE", "/api/v1/mindmaps/{mindmap}", 405, "METHOD_NOT_ALLOWED",
        "UNIMPLEMENTED", allow="DELETE, GET, HEAD, PUT"),
    Row("options", "OPTIONS", "/api/v1/mindmaps", 405, "METHOD_NOT_ALLOWED", "UNIMPLEMENTED",
        allow="GET, HEAD, POST"),
    Row("other method on a custom method's path", "PUT",
        "/api/v1/mindmaps/{mindmap}/nodes/n1:move", 405, "METHOD_NOT_ALLOWED",
        "UNIMPLEMENTED", body={"node": {"text": "t"}}, allow="POST"),
    Row("custom method's verb on a collection", "POST", "/api/v1/users:batchGet", 405,
        "METHOD_NOT_ALLOWED", "UNIMPLEMENTED", body={}, allow="GET, HEAD"),
    Row("path variable too long", "DELETE", "/api/v1/users/" + "u" * 65, 400,
        "INVALID_ARGUMENT", "INVALID_ARGUMENT",
        violations=[("id", "must have at most 64 characters")]),
    Row("path variable not UTF-8", "DELETE", "/api/v1/mindmaps/{mindmap}/nodes/%C3%28", 400,
        "INVALID_ARGUMENT", "INVALID_ARGUMENT",
        violations=[("node_id", "is not valid UTF-8 once percent-decoded")]),
    Row("query value of the wrong type", "GET", "/api/v1/users?pageSize=ten", 400,
        "INVALID_ARGUMENT", "INVALID_ARGUMENT", violations=[("pageSize", "must be an integer")]),
    Row("query value out of range", "GET", "/api/v1/users?pageSize=1001", 400,
        "INVALID_ARGUMENT", "INVALID_ARGUMENT", violations=[("pageSize", "must be at most 1000")]),
    Row("unknown query parameter", "GET", "/api/v1/users?colour=red", 400, "INVALID_ARGUMENT",
        "INVALID_ARGUMENT", violations=[("colour", "unknown query parameter")]),
    Row("query not UTF-8", "GET", "/api/v1/users?pageToken=%FF", 400, "INVALID_ARGUMENT",
        "INVALID_ARGUMENT"),
    Row("query where the body says all", "POST", "/api/v1/mindmaps/{mindmap}/nodes?etag=x", 400,
        "INVALID_ARGUMENT", "INVALID_ARGUMENT", body={"node": {"parentId": "p", "text": "t"}},
        violations=[("etag", "query parameters are not accepted here")]),
    Row("unquoted If-Match", "DELETE", "/api/v1/users/{user}", 400, "BAD_HEADER",
        "INVALID_ARGUMENT", headers={"If-Match": "abc"}),
    Row("several If-Match tags", "DELETE", "/api/v1/users/{user}", 400, "BAD_HEADER",
        "INVALID_ARGUMENT", headers={"If-Match": '"a", "b"'}),
    Row("weak If-Match", "DELETE", "/api/v1/users/{user}", 412, "ETAG_MISMATCH", "ABORTED",
        headers={"If-Match": 'W/"abc"'}),
    Row("bad timeout", "DELETE", "/api/v1/users/{user}", 400, "BAD_HEADER", "INVALID_ARGUMENT",
        headers={"X-Request-Timeout": "0"}),
    Row("bad request id", "DELETE", "/api/v1/users/{user}", 400, "BAD_HEADER",
        "INVALID_ARGUMENT", headers={"X-Request-Id": "x" * 129}),
    Row("authorization gRPC cannot carry", "DELETE", "/api/v1/users/{user}", 400, "BAD_HEADER",
        "INVALID_ARGUMENT", headers={"Authorization": "Bearer \tx"}),
]  # fmt: skip


@dataclass(frozen=True)
class World:
    """A running hub with one user and one mindmap, and a client of its REST front end."""

    running: RunningHub
    http: httpx.AsyncClient
    user_id: str
    mindmap_id: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """The hub every row runs against."""
    async with (
        running_hub(tmp_path / "data") as running,
        httpx.AsyncClient(base_url=running.http_url, timeout=30) as http,
    ):
        user = await http.post("/api/v1/users", json={"email": "a@b.co", "displayName": "A"})
        mindmap = await http.post(
            "/api/v1/mindmaps", json={"ownerId": user.json()["id"], "title": "T"}
        )
        yield World(running, http, user.json()["id"], mindmap.json()["id"])


async def _outbox(running: RunningHub) -> list[str]:
    return [event.type for event in await running.hub.store.read_outbox(0, 1000)]


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_bad_request(world: World, row: Row) -> None:
    """The row's exact status and problem body, and nothing written."""
    before = await _outbox(world.running)
    path = row.path.format(user=world.user_id, mindmap=world.mindmap_id)

    response = await world.http.request(
        row.method, path, json=row.body, content=row.content, headers=row.headers
    )

    problem = response.json()
    expected_violations = [{"field": f, "description": d} for f, d in row.violations]
    assert (row.status, PROBLEM_JSON) == (response.status_code, response.headers["content-type"])
    assert {
        "type": "urn:hub:problem:" + row.reason.lower().replace("_", "-"),
        "status": row.status,
        "instance": path.split("?")[0],
        "grpcCode": row.grpc_code,
        "reason": row.reason,
    } == {key: problem[key] for key in ("type", "status", "instance", "grpcCode", "reason")}
    assert expected_violations == problem.get("fieldViolations", [])
    assert row.allow == response.headers.get("allow")
    assert before == await _outbox(world.running)


async def test_oversized_body_without_content_length(world: World) -> None:
    """A chunked body is counted as it arrives: past the limit it is 413 all the same."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "a@b.co", "displayName": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    before = await _outbox(world.running)

    response = await world.http.post("/api/v1/users", content=chunks(), headers=JSON)

    assert (413, "BODY_TOO_LARGE") == (response.status_code, response.json()["reason"])
    assert before == await _outbox(world.running)


async def test_every_answer_of_the_table_is_described(world: World) -> None:
    """Each problem reads as a whole: a title, a detail, and violations only where fields
    were named."""
    response = await world.http.post("/api/v1/users", json={})

    problem = response.json()
    assert ("Bad Request", "invalid request: user.email, user.displayName") == (
        problem["title"],
        problem["detail"],
    )


@pytest.mark.parametrize(
    "request_line",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET /api/v1/users?pageToken=" + b"x" * 70_000 + b" HTTP/1.1\r\nHost: hub\r\n\r\n",
    ],
    ids=["garbage", "URL over 64 KiB"],
)
async def test_request_the_server_cannot_parse(world: World, request_line: bytes) -> None:
    """What never reaches the app is still answered with a problem, not uvicorn's text."""
    host, port = world.running.http_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request_line)
    await writer.drain()
    answer = await reader.read()  # the server closes the connection after answering
    writer.close()
    await writer.wait_closed()

    head, _, body = answer.partition(b"\r\n\r\n")
    assert (b"HTTP/1.1 400 Bad Request", b"content-type: application/problem+json") == (
        head.split(b"\r\n")[0],
        next(line for line in head.split(b"\r\n") if line.startswith(b"content-type")),
    )
    assert ("MALFORMED_REQUEST", "INVALID_ARGUMENT") == (
        json.loads(body)["reason"],
        json.loads(body)["grpcCode"],
    )
    assert ["user.created", "mindmap.created"] == await _outbox(world.running)
