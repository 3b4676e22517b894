"""What an event or an error is about, named once: `users/{id}` and `mindmaps/{id}`.

Backends stamp these on events (`Event.subject`) and on some errors, and subscribers'
filters compare against them (WebSocket channels, gRPC `WatchEvents`); one definition keeps
them from drifting apart. Imports nothing, so every layer may use it.
"""

from __future__ import annotations


def user_subject(user_id: str) -> str:
    """The subject of a user and of events about it."""
    return f"users/{user_id}"


def mindmap_subject(mindmap_id: str) -> str:
    """The subject of a mindmap and of events about it or its nodes."""
    return f"mindmaps/{mindmap_id}"


def collection_of(subject: str) -> str:
    """The kind of a subject: `users` or `mindmaps` (the tag of every list of them)."""
    return subject.split("/", 1)[0]


def resource_id_of(subject: str) -> str:
    """The id part of a subject: `mindmaps/m1` -> `m1`."""
    return subject.split("/", 1)[1] if "/" in subject else ""
