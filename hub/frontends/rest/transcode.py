"""JSON and URL to protobuf and back, per http rule: plain functions, no I/O.

Requests follow google/api/http.proto: path variables set (possibly nested) fields; with
`body: "*"` the JSON body is the whole request; with `body: "<field>"` it is that field and
the remaining fields come from the query string; without a body every field not bound by
the path may come from the query string (`a.b=1`, repeated fields by repeating the key).
All of it goes through one `json_format.ParseDict`, so the proto3 JSON mapping applies to
every source alike: lowerCamelCase or original names, int64 as strings, enums by name,
Timestamps as RFC 3339, and integral floats such as `25.0` for integer fields.

PATCH is a partial update, as in grpc-gateway: when the request has a `FieldMask` field and
the query sets none, the mask is the top-level fields the JSON body names (less the fields
the path sets, `etag`, and output-only fields), so `PATCH /api/v1/users/{id}` with
`{"displayName": "Ada"}` changes the display name and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import google.api.field_behavior_pb2 as field_behavior_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from hub.frontends.rest.jsonforms import is_scalar_message
from hub.frontends.rest.routes import HttpRoute
from hub.frontends.rpc_error import FieldProblem
from hub.rules import behaviors

_FAILED_FIELD = re.compile(r"Failed to parse (\w+) field")


class BadRequest(ValueError):
    """The HTTP request cannot become an RPC request: one problem per bad field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.description}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class HttpInput:
    """What the REST layer read from the HTTP request."""

    path_params: Mapping[str, str]
    query: Sequence[tuple[str, str]]
    body: Any  # the parsed JSON body, or None when there is none


def build_request(route: HttpRoute, given: HttpInput) -> Message:
    """The RPC request for `route` from `given`; `BadRequest` names every bad field."""
    document: dict[str, Any] = {}
    if route.body == "*":
        if given.body is not None:
            document = _object(given.body, "")
    elif route.body and given.body is not None:
        field = route.request_descriptor.fields_by_name[route.body]
        document[field.json_name] = given.body
    problems = _apply_query(route, given.query, document)
    if route.http_method == "PATCH":
        _derive_mask(route, given.body, document)
    for name, value in given.path_params.items():
        path = _field_path(route.request_descriptor, name.split("."))
        if path is None:  # routes.py checked every variable at start-up
            raise LookupError(f"{route.rpc_path}: path variable {name!r} names no field")
        problems.extend(_set_fields(document, path[0], value))
    if problems:
        raise BadRequest(problems)
    request = route.request_type()
    try:
        json_format.ParseDict(document, request)
    except json_format.ParseError as error:
        raise BadRequest([_parse_problem(error)]) from None
    return request


def _derive_mask(route: HttpRoute, body: Any, document: dict[str, Any]) -> None:
    """Sets the request's field mask from the body's fields, if the query set none."""
    request = route.request_descriptor
    masks = [
        field
        for field in request.fields
        if field.message_type is not None
        and field.message_type.full_name == FieldMask.DESCRIPTOR.full_name
    ]
    if len(masks) != 1 or route.body in ("", "*") or not isinstance(body, dict):
        return
    mask = masks[0]
    if mask.json_name in document or mask.name in document:
        return
    target = request.fields_by_name[route.body].message_type
    if target is None:
        return
    bound = {
        variable.field_path[1]
        for variable in route.template.variables
        if len(variable.field_path) == 2 and variable.field_path[0] == route.body
    }
    names = {field.json_name: field for field in target.fields} | {
        field.name: field for field in target.fields
    }
    paths = [
        names[key].json_name
        for key in body
        if key in names
        and names[key].name not in bound
        and names[key].name != "etag"
        and field_behavior_pb2.OUTPUT_ONLY not in behaviors(names[key])
    ]
    if paths:
        document[mask.json_name] = ",".join(paths)


def etag_field(route: HttpRoute) -> tuple[str, ...] | None:
    """Where an `If-Match` etag goes in the request: a top-level `etag` field, else the
    body field's `etag`; None when the request has neither."""
    fields = route.request_descriptor.fields_by_name
    if "etag" in fields:
        return ("etag",)
    if route.body not in ("", "*"):
        body_type = fields[route.body].message_type
        if body_type is not None and "etag" in body_type.fields_by_name:
            return (route.body, "etag")
    return None


def response_etag_field(route: HttpRoute) -> tuple[str, ...] | None:
    """Where the etag of what the HTTP body carries is, for the `ETag` header: its own
    `etag` field, else the `etag` of its one message field that has one (AddNode answers
    the node and the mindmap: the mindmap's); None when there is no such single place."""
    carried: Descriptor = route.method.output_type
    if route.response_body:
        body_type = carried.fields_by_name[route.response_body].message_type
        if body_type is None:
            return None
        carried = body_type
    if "etag" in carried.fields_by_name:
        return ("etag",)
    holders = [
        field.name
        for field in carried.fields
        if field.message_type is not None
        and not _is_repeated(field)
        and "etag" in field.message_type.fields_by_name
    ]
    return (holders[0], "etag") if len(holders) == 1 else None


def _object(body: Any, where: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest([FieldProblem(where, "must be a JSON object")])
    return body


def _apply_query(
    route: HttpRoute, query: Sequence[tuple[str, str]], document: dict[str, Any]
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    bound = {v.name for v in route.template.variables}
    repeated_seen: dict[str, list[str]] = {}
    for key, value in query:
        if route.body == "*":
            problems.append(FieldProblem(key, "query parameters are not accepted here"))
            continue
        path = _field_path(route.request_descriptor, key.split("."))
        if path is None:
            problems.append(FieldProblem(key, "unknown query parameter"))
            continue
        names, leaf = path
        dotted = ".".join(f.name for f in names)
        if dotted in bound or (route.body and names[0].name == route.body):
            problems.append(FieldProblem(key, "is set by the path or the body, not the query"))
            continue
        if leaf.message_type is not None and not is_scalar_message(leaf.message_type):
            problems.append(FieldProblem(key, "is a message; set its fields (`a.b=`) instead"))
            continue
        typed: Any = value
        if _is_bool(leaf):  # the JSON mapping takes only true/false for a bool, never "true"
            typed = _BOOLS.get(value)
            if typed is None:
                problems.append(FieldProblem(key, "expected true or false"))
                continue
        if _is_repeated(leaf):
            values = repeated_seen.setdefault(dotted, [])
            values.append(typed)
            problems.extend(_set_fields(document, names, values))
        elif dotted in repeated_seen:
            problems.append(FieldProblem(key, "is given more than once"))
        else:
            repeated_seen[dotted] = [typed]
            problems.extend(_set_fields(document, names, typed))
    return problems


_BOOLS = {"true": True, "false": False}


def _is_bool(field: FieldDescriptor) -> bool:
    if field.message_type is not None:
        return bool(field.message_type.full_name == "google.protobuf.BoolValue")
    return bool(field.type == FieldDescriptor.TYPE_BOOL)


def _field_path(
    message: Descriptor, parts: list[str]
) -> tuple[list[FieldDescriptor], FieldDescriptor] | None:
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = message
    for part in parts:
        if current is None:
            return None
        field = current.fields_by_name.get(part) or _by_json_name(current, part)
        if field is None:
            return None
        fields.append(field)
        current = field.message_type if not _is_repeated(field) else None
    return fields, fields[-1]


def _by_json_name(message: Descriptor, name: str) -> FieldDescriptor | None:
    for field in message.fields:
        if field.json_name == name:
            return field
    return None


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _set_fields(
    document: dict[str, Any], fields: Sequence[FieldDescriptor], value: Any
) -> list[FieldProblem]:
    """Sets a (nested) field, replacing whatever the body said of it under either of its
    JSON names: values from the path win, and `ParseDict` never sees a field twice."""
    target = document
    for depth, field in enumerate(fields):
        existing = None
        for key in {field.name, field.json_name}:
            if key in target:
                existing = target.pop(key)
        if depth == len(fields) - 1:
            target[field.json_name] = value
            return []
        if existing is not None and not isinstance(existing, dict):
            where = ".".join(f.name for f in fields[: depth + 1])
            return [FieldProblem(where, "must be a JSON object")]
        child: dict[str, Any] = existing if existing is not None else {}
        target[field.json_name] = child
        target = child
    return []


def _parse_problem(error: json_format.ParseError) -> FieldProblem:
    text = str(error)
    names = _FAILED_FIELD.findall(text)
    return FieldProblem(".".join(names), text)
