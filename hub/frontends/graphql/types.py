"""The GraphQL object types: users, mindmaps as trees of nodes, and their connections.

Designed for clients rather than copied from the protos: relations are fields
(`User.mindmaps`, `Mindmap.owner`, `Mindmap.root`, `Node.children`, `Node.parent`), lists
are Relay-style connections, times are `DateTime`. Each type is built from its protobuf
message with `of(...)` and resolves relations through the request's loaders
(`loaders.py`), so nested queries batch. Proto fields shown under another name or left
out are listed in `PROTO_FIELDS` (checked by tests/frontends/graphql/test_contract.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

import strawberry
from google.protobuf.timestamp_pb2 import Timestamp

from hub.contracts.mindmap.v1 import mindmap_pb2
from hub.contracts.mindmap.v1.mindmap_pb2 import ListMindmapsRequest
from hub.contracts.user.v1 import user_pb2
from hub.frontends.graphql.context import Context
from hub.frontends.graphql.errors import bad_input
from hub.frontends.graphql.loaders import FirstPage

Info = strawberry.Info[Context, None]

MAX_PAGE = 1000
"""Largest `first` of a top-level list (ListUsers, ListMindmaps: page_size <= 1000)."""
MAX_NESTED_PAGE = 100
"""Largest `first` of `User.mindmaps` (BatchListMindmaps: page_size <= 100)."""

PROTO_FIELDS: Mapping[str, Mapping[str, str | None]] = {
    "User": {
        "id": "id",
        "email": "email",
        "display_name": "displayName",
        "plan": "plan",
        "create_time": "createTime",
        "update_time": "updateTime",
        "etag": "etag",
    },
    "Mindmap": {
        "id": "id",
        "owner_id": "owner",
        "title": "title",
        "description": "description",
        "nodes": "nodes",
        "etag": "etag",
        "node_count": "nodeCount",
        "create_time": "createTime",
        "update_time": "updateTime",
    },
    "Node": {"id": "id", "parent_id": "parent", "text": "text", "position": "position"},
}
"""For each proto message, the GraphQL field that shows each of its fields (None: hidden
on purpose, with the reason in docs/graphql.md)."""


@strawberry.enum(description="A user's subscription plan.")
class Plan(Enum):
    FREE = user_pb2.PLAN_FREE
    PRO = user_pb2.PLAN_PRO
    TEAM = user_pb2.PLAN_TEAM


def plan_of(value: user_pb2.Plan.ValueType) -> Plan | None:
    """The plan of a stored user (None for PLAN_UNSPECIFIED, which the backend never stores)."""
    return Plan(value) if value != user_pb2.PLAN_UNSPECIFIED else None


def time_of(stamp: Timestamp) -> datetime:
    """A protobuf time as an aware UTC datetime."""
    return stamp.ToDatetime(tzinfo=UTC)


def page_size(first: int, maximum: int) -> int:
    """`first` as a page size; BAD_USER_INPUT outside 1..`maximum`."""
    if not 0 < first <= maximum:
        raise bad_input("first", f"must be between 1 and {maximum}")
    return first


@strawberry.type(description="Where a page ends, and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to get the next page; null on the last page."
    )

    @classmethod
    def of(cls, next_page_token: str) -> PageInfo:
        return cls(has_next_page=bool(next_page_token), end_cursor=next_page_token or None)


@strawberry.type(description="An account.")
class User:
    id: strawberry.ID
    email: str
    display_name: str
    plan: Plan | None
    create_time: datetime
    update_time: datetime
    etag: str = strawberry.field(description="Changes on every write; pass it to guard one.")

    @classmethod
    def of(cls, user: user_pb2.User) -> User:
        return cls(
            id=strawberry.ID(user.id),
            email=user.email,
            display_name=user.display_name,
            plan=plan_of(user.plan),
            create_time=time_of(user.create_time),
            update_time=time_of(user.update_time),
            etag=user.etag,
        )

    @strawberry.field(description="The user's mindmaps, oldest first.")
    async def mindmaps(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> MindmapConnection | None:
        size = page_size(first, MAX_NESTED_PAGE)
        context = info.context
        if after:
            request = ListMindmapsRequest(owner_id=self.id, page_size=size, page_token=after)
            page = await context.call(context.client.mindmaps.ListMindmaps, request)
        else:
            page = await context.loaders.first_pages.load(FirstPage(self.id, size))
        return MindmapConnection.of(page.mindmaps, page.next_page_token)


@strawberry.type
class UserEdge:
    node: User


@strawberry.type(description="A page of users.")
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, users: Sequence[user_pb2.User], next_page_token: str) -> UserConnection:
        return cls(
            edges=[UserEdge(node=User.of(user)) for user in users],
            page_info=PageInfo.of(next_page_token),
        )


@dataclass(frozen=True)
class Tree:
    """A mindmap's nodes by id and by parent, in pre-order."""

    mindmap_id: str
    nodes: Sequence[mindmap_pb2.Node]
    by_id: Mapping[str, mindmap_pb2.Node]
    children: Mapping[str, Sequence[mindmap_pb2.Node]] = field(repr=False)

    @classmethod
    def of(cls, mindmap: mindmap_pb2.Mindmap) -> Tree:
        children: dict[str, list[mindmap_pb2.Node]] = {}
        for node in mindmap.nodes:
            children.setdefault(node.parent_id, []).append(node)
        return cls(
            mindmap_id=mindmap.id,
            nodes=list(mindmap.nodes),
            by_id={node.id: node for node in mindmap.nodes},
            children=children,
        )


async def tree_of(info: Info, mindmap_id: str, known: Tree | None) -> Tree:
    """`known`, or the tree of the mindmap loaded whole."""
    if known is not None:
        return known
    return Tree.of(await info.context.loaders.mindmaps.load(mindmap_id))


@strawberry.type(description="A node of a mindmap's tree.")
class Node:
    id: strawberry.ID
    text: str
    position: int = strawberry.field(description="Its place among its siblings, from 0.")
    mindmap_id: strawberry.ID
    parent_id: strawberry.Private[str]
    tree: strawberry.Private[Tree | None]

    @classmethod
    def of(cls, node: mindmap_pb2.Node, mindmap_id: str, tree: Tree | None = None) -> Node:
        return cls(
            id=strawberry.ID(node.id),
            text=node.text,
            position=node.position,
            mindmap_id=strawberry.ID(mindmap_id),
            parent_id=node.parent_id,
            tree=tree,
        )

    @strawberry.field(description="The parent node; null for the root.")
    async def parent(self, info: Info) -> Node | None:
        if not self.parent_id:
            return None
        tree = await tree_of(info, self.mindmap_id, self.tree)
        found = tree.by_id.get(self.parent_id)
        return None if found is None else Node.of(found, tree.mindmap_id, tree)

    @strawberry.field(description="The child nodes, in position order.")
    async def children(self, info: Info) -> list[Node]:
        tree = await tree_of(info, self.mindmap_id, self.tree)
        return [Node.of(child, tree.mindmap_id, tree) for child in tree.children.get(self.id, [])]


@strawberry.type(description="A mindmap: a titled tree of nodes owned by one user.")
class Mindmap:
    id: strawberry.ID
    title: str
    description: str
    etag: str = strawberry.field(description="Changes on every write; pass it to guard one.")
    node_count: int
    create_time: datetime
    update_time: datetime
    owner_id: strawberry.Private[str]
    tree: strawberry.Private[Tree | None]

    @classmethod
    def of(cls, mindmap: mindmap_pb2.Mindmap, *, full: bool) -> Mindmap:
        """`full`: the message holds every node (else they are loaded when asked for)."""
        return cls(
            id=strawberry.ID(mindmap.id),
            title=mindmap.title,
            description=mindmap.description,
            etag=mindmap.etag,
            node_count=mindmap.node_count,
            create_time=time_of(mindmap.create_time),
            update_time=time_of(mindmap.update_time),
            owner_id=mindmap.owner_id,
            tree=Tree.of(mindmap) if full else None,
        )

    @strawberry.field(description="The user who owns it (null, with an error, if unreadable).")
    async def owner(self, info: Info) -> User | None:
        return User.of(await info.context.loaders.users.load(self.owner_id))

    @strawberry.field(description="Every node, in pre-order (the root first).")
    async def nodes(self, info: Info) -> list[Node]:
        tree = await tree_of(info, self.id, self.tree)
        return [Node.of(node, self.id, tree) for node in tree.nodes]

    @strawberry.field(description="The root node, whose children are the top-level ideas.")
    async def root(self, info: Info) -> Node:
        tree = await tree_of(info, self.id, self.tree)
        return Node.of(tree.children[""][0], self.id, tree)


@strawberry.type
class MindmapEdge:
    node: Mindmap


@strawberry.type(description="A page of mindmaps.")
class MindmapConnection:
    edges: list[MindmapEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, mindmaps: Sequence[mindmap_pb2.Mindmap], next_page_token: str) -> MindmapConnection:
        return cls(
            edges=[MindmapEdge(node=Mindmap.of(m, full=bool(m.nodes))) for m in mindmaps],
            page_info=PageInfo.of(next_page_token),
        )
