"""HTTP input to RPC requests and responses to JSON, per http rule, without sockets."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    GetMindmapRequest,
    MindmapView,
    Node,
)
from hub.contracts.user.v1.user_pb2 import (
    BatchGetUsersRequest,
    CreateUserRequest,
    ListUsersRequest,
    Plan,
    UpdateUserRequest,
    User,
)
from hub.frontends.rest.routes import http_routes
from hub.frontends.rest.transcode import (
    BadRequest,
    HttpInput,
    build_request,
    etag_field,
    response_etag_field,
)
from hub.frontends.rpc_error import FieldProblem
from tests.frontends.rest.conftest import hub_routes, route_of

ROUTES = hub_routes()


def _build(
    method: str,
    *,
    path: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
    body: Any = None,
    http_method: str | None = None,
) -> Message:
    route = route_of(ROUTES, method, http_method)
    return build_request(route, HttpInput(path or {}, query or [], body))


def _problems(method: str, **given: Any) -> list[FieldProblem]:
    with pytest.raises(BadRequest) as raised:
        _build(method, **given)
    return list(raised.value.problems)


def test_body_field_becomes_that_field() -> None:
    """`body: "user"`: the JSON body is the user; camelCase and original names both work."""
    built = _build("CreateUser", body={"email": "ada@example.com", "display_name": "Ada"})

    assert CreateUserRequest(user=User(email="ada@example.com", display_name="Ada")) == built


def test_patch_derives_the_mask_from_the_fields_the_body_names() -> None:
    """PATCH is a partial update: without `updateMask`, the mask is the body's top-level
    fields, less the one the path sets, `etag` and output-only fields."""
    built = _build(
        "UpdateUser",
        http_method="PATCH",
        path={"user.id": "u-1"},
        body={
            "displayName": "Ada",
            "plan": "PLAN_PRO",
            "id": "u-1",
            "etag": "e",
            "createTime": None,
        },
    )

    expected = UpdateUserRequest(
        user=User(id="u-1", display_name="Ada", plan=Plan.PLAN_PRO, etag="e"),
        update_mask=FieldMask(paths=["display_name", "plan"]),
    )
    assert expected == built


def test_patch_keeps_a_mask_the_query_sets_and_put_derives_none() -> None:
    patched = _build(
        "UpdateUser",
        http_method="PATCH",
        path={"user.id": "u-1"},
        body={"displayName": "Ada", "email": "ada@example.com"},
        query=[("updateMask", "email")],
    )
    put = _build(
        "UpdateUser",
        http_method="PUT",
        path={"user.id": "u-1"},
        body={"displayName": "Ada", "email": "ada@example.com"},
    )

    assert ["email"] == list(patched.update_mask.paths)  # type: ignore[attr-defined]
    assert [] == list(put.update_mask.paths)  # type: ignore[attr-defined]


def test_path_variable_wins_over_the_body() -> None:
    """`{user.id}` sets the nested id, replacing an id the body gave under either name."""
    built = _build(
        "UpdateUser",
        path={"user.id": "u-1"},
        body={"id": "other", "displayName": "Ada"},
        query=[("updateMask", "displayName,plan")],
    )

    expected = UpdateUserRequest(
        user=User(id="u-1", display_name="Ada"),
        update_mask=FieldMask(paths=["display_name", "plan"]),
    )
    assert expected == built


def test_star_body_is_the_whole_request_with_path_fields() -> None:
    """`body: "*"`: the body holds every field the path does not; integral floats are
    accepted for integer fields."""
    built = _build(
        "AddNode",
        path={"mindmap_id": "m-1"},
        body={"node": {"parentId": "root", "text": "Idea"}, "position": 2.0, "etag": "e1"},
    )

    expected = AddNodeRequest(
        mindmap_id="m-1", node=Node(parent_id="root", text="Idea"), position=2, etag="e1"
    )
    assert expected == built


def test_query_parameters_by_json_or_original_name() -> None:
    """Without a body, fields come from the query, by either name; enums by name."""
    assert ListUsersRequest(page_size=25, page_token="t") == _build(
        "ListUsers", query=[("pageSize", "25"), ("page_token", "t")]
    )
    built = _build("GetMindmap", path={"id": "m-1"}, query=[("view", "MINDMAP_VIEW_BASIC")])
    assert GetMindmapRequest(id="m-1", view=MindmapView.MINDMAP_VIEW_BASIC) == built


def test_repeated_query_parameter_collects_every_value() -> None:
    """A repeated field is given by repeating its key."""
    built = _build("BatchGetUsers", query=[("ids", "a"), ("ids", "b"), ("ids", "a")])

    assert BatchGetUsersRequest(ids=["a", "b", "a"]) == built


def test_nested_and_bool_query_parameters(widgets: ServiceDescriptor) -> None:
    """Nested fields by dotted names; a bool takes `true` or `false` (the JSON mapping
    alone would refuse the text "true")."""
    route = route_of(http_routes([widgets]), "ListWidgets")
    query = [("includeHidden", "true"), ("filter.color", "red"), ("tags", "x"), ("tags", "y")]

    built = build_request(route, HttpInput({"shelf": "s1"}, query, None))

    assert {
        "shelf": "s1",
        "includeHidden": True,
        "tags": ["x", "y"],
        "filter": {"color": "red"},
    } == json_format.MessageToDict(built)


@pytest.mark.parametrize(
    ("method", "given", "expected"),
    [
        (
            "AddNode",
            {"path": {"mindmap_id": "m"}, "query": [("etag", "e")], "body": {}},
            [FieldProblem("etag", "query parameters are not accepted here")],
        ),
        (
            "ListUsers",
            {"query": [("pageSize", "1"), ("colour", "red")]},
            [FieldProblem("colour", "unknown query parameter")],
        ),
        (
            "GetUser",
            {"path": {"id": "u"}, "query": [("id", "v")]},
            [FieldProblem("id", "is set by the path or the body, not the query")],
        ),
        (
            "UpdateUser",
            {"path": {"user.id": "u"}, "query": [("user.email", "x@y.z")], "body": {}},
            [FieldProblem("user.email", "is set by the path or the body, not the query")],
        ),
        (
            "ListUsers",
            {"query": [("pageSize", "1"), ("page_size", "2")]},
            [FieldProblem("page_size", "is given more than once")],
        ),
        (
            "AddNode",
            {"path": {"mindmap_id": "m"}, "body": ["not", "an", "object"]},
            [FieldProblem("", "must be a JSON object")],
        ),
        (
            "UpdateUser",
            {"path": {"user.id": "u"}, "body": "text"},
            [FieldProblem("user", "must be a JSON object")],
        ),
    ],
)
def test_requests_that_cannot_be_built(
    method: str, given: dict[str, Any], expected: list[FieldProblem]
) -> None:
    """Query parameters that name nothing settable, and bodies of the wrong shape."""
    assert expected == _problems(method, **given)


def test_bad_bool_query_value(widgets: ServiceDescriptor) -> None:
    """A bool query value other than true/false is named."""
    route = route_of(http_routes([widgets]), "ListWidgets")

    with pytest.raises(BadRequest) as raised:
        build_request(route, HttpInput({"shelf": "s"}, [("include_hidden", "yes")], None))

    assert [FieldProblem("include_hidden", "expected true or false")] == list(raised.value.problems)


def test_message_query_parameter_is_refused(widgets: ServiceDescriptor) -> None:
    """A message field is set through its own fields, never as one query value."""
    route = route_of(http_routes([widgets]), "ListWidgets")

    with pytest.raises(BadRequest) as raised:
        build_request(route, HttpInput({"shelf": "s"}, [("filter", "red")], None))

    assert ["filter"] == [p.field for p in raised.value.problems]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": 5}, "user.email"),
        ({"plan": "PLAN_GOLD"}, "user.plan"),
        ({"createTime": "yesterday"}, "user.createTime"),
        ({"colour": "red"}, "user"),
    ],
)
def test_json_mapping_errors_name_the_field(body: dict[str, Any], field: str) -> None:
    """What the proto3 JSON mapping refuses is reported on the field it failed on."""
    problems = _problems("CreateUser", body=body)

    assert [field] == [p.field for p in problems]


@pytest.mark.parametrize(
    ("method", "http_method", "expected"),
    [
        ("DeleteUser", None, ("etag",)),
        ("UpdateUser", "PUT", ("user", "etag")),
        ("UpdateMindmap", "PATCH", ("mindmap", "etag")),
        ("UpdateNode", None, ("etag",)),
        ("GetUser", None, None),
        ("CreateUser", None, ("user", "etag")),
    ],
)
def test_where_if_match_goes(
    method: str, http_method: str | None, expected: tuple[str, ...] | None
) -> None:
    """The request's own etag field, else the body field's."""
    assert expected == etag_field(route_of(ROUTES, method, http_method))


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("GetMindmap", ("etag",)),
        ("UpdateUser", ("etag",)),
        ("AddNode", ("mindmap", "etag")),
        ("DeleteNode", ("mindmap", "etag")),
        ("ListMindmaps", None),
        ("BatchGetUsers", None),
        ("DeleteMindmap", None),
    ],
)
def test_where_the_response_etag_is(method: str, expected: tuple[str, ...] | None) -> None:
    """The answered message's own etag, else that of its one message field with one."""
    assert expected == response_etag_field(route_of(ROUTES, method))
