"""The node tree rules (hub/backends/tree.py), as plain functions: no sockets, no storage."""

from __future__ import annotations

import random

import pytest

from hub.backends import tree
from hub.contracts.mindmap.v1.mindmap_pb2 import Node
from hub.errors import InvalidArgument, NotFound
from tests.backends.support import assert_sound_tree


def shape(nodes: list[Node]) -> list[tuple[str, str, int]]:
    """(id, parent_id, position) of each node, in list order."""
    return [(n.id, n.parent_id, n.position) for n in nodes]


def sample() -> list[Node]:
    """root → (a → (a1, a2), b); stored out of order, as a store might hand it back."""
    return [
        Node(id="a2", parent_id="a", text="a2", position=1),
        Node(id="b", parent_id="root", text="b", position=1),
        Node(id="root", parent_id="", text="root", position=0),
        Node(id="a1", parent_id="a", text="a1", position=0),
        Node(id="a", parent_id="root", text="a", position=0),
    ]


def test_new_tree_is_one_root_carrying_the_text() -> None:
    assert [("r", "", 0)] == shape(tree.new_tree("r", "Title"))
    assert "Title" == tree.new_tree("r", "Title")[0].text


def test_ordered_is_pre_order_with_siblings_by_position() -> None:
    expected = [("root", "", 0), ("a", "root", 0), ("a1", "a", 0), ("a2", "a", 1), ("b", "root", 1)]
    assert expected == shape(tree.ordered(sample()))


def test_ordered_makes_positions_dense() -> None:
    nodes = [
        Node(id="root", parent_id="", position=0),
        Node(id="x", parent_id="root", position=7),
        Node(id="y", parent_id="root", position=3),
    ]
    assert [("root", "", 0), ("y", "root", 0), ("x", "root", 1)] == shape(tree.ordered(nodes))


def test_functions_leave_their_input_untouched() -> None:
    nodes = sample()
    before = [n.SerializeToString() for n in nodes]
    tree.ordered(nodes)
    tree.add(nodes, Node(id="n", parent_id="root", text="n"), 0)
    tree.update_text(nodes, "a", "changed")
    tree.move(nodes, "b", "a1", None)
    tree.delete(nodes, "a")
    assert before == [n.SerializeToString() for n in nodes]


def test_find_unknown_node_is_not_found_naming_the_node_type() -> None:
    with pytest.raises(NotFound) as raised:
        tree.find(sample(), "nope")
    assert ("hub.mindmap.v1.Node", "nope") == (raised.value.resource_type, raised.value.name)


def test_subtree_ids_lists_the_node_and_its_descendants_in_pre_order() -> None:
    assert ["a", "a1", "a2"] == tree.subtree_ids(sample(), "a")
    assert ["b"] == tree.subtree_ids(sample(), "b")


@pytest.mark.parametrize(
    ("position", "expected_children"),
    [
        (None, ["a", "b", "n"]),
        (0, ["n", "a", "b"]),
        (1, ["a", "n", "b"]),
        (2, ["a", "b", "n"]),
        (99, ["a", "b", "n"]),  # past the last sibling: clamped to last
    ],
)
def test_add_inserts_at_the_position_among_the_new_siblings(
    position: int | None, expected_children: list[str]
) -> None:
    nodes = tree.add(sample(), Node(id="n", parent_id="root", text="n"), position)
    assert expected_children == [n.id for n in nodes if n.parent_id == "root"]
    assert_sound_tree(nodes)


def test_add_under_a_leaf_makes_it_a_parent() -> None:
    nodes = tree.add(sample(), Node(id="n", parent_id="b", text="n"), None)
    assert ("n", "b", 0) == shape(nodes)[-1]
    assert_sound_tree(nodes)


def test_add_under_an_unknown_parent_is_not_found() -> None:
    with pytest.raises(NotFound):
        tree.add(sample(), Node(id="n", parent_id="nope", text="n"), None)


def test_update_text_changes_only_that_node() -> None:
    nodes = tree.update_text(sample(), "a1", "new")
    assert ["root", "a", "new", "a2", "b"] == [n.text for n in nodes]


def test_update_text_of_an_unknown_node_is_not_found() -> None:
    with pytest.raises(NotFound):
        tree.update_text(sample(), "nope", "new")


def test_move_takes_the_subtree_along_and_closes_the_gap() -> None:
    nodes = tree.move(sample(), "a", "b", None)
    expected = [("root", "", 0), ("b", "root", 0), ("a", "b", 0), ("a1", "a", 0), ("a2", "a", 1)]
    assert expected == shape(nodes)


@pytest.mark.parametrize(
    ("position", "expected_order"),
    [(0, ["a2", "a1"]), (1, ["a1", "a2"]), (None, ["a1", "a2"]), (5, ["a1", "a2"])],
)
def test_move_within_the_same_parent_reorders(
    position: int | None, expected_order: list[str]
) -> None:
    nodes = tree.move(sample(), "a2", "a", position)
    assert expected_order == [n.id for n in nodes if n.parent_id == "a"]
    assert_sound_tree(nodes)


def test_move_the_root_is_invalid_on_node_id() -> None:
    with pytest.raises(InvalidArgument) as raised:
        tree.move(sample(), "root", "b", None)
    assert ["node_id"] == [v.field for v in raised.value.violations]


@pytest.mark.parametrize("new_parent", ["a", "a1", "a2"])
def test_move_under_itself_or_a_descendant_is_invalid_on_new_parent_id(new_parent: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        tree.move(sample(), "a", new_parent, None)
    assert ["new_parent_id"] == [v.field for v in raised.value.violations]


@pytest.mark.parametrize(("node", "parent"), [("nope", "b"), ("a", "nope")])
def test_move_with_an_unknown_node_or_parent_is_not_found(node: str, parent: str) -> None:
    with pytest.raises(NotFound) as raised:
        tree.move(sample(), node, parent, None)
    assert "nope" == raised.value.name


def test_delete_removes_the_subtree_and_closes_the_gap() -> None:
    nodes, deleted = tree.delete(sample(), "a")
    assert ["a", "a1", "a2"] == deleted
    assert [("root", "", 0), ("b", "root", 0)] == shape(nodes)


def test_delete_the_root_is_invalid_on_node_id() -> None:
    with pytest.raises(InvalidArgument) as raised:
        tree.delete(sample(), "root")
    assert ["node_id"] == [v.field for v in raised.value.violations]


def test_delete_an_unknown_node_is_not_found() -> None:
    with pytest.raises(NotFound):
        tree.delete(sample(), "nope")


def test_any_sequence_of_operations_keeps_the_tree_sound() -> None:
    """A seeded random walk of adds, moves, edits and deletes (the rejected ones included)."""
    chance = random.Random(20260101)
    nodes = tree.new_tree("root", "root")
    for step in range(500):
        ids = [n.id for n in nodes]
        target, other = chance.choice(ids), chance.choice(ids)
        position = chance.choice([None, 0, 1, 2, 50])
        operation = chance.choice(["add", "add", "move", "move", "text", "delete"])
        try:
            if operation == "add":
                nodes = tree.add(nodes, Node(id=f"n{step}", parent_id=target, text="t"), position)
            elif operation == "move":
                nodes = tree.move(nodes, target, other, position)
            elif operation == "text":
                nodes = tree.update_text(nodes, target, f"t{step}")
            else:
                nodes, _ = tree.delete(nodes, target)
        except InvalidArgument:
            pass  # moving the root or into its own subtree, deleting the root
        assert_sound_tree(nodes)
