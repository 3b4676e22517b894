"""The `Store` contract for opening and closing, run against every implementation (see
conftest.py): data outlives the store object, and `close` finishes queued work first."""

from __future__ import annotations

import asyncio

from tests.storage.conftest import StoreFactory
from tests.storage.messages import add_mindmap, add_user, new_user, outbox, user_event


async def test_data_survives_closing_and_reopening(store_factory: StoreFactory) -> None:
    first = store_factory()
    await first.open()
    user = await add_user(first)
    mindmap = await add_mindmap(first, user.id)
    events = await outbox(first)
    await first.close()

    second = store_factory()
    await second.open()
    try:
        assert {user.id: user} == await second.get_users([user.id])
        assert {mindmap.id: mindmap} == await second.get_mindmaps([mindmap.id], with_nodes=True)
        assert events == await outbox(second)
    finally:
        await second.close()


async def test_reopening_an_up_to_date_database_keeps_working(
    store_factory: StoreFactory,
) -> None:
    for _ in range(3):
        store = store_factory()
        await store.open()
        await add_user(store)
        await store.close()
    store = store_factory()
    await store.open()
    try:
        assert len(await store.list_users(0, 10)) == 3
    finally:
        await store.close()


async def test_close_finishes_writes_already_submitted(store_factory: StoreFactory) -> None:
    store = store_factory()
    await store.open()
    users = [new_user() for _ in range(5)]
    writes = [store.insert_user(user, user_event("created", user)) for user in users]
    event_ids = await asyncio.gather(*writes, store.close())

    reopened = store_factory()
    await reopened.open()
    try:
        stored = await reopened.list_users(0, 10)
        events = await outbox(reopened)
    finally:
        await reopened.close()
    # Concurrent writes commit in whatever order the store runs them (a pool of
    # connections need not follow submission order): compare by id.
    assert {user.id: user for user in users} == {row.message.id: row.message for row in stored}
    assert {user.id: event_id for user, event_id in zip(users, event_ids, strict=False)} == {
        event.user_created.user.id: event.id for event in events
    }
