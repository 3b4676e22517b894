"""The real Redis the tests use (127.0.0.1:6379, or `HUB_TEST_REDIS_URL`), each test in a key
space of its own.

`redis_space()` hands a test a client and a fresh key prefix (`hubtest-<random>`), and
deletes every key under that prefix afterwards (`redis_prefix()`: the same for processes a
test starts, which connect by themselves): tests never touch each other's keys nor
anything else in the database (no FLUSHDB: other suites and other checkouts share it).
Without Redis the test is skipped, saying why; when `CI=true` a missing Redis is a failure.

`redis_server(port, folder)` runs a redis-server of the test's own instead, for tests that
stop Redis under the hub (`unused_port()` picks its port).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.testing import scratch_key_prefix

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_SECONDS = 10
"""How long a redis-server of a test's own (`redis_server`) may take to answer."""


def connect() -> Redis:
    """A new client (own connection pool) to the test Redis."""
    return Redis.from_url(REDIS_URL, socket_connect_timeout=2)


@dataclass(frozen=True)
class RedisSpace:
    """A client and the key prefix that is this test's alone."""

    client: Redis
    prefix: str

    def key(self, name: str) -> str:
        """A key under the prefix."""
        return f"{self.prefix}:{name}"


async def require_redis(client: Redis) -> None:
    """Skips the test when Redis does not answer (fails it when `CI=true`)."""
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        _unreachable(error)


def _unreachable(error: Exception) -> NoReturn:
    reason = f"Redis is not reachable at {REDIS_URL} ({error})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must provide it")
    pytest.skip(f"{reason}; start redis-server to run this test")


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix for processes the test starts (they connect to `REDIS_URL`
    themselves); its keys are deleted afterwards. Skips without Redis (fails under CI)."""
    with ExitStack() as stack:
        try:
            prefix = stack.enter_context(scratch_key_prefix(REDIS_URL, "hubtest"))
        except (RedisError, OSError) as error:
            _unreachable(error)
        yield prefix


@asynccontextmanager
async def redis_space() -> AsyncIterator[RedisSpace]:
    """A client and a fresh prefix; the prefix's keys are deleted afterwards."""
    client = connect()
    await require_redis(client)
    space = RedisSpace(client, f"hubtest-{secrets.token_hex(6)}")
    try:
        yield space
    finally:
        keys = [key async for key in client.scan_iter(match=f"{space.prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (as of now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def redis_server(port: int, folder: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A redis-server of the test's own on `port`, without persistence, stopped on exit
    (the test may stop it sooner: `terminate()` and `wait()` on the process yielded)."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (Debian package redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must provide it")
        pytest.skip(reason)
    server = await asyncio.create_subprocess_exec(
        binary,
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        *("--dir", str(folder)),
        stdout=asyncio.subprocess.DEVNULL,
    )
    probe = Redis(port=port, socket_connect_timeout=1)
    try:
        async with asyncio.timeout(START_SECONDS):
            while True:
                try:
                    await probe.ping()
                    break
                except RedisError:
                    await asyncio.sleep(0.05)
        yield server
    finally:
        await probe.aclose()
        if server.returncode is None:
            server.terminate()
            await server.wait()
