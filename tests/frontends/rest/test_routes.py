"""Routes from `google.api.http` rules (`routes.http_routes`) and their exposure by the
gateway configuration (`routes.expose`); bad rules raise `RouteError` at start-up."""

from __future__ import annotations

from typing import Any

import google.api.annotations_pb2 as annotations_pb2
import google.api.http_pb2 as http_pb2
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import ServiceDescriptor

from hub.client import SERVICE_DESCRIPTORS
from hub.contracts.user.v1.user_pb2 import UpdateUserRequest, UpdateUserResponse
from hub.frontends.rest.descriptors import descriptor_pool_of
from hub.frontends.rest.routes import Exposure, HttpRoute, RouteError, expose, http_routes
from tests.frontends.rest.conftest import hub_routes, route_of

USERS = SERVICE_DESCRIPTORS["user-service"].full_name
MINDMAPS = SERVICE_DESCRIPTORS["mindmap-service"].full_name
WRITES_AND_READS = frozenset({"GET", "POST", "PUT", "DELETE"})

# (HTTP method, template, RPC, body, response_body) of every binding, in declaration order.
HUB_BINDINGS = [
    ("POST", "/api/v1/users", "CreateUser", "user", "user"),
    ("GET", "/api/v1/users/{id}", "GetUser", "", "user"),
    ("GET", "/api/v1/users:batchGet", "BatchGetUsers", "", ""),
    ("GET", "/api/v1/users", "ListUsers", "", ""),
    ("PUT", "/api/v1/users/{user.id}", "UpdateUser", "user", "user"),
    ("PATCH", "/api/v1/users/{user.id}", "UpdateUser", "user", "user"),
    ("DELETE", "/api/v1/users/{id}", "DeleteUser", "", ""),
    ("POST", "/api/v1/mindmaps", "CreateMindmap", "mindmap", "mindmap"),
    ("GET", "/api/v1/mindmaps/{id}", "GetMindmap", "", "mindmap"),
    ("GET", "/api/v1/mindmaps:batchGet", "BatchGetMindmaps", "", ""),
    ("GET", "/api/v1/mindmaps", "ListMindmaps", "", ""),
    ("GET", "/api/v1/mindmaps:batchList", "BatchListMindmaps", "", ""),
    ("PUT", "/api/v1/mindmaps/{mindmap.id}", "UpdateMindmap", "mindmap", "mindmap"),
    ("PATCH", "/api/v1/mindmaps/{mindmap.id}", "UpdateMindmap", "mindmap", "mindmap"),
    ("DELETE", "/api/v1/mindmaps/{id}", "DeleteMindmap", "", ""),
    ("POST", "/api/v1/mindmaps/{mindmap_id}/nodes", "AddNode", "*", ""),
    ("PUT", "/api/v1/mindmaps/{mindmap_id}/nodes/{node.id}", "UpdateNode", "*", ""),
    ("POST", "/api/v1/mindmaps/{mindmap_id}/nodes/{node_id}:move", "MoveNode", "*", ""),
    ("DELETE", "/api/v1/mindmaps/{mindmap_id}/nodes/{node_id}", "DeleteNode", "", ""),
]


def bindings(routes: list[HttpRoute]) -> list[tuple[str, str, str, str, str]]:
    return [
        (r.http_method, r.template.source, r.method.name, r.body, r.response_body) for r in routes
    ]


def test_every_binding_of_the_hub_services_is_a_route() -> None:
    """Each http rule and each of its additional bindings, in declaration order."""
    assert HUB_BINDINGS == bindings(hub_routes())


def test_a_route_knows_its_rpc_and_message_types() -> None:
    """The wire path, the service's full name, the request and response classes."""
    route = route_of(hub_routes(), "UpdateUser", "PATCH")
    assert "/hub.user.v1.UserService/UpdateUser" == route.rpc_path
    assert USERS == route.service
    assert "hub.user.v1.UpdateUserRequest" == route.request_descriptor.full_name
    assert UpdateUserRequest.DESCRIPTOR == route.request_type.DESCRIPTOR
    assert UpdateUserResponse.DESCRIPTOR == route.response_type.DESCRIPTOR


def exposed(*exposures: Exposure) -> list[tuple[str, str]]:
    return [(r.http_method, r.template.source) for r in expose(hub_routes(), exposures)]


def test_expose_by_prefix_service_and_method() -> None:
    """The default users entry: every user route but PATCH, verbs (`:batchGet`) included."""
    assert [
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/users/{id}"),
        ("GET", "/api/v1/users:batchGet"),
        ("GET", "/api/v1/users"),
        ("PUT", "/api/v1/users/{user.id}"),
        ("DELETE", "/api/v1/users/{id}"),
    ] == exposed(Exposure("/api/v1/users", USERS, WRITES_AND_READS))


def test_expose_filters_by_method() -> None:
    """Only the listed methods."""
    assert [("DELETE", "/api/v1/users/{id}")] == exposed(
        Exposure("/api/v1/users", USERS, frozenset({"DELETE"}))
    )


def test_expose_needs_the_routes_own_service() -> None:
    """A prefix served by another service exposes nothing of it."""
    assert [] == exposed(Exposure("/api/v1/users", MINDMAPS, WRITES_AND_READS))


@pytest.mark.parametrize(
    ("prefix", "count"),
    [
        ("/api/v1/users", 6),
        ("/api/v1/users/", 6),
        ("/api", 6),
        ("/", 6),
        ("/api/v1/user", 0),
        ("/api/v1/users/x", 0),
        ("/api/v1/users:batchGet", 0),
    ],
)
def test_expose_prefixes_align_with_segments(prefix: str, count: int) -> None:
    """A prefix covers a template whose literal beginning is it or continues it with `/`:
    `/api/v1/user` is not a prefix of `/api/v1/users`, and a prefix longer than the
    literal part (`/api/v1/users/x`) covers nothing."""
    assert count == len(exposed(Exposure(prefix, USERS, WRITES_AND_READS)))


def test_expose_keeps_the_declaration_order_and_joins_entries() -> None:
    """Several entries: the union, in the routes' own order, each route once."""
    result = exposed(
        Exposure("/api/v1/mindmaps", MINDMAPS, frozenset({"DELETE"})),
        Exposure("/api/v1/users", USERS, frozenset({"GET"})),
        Exposure("/api/v1/users", USERS, frozenset({"GET", "DELETE"})),
    )
    assert [
        ("GET", "/api/v1/users/{id}"),
        ("GET", "/api/v1/users:batchGet"),
        ("GET", "/api/v1/users"),
        ("DELETE", "/api/v1/users/{id}"),
        ("DELETE", "/api/v1/mindmaps/{id}"),
        ("DELETE", "/api/v1/mindmaps/{mindmap_id}/nodes/{node_id}"),
    ] == result


def service_with(*rules: http_pb2.HttpRule | None) -> ServiceDescriptor:
    """A test-only service whose methods `M0`, `M1`... carry `rules` (None: no rule), with
    request `Req {string id; Inner inner; int32 count}` and response `Resp {Inner inner}`."""
    file = descriptor_pb2.FileDescriptorProto(
        name="hubtest/routes/v1/routes.proto",
        package="hubtest.routes.v1",
        syntax="proto3",
        dependency=["google/api/annotations.proto"],
    )
    string, message, int32 = (
        descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
        descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    )
    inner = file.message_type.add(name="Inner")
    inner.field.add(name="name", number=1, type=string, json_name="name")
    request = file.message_type.add(name="Req")
    request.field.add(name="id", number=1, type=string, json_name="id")
    request.field.add(
        name="inner",
        number=2,
        type=message,
        type_name=".hubtest.routes.v1.Inner",
        json_name="inner",
    )
    request.field.add(name="count", number=3, type=int32, json_name="count")
    response = file.message_type.add(name="Resp")
    response.field.add(
        name="inner",
        number=1,
        type=message,
        type_name=".hubtest.routes.v1.Inner",
        json_name="inner",
    )
    service = file.service.add(name="Routes")
    for index, rule in enumerate(rules):
        method = service.method.add(
            name=f"M{index}",
            input_type=".hubtest.routes.v1.Req",
            output_type=".hubtest.routes.v1.Resp",
        )
        if rule is not None:
            extensions: Any = method.options.Extensions  # the stubs miss google.api's extension
            extensions[annotations_pb2.http].CopyFrom(rule)
    pool = descriptor_pool_of(descriptor_pb2.FileDescriptorSet(file=[file]))
    return pool.FindServiceByName("hubtest.routes.v1.Routes")


def test_a_test_only_service_gets_its_routes_and_methods_without_a_rule_get_none() -> None:
    """Any service handed in is read the same way; nested path variables and a
    `response_body` work; a method without an http rule is not a route."""
    service = service_with(
        http_pb2.HttpRule(post="/v1/{inner.name}", body="*", response_body="inner"),
        None,
        http_pb2.HttpRule(get="/v1/items/{id}"),
    )
    assert [
        ("POST", "/v1/{inner.name}", "M0", "*", "inner"),
        ("GET", "/v1/items/{id}", "M2", "", ""),
    ] == bindings(http_routes([service]))


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            http_pb2.HttpRule(custom=http_pb2.CustomHttpPattern(kind="HEAD", path="/v1/x")),
            "unsupported http pattern 'custom'",
        ),
        (http_pb2.HttpRule(body="*"), "unsupported http pattern None"),
        (http_pb2.HttpRule(get="v1/items"), "a template starts with '/'"),
        (http_pb2.HttpRule(get="/v1/{id"), "empty segment or unbalanced braces"),
        (http_pb2.HttpRule(post="/v1/items", body="nope"), "body field 'nope' does not exist"),
        (http_pb2.HttpRule(get="/v1/items", response_body="nope"), "response_body 'nope'"),
        (http_pb2.HttpRule(get="/v1/{nope}"), "path variable 'nope' names no field"),
        (http_pb2.HttpRule(get="/v1/{id.sub}"), "'id' in a path variable is no message"),
        (http_pb2.HttpRule(get="/v1/{inner.nope}"), "path variable 'inner.nope' names no field"),
    ],
)
def test_a_rule_that_cannot_be_served_is_a_route_error(
    rule: http_pb2.HttpRule, message: str
) -> None:
    """The error names the method and what is wrong with its rule."""
    with pytest.raises(RouteError) as raised:
        http_routes([service_with(rule)])
    assert str(raised.value).startswith("hubtest.routes.v1.Routes.M0: ")
    assert message in str(raised.value)


def test_an_additional_binding_that_cannot_be_served_is_a_route_error() -> None:
    """Additional bindings are checked like the main one."""
    rule = http_pb2.HttpRule(
        get="/v1/items/{id}", additional_bindings=[http_pb2.HttpRule(get="/v1/{nope}")]
    )
    with pytest.raises(RouteError, match="names no field"):
        http_routes([service_with(rule)])
