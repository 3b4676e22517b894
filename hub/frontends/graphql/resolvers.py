"""The root `Query`: entry points into the graph of users and mindmaps.

Every root field is nullable, so that one failing field leaves the others their data.
Single objects go through the request's loaders (so `user(id:)` twice, or beside a list
that already read it, costs one call or none); lists are one ListUsers/ListMindmaps call
each, and prime the user loader so that `owner` of what they list needs no further call.
"""

from __future__ import annotations

import strawberry

from hub.contracts.mindmap.v1.mindmap_pb2 import ListMindmapsRequest
from hub.contracts.user.v1.user_pb2 import ListUsersRequest
from hub.frontends.graphql.errors import GraphQLFailure
from hub.frontends.graphql.loaders import check_id
from hub.frontends.graphql.types import (
    MAX_PAGE,
    Info,
    Mindmap,
    MindmapConnection,
    User,
    UserConnection,
    page_size,
)


@strawberry.type
class Query:
    @strawberry.field(
        description="The calling user. UNAUTHENTICATED until authentication is configured."
    )
    async def me(self, info: Info) -> User | None:
        principal = info.context.principal
        if principal is None:
            raise GraphQLFailure("this request carries no authenticated user", "UNAUTHENTICATED")
        return User.of(await info.context.loaders.users.load(principal.user_id))

    @strawberry.field(description="One user by id (null and NOT_FOUND if there is none).")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        return User.of(await info.context.loaders.users.load(check_id("id", id)))

    @strawberry.field(description="All users, oldest first.")
    async def users(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> UserConnection | None:
        context = info.context
        request = ListUsersRequest(page_size=page_size(first, MAX_PAGE), page_token=after or "")
        page = await context.call(context.client.users.ListUsers, request)
        context.loaders.known_users(page.users)
        return UserConnection.of(page.users, page.next_page_token)

    @strawberry.field(description="One mindmap by id (null and NOT_FOUND if there is none).")
    async def mindmap(self, info: Info, id: strawberry.ID) -> Mindmap | None:
        return Mindmap.of(await info.context.loaders.mindmaps.load(check_id("id", id)), full=True)

    @strawberry.field(description="Mindmaps, oldest first: of one owner, or of everyone.")
    async def mindmaps(
        self,
        info: Info,
        owner_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> MindmapConnection | None:
        context = info.context
        request = ListMindmapsRequest(
            owner_id=check_id("ownerId", owner_id) if owner_id is not None else "",
            page_size=page_size(first, MAX_PAGE),
            page_token=after or "",
        )
        page = await context.call(context.client.mindmaps.ListMindmaps, request)
        return MindmapConnection.of(page.mindmaps, page.next_page_token)
