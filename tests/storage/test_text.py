"""The `Store` contract for text: any string the protos allow is stored and read back as it
was, looked up and compared as it was, NUL (U+0000) included, which PostgreSQL's `text` and
`jsonb` refuse (its store escapes it: hub/storage/pgtext.py). Run against every
implementation (see conftest.py)."""

from __future__ import annotations

from hub.errors import AlreadyExists, NotFound
from hub.storage.store import Store
from tests.storage.messages import (
    USER,
    add_user,
    changed_mindmap,
    changed_user,
    mindmap_event,
    new_id,
    new_mindmap,
    new_user,
    rejected,
    summary,
    user_event,
)

ESCAPE = "\ue000"
"""The character the PostgreSQL store escapes with, so it must round-trip too."""
AWKWARD = f"a\x00b {ESCAPE}0 {ESCAPE}{ESCAPE} \x00{ESCAPE}\x00 😀{ESCAPE}"


async def test_text_with_nul_and_the_escape_character_round_trips_in_users(
    store: Store,
) -> None:
    user = new_user(f"Nul\x00{ESCAPE}@Example.com")
    user.id = f"{new_id()}\x00{ESCAPE}"
    user.display_name = AWKWARD
    user.etag = f"etag\x00{ESCAPE}"
    await store.insert_user(user, user_event("created", user))
    update = changed_user(user, display_name=f"{AWKWARD}!")

    await store.update_user(update, user.etag, user_event("updated", update))

    assert {update.id: update} == await store.get_users([update.id])
    assert [update] == [row.message for row in await store.list_users(0, 10)]


async def test_emails_with_nul_are_still_unique_ignoring_case(store: Store) -> None:
    await add_user(store, f"nul\x00{ESCAPE}@example.com")
    taken = new_user(f"NUL\x00{ESCAPE}@Example.com")

    error = await rejected(
        store, lambda: store.insert_user(taken, user_event("created", taken)), AlreadyExists
    )

    assert (USER, f"NUL\x00{ESCAPE}@Example.com", "EMAIL_TAKEN") == (
        error.resource_type,
        error.name,
        error.reason,
    )


async def test_ids_with_nul_that_were_never_stored_are_found_nowhere(store: Store) -> None:
    user = await add_user(store)
    missing = f"{user.id}\x00"

    assert {} == await store.get_users([missing, "\x00", ESCAPE])
    assert {} == await store.get_mindmaps([missing], with_nodes=True)
    assert [] == await store.list_mindmaps(missing, 0, 10, with_nodes=False)
    update = changed_user(user)
    update.id = missing
    error = await rejected(
        store,
        lambda: store.update_user(update, user.etag, user_event("updated", update)),
        NotFound,
    )
    assert (USER, missing) == (error.resource_type, error.name)


async def test_text_with_nul_and_the_escape_character_round_trips_in_mindmaps(
    store: Store,
) -> None:
    owner = await add_user(store)
    mindmap = new_mindmap(owner.id)
    mindmap.title, mindmap.description = AWKWARD, f"{ESCAPE}\x00"
    mindmap.nodes[1].text = AWKWARD
    mindmap.nodes[2].id = f"node\x00{ESCAPE}"
    await store.insert_mindmap(mindmap, mindmap_event("created", mindmap))
    update = changed_mindmap(mindmap, title=f"{AWKWARD}?")
    update.nodes[-1].parent_id = mindmap.nodes[2].id

    await store.update_mindmap(update, mindmap.etag, mindmap_event("updated", update))

    assert {update.id: update} == await store.get_mindmaps([update.id], with_nodes=True)
    assert {update.id: summary(update)} == await store.get_mindmaps([update.id], with_nodes=False)
    listed = await store.list_mindmaps(owner.id, 0, 10, with_nodes=True)
    assert [update] == [row.message for row in listed]


async def test_an_owner_id_with_nul_that_is_no_user_is_named_as_given(store: Store) -> None:
    mindmap = new_mindmap(f"{new_id()}\x00{ESCAPE}")

    error = await rejected(
        store,
        lambda: store.insert_mindmap(mindmap, mindmap_event("created", mindmap)),
        NotFound,
    )

    assert (mindmap.owner_id, "OWNER_NOT_FOUND") == (error.name, error.reason)
