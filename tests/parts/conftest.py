"""A split hub in this process: a `users` and a `mindmaps` hub (each its own `Hub`, with
its own store on one SQLite file, and its own HTTP server) and a `gateway` hub dialling
them over TCP, on free loopback ports, sharing one Redis (`redis.url`; skipped without a
Redis on 127.0.0.1:6379, a failure under CI=true)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.config import Role, Settings

REDIS = ("127.0.0.1", 6379)


@pytest.fixture
def redis_url() -> str:
    """The URL of the Redis the tests share."""
    try:
        socket.create_connection(REDIS, timeout=1).close()
    except OSError as error:
        reason = f"no Redis on {REDIS[0]}:{REDIS[1]} ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run it")
        pytest.skip(reason)
    return f"redis://{REDIS[0]}:{REDIS[1]}/0"


def role_settings(data_dir: Path, redis_url: str, **sections: Any) -> Settings:
    """Settings for one process of a split hub: free ports, one data folder, one Redis
    under a key prefix of the test's own."""
    return Settings.model_validate(
        {
            "data_dir": data_dir,
            "grpc": {"listen": "127.0.0.1:0"},
            "http": {"listen": "127.0.0.1:0"},
            "redis": {"url": redis_url, "key_prefix": f"hub-test-{uuid.uuid4().hex[:8]}"},
            **sections,
        }
    )


@dataclass
class Split:
    """The three hubs of a split deployment, started."""

    users: Hub
    mindmaps: Hub
    gateway: Hub


@pytest.fixture
async def split(tmp_path: Path, redis_url: str) -> AsyncIterator[Split]:
    base = role_settings(tmp_path / "data", redis_url)
    prefix = {"redis": base.redis.model_dump()}
    started: list[Hub] = []

    async def start(role: Role, **sections: Any) -> Hub:
        hub = Hub(role_settings(tmp_path / "data", redis_url, **prefix, **sections), role=role)
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
        yield Split(users=users, mindmaps=mindmaps, gateway=gateway)
    finally:
        for hub in reversed(started):
            await hub.stop(grace=1)
