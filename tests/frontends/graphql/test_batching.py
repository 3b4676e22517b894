"""Backend calls of nested queries are bounded by the depth of the query, not by the number
of items: counted at the hub's own gRPC client, for N = 1, 10 and 100."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.contracts.mindmap.v1.mindmap_pb2 import CreateMindmapRequest, Mindmap
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.testing import RunningHub
from tests.frontends.graphql.conftest import GraphQLHub, graphql_hub

SIZES = (1, 10, 100)
USERS_WITH_MINDMAPS = """query($n: Int!) {
  users(first: $n) { edges { node { mindmaps { edges { node { owner { id } } } } } } }
}"""
MINDMAPS_WITH_OWNERS_AND_NODES = """query($n: Int!) {
  mindmaps(first: $n) {
    edges { node { owner { displayName } root { children { text } } } }
  }
}"""


@pytest.fixture
async def populated(tmp_path: Path) -> AsyncIterator[GraphQLHub]:
    """A hub with 100 users, each owning one mindmap (made over gRPC); the count is reset."""
    async with graphql_hub(tmp_path / "data") as hub:
        await asyncio.gather(*(user_with_mindmap(hub.running, i) for i in range(max(SIZES))))
        hub.calls.methods.clear()
        yield hub


async def user_with_mindmap(running: RunningHub, index: int) -> None:
    """Creates user `index` and a mindmap of theirs over gRPC."""
    user = User(email=f"user{index}@example.com", display_name=f"User {index}")
    created = (await running.users.CreateUser(CreateUserRequest(user=user))).user
    mindmap = Mindmap(owner_id=created.id, title=f"Map {index}")
    await running.mindmaps.CreateMindmap(CreateMindmapRequest(mindmap=mindmap))


async def calls_for(hub: GraphQLHub, query: str, n: int) -> tuple[int, list[str]]:
    """(items answered, backend calls made) for `query` with `$n`."""
    hub.calls.methods.clear()
    data = await hub.data(query, {"n": n})
    connection = data.get("users") or data["mindmaps"]
    return len(connection["edges"]), hub.calls.short()


async def test_users_with_their_mindmaps_and_owners_cost_two_calls_for_any_n(
    populated: GraphQLHub,
) -> None:
    """The issue's query: one ListUsers, one BatchListMindmaps; owners are already known."""
    measured = {n: await calls_for(populated, USERS_WITH_MINDMAPS, n) for n in SIZES}

    assert {n: (n, ["ListUsers", "BatchListMindmaps"]) for n in SIZES} == measured


async def test_mindmaps_with_owners_and_trees_cost_one_call_per_level_for_any_n(
    populated: GraphQLHub,
) -> None:
    """Owners batch into one BatchGetUsers, trees into one BatchGetMindmaps."""
    measured = {n: await calls_for(populated, MINDMAPS_WITH_OWNERS_AND_NODES, n) for n in SIZES}

    expected = ["ListMindmaps", "BatchGetUsers", "BatchGetMindmaps"]
    assert {n: (n, sorted(expected)) for n in SIZES} == {
        n: (count, sorted(calls)) for n, (count, calls) in measured.items()
    }
