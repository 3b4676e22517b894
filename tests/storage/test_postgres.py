"""What only the PostgreSQL store promises: its migrations (once, whoever opens at once), clear
failures when the database cannot be used or is lost (UNAVAILABLE, then recovery), the
bounds of its pool, and tables an operator can read with `psql`. The `Store` contract itself
runs on it with the suite (conftest.py)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import grpc
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, GetUserRequest, User
from hub.errors import Unavailable
from hub.storage.migrations import SchemaTooNewError
from hub.storage.postgres import OUTBOX_LOCK, PostgresStore
from hub.storage.postgres_schema import LATEST_VERSION, migrate, schema_version
from hub.storage.store import StoreUnavailableError
from tests.backends.support import error_info, serve
from tests.postgres import fresh_schema, postgresql_dsn
from tests.storage.messages import add_mindmap, add_user, outbox


@pytest.fixture
def dsn() -> Iterator[str]:
    """A DSN whose connections see a new, empty schema."""
    with fresh_schema() as fresh:
        yield fresh


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[PostgresStore]:
    """An open store over a fresh schema."""
    opened = PostgresStore(dsn)
    await opened.open()
    yield opened
    await opened.close()


async def connect(dsn: str) -> psycopg.AsyncConnection[psycopg.rows.TupleRow]:
    """A plain autocommit connection, as an operator's."""
    return await psycopg.AsyncConnection.connect(dsn, autocommit=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_migrate_brings_a_new_schema_to_the_latest_version_once(dsn: str) -> None:
    async with await connect(dsn) as connection:
        assert list(range(1, LATEST_VERSION + 1)) == await migrate(connection, "test")
        assert [] == await migrate(connection, "test")
        assert LATEST_VERSION == await schema_version(connection)


async def test_hubs_that_migrate_at_once_apply_each_step_once(dsn: str) -> None:
    """Four sessions (as four processes starting together) migrate one new schema: one
    applies the steps, the others wait for it and find nothing to do."""
    connections = [await connect(dsn) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrate(c, "test") for c in connections))
    finally:
        for connection in connections:
            await connection.close()

    assert [[], [], [], list(range(1, LATEST_VERSION + 1))] == sorted(applied)


async def test_stores_opening_at_once_on_a_new_schema_all_work(dsn: str) -> None:
    stores = [PostgresStore(dsn) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        users = [await add_user(store) for store in stores]
        assert {user.id: user for user in users} == await stores[0].get_users(
            [user.id for user in users]
        )
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_opening_a_database_newer_than_the_code_fails_clearly(dsn: str) -> None:
    async with await connect(dsn) as connection:
        await migrate(connection, "test")
        await connection.execute("UPDATE hub_schema SET version = %s", (LATEST_VERSION + 1,))
    store = PostgresStore(dsn)
    with pytest.raises(SchemaTooNewError, match=f"schema version {LATEST_VERSION + 1}"):
        await store.open()


async def test_an_unreachable_database_fails_to_open_with_the_reason_and_no_password() -> None:
    port = free_port()
    store = PostgresStore(f"postgresql://hub:secret-pw@127.0.0.1:{port}/hub")

    with pytest.raises(StoreUnavailableError) as raised:
        await store.open()

    message = str(raised.value)
    assert message.startswith(
        f"PostgreSQL (user=hub host=127.0.0.1 port={port} dbname=hub) cannot be used: "
    )
    assert "Connection refused" in message
    assert "secret-pw" not in message


async def test_a_missing_database_fails_to_open_with_the_servers_reason(dsn: str) -> None:
    name = f"hub_missing_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(make_conninfo(dsn, dbname=name))

    with pytest.raises(StoreUnavailableError, match=f'database "{name}" does not exist'):
        await store.open()


async def test_a_database_not_in_utf8_is_refused(dsn: str) -> None:
    """Text would not round-trip: the store refuses to open rather than mangle it."""
    name = f"hub_latin1_{uuid.uuid4().hex[:8]}"
    async with await connect(postgresql_dsn()) as admin:
        await admin.execute(
            sql.SQL(
                "CREATE DATABASE {} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"
                " TEMPLATE template0"
            ).format(sql.Identifier(name))
        )
        try:
            store = PostgresStore(make_conninfo(dsn, dbname=name))
            with pytest.raises(
                StoreUnavailableError, match="its encoding is LATIN1, and hub needs UTF8"
            ):
                await store.open()
        finally:
            await admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))


def test_a_malformed_dsn_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="not a libpq connection string") as raised:
        PostgresStore("postgresql://hub:secret-pw@[::1/hub")
    assert "secret-pw" not in str(raised.value)


async def test_a_store_that_is_not_open_refuses_work(dsn: str) -> None:
    store = PostgresStore(dsn)
    with pytest.raises(RuntimeError, match="not open"):
        await store.list_users(0, 10)


async def test_a_new_rows_seq_is_the_id_of_its_creating_event(store: PostgresStore) -> None:
    user = await add_user(store)
    await add_mindmap(store, user.id)
    created = await outbox(store)

    (user_row,) = await store.list_users(0, 10)
    (mindmap_row,) = await store.list_mindmaps(None, 0, 10, with_nodes=False)
    assert [event.id for event in created] == [user_row.seq, mindmap_row.seq]


async def test_the_pool_keeps_min_connections_and_opens_at_most_max(dsn: str) -> None:
    name = f"hub-pool-{uuid.uuid4().hex[:8]}"
    store = PostgresStore(
        make_conninfo(dsn, application_name=name), min_connections=2, max_connections=3
    )
    await store.open()
    counts: list[int] = []
    async with await connect(dsn) as watcher:

        async def count() -> int:
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
            row = await cursor.fetchone()
            assert row is not None
            found: int = row[0]
            return found

        try:
            idle = await count()
            user = await add_user(store)
            reads = asyncio.gather(*(store.get_users([user.id]) for _ in range(300)))
            while not reads.done():
                counts.append(await count())
            await reads
        finally:
            await store.close()
        # A server process ends a moment after its client hung up: wait for that (10 s).
        for _ in range(200):
            if not (left := await count()):
                break
            await asyncio.sleep(0.05)

    assert 2 == idle
    assert max(counts) <= 3
    assert 0 == left


async def test_an_operator_reads_nodes_as_jsonb_and_times_as_nanoseconds(
    store: PostgresStore, dsn: str
) -> None:
    user = await add_user(store)
    mindmap = await add_mindmap(store, user.id)

    async with await connect(dsn) as connection:
        cursor = await connection.execute(
            "SELECT nodes, jsonb_array_length(nodes), node_count, create_time_ns"
            " FROM mindmaps WHERE id = %s",
            (mindmap.id,),
        )
        row = await cursor.fetchone()
    expected = [
        {"id": n.id, "parent_id": n.parent_id, "text": n.text, "position": n.position}
        for n in mindmap.nodes
    ]
    assert (expected, 3, 3, mindmap.create_time.ToNanoseconds()) == row


async def _drop_connections(dsn: str, application_name: str) -> None:
    """Ends every server connection of `application_name`, as a database restart or a
    failover would."""
    async with await connect(dsn) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        )


async def test_losing_the_database_is_unavailable_and_the_store_recovers(dsn: str) -> None:
    """Connections ended under the store: the next read and the next write are
    `Unavailable` (not a bug, INTERNAL), the write leaves no row and no event, and the pool
    reconnects: the read after that finds what was written before, unchanged."""
    name = f"hub-loss-{uuid.uuid4().hex[:8]}"
    store = PostgresStore(
        make_conninfo(dsn, application_name=name), min_connections=1, max_connections=1
    )
    await store.open()
    try:
        user = await add_user(store)
        await _drop_connections(dsn, name)
        with pytest.raises(Unavailable) as refused:
            await store.get_users([user.id])
        await _drop_connections(dsn, name)
        with pytest.raises(Unavailable):
            await add_user(store)

        assert "STORAGE_UNAVAILABLE" == refused.value.reason
        assert {user.id: user} == await store.get_users([user.id])
        assert [user.id] == [row.message.id for row in await store.list_users(0, 10)]
        assert 1 == len(await outbox(store))
    finally:
        await store.close()


async def test_work_that_finds_no_free_connection_in_time_is_unavailable(dsn: str) -> None:
    """The pool's one connection held by a write that waits (on the write lock, held here by
    another session): a read is refused `Unavailable` once `acquire_timeout_seconds` has
    passed, not after psycopg_pool's 30 s; the write commits once the lock is free."""
    name = f"hub-busy-{uuid.uuid4().hex[:8]}"
    store = PostgresStore(
        make_conninfo(dsn, application_name=name),
        min_connections=1,
        max_connections=1,
        acquire_timeout_seconds=0.2,
    )
    await store.open()
    try:
        async with await connect(dsn) as other:
            await other.execute("SELECT pg_advisory_lock(%s)", (OUTBOX_LOCK,))
            write = asyncio.create_task(add_user(store))
            try:
                async with asyncio.timeout(10):  # far below the pool's own 30 s
                    while not await _waiting_on_the_lock(other, name):  # noqa: ASYNC110 - no event to wait on
                        await asyncio.sleep(0.01)
                    with pytest.raises(Unavailable):
                        await store.list_users(0, 10)
            finally:
                await other.execute("SELECT pg_advisory_unlock(%s)", (OUTBOX_LOCK,))
            user = await write
        assert [user.id] == [row.message.id for row in await store.list_users(0, 10)]
    finally:
        await store.close()


async def _waiting_on_the_lock(
    admin: psycopg.AsyncConnection[psycopg.rows.TupleRow], application_name: str
) -> bool:
    """Whether a connection of `application_name` waits for a lock."""
    cursor = await admin.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = %s AND wait_event_type = 'Lock'",
        (application_name,),
    )
    row = await cursor.fetchone()
    return row is not None and row[0] > 0


async def test_a_backend_answers_unavailable_while_its_database_is_lost(dsn: str) -> None:
    """Over gRPC: UNAVAILABLE with reason STORAGE_UNAVAILABLE (what clients, retries and the
    circuit breaker read as an outage), then OK once the store has reconnected."""
    name = f"hub-loss-{uuid.uuid4().hex[:8]}"
    store = PostgresStore(
        make_conninfo(dsn, application_name=name), min_connections=1, max_connections=1
    )
    await store.open()
    server, address = await serve(store)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            users = user_pb2_grpc.UserServiceStub(channel)
            created = await users.CreateUser(
                CreateUserRequest(user=User(email="loss@example.com", display_name="Loss"))
            )
            await _drop_connections(dsn, name)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await users.GetUser(GetUserRequest(id=created.user.id))
            again = await users.GetUser(GetUserRequest(id=created.user.id))
    finally:
        await server.stop(None)
        await store.close()

    assert grpc.StatusCode.UNAVAILABLE == refused.value.code()
    assert ("STORAGE_UNAVAILABLE", "hub") == (
        error_info(refused.value).reason,
        error_info(refused.value).domain,
    )
    assert created.user == again.user
