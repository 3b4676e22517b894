"""Messages to their proto3 JSON form, with the work per message type done once.

`json_format.MessageToDict` works out, for every field of every message it renders, what
kind of field it is and how to write its value; on the REST hot path that walk cost more
than the rest of the app's own work together. `JsonRenderer` does it once per message type
(at start-up, for the types the routes answer) and keeps, per field, its JSON name,
whether it has presence, and a converter for its value.

The result equals `MessageToDict(message, always_print_fields_with_no_presence=True)`:
lowerCamelCase names; a field with presence (message, `optional`, oneof member) only when
set, every other field always, with its default when unset; 64-bit integers as strings;
enums by name (by number when the number is not declared); float and double infinities and
NaN as "Infinity", "-Infinity", "NaN", floats written as their shortest form; bytes as
base64; maps as objects. The well-known types with a JSON form of their own (Timestamp,
Duration, FieldMask, Struct, Value, ListValue, Any, the wrappers) are written by
json_format itself. Keys come in declaration order.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.internal import type_checkers
from google.protobuf.message import Message

Convert = Callable[[Any], Any]

_LONGS = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_AS_STRING = frozenset(
    {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
)
_BY_JSON_FORMAT = frozenset(
    {
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
        "google.protobuf.Any",
        *(
            f"google.protobuf.{kind}Value"
            for kind in (
                *("Double", "Float", "Int64", "UInt64", "Int32", "UInt32"),
                *("Bool", "String", "Bytes"),
            )
        ),
    }
)


class JsonRenderer:
    """Compiles and keeps one renderer per message type it is asked for."""

    def __init__(self) -> None:
        self._messages: dict[str, Convert] = {}

    def message(self, message: Descriptor) -> Convert:
        """Renders a message of type `message` (a dict, or a well-known type's JSON value)."""
        full_name = message.full_name
        if full_name in _AS_STRING:
            return _to_json_string
        if full_name in _BY_JSON_FORMAT:
            return _by_json_format
        compiled = self._messages.get(full_name)
        if compiled is None:
            plan: list[tuple[str, str, bool, Convert | None]] = []

            def render(value: Message) -> dict[str, Any]:
                rendered: dict[str, Any] = {}
                for json_name, name, presence, convert in plan:
                    if presence and not value.HasField(name):
                        continue
                    item = getattr(value, name)
                    rendered[json_name] = item if convert is None else convert(item)
                return rendered

            # Registered before its fields are compiled: a message may contain itself.
            self._messages[full_name] = compiled = render
            plan.extend(
                (field.json_name, field.name, bool(field.has_presence), self.field(field))
                for field in message.fields
            )
        return compiled

    def field(self, field: FieldDescriptor) -> Convert | None:
        """Converts the value of `field` as its message holds it (a repeated field's whole
        container, a map's whole mapping); None where the value is its own JSON form."""
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            key = _map_key(entry.fields_by_name["key"])
            value = self._value(entry.fields_by_name["value"])
            if value is None:
                return lambda mapping: {key(k): v for k, v in mapping.items()}
            return lambda mapping: {key(k): value(v) for k, v in mapping.items()}
        item = self._value(field)
        if field.is_repeated:
            if item is None:
                return list
            return lambda values: [item(v) for v in values]
        return item

    def _value(self, field: FieldDescriptor) -> Convert | None:
        """Converts one value of `field`; None where it is its own JSON form."""
        if field.message_type is not None:
            return self.message(field.message_type)
        if field.enum_type is not None:
            return _enum(field.enum_type)
        kind = field.type
        if kind in _LONGS:
            return str
        if kind == FieldDescriptor.TYPE_FLOAT:
            return _float
        if kind == FieldDescriptor.TYPE_DOUBLE:
            return _double
        if kind == FieldDescriptor.TYPE_BYTES:
            return _base64
        return None


def _to_json_string(value: Any) -> str:
    text: str = value.ToJsonString()
    return text


def _by_json_format(value: Message) -> Any:
    return json_format.MessageToDict(value, always_print_fields_with_no_presence=True)


def _enum(enum: EnumDescriptor) -> Convert:
    if enum.full_name == "google.protobuf.NullValue":
        return lambda _: None
    names = {value.number: value.name for value in enum.values}
    return lambda number: names.get(number, number)


def _map_key(key: FieldDescriptor) -> Convert:
    if key.type == FieldDescriptor.TYPE_BOOL:
        return lambda flag: "true" if flag else "false"
    return str


def _double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _float(value: float) -> float | str:
    if math.isfinite(value):
        shortest: float = type_checkers.ToShortestFloat(value)
        return shortest
    return _double(value)


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode()
