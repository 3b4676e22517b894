"""`PostgresStore`: the `Store` of a scale-out deployment, on PostgreSQL (psycopg 3, async).

Several hub processes may share one database (the user and the mindmap service refer to each
other's rows), so what SQLite gets from its single writer is made explicit here:
- Each write is ONE statement, so one round trip and one transaction (connections are in
  autocommit mode): the row change and the event's outbox row, written together or not at
  all. A compare-and-swap is `UPDATE/DELETE ... WHERE id AND etag ... RETURNING`, and the
  outbox row is inserted from what it returns: a stale etag changes no row and adds no event
  (`NotFound` or `Aborted` then, after one more read).
- Writes take turns: each statement first takes the transaction-level advisory lock
  `OUTBOX_LOCK` and holds it to its commit. So outbox ids are drawn and committed in one
  order, and a relay reading "after its cursor" never passes over an event that commits
  later; a new row's `seq` is its creating event's id, drawn under the lock, so lists page in
  commit order too. The lock is taken before any row lock and held only while the server runs
  the statement and commits it (never while this process is awaited), so writers never
  deadlock, never wait for each other's row locks, and the section they take turns on is as
  short as a write can be; its cost is one commit (WAL flush) at a time per database.
  A writer's snapshot may predate the commits it waited for: READ COMMITTED re-checks the
  etag of a row changed meanwhile on its newest version, and constraint checks always see
  the latest rows.
- Text is escaped where PostgreSQL cannot hold it (NUL, `pgtext.py`), so any text SQLite
  stores is stored here too, and read back the same.
Mapping between rows and messages is `rows.py`; the schema is `postgres_schema.py`, applied at
`open()` under another advisory lock (safe when several processes start at once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import AsyncConnection, errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap
from hub.contracts.user.v1.user_pb2 import User
from hub.errors import DomainError, Unavailable
from hub.storage import rows
from hub.storage.pgtext import (
    ESCAPE,
    escape,
    escape_nodes,
    escape_row,
    unescape_nodes,
    unescape_row,
)
from hub.storage.postgres_schema import EMAIL_UNIQUE, OWNER_REFERENCE, migrate
from hub.storage.store import Row, StoreUnavailableError

OUTBOX_LOCK = 0x6875_6200_0000_0001
"""The transaction-level advisory lock key every write takes first and holds to its commit
("hub" 1). Another application's advisory locks on the database must not use it."""

CONNECT_TIMEOUT_SECONDS = 10
"""How long a connection attempt may take when the DSN does not set `connect_timeout`."""

Connection = AsyncConnection[DictRow]
Table = Literal["users", "mindmaps"]

_logger = logging.getLogger(__name__)
_USER_COLUMNS = "seq, id, email, display_name, plan, create_time_ns, update_time_ns, etag"
_MINDMAP_SUMMARY_COLUMNS = (
    "seq, id, owner_id, title, description, node_count, create_time_ns, update_time_ns, etag"
)
# rows.nodes_from_json reads JSON text; jsonb's text form is valid JSON.
_MINDMAP_COLUMNS = f"{_MINDMAP_SUMMARY_COLUMNS}, nodes::text AS nodes"

_LOCK = f"lock AS MATERIALIZED (SELECT pg_advisory_xact_lock({OUTBOX_LOCK}))"
_EVENT_COLUMNS = "type, subject, owner_id, time_ns, event"
# Named apart from the row's own parameters (a mindmap has an owner_id too).
_EVENT_VALUES = (
    "%(outbox_type)s, %(outbox_subject)s, %(outbox_owner_id)s, %(outbox_time_ns)s, %(outbox_event)s"
)


def _creation(table: Table, columns: str, values: str) -> str:
    """The statement that inserts a row of `table` and its creating event: under the lock, it
    draws the event's id, inserts the row with that id as its seq, then the event."""
    return f"""
        WITH {_LOCK},
             drawn AS MATERIALIZED (
                 SELECT nextval(pg_get_serial_sequence('outbox', 'id')) AS id FROM lock),
             inserted AS (
                 INSERT INTO {table} (seq, {columns}) SELECT drawn.id, {values} FROM drawn
                 RETURNING seq)
        INSERT INTO outbox (id, {_EVENT_COLUMNS}) OVERRIDING SYSTEM VALUE
        SELECT seq, {_EVENT_VALUES} FROM inserted
        RETURNING id
    """  # noqa: S608 (the module's own SQL)


def _swap(change: str) -> str:
    """The statement that runs a compare-and-swap `change` (an UPDATE or DELETE that joins
    `lock` and returns the rows it changed) and inserts the event if it changed one."""
    return f"""
        WITH {_LOCK}, changed AS ({change})
        INSERT INTO outbox ({_EVENT_COLUMNS}) SELECT {_EVENT_VALUES} FROM changed
        RETURNING id
    """  # noqa: S608 (the module's own SQL)


_INSERT_USER = _creation(
    "users",
    "id, email, email_key, display_name, plan, create_time_ns, update_time_ns, etag",
    "%(id)s, %(email)s, %(email_key)s, %(display_name)s, %(plan)s, %(create_time_ns)s,"
    " %(update_time_ns)s, %(etag)s",
)
_UPDATE_USER = _swap(
    """
    UPDATE users SET email = %(email)s, email_key = %(email_key)s,
                     display_name = %(display_name)s, plan = %(plan)s,
                     update_time_ns = %(update_time_ns)s, etag = %(etag)s
    FROM lock WHERE id = %(id)s AND etag = %(expected_etag)s RETURNING id
    """
)
_DELETE_USER = _swap(
    "DELETE FROM users USING lock WHERE id = %(id)s AND etag = %(expected_etag)s RETURNING id"
)
_INSERT_MINDMAP = _creation(
    "mindmaps",
    "id, owner_id, title, description, nodes, node_count, create_time_ns, update_time_ns, etag",
    "%(id)s, %(owner_id)s, %(title)s, %(description)s, %(nodes)s::jsonb, %(node_count)s,"
    " %(create_time_ns)s, %(update_time_ns)s, %(etag)s",
)
_UPDATE_MINDMAP = _swap(
    """
    UPDATE mindmaps SET title = %(title)s, description = %(description)s, nodes = %(nodes)s,
                        node_count = %(node_count)s, update_time_ns = %(update_time_ns)s,
                        etag = %(etag)s
    FROM lock WHERE id = %(id)s AND etag = %(expected_etag)s RETURNING id
    """
)
_DELETE_MINDMAP = _swap(
    "DELETE FROM mindmaps USING lock WHERE id = %(id)s AND etag = %(expected_etag)s RETURNING id"
)

_EXISTS: dict[Table, str] = {
    "users": "SELECT 1 FROM users WHERE id = %s",
    "mindmaps": "SELECT 1 FROM mindmaps WHERE id = %s",
}


@dataclass(frozen=True)
class _Target:
    """The row a compare-and-swap names, to tell why it changed nothing."""

    table: Table
    resource_type: str
    resource_id: str


class PostgresStore:
    """A `hub.storage.store.Store` on the PostgreSQL database at `dsn` (a libpq connection
    string or URI; `ValueError` if it is neither), through a pool of `min_connections` to
    `max_connections` connections; work that finds none free within
    `acquire_timeout_seconds` is `Unavailable`.

    `on_commit`, if given, is called in the event loop after every committed write (the
    composition root wakes the event relay with it).
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        acquire_timeout_seconds: float = 5.0,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        params = _parse(dsn)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        self._conninfo = make_conninfo(**params)
        self._database = describe(dsn)
        self._min_connections = min_connections
        self._max_connections = max_connections
        self._acquire_timeout = acquire_timeout_seconds
        self._on_commit = on_commit
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def open(self) -> None:
        """Connects, applies pending migrations, and fills the pool to `min_connections`.
        Raises `StoreUnavailableError` with the reason when the database cannot be reached
        or used (no such database, no right to create the tables, not UTF8),
        `SchemaTooNewError` when a newer hub has migrated it."""
        try:
            async with await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True
            ) as connection:
                encoding = connection.info.parameter_status("server_encoding")
                if encoding != "UTF8":
                    raise StoreUnavailableError(
                        self._database, f"its encoding is {encoding}, and hub needs UTF8"
                    )
                await migrate(connection, self._database)
        except psycopg.Error as error:  # unreachable, refused, not allowed to create tables
            raise StoreUnavailableError(self._database, _reason(error)) from None
        pool = AsyncConnectionPool(
            self._conninfo,
            connection_class=Connection,
            kwargs={"autocommit": True, "row_factory": dict_row},
            min_size=self._min_connections,
            max_size=self._max_connections,
            timeout=self._acquire_timeout,
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
        with _refused_by(errors.UniqueViolation, EMAIL_UNIQUE, rows.email_taken(user.email)):
            return await self._write(_INSERT_USER, _user_params(user), event)

    async def get_users(self, ids: Sequence[str]) -> dict[str, User]:
        found = await self._read(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = ANY(%s)",  # noqa: S608
            ([escape(user_id) for user_id in ids],),
        )
        users = (rows.user_from_row(unescape_row(row)) for row in found)
        return {user.id: user for user in users}

    async def list_users(self, after_seq: int, limit: int) -> list[Row[User]]:
        found = await self._read(
            f"SELECT {_USER_COLUMNS} FROM users WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
            (after_seq, limit),
        )
        return [Row(row["seq"], rows.user_from_row(unescape_row(row))) for row in found]

    async def update_user(self, user: User, expected_etag: str, event: Event) -> int:
        params = {**_user_params(user), "expected_etag": escape(expected_etag)}
        target = _Target("users", rows.USER_TYPE, user.id)
        with _refused_by(errors.UniqueViolation, EMAIL_UNIQUE, rows.email_taken(user.email)):
            return await self._write(_UPDATE_USER, params, event, target)

    async def delete_user(self, user_id: str, expected_etag: str, event: Event) -> int:
        params = {"id": escape(user_id), "expected_etag": escape(expected_etag)}
        target = _Target("users", rows.USER_TYPE, user_id)
        refusal = rows.user_has_mindmaps(user_id)
        with _refused_by(errors.ForeignKeyViolation, OWNER_REFERENCE, refusal):
            return await self._write(_DELETE_USER, params, event, target)

    # Mindmaps ----------------------------------------------------------------------------

    async def insert_mindmap(self, mindmap: Mindmap, event: Event) -> int:
        refusal = rows.owner_not_found(mindmap.owner_id)
        with _refused_by(errors.ForeignKeyViolation, OWNER_REFERENCE, refusal):
            return await self._write(_INSERT_MINDMAP, _mindmap_params(mindmap), event)

    async def get_mindmaps(self, ids: Sequence[str], *, with_nodes: bool) -> dict[str, Mindmap]:
        columns = _MINDMAP_COLUMNS if with_nodes else _MINDMAP_SUMMARY_COLUMNS
        found = await self._read(
            f"SELECT {columns} FROM mindmaps WHERE id = ANY(%s)",  # noqa: S608
            ([escape(mindmap_id) for mindmap_id in ids],),
        )
        mindmaps = (_mindmap_from_row(row) for row in found)
        return {mindmap.id: mindmap for mindmap in mindmaps}

    async def list_mindmaps(
        self, owner_id: str | None, after_seq: int, limit: int, *, with_nodes: bool
    ) -> list[Row[Mindmap]]:
        columns = _MINDMAP_COLUMNS if with_nodes else _MINDMAP_SUMMARY_COLUMNS
        of_owner = "" if owner_id is None else "owner_id = %(owner_id)s AND"
        found = await self._read(
            f"SELECT {columns} FROM mindmaps WHERE {of_owner} seq > %(after_seq)s "  # noqa: S608
            "ORDER BY seq LIMIT %(limit)s",
            {"owner_id": owner_id and escape(owner_id), "after_seq": after_seq, "limit": limit},
        )
        return [Row(row["seq"], _mindmap_from_row(row)) for row in found]

    async def update_mindmap(self, mindmap: Mindmap, expected_etag: str, event: Event) -> int:
        params = {**_mindmap_params(mindmap), "expected_etag": escape(expected_etag)}
        target = _Target("mindmaps", rows.MINDMAP_TYPE, mindmap.id)
        return await self._write(_UPDATE_MINDMAP, params, event, target)

    async def delete_mindmap(self, mindmap_id: str, expected_etag: str, event: Event) -> int:
        params = {"id": escape(mindmap_id), "expected_etag": escape(expected_etag)}
        target = _Target("mindmaps", rows.MINDMAP_TYPE, mindmap_id)
        return await self._write(_DELETE_MINDMAP, params, event, target)

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
        self, statement: str, params: dict[str, Any], event: Event, target: _Target | None = None
    ) -> int:
        """Runs one write `statement` with `params` and `event`'s outbox columns; returns the
        event id. A compare-and-swap on `target` that wrote nothing is `NotFound` or
        `Aborted`."""
        async with self._connection() as connection:
            cursor = await connection.execute(statement, {**params, **_event_params(event)})
            written = await cursor.fetchone()
            if written is None:
                if target is None:
                    raise RuntimeError(f"{statement!r} wrote nothing and raised nothing")
                cursor = await connection.execute(
                    _EXISTS[target.table], (escape(target.resource_id),)
                )
                found = await cursor.fetchone() is not None
                raise rows.swap_refused(found, target.resource_type, target.resource_id)
        event_id: int = written["id"]
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
        """A pooled connection, counted as running work until it goes back. Losing the
        database (a connection that breaks, none to be had within the pool's timeout) is
        `Unavailable`, logged with its cause; the pool drops the broken connection and
        opens new ones as the database comes back."""
        pool = self._pool
        if pool is None:
            raise RuntimeError(f"{self._database}: the store is not open")
        self._running += 1
        self._idle.clear()
        try:
            async with pool.connection() as connection:
                yield connection
        except (psycopg.OperationalError, PoolTimeout) as error:
            _logger.warning("%s: the database is unavailable: %s", self._database, error)
            raise Unavailable("the storage is unavailable; retry later") from error
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


def _user_params(user: User) -> dict[str, Any]:
    """The column values of `user`, escaped (`pgtext`)."""
    return escape_row(rows.user_to_row(user))


def _mindmap_params(mindmap: Mindmap) -> dict[str, Any]:
    """The column values of `mindmap`, escaped (`pgtext`; node texts inside the nodes)."""
    return escape_row(rows.mindmap_to_row(escape_nodes(mindmap)), keep="nodes")


def _mindmap_from_row(row: DictRow) -> Mindmap:
    """The mindmap stored in `row`, unescaped (`pgtext`)."""
    mindmap = rows.mindmap_from_row(unescape_row(row, keep="nodes"))
    if ESCAPE in row.get("nodes", ""):
        unescape_nodes(mindmap)
    return mindmap


def _event_params(event: Event) -> dict[str, Any]:
    """The outbox columns of `event`, escaped (`pgtext`), as `outbox_<column>` parameters."""
    escaped = escape_row(rows.event_to_row(event))
    return {f"outbox_{column}": value for column, value in escaped.items()}


@contextmanager
def _refused_by(
    violation: type[errors.IntegrityError], constraint: str, refusal: DomainError
) -> Iterator[None]:
    """Turns a `violation` of `constraint` into the domain error `refusal`."""
    try:
        yield
    except violation as error:
        if error.diag.constraint_name == constraint:
            raise refusal from error
        raise
