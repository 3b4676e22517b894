"""The storage engines the suites run on, each over a fresh database of its own.

A backing is the `storage` section of the settings (the YAML file's shape) for one engine:
a SQLite file in the test's folder, or a PostgreSQL schema made for the test and dropped
after it (tests/postgres.py; skipped without a server, failed under CI=true). The fixture
`backing` (tests/conftest.py) runs a test once per entry of `BACKINGS`; stores are built
from it with `build_store`, as `hub serve` builds its own, so a child process can open the
same store from the same section. A new implementation is one more entry in `BACKINGS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from hub.config import Settings
from tests.postgres import fresh_schema

StorageSection = dict[str, Any]
"""The `storage` block of the settings, in the YAML file's shape."""


@contextmanager
def _sqlite(tmp_path: Path) -> Iterator[StorageSection]:
    yield {"engine": "sqlite", "sqlite": {"path": str(tmp_path / "missing-folder" / "hub.db")}}


@contextmanager
def _postgresql(tmp_path: Path) -> Iterator[StorageSection]:
    with fresh_schema() as dsn:
        yield {"engine": "postgresql", "postgresql": {"dsn": dsn, "max_connections": 4}}


BACKINGS: dict[str, Callable[[Path], AbstractContextManager[StorageSection]]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


def store_settings(storage: StorageSection, data_dir: Path) -> Settings:
    """Settings whose store is the one `storage` describes."""
    return Settings.model_validate({"data_dir": data_dir, "storage": storage})
