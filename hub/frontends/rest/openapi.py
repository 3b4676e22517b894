"""The OpenAPI 3.1 document of the exposed REST routes, generated from their descriptors.

One operation per route (an RPC's `additional_bindings` are routes of their own), under the
path its template gives, tagged with its service. Path parameters are named after the
template's variables with `_` for `.` (`{user.id}` is `{user_id}`: tools fill paths in with
`str.format`, which reads a dot as attribute access), and templates of one shape share the
names of the first (`PUT /users/{user.id}` is documented under `GET /users/{id}`'s path, since
OpenAPI forbids two paths that differ only in parameter names).
- `operationId` is `<Service>_<Method>` (`UserService_GetUser`); a method with more than one
  exposed binding numbers the later ones (`UserService_UpdateUser_2`), in declaration order;
- summary and description are the method's proto comment;
- parameters: the path variables and query fields (`schema.Schemas.parameters`). The
  request headers the app reads (`If-Match`, `X-Request-Timeout`, `X-Request-Id`, trace
  context) are described in `info.description` rather than listed as parameters: a listed
  header is a promise about every value its schema admits, which a deadline of a
  microsecond (504) or a stale entity tag (412) cannot keep;
- the request body and the 200 response are JSON, with the schemas of `schema.py`; the 200
  response documents `ETag` where the app sends one (`transcode.response_etag_field`);
- errors are `application/problem+json` bodies (RFC 9457, the `Problem` schema, as
  `problems.problem` writes them), one response per status the app can answer for the
  route: 400, 404, 409, 429, 500, 503 and 504 for every route (the gRPC table of
  `problems.http_status` over the codes a backend call can end with), 412 where `If-Match`
  applies, 413 and 415 where a body is read, 401 and 403 when authentication is on. 405 and
  an unknown path's 404 belong to no operation and are not listed;
- with authentication on (`anonymous` given), the `bearerAuth` security scheme (a JWT as
  `Authorization: Bearer`) is required by the whole document, and optional on the
  operations whose RPC is open without credentials (`security: [{}, {bearerAuth: []}]`).
  The committed document (`hub gen`) describes the default configuration, without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import grpc

from hub.frontends.rest.problems import PROBLEM_JSON
from hub.frontends.rest.routes import HttpRoute
from hub.frontends.rest.schema import REF_PREFIX, Schemas
from hub.frontends.rest.transcode import etag_field, response_etag_field

OPENAPI_VERSION = "3.1.0"
API_TITLE = "hub"
JSON = "application/json"

_API_DESCRIPTION = """\
The hub's REST API, transcoded from the gRPC services by their `google.api.http` rules.

Bodies follow the proto3 JSON mapping: field names are lowerCamelCase (the original
snake_case names are accepted on input too), 64-bit integers are strings, enums are value
names, timestamps are RFC 3339. Unknown fields are refused.

Every error is an RFC 9457 problem (`application/problem+json`) that also carries the gRPC
code, the reason and the bad fields.

Request headers:
- `If-Match: "<etag>"` (one strong entity tag, as `ETag` gave it, or `*`) on a request with
  an etag field makes the write conditional: 412 when the resource has changed since. The
  request's own `etag` field does the same, answered with 409.
- `X-Request-Timeout: <seconds>` (a decimal above 0) is the deadline of the backend call
  (504 when it passes); without it a configured default applies.
- `X-Request-Id`, `traceparent`, `tracestate` and `Authorization` (printable ASCII) are
  passed to the backends; `X-Request-Id` comes back as a response header."""

_VARIABLE = re.compile(r"\{[^}]*\}")
_ENTITY_TAG = '^"[\\x21\\x23-\\x7e]+"$'

# The error responses, by status: component name and description.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid: its fields, its JSON or its headers."),
    401: (
        "Unauthorized",
        "Credentials are missing or not good; `WWW-Authenticate` names the scheme and why.",
    ),
    403: ("Forbidden", "The caller may not do this, or not to this resource."),
    404: ("NotFound", "The resource (or one the request names) does not exist."),
    409: ("Conflict", "It exists already, or it changed meanwhile (a stale etag)."),
    412: ("PreconditionFailed", "The `If-Match` entity tag is not the resource's etag."),
    413: ("ContentTooLarge", "The body is larger than the configured limit."),
    415: ("UnsupportedMediaType", "The body is not sent as `application/json`."),
    429: ("TooManyRequests", "A limit was reached; `Retry-After` says when to retry, if known."),
    500: ("InternalServerError", "The hub failed; the problem says no more."),
    503: ("ServiceUnavailable", "A backend service cannot be reached right now."),
    504: ("GatewayTimeout", "The deadline (`X-Request-Timeout`) passed before an answer."),
}
_ALWAYS = (400, 404, 409, 429, 500, 503, 504)
_AUTHENTICATED = (401, 403)
BEARER = "bearerAuth"
"""The name of the security scheme of bearer tokens."""


def build_openapi(
    routes: Sequence[HttpRoute],
    schemas: Schemas,
    *,
    title: str,
    version: str,
    anonymous: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`, with the JSON Schemas of `schemas`.
    `anonymous`: None when authentication is off, else the wire paths of the RPCs open
    without credentials."""
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    shapes: dict[str, list[str]] = {}  # path with `{}` for parameters -> their names
    statuses: set[int] = set()  # the error statuses some operation answers
    for route in routes:
        variables = [variable.name for variable in route.template.variables]
        shape = _VARIABLE.sub("{}", route.template.openapi_path)
        names = shapes.setdefault(shape, [name.replace(".", "_") for name in variables])
        if len(set(names)) != len(names):
            raise ValueError(f"{route.template.source}: parameter names clash as {names}")
        renamed = dict(zip(variables, names, strict=True))
        path = shape.format(*(f"{{{name}}}" for name in names))
        service = route.method.containing_service
        tags.setdefault(service.name, _tag(service.name, schemas.description(service.full_name)))
        base = f"{service.name}_{route.method.name}"
        seen[base] = seen.get(base, 0) + 1
        operation_id = base if seen[base] == 1 else f"{base}_{seen[base]}"
        item = paths.setdefault(path, {})
        method = route.http_method.lower()
        if method in item:
            raise ValueError(
                f"{route.http_method} {path} is bound twice "
                f"({item[method]['operationId']} and {operation_id})"
            )
        item[method] = operation = _operation(
            route, schemas, operation_id, service.name, renamed, anonymous
        )
        statuses.update(int(status) for status in operation["responses"] if status != "200")
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": _API_DESCRIPTION},
        "tags": list(tags.values()),
        "paths": paths,
        "components": {
            "schemas": {**schemas.components(), **_problem_schemas()},
            "responses": _error_responses(statuses),
            "headers": _headers(challenge=anonymous is not None),
        },
    }
    if anonymous is not None:
        document["security"] = [{BEARER: []}]
        document["components"]["securitySchemes"] = {
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A JWT the gateway's authentication accepts "
                "(`Authorization: Bearer <token>`).",
            }
        }
    return document


def _tag(name: str, description: str | None) -> dict[str, Any]:
    tag: dict[str, Any] = {"name": name}
    if description:
        tag["description"] = description
    return tag


def _operation(
    route: HttpRoute,
    schemas: Schemas,
    operation_id: str,
    tag: str,
    renamed: dict[str, str],
    anonymous: frozenset[str] | None,
) -> dict[str, Any]:
    """The operation of `route`; `renamed` maps its path variables to the parameter names
    of the path it is documented under; `anonymous` as `build_openapi`'s."""
    operation: dict[str, Any] = {"operationId": operation_id, "tags": [tag]}
    description = schemas.description(route.method.full_name)
    if description:
        operation["summary"] = _first_sentence(description)
        operation["description"] = description
    parameters: list[dict[str, Any]] = []
    for parameter in schemas.parameters(route):
        entry: dict[str, Any] = {
            "name": renamed[parameter.name] if parameter.location == "path" else parameter.name,
            "in": parameter.location,
            "required": parameter.required,
            "schema": parameter.schema,
        }
        if parameter.description:
            entry["description"] = parameter.description
        if parameter.schema.get("type") == "array":
            entry["style"], entry["explode"] = "form", True
        parameters.append(entry)
    if parameters:
        operation["parameters"] = parameters
    conditional = etag_field(route) is not None
    body = schemas.body_schema(route)
    if body is not None:
        request_body: dict[str, Any] = {"required": True, "content": {JSON: {"schema": body}}}
        if route.body != "*":
            field = route.request_descriptor.fields_by_name[route.body]
            said = schemas.description(field.full_name)
            if said:
                request_body["description"] = said
        operation["requestBody"] = request_body
    statuses = [
        *_ALWAYS,
        *([412] if conditional else []),
        *([413, 415] if body else []),
        *(_AUTHENTICATED if anonymous is not None else ()),
    ]
    if anonymous is not None:
        service = route.method.containing_service.full_name
        if f"/{service}/{route.method.name}" in anonymous:
            operation["security"] = [{}, {BEARER: []}]  # credentials optional
    responses: dict[str, Any] = {"200": _success(route, schemas)}
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
    operation["responses"] = responses
    return operation


def _success(route: HttpRoute, schemas: Schemas) -> dict[str, Any]:
    output = route.method.output_type
    said = None
    if route.response_body:
        said = schemas.description(output.fields_by_name[route.response_body].full_name)
    headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/XRequestId"}}
    if response_etag_field(route) is not None:
        headers["ETag"] = {"$ref": "#/components/headers/ETag"}
    return {
        "description": said or schemas.description(output.full_name) or "OK",
        "headers": headers,
        "content": {JSON: {"schema": schemas.response_schema(route)}},
    }


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


def _headers(*, challenge: bool) -> dict[str, Any]:
    """The response headers, as components; `challenge`: with `WWW-Authenticate` (401)."""
    headers: dict[str, Any] = {
        "ETag": {
            "description": "The etag of the returned resource, quoted; send it back in "
            "`If-Match` to make a write conditional.",
            "schema": {"type": "string", "pattern": _ENTITY_TAG},
        },
        "XRequestId": {
            "description": "The request's `X-Request-Id`, echoed.",
            "schema": {"type": "string"},
        },
        "RetryAfter": {
            "description": "Seconds to wait before retrying, when the hub knows.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        },
    }
    if challenge:
        headers["WWWAuthenticate"] = {
            "description": "The `Bearer` challenge (RFC 6750), with `error` and "
            "`error_description` when credentials were sent but are not good.",
            "schema": {"type": "string"},
        }
    return headers


def _error_responses(statuses: set[int]) -> dict[str, Any]:
    """The error responses of `statuses`, as components."""
    responses: dict[str, Any] = {}
    for status, (name, description) in sorted(_ERRORS.items()):
        if status not in statuses:
            continue
        headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/XRequestId"}}
        if status == 429:
            headers["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
        elif status == 401:
            headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WWWAuthenticate"}
        responses[name] = {
            "description": description,
            "headers": headers,
            "content": {PROBLEM_JSON: {"schema": {"$ref": REF_PREFIX + "Problem"}}},
        }
    return responses


def _problem_schemas() -> dict[str, Any]:
    return {
        "Problem": {
            "type": "object",
            "description": "An RFC 9457 problem, with the gRPC status it stands for.",
            "required": ["type", "title", "status", "detail", "instance", "grpcCode"],
            "properties": {
                "type": {
                    "type": "string",
                    "description": "`urn:hub:problem:<reason or code>`, in kebab case.",
                },
                "title": {"type": "string", "description": "The HTTP status phrase."},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string", "description": "What went wrong, for people."},
                "instance": {"type": "string", "description": "The request path."},
                "grpcCode": {
                    "type": "string",
                    "enum": [code.name for code in grpc.StatusCode if code.name != "OK"],
                    "description": "The gRPC status code of the failure.",
                },
                "reason": {
                    "type": "string",
                    "description": "`google.rpc.ErrorInfo` reason, such as `USER_HAS_MINDMAPS`.",
                },
                "fieldViolations": {
                    "type": "array",
                    "items": {"$ref": REF_PREFIX + "FieldViolation"},
                    "description": "The bad request fields, as `google.rpc.BadRequest` has them.",
                },
                "retryAfterSeconds": {
                    "type": "number",
                    "minimum": 0,
                    "description": "From `google.rpc.RetryInfo`: when to retry.",
                },
            },
        },
        "FieldViolation": {
            "type": "object",
            "required": ["field", "description"],
            "properties": {
                "field": {
                    "type": "string",
                    "description": "JSON path of the field in the request (`user.email`, "
                    "`ids[3]`); empty for the request as a whole.",
                },
                "description": {"type": "string"},
            },
        },
    }
