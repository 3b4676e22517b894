"""Authentication through a whole hub: the same decision over gRPC and REST, in each one's
terms (UNAUTHENTICATED with a reason; 401 with an RFC 6750 challenge); the principal reaches
the backend (it is the actor of the write's event); anonymous RPCs need nothing; a token from
`hub token` is accepted by a hub on the same configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc import aio

from hub.app import Hub
from hub.cli import main
from hub.config import ConfigError
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    GetUserRequest,
    ListUsersRequest,
    User,
)
from hub.events.bus import EventFilter
from hub.frontends.rpc_error import RpcFailure
from hub.testing import RunningHub, harness_settings, running_hub
from tests.policies.tokens import SECRET, hs256

POLICY = {
    "policies": ["authentication"],
    "authentication": {
        "jwt_secret": SECRET.decode(),
        "anonymous": ["hub.user.v1.UserService/CreateUser"],
    },
}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path, api_gateway=POLICY) as running:
        yield running


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def _user(hub: RunningHub) -> str:
    reply = await hub.users.CreateUser(
        CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
    )
    return reply.user.id


async def _refusal(call: object) -> RpcFailure:
    with pytest.raises(aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return RpcFailure.from_error(refused.value)


async def test_grpc_calls_need_a_good_token_except_anonymous_ones(hub: RunningHub) -> None:
    user_id = await _user(hub)  # CreateUser is anonymous

    missing = await _refusal(hub.users.GetUser(GetUserRequest(id=user_id)))
    expired = await _refusal(
        hub.users.GetUser(GetUserRequest(id=user_id), metadata=bearer(hs256(exp=1_000_000)))
    )
    reply = await hub.users.GetUser(GetUserRequest(id=user_id), metadata=bearer(hs256()))

    assert (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING") == (
        missing.code,
        missing.reason,
    )
    assert (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_EXPIRED") == (expired.code, expired.reason)
    assert user_id == reply.user.id


async def test_bad_credentials_are_refused_even_on_an_anonymous_rpc(hub: RunningHub) -> None:
    refused = await _refusal(
        hub.users.CreateUser(
            CreateUserRequest(user=User(email="bob@example.com", display_name="Bob")),
            metadata=bearer(hs256(aud="elsewhere")),
        )
    )

    assert (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID") == (refused.code, refused.reason)


async def test_the_served_openapi_document_declares_the_bearer_scheme(hub: RunningHub) -> None:
    """`/openapi.json` of a hub with authentication on: bearer tokens required but where the
    RPC is anonymous, and a real 401 is a response the document lists for its operation."""
    async with httpx.AsyncClient(base_url=hub.http_url) as client:
        document = (await client.get("/openapi.json")).json()
        refused = await client.get(f"/api/v1/users/{await _user(hub)}")
    operations = {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
    }
    assert [{"bearerAuth": []}] == document["security"]
    assert "bearer" == document["components"]["securitySchemes"]["bearerAuth"]["scheme"]
    assert [{}, {"bearerAuth": []}] == operations["UserService_CreateUser"]["security"]
    assert 401 == refused.status_code
    assert "401" in operations["UserService_GetUser"]["responses"]


async def test_rest_answers_401_with_a_bearer_challenge(hub: RunningHub) -> None:
    user_id = await _user(hub)
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        missing = await http.get(f"/api/v1/users/{user_id}")
        expired = await http.get(
            f"/api/v1/users/{user_id}", headers={"authorization": f"Bearer {hs256(exp=1)}"}
        )
        good = await http.get(
            f"/api/v1/users/{user_id}", headers={"authorization": f"Bearer {hs256()}"}
        )

    assert (401, 'Bearer realm="hub"', "CREDENTIALS_MISSING") == (
        missing.status_code,
        missing.headers["www-authenticate"],
        missing.json()["reason"],
    )
    assert 401 == expired.status_code
    assert expired.headers["www-authenticate"].startswith(
        'Bearer realm="hub", error="invalid_token", error_description="the token has expired'
    )
    assert 200 == good.status_code


async def test_the_principal_reaches_the_backend_as_the_actor_of_the_event(
    hub: RunningHub,
) -> None:
    subscription = hub.hub.bus.subscribe(EventFilter(types=frozenset({"user.created"})))
    try:
        await hub.users.CreateUser(
            CreateUserRequest(user=User(email="eve@example.com", display_name="Eve")),
            metadata=bearer(hs256(subject="admin-7")),
        )
        event = await anext(aiter(subscription))
    finally:
        subscription.close()

    assert "admin-7" == event.actor


async def test_a_token_from_hub_token_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hub token` signs with the key the hub makes in its data folder."""
    config = tmp_path / "hub.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    monkeypatch.chdir(tmp_path)

    assert 0 == main(["token", "u-1", "--role", "admin", "--config", str(config)])
    token = capsys.readouterr().out.strip()
    async with running_hub(
        tmp_path / "data", api_gateway={"policies": ["authentication"]}
    ) as running:
        listed = await running.users.ListUsers(ListUsersRequest(), metadata=bearer(token))

    assert [] == list(listed.users)


def test_an_anonymous_entry_that_names_no_rpc_is_a_configuration_error(tmp_path: Path) -> None:
    settings = harness_settings(
        tmp_path,
        "unix",
        api_gateway={
            "authentication": {
                "anonymous": ["hub.user.v1.UserService/*", "hub.user.v1.UserService/Nope"]
            }
        },
    )

    with pytest.raises(ConfigError) as raised:
        Hub(settings)

    assert "api_gateway.authentication.anonymous[1]: no RPC 'hub.user.v1.UserService/Nope'" in (
        str(raised.value)
    )


async def test_another_users_data_is_forbidden_over_grpc_and_rest(hub: RunningHub) -> None:
    """Authorization, decided by the backend, in each front end's terms."""
    ada = await _user(hub)
    bob = (
        await hub.users.CreateUser(
            CreateUserRequest(user=User(email="bob@example.com", display_name="Bob"))
        )
    ).user.id

    refused = await _refusal(
        hub.users.GetUser(GetUserRequest(id=bob), metadata=bearer(hs256(subject=ada, roles=[])))
    )
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        forbidden = await http.get(
            f"/api/v1/users/{bob}",
            headers={"authorization": f"Bearer {hs256(subject=ada, roles=[])}"},
        )
        own = await http.get(
            f"/api/v1/users/{ada}",
            headers={"authorization": f"Bearer {hs256(subject=ada, roles=[])}"},
        )

    assert (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED") == (
        refused.code,
        refused.reason,
    )
    assert (403, "PERMISSION_DENIED", 200) == (
        forbidden.status_code,
        forbidden.json()["reason"],
        own.status_code,
    )
