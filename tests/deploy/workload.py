"""A short scripted workload for the tests that read a live hub's metrics: requests through
every front end (REST with a 404 and a 400, gRPC, a WebSocket subscription that receives
events) and the writes behind the business metrics (signups, a paid signup, an upgrade,
mindmap writes)."""

from __future__ import annotations

import uuid

import httpx

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    Mindmap,
    Node,
)
from hub.contracts.user.v1.user_pb2 import GetUserRequest
from hub.testing import RunningHub
from tests.frontends.wsclient import connect

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


async def workload(running: RunningHub, http: httpx.AsyncClient) -> None:
    """Runs the workload, checking every answer. It ends once the WebSocket subscriber has
    received the events of its writes."""
    signup = {"email": "ada@example.com", "displayName": "Ada"}
    ada = await http.post("/api/v1/users", json=signup)
    paid = {"email": "bob@example.com", "displayName": "Bob", "plan": "PLAN_PRO"}
    bob = await http.post("/api/v1/users", json=paid)
    ada_id = ada.json()["id"]
    # Ada's and Bob's signups reach the bus after their answers: a subscription made before
    # they have would receive Ada's user.created too.
    await running.published_event_id()
    client = await connect(running.ws_url)
    try:
        await client.subscribe("ada", user_id=ada_id)
        upgrade = await http.put(
            f"/api/v1/users/{ada_id}",
            params={"updateMask": "plan"},
            json={**signup, "plan": "PLAN_TEAM"},
        )
        unknown_user = await http.get(f"/api/v1/users/{UNKNOWN_ID}")
        unknown_route = await http.get("/no/such/route")
        bad_signup = await http.post("/api/v1/users", json={"email": 42})
        assert [200, 200, 200, 404, 404, 400] == [
            response.status_code
            for response in (ada, bob, upgrade, unknown_user, unknown_route, bad_signup)
        ]
        await traffic(running, http)
        created = await running.mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=ada_id, title="Ideas"))
        )
        root = created.mindmap.nodes[0].id
        await running.mindmaps.AddNode(
            AddNodeRequest(mindmap_id=created.mindmap.id, node=Node(parent_id=root, text="One"))
        )
        events = await client.events(3)
        assert ["user.updated", "mindmap.created", "mindmap.node_added"] == [
            event["type"] for event in events
        ]
    finally:
        await client.connection.close()


async def traffic(running: RunningHub, http: httpx.AsyncClient) -> None:
    """A signup over REST, then a read of it over gRPC."""
    email = f"user-{uuid.uuid4().hex}@example.com"
    signup = await http.post("/api/v1/users", json={"email": email, "displayName": "U"})
    assert 200 == signup.status_code
    user_id = signup.json()["id"]
    assert email == (await running.users.GetUser(GetUserRequest(id=user_id))).user.email
