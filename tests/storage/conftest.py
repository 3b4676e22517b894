"""Fixtures that hand the contract suite each `Store` implementation in turn.

`backing` is the `storage` settings section of one engine over one fresh database (a SQLite
file in the test's folder; a PostgreSQL schema of its own, see tests/postgres.py);
`store_factory` makes unopened stores from it with `build_store`, so a test can close a store
and open another on the same data, and a child process can open one from the same section;
`store` is one such store, opened. A new implementation is one more entry in `_BACKINGS`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from hub.config import Settings
from hub.storage.setup import build_store
from hub.storage.store import Store
from tests.postgres import fresh_schema

StoreFactory = Callable[[], Store]
StorageSection = dict[str, Any]
"""The `storage` block of the settings, in the YAML file's shape."""


@contextmanager
def _sqlite(tmp_path: Path) -> Iterator[StorageSection]:
    yield {"engine": "sqlite", "sqlite": {"path": str(tmp_path / "missing-folder" / "hub.db")}}


@contextmanager
def _postgresql(tmp_path: Path) -> Iterator[StorageSection]:
    with fresh_schema() as dsn:
        yield {"engine": "postgresql", "postgresql": {"dsn": dsn, "max_connections": 4}}


_BACKINGS: dict[str, Callable[[Path], AbstractContextManager[StorageSection]]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


def store_settings(storage: StorageSection, data_dir: Path) -> Settings:
    """Settings whose store is the one `storage` describes."""
    return Settings.model_validate({"data_dir": data_dir, "storage": storage})


@pytest.fixture(params=sorted(_BACKINGS))
def backing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageSection]:
    """The storage section of one implementation over one fresh database."""
    name: str = request.param
    with _BACKINGS[name](tmp_path) as storage:
        yield storage


@pytest.fixture
def store_factory(backing: StorageSection, tmp_path: Path) -> StoreFactory:
    """Makes stores of one implementation over one fresh database."""
    settings = store_settings(backing, tmp_path)
    return lambda: build_store(settings)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    """An open store over a fresh database, closed after the test."""
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()
