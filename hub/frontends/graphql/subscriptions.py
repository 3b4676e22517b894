"""The root `Subscription`: domain events from the hub's event bus, as typed GraphQL events.

`userEvents(userId)` streams the events of one user (about the user or their mindmaps),
`mindmapEvents(mindmapId)` those of one mindmap; both resume after `since`, the id of the
last event a client saw, with nothing missed that the bus still retains. They read the
`EventBus` protocol only (`hub/events/bus.py`). Each event is an object type per payload
(`NodeAddedEvent`, ...) implementing the `Event` interface; ids are int64 as strings.
A resume point the bus no longer holds is the error RESUME_TOO_OLD (`oldestRetained`); a
subscriber dropped as too slow ends with SLOW_CONSUMER (`lastDelivered`), from which it
can resume.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TypedDict

import strawberry
from grpc import aio

from hub.contracts.events.v1 import events_pb2
from hub.events.bus import EventFilter, ResumeTooOld, SlowConsumer
from hub.events.bus import Subscription as BusSubscription
from hub.frontends.graphql.errors import GraphQLFailure, bad_input, rpc_failure
from hub.frontends.graphql.loaders import check_id
from hub.frontends.graphql.types import Info, Mindmap, Node, Plan, User, plan_of, time_of
from hub.frontends.subscriptions import authorize
from hub.subjects import mindmap_subject


@strawberry.interface(description="A committed write, as delivered to subscribers.")
class Event:
    id: strawberry.ID = strawberry.field(description="Increasing; resume with `since`.")
    type: str = strawberry.field(description="Such as user.created or mindmap.node_added.")
    time: datetime
    subject: str = strawberry.field(description="The resource: users/{id} or mindmaps/{id}.")
    owner_id: strawberry.ID
    actor: str


@strawberry.type
class UserCreatedEvent(Event):
    user: User


@strawberry.type
class UserUpdatedEvent(Event):
    user: User
    updated_fields: list[str]
    previous_plan: Plan | None


@strawberry.type
class UserDeletedEvent(Event):
    user_id: strawberry.ID


@strawberry.type
class MindmapCreatedEvent(Event):
    mindmap: Mindmap


@strawberry.type
class MindmapUpdatedEvent(Event):
    mindmap: Mindmap
    updated_fields: list[str]


@strawberry.type
class MindmapDeletedEvent(Event):
    mindmap_id: strawberry.ID


@strawberry.type
class NodeAddedEvent(Event):
    mindmap_id: strawberry.ID
    node: Node
    etag: str


@strawberry.type
class NodeUpdatedEvent(Event):
    mindmap_id: strawberry.ID
    node: Node
    updated_fields: list[str]
    etag: str


@strawberry.type
class NodeMovedEvent(Event):
    mindmap_id: strawberry.ID
    node: Node
    old_parent_id: strawberry.ID
    etag: str


@strawberry.type
class NodeDeletedEvent(Event):
    mindmap_id: strawberry.ID
    node_id: strawberry.ID
    deleted_node_ids: list[strawberry.ID]
    etag: str


EVENT_TYPES: tuple[type[Event], ...] = (
    UserCreatedEvent,
    UserUpdatedEvent,
    UserDeletedEvent,
    MindmapCreatedEvent,
    MindmapUpdatedEvent,
    MindmapDeletedEvent,
    NodeAddedEvent,
    NodeUpdatedEvent,
    NodeMovedEvent,
    NodeDeletedEvent,
)
"""Every concrete event type (the schema lists them, since fields return the interface)."""


class _Common(TypedDict):
    id: strawberry.ID
    type: str
    time: datetime
    subject: str
    owner_id: strawberry.ID
    actor: str


def event_of(event: events_pb2.Event) -> Event:
    """The GraphQL event of a bus event (its payload picks the type)."""
    common: _Common = {
        "id": strawberry.ID(str(event.id)),
        "type": event.type,
        "time": time_of(event.time),
        "subject": event.subject,
        "owner_id": strawberry.ID(event.owner_id),
        "actor": event.actor,
    }
    match event.WhichOneof("payload"):
        case "user_created":
            return UserCreatedEvent(**common, user=User.of(event.user_created.user))
        case "user_updated":
            p = event.user_updated
            return UserUpdatedEvent(
                **common,
                user=User.of(p.user),
                updated_fields=list(p.update_mask.paths),
                previous_plan=plan_of(p.previous_plan),
            )
        case "user_deleted":
            return UserDeletedEvent(**common, user_id=strawberry.ID(event.user_deleted.user_id))
        case "mindmap_created":
            created = event.mindmap_created.mindmap
            return MindmapCreatedEvent(**common, mindmap=Mindmap.of(created, full=True))
        case "mindmap_updated":
            u = event.mindmap_updated
            return MindmapUpdatedEvent(
                **common,
                mindmap=Mindmap.of(u.mindmap, full=False),
                updated_fields=list(u.update_mask.paths),
            )
        case "mindmap_deleted":
            gone = strawberry.ID(event.mindmap_deleted.mindmap_id)
            return MindmapDeletedEvent(**common, mindmap_id=gone)
        case "node_added":
            a = event.node_added
            return NodeAddedEvent(
                **common,
                mindmap_id=strawberry.ID(a.mindmap_id),
                node=Node.of(a.node, a.mindmap_id),
                etag=a.etag,
            )
        case "node_updated":
            n = event.node_updated
            return NodeUpdatedEvent(
                **common,
                mindmap_id=strawberry.ID(n.mindmap_id),
                node=Node.of(n.node, n.mindmap_id),
                updated_fields=list(n.update_mask.paths),
                etag=n.etag,
            )
        case "node_moved":
            m = event.node_moved
            return NodeMovedEvent(
                **common,
                mindmap_id=strawberry.ID(m.mindmap_id),
                node=Node.of(m.node, m.mindmap_id),
                old_parent_id=strawberry.ID(m.old_parent_id),
                etag=m.etag,
            )
        case "node_deleted":
            d = event.node_deleted
            return NodeDeletedEvent(
                **common,
                mindmap_id=strawberry.ID(d.mindmap_id),
                node_id=strawberry.ID(d.node_id),
                deleted_node_ids=[strawberry.ID(i) for i in d.deleted_node_ids],
                etag=d.etag,
            )
        case other:
            raise ValueError(f"event {event.id} has no known payload ({other})")


def _since(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise bad_input("since", "must be an event id: digits, such as 41")
    return int(value)


async def _authorized(info: Info, event_filter: EventFilter) -> None:
    """With authentication on, whoever may read what `event_filter` follows may follow it
    (`hub.frontends.subscriptions`); else the read's failure, as a GraphQL error."""
    context = info.context
    if not context.authenticates:
        return
    try:
        await authorize(
            context.client,
            event_filter,
            metadata=context.call.metadata,
            seconds=context.call.timeout,
        )
    except aio.AioRpcError as error:
        raise rpc_failure(error) from None


def _events(info: Info, event_filter: EventFilter, since: str | None) -> AsyncGenerator[Event]:
    """The events as they come; a resume point the bus refuses fails the subscription
    before it starts (an `error` message, not a result)."""
    try:
        subscription = info.context.bus.subscribe(event_filter, _since(since))
    except ResumeTooOld as error:
        raise GraphQLFailure(
            str(error), "RESUME_TOO_OLD", oldestRetained=str(error.oldest_retained)
        ) from None
    return _delivered(subscription)


async def _delivered(subscription: BusSubscription) -> AsyncGenerator[Event]:
    try:
        async for event in subscription:
            yield event_of(event)
    except SlowConsumer as error:
        raise GraphQLFailure(
            str(error), "SLOW_CONSUMER", lastDelivered=str(error.last_delivered)
        ) from None
    finally:
        subscription.close()


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Events of one user: the user and their mindmaps.")
    async def user_events(
        self, info: Info, user_id: strawberry.ID, since: strawberry.ID | None = None
    ) -> AsyncGenerator[Event]:
        event_filter = EventFilter(owner_id=check_id("userId", user_id))
        await _authorized(info, event_filter)
        return _events(info, event_filter, since)

    @strawberry.subscription(description="Events of one mindmap and its nodes.")
    async def mindmap_events(
        self, info: Info, mindmap_id: strawberry.ID, since: strawberry.ID | None = None
    ) -> AsyncGenerator[Event]:
        event_filter = EventFilter(subject=mindmap_subject(check_id("mindmapId", mindmap_id)))
        await _authorized(info, event_filter)
        return _events(info, event_filter, since)
