"""GraphQL subscriptions over WebSocket (graphql-transport-ws) end to end: events of writes
made through the other front ends (gRPC, REST), resuming, the bus's refusals, and a client
not written here (the npm `graphql-ws` client)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from hub.contracts.events.v1.events_pb2 import Event, UserUpdated
from hub.contracts.mindmap.v1.mindmap_pb2 import AddNodeRequest, CreateMindmapRequest, Mindmap
from hub.contracts.mindmap.v1.mindmap_pb2 import Node as NodeMessage
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.testing import RunningHub
from tests.frontends.graphql.conftest import GraphQLHub, graphql_hub

ROOT = Path(__file__).resolve().parents[3]
SUBSCRIBE_SCRIPT = Path(__file__).with_name("subscribe.mjs")
WAIT_SECONDS = 10.0
PROTOCOL = Subprotocol("graphql-transport-ws")
USER_EVENTS = """subscription($u: ID!, $since: ID) {
  userEvents(userId: $u, since: $since) {
    __typename id type ownerId
    ... on MindmapCreatedEvent { mindmap { title owner { displayName } root { text } } }
    ... on NodeAddedEvent { node { text parent { text } } mindmapId }
  }
}"""


def ws_url(hub: GraphQLHub) -> str:
    """The WebSocket URL of the GraphQL endpoint."""
    return "ws" + hub.url.removeprefix("http")


@asynccontextmanager
async def transport_ws(hub: GraphQLHub) -> AsyncIterator[ClientConnection]:
    """An acknowledged graphql-transport-ws connection."""
    async with websockets.connect(ws_url(hub), subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert {"type": "connection_ack"} == await receive(ws)
        yield ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next message, as JSON."""
    async with asyncio.timeout(WAIT_SECONDS):
        message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def subscribe(ws: ClientConnection, query: str, variables: dict[str, Any]) -> None:
    """Starts subscription "1"."""
    payload = {"query": query, "variables": variables}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))


async def user_over_grpc(running: RunningHub, name: str = "Ada") -> str:
    """A user created over gRPC; its id."""
    user = User(email=f"{name.lower()}@example.com", display_name=name)
    return (await running.users.CreateUser(CreateUserRequest(user=user))).user.id


async def test_a_subscription_receives_events_of_writes_made_over_grpc_and_rest(
    gql: GraphQLHub,
) -> None:
    """userEvents: a mindmap created over gRPC, then a node added over REST, as typed events
    whose relations resolve (owner, root, parent)."""
    running = gql.running
    user_id = await user_over_grpc(running)
    since = str(await running.published_event_id())  # from here on, whenever it subscribes

    async with transport_ws(gql) as ws:
        await subscribe(ws, USER_EVENTS, {"u": user_id, "since": since})
        created = await running.mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=user_id, title="Ideas"))
        )
        mindmap = created.mindmap
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            response = await http.post(
                f"/api/v1/mindmaps/{mindmap.id}/nodes",
                json={"node": {"parentId": mindmap.nodes[0].id, "text": "Over REST"}},
            )
            assert 200 == response.status_code
        first = await receive(ws)
        second = await receive(ws)

    assert ("next", "1") == (first["type"], first["id"]), first
    assert {
        "__typename": "MindmapCreatedEvent",
        "type": "mindmap.created",
        "ownerId": user_id,
        "mindmap": {"title": "Ideas", "owner": {"displayName": "Ada"}, "root": {"text": "Ideas"}},
    } == {k: v for k, v in first["payload"]["data"]["userEvents"].items() if k != "id"}
    assert {
        "__typename": "NodeAddedEvent",
        "type": "mindmap.node_added",
        "ownerId": user_id,
        "node": {"text": "Over REST", "parent": {"text": "Ideas"}},
        "mindmapId": mindmap.id,
    } == {k: v for k, v in second["payload"]["data"]["userEvents"].items() if k != "id"}
    assert int(second["payload"]["data"]["userEvents"]["id"]) > int(
        first["payload"]["data"]["userEvents"]["id"]
    )


async def test_mindmap_events_resume_after_since(gql: GraphQLHub) -> None:
    """mindmapEvents with `since` replays what followed that id, in order, then goes live."""
    running = gql.running
    user_id = await user_over_grpc(running)
    mindmap = (
        await running.mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=user_id, title="Ideas"))
        )
    ).mindmap
    since = str(await running.published_event_id())
    for text in ["one", "two"]:
        node = NodeMessage(parent_id=mindmap.nodes[0].id, text=text)
        await running.mindmaps.AddNode(AddNodeRequest(mindmap_id=mindmap.id, node=node))
    query = """subscription($m: ID!, $since: ID) {
      mindmapEvents(mindmapId: $m, since: $since) { ... on NodeAddedEvent { node { text } } }
    }"""

    async with transport_ws(gql) as ws:
        await subscribe(ws, query, {"m": mindmap.id, "since": since})
        texts = [
            (await receive(ws))["payload"]["data"]["mindmapEvents"]["node"]["text"]
            for _ in range(2)
        ]

    assert ["one", "two"] == texts


async def test_a_resume_point_no_longer_kept_is_resume_too_old(tmp_path: Path) -> None:
    """The bus keeps 2 events here; resuming from the first of 4 is RESUME_TOO_OLD."""
    async with graphql_hub(tmp_path / "data", events={"retention_count": 2}) as hub:
        for name in ["A", "B", "C", "D"]:
            await user_over_grpc(hub.running, name)
        async with transport_ws(hub) as ws:
            await subscribe(ws, USER_EVENTS, {"u": "anyone", "since": "1"})
            refused = await receive(ws)

    assert ("error", "1") == (refused["type"], refused["id"])
    [error] = refused["payload"]
    assert ("RESUME_TOO_OLD", "3") == (
        error["extensions"]["code"],
        error["extensions"]["oldestRetained"],
    )


async def test_a_since_that_is_no_event_id_is_bad_user_input(gql: GraphQLHub) -> None:
    """`since` must be digits."""
    async with transport_ws(gql) as ws:
        await subscribe(ws, USER_EVENTS, {"u": "anyone", "since": "soon"})
        refused = await receive(ws)

    assert "error" == refused["type"]
    assert ["BAD_USER_INPUT"] == [e["extensions"]["code"] for e in refused["payload"]]


async def test_the_npm_graphql_ws_client_receives_an_event_of_a_grpc_write(
    gql: GraphQLHub,
) -> None:
    """A client not written here (npm graphql-ws over `ws`) subscribes and gets the event."""
    running = gql.running
    user_id = await user_over_grpc(running)
    variables = {"u": user_id, "since": str(await running.published_event_id())}
    client = await asyncio.create_subprocess_exec(
        "node",
        str(SUBSCRIBE_SCRIPT),
        ws_url(gql),
        USER_EVENTS,
        json.dumps(variables),
        "1",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    await running.mindmaps.CreateMindmap(
        CreateMindmapRequest(mindmap=Mindmap(owner_id=user_id, title="Seen by node"))
    )
    async with asyncio.timeout(30):
        output, _ = await client.communicate()

    assert 0 == client.returncode, output
    [line] = output.decode().splitlines()
    event = json.loads(line)["data"]["userEvents"]
    assert ("MindmapCreatedEvent", "Seen by node") == (
        event["__typename"],
        event["mindmap"]["title"],
    )


async def test_the_legacy_graphql_ws_protocol_is_not_offered(gql: GraphQLHub) -> None:
    """Only graphql-transport-ws: a client asking for `graphql-ws` alone is closed (4406)."""
    async with websockets.connect(ws_url(gql), subprotocols=[Subprotocol("graphql-ws")]) as ws:
        async with asyncio.timeout(WAIT_SECONDS):
            await ws.wait_closed()

    assert 4406 == ws.close_code


async def test_a_subscriber_dropped_as_too_slow_ends_with_slow_consumer(tmp_path: Path) -> None:
    """With room for one queued event, a burst of three published at once drops the
    subscriber: it gets the first, then SLOW_CONSUMER naming the last id delivered."""
    async with graphql_hub(tmp_path / "data", events={"subscriber_queue": 1}) as hub:
        running = hub.running
        user_id = await user_over_grpc(running)
        since = str(await running.published_event_id())
        async with transport_ws(hub) as ws:
            await subscribe(ws, USER_EVENTS, {"u": user_id, "since": since})
            await running.mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=user_id, title="Live"))
            )
            live = await receive(ws)  # the subscription is on the bus now
            last = await running.published_event_id()
            burst = [
                Event(
                    id=last + offset,
                    type="user.updated",
                    subject=f"users/{user_id}",
                    owner_id=user_id,
                    user_updated=UserUpdated(user=User(id=user_id, display_name=f"v{offset}")),
                )
                for offset in (1, 2, 3)
            ]
            await running.hub.bus.publish(burst)
            delivered = await receive(ws)
            dropped = await receive(ws)

    assert "MindmapCreatedEvent" == live["payload"]["data"]["userEvents"]["__typename"]
    assert str(last + 1) == delivered["payload"]["data"]["userEvents"]["id"]
    [error] = dropped["payload"]["errors"]
    assert ("next", "SLOW_CONSUMER", str(last + 1)) == (
        dropped["type"],
        error["extensions"]["code"],
        error["extensions"]["lastDelivered"],
    )
