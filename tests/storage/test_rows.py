"""The row mapping every store shares (hub/storage/rows.py), tested without a database."""

from __future__ import annotations

import json

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import Node
from hub.storage import rows
from tests.storage.messages import new_id, new_mindmap, new_user, user_event


def test_nodes_json_is_an_array_of_plain_objects_in_tree_order() -> None:
    nodes = [Node(id="r", parent_id="", text="Root", position=0)]
    nodes.append(Node(id="c", parent_id="r", text="Ünïcode ✓", position=0))
    expected = [
        {"id": "r", "parent_id": "", "text": "Root", "position": 0},
        {"id": "c", "parent_id": "r", "text": "Ünïcode ✓", "position": 0},
    ]
    stored = rows.nodes_to_json(nodes)
    assert expected == json.loads(stored)
    assert "Ünïcode ✓" in stored
    assert nodes == rows.nodes_from_json(stored)


def test_mindmap_row_counts_its_nodes() -> None:
    mindmap = new_mindmap(new_id())
    mindmap.node_count = 0
    row = rows.mindmap_to_row(mindmap)
    assert len(mindmap.nodes) == row["node_count"]
    assert list(mindmap.nodes) == list(rows.mindmap_from_row(row).nodes)


def test_user_row_keys_the_email_in_lower_case() -> None:
    user = new_user("Ada.Lovelace@Example.COM")
    row = rows.user_to_row(user)
    assert (
        row["email"],
        row["email_key"],
    ) == ("Ada.Lovelace@Example.COM", "ada.lovelace@example.com")
    assert user == rows.user_from_row(row)


def test_outbox_row_stores_the_event_without_its_id() -> None:
    event = user_event("created", new_user())
    event.id = 41
    row = rows.event_to_row(event)
    assert Event.FromString(row["event"]).id == 0
    assert (event.type, event.subject, event.owner_id, event.time.ToNanoseconds()) == (
        row["type"],
        row["subject"],
        row["owner_id"],
        row["time_ns"],
    )
    event.id = 7
    assert event == rows.event_from_row({**row, "id": 7})
