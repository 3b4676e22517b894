"""The request headers the REST layer acts on, read in one pass over the ASGI header list.

- `Authorization`, `traceparent`, `tracestate` and `X-Request-Id` go on to the backend as
  gRPC metadata (under their lower-case names). gRPC carries printable ASCII only, so any
  other byte in them is a 400, not a failed call.
- `Content-Type` and `Content-Length` are looked at before a body is read (415, 413).
- `If-Match` holds one strong entity tag (`"abc"`) or `*`; the tag becomes the request's
  etag precondition. A weak tag (`W/"abc"`) can never match, since If-Match compares
  strongly (RFC 9110 §13.1.1): 412 at once. Several tags cannot be expressed as one etag
  field: 400.
- `If-None-Match` holds entity tags (weak or strong) or `*`: a GET whose answer carries one
  of them is answered 304 Not Modified (weak comparison, RFC 9110 §13.1.2); a value that
  does not parse is ignored, as if absent.
- `X-Request-Timeout` is the deadline of the backend call in seconds (decimal, above 0),
  sent on as the call's `grpc-timeout`.
The `*_PATTERN` constants are the exact syntax accepted (anything else is a 400), written
for the OpenAPI document to publish as they are. Every other header is ignored; in
particular nothing a client sends as `x-hub-*` reaches a backend, since only the headers
above are passed on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import grpc

from hub.frontends.rest.responses import HttpProblem

REQUEST_ID_HEADER = "x-request-id"
ENTITY_TAG_PATTERN = '^"[\\x21\\x23-\\x7e]+"$'
"""An `ETag` value: one strong entity tag."""
IF_MATCH_PATTERN = '^(?:"[\\x21\\x23-\\x7e]+"|\\*)$'
"""An `If-Match` value the app acts on: one strong entity tag, or `*`."""
TIMEOUT_PATTERN = "^(?:[1-9][0-9]{0,8}(?:\\.[0-9]{1,9})?|0\\.[0-9]{0,8}[1-9])$"
"""An `X-Request-Timeout` value: a decimal number of seconds above 0."""
REQUEST_ID_PATTERN = "^[\\x21-\\x7e](?:[\\x20-\\x7e]{0,126}[\\x21-\\x7e])?$"
"""An `X-Request-Id` value: 1 to 128 printable ASCII characters, no outer spaces."""

_FORWARDED = frozenset({b"authorization", b"traceparent", b"tracestate"})
_NOT_METADATA = re.compile(rb"[^\x20-\x7e]")
_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_WEAK_TAG = re.compile(r'^W/"[\x21\x23-\x7e]*"$')
_TAG = re.compile(r'(?:W/)?"([\x21\x23-\x7e]*)"')
_TAG_LIST = re.compile(
    r'^[ \t]*(?:W/)?"[\x21\x23-\x7e]*"(?:[ \t]*,[ \t]*(?:W/)?"[\x21\x23-\x7e]*")*[ \t]*$'
)
_TIMEOUT = re.compile(TIMEOUT_PATTERN)
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


@dataclass(frozen=True)
class RequestHeaders:
    """What the request's headers say, checked."""

    metadata: tuple[tuple[str, str], ...] = ()
    content_type: bytes | None = None
    content_length: int | None = None
    if_match: str | None = None
    """The strong entity tag of `If-Match`, unquoted; None without one (or for `*`)."""
    if_none_match: frozenset[str] = frozenset()
    """The entity tags of `If-None-Match`, unquoted and without `W/`; `*` for any."""
    timeout: float | None = None
    request_id: str | None = None


def read_headers(raw: Iterable[tuple[bytes, bytes]]) -> RequestHeaders:
    """Reads the headers of an ASGI scope (names are lower case); raises `HttpProblem` for a
    value that cannot be used."""
    metadata: list[tuple[str, str]] = []
    content_type: bytes | None = None
    content_length: int | None = None
    if_match: str | None = None
    if_none_match: frozenset[str] = frozenset()
    timeout: float | None = None
    request_id: str | None = None
    for name, value in raw:
        if name in _FORWARDED:
            metadata.append((name.decode(), _metadata_value(name, value)))
        elif name == b"x-request-id":
            request_id = _request_id(value.decode("latin-1"))
            metadata.append((REQUEST_ID_HEADER, request_id))
        elif name == b"content-type":
            content_type = value
        elif name == b"content-length" and value.isdigit():
            content_length = int(value)
        elif name == b"if-match":
            if_match = _entity_tag(value.decode("latin-1"))
        elif name == b"if-none-match":
            if_none_match = _entity_tags(value.decode("latin-1"))
        elif name == b"x-request-timeout":
            timeout = _timeout(value.decode("latin-1"))
    return RequestHeaders(
        metadata=tuple(metadata),
        content_type=content_type,
        content_length=content_length,
        if_match=if_match,
        if_none_match=if_none_match,
        timeout=timeout,
        request_id=request_id,
    )


def _metadata_value(name: bytes, value: bytes) -> str:
    if _NOT_METADATA.search(value):
        raise _bad_header(name.decode(), "only printable ASCII characters can be passed on")
    return value.decode("ascii")


def _entity_tag(value: str) -> str | None:
    if _IF_MATCH.match(value):
        return None if value == "*" else value[1:-1]
    if _WEAK_TAG.match(value):
        raise HttpProblem(
            412,
            "If-Match: a weak entity tag never matches (If-Match compares strongly)",
            code=grpc.StatusCode.ABORTED,
            reason="ETAG_MISMATCH",
        )
    detail = 'expected one entity tag in double quotes, such as "5f2a", or *'
    if "," in value:
        detail = "only one entity tag can be given"
    raise _bad_header("If-Match", detail)


def _entity_tags(value: str) -> frozenset[str]:
    if value.strip() == "*":
        return frozenset({"*"})
    if not _TAG_LIST.match(value):
        return frozenset()
    return frozenset(_TAG.findall(value))


def _timeout(value: str) -> float:
    if not _TIMEOUT.match(value):
        raise _bad_header("X-Request-Timeout", "expected a number of seconds above 0, such as 2.5")
    return float(value)


def _request_id(value: str) -> str:
    if not _REQUEST_ID.match(value):
        raise _bad_header("X-Request-Id", "expected 1 to 128 printable ASCII characters")
    return value


def _bad_header(name: str, detail: str) -> HttpProblem:
    return HttpProblem(
        400,
        f"header {name}: {detail}",
        code=grpc.StatusCode.INVALID_ARGUMENT,
        reason="BAD_HEADER",
    )
