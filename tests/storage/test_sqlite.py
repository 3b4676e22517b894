"""What only the SQLite store promises: its migrations, its connection settings, and a file an
operator can read with the `sqlite3` shell."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from hub.storage.migrations import SchemaTooNewError
from hub.storage.sqlite import SqliteStore
from hub.storage.sqlite_schema import LATEST_VERSION, MIGRATIONS, migrate, schema_version
from tests.storage.messages import add_mindmap, add_user


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A plain autocommit connection to a new database file."""
    with closing(sqlite3.connect(tmp_path / "hub.db", isolation_level=None)) as opened:
        yield opened


def test_migrate_brings_a_new_database_to_the_latest_version(
    connection: sqlite3.Connection,
) -> None:
    assert migrate(connection, "test") == list(range(1, LATEST_VERSION + 1))
    assert schema_version(connection) == LATEST_VERSION


def test_migrate_applies_nothing_to_an_up_to_date_database(
    connection: sqlite3.Connection,
) -> None:
    migrate(connection, "test")
    assert migrate(connection, "test") == []
    assert schema_version(connection) == LATEST_VERSION


def test_migrate_refuses_a_database_newer_than_the_code(connection: sqlite3.Connection) -> None:
    connection.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    with pytest.raises(SchemaTooNewError, match=f"schema version {LATEST_VERSION + 1}"):
        migrate(connection, "test")


async def test_opening_a_database_newer_than_the_code_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    store = SqliteStore(path)
    with pytest.raises(SchemaTooNewError, match=str(path)):
        await store.open()


async def test_reopening_the_store_leaves_the_schema_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    for _ in range(2):
        store = SqliteStore(path)
        await store.open()
        await store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        assert schema_version(connection) == LATEST_VERSION
        assert migrate(connection, str(path)) == []


async def test_the_store_creates_its_folder_and_a_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "hub.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_an_operator_reads_nodes_as_json_and_times_as_nanoseconds(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = SqliteStore(path)
    await store.open()
    user = await add_user(store)
    mindmap = await add_mindmap(store, user.id)
    await store.close()

    with closing(sqlite3.connect(path)) as connection:
        nodes, node_count, created = connection.execute(
            "SELECT nodes, node_count, create_time_ns FROM mindmaps WHERE id = ?", (mindmap.id,)
        ).fetchone()
    expected = [
        {"id": n.id, "parent_id": n.parent_id, "text": n.text, "position": n.position}
        for n in mindmap.nodes
    ]
    assert expected == json.loads(nodes)
    assert [len(expected), mindmap.create_time.ToNanoseconds()] == [node_count, created]


async def test_a_store_that_is_not_open_refuses_work(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.db")
    with pytest.raises(RuntimeError, match="not open"):
        await store.list_users(0, 10)


def test_migration_2_puts_the_relay_cursor_after_the_events_of_a_version_1_database(
    connection: sqlite3.Connection,
) -> None:
    """Events committed before there was a relay count as published: a hub upgraded over a
    long history does not replay all of it at start (it primes the bus with the latest)."""
    for statement in MIGRATIONS[0]:
        connection.execute(statement)
    connection.execute("PRAGMA user_version = 1")
    for _ in range(3):
        connection.execute(
            "INSERT INTO outbox (type, subject, owner_id, time_ns, event) "
            "VALUES ('t', 's', 'o', 1, x'')"
        )

    assert 2 == migrate(connection, "test")[0]
    assert [(3,)] == connection.execute("SELECT last_event_id FROM relay_cursor").fetchall()
    assert [(1,), (2,), (3,)] == connection.execute("SELECT id FROM outbox").fetchall()


def test_migration_2_starts_the_relay_cursor_of_a_new_database_at_0(
    connection: sqlite3.Connection,
) -> None:
    migrate(connection, "test")

    assert [(0,)] == connection.execute("SELECT last_event_id FROM relay_cursor").fetchall()
