"""Fixtures shared by the suites: a whole hub in this process, over each backend binding.

`binding` runs a test once per way the front end reaches the backends (unix socket, TCP);
`running` is a started hub (`hub.testing.running_hub`) in the test's tmp folder with an open
channel and stubs to its public gRPC front end; `keyspace` a client of the real Redis and a
key prefix of the test's own (tests/redisdb.py); `backing` runs a test once per storage
engine, over a fresh database (tests/backings.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub.testing import BINDINGS, Binding, RunningHub, running_hub
from tests.backings import BACKINGS, StorageSection
from tests.redisdb import RedisSpace, redis_space


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> Binding:
    """How the front end reaches the backends: "unix" socket or "tcp"."""
    value: Binding = request.param
    return value


@pytest.fixture
async def running(tmp_path: Path, binding: Binding) -> AsyncIterator[RunningHub]:
    """A started hub over `binding`, stopped after the test."""
    async with running_hub(tmp_path / "data", binding) as hub:
        yield hub


@pytest.fixture
async def keyspace() -> AsyncIterator[RedisSpace]:
    """The test Redis and a fresh key prefix, its keys deleted after the test (skips without
    Redis; fails without it when `CI=true`)."""
    async with redis_space() as space:
        yield space


@pytest.fixture(params=sorted(BACKINGS))
def backing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageSection]:
    """The `storage` settings section of one engine over a fresh database."""
    name: str = request.param
    with BACKINGS[name](tmp_path) as storage:
        yield storage
