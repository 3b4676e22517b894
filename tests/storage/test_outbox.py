"""The `Store` contract for the outbox, and for writes that race: every committed write adds
exactly one event, in commit order; a rejected one adds none. Run against every
implementation (see conftest.py); the rejections are checked where each error is tested."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from hub.contracts.events.v1.events_pb2 import Event
from hub.errors import Aborted, FailedPrecondition
from hub.storage.setup import build_store
from hub.storage.store import Store
from tests.backings import StorageSection, store_settings
from tests.storage.messages import (
    add_mindmap,
    add_user,
    changed_mindmap,
    changed_user,
    mindmap_event,
    new_mindmap,
    new_user,
    outbox,
    user_event,
)


def with_id(event: Event, event_id: int) -> Event:
    stored = Event()
    stored.CopyFrom(event)
    stored.id = event_id
    return stored


async def test_each_committed_write_appends_its_event_with_the_returned_id(store: Store) -> None:
    user = new_user()
    update = changed_user(user)
    mindmap = new_mindmap(user.id)
    mindmap_update = changed_mindmap(mindmap)
    writes: list[tuple[Event, Callable[[Event], Awaitable[int]]]] = [
        (user_event("created", user), lambda e: store.insert_user(user, e)),
        (user_event("updated", update), lambda e: store.update_user(update, user.etag, e)),
        (mindmap_event("created", mindmap), lambda e: store.insert_mindmap(mindmap, e)),
        (
            mindmap_event("updated", mindmap_update),
            lambda e: store.update_mindmap(mindmap_update, mindmap.etag, e),
        ),
        (
            mindmap_event("deleted", mindmap_update),
            lambda e: store.delete_mindmap(mindmap.id, mindmap_update.etag, e),
        ),
        (user_event("deleted", update), lambda e: store.delete_user(user.id, update.etag, e)),
    ]
    expected = [with_id(event, await write(event)) for event, write in writes]

    assert expected == await outbox(store)
    ids = [event.id for event in expected]
    assert sorted(set(ids)) == ids
    assert [
        ("user.created", f"users/{user.id}"),
        ("user.updated", f"users/{user.id}"),
        ("mindmap.created", f"mindmaps/{mindmap.id}"),
        ("mindmap.updated", f"mindmaps/{mindmap.id}"),
        ("mindmap.deleted", f"mindmaps/{mindmap.id}"),
        ("user.deleted", f"users/{user.id}"),
    ] == [(event.type, event.subject) for event in expected]


async def test_read_outbox_pages_by_id(store: Store) -> None:
    for _ in range(3):
        await add_user(store)
    everything = await outbox(store)
    first = await store.read_outbox(0, 2)
    rest = await store.read_outbox(first[-1].id, 2)
    assert everything == [*first, *rest]
    assert [len(first), len(rest)] == [2, 1]
    assert await store.read_outbox(everything[-1].id, 2) == []


async def test_concurrent_updates_with_one_etag_let_exactly_one_win(store: Store) -> None:
    owner = await add_user(store)
    mindmap = new_mindmap(owner.id)
    await store.insert_mindmap(mindmap, mindmap_event("created", mindmap))
    before = await outbox(store)
    updates = [changed_mindmap(mindmap, title=f"Version {n}") for n in range(20)]

    results = await asyncio.gather(
        *(
            store.update_mindmap(update, mindmap.etag, mindmap_event("updated", update))
            for update in updates
        ),
        return_exceptions=True,
    )

    event_ids = {n: result for n, result in enumerate(results) if isinstance(result, int)}
    assert len(event_ids) == 1
    ((winner, event_id),) = event_ids.items()
    losers = [result for n, result in enumerate(results) if n != winner]
    assert 19 * [Aborted] == [type(result) for result in losers]
    stored = await store.get_mindmaps([mindmap.id], with_nodes=True)
    assert {mindmap.id: updates[winner]} == stored
    new_events = (await outbox(store))[len(before) :]
    assert [with_id(mindmap_event("updated", updates[winner]), event_id)] == new_events


async def test_on_commit_is_called_once_per_committed_write_and_not_for_a_rejected_one(
    backing: StorageSection, tmp_path: Path
) -> None:
    commits: list[int] = []
    store = build_store(store_settings(backing, tmp_path), on_commit=commits.append)
    await store.open()
    try:
        user = await add_user(store)
        mindmap = await add_mindmap(store, user.id)
        with pytest.raises(FailedPrecondition):
            await store.delete_user(user.id, user.etag, user_event("deleted", user))
        await store.save_relay_cursor(2)
        events = await outbox(store)
    finally:
        await store.close()

    assert [event.id for event in events] == commits
    assert [user.id, mindmap.id] == [
        events[0].user_created.user.id,
        events[1].mindmap_created.mindmap.id,
    ]


async def test_a_write_stores_its_row_and_its_event_each_as_given(store: Store) -> None:
    """The row comes from the message, the outbox row from the event, even where the two
    disagree (here on the owner and the time): neither is taken from the other."""
    owner = await add_user(store)
    mindmap = new_mindmap(owner.id)
    event = mindmap_event("created", mindmap)
    event.owner_id = "someone-else"
    event.time.FromNanoseconds(event.time.ToNanoseconds() + 1)

    event_id = await store.insert_mindmap(mindmap, event)

    assert {mindmap.id: mindmap} == await store.get_mindmaps([mindmap.id], with_nodes=True)
    assert [with_id(event, event_id)] == (await outbox(store))[-1:]
