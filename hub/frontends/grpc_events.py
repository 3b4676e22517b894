"""`hub.events.v1.EventService` on the public gRPC front end: `WatchEvents`, from the event bus.

Unlike every other RPC of the front end, `WatchEvents` is not forwarded: the events are on
the hub's `EventBus` (the relay publishes each committed outbox row there), so the front end
subscribes to it directly and streams what matches the request's filter. The request meets
its field rules (`hub.rules`, as in the protos) before anything else.

How a stream ends, besides the client cancelling (see the RPC's comment in events.proto), each
with an `ErrorInfo` (domain "hub"):

| cause                                  | gRPC code          | ErrorInfo reason: metadata    |
|----------------------------------------|--------------------|-------------------------------|
| a field breaks its rules (+BadRequest) | INVALID_ARGUMENT   | INVALID_ARGUMENT              |
| events after `since` no longer kept    | OUT_OF_RANGE       | RESUME_TOO_OLD: since,        |
|                                        |                    | oldestRetained                |
| the client fell behind and was dropped | RESOURCE_EXHAUSTED | SLOW_CONSUMER: lastDelivered  |
| the front end drains, or the bus ends  | UNAVAILABLE        | SHUTTING_DOWN                 |

A too-old resume point is OUT_OF_RANGE rather than FAILED_PRECONDITION: the request asks for a
position outside the range the bus can serve, and that range moves with time; no change of
state the client could make would let the same request succeed (gRPC's guide to the codes
gives "seek past the end" as the typical OUT_OF_RANGE, and it is Kafka's answer too).
The stream's initial metadata goes out once the subscription is registered, so that a client
that waits for it knows that every event committed from then on will reach it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TypeAlias

import grpc
from google.rpc.status_pb2 import Status
from grpc import aio

from hub.contracts.events.v1 import events_pb2, events_pb2_grpc
from hub.contracts.events.v1.events_pb2 import WatchEventsRequest, WatchEventsResponse
from hub.errors import FieldViolation
from hub.events.bus import EventBus, EventFilter, ResumeTooOld, SlowConsumer, Subscription
from hub.frontends.subscriptions import Authorizer
from hub.principal import AUTHORIZATION_KEY, PEER_KEY, peer_host
from hub.rpcstatus import STATUS_DETAILS_KEY, abort, bad_request, status
from hub.rules import check
from hub.subjects import mindmap_subject

SERVICE_NAME: str = events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name
"""`hub.events.v1.EventService`, as health and reflection name it."""


_Context: TypeAlias = aio.ServicerContext[WatchEventsRequest, WatchEventsResponse]


def event_filter(request: WatchEventsRequest) -> EventFilter:
    """The bus filter that selects what `request` asks for."""
    return EventFilter(
        owner_id=request.owner_id,
        subject=mindmap_subject(request.mindmap_id) if request.mindmap_id else "",
        types=frozenset(request.types),
    )


class EventStreams(events_pb2_grpc.EventServiceServicer):
    """The EventService servicer: one bus subscription per open `WatchEvents` call.

    `drain()` ends every open stream (UNAVAILABLE, so that clients resume elsewhere or
    later) and refuses new ones: a stream never ends by itself, so a server stopping with a
    grace period would otherwise wait all of it.
    """

    def __init__(self, bus: EventBus, *, authorizer: Authorizer | None = None) -> None:
        """`authorizer`: with authentication on, the read that lets a stream start."""
        self._bus = bus
        self._authorizer = authorizer
        self._open: set[Subscription] = set()
        self._draining = False

    async def WatchEvents(  # noqa: N802 (the RPC's name)
        self, request: WatchEventsRequest, context: _Context
    ) -> AsyncIterator[WatchEventsResponse]:
        """Streams the matching events; see the module docstring for how it ends."""
        violations = check(request)
        if violations:
            await abort(context, _invalid_argument(violations))
        if self._draining:
            await abort(context, _shutting_down())
        wanted = event_filter(request)
        if self._authorizer is not None:
            await _authorize(self._authorizer, wanted, context)
        since = request.since if request.HasField("since") else None
        try:
            subscription = self._bus.subscribe(wanted, since)
        except ResumeTooOld as error:
            await abort(context, _resume_too_old(error))
        self._open.add(subscription)
        try:
            await context.send_initial_metadata(())
            async for event in subscription:
                yield WatchEventsResponse(event=event)
        except SlowConsumer as error:
            await abort(context, _slow_consumer(error))
        finally:
            self._open.discard(subscription)
            subscription.close()
        await abort(context, _shutting_down())

    def drain(self) -> None:
        """Ends every open stream with UNAVAILABLE and refuses new ones from now on."""
        self._draining = True
        for subscription in list(self._open):
            subscription.close()


async def _authorize(authorizer: Authorizer, wanted: EventFilter, context: _Context) -> None:
    """Lets the stream start if the caller may read what it follows; else ends the call
    with the read's status, details included (`hub.frontends.subscriptions`)."""
    metadata = [
        (key, value)
        for key, value in context.invocation_metadata() or ()
        if key == AUTHORIZATION_KEY and isinstance(value, str)
    ]
    metadata.append((PEER_KEY, peer_host(context.peer())))
    try:
        await authorizer(wanted, metadata=metadata)
    except aio.AioRpcError as refused:
        details = [
            (key, value)
            for key, value in refused.trailing_metadata() or ()
            if key == STATUS_DETAILS_KEY
        ]
        await context.abort(refused.code(), refused.details() or "", tuple(details))


def _invalid_argument(violations: Sequence[FieldViolation]) -> Status:
    fields = ", ".join(violation.field for violation in violations)
    return status(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"invalid request: {fields}",
        "INVALID_ARGUMENT",
        details=[bad_request(violations)],
    )


def _resume_too_old(error: ResumeTooOld) -> Status:
    return status(
        grpc.StatusCode.OUT_OF_RANGE,
        str(error),
        "RESUME_TOO_OLD",
        metadata={"since": str(error.since), "oldestRetained": str(error.oldest_retained)},
    )


def _slow_consumer(error: SlowConsumer) -> Status:
    return status(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        str(error),
        "SLOW_CONSUMER",
        metadata={"lastDelivered": str(error.last_delivered)},
    )


def _shutting_down() -> Status:
    return status(
        grpc.StatusCode.UNAVAILABLE,
        "the hub is shutting down; watch again, from the last event id received",
        "SHUTTING_DOWN",
    )
