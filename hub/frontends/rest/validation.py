r"""Validation of one route's HTTP input against the JSON Schema that the OpenAPI document
publishes for it, before anything is transcoded.

A `RequestValidator` is compiled once per route. It validates one document, `{"path": ...,
"query": ..., "body": ...}`, against one schema holding the route's parameter and body
schemas, and reports every violation as a `FieldProblem` named by its JSON path in the
request message (`user.email`, `ids[3]`, `pageSize`), at most one per field, described
without echoing the value.

Two engines read the same schema. `jsonschema_rs` (compiled, about 0.5 us for a GET's path
parameter, 1 us for a small body) answers whether the request is valid; only a request it
refuses goes to `jsonschema` (pure Python, 30-150 us), whose errors are reported.
`jsonschema_rs` runs `pattern` with ECMA 262 semantics, `jsonschema` with Python's
`re.search`, like `hub.rules` in the backends; the two read every pattern of the schema
alike, because the patterns keep to the subset where they agree: `hub.rules` refuses the
class escapes they read differently (`\s`, `\d`, `\w`, `\b`; rules.proto spells white
space out instead, and tests/test_rules.py compares both engines on every contract pattern)
and the forms of `jsonforms.py` end with a `$` that cannot match before a final newline.

Two steps come first, because HTTP and the proto3 JSON mapping are looser than JSON Schema:
- path and query values arrive as text; each is read as the JSON value its schema expects
  (`25` or `25.0` as a number where the schema admits numbers, `true`/`false` as booleans),
  and is otherwise kept as text, for the schema to refuse;
- the JSON mapping accepts a field's original name (`display_name`) as well as its
  lowerCamelCase JSON name (`displayName`), while the published schema names only the
  latter and forbids unknown properties. The body is therefore validated as a copy in which
  original names are renamed to JSON names along the message descriptors, and a field given
  under both names is a problem of its own. The document stays simple (one name per field)
  and every spelling `json_format` takes keeps working.
Query parameters that the schema does not know, or that name a field twice, are left for
`transcode.build_request` to report. Formats are not asserted except `date-time`, which
is checked the way `json_format` parses a Timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jsonschema
import jsonschema_rs
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from hub.frontends.rest.routes import HttpRoute
from hub.frontends.rpc_error import FieldProblem

if TYPE_CHECKING:
    from hub.frontends.rest.schema import Parameter

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_BOOLEANS = {"true": True, "false": False}
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a JSON array",
    "null": "null",
}


class RequestValidator:
    """Checks the path parameters, query and JSON body of requests to one route."""

    def __init__(
        self,
        route: HttpRoute,
        *,
        parameters: Sequence[Parameter],
        body_schema: dict[str, Any] | None,
        components: Mapping[str, Any],
        pattern_descriptions: Mapping[str, str],
    ) -> None:
        self._components = components
        self._pattern_descriptions = pattern_descriptions
        self._by_key: dict[str, dict[str, FieldDescriptor]] = {}
        self._path = {p.name: p for p in parameters if p.location == "path"}
        self._query = {
            spelling: p
            for p in parameters
            if p.location == "query"
            for spelling in _spellings(p.fields)
        }
        self._query_types = {
            name: _json_types(
                p.schema.get("items", p.schema) if _is_array(p) else p.schema, components
            )
            for name, p in self._query.items()
        }
        self._path_types = {
            name: _json_types(p.schema, components) for name, p in self._path.items()
        }
        self._body_field = route.request_descriptor.fields_by_name.get(route.body)
        self._body_message = route.request_descriptor if route.body == "*" else None
        self._body_prefix = self._body_field.json_name if self._body_field is not None else ""
        properties: dict[str, Any] = {
            "path": _object_of({p.name: p.schema for p in self._path.values()}, []),
            "query": _object_of(
                {p.name: p.schema for p in parameters if p.location == "query"},
                [p.name for p in parameters if p.location == "query" and p.required],
            ),
        }
        if body_schema is not None:
            properties["body"] = body_schema
        schema: dict[str, Any] = {
            "components": {"schemas": dict(components)},
            "type": "object",
            "properties": properties,
        }
        if route.body:  # the app refuses a request without the body its route takes
            schema["required"] = ["body"]
        self._fast = jsonschema_rs.Draft202012Validator(
            schema, validate_formats=True, formats={"date-time": _is_timestamp}
        )
        self._full = jsonschema.Draft202012Validator(schema, format_checker=_formats())

    def validate(
        self, path_params: Mapping[str, str], query: Sequence[tuple[str, str]], body: Any | None
    ) -> list[FieldProblem]:
        """Every schema violation of the request, at most one per field. `path_params` come
        from `PathTemplate.match`, `query` in order as sent, `body` is the parsed JSON (None
        when the request has none)."""
        found: dict[str, str] = {}
        document: dict[str, Any] = {
            "path": {
                name: _read(text, self._path_types[name])
                for name, text in path_params.items()
                if name in self._path
            },
            "query": self._read_query(query),
        }
        if body is not None:
            document["body"] = self._normalised_body(body, found)
        if not found and self._fast.is_valid(document):
            return []
        for error in self._full.iter_errors(document):
            for parts, description in _describe(error, self._pattern_descriptions):
                found.setdefault(self._field_name(parts), description)
        return [FieldProblem(field, description) for field, description in found.items()]

    def _read_query(self, query: Sequence[tuple[str, str]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, text in query:
            parameter = self._query.get(key)
            if parameter is None:
                continue
            value = _read(text, self._query_types[key])
            if _is_array(parameter):
                values.setdefault(parameter.name, []).append(value)
            else:
                values.setdefault(parameter.name, value)
        return values

    def _normalised_body(self, body: Any, found: dict[str, str]) -> Any:
        if self._body_message is not None:
            return self._normalised_message(body, self._body_message, "", found)
        if self._body_field is not None:
            return self._normalised_field(body, self._body_field, self._body_prefix, found)
        return body

    def _normalised_message(
        self, value: Any, message: Descriptor, path: str, found: dict[str, str]
    ) -> Any:
        if not isinstance(value, dict):
            return value
        renamed: dict[str, Any] = {}
        for key, item in value.items():
            field = self._fields_by_key(message).get(key)
            if field is None:
                renamed[key] = item
                continue
            name = field.json_name
            where = f"{path}.{name}" if path else name
            if name in renamed:
                found.setdefault(where, f"is given twice, as {field.name} and {name}")
                continue
            renamed[name] = self._normalised_field(item, field, where, found)
        return renamed

    def _normalised_field(
        self, value: Any, field: FieldDescriptor, path: str, found: dict[str, str]
    ) -> Any:
        message = field.message_type
        if message is None:
            return value
        if message.GetOptions().map_entry:
            values = message.fields_by_name["value"].message_type
            if not isinstance(value, dict) or values is None or not self._is_plain(values):
                return value
            return {
                key: self._normalised_message(item, values, f"{path}.{key}", found)
                for key, item in value.items()
            }
        if not self._is_plain(message):
            return value
        if field.is_repeated:
            if not isinstance(value, list):
                return value
            return [
                self._normalised_message(item, message, f"{path}[{index}]", found)
                for index, item in enumerate(value)
            ]
        return self._normalised_message(value, message, path, found)

    def _is_plain(self, message: Descriptor | None) -> bool:
        """A message with a JSON object of fields (not a well-known type's own form)."""
        return message is not None and message.full_name in self._components

    def _field_name(self, parts: Sequence[str | int]) -> str:
        """The JSON path in the request message of a place in the validated document."""
        location, rest = parts[0], parts[1:]
        if location == "body":
            return _join(self._body_prefix, rest)
        name = str(rest[0])
        head = self._path[name].json_path if location == "path" else name
        return _join(head, rest[1:])

    def _fields_by_key(self, message: Descriptor) -> dict[str, FieldDescriptor]:
        """The fields of `message` by JSON name and by original name."""
        fields = self._by_key.get(message.full_name)
        if fields is None:
            fields = {f.name: f for f in message.fields} | {f.json_name: f for f in message.fields}
            self._by_key[message.full_name] = fields
        return fields


def _join(head: str, rest: Iterable[str | int]) -> str:
    text = head
    for part in rest:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else part
    return text


def _describe(
    error: jsonschema.ValidationError, patterns: Mapping[str, str]
) -> list[tuple[list[str | int], str]]:
    """What one error says, as (path, description) pairs; `required` and
    `additionalProperties` name the properties themselves. `patterns`: what breaking a
    pattern means, by pattern, where the expression itself says it poorly."""
    path: list[str | int] = list(error.absolute_path)
    keyword, value, instance = error.validator, error.validator_value, error.instance
    if keyword == "required" and isinstance(value, list) and isinstance(instance, dict):
        return [([*path, name], "is required") for name in value if name not in instance]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = _schema_of(error).get("properties", {})
        return [([*path, name], "is not a known field") for name in instance if name not in known]
    return [(path, _description(error, patterns))]


def _schema_of(error: jsonschema.ValidationError) -> Mapping[str, Any]:
    return error.schema if isinstance(error.schema, Mapping) else {}


def _description(error: jsonschema.ValidationError, patterns: Mapping[str, str]) -> str:
    keyword, schema = error.validator, _schema_of(error)
    value: Any = error.validator_value
    if keyword == "type":
        kinds = [value] if isinstance(value, str) else value
        return "must be " + " or ".join(_TYPE_WORDS[str(kind)] for kind in kinds)
    if keyword == "minLength":
        return f"must have at least {_plural(value, 'character')}"
    if keyword == "maxLength":
        return f"must have at most {_plural(value, 'character')}"
    if keyword == "minItems":
        return f"must have at least {_plural(value, 'item')}"
    if keyword == "maxItems":
        return f"must have at most {_plural(value, 'item')}"
    if keyword == "pattern" and "minimum" in schema:
        return f"must be an integer from {schema['minimum']} to {schema['maximum']}"
    if keyword == "pattern":
        return patterns.get(value, f"must match the regular expression {value}")
    if keyword == "minimum":
        return f"must be at least {value}"
    if keyword == "maximum":
        return f"must be at most {value}"
    if keyword == "enum":
        return "must be one of " + ", ".join(str(v) for v in value if isinstance(v, str))
    if keyword == "format":
        return "must be an RFC 3339 date-time, such as 2024-05-01T12:00:00Z"
    if keyword == "anyOf":
        causes = error.context or []
        return " or ".join(dict.fromkeys(_description(sub, patterns) for sub in causes))
    if keyword == "not" and isinstance(value, dict) and "required" in value:
        return "cannot be set together with " + " or ".join(value["required"][:-1])
    return "is not allowed here"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _object_of(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _is_array(parameter: Parameter) -> bool:
    return parameter.schema.get("type") == "array"


def _spellings(fields: Sequence[FieldDescriptor]) -> list[str]:
    """Every way to write a dotted field path: each part by its name or its JSON name."""
    spellings = [""]
    for field in fields:
        names = dict.fromkeys((field.json_name, field.name))
        spellings = [f"{s}.{n}" if s else n for s in spellings for n in names]
    return spellings


def _json_types(schema: Mapping[str, Any], components: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a schema admits (following `$ref` and `anyOf`)."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _json_types(components[ref.rsplit("/", 1)[1]], components)
    found: set[str] = set()
    kinds = schema.get("type")
    if isinstance(kinds, str):
        found.add(kinds)
    elif isinstance(kinds, list):
        found.update(kinds)
    for branch in schema.get("anyOf", []):
        found |= _json_types(branch, components)
    for item in schema.get("enum", []):
        found.add("string" if isinstance(item, str) else "number")
    return frozenset(found)


def _read(text: str, types: frozenset[str]) -> Any:
    """A path or query value as the JSON value its schema expects, else the text itself."""
    if types & {"integer", "number"} and _NUMBER.match(text):
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:  # more digits than int() reads: leave it to the schema
            return text
    if "boolean" in types and text in _BOOLEANS:
        return _BOOLEANS[text]
    return text


def _formats() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_is_timestamp)
    return checker


def _is_timestamp(value: object) -> bool:
    """RFC 3339 as `json_format` reads a Timestamp (upper-case T and Z, years 1-9999)."""
    if not isinstance(value, str):
        return True  # not a string: the `type` keyword says so
    try:
        Timestamp().FromJsonString(value)
    except ValueError:
        return False
    return True
