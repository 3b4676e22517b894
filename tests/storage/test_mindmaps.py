"""The `Store` contract for mindmaps, run against every implementation (see conftest.py)."""

from __future__ import annotations

from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap
from hub.errors import Aborted, NotFound
from hub.storage.store import Store
from tests.storage.messages import (
    MINDMAP,
    add_mindmap,
    add_user,
    changed_mindmap,
    mindmap_event,
    new_etag,
    new_id,
    new_mindmap,
    rejected,
    summary,
)


async def test_mindmap_round_trips_every_field_and_its_nodes_in_order(store: Store) -> None:
    owner = await add_user(store)
    mindmap = new_mindmap(owner.id)
    await store.insert_mindmap(mindmap, mindmap_event("created", mindmap))
    assert {mindmap.id: mindmap} == await store.get_mindmaps([mindmap.id], with_nodes=True)


async def test_node_count_is_the_number_of_stored_nodes(store: Store) -> None:
    owner = await add_user(store)
    mindmap = new_mindmap(owner.id)
    mindmap.node_count = 0
    await store.insert_mindmap(mindmap, mindmap_event("created", mindmap))
    stored = await store.get_mindmaps([mindmap.id], with_nodes=False)
    assert stored[mindmap.id].node_count == 3


async def test_reads_without_nodes_return_no_nodes_but_their_count(store: Store) -> None:
    owner = await add_user(store)
    mindmap = await add_mindmap(store, owner.id)
    got = await store.get_mindmaps([mindmap.id], with_nodes=False)
    listed = await store.list_mindmaps(owner.id, 0, 10, with_nodes=False)
    assert {mindmap.id: summary(mindmap)} == got
    assert [summary(mindmap)] == [row.message for row in listed]
    assert got[mindmap.id].node_count == 3


async def test_get_mindmaps_returns_only_the_existing_ones(store: Store) -> None:
    owner = await add_user(store)
    mindmap = await add_mindmap(store, owner.id)
    got = await store.get_mindmaps([new_id(), mindmap.id], with_nodes=True)
    assert {mindmap.id: mindmap} == got
    assert await store.get_mindmaps([], with_nodes=True) == {}


async def test_list_mindmaps_pages_in_insertion_order(store: Store) -> None:
    owner = await add_user(store)
    mindmaps = [await add_mindmap(store, owner.id) for _ in range(3)]
    first = await store.list_mindmaps(None, 0, 2, with_nodes=True)
    second = await store.list_mindmaps(None, first[-1].seq, 2, with_nodes=True)
    assert mindmaps == [row.message for row in [*first, *second]]
    assert [len(first), len(second)] == [2, 1]
    assert await store.list_mindmaps(None, second[-1].seq, 2, with_nodes=True) == []


async def test_list_mindmaps_of_an_owner_pages_over_that_owners_only(store: Store) -> None:
    ada, grace = await add_user(store), await add_user(store)
    mindmaps: dict[str, list[Mindmap]] = {ada.id: [], grace.id: []}
    for owner in [ada, grace, ada, grace, ada]:
        mindmaps[owner.id].append(await add_mindmap(store, owner.id))
    first = await store.list_mindmaps(ada.id, 0, 2, with_nodes=True)
    second = await store.list_mindmaps(ada.id, first[-1].seq, 2, with_nodes=True)
    assert mindmaps[ada.id] == [row.message for row in [*first, *second]]
    assert await store.list_mindmaps(new_id(), 0, 10, with_nodes=True) == []


async def test_mindmap_of_an_unknown_owner_is_rejected(store: Store) -> None:
    """The owner is the parent of the create: missing, it is NotFound naming the user."""
    mindmap = new_mindmap(new_id())
    event = mindmap_event("created", mindmap)
    error = await rejected(store, lambda: store.insert_mindmap(mindmap, event), NotFound)
    assert ("hub.user.v1.User", mindmap.owner_id, "OWNER_NOT_FOUND") == (
        error.resource_type,
        error.name,
        error.reason,
    )
    assert await store.get_mindmaps([mindmap.id], with_nodes=True) == {}


async def test_update_mindmap_replaces_it_and_its_nodes_when_the_etag_matches(
    store: Store,
) -> None:
    owner = await add_user(store)
    mindmap = await add_mindmap(store, owner.id)
    update = changed_mindmap(mindmap)
    await store.update_mindmap(update, mindmap.etag, mindmap_event("updated", update))
    assert {mindmap.id: update} == await store.get_mindmaps([mindmap.id], with_nodes=True)


async def test_update_mindmap_with_a_stale_etag_is_aborted(store: Store) -> None:
    owner = await add_user(store)
    mindmap = await add_mindmap(store, owner.id)
    update = changed_mindmap(mindmap)
    event = mindmap_event("updated", update)
    error = await rejected(store, lambda: store.update_mindmap(update, new_etag(), event), Aborted)
    assert (MINDMAP, mindmap.id) == (error.resource_type, error.name)
    assert {mindmap.id: mindmap} == await store.get_mindmaps([mindmap.id], with_nodes=True)


async def test_update_of_a_missing_mindmap_is_not_found(store: Store) -> None:
    owner = await add_user(store)
    mindmap = new_mindmap(owner.id)
    event = mindmap_event("updated", mindmap)
    error = await rejected(
        store, lambda: store.update_mindmap(mindmap, mindmap.etag, event), NotFound
    )
    assert (MINDMAP, mindmap.id) == (error.resource_type, error.name)


async def test_delete_mindmap_removes_it_when_the_etag_matches(store: Store) -> None:
    owner = await add_user(store)
    mindmap = await add_mindmap(store, owner.id)
    await store.delete_mindmap(mindmap.id, mindmap.etag, mindmap_event("deleted", mindmap))
    assert await store.get_mindmaps([mindmap.id], with_nodes=True) == {}


async def test_delete_mindmap_with_a_stale_etag_is_aborted(store: Store) -> None:
    owner = await add_user(store)
    mindmap = await add_mindmap(store, owner.id)
    event = mindmap_event("deleted", mindmap)
    error = await rejected(
        store, lambda: store.delete_mindmap(mindmap.id, new_etag(), event), Aborted
    )
    assert (MINDMAP, mindmap.id) == (error.resource_type, error.name)
    assert {mindmap.id: mindmap} == await store.get_mindmaps([mindmap.id], with_nodes=True)


async def test_delete_of_a_missing_mindmap_is_not_found(store: Store) -> None:
    owner = await add_user(store)
    mindmap = new_mindmap(owner.id)
    event = mindmap_event("deleted", mindmap)
    error = await rejected(
        store, lambda: store.delete_mindmap(mindmap.id, mindmap.etag, event), NotFound
    )
    assert (MINDMAP, mindmap.id) == (error.resource_type, error.name)


async def test_update_mindmap_keeps_owner_and_create_time(store: Store) -> None:
    """Owner and creation time are fixed at creation: an update cannot move them."""
    owner = await add_user(store)
    mindmap = await add_mindmap(store, owner.id)
    update = changed_mindmap(mindmap)
    update.owner_id = new_id()
    update.create_time.FromNanoseconds(update.create_time.ToNanoseconds() + 1)
    await store.update_mindmap(update, mindmap.etag, mindmap_event("updated", update))
    stored = (await store.get_mindmaps([mindmap.id], with_nodes=True))[mindmap.id]
    assert (owner.id, mindmap.create_time) == (stored.owner_id, stored.create_time)
    assert update.title == stored.title
