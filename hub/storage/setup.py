"""Builds the store that `storage.engine` names: the one place that chooses an implementation.

The composition root calls `build_store` (and so does every process that needs a store of its
own: each backend role, the tests that open a store from settings in a child process).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import assert_never

from hub.config import ConfigError, Settings
from hub.storage.postgres import PostgresStore
from hub.storage.sqlite import SqliteStore
from hub.storage.store import Store


def build_store(settings: Settings, *, on_commit: Callable[[int], None] | None = None) -> Store:
    """The unopened store of `settings.storage`; `on_commit` is called after each committed
    write (see the stores). Raises `ConfigError` for a DSN that libpq cannot parse."""
    engine = settings.storage.engine
    match engine:
        case "sqlite":
            return SqliteStore(settings.sqlite_path(), on_commit=on_commit)
        case "postgresql":
            postgresql = settings.storage.postgresql
            try:
                return PostgresStore(
                    postgresql.dsn.get_secret_value(),
                    min_connections=postgresql.min_connections,
                    max_connections=postgresql.max_connections,
                    acquire_timeout_seconds=postgresql.acquire_timeout_seconds,
                    on_commit=on_commit,
                )
            except ValueError as error:
                raise ConfigError(
                    f"invalid configuration:\n  storage.postgresql.dsn: {error}"
                ) from None
        case _:
            assert_never(engine)
