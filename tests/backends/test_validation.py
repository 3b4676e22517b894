"""Field checks (hub/backends/validation.py): values returned, violations collected."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from hub.backends import validation
from hub.backends.validation import Violations
from hub.contracts.mindmap.v1.mindmap_pb2 import MindmapView
from hub.contracts.user.v1.user_pb2 import Plan
from hub.errors import InvalidArgument


def fields_of(v: Violations) -> list[str]:
    """The fields `v` would report, in order (none if it would not raise)."""
    try:
        v.raise_if_any()
    except InvalidArgument as error:
        return [violation.field for violation in error.violations]
    return []


def test_no_violation_raises_nothing() -> None:
    assert [] == fields_of(Violations())


def test_every_bad_field_is_reported_once_in_order_of_checking() -> None:
    v = Violations()
    validation.email(v, "user.email", "")
    validation.text(v, "user.display_name", "", validation.MAX_DISPLAY_NAME)
    validation.text(v, "user.email", "", 5)  # a second problem of the same field
    assert ["user.email", "user.display_name"] == fields_of(v)


@pytest.mark.parametrize(
    "address",
    ["ada@example.com", "Ada.Lovelace+notes@mail.example.co.uk", "zoë@exämple.org", "a@b.c"],
)
def test_email_accepts_sane_addresses_as_given(address: str) -> None:
    v = Violations()
    assert address == validation.email(v, "email", address)
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
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",  # 256 characters
    ],
)
def test_email_rejects_malformed_or_oversized_addresses(address: str) -> None:
    v = Violations()
    validation.email(v, "user.email", address)
    assert ["user.email"] == fields_of(v)


def test_text_is_stripped_and_bounded_after_stripping() -> None:
    v = Violations()
    assert "Ada" == validation.text(v, "name", "  Ada\n", 3)
    assert "x" * 3 == validation.text(v, "padded", " " + "x" * 3 + " ", 3)
    validation.text(v, "blank", " \t\n", 3)
    validation.text(v, "long", "x" * 4, 3)
    assert ["blank", "long"] == fields_of(v)


def test_description_may_be_empty_and_is_kept_as_given() -> None:
    v = Violations()
    assert "" == validation.description(v, "d", "")
    assert " spaced " == validation.description(v, "d", " spaced ")
    validation.description(v, "long", "x" * (validation.MAX_DESCRIPTION + 1))
    assert ["long"] == fields_of(v)


def test_plan_unspecified_takes_the_default_on_create() -> None:
    v = Violations()
    assert Plan.PLAN_FREE == validation.plan(v, "p", Plan.PLAN_UNSPECIFIED, default=Plan.PLAN_FREE)
    assert Plan.PLAN_TEAM == validation.plan(v, "p", Plan.PLAN_TEAM, default=Plan.PLAN_FREE)
    assert [] == fields_of(v)


def test_plan_must_be_a_known_value_and_set_without_a_default() -> None:
    v = Violations()
    validation.plan(v, "unknown", 7, default=Plan.PLAN_FREE)
    validation.plan(v, "unset", Plan.PLAN_UNSPECIFIED, default=None)
    validation.plan(v, "negative", -1, default=None)
    assert ["unknown", "unset", "negative"] == fields_of(v)


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
    v = Violations()
    assert full == validation.view(v, "view", value, default=default)
    assert [] == fields_of(v)


def test_view_must_be_a_known_value() -> None:
    v = Violations()
    validation.view(v, "view", 3, default=MindmapView.MINDMAP_VIEW_FULL)
    assert ["view"] == fields_of(v)


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
    v = Violations()
    allowed = ("email", "display_name", "plan")
    assert expected == validation.update_mask(v, "update_mask", FieldMask(paths=paths), allowed)
    assert [] == fields_of(v)


@pytest.mark.parametrize("paths", [["id"], ["email", "etag"], ["*", "email"], ["user.email"]])
def test_update_mask_rejects_unknown_paths(paths: list[str]) -> None:
    v = Violations()
    validation.update_mask(v, "update_mask", FieldMask(paths=paths), ("email",))
    assert ["update_mask"] == fields_of(v)


def test_batch_ids_bounds_the_count_and_rejects_empty_ids() -> None:
    ok = Violations()
    validation.batch_ids(ok, "ids", ["x", "x"] * 500)
    assert [] == fields_of(ok)
    for count in (0, validation.MAX_BATCH + 1):
        v = Violations()
        validation.batch_ids(v, "ids", ["x"] * count)
        assert ["ids"] == fields_of(v)
    v = Violations()
    validation.batch_ids(v, "ids", ["x", "", "y", "z" * 65] * 1000)
    assert ["ids"] == fields_of(v)


def test_position_is_none_or_not_negative() -> None:
    v = Violations()
    assert validation.position(v, "position", None) is None
    assert 0 == validation.position(v, "position", 0)
    assert 2**31 - 1 == validation.position(v, "position", 2**31 - 1)
    validation.position(v, "position", -1)
    assert ["position"] == fields_of(v)


def test_required_id_is_1_to_64_characters() -> None:
    v = Violations()
    assert "any thing" == validation.required_id(v, "id", "any thing")
    assert "x" * 64 == validation.required_id(v, "id", "x" * 64)
    validation.required_id(v, "empty", "")
    validation.required_id(v, "long", "x" * 65)
    assert ["empty", "long"] == fields_of(v)


def test_must_be_empty() -> None:
    v = Violations()
    validation.must_be_empty(v, "fine", [], "why")
    validation.must_be_empty(v, "nodes", [object()], "why")
    assert ["nodes"] == fields_of(v)
