"""Who may follow which events: decided by the backends, through one read.

An event subscription (a `/ws` subscribe, a gRPC `WatchEvents` stream, a GraphQL
subscription) is allowed exactly when the caller may read what it follows, so before it
starts, the front end makes that read through the `BackendClient`, with the caller's
credentials: the gateway's policies authenticate and rate-limit it like any call, and the
backend authorizes it (`hub.backends.access`). A failure is the read's `AioRpcError`, which
each front end words in its own terms.

| the subscription follows           | the read                                   |
|------------------------------------|--------------------------------------------|
| one mindmap (`subject` mindmaps/…) | `GetMindmap(id, BASIC)`                    |
| one user (`owner_id`, or `subject` users/…) | `GetUser(id)`                     |
| every event                        | `ListUsers(page_size=1)`: admins only      |

Used only when authentication is on: without it, nobody is anybody and anyone may follow
anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Protocol

from hub.client import BackendClient
from hub.contracts.mindmap.v1.mindmap_pb2 import GetMindmapRequest, MindmapView
from hub.contracts.user.v1.user_pb2 import GetUserRequest, ListUsersRequest
from hub.events.bus import EventFilter
from hub.subjects import collection_of, resource_id_of

Metadata = Sequence[tuple[str, str]]


class Authorizer(Protocol):
    """`authorize` bound to a client and a deadline: the read that decides whether a
    subscription to `event_filter` may start; raises the read's `AioRpcError` when not."""

    def __call__(self, event_filter: EventFilter, *, metadata: Metadata) -> Awaitable[None]: ...


async def authorize(
    client: BackendClient, event_filter: EventFilter, *, metadata: Metadata, seconds: float
) -> None:
    """Makes the read that decides whether the caller may follow `event_filter`; raises its
    `grpc.aio.AioRpcError` when not. `seconds`: the read's deadline."""
    subject = event_filter.subject
    if subject and collection_of(subject) == "mindmaps":
        request = GetMindmapRequest(id=resource_id_of(subject), view=MindmapView.MINDMAP_VIEW_BASIC)
        await client.mindmaps.GetMindmap(request, metadata=metadata, timeout=seconds)
    elif subject or event_filter.owner_id:
        user_id = resource_id_of(subject) if subject else event_filter.owner_id
        await client.users.GetUser(GetUserRequest(id=user_id), metadata=metadata, timeout=seconds)
    else:
        await client.users.ListUsers(
            ListUsersRequest(page_size=1), metadata=metadata, timeout=seconds
        )
