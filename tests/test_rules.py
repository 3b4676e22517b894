"""Field rules (hub/rules.py): each rule kind at its boundaries, defaults read as absent,
required paths, nested and repeated fields, and agreement with JSON Schema.

Most tables run against `Probe`, a test-only message compiled from `PROBE_PROTO` with
protoc into a fresh descriptor pool, so that every kind of rule is covered whatever the
numbers in the real contracts; the contracts themselves are checked for rules that do not
fit their fields, for patterns that Python and ECMA 262 (jsonschema_rs) read alike, with
white space spelled out as exactly the characters of `str.isspace()`, and for update masks
that list fields of their resource.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.api.field_behavior_pb2 as field_behavior_pb2
import grpc_tools
import jsonschema
import jsonschema_rs
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FileDescriptor
from google.protobuf.message import Message
from grpc_tools import protoc

from hub import rules
from hub.codegen import PROTO_ROOT, THIRD_PARTY_ROOT
from hub.contracts.events.v1 import events_pb2
from hub.contracts.mindmap.v1 import mindmap_pb2
from hub.contracts.rules.v1 import rules_pb2
from hub.contracts.user.v1 import user_pb2

REPO = Path(__file__).resolve().parents[1]

PROBE_PROTO = r"""
syntax = "proto3";

package hub.test.probe;

import "google/api/field_behavior.proto";
import "google/protobuf/field_mask.proto";
import "hub/rules/v1/rules.proto";

enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_RED = 1;
  COLOR_BLUE = 2;
}

message Probe {
  string text = 1 [(hub.rules.v1.field) = {min_len: 2, max_len: 4}];
  string anchored = 2 [(hub.rules.v1.field).pattern = "^[a-z]+$"];
  string unanchored = 3 [(hub.rules.v1.field).pattern = "b"];
  int32 small = 4 [(hub.rules.v1.field) = {gte: -1, lte: 3}];
  uint32 positive = 5 [(hub.rules.v1.field).gte = 1];
  Color color = 6 [(hub.rules.v1.field).defined_only = true];
  Color open_color = 7;
  repeated string tags = 8 [(hub.rules.v1.field) = {
    min_items: 1
    max_items: 3
    items: {min_len: 1, max_len: 2}
  }];
  optional int32 position = 9 [(hub.rules.v1.field).gte = 1];
  Inner inner = 10;
  repeated Inner inners = 11 [(hub.rules.v1.field).max_items = 2];
  string id = 12 [
    (google.api.field_behavior) = OUTPUT_ONLY,
    (hub.rules.v1.field) = {min_len: 1, max_len: 3}
  ];
  string plain = 13;
  repeated Color colors = 14 [(hub.rules.v1.field).items.defined_only = true];
  map<string, Inner> by_name = 15;
  sint64 wide = 16 [(hub.rules.v1.field) = {gte: -9223372036854775808, lte: 9}];
  google.protobuf.FieldMask mask = 17 [(hub.rules.v1.field) = {
    mask_paths: ["name", "inner.next_name"]
  }];
  repeated google.protobuf.FieldMask masks = 18 [(hub.rules.v1.field).items.mask_paths = "name"];
  google.protobuf.FieldMask free_mask = 19;
  string escaped = 20 [(hub.rules.v1.field).pattern = "^\\\\s$"];
}

message Inner {
  string name = 1 [(hub.rules.v1.field) = {min_len: 1, max_len: 3}];
  Inner next = 2;
}

message LengthOfAnInteger { int32 n = 1 [(hub.rules.v1.field).min_len = 1]; }
message BoundOfAString { string s = 1 [(hub.rules.v1.field).gte = 1]; }
message DeclaredString { string s = 1 [(hub.rules.v1.field).defined_only = true]; }
message ItemsOfASingular { string s = 1 [(hub.rules.v1.field).items.max_len = 1]; }
message CountOfASingular { string s = 1 [(hub.rules.v1.field).max_items = 1]; }
message LengthOfAList { repeated string s = 1 [(hub.rules.v1.field).max_len = 1]; }
message LengthOfMessages { repeated Inner i = 1 [(hub.rules.v1.field).items.min_len = 1]; }
message RulesOfAMessage { Inner i = 1 [(hub.rules.v1.field).min_len = 1]; }
message RulesOfAMap { map<string, string> m = 1 [(hub.rules.v1.field).max_items = 1]; }
message BrokenPattern { string s = 1 [(hub.rules.v1.field).pattern = "("]; }
message NotSpace { string s = 1 [(hub.rules.v1.field).pattern = "\\S"]; }
message Space { string s = 1 [(hub.rules.v1.field).pattern = "^[a\\s]+$"]; }
message Digit { string s = 1 [(hub.rules.v1.field).pattern = "\\\\\\d"]; }
message Word { string s = 1 [(hub.rules.v1.field).pattern = "\\w"]; }
message Boundary { string s = 1 [(hub.rules.v1.field).pattern = "\\bx"]; }
message MaskOfAString { string s = 1 [(hub.rules.v1.field).mask_paths = "s"]; }
message MaskOfAMessage { Inner i = 1 [(hub.rules.v1.field).mask_paths = "name"]; }
message UpperMaskPath {
  google.protobuf.FieldMask m = 1 [(hub.rules.v1.field).mask_paths = "Name"];
}
message ListMaskPath { google.protobuf.FieldMask m = 1 [(hub.rules.v1.field).mask_paths = "a,b"]; }
message StarMaskPath { google.protobuf.FieldMask m = 1 [(hub.rules.v1.field).mask_paths = "*"]; }
message DigitMaskPath { google.protobuf.FieldMask m = 1 [(hub.rules.v1.field).mask_paths = "a_1"]; }
"""

MISFITS = {
    "LengthOfAnInteger": "hub.test.probe.LengthOfAnInteger.n: rules min_len do not fit",
    "BoundOfAString": "hub.test.probe.BoundOfAString.s: rules gte do not fit",
    "DeclaredString": "hub.test.probe.DeclaredString.s: rules defined_only do not fit",
    "ItemsOfASingular": "hub.test.probe.ItemsOfASingular.s: rules items do not fit",
    "CountOfASingular": "hub.test.probe.CountOfASingular.s: rules max_items do not fit",
    "LengthOfAList": "hub.test.probe.LengthOfAList.s: rules max_len do not fit",
    "LengthOfMessages": "hub.test.probe.LengthOfMessages.i: rules min_len do not fit",
    "RulesOfAMessage": "hub.test.probe.RulesOfAMessage.i: rules min_len do not fit",
    "RulesOfAMap": "hub.test.probe.RulesOfAMap.m: rules do not fit a map field",
    "BrokenPattern": "hub.test.probe.BrokenPattern.s: pattern does not compile",
    "NotSpace": "hub.test.probe.NotSpace.s: pattern uses \\S, which Python and ECMA 262 read "
    "differently",
    "Space": "hub.test.probe.Space.s: pattern uses \\s",
    "Digit": "hub.test.probe.Digit.s: pattern uses \\d",
    "Word": "hub.test.probe.Word.s: pattern uses \\w",
    "Boundary": "hub.test.probe.Boundary.s: pattern uses \\b",
    "MaskOfAString": "hub.test.probe.MaskOfAString.s: rules mask_paths do not fit",
    "MaskOfAMessage": "hub.test.probe.MaskOfAMessage.i: rules mask_paths do not fit",
    "UpperMaskPath": "hub.test.probe.UpperMaskPath.m: mask path 'Name' is not a field path",
    "ListMaskPath": "hub.test.probe.ListMaskPath.m: mask path 'a,b' is not a field path",
    "StarMaskPath": "hub.test.probe.StarMaskPath.m: mask path '*' is not a field path",
    "DigitMaskPath": "hub.test.probe.DigitMaskPath.m: mask path 'a_1' is not a field path",
}


@pytest.fixture(scope="module")
def probe_pool(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pool.DescriptorPool:
    """A descriptor pool of PROBE_PROTO and its imports, compiled by protoc."""
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe.proto").write_text(PROBE_PROTO)
    descriptor_set = folder / "probe.binpb"
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{folder}",
            f"-I{REPO / PROTO_ROOT}",
            f"-I{REPO / THIRD_PARTY_ROOT}",
            f"-I{well_known}",
            "--include_imports",
            f"--descriptor_set_out={descriptor_set}",
            str(folder / "probe.proto"),
        ]
    )
    assert 0 == status
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return pool


def message_class(pool: descriptor_pool.DescriptorPool, name: str) -> type[Message]:
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"hub.test.probe.{name}"))


@pytest.fixture(scope="module")
def probe(probe_pool: descriptor_pool.DescriptorPool) -> type[Message]:
    """The Probe message class."""
    return message_class(probe_pool, "Probe")


@pytest.fixture(scope="module")
def inner(probe_pool: descriptor_pool.DescriptorPool) -> type[Message]:
    """The Inner message class (fields of Probe: inner, inners, by_name)."""
    return message_class(probe_pool, "Inner")


def violations(
    message: Message, required: Sequence[str] = (), prefix: str = ""
) -> list[tuple[str, str]]:
    return [
        (v.field, v.description) for v in rules.check(message, prefix=prefix, required=required)
    ]


@dataclass(frozen=True)
class Case:
    """A Probe built from `fields` (as keyword arguments), checked with `required`."""

    name: str
    fields: Mapping[str, Any]
    expected: list[tuple[str, str]]
    required: tuple[str, ...] = ()


def ok(name: str, required: tuple[str, ...] = (), **fields: Any) -> Case:
    return Case(name, fields, [], required)


def bad(name: str, expected: list[tuple[str, str]], *required: str, **fields: Any) -> Case:
    return Case(name, fields, expected, required)


REQUIRED = "is required"
MASK_RULE = "may name only the paths name, inner.next_name, or * alone"

# fmt: off
CASES = [
    # min_len / max_len count code points of the value as sent
    ok("text of min_len", text="ab"),
    ok("text of max_len", text="abcd"),
    bad("text under min_len", [("text", "must have at least 2 characters")], text="a"),
    bad("text over max_len", [("text", "must have at most 4 characters")], text="abcde"),
    ok("emoji are one code point each", text="😀😀😀😀"),
    bad("five emoji", [("text", "must have at most 4 characters")], text="😀" * 5),
    bad("a combining accent is a code point", [("text", "must have at most 4 characters")],
        text="cafe\u0301"),
    bad("white space counts: no stripping before the check",
        [("text", "must have at most 4 characters")], text=" abcd "),
    # pattern is re.search: anchored only if it anchors itself
    ok("anchored pattern matched", anchored="abc"),
    bad("anchored pattern broken at the end", [("anchored", "must match the regular expression "
                                                "^[a-z]+$")], anchored="abc1"),
    ok("unanchored pattern found inside", unanchored="xbx"),
    bad("unanchored pattern nowhere", [("unanchored", "must match the regular expression b")],
        unanchored="xyz"),
    # gte / lte are inclusive
    ok("lowest bound", small=-1),
    ok("highest bound", small=3),
    bad("under gte", [("small", "must be at least -1")], small=-2),
    bad("over lte", [("small", "must be at most 3")], small=4),
    ok("unsigned at gte", positive=1),
    ok("64 bits at gte", wide=-(2**63)),
    ok("64 bits at lte", wide=9),
    bad("64 bits over lte", [("wide", "must be at most 9")], wide=10),
    # defined_only
    ok("declared enum value", color=2),
    bad("undeclared enum value", [("color", "must be one of COLOR_UNSPECIFIED, COLOR_RED, "
                                   "COLOR_BLUE")], color=3),
    bad("negative enum value", [("color", "must be one of COLOR_UNSPECIFIED, COLOR_RED, "
                                 "COLOR_BLUE")], color=-1),
    ok("open enum without the rule", open_color=99),
    # min_items / max_items / items
    ok("fewest items", tags=["a"]),
    ok("most items", tags=["a", "b", "cd"]),
    bad("too many items", [("tags", "must have at most 3 items")], tags=["a"] * 4),
    bad("an empty item is present, not absent", [("tags[1]", "must have at least 1 character")],
        tags=["a", ""]),
    bad("only the first bad item", [("tags[0]", "must have at most 2 characters")],
        tags=["abc", "", "xyz"]),
    bad("count and item both", [("tags", "must have at most 3 items"),
                                ("tags[3]", "must have at most 2 characters")],
        tags=["a", "b", "c", "long"]),
    bad("items of enums", [("colors[1]", "must be one of COLOR_UNSPECIFIED, COLOR_RED, "
                            "COLOR_BLUE")], colors=[1, 7, 9]),
    # defaults are absent: no rule applies to them
    ok("empty probe"),
    ok("default text breaks min_len but is absent", text=""),
    ok("default string breaks the pattern but is absent", anchored=""),
    ok("default 0 breaks gte but is absent", positive=0),
    ok("no items break min_items but are absent", tags=[]),
    # ... unless required: then a default that breaks a rule "is required"
    bad("required text", [("text", REQUIRED)], "text"),
    bad("required pattern", [("anchored", REQUIRED)], "anchored"),
    bad("required number", [("positive", REQUIRED)], "positive"),
    bad("required items", [("tags", REQUIRED)], "tags"),
    ok("required enum: its zero value is declared", ("color",)),
    ok("required, with no rule broken by the default", ("small", "plain")),
    bad("required and sent is checked as usual", [("text", "must have at most 4 characters")],
        "text", text="abcde"),
    # explicit presence: a set optional is present, whatever its value
    ok("unset optional"),
    bad("optional set to its default", [("position", "must be at least 1")], position=0),
    ok("optional set within bounds", position=1),
    # output-only fields are ignored unless required
    ok("output-only value breaking its rules", id="toolong"),
    bad("required output-only field", [("id", "must have at most 3 characters")], "id",
        id="toolong"),
    bad("required output-only default", [("id", REQUIRED)], "id"),
    # mask_paths: the listed paths, or "*" alone; an empty mask names none
    ok("unset mask"),
    ok("empty mask", mask={}),
    ok("star alone", mask={"paths": ["*"]}),
    ok("listed paths, nested, repeated", mask={"paths": ["inner.next_name", "name", "name"]}),
    bad("unlisted path", [("mask", MASK_RULE)], mask={"paths": ["name", "text"]}),
    bad("star with a path", [("mask", MASK_RULE)], mask={"paths": ["*", "name"]}),
    bad("star twice", [("mask", MASK_RULE)], mask={"paths": ["*", "*"]}),
    bad("an empty path", [("mask", MASK_RULE)], mask={"paths": [""]}),
    bad("a path as JSON spells it", [("mask", MASK_RULE)],
        mask={"paths": ["inner.nextName"]}),
    bad("items of a repeated mask", [("masks[1]", "may name only the paths name, or * alone")],
        masks=[{"paths": ["name"]}, {"paths": ["id"]}]),
    ok("a mask without the rule names anything", free_mask={"paths": ["x", "*"]}),
    # an escaped backslash before an s is no class escape
    ok("escaped backslash", escaped="\\s"),
    bad("escaped backslash, not white space", [("escaped", "must match the regular expression "
                                               "^\\\\s$")], escaped=" "),
    # no rules: anything goes
    ok("field without rules", plain="x" * 10_000),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_rules_at_their_boundaries(probe: type[Message], case: Case) -> None:
    assert case.expected == violations(probe(**case.fields), case.required)


def test_nested_messages_report_dotted_paths(probe: type[Message], inner: type[Message]) -> None:
    message = probe(inner=inner(name="long", next=inner(name="")))
    assert [("inner.name", "must have at most 3 characters")] == violations(message)
    deeper = probe(inner=inner(name="ok", next=inner(name="long")))
    assert [("inner.next.name", "must have at most 3 characters")] == violations(deeper)


def test_a_set_empty_message_is_present_with_absent_fields(
    probe: type[Message], inner: type[Message]
) -> None:
    """JSON `{"inner": {}}`: there, but its name is not, and nothing requires the name."""
    assert [] == violations(probe(inner=inner()))
    assert [] == violations(probe(inner=inner()), required=["inner"])


def test_required_paths_through_unset_messages_name_the_leaves(probe: type[Message]) -> None:
    """An unset message on the way to a required path reads as its default instance."""
    assert [("inner.name", REQUIRED)] == violations(probe(), required=["inner.name"])
    assert [("inner.next.name", REQUIRED)] == violations(probe(), required=["inner.next.name"])


def test_a_required_message_must_be_set(probe: type[Message]) -> None:
    assert [("inner", REQUIRED)] == violations(probe(), required=["inner"])
    assert [("inner", REQUIRED)] == violations(probe(), required=["inner", "inner.name"])


def test_repeated_messages_report_the_first_bad_item_only(
    probe: type[Message], inner: type[Message]
) -> None:
    items = [inner(name="a"), inner(name="long", next=inner(name="long")), inner(name="long")]
    assert [
        ("inners", "must have at most 2 items"),
        ("inners[1].name", "must have at most 3 characters"),
        ("inners[1].next.name", "must have at most 3 characters"),
    ] == violations(probe(inners=items))


def test_required_paths_through_repeated_messages_apply_to_every_item(
    probe: type[Message], inner: type[Message]
) -> None:
    message = probe(inners=[inner(name="a"), inner()])
    assert [("inners[1].name", REQUIRED)] == violations(message, required=["inners.name"])


def test_map_fields_are_not_checked(probe: type[Message]) -> None:
    message = probe()
    message.by_name["key"].name = "far too long"  # type: ignore[attr-defined]
    assert [] == violations(message)


def test_prefix_goes_in_front_of_every_path(probe: type[Message], inner: type[Message]) -> None:
    message = probe(text="a", inner=inner(name="long"), tags=["a", ""])
    assert ["probe.text", "probe.tags[1]", "probe.inner.name"] == [
        path for path, _ in violations(message, prefix="probe")
    ]


@pytest.mark.parametrize(
    ("required", "error"),
    [
        (["nope"], "required: hub.test.probe.Probe has no field 'nope'"),
        (["inner.nope"], "required: hub.test.probe.Inner has no field 'nope'"),
        (["text.length"], "required: hub.test.probe.Probe.text is not a message"),
    ],
)
def test_required_paths_must_name_fields(
    probe: type[Message], required: list[str], error: str
) -> None:
    with pytest.raises(ValueError, match="^" + error.replace(".", r"\.") + "$"):
        rules.check(probe(), required=required)


def test_one_path_is_not_a_collection_of_paths(probe: type[Message]) -> None:
    with pytest.raises(TypeError):
        rules.check(probe(), required="text")


@pytest.mark.parametrize(("name", "error"), MISFITS.items())
def test_rules_that_do_not_fit_their_field_are_refused(
    probe_pool: descriptor_pool.DescriptorPool, name: str, error: str
) -> None:
    misfit = message_class(probe_pool, name)
    with pytest.raises(ValueError, match="^" + re.escape(error)):
        rules.check(misfit())


def _messages(file: FileDescriptor) -> list[Descriptor]:
    found: list[Descriptor] = []
    stack = list(file.message_types_by_name.values())
    while stack:
        message = stack.pop()
        found.append(message)
        stack.extend(message.nested_types)
    return found


CONTRACT_MESSAGES = [
    message
    for module in (user_pb2, mindmap_pb2, events_pb2, rules_pb2)
    for message in _messages(module.DESCRIPTOR)
]


@pytest.mark.parametrize("message", CONTRACT_MESSAGES, ids=lambda m: m.full_name)
def test_the_rules_of_every_contract_message_fit_their_fields(message: Descriptor) -> None:
    """Compiling the rules raises for any misfit; a default instance breaks nothing."""
    assert [] == rules.check(message_factory.GetMessageClass(message)())


def test_field_rules_reads_the_option() -> None:
    email = user_pb2.User.DESCRIPTOR.fields_by_name["email"]
    etag = user_pb2.User.DESCRIPTOR.fields_by_name["etag"]
    read = rules.field_rules(email)
    assert read is not None
    assert (3, 254) == (read.min_len, read.max_len)
    assert rules.field_rules(etag) is None


def test_behaviors_reads_field_behavior() -> None:
    fields = mindmap_pb2.Mindmap.DESCRIPTOR.fields_by_name
    expected = {field_behavior_pb2.REQUIRED, field_behavior_pb2.IMMUTABLE}
    assert expected == rules.behaviors(fields["owner_id"])
    assert frozenset({field_behavior_pb2.OUTPUT_ONLY}) == rules.behaviors(fields["nodes"])
    assert frozenset() == rules.behaviors(fields["etag"])


# Agreement with JSON Schema ---------------------------------------------------------------

COLORS = ["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_BLUE"]
INNER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 3},
        "next": {"$ref": "#/$defs/Inner"},
    },
}
PROBE_SCHEMA: dict[str, Any] = {
    "$defs": {"Inner": INNER_SCHEMA},
    "type": "object",
    "required": ["text", "tags"],
    "properties": {
        "text": {"type": "string", "minLength": 2, "maxLength": 4},
        "anchored": {"type": "string", "pattern": "^[a-z]+$"},
        "unanchored": {"type": "string", "pattern": "b"},
        "small": {"type": "integer", "minimum": -1, "maximum": 3},
        "positive": {"type": "integer", "minimum": 1},
        "color": {"enum": [*COLORS, 0, 1, 2]},
        "tags": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "string", "minLength": 1, "maxLength": 2},
        },
        "position": {"type": "integer", "minimum": 1},
        "inner": {"$ref": "#/$defs/Inner"},
        "inners": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/Inner"}},
        "id": {"type": "string", "readOnly": True, "minLength": 1, "maxLength": 3},
        "mask": {
            "type": "string",
            "pattern": "^(?:\\*|(?:name|inner\\.nextName)(?:,(?:name|inner\\.nextName))*)?$",
        },
    },
}
"""The JSON Schema that the rules of Probe stand for, with `text` and `tags` required."""
PROBE_REQUIRED = ("text", "tags")

BASE: dict[str, Any] = {"text": "ab", "tags": ["a"]}
AGREEING = [
    BASE,
    {},
    {"tags": ["a"]},
    {**BASE, "text": ""},
    {**BASE, "text": "abcde"},
    {**BASE, "text": "😀😀😀😀"},
    {**BASE, "tags": []},
    {**BASE, "tags": ["a", "", "b"]},
    {**BASE, "tags": ["a"] * 4},
    {**BASE, "anchored": "abc"},
    {**BASE, "anchored": "abc\n"},
    {**BASE, "unanchored": "abc"},
    {**BASE, "unanchored": "xyz"},
    {**BASE, "small": 3},
    {**BASE, "small": 4},
    {**BASE, "small": 3.0},
    {**BASE, "small": -2},
    {**BASE, "positive": 1},
    {**BASE, "color": "COLOR_BLUE"},
    {**BASE, "color": 2},
    {**BASE, "color": 7},
    {**BASE, "position": 0},
    {**BASE, "position": 1},
    {**BASE, "inner": {}},
    {**BASE, "inner": {"name": "abcd"}},
    {**BASE, "inner": {"next": {"name": "abc"}}},
    {**BASE, "inners": [{"name": "a"}, {"name": "abcd"}]},
    {**BASE, "inners": [{}, {}, {}]},
    {**BASE, "mask": ""},
    {**BASE, "mask": "*"},
    {**BASE, "mask": "name,inner.nextName,name"},
    {**BASE, "mask": "name,*"},
    {**BASE, "mask": "*,*"},
    {**BASE, "mask": "name,"},
    {**BASE, "mask": "name,text"},
    {**BASE, "mask": "inner"},
]
"""JSON requests that JSON Schema and `check` judge alike."""
STRICTER_IN_JSON = [
    {**BASE, "anchored": ""},
    {**BASE, "inner": {"name": ""}},
    {**BASE, "positive": 0},
    {**BASE, "id": "toolong"},
]
"""JSON requests that JSON Schema refuses and `check` accepts: a present default of a field
that is not required (absent in proto3), and an output-only value (ignored in requests)."""


def _json_verdict(document: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(PROBE_SCHEMA).is_valid(document)


@pytest.mark.parametrize("document", AGREEING, ids=str)
def test_check_agrees_with_json_schema(probe: type[Message], document: dict[str, Any]) -> None:
    message = json_format.ParseDict(document, probe())
    assert _json_verdict(document) == (violations(message, PROBE_REQUIRED) == [])


@pytest.mark.parametrize("document", STRICTER_IN_JSON, ids=str)
def test_json_schema_is_stricter_only_on_present_defaults_and_output_only_fields(
    probe: type[Message], document: dict[str, Any]
) -> None:
    message = json_format.ParseDict(document, probe())
    assert (False, []) == (_json_verdict(document), violations(message, PROBE_REQUIRED))


# White space ------------------------------------------------------------------------------

WHITE_SPACE = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""The body of the white-space class that rules.proto asks patterns to spell out."""
CODE_POINTS = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
"""Every character a JSON string can carry (surrogates are not characters)."""
PYTHON_WHITE_SPACE = frozenset(c for c in CODE_POINTS if c.isspace())


def test_the_white_space_class_is_python_white_space_in_python() -> None:
    """`re` (the backends, and jsonschema) reads the class as exactly `str.isspace()`."""
    found = re.findall(f"[{WHITE_SPACE}]", "".join(CODE_POINTS))
    assert PYTHON_WHITE_SPACE == frozenset(found)


def test_the_white_space_class_is_python_white_space_in_jsonschema_rs() -> None:
    """jsonschema_rs (ECMA 262 semantics, the REST layer's fast path) reads the class, and
    its negation, as the same characters; each schema refuses exactly the white space."""
    for schema in (
        {"items": {"pattern": f"^[^{WHITE_SPACE}]$"}},
        {"items": {"not": {"pattern": f"^[{WHITE_SPACE}]$"}}},
    ):
        validator = jsonschema_rs.Draft202012Validator(schema)
        refused = {CODE_POINTS[int(e.instance_path[0])] for e in validator.iter_errors(CODE_POINTS)}
        assert PYTHON_WHITE_SPACE == refused


def test_strip_removes_exactly_python_white_space() -> None:
    """The backends strip what the not-blank patterns count as blank, and nothing else."""
    stripped = frozenset(c for c in CODE_POINTS if f"{c}x{c}".strip() == "x")
    assert PYTHON_WHITE_SPACE == stripped


def _contract_patterns() -> list[tuple[str, str]]:
    """(field, pattern) of every field of the contracts that has a pattern rule."""
    found: list[tuple[str, str]] = []
    for message in CONTRACT_MESSAGES:
        for field in message.fields:
            read = rules.field_rules(field)
            if read is not None and read.pattern:
                found.append((field.full_name, read.pattern))
    return found


def test_the_not_blank_fields_spell_white_space_out() -> None:
    """The fields stored stripped use the white-space class, in and outside brackets."""
    patterns = dict(_contract_patterns())
    for name in ("user.v1.User.display_name", "mindmap.v1.Mindmap.title", "mindmap.v1.Node.text"):
        assert f"[^{WHITE_SPACE}]" == patterns[f"hub.{name}"]
    email = patterns["hub.user.v1.User.email"]
    assert (2, 3) == (email.count(f"[{WHITE_SPACE}]"), email.count(f"[^{WHITE_SPACE}"))


SAMPLES = [
    text
    for c in sorted(PYTHON_WHITE_SPACE | {"\ufeff", "\u200b", "\x00", "\x7f", "\x1b", "a"})
    for text in (c, c * 3, f"{c}ada@example.com{c}", f"a{c}@example.com", f"ada@exa{c}mple.com")
]


@pytest.mark.parametrize(("field", "pattern"), _contract_patterns(), ids=lambda x: str(x)[:40])
def test_python_and_jsonschema_rs_read_every_contract_pattern_alike(
    field: str, pattern: str
) -> None:
    """On white space of either reading, controls and ordinary text, in and around values."""
    validator = jsonschema_rs.Draft202012Validator({"pattern": pattern})
    compiled = re.compile(pattern)
    disagreeing = [
        text for text in SAMPLES if (compiled.search(text) is not None) != validator.is_valid(text)
    ]
    assert [] == disagreeing


# Field masks in the contracts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "resource", "paths"),
    [
        (
            user_pb2.UpdateUserRequest.DESCRIPTOR,
            user_pb2.User.DESCRIPTOR,
            ["email", "display_name", "plan"],
        ),
        (
            mindmap_pb2.UpdateMindmapRequest.DESCRIPTOR,
            mindmap_pb2.Mindmap.DESCRIPTOR,
            ["title", "description"],
        ),
        (mindmap_pb2.UpdateNodeRequest.DESCRIPTOR, mindmap_pb2.Node.DESCRIPTOR, ["text"]),
    ],
)
def test_update_masks_name_fields_of_their_resource(
    mask: Descriptor, resource: Descriptor, paths: list[str]
) -> None:
    """Every update mask has the rule, listing writable fields of the resource it updates."""
    read = rules.field_rules(mask.fields_by_name["update_mask"])
    assert read is not None
    assert paths == list(read.mask_paths)
    fields = resource.fields_by_name
    output_only = [p for p in paths if field_behavior_pb2.OUTPUT_ONLY in rules.behaviors(fields[p])]
    assert [] == output_only


def test_mask_selection_needs_the_rule() -> None:
    error = "hub.user.v1.UpdateUserRequest.user has no mask_paths rule"
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        rules.mask_selection(user_pb2.UpdateUserRequest(), "user")
