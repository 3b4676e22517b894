"""The `Store` contract for users, run against every implementation (see conftest.py)."""

from __future__ import annotations

from hub.errors import Aborted, AlreadyExists, FailedPrecondition, NotFound
from hub.storage.store import Store
from tests.storage.messages import (
    USER,
    add_mindmap,
    add_user,
    changed_user,
    mindmap_event,
    new_etag,
    new_id,
    new_user,
    rejected,
    user_event,
)


async def test_user_round_trips_every_field(store: Store) -> None:
    user = new_user("Ada.Lovelace@Example.com")
    await store.insert_user(user, user_event("created", user))
    assert {user.id: user} == await store.get_users([user.id])


async def test_get_users_returns_only_the_existing_ones(store: Store) -> None:
    user = await add_user(store)
    assert {user.id: user} == await store.get_users([new_id(), user.id, user.id])
    assert await store.get_users([]) == {}


async def test_list_users_pages_in_insertion_order(store: Store) -> None:
    users = [await add_user(store) for _ in range(5)]
    first = await store.list_users(0, 2)
    second = await store.list_users(first[-1].seq, 2)
    third = await store.list_users(second[-1].seq, 2)
    listed = [*first, *second, *third]
    assert users == [row.message for row in listed]
    assert [len(first), len(second), len(third)] == [2, 2, 1]
    assert sorted({row.seq for row in listed}) == [row.seq for row in listed]
    assert await store.list_users(listed[-1].seq, 2) == []


async def test_email_taken_on_insert_ignores_case(store: Store) -> None:
    await add_user(store, "grace@example.com")
    taken = new_user("Grace@EXAMPLE.com")
    error = await rejected(
        store, lambda: store.insert_user(taken, user_event("created", taken)), AlreadyExists
    )
    expected = (USER, "Grace@EXAMPLE.com", "EMAIL_TAKEN")
    assert expected == (error.resource_type, error.name, error.reason)
    assert await store.get_users([taken.id]) == {}


async def test_email_taken_on_update_ignores_case(store: Store) -> None:
    await add_user(store, "grace@example.com")
    user = await add_user(store)
    update = changed_user(user, email="GRACE@example.com")
    error = await rejected(
        store,
        lambda: store.update_user(update, user.etag, user_event("updated", update)),
        AlreadyExists,
    )
    expected = (USER, "GRACE@example.com", "EMAIL_TAKEN")
    assert expected == (error.resource_type, error.name, error.reason)
    assert {user.id: user} == await store.get_users([user.id])


async def test_user_may_change_the_case_of_its_own_email(store: Store) -> None:
    user = await add_user(store, "grace@example.com")
    update = changed_user(user, email="Grace@Example.com")
    await store.update_user(update, user.etag, user_event("updated", update))
    assert {user.id: update} == await store.get_users([user.id])


async def test_update_user_replaces_it_when_the_etag_matches(store: Store) -> None:
    user = await add_user(store)
    update = changed_user(user)
    await store.update_user(update, user.etag, user_event("updated", update))
    assert {user.id: update} == await store.get_users([user.id])


async def test_update_user_with_a_stale_etag_is_aborted(store: Store) -> None:
    user = await add_user(store)
    update = changed_user(user)
    error = await rejected(
        store, lambda: store.update_user(update, new_etag(), user_event("updated", update)), Aborted
    )
    assert (USER, user.id) == (error.resource_type, error.name)
    assert {user.id: user} == await store.get_users([user.id])


async def test_update_of_a_missing_user_is_not_found(store: Store) -> None:
    user = new_user()
    error = await rejected(
        store, lambda: store.update_user(user, user.etag, user_event("updated", user)), NotFound
    )
    assert (USER, user.id) == (error.resource_type, error.name)


async def test_delete_user_removes_it_when_the_etag_matches(store: Store) -> None:
    user = await add_user(store)
    await store.delete_user(user.id, user.etag, user_event("deleted", user))
    assert await store.get_users([user.id]) == {}


async def test_delete_user_with_a_stale_etag_is_aborted(store: Store) -> None:
    user = await add_user(store)
    event = user_event("deleted", user)
    error = await rejected(store, lambda: store.delete_user(user.id, new_etag(), event), Aborted)
    assert (USER, user.id) == (error.resource_type, error.name)
    assert {user.id: user} == await store.get_users([user.id])


async def test_delete_of_a_missing_user_is_not_found(store: Store) -> None:
    user = new_user()
    event = user_event("deleted", user)
    error = await rejected(store, lambda: store.delete_user(user.id, user.etag, event), NotFound)
    assert (USER, user.id) == (error.resource_type, error.name)


async def test_user_owning_mindmaps_cannot_be_deleted(store: Store) -> None:
    user = await add_user(store)
    mindmap = await add_mindmap(store, user.id)
    event = user_event("deleted", user)
    error = await rejected(
        store, lambda: store.delete_user(user.id, user.etag, event), FailedPrecondition
    )
    assert (f"users/{user.id}", "USER_HAS_MINDMAPS") == (error.subject, error.reason)
    assert {user.id: user} == await store.get_users([user.id])

    await store.delete_mindmap(mindmap.id, mindmap.etag, mindmap_event("deleted", mindmap))
    await store.delete_user(user.id, user.etag, event)
    assert await store.get_users([user.id]) == {}
