"""One event stream, three kinds of subscriber: writes made over gRPC, REST and GraphQL reach
a `/ws` subscriber, a `WatchEvents` stream and a GraphQL subscription, each exactly once and
in commit order (the same ids, strictly increasing, on all three)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import websockets
from google.protobuf.field_mask_pb2 import FieldMask
from websockets.typing import Subprotocol

from hub.contracts.events.v1.events_pb2 import WatchEventsRequest
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, UpdateUserRequest, User
from hub.testing import running_hub
from tests.frontends.test_grpc_events import take, watch
from tests.frontends.wsclient import connect

WAIT_SECONDS = 10.0
GRAPHQL_EVENTS = """subscription($u: ID!, $since: ID) {
  userEvents(userId: $u, since: $since) { id type }
}"""


async def test_writes_over_grpc_rest_and_graphql_reach_every_kind_of_subscriber_once(
    tmp_path: Path,
) -> None:
    async with running_hub(tmp_path) as hub:
        created = await hub.users.CreateUser(
            CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
        )
        user_id = created.user.id
        # The creation is before every subscription; GraphQL's starts from it (the protocol
        # does not say when a subscription is in place, a resume point makes that moot).
        since = await hub.published_event_id()

        ws = await connect(hub.ws_url)
        await ws.subscribe("mine", user_id=user_id)
        stream = await watch(hub.channel, WatchEventsRequest(owner_id=user_id))
        graphql_url = "ws" + hub.graphql_url.removeprefix("http")
        async with websockets.connect(
            graphql_url, subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as gql:
            await gql.send(json.dumps({"type": "connection_init"}))
            assert "connection_ack" == json.loads(await gql.recv())["type"]
            variables = {"u": user_id, "since": str(since)}
            payload = {"query": GRAPHQL_EVENTS, "variables": variables}
            await gql.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            await hub.users.UpdateUser(
                UpdateUserRequest(
                    user=User(id=user_id, display_name="over gRPC"),
                    update_mask=FieldMask(paths=["display_name"]),
                )
            )
            async with httpx.AsyncClient() as http:
                renamed = await http.put(
                    f"{hub.http_url}/api/v1/users/{user_id}",
                    params={"updateMask": "displayName"},
                    json={"email": "ada@example.com", "displayName": "over REST"},
                )
                assert 200 == renamed.status_code, renamed.text
                mutation = """mutation($id: ID!) {
                  updateUser(input: {id: $id, displayName: "over GraphQL"}) { user { id } }
                }"""
                answer = await http.post(
                    hub.graphql_url, json={"query": mutation, "variables": {"id": user_id}}
                )
                assert "errors" not in answer.json(), answer.text
            over_graphql = [await _next(gql) for _ in range(3)]

        over_ws = await ws.events(3)
        over_grpc = await take(stream, 3)
        stream.cancel()
        # A fourth write: the next thing each remaining subscriber gets is its event, so
        # nothing of the first three came twice.
        await hub.users.UpdateUser(
            UpdateUserRequest(
                user=User(id=user_id, display_name="Ada"),
                update_mask=FieldMask(paths=["display_name"]),
            )
        )
        (fourth,) = await ws.events(1)
        await ws.connection.close()

    ids = [int(event["id"]) for event in over_ws]
    assert ids == sorted(set(ids))
    assert ids == [event.id for event in over_grpc]
    assert ids == [int(event["id"]) for event in over_graphql]
    assert ["user.updated"] * 3 == [event["type"] for event in over_ws]
    assert int(fourth["id"]) == ids[-1] + 1


async def _next(gql: websockets.ClientConnection) -> dict[str, Any]:
    """The next `next` message's event of the GraphQL subscription."""
    async with asyncio.timeout(WAIT_SECONDS):
        message = json.loads(await gql.recv())
    assert "next" == message["type"], message
    event: dict[str, Any] = message["payload"]["data"]["userEvents"]
    return event
