"""Request checks (hub/backends/validation.py): violations collected once per field, the
contract's rules on real requests, and the values the contract gives unset fields."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from hub import rules
from hub.backends import validation
from hub.backends.validation import Violations
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    CreateMindmapRequest,
    Mindmap,
    MindmapView,
    UpdateMindmapRequest,
    UpdateNodeRequest,
)
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, Plan, UpdateUserRequest, User
from hub.errors import FieldViolation, InvalidArgument

CREATE_USER_REQUIRED = ("user.email", "user.display_name")
NOT_BLANK = r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""The pattern of display_name: a character that is not white space (as str.isspace says)."""


def reported(v: Violations) -> list[FieldViolation]:
    """The violations `v` would raise, in order (none if it would not raise)."""
    try:
        v.raise_if_any()
    except InvalidArgument as error:
        return list(error.violations)
    return []


def fields_of(v: Violations) -> list[str]:
    return [violation.field for violation in reported(v)]


def create_user(email: str = "ada@example.com", display_name: str = "Ada") -> CreateUserRequest:
    return CreateUserRequest(user=User(email=email, display_name=display_name))


def test_no_violation_raises_nothing() -> None:
    assert [] == fields_of(Violations())


def test_every_bad_field_is_reported_once_with_its_first_problem() -> None:
    v = Violations()
    v.add("update_mask", "first")
    v.check(create_user(email="", display_name=" "), required=CREATE_USER_REQUIRED)
    v.add("update_mask", "second")
    v.add("user.email", "third")
    assert [
        FieldViolation("update_mask", "first"),
        FieldViolation("user.email", "is required"),
        FieldViolation("user.display_name", "must not be blank"),
    ] == reported(v)


def test_check_raises_with_every_violation_of_the_rules() -> None:
    with pytest.raises(InvalidArgument) as raised:
        validation.check(create_user(email="", display_name="x" * 101), required=("user.email",))
    assert ["user.email", "user.display_name"] == [v.field for v in raised.value.violations]


def test_check_passes_a_good_request() -> None:
    validation.check(create_user(), required=CREATE_USER_REQUIRED)


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com",
        "Ada.Lovelace+notes@mail.example.co.uk",
        "zoë@exämple.org",
        "a@b.c",
        "  ada@example.com\n",  # surrounding white space: stripped after the check
        "a" * 64 + "@example.com",
        "a@" + "b" * 248 + ".com",  # 254 characters
    ],
)
def test_email_rule_accepts_sane_addresses(address: str) -> None:
    v = Violations()
    v.check(create_user(email=address), required=CREATE_USER_REQUIRED)
    assert [] == fields_of(v)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "plain",
        "@example.com",
        "ada@",
        "ada@example",
        "ada@@example.com",
        "ada lovelace@example.com",
        "ada@example..com",
        "ada@.example.com",
        "ada@example.com.",
        "ada\x00@example.com",
        "ada@exam\x1fple.com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 249 + ".com",  # 255 characters
        " " + "a@" + "b" * 248 + ".com",  # 255 characters as sent, 254 once stripped
    ],
)
def test_email_rule_rejects_malformed_or_oversized_addresses(address: str) -> None:
    v = Violations()
    v.check(create_user(email=address), required=CREATE_USER_REQUIRED)
    assert ["user.email"] == fields_of(v)


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("Ada", []),
        ("  Ada\n", []),
        ("x" * 100, []),
        (" " + "x" * 99, []),
        (" " + "x" * 100, ["user.display_name"]),  # 101 as sent: no stripping before
        (" \t\n", ["user.display_name"]),
        ("\x1c\x1d\x1e\x1f\x85\u3000", ["user.display_name"]),  # Python's white space
        ("\ufeff", []),  # white space to ECMA 262 only: str.strip() keeps it, so may the rule
        ("", ["user.display_name"]),
    ],
)
def test_display_name_is_bounded_as_sent_and_must_not_be_blank(
    name: str, fields: list[str]
) -> None:
    v = Violations()
    v.check(create_user(display_name=name), required=CREATE_USER_REQUIRED)
    assert fields == fields_of(v)


def test_fields_not_required_are_checked_only_when_sent() -> None:
    """A default is absent unless required; a value sent is checked even if unread."""
    absent = Violations()
    absent.check(CreateUserRequest(user=User(display_name="Ada")), required=())
    assert [] == fields_of(absent)
    sent = Violations()
    sent.check(CreateUserRequest(user=User(email="nope", display_name="Ada")), required=())
    assert ["user.email"] == fields_of(sent)


def test_output_only_fields_of_a_request_are_ignored() -> None:
    v = Violations()
    request = CreateMindmapRequest(mindmap=Mindmap(id="x" * 1000, owner_id="o", title="T"))
    v.check(request, required=("mindmap.owner_id", "mindmap.title"))
    assert [] == fields_of(v)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (Plan.PLAN_UNSPECIFIED, Plan.PLAN_FREE),
        (Plan.PLAN_FREE, Plan.PLAN_FREE),
        (Plan.PLAN_PRO, Plan.PLAN_PRO),
        (Plan.PLAN_TEAM, Plan.PLAN_TEAM),
    ],
)
def test_plan_unspecified_means_free(value: Plan.ValueType, stored: Plan.ValueType) -> None:
    assert stored == validation.plan(value)


@pytest.mark.parametrize(
    ("value", "default", "full"),
    [
        (MindmapView.MINDMAP_VIEW_UNSPECIFIED, MindmapView.MINDMAP_VIEW_FULL, True),
        (MindmapView.MINDMAP_VIEW_UNSPECIFIED, MindmapView.MINDMAP_VIEW_BASIC, False),
        (MindmapView.MINDMAP_VIEW_BASIC, MindmapView.MINDMAP_VIEW_FULL, False),
        (MindmapView.MINDMAP_VIEW_FULL, MindmapView.MINDMAP_VIEW_BASIC, True),
    ],
)
def test_view_tells_whether_nodes_are_wanted(
    value: MindmapView.ValueType, default: MindmapView.ValueType, full: bool
) -> None:
    assert full == validation.view(value, default=default)


@pytest.mark.parametrize(
    ("request_type", "allowed"),
    [
        (UpdateUserRequest, ["email", "display_name", "plan"]),
        (UpdateMindmapRequest, ["title", "description"]),
        (UpdateNodeRequest, ["text"]),
    ],
)
def test_update_masks_allow_the_fields_the_contract_names(
    request_type: type[Message], allowed: list[str]
) -> None:
    """The backends take the paths from the `mask_paths` rule: no mask selects them all."""
    assert allowed == rules.mask_selection(request_type(), "update_mask")


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        ([], ["email", "display_name", "plan"]),
        (["*"], ["email", "display_name", "plan"]),
        (["plan", "email"], ["email", "plan"]),
        (["plan", "plan"], ["plan"]),
    ],
)
def test_update_mask_names_the_paths_in_a_fixed_order(
    paths: list[str], expected: list[str]
) -> None:
    request = UpdateUserRequest(update_mask=FieldMask(paths=paths))
    assert expected == rules.mask_selection(request, "update_mask")
    assert [] == rules.check(request)


@pytest.mark.parametrize(
    "paths", [["id"], ["email", "etag"], ["*", "email"], ["*", "*"], ["user.email"], [""]]
)
def test_update_mask_rejects_unknown_paths(paths: list[str]) -> None:
    request = UpdateUserRequest(update_mask=FieldMask(paths=paths))
    assert [
        FieldViolation(
            "update_mask", "may name only the paths email, display_name, plan, or * alone"
        )
    ] == rules.check(request)


def test_must_be_empty() -> None:
    v = Violations()
    validation.must_be_empty(v, "fine", [], "why")
    validation.must_be_empty(v, "nodes", [object()], "why")
    assert ["nodes"] == fields_of(v)
