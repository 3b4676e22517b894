"""`SqliteStore`: the `Store` of the embedded default, one SQLite file in WAL mode.

sqlite3 blocks, so each connection lives on its own single-thread executor (a "lane") and
is only ever used from that thread:
- the writer lane runs each write as one synchronous function, BEGIN IMMEDIATE to COMMIT
  (or ROLLBACK), so write transactions never interleave and outbox ids follow commit order;
- the reader lane serves every read; under WAL it never waits for the writer and each
  statement sees the last committed state.
The mapping between rows and messages is `rows.py`; the schema is `sqlite_schema.py`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap
from hub.contracts.user.v1.user_pb2 import User
from hub.storage import rows
from hub.storage.sqlite_schema import migrate
from hub.storage.store import Row

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000

_USER_COLUMNS = "seq, id, email, display_name, plan, create_time_ns, update_time_ns, etag"
_MINDMAP_SUMMARY_COLUMNS = (
    "seq, id, owner_id, title, description, node_count, create_time_ns, update_time_ns, etag"
)
_MINDMAP_COLUMNS = f"{_MINDMAP_SUMMARY_COLUMNS}, nodes"

_INSERT_USER = """
    INSERT INTO users (id, email, email_key, display_name, plan, create_time_ns,
                       update_time_ns, etag)
    VALUES (:id, :email, :email_key, :display_name, :plan, :create_time_ns,
            :update_time_ns, :etag)
"""
_UPDATE_USER = """
    UPDATE users SET email = :email, email_key = :email_key, display_name = :display_name,
                     plan = :plan, update_time_ns = :update_time_ns, etag = :etag
    WHERE id = :id AND etag = :expected_etag
"""
_DELETE_USER = "DELETE FROM users WHERE id = :id AND etag = :expected_etag"
_USER_EXISTS = "SELECT 1 FROM users WHERE id = ?"

_INSERT_MINDMAP = """
    INSERT INTO mindmaps (id, owner_id, title, description, nodes, node_count,
                          create_time_ns, update_time_ns, etag)
    VALUES (:id, :owner_id, :title, :description, :nodes, :node_count,
            :create_time_ns, :update_time_ns, :etag)
"""
_UPDATE_MINDMAP = """
    UPDATE mindmaps SET title = :title, description = :description, nodes = :nodes,
                        node_count = :node_count, update_time_ns = :update_time_ns, etag = :etag
    WHERE id = :id AND etag = :expected_etag
"""
_DELETE_MINDMAP = "DELETE FROM mindmaps WHERE id = :id AND etag = :expected_etag"
_MINDMAP_EXISTS = "SELECT 1 FROM mindmaps WHERE id = ?"

_INSERT_EVENT = """
    INSERT INTO outbox (type, subject, owner_id, time_ns, event)
    VALUES (:type, :subject, :owner_id, :time_ns, :event)
    RETURNING id
"""


class SqliteStore:
    """A `hub.storage.store.Store` on the SQLite file at `path` (its folder is created).

    `on_commit`, if given, is called in the event loop after every committed write (the
    composition root wakes the event relay with it).
    """

    def __init__(self, path: str | Path, *, on_commit: Callable[[int], None] | None = None) -> None:
        self._path = Path(path)
        self._on_commit = on_commit
        self._writer = _Lane("hub-sqlite-writer")
        self._reader = _Lane("hub-sqlite-reader")

    async def open(self) -> None:
        """Creates the file if needed, applies pending migrations, connects both lanes."""
        try:
            await asyncio.to_thread(self._path.parent.mkdir, parents=True, exist_ok=True)
            await self._writer.open(self._connect_writer)
            await self._reader.open(self._connect_reader)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Lets queued work finish, then closes both connections and their threads."""
        await self._writer.close()
        await self._reader.close()

    def _connect_writer(self) -> sqlite3.Connection:
        connection = _connect(self._path)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            migrate(connection, str(self._path))
        except BaseException:
            connection.close()
            raise
        connection.row_factory = _dict_row
        return connection

    def _connect_reader(self) -> sqlite3.Connection:
        connection = _connect(self._path)
        connection.execute("PRAGMA query_only = ON")
        connection.row_factory = _dict_row
        return connection

    # Users -------------------------------------------------------------------------------

    async def insert_user(self, user: User, event: Event) -> int:
        def write(connection: sqlite3.Connection) -> None:
            _write_user(connection, _INSERT_USER, rows.user_to_row(user))

        return await self._write(write, event)

    async def get_users(self, ids: Sequence[str]) -> dict[str, User]:
        found = await self._read(
            f"SELECT {_USER_COLUMNS} FROM users WHERE {_in_ids(ids)}",  # noqa: S608
            list(ids),
        )
        return {row["id"]: rows.user_from_row(row) for row in found}

    async def list_users(self, after_seq: int, limit: int) -> list[Row[User]]:
        found = await self._read(
            f"SELECT {_USER_COLUMNS} FROM users WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
            (after_seq, limit),
        )
        return [Row(row["seq"], rows.user_from_row(row)) for row in found]

    async def update_user(self, user: User, expected_etag: str, event: Event) -> int:
        def write(connection: sqlite3.Connection) -> None:
            params = {**rows.user_to_row(user), "expected_etag": expected_etag}
            cursor = _write_user(connection, _UPDATE_USER, params)
            _check_swapped(connection, cursor, _USER_EXISTS, rows.USER_TYPE, user.id)

        return await self._write(write, event)

    async def delete_user(self, user_id: str, expected_etag: str, event: Event) -> int:
        def write(connection: sqlite3.Connection) -> None:
            params = {"id": user_id, "expected_etag": expected_etag}
            try:
                cursor = connection.execute(_DELETE_USER, params)
            except sqlite3.IntegrityError as error:
                if _violates_foreign_key(error):
                    raise rows.user_has_mindmaps(user_id) from error
                raise
            _check_swapped(connection, cursor, _USER_EXISTS, rows.USER_TYPE, user_id)

        return await self._write(write, event)

    # Mindmaps ----------------------------------------------------------------------------

    async def insert_mindmap(self, mindmap: Mindmap, event: Event) -> int:
        def write(connection: sqlite3.Connection) -> None:
            _write_mindmap(connection, _INSERT_MINDMAP, rows.mindmap_to_row(mindmap))

        return await self._write(write, event)

    async def get_mindmaps(self, ids: Sequence[str], *, with_nodes: bool) -> dict[str, Mindmap]:
        columns = _MINDMAP_COLUMNS if with_nodes else _MINDMAP_SUMMARY_COLUMNS
        found = await self._read(
            f"SELECT {columns} FROM mindmaps WHERE {_in_ids(ids)}",  # noqa: S608
            list(ids),
        )
        return {row["id"]: rows.mindmap_from_row(row) for row in found}

    async def list_mindmaps(
        self, owner_id: str | None, after_seq: int, limit: int, *, with_nodes: bool
    ) -> list[Row[Mindmap]]:
        columns = _MINDMAP_COLUMNS if with_nodes else _MINDMAP_SUMMARY_COLUMNS
        of_owner = "" if owner_id is None else "owner_id = :owner_id AND"
        found = await self._read(
            f"SELECT {columns} FROM mindmaps WHERE {of_owner} seq > :after_seq "  # noqa: S608
            "ORDER BY seq LIMIT :limit",
            {"owner_id": owner_id, "after_seq": after_seq, "limit": limit},
        )
        return [Row(row["seq"], rows.mindmap_from_row(row)) for row in found]

    async def update_mindmap(self, mindmap: Mindmap, expected_etag: str, event: Event) -> int:
        def write(connection: sqlite3.Connection) -> None:
            params = {**rows.mindmap_to_row(mindmap), "expected_etag": expected_etag}
            cursor = _write_mindmap(connection, _UPDATE_MINDMAP, params)
            _check_swapped(connection, cursor, _MINDMAP_EXISTS, rows.MINDMAP_TYPE, mindmap.id)

        return await self._write(write, event)

    async def delete_mindmap(self, mindmap_id: str, expected_etag: str, event: Event) -> int:
        def write(connection: sqlite3.Connection) -> None:
            params = {"id": mindmap_id, "expected_etag": expected_etag}
            cursor = connection.execute(_DELETE_MINDMAP, params)
            _check_swapped(connection, cursor, _MINDMAP_EXISTS, rows.MINDMAP_TYPE, mindmap_id)

        return await self._write(write, event)

    # Outbox ------------------------------------------------------------------------------

    async def read_outbox(self, after_id: int, limit: int) -> list[Event]:
        found = await self._read(
            "SELECT id, event FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [rows.event_from_row(row) for row in found]

    async def read_relay_cursor(self) -> int:
        (row,) = await self._read("SELECT last_event_id FROM relay_cursor", ())
        last: int = row["last_event_id"]
        return last

    async def save_relay_cursor(self, event_id: int) -> None:
        def save(connection: sqlite3.Connection) -> None:
            connection.execute("UPDATE relay_cursor SET last_event_id = ?", (event_id,))

        await self._writer.run(save)

    # Lanes -------------------------------------------------------------------------------

    async def _write(self, change: Callable[[sqlite3.Connection], None], event: Event) -> int:
        """Runs `change` and appends `event` to the outbox in one transaction; returns the
        event id. Nothing of either commits if `change` raises."""

        def transaction(connection: sqlite3.Connection) -> int:
            connection.execute("BEGIN IMMEDIATE")
            with connection:  # commits, or rolls back on an exception
                change(connection)
                (inserted,) = connection.execute(_INSERT_EVENT, rows.event_to_row(event)).fetchall()
            event_id: int = inserted["id"]
            return event_id

        event_id = await self._writer.run(transaction)
        if self._on_commit is not None:
            self._on_commit(event_id)
        return event_id

    async def _read(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        """The rows (column → value dictionaries) of one query on the reader lane."""
        return await self._reader.run(lambda connection: connection.execute(sql, params).fetchall())


class _Lane:
    """One sqlite3 connection and the single thread that alone uses it, in submission order."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    async def open(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        self._connection = await self._submit(self._executor, connect)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        executor, connection = self._executor, self._connection
        if executor is None or connection is None:
            raise RuntimeError(f"{self._name}: the store is not open")
        return await self._submit(executor, lambda: work(connection))

    async def close(self) -> None:
        executor, connection = self._executor, self._connection
        self._executor = self._connection = None
        if executor is None:
            return
        if connection is not None:
            await self._submit(executor, connection.close)
        await asyncio.to_thread(executor.shutdown)

    @staticmethod
    async def _submit(executor: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, work)


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _in_ids(ids: Sequence[str]) -> str:
    """`id IN (?, ...)` with one parameter per id. Not SQLite's `json_each`, whose text
    values end at the first NUL: an id with one must match nothing, not a prefix of it."""
    return f"id IN ({', '.join('?' * len(ids))})"


def _dict_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


def _write_user(connection: sqlite3.Connection, sql: str, params: dict[str, Any]) -> sqlite3.Cursor:
    """Inserts or updates a user row; a duplicate email is `AlreadyExists`."""
    try:
        return connection.execute(sql, params)
    except sqlite3.IntegrityError as error:
        if _violates_unique(error, "users.email_key"):
            raise rows.email_taken(params["email"]) from error
        raise


def _write_mindmap(
    connection: sqlite3.Connection, sql: str, params: dict[str, Any]
) -> sqlite3.Cursor:
    """Inserts or updates a mindmap row; an owner that is not a user is `NotFound`."""
    try:
        return connection.execute(sql, params)
    except sqlite3.IntegrityError as error:
        if _violates_foreign_key(error):
            raise rows.owner_not_found(params["owner_id"]) from error
        raise


def _violates_unique(error: sqlite3.IntegrityError, column: str) -> bool:
    """Whether `error` reports a duplicate in the UNIQUE `column` (`table.column`)."""
    return (
        error.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE"
        and str(error) == f"UNIQUE constraint failed: {column}"
    )


def _violates_foreign_key(error: sqlite3.IntegrityError) -> bool:
    """Whether `error` reports a foreign key violation: a missing parent row
    (SQLITE_CONSTRAINT_FOREIGNKEY) or a RESTRICT one (SQLITE_CONSTRAINT_TRIGGER)."""
    return str(error) == "FOREIGN KEY constraint failed"


def _check_swapped(
    connection: sqlite3.Connection,
    cursor: sqlite3.Cursor,
    exists_sql: str,
    resource_type: str,
    resource_id: str,
) -> None:
    """After a compare-and-swap statement: `NotFound` or `Aborted` unless it changed a row."""
    if cursor.rowcount == 0:
        found = connection.execute(exists_sql, (resource_id,)).fetchone() is not None
        raise rows.swap_refused(found, resource_type, resource_id)
