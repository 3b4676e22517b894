"""A split hub in one process (tests/parts/conftest.py): the gateway reaches both backends
over TCP, each role's HTTP server answers its probes and metrics, and readiness follows the
backends. (Separate OS processes, PostgreSQL and Redis: tests/e2e/test_split.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import httpx
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hub.app import Hub
from hub.client import BackendClient
from hub.config import Service
from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.mindmap.v1.mindmap_pb2 import CreateMindmapRequest, Mindmap
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, GetUserRequest, User
from hub.listening import dial_target
from tests.observability.scrape import Labels, Scrape
from tests.parts.conftest import WAIT_SECONDS, Split, role_settings, until_reachable


def _url(hub: Hub, path: str) -> str:
    return f"http://{dial_target(hub.http_address)}{path}"


async def _get(hub: Hub, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(_url(hub, path))


async def test_the_gateway_reaches_each_backend_in_its_own_process(split: Split) -> None:
    """A user and a mindmap made through the gateway's REST front end, the mindmap's
    owner checked across the two backends (one database)."""
    async with httpx.AsyncClient(base_url=_url(split.gateway, "")) as http:
        created = await http.post(
            "/api/v1/users", json={"email": "ada@example.com", "displayName": "Ada"}
        )
        owner = created.json()["id"]
        mindmap = await http.post("/api/v1/mindmaps", json={"ownerId": owner, "title": "Ideas"})
        orphan = await http.post("/api/v1/mindmaps", json={"ownerId": "nobody", "title": "X"})

    assert (200, 200) == (created.status_code, mindmap.status_code)
    assert owner == mindmap.json()["ownerId"]
    assert (404, "OWNER_NOT_FOUND") == (orphan.status_code, orphan.json()["reason"])


async def test_a_backend_process_serves_its_service_alone(split: Split) -> None:
    """The users process answers the user service, and not the mindmap service."""
    target = split.users.backend_targets["user-service"]
    async with aio.insecure_channel(target) as channel:
        mindmaps = mindmap_pb2_grpc.MindmapServiceStub(channel)
        with pytest.raises(aio.AioRpcError) as refused:
            await mindmaps.CreateMindmap(CreateMindmapRequest(mindmap=Mindmap(title="X")))

    assert ["user-service"] == list(split.users.backend_targets)
    assert grpc.StatusCode.UNIMPLEMENTED == refused.value.code()


@pytest.mark.parametrize("role", ["users", "mindmaps"])
async def test_a_backend_process_answers_probes_and_metrics_only(split: Split, role: str) -> None:
    hub = split.users if role == "users" else split.mindmaps

    alive = await _get(hub, "/healthz")
    ready = await _get(hub, "/readyz")
    api = await _get(hub, "/api/v1/users")

    assert (200, {"status": "alive"}) == (alive.status_code, alive.json())
    assert (200, {"ready": True, "state": "serving"}) == (ready.status_code, ready.json())
    assert (404, "ROUTE_NOT_FOUND") == (api.status_code, api.json()["reason"])


async def test_each_process_exports_the_metrics_of_its_parts(split: Split) -> None:
    """The relay's figures where a relay runs, the business figures where the gateway
    runs (every gateway counts every event), and each process its own gRPC servers."""
    async with httpx.AsyncClient(base_url=_url(split.gateway, "")) as http:
        await http.post("/api/v1/users", json={"email": "ada@example.com", "displayName": "A"})
    users = Scrape.parse((await _get(split.users, "/metrics")).text)
    gateway = Scrape.parse((await _get(split.gateway, "/metrics")).text)

    assert "hub_outbox_pending_events" in users.types
    assert "hub_signups" not in users.types
    assert "hub_signups" in gateway.types
    assert "hub_outbox_pending_events" not in gateway.types
    served = users.values("grpc_server_handled_total")
    called = gateway.values("grpc_client_handled_total")
    assert {("backend", "CreateUser")} == {_server_method(labels) for labels in served}
    assert {"CreateUser"} == {dict(labels)["grpc_method"] for labels in called}
    assert {} == gateway.values("grpc_server_handled_total")  # no call came over gRPC


def _server_method(labels: Labels) -> tuple[str, str]:
    found = dict(labels)
    return found["grpc_server"], found["grpc_method"]


async def test_a_gateway_is_not_ready_while_a_backend_has_no_reachable_replica(
    split: Split,
) -> None:
    """/readyz and gRPC health follow the backends: with the mindmaps process gone, the
    gateway is not ready (503, saying which) and reports MindmapService NOT_SERVING (once
    the loss has outlasted the front end's reconnection grace), while calls to the user
    service still work."""
    ready = await _get(split.gateway, "/readyz")
    await split.mindmaps.stop(grace=0)
    await until_reachable(split.gateway, ["mindmap-service"], False)
    unready = await _get(split.gateway, "/readyz")
    async with aio.insecure_channel(dial_target(split.gateway.grpc_address)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="hub.mindmap.v1.MindmapService")
        async with asyncio.timeout(WAIT_SECONDS):
            async for reply in health.Watch(request):
                if reply.status != health_pb2.HealthCheckResponse.SERVING:
                    break
        status = reply.status
        with pytest.raises(aio.AioRpcError) as not_found:
            await user_pb2_grpc.UserServiceStub(channel).GetUser(GetUserRequest(id="nobody"))

    backends = {"user-service": True, "mindmap-service": True}
    assert (200, {"ready": True, "state": "serving", "backends": backends}) == (
        ready.status_code,
        ready.json(),
    )
    backends["mindmap-service"] = False
    assert (503, {"ready": False, "state": "serving", "backends": backends}) == (
        unready.status_code,
        unready.json(),
    )
    assert health_pb2.HealthCheckResponse.NOT_SERVING == status
    assert grpc.StatusCode.NOT_FOUND == not_found.value.code()


async def test_readiness_is_starting_before_start_and_draining_from_stop(split: Split) -> None:
    """A hub is not ready before it has started, nor from the moment it begins to stop."""
    settings = split.users.settings
    hub = Hub(settings, role="users")

    before = hub.readiness()
    await split.users.stop(grace=0)
    after = split.users.readiness()

    assert ("starting", False) == (before.state, before.ready)
    assert ("draining", False) == (after.state, after.ready)


async def test_a_backend_replica_shut_down_under_load_refuses_no_write(
    tmp_path: Path, redis_keys: str
) -> None:
    """A rolling upgrade: of two user-service replicas, one stops (as on SIGTERM) while
    writes stream in through a gateway's client. It reports NOT_SERVING, keeps serving while
    the client takes it out of rotation, and finishes what it took: no write is refused,
    although writes are never retried."""
    settings = role_settings(
        tmp_path / "data", redis_keys, services={"user-service": {"listen": "127.0.0.1:0"}}
    )
    replicas = [Hub(settings, role="users") for _ in range(2)]
    for replica in replicas:
        await replica.start()
    target = Service(
        targets=[replica.backend_targets["user-service"] for replica in replicas]
    ).channel_target()
    assert target is not None
    client = BackendClient({"user-service": target, "mindmap-service": target})
    written: list[str] = []
    refused: list[grpc.StatusCode] = []

    async def writer(number: int, load: asyncio.TaskGroup) -> None:
        for index in range(100):
            if number == 0 and index == 12:  # about 200 writes in: the upgrade begins
                load.create_task(replicas[0].stop())
            user = User(email=f"w{number}-{index}@example.com", display_name="W")
            try:
                reply = await client.users.CreateUser(
                    CreateUserRequest(user=user), timeout=WAIT_SECONDS
                )
                written.append(reply.user.id)
            except aio.AioRpcError as error:
                refused.append(error.code())

    try:
        async with asyncio.TaskGroup() as load:
            for number in range(16):
                load.create_task(writer(number, load))
    finally:
        await client.close()
        for replica in replicas:
            await replica.stop(grace=1)

    assert [] == refused
    assert 16 * 100 == len(set(written))
