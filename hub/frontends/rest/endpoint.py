"""One exposed route, compiled at start-up: an HTTP request in, one backend call, JSON out.

Per request, in this order: read the headers; read and parse the JSON body (routes with a
body only: 413 above the size limit, 415 for another media type, 400 for a missing body
or malformed JSON); validate path, query and body against the published JSON Schema (400
naming every bad field); transcode to the RPC request; apply `If-Match`; call the backend
through `unary_bytes`, the one client hop, with the deadline and the passed-on metadata;
answer the rendered response with its `ETag`, or the failure as problem+json. Everything
that does not depend on the request (the validator, the raw call, where etags live, the
constant headers) is worked out once, in the constructor.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl

import grpc
from google.protobuf.message import Message
from grpc import aio
from starlette.types import Receive, Scope

from hub.config import Http
from hub.frontends.rest.headers import (
    ENTITY_TAG_PATTERN,
    REQUEST_ID_HEADER,
    RequestHeaders,
    read_headers,
)
from hub.frontends.rest.problems import failure_problem
from hub.frontends.rest.render import Convert, JsonRenderer
from hub.frontends.rest.responses import (
    JSON_CONTENT_TYPE,
    PROBLEM_CONTENT_TYPE,
    Headers,
    HttpProblem,
    HttpResponse,
    dump,
    invalid_request,
)
from hub.frontends.rest.routes import HttpRoute
from hub.frontends.rest.transcode import (
    BadRequest,
    HttpInput,
    build_request,
    etag_field,
    response_etag_field,
)
from hub.frontends.rest.validation import RequestValidator
from hub.frontends.rpc_error import RpcFailure
from hub.principal import PEER_KEY

_JSON = b"application/json"
_ENTITY_TAG = re.compile(ENTITY_TAG_PATTERN)
_RETURNED_METADATA = frozenset({REQUEST_ID_HEADER})
"""Response metadata keys that come back as headers (of the same name)."""


class Caller(Protocol):
    """How the REST app reaches a backend method: `hub.client.BackendClient` is one."""

    def unary_bytes(self, method: str) -> aio.UnaryUnaryMultiCallable[bytes, bytes]:
        """A call of `method` (a wire path) that takes and returns serialized messages."""
        ...


class Disconnected(Exception):
    """The client went away before its request body arrived: there is no one to answer."""


class Endpoint:
    """The handler of one route."""

    def __init__(
        self,
        route: HttpRoute,
        caller: Caller,
        validator: RequestValidator,
        renderer: JsonRenderer,
        settings: Http,
        *,
        cache_control: str | None = None,
    ) -> None:
        """`cache_control`: the `Cache-Control` of this route's answers (a GET's), if any."""
        self.route = route
        self._cache_control = (
            [(b"cache-control", cache_control.encode())] if cache_control is not None else []
        )
        self._revalidates = route.http_method == "GET"
        """Whether `If-None-Match` applies (a GET: 304 when the entity tag matches)."""
        self._call = caller.unary_bytes(route.rpc_path)
        self._validator = validator
        self._has_body = bool(route.body)
        self._max_body_bytes = settings.max_body_bytes
        self._default_timeout = settings.default_timeout_seconds
        self._max_timeout = settings.max_timeout_seconds
        self._if_match_field = etag_field(route)
        self._parse = route.response_type.FromString
        self._render = _body_renderer(route, renderer)
        etag = response_etag_field(route)
        if etag is not None and route.response_body:
            etag = (route.response_body, *etag)
        self._response_etag_field = etag

    async def respond(
        self, scope: Scope, receive: Receive, path: str, path_values: Mapping[str, str]
    ) -> HttpResponse:
        """Answers one request for `path`, which matched the route's template with
        `path_values`. Raises `HttpProblem` for a request refused before the backend call,
        `Disconnected` when the client is gone."""
        headers = read_headers(scope["headers"])
        body = await self._json_body(headers, receive) if self._has_body else None
        query = _query(scope["query_string"])
        violations = self._validator.validate(path_values, query, body)
        if violations:
            raise invalid_request(violations)
        try:
            request = build_request(self.route, HttpInput(path_values, query, body))
        except BadRequest as error:
            raise invalid_request(error.problems) from None
        conditional = False
        if headers.if_match is not None and self._if_match_field is not None:
            _set(request, self._if_match_field, headers.if_match)
            conditional = True
        timeout = min(headers.timeout or self._default_timeout, self._max_timeout)
        client = scope.get("client")
        peer = (PEER_KEY, client[0] if client else "")
        call = self._call(
            request.SerializeToString(), timeout=timeout, metadata=(*headers.metadata, peer)
        )
        try:
            data = await call
        except aio.AioRpcError as error:
            return _failure(error, headers, path, conditional=conditional)
        response = self._parse(data)
        response_headers = [*_returned(await call.initial_metadata(), headers)]
        response_headers.extend(self._cache_control)
        if self._response_etag_field is not None:
            etag = _get(response, self._response_etag_field)
            response_headers.extend(_etag_header(etag))
            if (
                self._revalidates
                and headers.if_none_match
                and (etag in headers.if_none_match or "*" in headers.if_none_match)
            ):
                return HttpResponse(304, response_headers, b"")
        response_headers.insert(0, JSON_CONTENT_TYPE)
        return HttpResponse(200, response_headers, dump(self._render(response)))

    async def _json_body(self, headers: RequestHeaders, receive: Receive) -> Any:
        declared = headers.content_type
        if declared is not None and not _is_json(declared):
            raise _unsupported_media_type()
        if headers.content_length is not None and headers.content_length > self._max_body_bytes:
            raise self._too_large()
        data = await self._read(receive)
        if not data:
            raise HttpProblem(
                400,
                "this request needs a JSON body",
                code=grpc.StatusCode.INVALID_ARGUMENT,
                reason="MISSING_BODY",
            )
        if declared is None:
            raise _unsupported_media_type()
        try:
            return json.loads(data, parse_constant=_no_constant)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
            raise HttpProblem(
                400,
                f"the body is not valid JSON: {error}",
                code=grpc.StatusCode.INVALID_ARGUMENT,
                reason="MALFORMED_JSON",
            ) from None

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Disconnected
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large(self) -> HttpProblem:
        return HttpProblem(
            413,
            f"the body is larger than {self._max_body_bytes} bytes",
            code=grpc.StatusCode.RESOURCE_EXHAUSTED,
            reason="BODY_TOO_LARGE",
        )


def _body_renderer(route: HttpRoute, renderer: JsonRenderer) -> Convert:
    """Renders a response as the HTTP body carries it: its `response_body` field, or all."""
    output = route.method.output_type
    if not route.response_body:
        return renderer.message(output)
    field = output.fields_by_name[route.response_body]
    convert = renderer.field(field)
    name = field.name
    if convert is None:
        return lambda response: getattr(response, name)
    return lambda response: convert(getattr(response, name))


def _query(raw: bytes) -> list[tuple[str, str]]:
    if not raw:
        return []
    try:
        return parse_qsl(raw.decode(), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise HttpProblem(
            400,
            "the query string is not valid UTF-8 once percent-decoded",
            code=grpc.StatusCode.INVALID_ARGUMENT,
            reason="INVALID_ARGUMENT",
        ) from None


def _is_json(content_type: bytes) -> bool:
    """`application/json` or `application/<something>+json`, in UTF-8 if a charset is named."""
    if content_type == _JSON:
        return True
    media, *parameters = content_type.lower().split(b";")
    media = media.strip()
    if media != _JSON and not (media.startswith(b"application/") and media.endswith(b"+json")):
        return False
    for parameter in parameters:
        name, _, value = parameter.partition(b"=")
        if name.strip() == b"charset" and value.strip().strip(b'"') not in (b"utf-8", b"utf8"):
            return False
    return True


def _unsupported_media_type() -> HttpProblem:
    return HttpProblem(
        415,
        "the body must be JSON: send it with Content-Type: application/json",
        code=grpc.StatusCode.INVALID_ARGUMENT,
        reason="UNSUPPORTED_MEDIA_TYPE",
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _get(message: Message, path: tuple[str, ...]) -> Any:
    value: Any = message
    for name in path:
        value = getattr(value, name)
    return value


def _set(message: Message, path: tuple[str, ...], value: Any) -> None:
    setattr(_get(message, path[:-1]), path[-1], value)


def _etag_header(etag: str) -> Headers:
    tag = f'"{etag}"'
    return [(b"etag", tag.encode())] if _ENTITY_TAG.match(tag) else []


def _returned(metadata: Any, headers: RequestHeaders) -> Headers:
    """The response headers taken from response metadata; the request's `X-Request-Id` is
    echoed when the backend did not set one."""
    returned: Headers = [
        (key.encode(), value.encode())
        for key, value in metadata or ()
        if key in _RETURNED_METADATA and isinstance(value, str)
    ]
    if headers.request_id is not None and not any(k == b"x-request-id" for k, _ in returned):
        returned.append((b"x-request-id", headers.request_id.encode()))
    return returned


def _failure(
    error: aio.AioRpcError, headers: RequestHeaders, path: str, *, conditional: bool
) -> HttpResponse:
    failure = RpcFailure.from_error(error)
    body = failure_problem(failure, instance=path, conditional=conditional)
    response_headers = [PROBLEM_CONTENT_TYPE, *_returned(error.initial_metadata(), headers)]
    if failure.retry_delay_seconds is not None:
        retry_after = str(math.ceil(failure.retry_delay_seconds)).encode()
        response_headers.append((b"retry-after", retry_after))
    if failure.code == grpc.StatusCode.UNAUTHENTICATED:
        response_headers.append((b"www-authenticate", bearer_challenge(failure)))
    if failure.reason == "RATE_LIMITED":
        response_headers.extend(rate_limit_headers(dict(failure.metadata)))
    return HttpResponse(body["status"], response_headers, dump(body))


def rate_limit_headers(limit: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """`RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) of a
    refusal, from the numbers the rate limiter put in its `ErrorInfo`."""
    name = '"per-caller"'
    policy = f"{name};q={limit.get('quota', '0')};w={limit.get('windowSeconds', '0')}"
    state = f"{name};r={limit.get('remaining', '0')};t={limit.get('resetSeconds', '0')}"
    return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", state.encode())]


def bearer_challenge(failure: RpcFailure) -> bytes:
    """The `WWW-Authenticate` of a 401 (RFC 6750 §3): no error code when no credentials
    came, `invalid_token` when they were refused."""
    if failure.reason in ("", "CREDENTIALS_MISSING"):
        return b'Bearer realm="hub"'
    description = failure.message.replace("\\", "").replace('"', "'")
    challenge = f'Bearer realm="hub", error="invalid_token", error_description="{description}"'
    return challenge.encode("ascii", "replace")
