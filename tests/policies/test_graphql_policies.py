"""The gateway policies seen through GraphQL: the same decisions as over gRPC and REST, in
GraphQL's terms (`errors[].extensions.code`): UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED with
the retry delay, UNAVAILABLE while a breaker is open; `me` is the caller; a subscription to
someone else's events is FORBIDDEN before it starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import websockets
from grpc import aio
from websockets.typing import Subprotocol

from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.testing import RunningHub, running_hub
from tests.policies.tokens import SECRET, hs256

AUTH = {
    "policies": ["authentication"],
    "authentication": {
        "jwt_secret": SECRET.decode(),
        "anonymous": ["hub.user.v1.UserService/CreateUser"],
    },
}


async def _post(hub: RunningHub, query: str, token: str | None = None) -> dict[str, Any]:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as http:
        answer = await http.post(hub.graphql_url, json={"query": query}, headers=headers)
    assert 200 == answer.status_code, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors", [])]


async def _user(hub: RunningHub, name: str) -> str:
    reply = await hub.users.CreateUser(
        CreateUserRequest(user=User(email=f"{name}@example.com", display_name=name))
    )
    return reply.user.id


async def test_me_and_reads_follow_authentication_and_authorization(tmp_path: Path) -> None:
    async with running_hub(tmp_path, api_gateway=AUTH) as hub:
        ada, bob = await _user(hub, "ada"), await _user(hub, "bob")
        as_ada = hs256(subject=ada, roles=[])
        me = await _post(hub, "{ me { displayName } }", as_ada)
        anonymous = await _post(hub, f'{{ user(id: "{ada}") {{ id }} }}')
        expired = await _post(hub, "{ me { id } }", hs256(subject=ada, exp=1))
        forbidden = await _post(hub, f'{{ user(id: "{bob}") {{ id }} }}', as_ada)

    assert {"me": {"displayName": "ada"}} == me["data"]
    assert ["UNAUTHENTICATED"] == _codes(anonymous)
    assert (["UNAUTHENTICATED"], "TOKEN_EXPIRED") == (
        _codes(expired),
        expired["errors"][0]["extensions"]["reason"],
    )
    assert ["FORBIDDEN"] == _codes(forbidden)


async def test_a_rate_limited_query_says_when_to_retry(tmp_path: Path) -> None:
    gateway = {
        "policies": ["rate_limiting"],
        "rate_limiting": {
            "rules": [
                {"rpc": "hub.user.v1.UserService/ListUsers", "rate_per_second": 0.01, "burst": 1}
            ]
        },
    }
    async with running_hub(tmp_path, api_gateway=gateway) as hub:
        first = await _post(hub, "{ users { edges { node { id } } } }")
        second = await _post(hub, "{ users { edges { node { id } } } }")

    assert [] == _codes(first)
    assert ["RATE_LIMITED"] == _codes(second)
    assert 0 < second["errors"][0]["extensions"]["retryAfterSeconds"] <= 100


async def test_an_open_breaker_is_unavailable_while_other_fields_still_answer(
    tmp_path: Path,
) -> None:
    gateway = {
        "policies": ["circuit_breaking"],
        "circuit_breaking": {"consecutive_failures": 1, "open_seconds": 30},
    }
    async with running_hub(tmp_path, api_gateway=gateway) as hub:
        ada = await _user(hub, "ada")
        await hub.hub.stop_backend("mindmap-service")
        await _post(hub, '{ mindmap(id: "m1") { id } }')  # fails, and opens the breaker
        answer = await _post(
            hub, f'{{ mindmap(id: "m1") {{ id }} user(id: "{ada}") {{ displayName }} }}'
        )

    assert ["UNAVAILABLE"] == _codes(answer)
    assert "CIRCUIT_OPEN" == answer["errors"][0]["extensions"]["reason"]
    assert {"displayName": "ada"} == answer["data"]["user"]


async def test_a_subscription_to_someone_elses_events_is_forbidden(tmp_path: Path) -> None:
    async with running_hub(tmp_path, api_gateway=AUTH) as hub:
        ada, bob = await _user(hub, "ada"), await _user(hub, "bob")
        url = "ws" + hub.graphql_url.removeprefix("http")
        headers = {"authorization": f"Bearer {hs256(subject=ada, roles=[])}"}
        async with websockets.connect(
            url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers=headers,
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            assert "connection_ack" == json.loads(await ws.recv())["type"]
            query = "subscription($u: ID!) { userEvents(userId: $u) { id } }"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": query, "variables": {"u": bob}},
                    }
                )
            )
            refused = json.loads(await ws.recv())

    assert ("error", "FORBIDDEN") == (refused["type"], refused["payload"][0]["extensions"]["code"])


class Deadlines(aio.UnaryUnaryClientInterceptor):
    """Records the timeout of every backend call (a real interceptor on the hub's client)."""

    def __init__(self) -> None:
        self.seen: list[float | None] = []

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: aio.ClientCallDetails, request: Any
    ) -> Any:
        self.seen.append(client_call_details.timeout)
        return await continuation(client_call_details, request)


async def test_graphql_requests_carry_their_deadline_to_the_backend(tmp_path: Path) -> None:
    """`X-Request-Timeout` (as over REST) is the backend call's deadline, capped by
    `http.max_timeout_seconds`; without it, `http.default_timeout_seconds`."""
    deadlines = Deadlines()
    async with running_hub(
        tmp_path, client_interceptors=[deadlines], http={"max_timeout_seconds": 60}
    ) as hub:
        ada = await _user(hub, "ada")
        deadlines.seen.clear()  # the creation's, over gRPC without a deadline
        query = {"query": f'{{ user(id: "{ada}") {{ displayName }} }}'}
        async with httpx.AsyncClient() as http:
            for timeout in ("2.5", None, "600"):
                headers = {} if timeout is None else {"x-request-timeout": timeout}
                answer = await http.post(hub.graphql_url, json=query, headers=headers)
                assert {"user": {"displayName": "ada"}} == answer.json()["data"]

    assert [2.5, 30.0, 60.0] == deadlines.seen
