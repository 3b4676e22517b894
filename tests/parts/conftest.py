"""A split hub in this process: a `users` and a `mindmaps` hub (each its own `Hub`, with
its own store on one SQLite file, and its own HTTP server) and a `gateway` hub dialling
them over TCP, on free loopback ports, sharing the test Redis under a key prefix of the
test's own (tests/redisdb.py: skipped without Redis, a failure under CI=true)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.config import SERVICE_NAMES, Role, ServiceName, Settings
from tests.redisdb import REDIS_URL, redis_prefix

WAIT_SECONDS = 10.0


@pytest.fixture
def redis_keys() -> Iterator[str]:
    """A key prefix in the test Redis for the hubs of the test."""
    with redis_prefix() as prefix:
        yield prefix


def role_settings(data_dir: Path, prefix: str, **sections: Any) -> Settings:
    """Settings for one process of a split hub: free ports, one data folder, the test
    Redis under `prefix`."""
    return Settings.model_validate(
        {
            "data_dir": data_dir,
            "grpc": {"listen": "127.0.0.1:0"},
            "http": {"listen": "127.0.0.1:0"},
            "redis": {"url": REDIS_URL, "key_prefix": prefix},
            **sections,
        }
    )


async def until_reachable(hub: Hub, services: Iterable[ServiceName], reachable: bool) -> None:
    """Waits until the gateway of `hub` can (or cannot) reach each of `services`."""
    gateway = hub.gateway
    assert gateway is not None
    assert gateway.client is not None
    async with asyncio.timeout(WAIT_SECONDS):
        for service in services:
            async for now in gateway.client.reachability(service):
                if now is reachable:
                    break


@dataclass
class Split:
    """The three hubs of a split deployment, started."""

    users: Hub
    mindmaps: Hub
    gateway: Hub


@pytest.fixture
async def split(tmp_path: Path, redis_keys: str) -> AsyncIterator[Split]:
    started: list[Hub] = []

    async def start(role: Role, **sections: Any) -> Hub:
        hub = Hub(role_settings(tmp_path / "data", redis_keys, **sections), role=role)
        await hub.start()
        started.append(hub)
        return hub

    try:
        users = await start("users", services={"user-service": {"listen": "127.0.0.1:0"}})
        mindmaps = await start("mindmaps", services={"mindmap-service": {"listen": "127.0.0.1:0"}})
        targets = {**users.backend_targets, **mindmaps.backend_targets}
        gateway = await start(
            "gateway",
            services={name: {"targets": [target]} for name, target in targets.items()},
        )
        await until_reachable(gateway, SERVICE_NAMES, True)
        yield Split(users=users, mindmaps=mindmaps, gateway=gateway)
    finally:
        for hub in reversed(started):
            await hub.stop(grace=1)
