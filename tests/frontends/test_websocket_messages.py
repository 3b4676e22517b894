"""The `/ws` protocol without a socket: reading client messages into subscriptions, and the
event JSON the hub writes (the proto3 JSON form)."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from hub.config import WebSocket
from hub.contracts.events.v1.events_pb2 import Event, NodeDeleted
from hub.events.bus import EventFilter
from hub.events.memory import MemoryEventBus
from hub.frontends.websocket.endpoint import WebSocketEndpoint
from hub.frontends.websocket.messages import (
    ClientError,
    ClientMessages,
    ErrorCode,
    Ping,
    Subscribe,
    Unsubscribe,
)
from tests.frontends.wsclient import check_contract


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"type": "subscribe", "id": "a", "channel": "user", "userId": "u1"}',
            Subscribe("a", EventFilter(owner_id="u1"), None),
        ),
        (
            '{"type": "subscribe", "id": "a", "channel": "mindmap", "mindmapId": "m1", '
            '"since": "9007199254740993"}',
            Subscribe("a", EventFilter(subject="mindmaps/m1"), 9007199254740993),
        ),
        (
            '{"type": "subscribe", "id": "a", "channel": "user", "userId": "u1", "since": 0}',
            Subscribe("a", EventFilter(owner_id="u1"), 0),
        ),
        ('{"type": "unsubscribe", "id": "a"}', Unsubscribe("a")),
        ('{"type": "ping"}', Ping()),
    ],
)
def test_client_messages_are_read(text: str, expected: object) -> None:
    """Channels become bus filters; `since` may be a decimal string (int64 in proto3 JSON)
    or an integer."""
    assert expected == ClientMessages().read(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", ErrorCode.INVALID_JSON),
        ('"ping"', ErrorCode.INVALID_MESSAGE),
        ('{"type": 1}', ErrorCode.UNKNOWN_MESSAGE_TYPE),
        ('{"type": "subscribe", "id": "a", "channel": null}', ErrorCode.UNKNOWN_CHANNEL),
        (
            '{"type": "subscribe", "id": "a", "channel": "user", "userId": "u", '
            '"since": "9223372036854775808"}',
            ErrorCode.INVALID_MESSAGE,
        ),
        (
            '{"type": "subscribe", "id": "a", "channel": "user", "userId": "u", "since": 1.5}',
            ErrorCode.INVALID_MESSAGE,
        ),
    ],
)
def test_unusable_messages_are_refused_with_a_code(text: str, code: ErrorCode) -> None:
    """The refusal names its reason; its `error` message is valid for the document."""
    with pytest.raises(ClientError) as refused:
        ClientMessages().read(text)

    assert code == refused.value.code
    check_contract(json.loads(refused.value.text()))


def test_the_event_json_is_the_proto3_json_form() -> None:
    """What `event` messages carry equals json_format's proto3 JSON (int64 as strings,
    lowerCamelCase names, fields without presence always written)."""
    bus = MemoryEventBus(retention_count=1, retention_seconds=1, subscriber_queue=1)
    endpoint = WebSocketEndpoint(bus, WebSocket())
    event = Event(
        id=2**60,
        type="mindmap.node_deleted",
        time=Timestamp(seconds=1_800_000_000, nanos=5),
        subject="mindmaps/m",
        owner_id="u",
        node_deleted=NodeDeleted(mindmap_id="m", node_id="n", deleted_node_ids=["n", "c"]),
    )

    assert json_format.MessageToDict(
        event, always_print_fields_with_no_presence=True
    ) == json.loads(endpoint.event_json(event))
