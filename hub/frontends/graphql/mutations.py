"""The root `Mutation`: every write the backends support, with input types and payloads.

Each mutation is one backend call (CreateUser, UpdateMindmap, AddNode, ...). Inputs name
what a client means (`parentId`, `newParentId`); an update changes exactly the fields its
input sets (they become the update mask), and an `etag` in any input makes the write
conditional (CONFLICT if the resource changed since). Payloads are nullable (a failed write
is null, with its error) and return the written objects, the whole mindmap included for
node writes, so a client can refresh its view from one answer.
"""

from __future__ import annotations

from typing import Any

import strawberry
from google.protobuf.field_mask_pb2 import FieldMask

from hub.contracts.mindmap.v1 import mindmap_pb2 as mm
from hub.contracts.user.v1 import user_pb2
from hub.frontends.graphql.errors import bad_input
from hub.frontends.graphql.types import Info, Mindmap, Node, Plan, Tree, User


@strawberry.input
class CreateUserInput:
    email: str
    display_name: str
    plan: Plan | None = None


@strawberry.input(description="Fields left out stay as they are.")
class UpdateUserInput:
    id: strawberry.ID
    email: str | None = strawberry.UNSET
    display_name: str | None = strawberry.UNSET
    plan: Plan | None = strawberry.UNSET
    etag: str | None = None


@strawberry.input
class DeleteInput:
    id: strawberry.ID
    etag: str | None = None


@strawberry.input
class CreateMindmapInput:
    owner_id: strawberry.ID
    title: str
    description: str = ""


@strawberry.input(description="Fields left out stay as they are.")
class UpdateMindmapInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    etag: str | None = None


@strawberry.input
class AddNodeInput:
    mindmap_id: strawberry.ID
    parent_id: strawberry.ID
    text: str
    position: int | None = strawberry.field(
        default=None, description="Among the parent's children, from 0; null: last."
    )
    etag: str | None = None


@strawberry.input
class UpdateNodeInput:
    mindmap_id: strawberry.ID
    node_id: strawberry.ID
    text: str
    etag: str | None = None


@strawberry.input
class MoveNodeInput:
    mindmap_id: strawberry.ID
    node_id: strawberry.ID
    new_parent_id: strawberry.ID
    position: int | None = strawberry.field(
        default=None, description="Among the new parent's children, from 0; null: last."
    )
    etag: str | None = None


@strawberry.input
class DeleteNodeInput:
    mindmap_id: strawberry.ID
    node_id: strawberry.ID
    etag: str | None = None


@strawberry.type
class UserPayload:
    user: User


@strawberry.type
class DeleteUserPayload:
    deleted_user_id: strawberry.ID


@strawberry.type
class MindmapPayload:
    mindmap: Mindmap


@strawberry.type
class DeleteMindmapPayload:
    deleted_mindmap_id: strawberry.ID


@strawberry.type(description="The node written and its whole mindmap after the write.")
class NodePayload:
    node: Node
    mindmap: Mindmap


@strawberry.type
class DeleteNodePayload:
    deleted_node_id: strawberry.ID
    mindmap: Mindmap


def _set_fields(input_value: object, names: dict[str, str]) -> dict[str, Any]:
    """The fields of an update input that are set, by proto field name. A null is refused:
    leave a field out to keep it."""
    chosen: dict[str, Any] = {}
    for attribute, proto_name in names.items():
        value = getattr(input_value, attribute)
        if value is strawberry.UNSET:
            continue
        if value is None:
            raise bad_input(f"input.{proto_name}", "cannot be null; leave it out to keep it")
        chosen[proto_name] = value
    return chosen


def _node_payload(node: mm.Node, mindmap: mm.Mindmap) -> NodePayload | None:
    tree = Tree.of(mindmap)
    return NodePayload(node=Node.of(node, mindmap.id, tree), mindmap=Mindmap.of(mindmap, full=True))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload | None:
        context = info.context
        user = user_pb2.User(email=input.email, display_name=input.display_name)
        if input.plan is not None:
            user.plan = input.plan.value
        reply = await context.call(
            context.client.users.CreateUser, user_pb2.CreateUserRequest(user=user)
        )
        return UserPayload(user=User.of(reply.user))

    @strawberry.mutation(description="Changes the fields the input sets.")
    async def update_user(self, info: Info, input: UpdateUserInput) -> UserPayload | None:
        context = info.context
        fields = _set_fields(
            input, {"email": "email", "display_name": "display_name", "plan": "plan"}
        )
        if "plan" in fields:
            fields["plan"] = fields["plan"].value
        user = user_pb2.User(id=input.id, etag=input.etag or "", **fields)
        request = user_pb2.UpdateUserRequest(user=user, update_mask=FieldMask(paths=list(fields)))
        reply = await context.call(context.client.users.UpdateUser, request)
        return UserPayload(user=User.of(reply.user))

    @strawberry.mutation(description="Deletes a user who owns no mindmaps.")
    async def delete_user(self, info: Info, input: DeleteInput) -> DeleteUserPayload | None:
        context = info.context
        request = user_pb2.DeleteUserRequest(id=input.id, etag=input.etag or "")
        await context.call(context.client.users.DeleteUser, request)
        return DeleteUserPayload(deleted_user_id=input.id)

    @strawberry.mutation(description="Creates a mindmap whose root node holds the title.")
    async def create_mindmap(
        self,
        info: Info,
        input: CreateMindmapInput,
    ) -> MindmapPayload | None:
        context = info.context
        mindmap = mm.Mindmap(
            owner_id=input.owner_id, title=input.title, description=input.description
        )
        reply = await context.call(
            context.client.mindmaps.CreateMindmap, mm.CreateMindmapRequest(mindmap=mindmap)
        )
        return MindmapPayload(mindmap=Mindmap.of(reply.mindmap, full=True))

    @strawberry.mutation(description="Changes the fields the input sets.")
    async def update_mindmap(
        self,
        info: Info,
        input: UpdateMindmapInput,
    ) -> MindmapPayload | None:
        context = info.context
        fields = _set_fields(input, {"title": "title", "description": "description"})
        mindmap = mm.Mindmap(id=input.id, etag=input.etag or "", **fields)
        request = mm.UpdateMindmapRequest(
            mindmap=mindmap, update_mask=FieldMask(paths=list(fields))
        )
        reply = await context.call(context.client.mindmaps.UpdateMindmap, request)
        return MindmapPayload(mindmap=Mindmap.of(reply.mindmap, full=True))

    @strawberry.mutation
    async def delete_mindmap(
        self,
        info: Info,
        input: DeleteInput,
    ) -> DeleteMindmapPayload | None:
        context = info.context
        request = mm.DeleteMindmapRequest(id=input.id, etag=input.etag or "")
        await context.call(context.client.mindmaps.DeleteMindmap, request)
        return DeleteMindmapPayload(deleted_mindmap_id=input.id)

    @strawberry.mutation
    async def add_node(self, info: Info, input: AddNodeInput) -> NodePayload | None:
        context = info.context
        request = mm.AddNodeRequest(
            mindmap_id=input.mindmap_id,
            node=mm.Node(parent_id=input.parent_id, text=input.text),
            position=input.position,
            etag=input.etag or "",
        )
        reply = await context.call(context.client.mindmaps.AddNode, request)
        return _node_payload(reply.node, reply.mindmap)

    @strawberry.mutation(description="Changes a node's text.")
    async def update_node(self, info: Info, input: UpdateNodeInput) -> NodePayload | None:
        context = info.context
        request = mm.UpdateNodeRequest(
            mindmap_id=input.mindmap_id,
            node=mm.Node(id=input.node_id, text=input.text),
            update_mask=FieldMask(paths=["text"]),
            etag=input.etag or "",
        )
        reply = await context.call(context.client.mindmaps.UpdateNode, request)
        return _node_payload(reply.node, reply.mindmap)

    @strawberry.mutation(description="Moves a node, with its subtree, under another parent.")
    async def move_node(self, info: Info, input: MoveNodeInput) -> NodePayload | None:
        context = info.context
        request = mm.MoveNodeRequest(
            mindmap_id=input.mindmap_id,
            node_id=input.node_id,
            new_parent_id=input.new_parent_id,
            position=input.position,
            etag=input.etag or "",
        )
        reply = await context.call(context.client.mindmaps.MoveNode, request)
        return _node_payload(reply.node, reply.mindmap)

    @strawberry.mutation(description="Deletes a node and its subtree.")
    async def delete_node(
        self,
        info: Info,
        input: DeleteNodeInput,
    ) -> DeleteNodePayload | None:
        context = info.context
        request = mm.DeleteNodeRequest(
            mindmap_id=input.mindmap_id, node_id=input.node_id, etag=input.etag or ""
        )
        reply = await context.call(context.client.mindmaps.DeleteNode, request)
        return DeleteNodePayload(
            deleted_node_id=input.node_id, mindmap=Mindmap.of(reply.mindmap, full=True)
        )
