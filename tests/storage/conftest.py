"""Fixtures that hand the contract suite each `Store` implementation in turn.

`backing` (tests/conftest.py, one parameter per engine in tests/backings.py) is the storage
section of one engine over one fresh database; `store_factory` makes unopened stores from it
with `build_store`, so a test can close a store and open another on the same data; `store` is
one such store, opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hub.storage.setup import build_store
from hub.storage.store import Store
from tests.backings import StorageSection, store_settings

StoreFactory = Callable[[], Store]


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
