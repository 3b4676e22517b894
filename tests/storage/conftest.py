"""Fixtures that hand the contract suite each `Store` implementation in turn.

`store_factory` makes unopened stores that share one backing database, so a test can close a
store and open another on the same data; `store` is one such store, opened. A new
implementation is one more entry in `_BACKINGS`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hub.storage.sqlite import SqliteStore
from hub.storage.store import Store

StoreFactory = Callable[[], Store]


def _sqlite(tmp_path: Path) -> StoreFactory:
    path = tmp_path / "missing-folder" / "hub.db"
    return lambda: SqliteStore(path)


_BACKINGS: dict[str, Callable[[Path], StoreFactory]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(_BACKINGS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes stores of one implementation over one fresh database."""
    backing: str = request.param
    return _BACKINGS[backing](tmp_path)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    """An open store over a fresh database, closed after the test."""
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()
