"""The domain event of a write, built by the backend and committed by the store with it.

`Origin` is who made the write and under which trace: the principal from the request's
gRPC metadata (`hub.principal`: set by the gateway after authentication, which strips any
`x-hub-*` a client sends), and the W3C `traceparent` of the backend's own server span when
tracing is on (so that a delivery can link to the write), else the one in the metadata.
`event` builds the
`hub.events.v1.Event`, deriving its type from the payload so the two cannot disagree.
The store assigns the event id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias, assert_never

from google.protobuf.timestamp_pb2 import Timestamp

from hub.backends.status import Context
from hub.contracts.events.v1.events_pb2 import (
    Event,
    MindmapCreated,
    MindmapDeleted,
    MindmapUpdated,
    NodeAdded,
    NodeDeleted,
    NodeMoved,
    NodeUpdated,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from hub.observability.tracing import current_traceparent
from hub.principal import Principal, principal_from

TRACEPARENT_KEY = "traceparent"

Payload: TypeAlias = (
    UserCreated
    | UserUpdated
    | UserDeleted
    | MindmapCreated
    | MindmapUpdated
    | MindmapDeleted
    | NodeAdded
    | NodeUpdated
    | NodeMoved
    | NodeDeleted
)


@dataclass(frozen=True)
class Origin:
    """Who made a call (`principal`, None when anonymous) and its W3C `traceparent` ("" if
    none)."""

    principal: Principal | None = None
    traceparent: str = ""

    @property
    def actor(self) -> str:
        """The principal's subject, "" when anonymous: the `actor` of the call's events."""
        return "" if self.principal is None else self.principal.subject


def origin_of(context: Context) -> Origin:
    """The origin of the call whose servicer context is `context`."""
    metadata = context.invocation_metadata() or ()
    traceparent = current_traceparent() or dict(metadata).get(TRACEPARENT_KEY, "")
    return Origin(
        principal=principal_from(metadata),
        traceparent=traceparent if isinstance(traceparent, str) else "",
    )


def event(
    payload: Payload, *, time: Timestamp, subject: str, owner_id: str, origin: Origin
) -> Event:
    """The event of one committed write: `time` is the write's commit (update) time."""
    built = Event(
        type=event_type(payload),
        time=time,
        subject=subject,
        owner_id=owner_id,
        actor=origin.actor,
        traceparent=origin.traceparent,
    )
    for field in Event.DESCRIPTOR.oneofs_by_name["payload"].fields:
        if field.message_type is payload.DESCRIPTOR:
            getattr(built, field.name).CopyFrom(payload)
    return built


def event_type(payload: Payload) -> str:
    """The dotted type that names `payload`, e.g. `mindmap.node_moved`."""
    match payload:
        case UserCreated():
            return "user.created"
        case UserUpdated():
            return "user.updated"
        case UserDeleted():
            return "user.deleted"
        case MindmapCreated():
            return "mindmap.created"
        case MindmapUpdated():
            return "mindmap.updated"
        case MindmapDeleted():
            return "mindmap.deleted"
        case NodeAdded():
            return "mindmap.node_added"
        case NodeUpdated():
            return "mindmap.node_updated"
        case NodeMoved():
            return "mindmap.node_moved"
        case NodeDeleted():
            return "mindmap.node_deleted"
        case _:
            assert_never(payload)
