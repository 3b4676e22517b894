"""What every `Store` implementation shares: messages ↔ table rows, and what a violated
constraint means in domain terms.

A row is a mapping from column name to a plain value (str, int, bytes), so the SQLite store
and the PostgreSQL store bind and read the same dictionaries with their own SQL:
- times are integer nanoseconds since the epoch: they round-trip a `Timestamp` exactly;
- `email_key` is the lower-cased email, the column that makes emails unique ignoring case;
- a mindmap's nodes are one JSON array of `{"id", "parent_id", "text", "position"}`
  objects in tree order (readable by an operator, a JSONB value in PostgreSQL), and
  `node_count` is derived from them, so a summary read need not parse the array.
- an outbox row holds the event serialized without its id; the store's key is the id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap, Node
from hub.contracts.user.v1.user_pb2 import User
from hub.errors import Aborted, AlreadyExists, FailedPrecondition, NotFound
from hub.subjects import user_subject

USER_TYPE = User.DESCRIPTOR.full_name
MINDMAP_TYPE = Mindmap.DESCRIPTOR.full_name


def email_key(email: str) -> str:
    """The form emails are compared in: two users may not share it."""
    return email.lower()


# Users -----------------------------------------------------------------------------------


def user_to_row(user: User) -> dict[str, Any]:
    """The column values of `user` (all columns but `seq`)."""
    return {
        "id": user.id,
        "email": user.email,
        "email_key": email_key(user.email),
        "display_name": user.display_name,
        "plan": int(user.plan),
        "create_time_ns": user.create_time.ToNanoseconds(),
        "update_time_ns": user.update_time.ToNanoseconds(),
        "etag": user.etag,
    }


def user_from_row(row: Mapping[str, Any]) -> User:
    """The user stored in `row` (the columns of `user_to_row`; `email_key` is not needed)."""
    user = User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        plan=row["plan"],
        etag=row["etag"],
    )
    user.create_time.FromNanoseconds(row["create_time_ns"])
    user.update_time.FromNanoseconds(row["update_time_ns"])
    return user


# Mindmaps --------------------------------------------------------------------------------


def nodes_to_json(nodes: Sequence[Node]) -> str:
    """The JSON array that stores `nodes`, in their order."""
    return json.dumps(
        [
            {"id": n.id, "parent_id": n.parent_id, "text": n.text, "position": n.position}
            for n in nodes
        ],
        ensure_ascii=False,
    )


def nodes_from_json(text: str) -> list[Node]:
    """The nodes stored by `nodes_to_json`, in the same order."""
    return [
        Node(id=n["id"], parent_id=n["parent_id"], text=n["text"], position=n["position"])
        for n in json.loads(text)
    ]


def mindmap_to_row(mindmap: Mindmap) -> dict[str, Any]:
    """The column values of `mindmap` (all columns but `seq`); `node_count` counts its nodes."""
    return {
        "id": mindmap.id,
        "owner_id": mindmap.owner_id,
        "title": mindmap.title,
        "description": mindmap.description,
        "nodes": nodes_to_json(mindmap.nodes),
        "node_count": len(mindmap.nodes),
        "create_time_ns": mindmap.create_time.ToNanoseconds(),
        "update_time_ns": mindmap.update_time.ToNanoseconds(),
        "etag": mindmap.etag,
    }


def mindmap_from_row(row: Mapping[str, Any]) -> Mindmap:
    """The mindmap stored in `row`; its nodes only if the row has the `nodes` column (summary
    reads leave it out and rely on `node_count`)."""
    mindmap = Mindmap(
        id=row["id"],
        owner_id=row["owner_id"],
        title=row["title"],
        description=row["description"],
        node_count=row["node_count"],
        etag=row["etag"],
    )
    if "nodes" in row:
        mindmap.nodes.extend(nodes_from_json(row["nodes"]))
    mindmap.create_time.FromNanoseconds(row["create_time_ns"])
    mindmap.update_time.FromNanoseconds(row["update_time_ns"])
    return mindmap


# Outbox ----------------------------------------------------------------------------------


def event_to_row(event: Event) -> dict[str, Any]:
    """The outbox columns of `event` (all but `id`, which the store assigns)."""
    stored = Event()
    stored.CopyFrom(event)
    stored.ClearField("id")
    return {
        "type": event.type,
        "subject": event.subject,
        "owner_id": event.owner_id,
        "time_ns": event.time.ToNanoseconds(),
        "event": stored.SerializeToString(deterministic=True),
    }


def event_from_row(row: Mapping[str, Any]) -> Event:
    """The event stored in outbox `row` (columns `id` and `event`), with its id set."""
    event = Event.FromString(row["event"])
    event.id = row["id"]
    return event


# Constraint violations -------------------------------------------------------------------


def email_taken(email: str) -> AlreadyExists:
    """A user with this email (ignoring case) exists already."""
    return AlreadyExists(
        USER_TYPE, email, f"a user with email {email!r} exists already", reason="EMAIL_TAKEN"
    )


def owner_not_found(owner_id: str) -> NotFound:
    """A mindmap names an owner that is not a user: the parent of a create is missing, which
    is NOT_FOUND (AIP-133), naming the user."""
    return NotFound(USER_TYPE, owner_id, reason="OWNER_NOT_FOUND")


def user_has_mindmaps(user_id: str) -> FailedPrecondition:
    """A user cannot be deleted while it owns mindmaps."""
    return FailedPrecondition(
        user_subject(user_id),
        f"user {user_id!r} owns mindmaps; delete them first",
        reason="USER_HAS_MINDMAPS",
    )


def swap_refused(found: bool, resource_type: str, resource_id: str) -> NotFound | Aborted:
    """Why a compare-and-swap on a row's etag changed nothing: the row is gone (`NotFound`),
    or it is there with another etag (`Aborted`). `found`: whether the row exists."""
    if found:
        return Aborted(resource_type, resource_id)
    return NotFound(resource_type, resource_id)
