"""What the REST app answers, as plain data, and how it goes out over ASGI.

Handlers build an `HttpResponse` (status, headers, body) and never call `send` themselves:
the app sends each response in one place, so that a failure anywhere before that point can
still be answered with a problem body. A failure found by the REST layer itself is raised
as `HttpProblem`, which carries what `problems.problem` needs to render it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from starlette.types import Send

from hub.frontends.rest.problems import PROBLEM_JSON, problem
from hub.frontends.rpc_error import FieldProblem

Headers = list[tuple[bytes, bytes]]

JSON_CONTENT_TYPE = (b"content-type", b"application/json")
PROBLEM_CONTENT_TYPE = (b"content-type", PROBLEM_JSON.encode())


@dataclass(frozen=True)
class HttpResponse:
    """A complete response: status, headers (without content-length), body."""

    status: int
    headers: Headers
    body: bytes


class HttpProblem(Exception):
    """A request the REST layer refuses before or instead of calling a backend."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: grpc.StatusCode,
        reason: str,
        field_violations: Sequence[FieldProblem] = (),
        headers: Headers | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.reason = reason
        self.field_violations = tuple(field_violations)
        self.headers: Headers = headers or []

    def response(self, instance: str) -> HttpResponse:
        """The problem+json response for a request to `instance` (the request path)."""
        body = problem(
            self.status,
            self.detail,
            code=self.code,
            instance=instance,
            reason=self.reason,
            field_violations=self.field_violations,
        )
        return HttpResponse(self.status, [PROBLEM_CONTENT_TYPE, *self.headers], dump(body))


def invalid_request(violations: Sequence[FieldProblem]) -> HttpProblem:
    """400 for request fields that break the schema, worded like the backends' own
    INVALID_ARGUMENT (`invalid request: <fields>`), so both read the same."""
    fields = ", ".join(v.field or "(the whole request)" for v in violations)
    return HttpProblem(
        400,
        f"invalid request: {fields}",
        code=grpc.StatusCode.INVALID_ARGUMENT,
        reason="INVALID_ARGUMENT",
        field_violations=violations,
    )


def malformed_request() -> HttpResponse:
    """The answer to a request that is not HTTP/1.1 the server can read, which it answers
    before any app sees it (so there is no path to name)."""
    detail = "the request is not valid HTTP/1.1, or its URL is longer than 64 KiB"
    problem = HttpProblem(
        400, detail, code=grpc.StatusCode.INVALID_ARGUMENT, reason="MALFORMED_REQUEST"
    )
    return problem.response(instance="")


def dump(document: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


async def send_response(send: Send, response: HttpResponse) -> None:
    """Sends `response` with its content-length (none for 304 and 204, which have no body).
    (For HEAD, the server drops the body.)"""
    headers = list(response.headers)
    if response.status not in (204, 304):
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
