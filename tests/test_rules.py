"""Field rules (hub/rules.py): each rule kind at its boundaries, defaults read as absent,
required paths, nested and repeated fields, and agreement with JSON Schema.

Most tables run against `Probe`, a test-only message compiled from `PROBE_PROTO` with
protoc into a fresh descriptor pool, so that every kind of rule is covered whatever the
numbers in the real contracts; the contracts themselves are checked for rules that do not
fit their fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.api.field_behavior_pb2 as field_behavior_pb2
import grpc_tools
import jsonschema
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
    with pytest.raises(ValueError, match="^" + error.replace(".", r"\.")):
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
