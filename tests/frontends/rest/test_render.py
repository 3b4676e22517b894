"""The compiled renderer writes exactly what json_format writes, for every kind of field.

Random messages of `testdata/kinds.proto` (one field of each kind the proto3 JSON mapping
treats apart, well-known types included) and of every message the hub's routes answer are
rendered both ways and compared.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from hub.frontends.rest.render import JsonRenderer
from tests.frontends.rest.conftest import hub_routes

KINDS = "hubtest.kinds.v1.Kinds"
SEEDS = range(150)

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOATS = [0.0, -0.0, 1.5, -2.25, 0.1, 1 / 3, 1e10, 3.4e38, *map(float, ["inf", "-inf", "nan"])]
_STRINGS = ["", "plain", "héllo wörld", 'quote " and \\ slash', "emoji 🎉"]


def _scalar(field: FieldDescriptor, rng: random.Random) -> Any:
    kind = field.type
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        return rng.choice([0, low, high, rng.randint(low, high)])
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rng.choice(_FLOATS)
    if kind == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if kind == FieldDescriptor.TYPE_STRING:
        return rng.choice(_STRINGS)
    if kind == FieldDescriptor.TYPE_BYTES:
        return rng.choice([b"", b"\x00\xff", b"bytes", bytes(range(7))])
    enum = field.enum_type
    assert enum is not None
    numbers = [value.number for value in enum.values]
    return rng.choice([*numbers, 7])  # 7: a number no enum here declares


def _fill_well_known(message: Message, descriptor: Descriptor, rng: random.Random) -> bool:
    """Sets a well-known type to a random value; False if `message` is not one."""
    name = descriptor.full_name
    if name == "google.protobuf.Timestamp":
        message.FromSeconds(rng.randint(0, 2**33))  # type: ignore[attr-defined]
        message.nanos = rng.choice([0, 1000, 123456789])  # type: ignore[attr-defined]
    elif name == "google.protobuf.Duration":
        message.FromNanoseconds(rng.randint(-(10**12), 10**12))  # type: ignore[attr-defined]
    elif name == "google.protobuf.FieldMask":
        message.paths.extend(rng.sample(["a", "b_c", "d.e_f"], 2))  # type: ignore[attr-defined]
    elif name == "google.protobuf.Struct":
        message.update({"n": 1.5, "s": "x", "z": None, "l": [True, "y"]})  # type: ignore[attr-defined]
    elif name == "google.protobuf.Value":
        message.string_value = rng.choice(_STRINGS)  # type: ignore[attr-defined]
    elif name == "google.protobuf.ListValue":
        message.extend([1.0, "two", False])  # type: ignore[attr-defined]
    elif name == "google.protobuf.Any":
        message.Pack(Timestamp(seconds=rng.randint(0, 2**31)))  # type: ignore[attr-defined]
    elif name == "google.protobuf.Empty":
        pass
    elif name.startswith("google.protobuf.") and name.endswith("Value"):
        value = _scalar(descriptor.fields_by_name["value"], rng)
        message.value = value  # type: ignore[attr-defined]
    else:
        return False
    return True


def _fill(message: Message, descriptor: Descriptor, rng: random.Random, depth: int) -> None:
    if _fill_well_known(message, descriptor, rng):
        return
    chosen_oneofs: set[str] = set()
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if rng.random() < 0.35 or (oneof is not None and oneof.name in chosen_oneofs):
            continue
        if oneof is not None:
            chosen_oneofs.add(oneof.name)
        container = getattr(message, field.name)
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
            for _ in range(rng.randint(0, 3)):
                key = _scalar(key_field, rng)
                if value_field.message_type is None:
                    container[key] = _scalar(value_field, rng)
                elif depth > 0:
                    _fill(container[key], value_field.message_type, rng, depth - 1)
        elif field.is_repeated:
            for _ in range(rng.randint(0, 3)):
                if field.message_type is None:
                    container.append(_scalar(field, rng))
                elif depth > 0:
                    _fill(container.add(), field.message_type, rng, depth - 1)
        elif field.message_type is not None:
            if depth > 0:
                container.SetInParent()
                _fill(container, field.message_type, rng, depth - 1)
        else:
            setattr(message, field.name, _scalar(field, rng))


def _random(descriptor: Descriptor, seed: int) -> Message:
    message = message_factory.GetMessageClass(descriptor)()
    _fill(message, descriptor, random.Random(seed), depth=2)
    return message


def _reference(message: Message) -> Any:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_kind_of_field(testdata_pool: descriptor_pool.DescriptorPool, seed: int) -> None:
    """A random message with fields of every kind renders as json_format renders it."""
    descriptor = testdata_pool.FindMessageTypeByName(KINDS)
    message = _random(descriptor, seed)

    assert _reference(message) == JsonRenderer().message(descriptor)(message)


def test_every_message_the_routes_answer() -> None:
    """The response types of the hub's routes, randomly filled, render as json_format's."""
    renderer = JsonRenderer()
    outputs = {
        route.method.output_type.full_name: route.method.output_type for route in hub_routes()
    }
    mismatched = [
        (name, seed)
        for name, descriptor in sorted(outputs.items())
        for seed in range(20)
        if _reference(message := _random(descriptor, seed)) != renderer.message(descriptor)(message)
    ]

    assert [] == mismatched


def test_unset_fields_and_key_order(testdata_pool: descriptor_pool.DescriptorPool) -> None:
    """Fields without presence appear with their defaults, in declaration order; unset
    fields with presence do not appear."""
    descriptor = testdata_pool.FindMessageTypeByName(KINDS)
    message = message_factory.GetMessageClass(descriptor)()

    rendered = JsonRenderer().message(descriptor)(message)

    assert [field.json_name for field in descriptor.fields if not field.has_presence] == list(
        rendered
    )
    assert ("0", 0.0, "COLOR_UNSPECIFIED", None, [], {}) == (
        rendered["anInt64"],
        rendered["aDouble"],
        rendered["aColor"],
        rendered["aNull"],
        rendered["int64s"],
        rendered["counts"],
    )


def test_repeated_and_scalar_fields_by_themselves(
    testdata_pool: descriptor_pool.DescriptorPool,
) -> None:
    """`field()` converts a field's whole value, for a response_body that names it."""
    descriptor = testdata_pool.FindMessageTypeByName(KINDS)
    message = message_factory.GetMessageClass(descriptor)(int64s=[1, -2], a_string="s")
    renderer = JsonRenderer()

    int64s = renderer.field(descriptor.fields_by_name["int64s"])
    text = renderer.field(descriptor.fields_by_name["a_string"])

    assert int64s is not None
    assert (["1", "-2"], None) == (int64s(message.int64s), text)  # type: ignore[attr-defined]
