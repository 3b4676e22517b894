"""The `Store` contract for the relay cursor: the id of the last event the relay published
persists with the data, across a close and reopen. Run against every implementation."""

from __future__ import annotations

from hub.storage.store import Store
from tests.storage.conftest import StoreFactory


async def test_a_new_database_has_the_cursor_before_every_event(store: Store) -> None:
    assert 0 == await store.read_relay_cursor()


async def test_the_saved_cursor_is_read_back(store: Store) -> None:
    await store.save_relay_cursor(41)
    await store.save_relay_cursor(42)

    assert 42 == await store.read_relay_cursor()


async def test_the_cursor_survives_closing_and_reopening(store_factory: StoreFactory) -> None:
    first = store_factory()
    await first.open()
    await first.save_relay_cursor(7)
    await first.close()

    second = store_factory()
    await second.open()
    try:
        assert 7 == await second.read_relay_cursor()
    finally:
        await second.close()
