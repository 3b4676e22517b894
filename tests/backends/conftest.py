"""Fixtures: both servicers on a real grpc.aio server (TCP, port 0) over a real store, once
per storage engine (`backing`: a SQLite file, a PostgreSQL schema; tests/backings.py).

`store` is the open store the servicers write to (tests read its outbox directly);
`users` and `mindmaps` are the generated async stubs over a real channel to that server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest

from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.user.v1 import user_pb2_grpc
from hub.storage.setup import build_store
from hub.storage.store import Store
from tests.backends.support import serve
from tests.backings import StorageSection, store_settings

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub


@pytest.fixture
async def store(backing: StorageSection, tmp_path: Path) -> AsyncIterator[Store]:
    """An open store over a fresh database, closed after the test."""
    opened = build_store(store_settings(backing, tmp_path))
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def channel(store: Store) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to a running server with both servicers over `store`."""
    server, address = await serve(store)
    async with grpc.aio.insecure_channel(address) as opened:
        yield opened
    await server.stop(None)


@pytest.fixture
def users(channel: grpc.aio.Channel) -> UserServiceAsyncStub:
    """The UserService client."""
    return user_pb2_grpc.UserServiceStub(channel)


@pytest.fixture
def mindmaps(channel: grpc.aio.Channel) -> MindmapServiceAsyncStub:
    """The MindmapService client."""
    return mindmap_pb2_grpc.MindmapServiceStub(channel)
