"""The JSON Schemas generated from descriptors, and the request validator built on them.

The test-only `ThingService` (testdata/schema/everything.proto) has one field of every proto3
JSON mapping type; the hub's own routes show the validator on real requests. The central
property: for every value, the schema accepts it exactly when `json_format` can parse it
(the REST layer never refuses what it publishes, nor lets through what it cannot transcode),
and where field rules apply, exactly when `hub.rules.check` (the backends) accepts it.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from google.protobuf import json_format

from hub.contracts.mindmap.v1.mindmap_pb2 import UpdateNodeRequest
from hub.contracts.rules.v1 import rules_pb2
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, UpdateUserRequest, User
from hub.frontends.rest.jsonforms import FIELD_MASK
from hub.frontends.rest.routes import HttpRoute
from hub.frontends.rest.schema import REF_PREFIX, Schemas
from hub.frontends.rpc_error import FieldProblem
from hub.rules import check
from tests.frontends.rest.conftest import hub_routes, route_of
from tests.frontends.rest.things import PACKAGE, Things, compile_things

INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1, "format": "int32"}
UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
NUMBER_WORDS = {"enum": ["NaN", "Infinity", "-Infinity"]}


@pytest.fixture(scope="module")
def things(tmp_path_factory: pytest.TempPathFactory) -> Things:
    """The compiled test service with its schemas."""
    return compile_things(tmp_path_factory.mktemp("things"))


@pytest.fixture(scope="module")
def hub_schemas() -> Schemas:
    """The schemas of every route of the hub's services."""
    return Schemas(hub_routes())


def everything(things: Things) -> dict[str, Any]:
    """The component schema of the message with every JSON mapping type."""
    return things.schemas.components()[f"{PACKAGE}.Everything"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"{REF_PREFIX}{PACKAGE}.{name}"}


@pytest.mark.parametrize(
    ("property_name", "expected"),
    [
        ("anInt32", {**INT32, "description": "A 32-bit integer."}),
        ("aSint32", INT32),
        ("aSfixed32", INT32),
        ("aUint32", UINT32),
        ("aFixed32", UINT32),
        (
            "aFloat",
            {
                "anyOf": [
                    {
                        "type": "number",
                        "format": "float",
                        "minimum": -3.4028234663852886e38,
                        "maximum": 3.4028234663852886e38,
                    },
                    NUMBER_WORDS,
                ]
            },
        ),
        (
            "aDouble",
            {
                "anyOf": [
                    {
                        "type": "number",
                        "format": "double",
                        "minimum": -1.7976931348623157e308,
                        "maximum": 1.7976931348623157e308,
                    },
                    NUMBER_WORDS,
                ]
            },
        ),
        ("aBool", {"type": "boolean"}),
        ("aString", {"type": "string"}),
        ("definedColor", ref("Color")),
        (
            "openColor",
            {
                "anyOf": [
                    ref("Color"),
                    {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
                ],
                "description": "Any int32 goes: proto3 enums are open.",
            },
        ),
        ("someStrings", {"type": "array", "items": {"type": "string"}}),
        ("counts", {"type": "object", "additionalProperties": INT32}),
        (
            "byTruth",
            {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "propertyNames": {"enum": ["true", "false"]},
            },
        ),
        ("anInner", ref("Inner")),
        ("someInners", {"type": "array", "items": ref("Inner")}),
        ("aTimestamp", {"type": "string", "format": "date-time"}),
        ("aStruct", {"type": "object"}),
        ("aValue", {}),
        ("aListValue", {"type": "array"}),
        ("anEmpty", {"type": "object", "additionalProperties": False}),
        (
            "anAny",
            {
                "type": "object",
                "properties": {"@type": {"type": "string"}},
                "anyOf": [{"maxProperties": 0}, {"required": ["@type"]}],
            },
        ),
        ("aWrappedInt32", INT32),
        ("aWrappedString", {"type": "string"}),
        ("aNull", {"type": "null"}),
        ("left", {"type": "string"}),
        ("maybe", INT32),
    ],
)
def test_each_json_mapping_type_has_its_schema(
    things: Things, property_name: str, expected: dict[str, Any]
) -> None:
    """Scalars, enums, lists, maps, messages and well-known types, as the mapping has them."""
    assert expected == everything(things)["properties"][property_name]


def test_64_bit_integers_are_strings_or_integers_within_their_range(things: Things) -> None:
    """int64 and uint64 admit both JSON forms; their bounds hold for either."""
    properties = everything(things)["properties"]
    for name, (low, high) in {
        "anInt64": (-(2**63), 2**63 - 1),
        "aSint64": (-(2**63), 2**63 - 1),
        "aSfixed64": (-(2**63), 2**63 - 1),
        "aUint64": (0, 2**64 - 1),
        "aFixed64": (0, 2**64 - 1),
    }.items():
        schema = properties[name]
        assert (["string", "integer"], low, high) == (
            schema["type"],
            schema["minimum"],
            schema["maximum"],
        )
        assert "pattern" in schema


def test_an_enum_lists_its_names_and_numbers_and_describes_each_value(things: Things) -> None:
    """Names are what responses carry; the numbers are accepted on input too."""
    color = things.schemas.components()[f"{PACKAGE}.Color"]
    assert ["string", "integer"] == color["type"]
    assert ["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_BLUE", 0, 1, 2] == color["enum"]
    assert (
        "A color.\n- `COLOR_UNSPECIFIED` (0): Not set.\n- `COLOR_RED` (1): Like a cherry.\n"
        "- `COLOR_BLUE` (2): Like the sky."
    ) == color["description"]


def test_messages_refuse_unknown_properties_and_keep_oneof_members_apart(things: Things) -> None:
    """`additionalProperties: false`, and no two members of a oneof together."""
    schema = everything(things)
    assert False is schema["additionalProperties"]
    assert [{"not": {"required": ["left", "right"]}}] == schema["allOf"]


def test_required_and_read_only_come_from_field_behavior(things: Things) -> None:
    """REQUIRED fields are `required`; OUTPUT_ONLY ones are `readOnly`."""
    inner = things.schemas.components()[f"{PACKAGE}.Inner"]
    assert ["text"] == inner["required"]
    assert True is inner["properties"]["id"]["readOnly"]
    assert "readOnly" not in inner["properties"]["text"]


def test_field_rules_become_the_keywords_they_are_named_after(things: Things) -> None:
    """min_len/max_len/pattern, gte/lte (for both integer forms), item counts and rules of
    items, defined_only."""
    inner = things.schemas.components()[f"{PACKAGE}.Inner"]["properties"]
    assert {"minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"}.items() <= inner["text"].items()
    assert (1, 9) == (inner["level"]["minimum"], inner["level"]["maximum"])
    assert (-5, 5, r"^(?:-[1-5]|[0-5])$(?!\n)") == (
        inner["big"]["minimum"],
        inner["big"]["maximum"],
        inner["big"]["pattern"],
    )
    assert {"minItems": 1, "maxItems": 3, "items": {"type": "string", "maxLength": 2}}.items() <= (
        inner["tags"].items()
    )


def test_descriptions_are_the_proto_comments(things: Things) -> None:
    """Messages and fields carry their leading comments; uncommented fields carry none."""
    schema = everything(things)
    assert "One field of every JSON mapping type." == schema["description"]
    assert "A 64-bit integer: a string in JSON." == schema["properties"]["anInt64"]["description"]
    assert "description" not in schema["properties"]["aSint32"]


def test_components_are_keyed_by_full_name(hub_schemas: Schemas) -> None:
    """One schema per message and enum behind the routes, under its full proto name."""
    components = hub_schemas.components()
    assert {"hub.user.v1.User", "hub.user.v1.Plan", "hub.mindmap.v1.Node"} <= components.keys()
    assert sorted(components) == list(components)


# (property, JSON value, whether both the schema and json_format accept it)
AGREEMENT = [
    ("anInt32", 25, True),
    ("anInt32", 25.0, True),
    ("anInt32", 2.5, False),
    ("anInt32", 2**31, False),
    ("anInt32", -(2**31), True),
    ("anInt32", True, False),
    ("anInt32", "abc", False),
    ("aUint32", -1, False),
    ("aUint32", 2**32 - 1, True),
    ("anInt64", "9223372036854775807", True),
    ("anInt64", 9223372036854775807, True),
    ("anInt64", "9223372036854775808", False),
    ("anInt64", "-9223372036854775808", True),
    ("anInt64", 12.0, True),
    ("anInt64", 1e19, False),
    ("anInt64", "1.5", False),
    ("aUint64", "18446744073709551615", True),
    ("aUint64", "18446744073709551616", False),
    ("aUint64", "-1", False),
    ("aFloat", 1.5, True),
    ("aFloat", "NaN", True),
    ("aFloat", "-Infinity", True),
    ("aFloat", 1e39, False),
    ("aFloat", "nan", False),
    ("aDouble", 1e308, True),
    ("aBool", True, True),
    ("aBool", "true", False),
    ("aBool", 1, False),
    ("aString", "text", True),
    ("aString", 5, False),
    ("someBytes", "aGk=", True),
    ("someBytes", "aGk", True),
    ("someBytes", "a", False),
    ("openColor", "COLOR_RED", True),
    ("openColor", 1, True),
    ("openColor", 7, True),
    ("openColor", "COLOR_PURPLE", False),
    ("someStrings", ["a", "b"], True),
    ("someStrings", "a", False),
    ("counts", {"a": 1}, True),
    ("counts", {"a": "x"}, False),
    ("innersByNumber", {"12": {"text": "ab"}}, True),
    ("innersByNumber", {"twelve": {"text": "ab"}}, False),
    ("byTruth", {"false": "x"}, True),
    ("byTruth", {"yes": "x"}, False),
    ("anInner", {"text": "ab", "child": {"text": "cd"}}, True),
    ("anInner", {"text": "ab", "color": 1}, False),
    ("someInners", [{"text": "ab"}, 3], False),
    ("aTimestamp", "2024-05-01T12:00:00Z", True),
    ("aTimestamp", "2024-05-01T12:00:00.123456789+02:00", True),
    ("aTimestamp", "2024-05-01", False),
    ("aTimestamp", "2024-05-01t12:00:00z", False),
    ("aTimestamp", "2024-02-30T00:00:00Z", False),
    ("aDuration", "1.5s", True),
    ("aDuration", "-3s", True),
    ("aDuration", "1.5", False),
    ("aDuration", "315576000001s", False),
    ("aFieldMask", "aString,anInner.text", True),
    ("aFieldMask", "*", True),
    ("aFieldMask", "a_string", False),
    ("aDuration", "1.5s\n", False),
    ("aStruct", {"a": [1, None]}, True),
    ("aStruct", [1], False),
    ("aValue", None, True),
    ("aValue", {"any": ["json"]}, True),
    ("aListValue", [1, "a"], True),
    ("aListValue", {}, False),
    ("anEmpty", {}, True),
    ("anEmpty", {"a": 1}, False),
    ("anAny", {"@type": "type.googleapis.com/google.protobuf.Empty"}, True),
    ("anAny", {}, True),
    ("anAny", {"value": "x"}, False),
    ("aWrappedInt32", 5, True),
    ("aWrappedInt32", "five", False),
    ("aWrappedString", "s", True),
    ("aNull", None, True),
    ("maybe", 0, True),
]


def parses(things: Things, document: dict[str, Any]) -> bool:
    """Whether `json_format` reads `document` as an Everything."""
    try:
        json_format.ParseDict(document, things.new("Everything"))
    except json_format.ParseError:
        return False
    return True


def put_problems(things: Things, body: Any) -> list[FieldProblem]:
    """What the validator of PutThing says of `body` (the Everything)."""
    validator = things.schemas.request_validator(things.route("PutThing"))
    return validator.validate({"thing_id": "ab"}, [], body)


@pytest.mark.parametrize(("property_name", "value", "accepted"), AGREEMENT)
def test_the_schema_accepts_what_json_format_parses(
    things: Things, property_name: str, value: Any, accepted: bool
) -> None:
    """For every type, the schema and `json_format` agree on the value."""
    body = {property_name: value}
    assert (accepted, accepted) == (put_problems(things, body) == [], parses(things, body))


def test_a_oneof_takes_one_member_in_both(things: Things) -> None:
    """Two members of one oneof: refused by the schema and by json_format alike."""
    body = {"left": "a", "right": 1}
    assert (False, False) == (put_problems(things, body) == [], parses(things, body))


# Values json_format would take that the schema leaves out on purpose: it publishes the
# canonical form only (and the REST layer, which validates first, refuses the rest).
NARROWER = [
    ("anInt32", "25"),
    ("anInt64", "007"),
    ("aString", None),
    ("aNull", "NULL_VALUE"),
    ("aFloat", "1.5"),
    ("someBytes", "aG=k"),
    ("aFieldMask", "aString\n"),
    ("anInt64", "12\n"),
]


@pytest.mark.parametrize(("property_name", "value"), NARROWER)
def test_the_schema_publishes_only_the_canonical_form(
    things: Things, property_name: str, value: Any
) -> None:
    """Numbers as strings, nulls, leading zeros: json_format reads them, the schema does not."""
    body = {property_name: value}
    assert (False, True) == (put_problems(things, body) == [], parses(things, body))


# (Inner as JSON, whether the schema and hub.rules.check accept it)
RULES = [
    ({"text": "abc"}, True),
    ({"text": "ABC"}, False),
    ({"text": "abcdef"}, False),
    ({"text": "ab", "level": 9}, True),
    ({"text": "ab", "level": 10}, False),
    ({"text": "ab", "level": 10.0}, False),
    ({"text": "ab", "big": "-5"}, True),
    ({"text": "ab", "big": "-6"}, False),
    ({"text": "ab", "big": 6}, False),
    ({"text": "ab", "tags": ["ab", "cd", "ef"]}, True),
    ({"text": "ab", "tags": ["ab", "cd", "ef", "gh"]}, False),
    ({"text": "ab", "tags": ["abc"]}, False),
    ({"text": "ab", "child": {"text": "X"}}, False),
]


@pytest.mark.parametrize(("inner", "accepted"), RULES)
def test_the_schema_and_the_backend_rules_agree(
    things: Things, inner: dict[str, Any], accepted: bool
) -> None:
    """A field rule means the same in the schema and in `hub.rules.check`."""
    message = things.new("Inner")
    json_format.ParseDict(inner, message)
    schema_accepts = put_problems(things, {"anInner": inner}) == []
    assert (accepted, accepted) == (schema_accepts, check(message) == [])


def test_defined_only_refuses_undeclared_enum_numbers_like_the_rules(things: Things) -> None:
    """An open enum takes any number; `defined_only` narrows it in both places."""
    message = things.new("Everything")
    json_format.ParseDict({"definedColor": 7}, message)
    assert [
        FieldProblem(
            "everything.definedColor", "must be one of COLOR_UNSPECIFIED, COLOR_RED, COLOR_BLUE"
        )
    ] == put_problems(things, {"definedColor": 7})
    assert ["defined_color"] == [v.field for v in check(message)]


def validate(
    route: HttpRoute,
    schemas: Schemas,
    *,
    path: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
    body: Any = None,
) -> list[FieldProblem]:
    return schemas.request_validator(route).validate(path or {}, query or [], body)


def test_validator_errors_name_json_paths_in_the_request(hub_schemas: Schemas) -> None:
    """Body problems are prefixed with the body field; nested and list paths use `.` and
    `[i]`; required and unknown properties are named themselves."""
    create = route_of(hub_routes(), "CreateUser")
    problems = validate(
        create, hub_schemas, body={"email": "no-at-sign", "plan": "PLAN_GOLD", "nick": "x"}
    )
    assert [
        FieldProblem("user.displayName", "is required"),
        FieldProblem("user.email", "must be an email address like name@example.com"),
        FieldProblem("user.nick", "is not a known field"),
        FieldProblem(
            "user.plan", "must be one of PLAN_UNSPECIFIED, PLAN_FREE, PLAN_PRO, PLAN_TEAM"
        ),
    ] == sorted(problems, key=lambda p: p.field)


EMAIL_PATTERN = (
    User.DESCRIPTOR.fields_by_name["email"].GetOptions().Extensions[rules_pb2.field].pattern
)


def test_nested_list_paths_carry_indexes(things: Things) -> None:
    """`someInners[1].text`, `anInner.tags[0]`."""
    problems = put_problems(
        things,
        {
            "someInners": [{"text": "ok"}, {"text": "BAD"}],
            "anInner": {"text": "a", "tags": ["abc"]},
        },
    )
    assert [
        FieldProblem("everything.anInner.tags[0]", "must have at most 2 characters"),
        FieldProblem("everything.someInners[1].text", "must match the regular expression ^[a-z]+$"),
    ] == sorted(problems, key=lambda p: p.field)


def test_snake_case_names_are_accepted_as_the_json_mapping_requires(hub_schemas: Schemas) -> None:
    """The original field names validate like the lowerCamelCase ones, at every depth."""
    create = route_of(hub_routes(), "CreateUser")
    assert [] == validate(create, hub_schemas, body={"email": "a@b.co", "display_name": "Ann"})
    add_node = route_of(hub_routes(), "AddNode")
    body = {"node": {"parent_id": "p", "text": "t"}, "position": 0}
    assert [] == validate(add_node, hub_schemas, path={"mindmap_id": "m"}, body=body)


def test_snake_case_names_are_checked_and_reported_by_their_json_name(things: Things) -> None:
    """A renamed property is validated with its rules and reported under its JSON name."""
    problems = put_problems(things, {"an_inner": {"text": "a", "tags": ["abc"]}})
    assert [
        FieldProblem("everything.anInner.tags[0]", "must have at most 2 characters")
    ] == problems


def test_a_field_given_under_both_names_is_a_problem(hub_schemas: Schemas) -> None:
    """`display_name` and `displayName` together: json_format would refuse it too."""
    create = route_of(hub_routes(), "CreateUser")
    body = {"email": "a@b.co", "displayName": "Ann", "display_name": "Bob"}
    assert [
        FieldProblem("user.displayName", "is given twice, as display_name and displayName")
    ] == validate(create, hub_schemas, body=body)


def test_the_validator_does_not_change_the_body(hub_schemas: Schemas) -> None:
    """The body is validated as a renamed copy; the caller's object stays as sent."""
    create = route_of(hub_routes(), "CreateUser")
    body = {"email": "a@b.co", "display_name": "Ann"}
    validate(create, hub_schemas, body=body)
    assert {"email": "a@b.co", "display_name": "Ann"} == body


def test_integral_floats_are_integers(hub_schemas: Schemas) -> None:
    """`2.0` is an integer in JSON Schema, in json_format, and so in the REST layer."""
    add_node = route_of(hub_routes(), "AddNode")
    body = {"node": {"parentId": "p", "text": "t"}, "position": 2.0}
    assert [] == validate(add_node, hub_schemas, path={"mindmap_id": "m"}, body=body)
    body["position"] = 2.5
    assert [FieldProblem("position", "must be an integer")] == validate(
        add_node, hub_schemas, path={"mindmap_id": "m"}, body=body
    )


def test_query_values_are_read_as_the_json_their_schema_expects(things: Things) -> None:
    """Integers (also `25.0`), int64 strings, booleans, enum names or numbers, timestamps,
    repeated parameters; original names of parameters work too."""
    find = things.route("FindThings")
    query = [
        ("limit", "25.0"),
        ("offset", "-9223372036854775808"),
        ("flag", "true"),
        ("color", "COLOR_RED"),
        ("numbers", "1"),
        ("numbers", "2"),
        ("names", "a"),
        ("inner.text", "abc"),
        ("inner.big", "5"),
        ("since", "2024-05-01T00:00:00Z"),
        ("mask", "aString"),
        ("wrapped", "3"),
        ("ratio", "NaN"),
        ("thing_id", "x"),
    ]
    assert [] == validate(find, things.schemas, query=query)


def test_bad_query_values_are_named_by_their_parameter(things: Things) -> None:
    """Each bad value is one problem, named by the documented parameter (and `[i]` for an
    element); a required parameter left out is named too."""
    find = things.route("FindThings")
    query = [
        ("limit", "many"),
        ("offset", "9223372036854775808"),
        ("flag", "yes"),
        ("color", "7"),
        ("numbers", "1"),
        ("numbers", "x"),
        ("numbers", "3"),
        ("inner.level", "0"),
        ("since", "yesterday"),
    ]
    assert [
        FieldProblem("color", "must be one of COLOR_UNSPECIFIED, COLOR_RED, COLOR_BLUE"),
        FieldProblem("flag", "must be true or false"),
        FieldProblem("inner.level", "must be at least 1"),
        FieldProblem("limit", "must be an integer"),
        FieldProblem("names", "is required"),
        FieldProblem("numbers", "must have at most 2 items"),
        FieldProblem("numbers[1]", "must be an integer"),
        FieldProblem("offset", "must be at most 9223372036854775807"),
        FieldProblem("since", "must be an RFC 3339 date-time, such as 2024-05-01T12:00:00Z"),
    ] == sorted(validate(find, things.schemas, query=query), key=lambda p: p.field)


def test_unknown_query_parameters_are_left_to_the_transcoder(hub_schemas: Schemas) -> None:
    """The validator checks what the document lists; `transcode` refuses the rest."""
    list_users = route_of(hub_routes(), "ListUsers")
    assert [] == validate(list_users, hub_schemas, query=[("colour", "red")])


def test_path_values_are_checked_and_named_by_their_json_path(hub_schemas: Schemas) -> None:
    """A path variable's value meets its field's rules; `{user.id}` reports `user.id`."""
    update = route_of(hub_routes(), "UpdateUser", "PUT")
    body = {"email": "a@b.co", "displayName": "Ann"}
    assert [FieldProblem("user.id", "must have at most 64 characters")] == validate(
        update, hub_schemas, path={"user.id": "x" * 65}, body=body
    )
    move = route_of(hub_routes(), "MoveNode")
    problems = validate(
        move, hub_schemas, path={"mindmap_id": "m", "node_id": "n" * 65}, body={"newParentId": "p"}
    )
    assert [FieldProblem("nodeId", "must have at most 64 characters")] == problems


def test_a_missing_or_non_object_body_is_reported(hub_schemas: Schemas) -> None:
    """A route with a body needs one; a body field of message type must be an object."""
    create = route_of(hub_routes(), "CreateUser")
    assert [FieldProblem("user", "is required")] == validate(create, hub_schemas, body=None)
    assert [FieldProblem("user", "must be a JSON object")] == validate(
        create, hub_schemas, body=[1]
    )


def test_body_star_leaves_out_the_fields_the_path_sets(things: Things) -> None:
    """With `body: "*"`, a field bound by the path (even nested) is neither required nor
    accepted in the body; the rest of its message stays."""
    relabel = things.route("Relabel")
    body = things.schemas.body_schema(relabel)
    assert body is not None
    assert ["inner", "label"] == body["required"]
    inner = body["properties"]["inner"]
    assert "text" not in inner["properties"]
    assert "required" not in inner
    assert "The inner message whose text names the thing." == inner["description"]
    assert [] == validate(
        relabel, things.schemas, path={"inner.text": "abc"}, body={"inner": {}, "label": "x"}
    )
    assert [FieldProblem("inner.text", "is not a known field")] == validate(
        relabel,
        things.schemas,
        path={"inner.text": "abc"},
        body={"inner": {"text": "abc"}, "label": "x"},
    )


def test_descriptions_do_not_echo_values(hub_schemas: Schemas) -> None:
    """A problem says what is wrong, never what was sent (it may be large, or private)."""
    create = route_of(hub_routes(), "CreateUser")
    secret = "s3cr3t-" * 50
    problems = validate(create, hub_schemas, body={"email": secret, "displayName": 5})
    assert [] == [p for p in problems if "s3cr3t" in p.description]


def test_parameters_list_path_variables_then_query_fields(things: Things) -> None:
    """Path variables first, then every scalar (or list of scalars) field that neither the
    path nor the body sets, minus output-only ones, maps and lists of messages."""
    names = [
        (p.location, p.name, p.required)
        for p in things.schemas.parameters(things.route("FindThings"))
    ]
    assert [
        ("query", "thingId", False),
        ("query", "limit", False),
        ("query", "offset", False),
        ("query", "flag", False),
        ("query", "color", False),
        ("query", "numbers", False),
        ("query", "names", True),
        ("query", "inner.text", False),
        ("query", "inner.level", False),
        ("query", "inner.big", False),
        ("query", "inner.tags", False),
        ("query", "since", False),
        ("query", "mask", False),
        ("query", "wrapped", False),
        ("query", "ratio", False),
    ] == names
    put = [
        (p.location, p.name, p.required)
        for p in things.schemas.parameters(things.route("PutThing"))
    ]
    assert [("path", "thing_id", True)] == put


def test_parameter_descriptions_are_the_field_comments(hub_schemas: Schemas) -> None:
    """A parameter is documented by the comment of the field it sets."""
    parameters = hub_schemas.parameters(route_of(hub_routes(), "ListMindmaps"))
    said = {p.name: p.description for p in parameters}
    assert "Only mindmaps of this owner; empty means all owners." == said["ownerId"]


def test_descriptions_default_to_the_packaged_descriptor_set() -> None:
    """Without explicit comments, `Schemas` reads those `hub gen` packaged."""
    schemas = Schemas([route_of(hub_routes(), "GetUser")])
    assert "Returns one user." == schemas.description("hub.user.v1.UserService.GetUser")


def test_response_schemas_follow_response_body(hub_schemas: Schemas) -> None:
    """`response_body: "user"` answers the User; without it, the whole response message."""
    routes = hub_routes()
    assert {"$ref": REF_PREFIX + "hub.user.v1.User"} == hub_schemas.response_schema(
        route_of(routes, "GetUser")
    )
    assert {"$ref": REF_PREFIX + "hub.user.v1.ListUsersResponse"} == hub_schemas.response_schema(
        route_of(routes, "ListUsers")
    )


# (displayName, whether the validator and the backend rules accept it)
WHITE_SPACE_NAMES = [
    ("\ufeff", True),  # white space to ECMA 262's \s, not to Python's
    ("\x1c", False),  # white space to Python's \s, not to ECMA 262's
    ("\x1f\x85", False),
    ("\u3000\u2028", False),  # white space to both
    ("\x1bA\x85", True),
    ("\u200b", True),  # a zero-width space is not white space
]


@pytest.mark.parametrize(("name", "accepted"), WHITE_SPACE_NAMES, ids=ascii)
def test_the_validator_and_the_backend_read_white_space_alike(
    hub_schemas: Schemas, name: str, accepted: bool
) -> None:
    """The not-blank pattern spells white space out, so jsonschema_rs, jsonschema and
    `hub.rules` agree on every character, those where ECMA 262 and Python differ too."""
    create = route_of(hub_routes(), "CreateUser")
    body = {"email": "a@b.co", "displayName": name}
    message = json_format.ParseDict({"user": body}, CreateUserRequest())
    assert (accepted, accepted, accepted) == (
        validate(create, hub_schemas, body=body) == [],
        jsonschema_rs_accepts(hub_schemas, create, body),
        check(message, required=("user.email", "user.display_name")) == [],
    )


def jsonschema_rs_accepts(schemas: Schemas, route: HttpRoute, body: Any) -> bool:
    """The verdict of jsonschema_rs alone (the validator's fast path) on a route's body."""
    schema = {
        "components": {"schemas": schemas.components()},
        **(schemas.body_schema(route) or {}),
    }
    return bool(jsonschema_rs.Draft202012Validator(schema).is_valid(body))


USER_MASK_PROBLEM = "may name only the paths email, displayName, plan, or * alone"
# (updateMask as sent, whether the validator and the backend rules accept it)
USER_MASKS = [
    ("", True),
    ("*", True),
    ("email", True),
    ("displayName,plan", True),
    ("plan,email,plan", True),
    ("*,email", False),
    ("*,*", False),
    ("email,", False),
    (",email", False),
    ("email\n", False),
    ("createTime", False),
    ("etag", False),
    ("user.email", False),
    ("emails", False),
]


@pytest.mark.parametrize(("mask", "accepted"), USER_MASKS, ids=ascii)
def test_the_mask_pattern_and_the_mask_rule_agree(
    hub_schemas: Schemas, mask: str, accepted: bool
) -> None:
    """`mask_paths` published as a pattern: the query parameter is valid exactly when the
    mask that json_format makes of it keeps the rule (and json_format can make one)."""
    update = route_of(hub_routes(), "UpdateUser", "PUT")
    path, body = {"user.id": "u"}, {"email": "a@b.co", "displayName": "Ann"}
    problems = validate(update, hub_schemas, path=path, query=[("updateMask", mask)], body=body)
    request = UpdateUserRequest(user=User(id="u", email="a@b.co", display_name="Ann"))
    try:
        request.update_mask.FromJsonString(mask)
    except ValueError:
        rules_accept = False
    else:
        rules_accept = check(request) == []
    expected = [] if accepted else [FieldProblem("updateMask", USER_MASK_PROBLEM)]
    assert (expected, accepted) == (problems, rules_accept)


@pytest.mark.parametrize(
    ("mask", "accepted"), [("text", True), ("*", True), ("", True), ("parentId", False)]
)
def test_a_mask_in_the_body_has_its_pattern_too(
    hub_schemas: Schemas, mask: str, accepted: bool
) -> None:
    """UpdateNode's mask travels in its `body: "*"`; json_format turns camelCase into the
    proto's names, which `hub.rules` checks."""
    update_node = route_of(hub_routes(), "UpdateNode")
    body = {"node": {"text": "t"}, "updateMask": mask}
    problems = validate(
        update_node, hub_schemas, path={"mindmap_id": "m", "node.id": "n"}, body=body
    )
    message = json_format.ParseDict(body, UpdateNodeRequest())
    expected = (
        [] if accepted else [FieldProblem("updateMask", "may name only the paths text, or * alone")]
    )
    assert (expected, accepted) == (problems, check(message) == [])


def test_masks_without_a_rule_keep_the_general_form(things: Things) -> None:
    """A FieldMask with no `mask_paths` rule: any lowerCamelCase paths, as before."""
    properties = everything(things)["properties"]
    assert {"type": "string", "pattern": FIELD_MASK} == properties["aFieldMask"]
