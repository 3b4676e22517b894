"""The SQLite schema, as ordered migration steps (the rules are in `migrations.py`).

The version lives in `PRAGMA user_version` (0 for a new file). Writers take the database
lock with `BEGIN IMMEDIATE`, so two processes opening one file migrate it once.

Column meanings (times in nanoseconds, JSON nodes, `email_key`) are those of `rows.py`.
"""

from __future__ import annotations

import sqlite3

from hub.storage.migrations import needs_migration

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: users, mindmaps, outbox.
    (
        """
        CREATE TABLE users (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            email TEXT NOT NULL,
            email_key TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            plan INTEGER NOT NULL,
            create_time_ns INTEGER NOT NULL,
            update_time_ns INTEGER NOT NULL,
            etag TEXT NOT NULL
        ) STRICT
        """,
        """
        CREATE TABLE mindmaps (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            nodes TEXT NOT NULL,
            node_count INTEGER NOT NULL,
            create_time_ns INTEGER NOT NULL,
            update_time_ns INTEGER NOT NULL,
            etag TEXT NOT NULL
        ) STRICT
        """,
        "CREATE INDEX mindmaps_by_owner ON mindmaps (owner_id, seq)",
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            subject TEXT NOT NULL,
            owner_id TEXT NOT NULL,
            time_ns INTEGER NOT NULL,
            event BLOB NOT NULL
        ) STRICT
        """,
    ),
    # 2: the relay cursor: one row, the id of the last outbox event published to the bus.
    # Events committed before there was a relay count as published (nobody subscribed to
    # them); the relay still primes the bus with the latest of them.
    (
        """
        CREATE TABLE relay_cursor (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_event_id INTEGER NOT NULL
        ) STRICT
        """,
        "INSERT INTO relay_cursor (id, last_event_id) SELECT 1, coalesce(max(id), 0) FROM outbox",
    ),
)

LATEST_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    """The schema version recorded in the database (0 for a new one)."""
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(connection: sqlite3.Connection, database: str) -> list[int]:
    """Applies the pending steps on `connection` (autocommit mode, tuple rows) and returns
    the versions applied, none if the schema is current. `database` names it in errors.

    Raises `migrations.SchemaTooNewError` if the database is newer than `LATEST_VERSION`.
    """
    applied: list[int] = []
    while True:
        connection.execute("BEGIN IMMEDIATE")
        with connection:  # commits, or rolls back on an exception
            version = schema_version(connection)
            if not needs_migration(version, LATEST_VERSION, database):
                return applied
            for statement in MIGRATIONS[version]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {version + 1}")
        applied.append(version + 1)
