"""JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) of every message behind the routes.

Everything comes from the descriptors, so the published schema and the protos cannot drift:
- types follow the proto3 JSON mapping: 32-bit integers are `integer` within their range,
  64-bit ones `["string", "integer"]` (a string must be a decimal within the range: see
  `jsonforms.py`), float and double `number` or one of "NaN", "Infinity", "-Infinity", bytes
  base64 strings, enums their value names or declared numbers, Timestamp an RFC 3339
  `date-time`, Duration `"1.5s"`, FieldMask comma-separated lowerCamelCase paths (only those
  of its `mask_paths` rule, if it has one), Struct /
  Value / ListValue any JSON of their shape, wrappers their wrapped value, repeated fields
  arrays, maps objects, and every other message a `$ref` to its own schema;
- property names are the lowerCamelCase JSON names, and unknown properties are refused
  (`additionalProperties: false`), as `json_format` refuses them;
- `google.api.field_behavior`: REQUIRED fields are `required`, OUTPUT_ONLY ones `readOnly`;
- the field rules of `hub.rules` become the keywords they are named after (minLength,
  maxLength, pattern, minimum, maximum, minItems, maxItems, items; `defined_only` narrows an
  enum to its declared values, without it any int32 is allowed, as proto3 enums are open;
  `mask_paths` becomes the `pattern` of the mask's JSON form, `jsonforms.mask_pattern`);
- descriptions are the proto comments (`descriptors.py`).

The schema is deliberately never wider than what the REST layer can turn into a request
and the backends accept for these rules: where the JSON mapping accepts more (int32 as a
string, `null` for a default, snake_case names), the schema documents the canonical form.
Original field names are still accepted as the mapping requires: the request validator
renames them before validating (see `validation.py`).

`Schemas` holds one schema per message under `components/schemas`, keyed by full name
(`hub.user.v1.User`), and per route the schemas of its path and query parameters, body
and response; `request_validator(route)` compiles the validator the REST app runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import google.api.field_behavior_pb2 as field_behavior_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.field_mask_pb2 import FieldMask

from hub.contracts.rules.v1 import rules_pb2
from hub.frontends.rest.descriptors import proto_comments, read_descriptor_set
from hub.frontends.rest.jsonforms import (
    BASE64,
    DESCRIPTIONS,
    FLOAT_WORDS,
    FLOATS,
    INT32,
    INT64,
    INTEGERS,
    LONGS,
    WELL_KNOWN,
    WRAPPERS,
    integer_pattern,
    is_scalar_message,
    mask_description,
    mask_pattern,
)
from hub.frontends.rest.routes import HttpRoute
from hub.frontends.rest.validation import RequestValidator
from hub.rules import behaviors, field_rules

REF_PREFIX = "#/components/schemas/"
FIELD_MASK_TYPE = FieldMask.DESCRIPTOR.full_name


@dataclass(frozen=True)
class Parameter:
    """A path or query parameter of a route: the request field it sets, and its schema."""

    name: str
    """A path variable as its template writes it (`user.id`; the OpenAPI document writes
    `user_id`), a query parameter as the dotted JSON names of its fields (`pageSize`)."""
    location: str  # "path" or "query"
    fields: tuple[FieldDescriptor, ...]
    """From the request message down to the field the value sets."""
    schema: dict[str, Any]
    required: bool
    description: str | None

    @property
    def json_path(self) -> str:
        """The dotted JSON names of the fields (`user.id`, `mindmapId`)."""
        return ".".join(field.json_name for field in self.fields)


class Schemas:
    """The JSON Schemas of the messages that `routes` read and write.

    `comments` are the proto comments by full name (`descriptors.proto_comments`); by
    default those of the descriptor set packaged with `hub.contracts`."""

    def __init__(
        self, routes: Sequence[HttpRoute], *, comments: Mapping[str, str] | None = None
    ) -> None:
        self._comments = comments if comments is not None else proto_comments(read_descriptor_set())
        self._schemas: dict[str, dict[str, Any]] = {}
        self._pattern_descriptions = dict(DESCRIPTIONS)
        """What breaking each pattern of a form means (masks add theirs as they are met)."""
        for route in routes:
            self.message_ref(route.request_descriptor)
            self.message_ref(route.method.output_type)

    def components(self) -> dict[str, dict[str, Any]]:
        """`components/schemas`: one schema per message and enum, by full name, sorted."""
        return dict(sorted(self._schemas.items()))

    def description(self, full_name: str) -> str | None:
        """The proto comment of an element (`hub.user.v1.UserService.GetUser`), if any."""
        return self._comments.get(full_name)

    def request_validator(self, route: HttpRoute) -> RequestValidator:
        """The validator of `route`'s path parameters, query and body, compiled now."""
        return RequestValidator(
            route,
            parameters=self.parameters(route),
            body_schema=self.body_schema(route),
            components=self.components(),
            pattern_descriptions=dict(self._pattern_descriptions),
        )

    def message_ref(self, message: Descriptor) -> dict[str, Any]:
        """The schema of a message-typed value: a `$ref` to the message's component (which
        this adds, with every message it refers to), or a well-known type's own schema."""
        full_name = message.full_name
        if full_name in WELL_KNOWN:
            return dict(WELL_KNOWN[full_name])
        if full_name in WRAPPERS:
            return self._value_schema(message.fields_by_name["value"])
        if full_name not in self._schemas:
            self._schemas[full_name] = {}  # taken, for messages that refer to themselves
            self._schemas[full_name] = self._message_schema(message)
        return {"$ref": REF_PREFIX + full_name}

    def field_schema(self, field: FieldDescriptor) -> dict[str, Any]:
        """The schema of `field`'s JSON value, with its rules (no description)."""
        rules = field_rules(field)
        if _is_map(field):
            entry = _message_of(field)
            schema: dict[str, Any] = {
                "type": "object",
                "additionalProperties": self._value_schema(entry.fields_by_name["value"]),
            }
            keys = self._key_schema(entry.fields_by_name["key"])
            if keys:
                schema["propertyNames"] = keys
            return schema
        if field.is_repeated:
            item_rules = rules.items if rules is not None and rules.HasField("items") else None
            schema = {"type": "array", "items": self._value_schema(field, item_rules)}
            if rules is not None and rules.HasField("min_items"):
                schema["minItems"] = rules.min_items
            if rules is not None and rules.HasField("max_items"):
                schema["maxItems"] = rules.max_items
            return schema
        return self._value_schema(field, rules)

    def parameters(self, route: HttpRoute) -> list[Parameter]:
        """The path parameters of `route`, then its query parameters: with a body other than
        `*`, every field that neither the path nor the body sets, is not output-only, and
        whose JSON value is a scalar or a list of them (nested fields by dotted names)."""
        request = route.request_descriptor
        found: list[Parameter] = []
        bound: set[tuple[str, ...]] = set()
        for variable in route.template.variables:
            fields = _resolve(request, variable.field_path)
            bound.add(variable.field_path)
            found.append(self._parameter(variable.name, "path", fields, required=True))
        if route.body != "*":
            enclosing = frozenset({request.full_name})
            for fields in self._query_fields(request, (), bound, route.body, enclosing):
                name = ".".join(field.json_name for field in fields)
                required = all(_is_required(field) for field in fields)
                found.append(self._parameter(name, "query", fields, required=required))
        return found

    def body_schema(self, route: HttpRoute) -> dict[str, Any] | None:
        """The schema of the request body: the body field's value; for `*` the request
        message without the fields the path sets; None for a route without a body."""
        if not route.body:
            return None
        request = route.request_descriptor
        if route.body != "*":
            field = request.fields_by_name[route.body]
            if route.http_method == "PATCH" and field.message_type is not None:
                # A partial update (transcode.py): every field may be left out.
                self.message_ref(field.message_type)
                partial = self._without(field.message_type, [])
                partial.pop("required", None)
                return partial
            return self.field_schema(field)
        self.message_ref(request)
        paths = [variable.field_path for variable in route.template.variables]
        return self._without(request, paths)

    def response_schema(self, route: HttpRoute) -> dict[str, Any]:
        """The schema of the response body: the `response_body` field, or the message."""
        output = route.method.output_type
        if route.response_body:
            return self.field_schema(output.fields_by_name[route.response_body])
        return self.message_ref(output)

    def _parameter(
        self, name: str, location: str, fields: tuple[FieldDescriptor, ...], *, required: bool
    ) -> Parameter:
        leaf = fields[-1]
        return Parameter(
            name=name,
            location=location,
            fields=fields,
            schema=self.field_schema(leaf),
            required=required,
            description=self.description(leaf.full_name),
        )

    def _query_fields(
        self,
        message: Descriptor,
        prefix: tuple[FieldDescriptor, ...],
        bound: set[tuple[str, ...]],
        body: str,
        enclosing: frozenset[str],
    ) -> list[tuple[FieldDescriptor, ...]]:
        """The query-settable fields under `message`; `enclosing`: the message types on the
        way here, not entered again (a message that contains itself ends the descent)."""
        found: list[tuple[FieldDescriptor, ...]] = []
        for field in message.fields:
            fields = (*prefix, field)
            names = tuple(f.name for f in fields)
            if names in bound or (not prefix and field.name == body) or _is_map(field):
                continue
            if field_behavior_pb2.OUTPUT_ONLY in behaviors(field):
                continue
            nested = field.message_type
            if nested is None or is_scalar_message(nested):
                found.append(fields)
            elif not field.is_repeated and nested.full_name not in enclosing:
                inner = enclosing | {nested.full_name}
                found.extend(self._query_fields(nested, fields, bound, body, inner))
        return found

    def _message_schema(self, message: Descriptor) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in message.fields:
            schema = self.field_schema(field)
            description = self.description(field.full_name)
            if description:
                schema["description"] = description
            if field_behavior_pb2.OUTPUT_ONLY in behaviors(field):
                schema["readOnly"] = True
            properties[field.json_name] = schema
            if _is_required(field):
                required.append(field.json_name)
        result: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            result["required"] = required
        result["additionalProperties"] = False
        exclusive = [
            {"not": {"required": [a.json_name, b.json_name]}}
            for oneof in message.oneofs
            for a, b in itertools.combinations(oneof.fields, 2)
        ]
        if exclusive:
            result["allOf"] = exclusive
        description = self.description(message.full_name)
        if description:
            result["description"] = description
        return result

    def _value_schema(
        self, field: FieldDescriptor, rules: rules_pb2.FieldRules | None = None
    ) -> dict[str, Any]:
        """The schema of one value of `field` (an element, for a repeated field)."""
        kind = field.type
        if field.message_type is not None:
            if field.message_type.full_name == FIELD_MASK_TYPE and rules and rules.mask_paths:
                return self._mask_schema(rules.mask_paths)
            return self.message_ref(field.message_type)
        if field.enum_type is not None:
            return self._enum_value(
                field.enum_type, defined_only=rules is not None and rules.defined_only
            )
        if kind == FieldDescriptor.TYPE_STRING:
            schema: dict[str, Any] = {"type": "string"}
            if rules is not None:
                if rules.HasField("min_len"):
                    schema["minLength"] = rules.min_len
                if rules.HasField("max_len"):
                    schema["maxLength"] = rules.max_len
                if rules.pattern:
                    schema["pattern"] = rules.pattern
                    if rules.pattern_description:
                        described = f"must {rules.pattern_description}"
                        self._pattern_descriptions[rules.pattern] = described
            return schema
        if kind == FieldDescriptor.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64", "pattern": BASE64}
        if kind == FieldDescriptor.TYPE_BOOL:
            return {"type": "boolean"}
        if kind in INTEGERS:
            low, high = _bounds(INTEGERS[kind], rules)
            schema = {"type": "integer", "minimum": low, "maximum": high}
            if INTEGERS[kind] == INT32:
                schema["format"] = "int32"
            return schema
        if kind in LONGS:
            low, high = _bounds(LONGS[kind], rules)
            schema = {"type": ["string", "integer"], "minimum": low, "maximum": high}
            schema["pattern"] = integer_pattern(low, high)
            if LONGS[kind] == INT64:
                schema["format"] = "int64"
            return schema
        name, largest = FLOATS[kind]
        number = {"type": "number", "format": name, "minimum": -largest, "maximum": largest}
        return {"anyOf": [number, {"enum": list(FLOAT_WORDS)}]}

    def _mask_schema(self, paths: Sequence[str]) -> dict[str, Any]:
        """A field mask that may name only `paths` (its `mask_paths` rule)."""
        pattern = mask_pattern(paths)
        self._pattern_descriptions[pattern] = mask_description(paths)
        return {"type": "string", "pattern": pattern}

    def _enum_value(self, enum: EnumDescriptor, *, defined_only: bool) -> dict[str, Any]:
        if enum.full_name == "google.protobuf.NullValue":
            return {"type": "null"}
        if enum.full_name not in self._schemas:
            self._schemas[enum.full_name] = self._enum_schema(enum)
        ref = {"$ref": REF_PREFIX + enum.full_name}
        if defined_only:
            return ref
        low, high = INT32
        return {"anyOf": [ref, {"type": "integer", "minimum": low, "maximum": high}]}

    def _enum_schema(self, enum: EnumDescriptor) -> dict[str, Any]:
        values = list(enum.values)
        schema: dict[str, Any] = {
            "type": ["string", "integer"],
            "enum": [value.name for value in values] + [value.number for value in values],
        }
        lines = [self.description(enum.full_name) or ""]
        for value in values:
            said = self.description(f"{enum.full_name}.{value.name}")
            lines.append(f"- `{value.name}` ({value.number})" + (f": {said}" if said else ""))
        schema["description"] = "\n".join(lines).strip()
        return schema

    def _key_schema(self, key: FieldDescriptor) -> dict[str, Any]:
        """Map keys are JSON property names: strings that parse as the key type."""
        if key.type == FieldDescriptor.TYPE_BOOL:
            return {"enum": ["true", "false"]}
        ranges = INTEGERS | LONGS
        if key.type in ranges:
            return {"pattern": integer_pattern(*ranges[key.type])}
        return {}

    def _without(self, message: Descriptor, paths: list[tuple[str, ...]]) -> dict[str, Any]:
        """The schema of `message` inline, less the fields at `paths` (set by the URL)."""
        component = self._schemas[message.full_name]
        properties = dict(component["properties"])
        required = list(component.get("required", []))
        for first, group in itertools.groupby(sorted(paths), key=lambda path: path[0]):
            field = message.fields_by_name[first]
            rests = [path[1:] for path in group]
            if all(rests):
                inner = self._without(_message_of(field), rests)
                annotations = {k: v for k, v in properties[field.json_name].items() if k != "$ref"}
                properties[field.json_name] = {**inner, **annotations}
            else:
                del properties[field.json_name]
                required = [name for name in required if name != field.json_name]
        schema = {**component, "properties": properties}
        schema.pop("required", None)
        if required:
            schema["required"] = required
        return schema


def _bounds(limits: tuple[int, int], rules: rules_pb2.FieldRules | None) -> tuple[int, int]:
    low, high = limits
    if rules is not None and rules.HasField("gte"):
        low = max(low, rules.gte)
    if rules is not None and rules.HasField("lte"):
        high = min(high, rules.lte)
    return low, high


def _is_required(field: FieldDescriptor) -> bool:
    return field_behavior_pb2.REQUIRED in behaviors(field)


def _is_map(field: FieldDescriptor) -> bool:
    message = field.message_type
    return message is not None and bool(message.GetOptions().map_entry)


def _resolve(message: Descriptor, path: tuple[str, ...]) -> tuple[FieldDescriptor, ...]:
    """The fields along a dotted path (routes.py checked at start-up that it exists)."""
    fields = [message.fields_by_name[path[0]]]
    for name in path[1:]:
        fields.append(_message_of(fields[-1]).fields_by_name[name])
    return tuple(fields)


def _message_of(field: FieldDescriptor) -> Descriptor:
    """The message type of a field known to have one (a map, a nested path)."""
    if field.message_type is None:
        raise TypeError(f"{field.full_name} is not a message field")
    return field.message_type
