"""The PostgreSQL schema, as ordered migration steps (the rules are in `migrations.py`).

The version lives in the one-row table `hub_schema` (missing: version 0). Every migrating
transaction first takes the advisory lock `MIGRATION_LOCK`, so hubs that start at once
against one database apply each step once: the others wait, then find it applied.

Column meanings (times in nanoseconds, nodes as JSON, `email_key`) are those of `rows.py`,
with PostgreSQL types: `bigint` times, `jsonb` nodes (an operator can query them), `bytea`
events. Two choices differ from SQLite, for the sake of several writers at once:
- `seq`, the insertion order lists page by, is the id of the row's creating event, set under
  the outbox lock just before commit (`postgres.py`). So it follows commit order, as outbox
  ids do, and a page read never passes over a row that commits later with a smaller seq. It
  is NULL only inside the inserting transaction, never in a committed row.
- Constraints are named: the store recognises a violation by its constraint's name.
"""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from hub.storage.migrations import needs_migration

MIGRATION_LOCK = 0x6875_6200_0000_0002
"""The transaction-level advisory lock key taken by every migrating transaction ("hub" 2)."""

EMAIL_UNIQUE = "users_email_key_unique"
"""The constraint that makes emails unique ignoring case."""
OWNER_REFERENCE = "mindmaps_owner_id_fkey"
"""The constraint that ties a mindmap to its owner (RESTRICT: no deleting a user who owns one)."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: users, mindmaps, the outbox and the relay cursor.
    (
        f"""
        CREATE TABLE users (
            seq bigint UNIQUE,
            id text PRIMARY KEY,
            email text NOT NULL,
            email_key text NOT NULL CONSTRAINT {EMAIL_UNIQUE} UNIQUE,
            display_name text NOT NULL,
            plan integer NOT NULL,
            create_time_ns bigint NOT NULL,
            update_time_ns bigint NOT NULL,
            etag text NOT NULL
        )
        """,
        f"""
        CREATE TABLE mindmaps (
            seq bigint UNIQUE,
            id text PRIMARY KEY,
            owner_id text NOT NULL
                CONSTRAINT {OWNER_REFERENCE} REFERENCES users (id) ON DELETE RESTRICT,
            title text NOT NULL,
            description text NOT NULL,
            nodes jsonb NOT NULL,
            node_count integer NOT NULL,
            create_time_ns bigint NOT NULL,
            update_time_ns bigint NOT NULL,
            etag text NOT NULL
        )
        """,
        "CREATE INDEX mindmaps_by_owner ON mindmaps (owner_id, seq)",
        """
        CREATE TABLE outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            type text NOT NULL,
            subject text NOT NULL,
            owner_id text NOT NULL,
            time_ns bigint NOT NULL,
            event bytea NOT NULL
        )
        """,
        """
        CREATE TABLE relay_cursor (
            id integer PRIMARY KEY CHECK (id = 1),
            last_event_id bigint NOT NULL
        )
        """,
        "INSERT INTO relay_cursor (id, last_event_id) VALUES (1, 0)",
    ),
)

LATEST_VERSION = len(MIGRATIONS)

_CREATE_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS hub_schema (
        id integer PRIMARY KEY CHECK (id = 1),
        version integer NOT NULL
    )
"""


async def schema_version(connection: AsyncConnection[TupleRow]) -> int:
    """The schema version recorded in the database (0 for a new one)."""
    cursor = await connection.execute("SELECT to_regclass('hub_schema') IS NOT NULL")
    if await cursor.fetchone() != (True,):
        return 0
    cursor = await connection.execute("SELECT version FROM hub_schema")
    row = await cursor.fetchone()
    version: int = 0 if row is None else row[0]
    return version


async def migrate(connection: AsyncConnection[TupleRow], database: str) -> list[int]:
    """Applies the pending steps on `connection` (autocommit mode, tuple rows) and returns
    the versions applied, none if the schema is current. `database` names it in errors.

    Raises `migrations.SchemaTooNewError` if the database is newer than `LATEST_VERSION`.
    """
    applied: list[int] = []
    while True:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            version = await schema_version(connection)
            if not needs_migration(version, LATEST_VERSION, database):
                return applied
            if version == 0:
                await connection.execute(_CREATE_VERSION_TABLE)
                await connection.execute("INSERT INTO hub_schema (id, version) VALUES (1, 0)")
            for statement in MIGRATIONS[version]:
                await connection.execute(statement)
            await connection.execute("UPDATE hub_schema SET version = %s", (version + 1,))
        applied.append(version + 1)
