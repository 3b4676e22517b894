"""Rate limiting through a whole hub: one bucket per caller and RPC, shared by every front
end (calls over REST and gRPC count together), refusals in each one's terms (gRPC
RESOURCE_EXHAUSTED with `RetryInfo`; REST 429 with `Retry-After`, `RateLimit-Policy` and
`RateLimit`), by address when anonymous and by principal when authenticated."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
import pytest
from grpc import aio

from hub.app import Hub
from hub.config import ConfigError
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, GetUserRequest, User
from hub.frontends.rpc_error import RpcFailure
from hub.testing import harness_settings, running_hub
from tests.policies.tokens import SECRET, hs256

SLOW = {"rate_per_second": 0.01, "burst": 3}


async def test_rest_and_grpc_calls_share_one_bucket_per_address(tmp_path: Path) -> None:
    gateway = {
        "policies": ["rate_limiting"],
        "rate_limiting": {"rules": [{"rpc": "hub.user.v1.UserService/GetUser", **SLOW}]},
    }
    async with running_hub(tmp_path, api_gateway=gateway) as hub:
        created = await hub.users.CreateUser(
            CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
        )
        user_id = created.user.id
        async with httpx.AsyncClient(base_url=hub.http_url) as http:
            first = await http.get(f"/api/v1/users/{user_id}")
            await hub.users.GetUser(GetUserRequest(id=user_id))
            third = await http.get(f"/api/v1/users/{user_id}")
            refused = await http.get(f"/api/v1/users/{user_id}")
        with pytest.raises(aio.AioRpcError) as also_refused:
            await hub.users.GetUser(GetUserRequest(id=user_id))
        # Another RPC has its own (default) bucket.
        await hub.users.CreateUser(
            CreateUserRequest(user=User(email="bob@example.com", display_name="Bob"))
        )

    assert (200, 200, 429) == (first.status_code, third.status_code, refused.status_code)
    assert "RATE_LIMITED" == refused.json()["reason"]
    assert 0 < int(refused.headers["retry-after"]) <= 100
    assert '"per-caller";q=3;w=300' == refused.headers["ratelimit-policy"]
    assert refused.headers["ratelimit"].startswith('"per-caller";r=0;t=')
    failure = RpcFailure.from_error(also_refused.value)
    assert (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED") == (failure.code, failure.reason)
    assert failure.retry_delay_seconds is not None
    assert 0 < failure.retry_delay_seconds <= 100


async def test_authenticated_callers_have_a_bucket_each(tmp_path: Path) -> None:
    gateway = {
        "policies": ["authentication", "rate_limiting"],
        "authentication": {"jwt_secret": SECRET.decode()},
        "rate_limiting": {"rules": [{"rpc": "hub.user.v1.UserService/*", **SLOW}]},
    }
    admin = (("authorization", f"Bearer {hs256(subject='root')}"),)
    other = (("authorization", f"Bearer {hs256(subject='ops')}"),)
    async with running_hub(tmp_path, api_gateway=gateway) as hub:
        created = await hub.users.CreateUser(
            CreateUserRequest(user=User(email="ada@example.com", display_name="Ada")),
            metadata=admin,
        )
        for _ in range(3):  # GetUser's bucket: CreateUser has its own
            await hub.users.GetUser(GetUserRequest(id=created.user.id), metadata=admin)
        with pytest.raises(aio.AioRpcError) as refused:
            await hub.users.GetUser(GetUserRequest(id=created.user.id), metadata=admin)
        reply = await hub.users.GetUser(GetUserRequest(id=created.user.id), metadata=other)

    assert grpc.StatusCode.RESOURCE_EXHAUSTED == refused.value.code()
    assert "Ada" == reply.user.display_name


def test_a_rule_that_names_no_rpc_is_a_configuration_error(tmp_path: Path) -> None:
    settings = harness_settings(
        tmp_path,
        "unix",
        api_gateway={"rate_limiting": {"rules": [{"rpc": "hub.user.v1.Users/*", **SLOW}]}},
    )

    with pytest.raises(ConfigError) as raised:
        Hub(settings)

    assert "api_gateway.rate_limiting.rules[0].rpc: no RPC 'hub.user.v1.Users/*'" in str(
        raised.value
    )
