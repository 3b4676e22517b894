"""The circuit breaker through a whole hub: the mindmap backend goes down, its breaker opens
and every front end refuses mindmap calls at once, each in its own terms (gRPC UNAVAILABLE
with `CIRCUIT_OPEN` and `RetryInfo`, REST 503 with `Retry-After`), while the user backend
keeps serving; once the backend is back, a probe closes the breaker and nothing written
before the outage is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc import aio

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    CreateMindmapRequest,
    GetMindmapRequest,
    Mindmap,
)
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, GetUserRequest, User
from hub.frontends.rpc_error import RpcFailure
from hub.policies.breaker import BreakerState
from hub.testing import RunningHub, running_hub
from tests.observability.scrape import scrape

MINDMAPS = "hub.mindmap.v1.MindmapService"
OPEN_SECONDS = 1.0


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with running_hub(
        tmp_path,
        api_gateway={
            "policies": ["circuit_breaking"],
            "circuit_breaking": {"consecutive_failures": 3, "open_seconds": OPEN_SECONDS},
        },
    ) as running:
        yield running


async def _seed(running: RunningHub) -> tuple[str, str]:
    user = await running.users.CreateUser(
        CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
    )
    mindmap = await running.mindmaps.CreateMindmap(
        CreateMindmapRequest(mindmap=Mindmap(owner_id=user.user.id, title="Plans"))
    )
    return user.user.id, mindmap.mindmap.id


async def _failure(call: object) -> RpcFailure:
    try:
        await call  # type: ignore[misc]
    except aio.AioRpcError as error:
        return RpcFailure.from_error(error)
    pytest.fail("the call succeeded")


async def _open_the_breaker(running: RunningHub, mindmap_id: str) -> list[str]:
    """Stops the mindmap backend and calls it until its breaker opens; the reasons seen."""
    await running.hub.stop_backend("mindmap-service")
    reasons = []
    for _ in range(3):
        failure = await _failure(running.mindmaps.GetMindmap(GetMindmapRequest(id=mindmap_id)))
        reasons.append(f"{failure.code.name}:{failure.reason}")
    return reasons


def _state(running: RunningHub) -> BreakerState:
    return running.hub.policies.breakers[MINDMAPS].state


async def test_an_open_breaker_refuses_grpc_calls_at_once_while_others_serve(
    hub: RunningHub,
) -> None:
    user_id, mindmap_id = await _seed(hub)

    closed = await scrape(hub)
    before = await _open_the_breaker(hub, mindmap_id)
    refused = await _failure(hub.mindmaps.GetMindmap(GetMindmapRequest(id=mindmap_id)))
    user = await hub.users.GetUser(GetUserRequest(id=user_id))
    opened = await scrape(hub)

    # Before it opens, the calls fail as the backend's absence makes them fail.
    assert ["UNAVAILABLE:"] * 3 == before
    assert BreakerState.OPEN == _state(hub)
    assert (grpc.StatusCode.UNAVAILABLE, "CIRCUIT_OPEN", (("service", MINDMAPS),)) == (
        refused.code,
        refused.reason,
        refused.metadata,
    )
    assert refused.retry_delay_seconds is not None
    assert 0 < refused.retry_delay_seconds <= OPEN_SECONDS
    assert "Ada" == user.user.display_name
    # The state as a metric: 0 closed, 1 open.
    state = "hub_circuit_breaker_state"
    assert (0.0, 1.0, 0.0) == (
        closed.value(state, service=MINDMAPS),
        opened.value(state, service=MINDMAPS),
        opened.value(state, service="hub.user.v1.UserService"),
    )


async def test_an_open_breaker_answers_rest_with_503_and_retry_after(hub: RunningHub) -> None:
    _, mindmap_id = await _seed(hub)
    await _open_the_breaker(hub, mindmap_id)

    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        refused = await http.get(f"/api/v1/mindmaps/{mindmap_id}")

    assert (503, "1") == (refused.status_code, refused.headers["retry-after"])
    assert "CIRCUIT_OPEN" == refused.json()["reason"]


async def test_after_the_backend_returns_a_probe_closes_the_breaker_and_nothing_is_lost(
    hub: RunningHub,
) -> None:
    _, mindmap_id = await _seed(hub)
    await _open_the_breaker(hub, mindmap_id)
    await hub.hub.restart_backend("mindmap-service")

    async with asyncio.timeout(30):
        while True:
            try:
                reply = await hub.mindmaps.GetMindmap(GetMindmapRequest(id=mindmap_id))
                break
            except aio.AioRpcError:
                await asyncio.sleep(0.2)  # open, or the channel still reconnecting

    assert "Plans" == reply.mindmap.title
    assert BreakerState.CLOSED == _state(hub)


async def test_answers_about_the_request_do_not_open_it(hub: RunningHub) -> None:
    for _ in range(5):
        failure = await _failure(hub.mindmaps.GetMindmap(GetMindmapRequest(id="missing")))
        assert grpc.StatusCode.NOT_FOUND == failure.code

    assert BreakerState.CLOSED == _state(hub)


async def test_under_load_an_outage_opens_the_breaker_spares_users_and_loses_nothing(
    hub: RunningHub,
) -> None:
    """Readers of users and of mindmaps run throughout; the mindmap backend stops and comes
    back. While it is down the user backend answers every call, and once the breaker is
    open every mindmap call is refused as CIRCUIT_OPEN (its latency: bench policies); after
    the restart the breaker closes and every mindmap written before is there."""
    user_id, _ = await _seed(hub)
    written = [
        (
            await hub.mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=user_id, title=f"map {n}"))
            )
        ).mindmap.id
        for n in range(20)
    ]
    phase = "before"
    outcomes: dict[str, list[str]] = {"users": [], "mindmaps": []}
    stop = asyncio.Event()

    async def read_users() -> None:
        while not stop.is_set():
            started = phase  # outcomes are filed under the phase their call began in
            try:
                await hub.users.GetUser(GetUserRequest(id=user_id))
                outcomes["users"].append(f"{started}:OK")
            except aio.AioRpcError as error:
                outcomes["users"].append(f"{started}:{error.code().name}")

    async def read_mindmaps() -> None:
        while not stop.is_set():
            started = phase
            try:
                await hub.mindmaps.GetMindmap(GetMindmapRequest(id=written[0]))
                outcomes["mindmaps"].append(f"{started}:OK")
            except aio.AioRpcError as error:
                outcomes["mindmaps"].append(f"{started}:{RpcFailure.from_error(error).reason}")
            await asyncio.sleep(0)

    changes = {state: asyncio.Event() for state in BreakerState}
    hub.hub.policies.breakers[MINDMAPS].on_change(lambda state: changes[state].set())
    async with asyncio.TaskGroup() as readers:
        for read in (read_users, read_users, read_mindmaps):
            readers.create_task(read())
        await asyncio.sleep(0.2)
        phase = "outage"
        await hub.hub.stop_backend("mindmap-service")
        async with asyncio.timeout(10):
            await changes[BreakerState.OPEN].wait()
        phase = "open"
        await asyncio.sleep(0.3)
        phase = "after"
        await hub.hub.restart_backend("mindmap-service")
        async with asyncio.timeout(30):
            await changes[BreakerState.CLOSED].wait()  # a probe succeeded
        stop.set()
    titles = [
        (await hub.mindmaps.GetMindmap(GetMindmapRequest(id=mindmap_id))).mindmap.title
        for mindmap_id in written
    ]

    assert {"OK"} == {outcome.split(":")[1] for outcome in outcomes["users"]}
    assert any(outcome.startswith("outage:") for outcome in outcomes["users"])
    refused_while_open = {o.split(":")[1] for o in outcomes["mindmaps"] if o.startswith("open:")}
    assert {"CIRCUIT_OPEN"} == refused_while_open
    assert [f"map {n}" for n in range(20)] == titles
