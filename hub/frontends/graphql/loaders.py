"""DataLoaders: reads by key, batched into one backend call per kind per level of a query.

A query walks the result level by level; every `load` of one level lands in the same batch,
so the backend calls of a query are bounded by its depth, not by the number of items:
- `users`: users by id, through `BatchGetUsers`;
- `mindmaps`: whole mindmaps (nodes included) by id, through `BatchGetMindmaps`;
- `first_pages`: the first page of each owner's mindmaps, through `BatchListMindmaps`
  (one call per distinct page size in the batch; later pages go through `ListMindmaps`).
A batch is cut at the RPC's item limit (1,000, as in the protos' field rules). Ids that
the field rules would refuse (empty or longer than 64 characters) are answered
BAD_USER_INPUT here, so one bad id cannot fail the whole batch; ids the backend does not
know are NOT_FOUND. Lists prime `users`, so `owner` of listed mindmaps costs nothing when
their owners were listed too.

One `Loaders` per HTTP request; a WebSocket connection gets one without caching, so that
events delivered over a long-lived connection never show data cached at its start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    BatchGetMindmapsRequest,
    BatchListMindmapsRequest,
    ListMindmapsResponse,
    Mindmap,
    MindmapView,
)
from hub.contracts.user.v1.user_pb2 import BatchGetUsersRequest, User
from hub.frontends.graphql.context import Calls
from hub.frontends.graphql.errors import GraphQLFailure, bad_input

MAX_BATCH = 1000
"""Items per batch RPC: `max_items` of BatchGetUsers, BatchGetMindmaps, BatchListMindmaps."""
MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class FirstPage:
    """The first `size` mindmaps of `owner_id`."""

    owner_id: str
    size: int


def check_id(argument: str, value: str) -> str:
    """`value` if it can be an id; BAD_USER_INPUT naming `argument` otherwise."""
    if not 0 < len(value) <= MAX_ID_LENGTH:
        raise bad_input(argument, f"must be 1 to {MAX_ID_LENGTH} characters long")
    return value


class Loaders:
    """The loaders of one request."""

    def __init__(self, call: Calls, *, cache: bool = True) -> None:
        self._call = call
        self.users = DataLoader[str, User](self._users, max_batch_size=MAX_BATCH, cache=cache)
        self.mindmaps = DataLoader[str, Mindmap](
            self._mindmaps, max_batch_size=MAX_BATCH, cache=cache
        )
        self.first_pages = DataLoader[FirstPage, ListMindmapsResponse](
            self._first_pages, max_batch_size=MAX_BATCH, cache=cache
        )

    def known_users(self, users: Sequence[User]) -> None:
        """Primes `users` with users read by another call (a list)."""
        for user in users:
            self.users.prime(user.id, user)

    async def _users(self, ids: list[str]) -> list[User | BaseException]:
        valid = sorted({i for i in ids if 0 < len(i) <= MAX_ID_LENGTH})
        found: dict[str, User] = {}
        if valid:
            reply = await self._call(
                self._call.client.users.BatchGetUsers, BatchGetUsersRequest(ids=valid)
            )
            found = {user.id: user for user in reply.users}
        return [found.get(i) or _missing("user", i) for i in ids]

    async def _mindmaps(self, ids: list[str]) -> list[Mindmap | BaseException]:
        valid = sorted({i for i in ids if 0 < len(i) <= MAX_ID_LENGTH})
        found: dict[str, Mindmap] = {}
        if valid:
            request = BatchGetMindmapsRequest(ids=valid, view=MindmapView.MINDMAP_VIEW_FULL)
            reply = await self._call(self._call.client.mindmaps.BatchGetMindmaps, request)
            found = {mindmap.id: mindmap for mindmap in reply.mindmaps}
        return [found.get(i) or _missing("mindmap", i) for i in ids]

    async def _first_pages(self, keys: list[FirstPage]) -> list[ListMindmapsResponse]:
        pages: dict[FirstPage, ListMindmapsResponse] = {}
        for size in sorted({key.size for key in keys}):
            owners = list(dict.fromkeys(key.owner_id for key in keys if key.size == size))
            request = BatchListMindmapsRequest(owner_ids=owners, page_size=size)
            reply = await self._call(self._call.client.mindmaps.BatchListMindmaps, request)
            for owner, page in zip(owners, reply.pages, strict=True):
                pages[FirstPage(owner, size)] = page
        return [pages[key] for key in keys]


def _missing(kind: str, identifier: str) -> GraphQLFailure:
    if not 0 < len(identifier) <= MAX_ID_LENGTH:
        return bad_input("id", f"must be 1 to {MAX_ID_LENGTH} characters long")
    return GraphQLFailure(f"no {kind} with id {identifier!r}", "NOT_FOUND")
