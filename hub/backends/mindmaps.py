"""`MindmapService`: the servicer of `hub.mindmap.v1.MindmapService` over a `Store`.

Mindmaps are stored whole, nodes included; every write (to the mindmap or one of its
nodes) is a read → apply → compare-and-swap of the whole mindmap (`writes`), with a fresh
etag and exactly one event. The tree rules live in `tree`. Choices the protos leave open:
- CreateMindmap makes the root node with the title as its text; afterwards the root's text
  is a node text like any other (UpdateNode changes it, UpdateMindmap does not).
- Client-supplied nodes on CreateMindmap are rejected (field `mindmap.nodes`); other
  output-only fields of requests (id, times, node_count, Node.position) are ignored.
- A node position past the last sibling means last; a negative one is INVALID_ARGUMENT.
- AddNode without a parent_id is NOT_FOUND (no node has the id ""), not INVALID_ARGUMENT:
  the field rules cannot require it, since `Node` is shared with the root.
- Views: GetMindmap and BatchGetMindmaps default to FULL, ListMindmaps to BASIC; write
  responses carry the FULL mindmap.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from google.protobuf.field_mask_pb2 import FieldMask
from typing_extensions import override

from hub import rules
from hub.backends import pagination, reads, tree, validation
from hub.backends.events import Origin, Payload, event, origin_of
from hub.backends.status import Context, rpc
from hub.backends.validation import Violations
from hub.backends.writes import conditional_write, new_etag, now
from hub.contracts.events.v1.events_pb2 import (
    MindmapCreated,
    MindmapDeleted,
    MindmapUpdated,
    NodeAdded,
    NodeDeleted,
    NodeMoved,
    NodeUpdated,
)
from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    AddNodeResponse,
    BatchGetMindmapsRequest,
    BatchGetMindmapsResponse,
    BatchListMindmapsRequest,
    BatchListMindmapsResponse,
    CreateMindmapRequest,
    CreateMindmapResponse,
    DeleteMindmapRequest,
    DeleteMindmapResponse,
    DeleteNodeRequest,
    DeleteNodeResponse,
    GetMindmapRequest,
    GetMindmapResponse,
    ListMindmapsRequest,
    ListMindmapsResponse,
    Mindmap,
    MindmapView,
    MoveNodeRequest,
    MoveNodeResponse,
    Node,
    UpdateMindmapRequest,
    UpdateMindmapResponse,
    UpdateNodeRequest,
    UpdateNodeResponse,
)
from hub.storage.store import Store
from hub.subjects import mindmap_subject

MINDMAP_TYPE = Mindmap.DESCRIPTOR.full_name

_Change = Callable[[Mindmap, Mindmap], Payload]
"""Applies a write to `updated` (a copy of `current` with new etag and time) → its payload."""


class MindmapService(mindmap_pb2_grpc.MindmapServiceServicer):
    """Creates, reads, lists, updates and deletes mindmaps and their nodes in `store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @override
    @rpc
    async def CreateMindmap(
        self, request: CreateMindmapRequest, context: Context
    ) -> CreateMindmapResponse:
        v = Violations()
        v.check(request, required=("mindmap.owner_id", "mindmap.title"))
        fields = request.mindmap
        validation.must_be_empty(
            v,
            "mindmap.nodes",
            fields.nodes,
            "must be empty: the root comes from the title, other nodes are added with AddNode",
        )
        v.raise_if_any()
        owner_id = fields.owner_id
        title = fields.title.strip()
        time = now()
        mindmap = Mindmap(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            title=title,
            description=fields.description,
            nodes=tree.new_tree(str(uuid.uuid4()), title),
            node_count=1,
            etag=new_etag(),
            create_time=time,
            update_time=time,
        )
        created = event(
            MindmapCreated(mindmap=mindmap),
            time=time,
            subject=mindmap_subject(mindmap.id),
            owner_id=owner_id,
            origin=origin_of(context),
        )
        await self._store.insert_mindmap(mindmap, created)
        return CreateMindmapResponse(mindmap=mindmap)

    @override
    @rpc
    async def GetMindmap(self, request: GetMindmapRequest, context: Context) -> GetMindmapResponse:
        validation.check(request, required=("id",))
        full = validation.view(request.view, default=MindmapView.MINDMAP_VIEW_FULL)
        return GetMindmapResponse(mindmap=await self._get(request.id, with_nodes=full))

    @override
    @rpc
    async def BatchGetMindmaps(
        self, request: BatchGetMindmapsRequest, context: Context
    ) -> BatchGetMindmapsResponse:
        validation.check(request, required=("ids",))
        full = validation.view(request.view, default=MindmapView.MINDMAP_VIEW_FULL)
        found = await self._store.get_mindmaps(sorted(set(request.ids)), with_nodes=full)
        mindmaps, missing = reads.in_request_order(request.ids, found)
        return BatchGetMindmapsResponse(mindmaps=mindmaps, missing_ids=missing)

    @override
    @rpc
    async def ListMindmaps(
        self, request: ListMindmapsRequest, context: Context
    ) -> ListMindmapsResponse:
        v = Violations()
        v.check(request)
        list_key = pagination.fingerprint("mindmaps", request.owner_id)
        after = pagination.after_seq(v, "page_token", request.page_token, list_key)
        v.raise_if_any()
        size = pagination.page_size(request.page_size)
        full = validation.view(request.view, default=MindmapView.MINDMAP_VIEW_BASIC)
        rows = await self._store.list_mindmaps(
            request.owner_id or None, after, size + 1, with_nodes=full
        )
        mindmaps, next_token = pagination.page(rows, size, list_key)
        return ListMindmapsResponse(mindmaps=mindmaps, next_page_token=next_token)

    @override
    @rpc
    async def BatchListMindmaps(
        self, request: BatchListMindmapsRequest, context: Context
    ) -> BatchListMindmapsResponse:
        validation.check(request, required=("owner_ids",))
        size = pagination.page_size(request.page_size)
        full = validation.view(request.view, default=MindmapView.MINDMAP_VIEW_BASIC)
        pages: dict[str, ListMindmapsResponse] = {}
        for owner_id in dict.fromkeys(request.owner_ids):
            rows = await self._store.list_mindmaps(owner_id, 0, size + 1, with_nodes=full)
            mindmaps, next_token = pagination.page(
                rows, size, pagination.fingerprint("mindmaps", owner_id)
            )
            pages[owner_id] = ListMindmapsResponse(mindmaps=mindmaps, next_page_token=next_token)
        return BatchListMindmapsResponse(pages=[pages[owner] for owner in request.owner_ids])

    @override
    @rpc
    async def UpdateMindmap(
        self, request: UpdateMindmapRequest, context: Context
    ) -> UpdateMindmapResponse:
        paths = rules.mask_selection(request, "update_mask")
        validation.check(request, required=("mindmap.id", *(f"mindmap.{path}" for path in paths)))
        fields = request.mindmap
        mindmap_id = fields.id
        changes = Mindmap(  # the mask picks which of these apply
            title=fields.title.strip(), description=fields.description
        )
        mask = FieldMask(paths=paths)

        def change(current: Mindmap, updated: Mindmap) -> Payload:
            mask.MergeMessage(changes, updated)
            basic = Mindmap()
            basic.CopyFrom(updated)
            basic.ClearField("nodes")
            return MindmapUpdated(mindmap=basic, update_mask=mask)

        mindmap = await self._write(mindmap_id, fields.etag, origin_of(context), change)
        return UpdateMindmapResponse(mindmap=mindmap)

    @override
    @rpc
    async def DeleteMindmap(
        self, request: DeleteMindmapRequest, context: Context
    ) -> DeleteMindmapResponse:
        validation.check(request, required=("id",))
        mindmap_id = request.id
        origin = origin_of(context)

        async def write(current: Mindmap) -> None:
            deleted = event(
                MindmapDeleted(mindmap_id=mindmap_id),
                time=now(),
                subject=mindmap_subject(mindmap_id),
                owner_id=current.owner_id,
                origin=origin,
            )
            await self._store.delete_mindmap(mindmap_id, current.etag, deleted)

        await conditional_write(
            resource_type=MINDMAP_TYPE,
            name=mindmap_id,
            etag=request.etag,
            read=lambda: self._get(mindmap_id, with_nodes=False),
            write=write,
        )
        return DeleteMindmapResponse()

    @override
    @rpc
    async def AddNode(self, request: AddNodeRequest, context: Context) -> AddNodeResponse:
        validation.check(request, required=("mindmap_id", "node.text"))
        mindmap_id = request.mindmap_id
        parent_id = request.node.parent_id
        text = request.node.text.strip()
        position = _optional_position(request)
        node_id = str(uuid.uuid4())

        def change(current: Mindmap, updated: Mindmap) -> Payload:
            under = parent_id or tree.root(current.nodes).id  # no parent: under the root
            added = Node(id=node_id, parent_id=under, text=text)
            _set_nodes(updated, tree.add(current.nodes, added, position))
            node = tree.find(updated.nodes, node_id)
            return NodeAdded(mindmap_id=mindmap_id, node=node, etag=updated.etag)

        mindmap = await self._write(mindmap_id, request.etag, origin_of(context), change)
        return AddNodeResponse(node=tree.find(mindmap.nodes, node_id), mindmap=mindmap)

    @override
    @rpc
    async def UpdateNode(self, request: UpdateNodeRequest, context: Context) -> UpdateNodeResponse:
        paths = rules.mask_selection(request, "update_mask")
        required = ("mindmap_id", "node.id", *(f"node.{path}" for path in paths))
        validation.check(request, required=required)
        mindmap_id = request.mindmap_id
        node_id = request.node.id
        text = request.node.text.strip()
        mask = FieldMask(paths=paths)

        def change(current: Mindmap, updated: Mindmap) -> Payload:
            _set_nodes(updated, tree.update_text(current.nodes, node_id, text))
            node = tree.find(updated.nodes, node_id)
            return NodeUpdated(
                mindmap_id=mindmap_id, node=node, update_mask=mask, etag=updated.etag
            )

        mindmap = await self._write(mindmap_id, request.etag, origin_of(context), change)
        return UpdateNodeResponse(node=tree.find(mindmap.nodes, node_id), mindmap=mindmap)

    @override
    @rpc
    async def MoveNode(self, request: MoveNodeRequest, context: Context) -> MoveNodeResponse:
        validation.check(request, required=("mindmap_id", "node_id", "new_parent_id"))
        mindmap_id = request.mindmap_id
        node_id = request.node_id
        new_parent_id = request.new_parent_id
        position = _optional_position(request)

        def change(current: Mindmap, updated: Mindmap) -> Payload:
            old_parent_id = tree.find(current.nodes, node_id).parent_id
            _set_nodes(updated, tree.move(current.nodes, node_id, new_parent_id, position))
            node = tree.find(updated.nodes, node_id)
            return NodeMoved(
                mindmap_id=mindmap_id, node=node, old_parent_id=old_parent_id, etag=updated.etag
            )

        mindmap = await self._write(mindmap_id, request.etag, origin_of(context), change)
        return MoveNodeResponse(node=tree.find(mindmap.nodes, node_id), mindmap=mindmap)

    @override
    @rpc
    async def DeleteNode(self, request: DeleteNodeRequest, context: Context) -> DeleteNodeResponse:
        validation.check(request, required=("mindmap_id", "node_id"))
        mindmap_id = request.mindmap_id
        node_id = request.node_id

        def change(current: Mindmap, updated: Mindmap) -> Payload:
            nodes, deleted_ids = tree.delete(current.nodes, node_id)
            _set_nodes(updated, nodes)
            return NodeDeleted(
                mindmap_id=mindmap_id,
                node_id=node_id,
                deleted_node_ids=deleted_ids,
                etag=updated.etag,
            )

        mindmap = await self._write(mindmap_id, request.etag, origin_of(context), change)
        return DeleteNodeResponse(mindmap=mindmap)

    async def _get(self, mindmap_id: str, *, with_nodes: bool) -> Mindmap:
        found = await self._store.get_mindmaps([mindmap_id], with_nodes=with_nodes)
        return reads.one(found, MINDMAP_TYPE, mindmap_id)

    async def _write(self, mindmap_id: str, etag: str, origin: Origin, change: _Change) -> Mindmap:
        """Applies `change` to the mindmap as a conditional write; returns the new version."""

        async def write(current: Mindmap) -> Mindmap:
            time = now()
            updated = Mindmap()
            updated.CopyFrom(current)
            updated.update_time.CopyFrom(time)
            updated.etag = new_etag()
            payload = change(current, updated)
            changed = event(
                payload,
                time=time,
                subject=mindmap_subject(mindmap_id),
                owner_id=current.owner_id,
                origin=origin,
            )
            await self._store.update_mindmap(updated, current.etag, changed)
            return updated

        return await conditional_write(
            resource_type=MINDMAP_TYPE,
            name=mindmap_id,
            etag=etag,
            read=lambda: self._get(mindmap_id, with_nodes=True),
            write=write,
        )


def _optional_position(request: AddNodeRequest | MoveNodeRequest) -> int | None:
    return request.position if request.HasField("position") else None


def _set_nodes(mindmap: Mindmap, nodes: list[Node]) -> None:
    del mindmap.nodes[:]
    mindmap.nodes.extend(nodes)
    mindmap.node_count = len(nodes)
