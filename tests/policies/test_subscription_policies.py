"""The policies on event subscriptions: `/ws` and gRPC `WatchEvents` start a subscription
only once the caller may read what it follows (one backend read with the caller's
credentials, through the gateway's policies), and refuse in their own terms: an `error`
message (UNAUTHENTICATED then close 4401, FORBIDDEN, RATE_LIMITED) on `/ws`, the read's
status on `WatchEvents`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from websockets.exceptions import ConnectionClosed

from hub.contracts.events.v1 import events_pb2_grpc
from hub.contracts.events.v1.events_pb2 import WatchEventsRequest
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.frontends.rpc_error import RpcFailure
from hub.testing import RunningHub, running_hub
from tests.frontends.wsclient import WsClient, connect
from tests.policies.tokens import SECRET, hs256

AUTH: dict[str, Any] = {
    "policies": ["authentication"],
    "authentication": {
        "jwt_secret": SECRET.decode(),
        "anonymous": ["hub.user.v1.UserService/CreateUser"],
    },
}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path, api_gateway=AUTH) as running:
        yield running


async def _users(hub: RunningHub) -> tuple[str, str]:
    ids = []
    for name in ("ada", "bob"):
        reply = await hub.users.CreateUser(
            CreateUserRequest(user=User(email=f"{name}@example.com", display_name=name))
        )
        ids.append(reply.user.id)
    return ids[0], ids[1]


def _bearer(subject: str) -> dict[str, str]:
    return {"authorization": f"Bearer {hs256(subject=subject, roles=[])}"}


async def _subscribe(client: WsClient, name: str, user_id: str) -> dict[str, Any]:
    """Sends a subscribe; the answer (`subscribed` or `error`)."""
    await client.send({"type": "subscribe", "id": name, "channel": "user", "userId": user_id})
    return await client.receive()


async def test_ws_subscriptions_follow_what_the_caller_may_read(hub: RunningHub) -> None:
    ada, bob = await _users(hub)
    client = await connect(hub.ws_url, additional_headers=_bearer(ada))

    forbidden = await _subscribe(client, "theirs", bob)
    own = await _subscribe(client, "mine", ada)
    await client.ping()  # the refusal left the connection open
    await client.connection.close()

    assert ("error", "FORBIDDEN", "theirs") == (
        forbidden["type"],
        forbidden["code"],
        forbidden["subscription"],
    )
    assert {"type": "subscribed", "id": "mine"} == own


async def test_a_browser_may_pass_its_token_as_access_token(hub: RunningHub) -> None:
    ada, _ = await _users(hub)
    token = hs256(subject=ada, roles=[])
    client = await connect(f"{hub.ws_url}?access_token={token}")

    answer = await _subscribe(client, "mine", ada)
    await client.connection.close()

    assert {"type": "subscribed", "id": "mine"} == answer


async def test_ws_without_good_credentials_is_told_so_and_closed_with_4401(
    hub: RunningHub,
) -> None:
    ada, _ = await _users(hub)
    client = await connect(hub.ws_url)

    refused = await _subscribe(client, "mine", ada)
    with pytest.raises(ConnectionClosed) as closed:
        await client.receive()

    assert ("error", "UNAUTHENTICATED") == (refused["type"], refused["code"])
    assert closed.value.rcvd is not None
    assert 4401 == closed.value.rcvd.code


async def test_a_ws_subscription_counts_against_the_callers_rate_limit(tmp_path: Path) -> None:
    gateway = {
        **AUTH,
        "policies": ["authentication", "rate_limiting"],
        "rate_limiting": {
            "rules": [
                {"rpc": "hub.user.v1.UserService/GetUser", "rate_per_second": 0.01, "burst": 1}
            ]
        },
    }
    async with running_hub(tmp_path, api_gateway=gateway) as hub:
        ada, _ = await _users(hub)
        client = await connect(hub.ws_url, additional_headers=_bearer(ada))
        first = await _subscribe(client, "one", ada)
        second = await _subscribe(client, "two", ada)
        await client.connection.close()

    assert "subscribed" == first["type"]
    assert ("error", "RATE_LIMITED", "two") == (
        second["type"],
        second["code"],
        second["subscription"],
    )


async def test_watch_events_follows_what_the_caller_may_read(hub: RunningHub) -> None:
    ada, bob = await _users(hub)
    stub = events_pb2_grpc.EventServiceStub(hub.channel)

    failures = []
    for metadata in ((), tuple(_bearer(ada).items())):
        call = stub.WatchEvents(WatchEventsRequest(owner_id=bob), metadata=metadata)
        with pytest.raises(aio.AioRpcError) as refused:
            await call.read()
        failures.append(RpcFailure.from_error(refused.value))
    own = stub.WatchEvents(WatchEventsRequest(owner_id=ada), metadata=tuple(_bearer(ada).items()))
    await own.initial_metadata()  # the stream started
    own.cancel()

    assert [
        (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING"),
        (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
    ] == [(failure.code, failure.reason) for failure in failures]


async def test_a_ws_subscription_to_a_mindmap_whose_backend_breaker_is_open_is_unavailable(
    tmp_path: Path,
) -> None:
    gateway = {
        **AUTH,
        "policies": ["authentication", "circuit_breaking"],
        "circuit_breaking": {"consecutive_failures": 1, "open_seconds": 30},
    }
    async with running_hub(tmp_path, api_gateway=gateway) as hub:
        ada, _ = await _users(hub)
        await hub.hub.stop_backend("mindmap-service")
        client = await connect(hub.ws_url, additional_headers=_bearer(ada))
        answers = []
        for name in ("first", "second"):  # the first failure opens the breaker
            await client.send(
                {"type": "subscribe", "id": name, "channel": "mindmap", "mindmapId": "m1"}
            )
            answers.append(await client.receive())
        await client.ping()
        await client.connection.close()

    assert [("error", "UNAVAILABLE")] * 2 == [(a["type"], a["code"]) for a in answers]
    assert "circuit open" in answers[1]["message"]
