"""The rules of a mindmap's node tree, as plain functions on lists of `Node`.

A tree is stored flat: each node names its parent (the root has parent_id ""), and its
position among its siblings. Every function here takes such a list, leaves it untouched, and
returns a new one in canonical form (see `ordered`), so that the rules are tested without
sockets or storage:
- exactly one root; it cannot be moved or deleted;
- positions are dense, 0..n-1 among the children of each parent;
- the list is pre-order: parents before children, siblings by position;
- a position past the last sibling means "last" (clamped); positions are never negative
  (the field rule `gte: 0` of the request's position rejects those before);
- a node cannot move under itself or one of its descendants, and deleting a node deletes
  its subtree.

Unknown node ids raise `NotFound` (resource type `hub.mindmap.v1.Node`); rule breaks raise
`InvalidArgument` on the request field that caused them (`node_id`, `new_parent_id`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hub.contracts.mindmap.v1.mindmap_pb2 import Node
from hub.errors import FieldViolation, InvalidArgument, NotFound

NODE_TYPE = "hub.mindmap.v1.Node"

_Children = dict[str, list[Node]]


def new_tree(root_id: str, text: str) -> list[Node]:
    """The tree of a new mindmap: its root alone."""
    return [Node(id=root_id, parent_id="", text=text, position=0)]


def ordered(nodes: Iterable[Node]) -> list[Node]:
    """The canonical form: pre-order, siblings by position, positions renumbered densely."""
    return _flatten(_children(nodes))


def find(nodes: Iterable[Node], node_id: str) -> Node:
    """The node with `node_id`; `NotFound` if there is none."""
    for node in nodes:
        if node.id == node_id:
            return node
    raise NotFound(NODE_TYPE, node_id)


def root(nodes: Iterable[Node]) -> Node:
    """The root: the one node without a parent."""
    for node in nodes:
        if not node.parent_id:
            return node
    raise ValueError("a mindmap without a root node")  # the store never holds one


def subtree_ids(nodes: Iterable[Node], node_id: str) -> list[str]:
    """`node_id` and the ids of all its descendants, in pre-order."""
    children = _children(nodes)
    ids: list[str] = []
    stack = [node_id]
    while stack:
        current = stack.pop()
        ids.append(current)
        stack.extend(child.id for child in reversed(children.get(current, [])))
    return ids


def add(nodes: Sequence[Node], node: Node, position: int | None) -> list[Node]:
    """Adds `node` (id, parent_id and text set) under its parent at `position`."""
    find(nodes, node.parent_id)
    children = _children(nodes)
    added = Node()
    added.CopyFrom(node)
    _insert(children.setdefault(node.parent_id, []), added, position)
    return _flatten(children)


def update_text(nodes: Sequence[Node], node_id: str, text: str) -> list[Node]:
    """Sets the text of the node `node_id`."""
    find(nodes, node_id)
    changed = ordered(nodes)
    find(changed, node_id).text = text
    return changed


def move(
    nodes: Sequence[Node], node_id: str, new_parent_id: str, position: int | None
) -> list[Node]:
    """Moves the node `node_id`, with its subtree, under `new_parent_id` at `position`
    (counted among the new siblings, the moved node not included)."""
    node = find(nodes, node_id)
    find(nodes, new_parent_id)
    if not node.parent_id:
        raise InvalidArgument([FieldViolation("node_id", "the root node cannot be moved")])
    if new_parent_id in subtree_ids(nodes, node_id):
        raise InvalidArgument(
            [
                FieldViolation(
                    "new_parent_id", "must be neither the node itself nor one of its descendants"
                )
            ]
        )
    children = _children(nodes)
    old_siblings = children[node.parent_id]
    moved = next(sibling for sibling in old_siblings if sibling.id == node_id)
    old_siblings.remove(moved)
    moved.parent_id = new_parent_id
    _insert(children.setdefault(new_parent_id, []), moved, position)
    return _flatten(children)


def delete(nodes: Sequence[Node], node_id: str) -> tuple[list[Node], list[str]]:
    """Deletes the node `node_id` and its subtree; returns the tree and the deleted ids."""
    node = find(nodes, node_id)
    if not node.parent_id:
        raise InvalidArgument([FieldViolation("node_id", "the root node cannot be deleted")])
    deleted = subtree_ids(nodes, node_id)
    gone = set(deleted)
    return ordered(n for n in nodes if n.id not in gone), deleted


def _children(nodes: Iterable[Node]) -> _Children:
    """Copies of `nodes` grouped by parent id, each group sorted by position (stable)."""
    children: _Children = {}
    for node in sorted(nodes, key=lambda n: n.position):
        copy = Node()
        copy.CopyFrom(node)
        children.setdefault(node.parent_id, []).append(copy)
    return children


def _insert(siblings: list[Node], node: Node, position: int | None) -> None:
    index = len(siblings) if position is None else min(position, len(siblings))
    siblings.insert(index, node)


def _flatten(children: _Children) -> list[Node]:
    """Pre-order from the root, with dense positions; drops nothing of a sound tree."""
    for siblings in children.values():
        for index, sibling in enumerate(siblings):
            sibling.position = index
    result: list[Node] = []
    stack = list(reversed(children.get("", [])))
    while stack:
        node = stack.pop()
        result.append(node)
        stack.extend(reversed(children.get(node.id, [])))
    return result
