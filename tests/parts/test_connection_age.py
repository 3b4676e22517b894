"""A backend's server asks the gateway to reconnect once a connection reaches
`services.<name>.max_connection_age_seconds` (gRPC's `max_connection_age`): the gateway makes
a new connection (and resolves a `dns:///` target again, so replicas added behind the name
get calls), and no call fails on the way. Not on a unix socket (the embedded default), where
there is nothing to resolve and the reconnection would only blink the front end's health."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import httpx
import psutil
from grpc_health.v1 import health_pb2

from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.testing import RunningHub, running_hub

SECONDS = 3.0
AGE_SECONDS = 0.5


def _client_ports(backend_port: int) -> set[int]:
    """The local ports of this process's connections to `backend_port`."""
    return {
        connection.laddr.port
        for connection in psutil.Process().net_connections(kind="tcp")
        if connection.raddr and connection.raddr.port == backend_port
    }


async def test_an_aged_connection_is_replaced_without_failing_a_call(tmp_path: Path) -> None:
    services = {
        "user-service": {"listen": "127.0.0.1:0", "max_connection_age_seconds": AGE_SECONDS},
        "mindmap-service": {"listen": "127.0.0.1:0"},
    }
    async with running_hub(tmp_path, "tcp", services=services) as running:
        address = next(
            bound for what, bound in running.hub.listening().items() if what.startswith("user-")
        )
        backend_port = int(address.rpartition(":")[2])
        created = await running.users.CreateUser(
            CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
        )
        ports: set[int] = set()
        statuses: list[int] = []
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline:
                response = await http.get(f"/api/v1/users/{created.user.id}")
                statuses.append(response.status_code)
                ports |= _client_ports(backend_port)
                await asyncio.sleep(0.01)

    assert {200} == set(statuses)
    # One connection per age at least (gRPC jitters the age by up to 10%).
    assert len(ports) >= SECONDS / (AGE_SECONDS * 1.1) - 1


async def _health_and_reachability(running: RunningHub) -> tuple[list[int], int]:
    """The front end's overall health statuses, watched for SECONDS, and how many times the
    gateway's channel to the user service was seen not READY meanwhile (polled each ms)."""
    client = running.hub.gateway.client if running.hub.gateway is not None else None
    assert client is not None
    statuses: list[int] = []
    unready = 0

    async def watch() -> None:
        async for reply in running.health.Watch(health_pb2.HealthCheckRequest(service="")):
            statuses.append(reply.status)

    watching = asyncio.create_task(watch())
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        unready += not client.reachable("user-service")
        await asyncio.sleep(0.001)
    watching.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watching
    return statuses, unready


async def test_a_replaced_connection_does_not_blink_the_front_ends_health(
    tmp_path: Path,
) -> None:
    """A TCP backend of one replica, aged every AGE_SECONDS: while the gateway reconnects,
    its channel is briefly not READY, but the front end reports no NOT_SERVING for it (the
    reconnection mends within the grace)."""
    services = {
        "user-service": {"listen": "127.0.0.1:0", "max_connection_age_seconds": AGE_SECONDS},
        "mindmap-service": {"listen": "127.0.0.1:0"},
    }
    async with running_hub(tmp_path, "tcp", services=services) as running:
        statuses, _ = await _health_and_reachability(running)

    assert [health_pb2.HealthCheckResponse.SERVING] == statuses


async def test_a_unix_socket_connection_is_not_aged(tmp_path: Path) -> None:
    """The age set on a backend that listens on a unix socket is not applied: the gateway's
    channel stays READY throughout (an aged one is seen not READY while it reconnects)."""
    services = {"user-service": {"max_connection_age_seconds": AGE_SECONDS}}
    async with running_hub(tmp_path, services=services) as running:
        statuses, unready = await _health_and_reachability(running)

    assert ([health_pb2.HealthCheckResponse.SERVING], 0) == (statuses, unready)
