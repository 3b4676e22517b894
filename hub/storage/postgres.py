"""`PostgresStore`: the `Store` of a scale-out deployment, on PostgreSQL (psycopg 3, async).

Several hub processes may share one database (the user and the mindmap service refer to each
other's rows), so everything that SQLite gets from its single writer is made explicit here:
- A write is one transaction on a pooled connection (`psycopg_pool.AsyncConnectionPool`,
  autocommit outside explicit transactions, so a read is one statement and one round trip):
  the row change, then the outbox row. A compare-and-swap is `UPDATE/DELETE ... WHERE id AND
  etag`; a concurrent writer of the same row waits on its row lock and then finds the etag
  changed, so exactly one of them wins (READ COMMITTED re-checks the condition on the newest
  row version).
- Outbox ids follow commit order: the outbox row is inserted under the transaction-level
  advisory lock `OUTBOX_LOCK`, held to commit, so no other transaction can draw an id between
  this one's id and its commit, and a relay reading "after its cursor" never passes over an
  event that commits later. The lock is taken last, after every row lock, and its holder waits
  for no other lock, so it cannot deadlock; it serializes only the end of each write.
- A new row's `seq` is its creating event's id, set in the statement that inserts the event
  (see `postgres_schema.py`), so lists page in commit order too.
Mapping between rows and messages is `rows.py`; the schema is `postgres_schema.py`, applied at
`open()` under an advisory lock (safe when several processes start at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

import psycopg
from psycopg import AsyncConnection, errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap
from hub.contracts.user.v1.user_pb2 import User
from hub.storage import rows
from hub.storage.postgres_schema import EMAIL_UNIQUE, OWNER_REFERENCE, migrate
from hub.storage.store import Row, StoreUnavailableError

OUTBOX_LOCK = 0x6875_6200_0000_0001
"""The transaction-level advisory lock key every write holds from its outbox insert to its
commit ("hub" 1). Another application's advisory locks on the database must not use it."""

CONNECT_TIMEOUT_SECONDS = 10
"""How long a connection attempt may take when the DSN does not set `connect_timeout`."""

Connection = AsyncConnection[DictRow]
Table = Literal["users", "mindmaps"]

_USER_COLUMNS = "seq, id, email, display_name, plan, create_time_ns, update_time_ns, etag"
_MINDMAP_SUMMARY_COLUMNS = (
    "seq, id, owner_id, title, description, node_count, create_time_ns, update_time_ns, etag"
)
# rows.nodes_from_json reads JSON text; jsonb's text form is valid JSON.
_MINDMAP_COLUMNS = f"{_MINDMAP_SUMMARY_COLUMNS}, nodes::text AS nodes"

_INSERT_USER = """
    INSERT INTO users (id, email, email_key, display_name, plan, create_time_ns,
                       update_time_ns, etag)
    VALUES (%(id)s, %(email)s, %(email_key)s, %(display_name)s, %(plan)s, %(create_time_ns)s,
            %(update_time_ns)s, %(etag)s)
"""
_UPDATE_USER = """
    UPDATE users SET email = %(email)s, email_key = %(email_key)s,
                     display_name = %(display_name)s, plan = %(plan)s,
                     update_time_ns = %(update_time_ns)s, etag = %(etag)s
    WHERE id = %(id)s AND etag = %(expected_etag)s
"""
_DELETE_USER = "DELETE FROM users WHERE id = %(id)s AND etag = %(expected_etag)s"

_INSERT_MINDMAP = """
    INSERT INTO mindmaps (id, owner_id, title, description, nodes, node_count,
                          create_time_ns, update_time_ns, etag)
    VALUES (%(id)s, %(owner_id)s, %(title)s, %(description)s, %(nodes)s, %(node_count)s,
            %(create_time_ns)s, %(update_time_ns)s, %(etag)s)
"""
_UPDATE_MINDMAP = """
    UPDATE mindmaps SET title = %(title)s, description = %(description)s, nodes = %(nodes)s,
                        node_count = %(node_count)s, update_time_ns = %(update_time_ns)s,
                        etag = %(etag)s
    WHERE id = %(id)s AND etag = %(expected_etag)s
"""
_DELETE_MINDMAP = "DELETE FROM mindmaps WHERE id = %(id)s AND etag = %(expected_etag)s"

_EXISTS: dict[Table, str] = {
    "users": "SELECT 1 FROM users WHERE id = %s",
    "mindmaps": "SELECT 1 FROM mindmaps WHERE id = %s",
}

_LOCK_OUTBOX = f"SELECT pg_advisory_xact_lock({OUTBOX_LOCK})"
_INSERT_EVENT = """
    INSERT INTO outbox (type, subject, owner_id, time_ns, event)
    VALUES (%(type)s, %(subject)s, %(owner_id)s, %(time_ns)s, %(event)s)
    RETURNING id
"""
# The event of a new row, and the row's seq set to the event's id, in one statement.
_INSERT_CREATION_EVENT: dict[Table, str] = {
    table: f"""
        WITH event AS ({_INSERT_EVENT})
        UPDATE {table} SET seq = event.id FROM event WHERE {table}.id = %(row_id)s
        RETURNING event.id
    """  # noqa: S608 (table names of this module)
    for table in ("users", "mindmaps")
}

Change = Callable[[Connection], Awaitable[None]]


class PostgresStore:
    """A `hub.storage.store.Store` on the PostgreSQL database at `dsn` (a libpq connection
    string or URI; `ValueError` if it is neither), through a pool of `min_connections` to
    `max_connections` connections.

    `on_commit`, if given, is called in the event loop after every committed write (the
    composition root wakes the event relay with it).
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        params = _parse(dsn)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        self._conninfo = make_conninfo(**params)
        self._database = describe(dsn)
        self._min_connections = min_connections
        self._max_connections = max_connections
        self._on_commit = on_commit
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def open(self) -> None:
        """Connects, applies pending migrations, and fills the pool to `min_connections`.
        Raises `StoreUnavailableError` with the reason when the database cannot be reached
        or used (no such database, no right to create the tables), `SchemaTooNewError` when a
        newer hub has migrated it."""
        try:
            async with await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True
            ) as connection:
                await migrate(connection, self._database)
        except psycopg.Error as error:  # unreachable, refused, not allowed to create tables
            raise StoreUnavailableError(self._database, _reason(error)) from None
        pool = AsyncConnectionPool(
            self._conninfo,
            connection_class=Connection,
            kwargs={"autocommit": True, "row_factory": dict_row},
            min_size=self._min_connections,
            max_size=self._max_connections,
            open=False,
            name="hub-store",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except PoolTimeout as error:
            raise StoreUnavailableError(self._database, str(error)) from None
        self._pool = pool

    async def close(self) -> None:
        """Refuses new work, waits for running work, then closes every connection."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        await self._idle.wait()
        await pool.close()

    # Users -------------------------------------------------------------------------------

    async def insert_user(self, user: User, event: Event) -> int:
        async def change(connection: Connection) -> None:
            await _write_user(connection, _INSERT_USER, rows.user_to_row(user))

        return await self._write(change, event, created=("users", user.id))

    async def get_users(self, ids: Sequence[str]) -> dict[str, User]:
        found = await self._read(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = ANY(%s)",  # noqa: S608
            (list(ids),),
        )
        return {row["id"]: rows.user_from_row(row) for row in found}

    async def list_users(self, after_seq: int, limit: int) -> list[Row[User]]:
        found = await self._read(
            f"SELECT {_USER_COLUMNS} FROM users WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
            (after_seq, limit),
        )
        return [Row(row["seq"], rows.user_from_row(row)) for row in found]

    async def update_user(self, user: User, expected_etag: str, event: Event) -> int:
        async def change(connection: Connection) -> None:
            params = {**rows.user_to_row(user), "expected_etag": expected_etag}
            changed = await _write_user(connection, _UPDATE_USER, params)
            await _check_swapped(connection, changed, "users", rows.USER_TYPE, user.id)

        return await self._write(change, event)

    async def delete_user(self, user_id: str, expected_etag: str, event: Event) -> int:
        async def change(connection: Connection) -> None:
            params = {"id": user_id, "expected_etag": expected_etag}
            try:
                cursor = await connection.execute(_DELETE_USER, params)
            except errors.ForeignKeyViolation as error:
                if error.diag.constraint_name == OWNER_REFERENCE:
                    raise rows.user_has_mindmaps(user_id) from error
                raise
            await _check_swapped(connection, cursor.rowcount, "users", rows.USER_TYPE, user_id)

        return await self._write(change, event)

    # Mindmaps ----------------------------------------------------------------------------

    async def insert_mindmap(self, mindmap: Mindmap, event: Event) -> int:
        async def change(connection: Connection) -> None:
            await _write_mindmap(connection, _INSERT_MINDMAP, rows.mindmap_to_row(mindmap))

        return await self._write(change, event, created=("mindmaps", mindmap.id))

    async def get_mindmaps(self, ids: Sequence[str], *, with_nodes: bool) -> dict[str, Mindmap]:
        columns = _MINDMAP_COLUMNS if with_nodes else _MINDMAP_SUMMARY_COLUMNS
        found = await self._read(
            f"SELECT {columns} FROM mindmaps WHERE id = ANY(%s)",  # noqa: S608
            (list(ids),),
        )
        return {row["id"]: rows.mindmap_from_row(row) for row in found}

    async def list_mindmaps(
        self, owner_id: str | None, after_seq: int, limit: int, *, with_nodes: bool
    ) -> list[Row[Mindmap]]:
        columns = _MINDMAP_COLUMNS if with_nodes else _MINDMAP_SUMMARY_COLUMNS
        of_owner = "" if owner_id is None else "owner_id = %(owner_id)s AND"
        found = await self._read(
            f"SELECT {columns} FROM mindmaps WHERE {of_owner} seq > %(after_seq)s "  # noqa: S608
            "ORDER BY seq LIMIT %(limit)s",
            {"owner_id": owner_id, "after_seq": after_seq, "limit": limit},
        )
        return [Row(row["seq"], rows.mindmap_from_row(row)) for row in found]

    async def update_mindmap(self, mindmap: Mindmap, expected_etag: str, event: Event) -> int:
        async def change(connection: Connection) -> None:
            params = {**rows.mindmap_to_row(mindmap), "expected_etag": expected_etag}
            changed = await _write_mindmap(connection, _UPDATE_MINDMAP, params)
            await _check_swapped(connection, changed, "mindmaps", rows.MINDMAP_TYPE, mindmap.id)

        return await self._write(change, event)

    async def delete_mindmap(self, mindmap_id: str, expected_etag: str, event: Event) -> int:
        async def change(connection: Connection) -> None:
            params = {"id": mindmap_id, "expected_etag": expected_etag}
            cursor = await connection.execute(_DELETE_MINDMAP, params)
            await _check_swapped(
                connection, cursor.rowcount, "mindmaps", rows.MINDMAP_TYPE, mindmap_id
            )

        return await self._write(change, event)

    # Outbox ------------------------------------------------------------------------------

    async def read_outbox(self, after_id: int, limit: int) -> list[Event]:
        found = await self._read(
            "SELECT id, event FROM outbox WHERE id > %s ORDER BY id LIMIT %s", (after_id, limit)
        )
        return [rows.event_from_row(row) for row in found]

    async def read_relay_cursor(self) -> int:
        (row,) = await self._read("SELECT last_event_id FROM relay_cursor", ())
        last: int = row["last_event_id"]
        return last

    async def save_relay_cursor(self, event_id: int) -> None:
        async with self._connection() as connection:
            await connection.execute("UPDATE relay_cursor SET last_event_id = %s", (event_id,))

    # Connections -------------------------------------------------------------------------

    async def _write(
        self, change: Change, event: Event, *, created: tuple[Table, str] | None = None
    ) -> int:
        """Runs `change` and appends `event` to the outbox in one transaction; returns the
        event id. `created`: the table and id of the row `change` inserts, whose seq becomes
        the event id. Nothing of either commits if `change` raises."""
        params = rows.event_to_row(event)
        insert_event = _INSERT_EVENT
        if created is not None:
            table, params["row_id"] = created
            insert_event = _INSERT_CREATION_EVENT[table]
        async with self._connection() as connection, connection.transaction():
            await change(connection)
            async with connection.pipeline():  # lock and insert in one round trip
                await connection.execute(_LOCK_OUTBOX)
                cursor = await connection.execute(insert_event, params)
            inserted = await cursor.fetchone()
            if inserted is None:  # rolls back
                raise RuntimeError(f"{created}: the row inserted by this transaction is gone")
        event_id: int = inserted["id"]
        if self._on_commit is not None:
            self._on_commit(event_id)
        return event_id

    async def _read(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[DictRow]:
        """The rows (column → value dictionaries) of one query."""
        async with self._connection() as connection:
            cursor = await connection.execute(sql, params)
            return await cursor.fetchall()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection, counted as running work until it goes back."""
        pool = self._pool
        if pool is None:
            raise RuntimeError(f"{self._database}: the store is not open")
        self._running += 1
        self._idle.clear()
        try:
            async with pool.connection() as connection:
                yield connection
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()


def _parse(dsn: str) -> dict[str, Any]:
    """The parameters of connection string `dsn`; `ValueError` with libpq's reason (`dsn`
    itself left out: it may hold a password) if it is malformed."""
    try:
        return conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        reason = _reason(error).replace(dsn, "<dsn>")
        raise ValueError(f"not a libpq connection string: {reason}") from None


def describe(dsn: str) -> str:
    """The database `dsn` names, for messages: user, host, port and database name, never the
    password."""
    params = _parse(dsn)
    shown = {key: params[key] for key in ("user", "host", "port", "dbname") if key in params}
    return f"PostgreSQL ({make_conninfo(**shown) or 'libpq defaults'})"


def _reason(error: psycopg.Error) -> str:
    """The server's or libpq's reason for a failure, on one line."""
    return " ".join(str(error).split())


async def _write_user(connection: Connection, sql: str, params: dict[str, Any]) -> int:
    """Inserts or updates a user row; returns the rows changed. A duplicate email is
    `AlreadyExists`."""
    try:
        cursor = await connection.execute(sql, params)
    except errors.UniqueViolation as error:
        if error.diag.constraint_name == EMAIL_UNIQUE:
            raise rows.email_taken(params["email"]) from error
        raise
    return cursor.rowcount


async def _write_mindmap(connection: Connection, sql: str, params: dict[str, Any]) -> int:
    """Inserts or updates a mindmap row; returns the rows changed. An owner that is not a
    user is `NotFound`."""
    try:
        cursor = await connection.execute(sql, params)
    except errors.ForeignKeyViolation as error:
        if error.diag.constraint_name == OWNER_REFERENCE:
            raise rows.owner_not_found(params["owner_id"]) from error
        raise
    return cursor.rowcount


async def _check_swapped(
    connection: Connection, changed: int, table: Table, resource_type: str, resource_id: str
) -> None:
    """After a compare-and-swap statement: `NotFound` or `Aborted` unless it changed a row."""
    if changed == 0:
        cursor = await connection.execute(_EXISTS[table], (resource_id,))
        found = await cursor.fetchone() is not None
        raise rows.swap_refused(found, resource_type, resource_id)
