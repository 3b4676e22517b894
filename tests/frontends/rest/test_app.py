"""The REST front end end to end: a whole hub (both backend bindings), a real uvicorn server,
an HTTP client; every route, pagination, field masks, etag preconditions, and the same data
read back over gRPC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc import aio

from hub.contracts.mindmap.v1.mindmap_pb2 import GetMindmapRequest
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, GetUserRequest, User
from hub.testing import RunningHub, running_hub

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
PROBLEM_JSON = "application/problem+json"


def _json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def _ok(response: httpx.Response) -> Any:
    assert (200, "application/json") == (
        response.status_code,
        response.headers["content-type"],
    ), response.text
    return response.json()


def _problem(response: httpx.Response) -> dict[str, Any]:
    assert PROBLEM_JSON == response.headers["content-type"], response.text
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> set[str]:
    return {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    }


async def _user(http: httpx.AsyncClient, email: str = "ada@example.com") -> dict[str, Any]:
    body: dict[str, Any] = _ok(
        await http.post("/api/v1/users", json={"email": email, "displayName": "Ada"})
    )
    return body


async def _mindmap(http: httpx.AsyncClient, owner_id: str, title: str = "Plans") -> Any:
    return _ok(await http.post("/api/v1/mindmaps", json={"ownerId": owner_id, "title": title}))


async def test_user_lifecycle(http: httpx.AsyncClient, running: RunningHub) -> None:
    """Create, get, list, batch get, update with a mask, delete; gRPC reads the same."""
    created = await http.post(
        "/api/v1/users", json={"email": "Ada@Example.com", "displayName": " Ada "}
    )
    user = _ok(created)
    assert ("Ada@Example.com", "Ada", "PLAN_FREE") == (
        user["email"],
        user["displayName"],
        user["plan"],
    )
    assert f'"{user["etag"]}"' == created.headers["etag"]
    assert user == _ok(await http.get(f"/api/v1/users/{user['id']}"))
    assert user == _json((await running.users.GetUser(GetUserRequest(id=user["id"]))).user)
    assert {"users": [user], "nextPageToken": ""} == _ok(await http.get("/api/v1/users"))
    batch = await http.get(
        "/api/v1/users:batchGet", params=[("ids", user["id"]), ("ids", UNKNOWN_ID)]
    )
    assert {"users": [user], "missingIds": [UNKNOWN_ID]} == _ok(batch)

    updated = _ok(
        await http.put(
            f"/api/v1/users/{user['id']}",
            params={"updateMask": "displayName,plan"},
            json={"displayName": "Ada L.", "plan": "PLAN_PRO", "email": "other@example.com"},
        )
    )

    assert ("Ada@Example.com", "Ada L.", "PLAN_PRO") == (
        updated["email"],
        updated["displayName"],
        updated["plan"],
    )
    assert updated == _json((await running.users.GetUser(GetUserRequest(id=user["id"]))).user)
    assert {} == _ok(await http.delete(f"/api/v1/users/{user['id']}"))
    gone = await http.get(f"/api/v1/users/{user['id']}")
    assert (404, "NOT_FOUND") == (gone.status_code, _problem(gone)["grpcCode"])
    with pytest.raises(aio.AioRpcError) as raised:
        await running.users.GetUser(GetUserRequest(id=user["id"]))
    assert grpc.StatusCode.NOT_FOUND == raised.value.code()


async def test_mindmap_and_node_lifecycle(http: httpx.AsyncClient, running: RunningHub) -> None:
    """Every mindmap route, node operations included; gRPC reads the same tree."""
    owner = await _user(http)
    created = await http.post(
        "/api/v1/mindmaps",
        json={"ownerId": owner["id"], "title": "Plans", "description": "for 2025"},
    )
    mindmap = _ok(created)
    assert f'"{mindmap["etag"]}"' == created.headers["etag"]
    mindmap_id, root = mindmap["id"], mindmap["nodes"][0]["id"]
    nodes = f"/api/v1/mindmaps/{mindmap_id}/nodes"

    added = await http.post(nodes, json={"node": {"parentId": root, "text": "a"}})
    a = _ok(added)
    assert f'"{a["mindmap"]["etag"]}"' == added.headers["etag"]
    b = _ok(await http.post(nodes, json={"node": {"parentId": root, "text": "b"}, "position": 0}))
    edited = _ok(await http.put(f"{nodes}/{a['node']['id']}", json={"node": {"text": "A"}}))
    moved = _ok(
        await http.post(f"{nodes}/{b['node']['id']}:move", json={"newParentId": a["node"]["id"]})
    )
    assert ("A", a["node"]["id"]) == (edited["node"]["text"], moved["node"]["parentId"])
    c = _ok(await http.post(nodes, json={"node": {"parentId": root, "text": "c"}}))
    pruned = _ok(await http.delete(f"{nodes}/{c['node']['id']}"))

    tree = [(n["text"], n["position"]) for n in pruned["mindmap"]["nodes"]]
    assert [("Plans", 0), ("A", 0), ("b", 0)] == tree
    full = _ok(await http.get(f"/api/v1/mindmaps/{mindmap_id}"))
    assert full == pruned["mindmap"]
    grpc_copy = await running.mindmaps.GetMindmap(GetMindmapRequest(id=mindmap_id))
    assert full == _json(grpc_copy.mindmap)
    basic = _ok(await http.get(f"/api/v1/mindmaps/{mindmap_id}?view=MINDMAP_VIEW_BASIC"))
    assert ([], 3) == (basic["nodes"], basic["nodeCount"])

    retitled = _ok(
        await http.put(
            f"/api/v1/mindmaps/{mindmap_id}?updateMask=title",
            json={"ownerId": owner["id"], "title": "Big plans", "description": "not this"},
        )
    )
    assert ("Big plans", "for 2025") == (retitled["title"], retitled["description"])
    listed = _ok(await http.get("/api/v1/mindmaps", params={"ownerId": owner["id"]}))
    assert [(mindmap_id, "Big plans")] == [(m["id"], m["title"]) for m in listed["mindmaps"]]
    batch = _ok(await http.get(f"/api/v1/mindmaps:batchGet?ids={mindmap_id}&view=2"))
    assert [retitled] == batch["mindmaps"]
    assert {} == _ok(await http.delete(f"/api/v1/mindmaps/{mindmap_id}"))
    assert 404 == (await http.get(f"/api/v1/mindmaps/{mindmap_id}")).status_code


async def test_pagination(http: httpx.AsyncClient) -> None:
    """Pages of two, followed by their tokens, list every user once, oldest first."""
    created = [(await _user(http, f"u{i}@example.com"))["id"] for i in range(5)]
    pages: list[list[str]] = []
    token = ""
    while True:
        page = _ok(await http.get("/api/v1/users", params={"pageSize": 2, "pageToken": token}))
        pages.append([user["id"] for user in page["users"]])
        token = page["nextPageToken"]
        if not token:
            break

    assert [created[0:2], created[2:4], created[4:]] == pages


async def test_page_token_of_another_filter_is_refused(http: httpx.AsyncClient) -> None:
    """The backend's own field violation comes through as a problem."""
    owner = await _user(http)
    for title in ("one", "two"):
        await _mindmap(http, owner["id"], title)
    first = _ok(await http.get(f"/api/v1/mindmaps?ownerId={owner['id']}&pageSize=1"))

    refused = await http.get(f"/api/v1/mindmaps?pageToken={first['nextPageToken']}")

    problem = _problem(refused)
    assert (400, "INVALID_ARGUMENT", ["page_token"]) == (
        refused.status_code,
        problem["grpcCode"],
        [v["field"] for v in problem["fieldViolations"]],
    )


async def test_if_match_preconditions(http: httpx.AsyncClient) -> None:
    """A current If-Match applies the write and returns the new ETag; a stale one is 412 and
    changes nothing; `*` is unconditional; a stale etag in the body, without If-Match, 409."""
    owner = await _user(http)
    created = await http.post("/api/v1/mindmaps", json={"ownerId": owner["id"], "title": "v0"})
    path = f"/api/v1/mindmaps/{created.json()['id']}"
    first = created.headers["etag"]

    def titled(title: str, **more: str) -> dict[str, str]:
        return {"ownerId": owner["id"], "title": title, **more}

    applied = await http.put(path, json=titled("v1"), headers={"If-Match": first})
    second = applied.headers["etag"]
    stale = await http.put(path, json=titled("v2"), headers={"If-Match": first})
    stale_node = await http.post(
        f"{path}/nodes",
        json={"node": {"parentId": created.json()["nodes"][0]["id"], "text": "x"}},
        headers={"If-Match": first},
    )
    stale_delete = await http.delete(path, headers={"If-Match": first})
    stale_body = await http.put(path, json=titled("v2", etag=first.strip('"')))

    assert ("v1", True) == (_ok(applied)["title"], second != first)
    for refused in (stale, stale_node, stale_delete):
        problem = _problem(refused)
        assert (412, "ABORTED", "ETAG_MISMATCH") == (
            refused.status_code,
            problem["grpcCode"],
            problem["reason"],
        )
    assert (409, "ETAG_MISMATCH") == (stale_body.status_code, _problem(stale_body)["reason"])
    current = await http.get(path)
    assert ("v1", second) == (_ok(current)["title"], current.headers["etag"])
    unconditional = await http.put(path, json=titled("v3"), headers={"If-Match": "*"})
    assert "v3" == _ok(unconditional)["title"]
    third = (await http.get(path)).headers["etag"]
    assert {} == _ok(await http.delete(path, headers={"If-Match": third}))


async def test_user_if_match_goes_into_the_body_field(http: httpx.AsyncClient) -> None:
    """UpdateUser has no top-level etag: If-Match sets `user.etag`."""
    created = await http.post(
        "/api/v1/users", json={"email": "ada@example.com", "displayName": "Ada"}
    )
    path = f"/api/v1/users/{created.json()['id']}"
    await http.put(path, json={"email": "ada@example.com", "displayName": "Ada 2"})

    stale = await http.put(
        path,
        json={"email": "ada@example.com", "displayName": "Ada 3"},
        headers={"If-Match": created.headers["etag"]},
    )

    assert 412 == stale.status_code
    assert "Ada 2" == _ok(await http.get(path))["displayName"]


async def test_backend_failures_become_problems(http: httpx.AsyncClient) -> None:
    """Each backend status arrives with its HTTP status, reason and details."""
    owner = await _user(http)
    mindmap = await _mindmap(http, owner["id"])
    root = mindmap["nodes"][0]["id"]

    taken = await http.post(
        "/api/v1/users", json={"email": "ADA@example.com", "displayName": "Other"}
    )
    owned = await http.delete(f"/api/v1/users/{owner['id']}")
    orphan = await http.post("/api/v1/mindmaps", json={"ownerId": UNKNOWN_ID, "title": "x"})
    loop = await http.post(
        f"/api/v1/mindmaps/{mindmap['id']}/nodes/{root}:move", json={"newParentId": root}
    )
    missing = await http.get(f"/api/v1/mindmaps/{UNKNOWN_ID}")

    summary = [
        (r.status_code, _problem(r)["grpcCode"], _problem(r).get("reason"))
        for r in (taken, owned, orphan, missing)
    ]
    assert [
        (409, "ALREADY_EXISTS", "EMAIL_TAKEN"),
        (400, "FAILED_PRECONDITION", "USER_HAS_MINDMAPS"),
        (404, "NOT_FOUND", "OWNER_NOT_FOUND"),
        (404, "NOT_FOUND", "NOT_FOUND"),
    ] == summary
    assert f"/api/v1/mindmaps/{UNKNOWN_ID}" == _problem(missing)["instance"]
    assert 400 == loop.status_code
    assert _problem(loop)["fieldViolations"]


async def test_original_field_names_are_accepted(http: httpx.AsyncClient) -> None:
    """The proto3 JSON mapping's original names work in bodies and in the query."""
    user = _ok(
        await http.post("/api/v1/users", json={"email": "ada@example.com", "display_name": "Ada"})
    )
    page = _ok(await http.get("/api/v1/users?page_size=1"))

    assert ("Ada", [user["id"]]) == (user["displayName"], [u["id"] for u in page["users"]])


async def test_head_answers_like_get_without_a_body(http: httpx.AsyncClient) -> None:
    """HEAD of a GET route: same status and headers, no body."""
    user = await _user(http)
    path = f"/api/v1/users/{user['id']}"

    got, head = await http.get(path), await http.head(path)

    assert (200, b"") == (head.status_code, head.content)
    assert (got.headers["etag"], got.headers["content-length"]) == (
        head.headers["etag"],
        head.headers["content-length"],
    )


async def test_request_id_is_echoed(http: httpx.AsyncClient) -> None:
    """X-Request-Id comes back on answers and on problems."""
    answered = await http.get("/api/v1/users", headers={"X-Request-Id": "r-1"})
    failed = await http.get(f"/api/v1/users/{UNKNOWN_ID}", headers={"X-Request-Id": "r-2"})

    assert ["r-1", "r-2"] == [answered.headers["x-request-id"], failed.headers["x-request-id"]]


async def test_openapi_and_docs_are_served(http: httpx.AsyncClient) -> None:
    """The OpenAPI document lists the exposed routes; the docs page and its assets load
    from the hub itself."""
    document = _ok(await http.get("/openapi.json"))
    page = await http.get("/docs")
    script = await http.get("/docs/swagger-ui-bundle.js")
    refused = await http.post("/openapi.json")

    assert "3.1.0" == document["openapi"]
    assert {
        "UserService_CreateUser",
        "UserService_GetUser",
        "UserService_BatchGetUsers",
        "UserService_ListUsers",
        "UserService_UpdateUser",
        "UserService_DeleteUser",
        "MindmapService_CreateMindmap",
        "MindmapService_GetMindmap",
        "MindmapService_BatchGetMindmaps",
        "MindmapService_ListMindmaps",
        "MindmapService_BatchListMindmaps",
        "MindmapService_UpdateMindmap",
        "MindmapService_DeleteMindmap",
        "MindmapService_AddNode",
        "MindmapService_UpdateNode",
        "MindmapService_MoveNode",
        "MindmapService_DeleteNode",
    } == _operations(document)
    assert ("text/html; charset=utf-8", True) == (
        page.headers["content-type"],
        'url: "/openapi.json"' in page.text and "/docs/swagger-ui-bundle.js" in page.text,
    )
    assert (200, "text/javascript; charset=utf-8") == (
        script.status_code,
        script.headers["content-type"],
    )
    assert (405, "GET, HEAD") == (refused.status_code, refused.headers["allow"])


async def test_gateway_routes_choose_what_is_exposed(tmp_path: Path) -> None:
    """Only what `api_gateway.routes` lists is served: other methods 405, other paths 404,
    and PATCH when it is listed; the OpenAPI document shows the same."""
    gateway = {
        "routes": [
            {"path": "/api/v1/users", "service": "user-service", "methods": ["GET", "PATCH"]},
        ]
    }
    async with (
        running_hub(tmp_path, api_gateway=gateway) as running,
        httpx.AsyncClient(base_url=running.http_url) as http,
    ):
        created = await running.users.CreateUser(
            CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
        )
        path = f"/api/v1/users/{created.user.id}"
        patched = await http.patch(path, json={"email": "ada@example.com", "displayName": "Ada P."})
        put = await http.put(path, json={"email": "ada@example.com", "displayName": "x"})
        post = await http.post("/api/v1/users", json={})
        mindmaps = await http.get("/api/v1/mindmaps")
        document = _ok(await http.get("/openapi.json"))

    assert "Ada P." == _ok(patched)["displayName"]
    assert [(405, "GET, HEAD, PATCH"), (405, "GET, HEAD")] == [
        (r.status_code, r.headers["allow"]) for r in (put, post)
    ]
    assert (404, "ROUTE_NOT_FOUND") == (mindmaps.status_code, _problem(mindmaps)["reason"])
    assert {
        "UserService_GetUser",
        "UserService_BatchGetUsers",
        "UserService_ListUsers",
        "UserService_UpdateUser",
    } == _operations(document)


async def test_a_colon_that_is_no_custom_method_is_part_of_the_id(http: httpx.AsyncClient) -> None:
    """`abc:def` names no custom method, so it is an id: the backend answers (not found),
    not the router."""
    response = await http.get("/api/v1/users/abc:def")

    problem = _problem(response)
    assert (404, "NOT_FOUND", "NOT_FOUND") == (
        response.status_code,
        problem["grpcCode"],
        problem["reason"],
    )
