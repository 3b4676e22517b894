"""Caching through a whole hub: a repeated read is answered from the cache; after a write is
acknowledged, no read through any front end returns the previous value, even with writers
and readers running concurrently; REST adds `Cache-Control` and answers `If-None-Match`
with 304; a cached answer is only served to callers with the same authorization."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc import aio

from hub.app import Hub
from hub.config import ConfigError
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    GetUserRequest,
    UpdateUserRequest,
    User,
)
from hub.testing import RunningHub, harness_settings, running_hub
from tests.observability.scrape import scrape
from tests.policies.tokens import SECRET, hs256

CACHING = {
    "routes": [
        {"path": "/api/v1/users", "service": "user-service", "methods": ["GET", "POST", "PATCH"]}
    ],
    "policies": ["caching"],
    "caching": {
        "rules": [{"rpc": "hub.user.v1.UserService/GetUser", "cache_control": "private, max-age=5"}]
    },
}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path, api_gateway=CACHING) as running:
        yield running


async def _user(hub: RunningHub, name: str = "Ada") -> str:
    reply = await hub.users.CreateUser(
        CreateUserRequest(user=User(email=f"{name.lower()}@example.com", display_name=name))
    )
    return reply.user.id


def _hits(hub: RunningHub) -> int:
    caching = hub.hub.policies.caching
    assert caching is not None
    return caching.cache.stats().hits


async def _invalidated(hub: RunningHub, times: int) -> None:
    """Waits until the cache has been invalidated `times` times since the hub started: once
    by each acknowledged write, and once more when its event reaches the cache's follower,
    after the write returned. A read that starts before the event arrives is not cached
    (the event might concern it), so a test that counts hits waits for it."""
    caching = hub.hub.policies.caching
    assert caching is not None
    async with asyncio.timeout(10):
        while caching.cache.begin() < times:  # noqa: ASYNC110 - the cache offers no event
            await asyncio.sleep(0.005)


async def test_a_repeated_read_is_answered_from_the_cache_by_every_front_end(
    hub: RunningHub,
) -> None:
    user_id = await _user(hub)
    await _invalidated(hub, 2)  # CreateUser, then its event user.created
    before = _hits(hub)

    first = await hub.users.GetUser(GetUserRequest(id=user_id))
    second = await hub.users.GetUser(GetUserRequest(id=user_id))
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        over_rest = await http.get(f"/api/v1/users/{user_id}")

    assert first == second
    assert "Ada" == over_rest.json()["displayName"]
    assert 2 == _hits(hub) - before
    metrics = await scrape(hub)  # hits and misses are metrics too
    assert (_hits(hub), 1.0) == (
        metrics.value("hub_cache_hits_total"),
        metrics.value("hub_cache_entries"),
    )


async def test_rest_sets_cache_control_and_answers_if_none_match_with_304(
    hub: RunningHub,
) -> None:
    user_id = await _user(hub)
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        first = await http.get(f"/api/v1/users/{user_id}")
        etag = first.headers["etag"]
        again = await http.get(f"/api/v1/users/{user_id}", headers={"if-none-match": etag})
        weak = await http.get(
            f"/api/v1/users/{user_id}", headers={"if-none-match": f'"other", W/{etag}'}
        )
        changed = await http.get(f"/api/v1/users/{user_id}", headers={"if-none-match": '"old"'})

    assert "private, max-age=5" == first.headers["cache-control"]
    assert (304, b"", etag, "private, max-age=5") == (
        again.status_code,
        again.content,
        again.headers["etag"],
        again.headers["cache-control"],
    )
    assert "content-length" not in again.headers
    assert (304, 200) == (weak.status_code, changed.status_code)


async def test_after_an_acknowledged_write_no_front_end_returns_the_old_value(
    hub: RunningHub,
) -> None:
    """Even with the events held back (the relay stopped): the write itself invalidates."""
    user_id = await _user(hub)
    await hub.hub.relay.stop()
    await hub.users.GetUser(GetUserRequest(id=user_id))  # cached
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        await http.get(f"/api/v1/users/{user_id}")
        updated = await http.patch(
            f"/api/v1/users/{user_id}",
            params={"updateMask": "displayName"},
            json={"email": "ada@example.com", "displayName": "Ada L."},
        )
        assert 200 == updated.status_code, updated.text
        over_rest = await http.get(f"/api/v1/users/{user_id}")
    over_grpc = await hub.users.GetUser(GetUserRequest(id=user_id))

    assert ("Ada L.", "Ada L.") == (over_rest.json()["displayName"], over_grpc.user.display_name)


async def test_concurrent_readers_never_see_a_value_older_than_the_last_acknowledged_write(
    hub: RunningHub,
) -> None:
    """One writer renames the user 40 times (over gRPC, REST and GraphQL in turn); readers
    over REST, gRPC and GraphQL read all along. Every read that starts after write n was
    acknowledged returns version n or later."""
    user_id = await _user(hub, "v0")
    acknowledged: list[tuple[float, int]] = [(time.monotonic(), 0)]
    reads: list[tuple[float, int]] = []
    done = asyncio.Event()

    async with httpx.AsyncClient(base_url=hub.http_url) as http:

        async def write() -> None:
            for version in range(1, 41):
                mask = FieldMask(paths=["display_name"])
                if version % 3 == 0:
                    mutation = """mutation($id: ID!, $name: String!) {
                      updateUser(input: {id: $id, displayName: $name}) { user { id } }
                    }"""
                    answer = await http.post(
                        hub.graphql_url,
                        json={
                            "query": mutation,
                            "variables": {"id": user_id, "name": f"v{version}"},
                        },
                    )
                    assert "errors" not in answer.json(), answer.text
                elif version % 2:
                    await hub.users.UpdateUser(
                        UpdateUserRequest(
                            user=User(id=user_id, display_name=f"v{version}"), update_mask=mask
                        )
                    )
                else:
                    answer = await http.patch(
                        f"/api/v1/users/{user_id}",
                        params={"updateMask": "displayName"},
                        json={"email": "v0@example.com", "displayName": f"v{version}"},
                    )
                    assert 200 == answer.status_code
                acknowledged.append((time.monotonic(), version))
            done.set()

        async def read(over: str) -> None:
            query = {"query": f'{{ user(id: "{user_id}") {{ displayName }} }}'}
            while not done.is_set():
                started = time.monotonic()
                if over == "rest":
                    name = (await http.get(f"/api/v1/users/{user_id}")).json()["displayName"]
                elif over == "graphql":
                    answer = (await http.post(hub.graphql_url, json=query)).json()
                    name = answer["data"]["user"]["displayName"]
                else:
                    name = (await hub.users.GetUser(GetUserRequest(id=user_id))).user.display_name
                reads.append((started, int(name[1:])))

        await asyncio.gather(write(), read("rest"), read("grpc"), read("graphql"), read("rest"))

    stale = [
        (started, seen, latest)
        for started, seen in reads
        for latest in [max(v for at, v in acknowledged if at <= started)]
        if seen < latest
    ]
    assert [] == stale
    assert len(reads) > 40
    assert _hits(hub) > 0  # the cache did serve some of them


async def test_a_cached_answer_is_only_served_to_the_same_authorization(tmp_path: Path) -> None:
    gateway = {
        "policies": ["authentication", "caching"],
        "authentication": {
            "jwt_secret": SECRET.decode(),
            "anonymous": ["hub.user.v1.UserService/CreateUser"],
        },
    }
    async with running_hub(tmp_path, api_gateway=gateway) as hub:
        ada = await _user(hub)
        as_ada = (("authorization", f"Bearer {hs256(subject=ada, roles=[])}"),)
        as_bob = (("authorization", f"Bearer {hs256(subject='bob', roles=[])}"),)
        await hub.users.GetUser(GetUserRequest(id=ada), metadata=as_ada)  # cached for ada
        with pytest.raises(aio.AioRpcError) as refused:
            await hub.users.GetUser(GetUserRequest(id=ada), metadata=as_bob)

    assert grpc.StatusCode.PERMISSION_DENIED == refused.value.code()


def test_a_cache_rule_naming_a_write_is_a_configuration_error(tmp_path: Path) -> None:
    settings = harness_settings(
        tmp_path,
        "unix",
        api_gateway={"caching": {"rules": [{"rpc": "hub.user.v1.UserService/UpdateUser"}]}},
    )

    with pytest.raises(ConfigError) as raised:
        Hub(settings)

    assert (
        "api_gateway.caching.rules[0].rpc: 'hub.user.v1.UserService/UpdateUser' is not a read"
        in str(raised.value)
    )


async def test_a_write_made_elsewhere_reaches_the_cache_through_its_event(
    hub: RunningHub,
) -> None:
    """A write that bypasses this gateway (another replica; here the backend called
    directly) invalidates the cache once its event is on the bus."""
    user_id = await _user(hub)
    await hub.users.GetUser(GetUserRequest(id=user_id))  # cached
    async with aio.insecure_channel(hub.backend_targets["user-service"]) as direct:
        await user_pb2_grpc.UserServiceStub(direct).UpdateUser(
            UpdateUserRequest(
                user=User(id=user_id, display_name="Ada L."),
                update_mask=FieldMask(paths=["display_name"]),
            )
        )
    # Within a moment (the relay's step, then the cache's event consumer), far below the
    # 30 s TTL that would otherwise keep the old value.
    seen = []
    for _ in range(200):
        reply = await hub.users.GetUser(GetUserRequest(id=user_id))
        seen.append(reply.user.display_name)
        if seen[-1] == "Ada L.":
            break
        await asyncio.sleep(0.025)

    assert "Ada L." == seen[-1]


async def test_graphql_reads_are_answered_from_the_cache_too(hub: RunningHub) -> None:
    user_id = await _user(hub)
    query = {"query": f'{{ user(id: "{user_id}") {{ displayName }} }}'}
    async with httpx.AsyncClient() as http:
        first = (await http.post(hub.graphql_url, json=query)).json()
        before = _hits(hub)
        second = (await http.post(hub.graphql_url, json=query)).json()

    assert first == second == {"data": {"user": {"displayName": "Ada"}}}
    assert 1 == _hits(hub) - before
