"""The OpenAPI 3.1 document: valid, complete for the exposed routes and nothing more, with
descriptions from the protos, problem+json errors, and schemas the real responses meet."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import grpc
import jsonschema
import pytest
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from openapi_spec_validator import validate as validate_openapi

from hub.client import SERVICE_DESCRIPTORS
from hub.config import ApiGateway
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeResponse,
    ListMindmapsResponse,
    Mindmap,
    Node,
)
from hub.contracts.user.v1.user_pb2 import BatchGetUsersResponse, Plan, User
from hub.frontends.rest.descriptors import proto_comments
from hub.frontends.rest.openapi import OPENAPI_VERSION, build_openapi
from hub.frontends.rest.problems import PROBLEM_JSON, problem
from hub.frontends.rest.routes import Exposure, HttpRoute, expose, http_routes
from hub.frontends.rest.schema import Schemas
from hub.frontends.rpc_error import FieldProblem
from hub.parts.gateway import rest_routes
from tests.frontends.rest.conftest import hub_routes

METHODS = ("get", "put", "post", "delete", "patch")
USERS = SERVICE_DESCRIPTORS["user-service"].full_name


def document_of(routes: list[HttpRoute]) -> dict[str, Any]:
    return build_openapi(routes, Schemas(routes), title="hub", version="1.2.3")


@pytest.fixture(scope="module")
def exposed() -> list[HttpRoute]:
    """The routes the default gateway configuration exposes (SPEC §1)."""
    return rest_routes(ApiGateway())


@pytest.fixture(scope="module")
def document(exposed: list[HttpRoute]) -> dict[str, Any]:
    """The document of the default exposed routes."""
    return document_of(exposed)


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation of the document, by operationId."""
    return {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }


def shape(path: str) -> str:
    """A path with its parameter names left out: `/users/{}`."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node`, or what its `$ref` points at."""
    ref = node.get("$ref")
    if ref is None:
        return node
    found: Any = document
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return resolve(document, found)


def schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    """A validator of `schema`, whose `$ref`s point into the document's components."""
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def test_the_document_validates_as_openapi_3_1(document: dict[str, Any]) -> None:
    """openapi-spec-validator finds nothing wrong with it."""
    validate_openapi(document)
    assert OPENAPI_VERSION == document["openapi"]
    assert {"title": "hub", "version": "1.2.3"}.items() <= document["info"].items()


def test_every_binding_of_every_service_makes_a_valid_document() -> None:
    """Also with additional bindings (PATCH) and both services in full."""
    validate_openapi(document_of(hub_routes()))


def test_every_exposed_route_is_an_operation_and_only_those(
    document: dict[str, Any], exposed: list[HttpRoute]
) -> None:
    """One operation per exposed route, under its path; routes not exposed (PATCH) are
    absent."""
    documented = sorted(
        (method.upper(), shape(path))
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    )
    expected = sorted((r.http_method, shape(r.template.openapi_path)) for r in exposed)
    assert expected == documented
    assert "PATCH" not in {method for method, _ in documented}


def test_a_narrower_exposure_documents_only_what_it_exposes() -> None:
    """GET of the users prefix only: the user reads, nothing of mindmaps or writes."""
    routes = expose(hub_routes(), [Exposure("/api/v1/users", USERS, frozenset({"GET"}))])
    ids = sorted(operations(document_of(routes)))
    assert ["UserService_BatchGetUsers", "UserService_GetUser", "UserService_ListUsers"] == ids


def test_operation_ids_are_unique_and_name_the_rpc() -> None:
    """`<Service>_<Method>`; a method's later bindings are numbered."""
    routes = hub_routes()
    document = document_of(routes)
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(routes) == len(ids)
    assert len(ids) == len(set(ids))
    assert {"UserService_UpdateUser", "UserService_UpdateUser_2"} <= set(ids)
    assert "patch" == next(
        method
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS and operation["operationId"] == "UserService_UpdateUser_2"
    )


def test_paths_of_one_shape_share_their_parameter_names(document: dict[str, Any]) -> None:
    """OpenAPI forbids `/users/{id}` beside `/users/{user.id}`: UpdateUser is documented
    under GetUser's path, its path parameter under GetUser's name."""
    item = document["paths"]["/api/v1/users/{id}"]
    assert {"get", "put", "delete"} == set(item)
    put = item["put"]["parameters"][0]
    assert ("id", "path", "Server-assigned identifier (a UUID).") == (
        put["name"],
        put["in"],
        put["description"],
    )
    assert [] == [path for path in document["paths"] if "{user.id}" in path]


def test_descriptions_come_from_the_proto_comments(document: dict[str, Any]) -> None:
    """Operations, tags, parameters, bodies, responses and schemas say what the protos say."""
    get_user = operations(document)["UserService_GetUser"]
    assert ("Returns one user.", "Returns one user.") == (
        get_user["summary"],
        get_user["description"],
    )
    assert "The user." == get_user["responses"]["200"]["description"]
    tags = {tag["name"]: tag.get("description") for tag in document["tags"]}
    assert {"UserService": "Manages users.", "MindmapService": tags["MindmapService"]} == tags
    assert "Manages mindmaps and the nodes of their trees." == tags["MindmapService"]
    batch = operations(document)["UserService_BatchGetUsers"]
    assert "Returns several users by id, in the order asked." == batch["summary"]
    create = operations(document)["UserService_CreateUser"]
    assert (
        "The user to create; id, times and etag are assigned by the server."
        == (create["requestBody"]["description"])
    )
    email = document["components"]["schemas"]["hub.user.v1.User"]["properties"]["email"]
    assert email["description"].startswith("Email address, unique across users")


def test_rules_appear_as_keywords(document: dict[str, Any]) -> None:
    """The proto's field rules are JSON Schema keywords of the published schemas."""
    user = document["components"]["schemas"]["hub.user.v1.User"]
    assert (1, 100, NOT_BLANK) == tuple(
        user["properties"]["displayName"][k] for k in ("minLength", "maxLength", "pattern")
    )
    list_users = operations(document)["UserService_ListUsers"]
    page_size = next(p for p in list_users["parameters"] if p.get("name") == "pageSize")
    assert (0, 1000) == (page_size["schema"]["minimum"], page_size["schema"]["maximum"])
    update_user = operations(document)["UserService_UpdateUser"]
    mask = next(p for p in update_user["parameters"] if p.get("name") == "updateMask")
    assert {"type": "string", "pattern": USER_MASK} == mask["schema"]


NOT_BLANK = r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""The pattern of the fields that must not be blank: a character that is not white space."""
USER_MASK = r"^(?:\*|(?:email|displayName|plan)(?:,(?:email|displayName|plan))*)?$(?!\n)"
"""The pattern of UpdateUser's mask: its `mask_paths` in lowerCamelCase, or `*`, or nothing."""


def test_query_parameters_of_repeated_fields_are_exploded_arrays(document: dict[str, Any]) -> None:
    """`ids=a&ids=b`, required since the field is."""
    batch = operations(document)["UserService_BatchGetUsers"]
    ids = next(p for p in batch["parameters"] if p.get("name") == "ids")
    assert ("query", True, "form", True, "array", 1000) == (
        ids["in"],
        ids["required"],
        ids["style"],
        ids["explode"],
        ids["schema"]["type"],
        ids["schema"]["maxItems"],
    )


def test_request_bodies_are_required_json(document: dict[str, Any]) -> None:
    """A body field's schema, or for `body: "*"` the request less its path fields."""
    create = operations(document)["UserService_CreateUser"]["requestBody"]
    assert True is create["required"]
    assert {"$ref": "#/components/schemas/hub.user.v1.User"} == (
        create["content"]["application/json"]["schema"]
    )
    add_node = operations(document)["MindmapService_AddNode"]["requestBody"]
    schema = add_node["content"]["application/json"]["schema"]
    assert ["etag", "node", "position"] == sorted(schema["properties"])
    assert ["node"] == schema["required"]


def test_errors_are_problem_json_with_the_grpc_details(document: dict[str, Any]) -> None:
    """Every non-200 response is `application/problem+json` with the Problem schema, which
    carries the gRPC code, the reason and the field violations."""
    for operation in operations(document).values():
        for status, response in operation["responses"].items():
            if status == "200":
                continue
            content = resolve(document, response)["content"]
            assert {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}} == content
    schemas = document["components"]["schemas"]
    properties = schemas["Problem"]["properties"]
    assert {"grpcCode", "reason", "fieldViolations", "status", "detail"} <= properties.keys()
    assert "INVALID_ARGUMENT" in properties["grpcCode"]["enum"]
    assert ["description", "field"] == sorted(schemas["FieldViolation"]["properties"])


@pytest.mark.parametrize(
    ("operation_id", "statuses"),
    [
        ("UserService_GetUser", [200, 400, 404, 409, 429, 500, 503, 504]),
        ("UserService_ListUsers", [200, 400, 404, 409, 429, 500, 503, 504]),
        ("UserService_DeleteUser", [200, 400, 404, 409, 412, 429, 500, 503, 504]),
        ("UserService_UpdateUser", [200, 400, 404, 409, 412, 413, 415, 429, 500, 503, 504]),
        ("MindmapService_MoveNode", [200, 400, 404, 409, 412, 413, 415, 429, 500, 503, 504]),
    ],
)
def test_each_operation_lists_the_statuses_the_app_can_answer(
    document: dict[str, Any], operation_id: str, statuses: list[int]
) -> None:
    """412 where `If-Match` applies, 413 and 415 where a body is read, the gRPC table's
    statuses everywhere."""
    documented = sorted(int(s) for s in operations(document)[operation_id]["responses"])
    assert statuses == documented


def test_with_authentication_on_bearer_tokens_are_the_documents_security(
    exposed: list[HttpRoute], document: dict[str, Any]
) -> None:
    """The `bearerAuth` scheme is required by the document, optional where the RPC is open
    without credentials; every operation lists 401 (with its challenge) and 403. The
    default configuration's document has none of it."""
    create = f"/{USERS}/CreateUser"
    secured = build_openapi(
        exposed, Schemas(exposed), title="hub", version="1.2.3", anonymous=frozenset({create})
    )
    validate_openapi(secured)
    assert [{"bearerAuth": []}] == secured["security"]
    assert {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}.items() <= secured[
        "components"
    ]["securitySchemes"]["bearerAuth"].items()
    by_id = operations(secured)
    assert [{}, {"bearerAuth": []}] == by_id["UserService_CreateUser"]["security"]
    assert "security" not in by_id["UserService_GetUser"]
    assert all({"401", "403"} <= operation["responses"].keys() for operation in by_id.values())
    unauthorized = resolve(secured, by_id["UserService_GetUser"]["responses"]["401"])
    assert "WWW-Authenticate" in unauthorized["headers"]

    assert "security" not in document
    assert "securitySchemes" not in document["components"]
    assert {"Unauthorized", "Forbidden"}.isdisjoint(document["components"]["responses"])


def test_etag_is_documented_where_the_app_sends_it(document: dict[str, Any]) -> None:
    """On user and mindmap answers (and node operations, which answer the mindmap), not on
    lists or deletions."""
    with_etag = sorted(
        operation_id
        for operation_id, operation in operations(document).items()
        if "ETag" in operation["responses"]["200"].get("headers", {})
    )
    assert [
        "MindmapService_AddNode",
        "MindmapService_CreateMindmap",
        "MindmapService_DeleteNode",
        "MindmapService_GetMindmap",
        "MindmapService_MoveNode",
        "MindmapService_UpdateMindmap",
        "MindmapService_UpdateNode",
        "UserService_CreateUser",
        "UserService_GetUser",
        "UserService_UpdateUser",
    ] == with_etag


def test_request_headers_are_described_not_listed(document: dict[str, Any]) -> None:
    """`If-Match`, `X-Request-Timeout` and `X-Request-Id` are explained in the API's
    description; no operation lists a header parameter (see openapi.py for why)."""
    description = document["info"]["description"]
    assert [] == [
        h for h in ("If-Match", "X-Request-Timeout", "X-Request-Id") if h not in description
    ]
    headers = [
        parameter
        for operation in operations(document).values()
        for parameter in operation.get("parameters", [])
        if parameter.get("in") == "header"
    ]
    assert [] == headers


def test_path_parameter_names_have_no_dots(document: dict[str, Any]) -> None:
    """`{node.id}` is documented as `{node_id}`: tools fill paths in with `str.format`."""
    assert "/api/v1/mindmaps/{mindmap_id}/nodes/{node_id}" in document["paths"]
    assert [] == [path for path in document["paths"] if "." in path]


def test_problem_bodies_meet_the_problem_schema(document: dict[str, Any]) -> None:
    """What `problems.problem` writes is what the document promises."""
    body = problem(
        400,
        "invalid request: user.email",
        code=grpc.StatusCode.INVALID_ARGUMENT,
        instance="/api/v1/users",
        reason="INVALID_ARGUMENT",
        field_violations=(FieldProblem("user.email", "is required"),),
        extra={"retryAfterSeconds": 1.5},
    )
    problem_schema = {"$ref": "#/components/schemas/Problem"}
    assert [] == list(schema_validator(document, problem_schema).iter_errors(body))


def stamp() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime(2024, 5, 1, 12, 30, tzinfo=UTC))
    return stamp


def a_user() -> User:
    return User(
        id="u-1",
        email="ann@example.com",
        display_name="Ann",
        plan=Plan.PLAN_PRO,
        create_time=stamp(),
        update_time=stamp(),
        etag="e1",
    )


def a_mindmap() -> Mindmap:
    return Mindmap(
        id="m-1",
        owner_id="u-1",
        title="Plans",
        nodes=[
            Node(id="n-1", text="Plans"),
            Node(id="n-2", parent_id="n-1", text="More", position=0),
        ],
        etag="e2",
        node_count=2,
        create_time=stamp(),
        update_time=stamp(),
    )


@pytest.mark.parametrize(
    ("operation_id", "message"),
    [
        ("UserService_GetUser", a_user()),
        ("UserService_BatchGetUsers", BatchGetUsersResponse(users=[a_user()], missing_ids=["x"])),
        ("MindmapService_GetMindmap", a_mindmap()),
        ("MindmapService_ListMindmaps", ListMindmapsResponse(mindmaps=[a_mindmap()])),
        (
            "MindmapService_AddNode",
            AddNodeResponse(node=Node(id="n-3", parent_id="n-1", text="New"), mindmap=a_mindmap()),
        ),
    ],
)
def test_rendered_responses_meet_their_schema(
    document: dict[str, Any], operation_id: str, message: Message
) -> None:
    """The JSON the app renders validates against the 200 response schema."""
    response = operations(document)[operation_id]["responses"]["200"]
    schema = response["content"]["application/json"]["schema"]
    assert [] == [
        e.message
        for e in schema_validator(document, schema).iter_errors(
            json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
        )
    ]


def test_a_new_annotated_rpc_is_documented_with_no_code_change(
    widgets: ServiceDescriptor, testdata_descriptors: descriptor_pb2.FileDescriptorSet
) -> None:
    """The test-only WidgetService's routes appear, described by their comments."""
    routes = http_routes([widgets])
    schemas = Schemas(routes, comments=proto_comments(testdata_descriptors))
    document = build_openapi(routes, schemas, title="widgets", version="0")
    validate_openapi(document)
    polish = operations(document)["WidgetService_PolishWidget"]
    assert "Polishes a widget." == polish["description"]
    assert "/v1/shelves/{shelf}/widgets/{widget_name}:polish" in document["paths"]
