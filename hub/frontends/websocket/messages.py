"""The messages of the `/ws` protocol: their JSON Schemas, reading the client's, writing the hub's.

Every message is one JSON object in one text frame, with a `type`. The schemas below are
the one definition of the protocol: the AsyncAPI document (`asyncapi.py`) publishes them,
and `read_client_message` validates what a client sends against them, so what the document
accepts and what the hub accepts cannot differ.

Client → hub: `subscribe {id, channel: "user"|"mindmap", userId|mindmapId, since?}`,
`unsubscribe {id}`, `ping`. Hub → client: `subscribed {id, resumedFrom?}`,
`unsubscribed {id}`, `event {subscription, event}` (the proto3 JSON form of
`hub.events.v1.Event`: lowerCamelCase names, int64 as strings), `error {code, message,
subscription?}`, `pong`. A message the hub cannot use is answered with an `error`; the
connection stays open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jsonschema_rs

from hub.events.bus import EventFilter
from hub.frontends.rest.jsonforms import integer_pattern
from hub.subjects import mindmap_subject

EVENT_SCHEMA_REF = "#/components/schemas/hub.events.v1.Event"
"""Where the `event` message's payload finds the Event's schema (generated from the proto)."""

_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "description": "Chosen by the client; names the subscription in the hub's messages.",
}
_LARGEST_ID = 2**63 - 1
_EVENT_ID = {
    "type": "string",
    "pattern": integer_pattern(0, _LARGEST_ID),
    "description": "An event id (int64, written as a decimal string as in the proto3 JSON form).",
}
_RESOURCE_ID = {"type": "string", "minLength": 1, "maxLength": 128}


class Channel(StrEnum):
    """What a subscription follows."""

    USER = "user"
    """Every event of one user: about the user and about each of their mindmaps."""
    MINDMAP = "mindmap"
    """Every event of one mindmap."""


class ErrorCode(StrEnum):
    """The `code` of an `error` message."""

    INVALID_JSON = "INVALID_JSON"
    """The text frame is not JSON."""
    INVALID_MESSAGE = "INVALID_MESSAGE"
    """The JSON does not match the schema of its message type."""
    UNKNOWN_MESSAGE_TYPE = "UNKNOWN_MESSAGE_TYPE"
    """`type` is missing or not a client message type."""
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    """A subscribe's `channel` is not one of the channels."""
    DUPLICATE_SUBSCRIPTION = "DUPLICATE_SUBSCRIPTION"
    """A subscribe's `id` is taken by an active subscription of this connection."""
    UNKNOWN_SUBSCRIPTION = "UNKNOWN_SUBSCRIPTION"
    """An unsubscribe names no active subscription."""
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    """The connection holds as many subscriptions as it may."""
    RESUME_TOO_OLD = "RESUME_TOO_OLD"
    """The events after `since` are no longer retained: subscribe again without `since`."""
    SLOW_CONSUMER = "SLOW_CONSUMER"
    """The client fell too far behind; the hub closes the connection (4000) next."""
    UNAVAILABLE = "UNAVAILABLE"
    """The hub is shutting down and takes no new subscription, or a backend cannot answer."""
    UNAUTHENTICATED = "UNAUTHENTICATED"
    """Authentication is on and the handshake carried no good credentials (`Authorization`
    header, or `access_token` query parameter); the hub closes the connection (4401) next."""
    FORBIDDEN = "FORBIDDEN"
    """The caller may not read, so may not follow, the user or mindmap subscribed to."""
    NOT_FOUND = "NOT_FOUND"
    """With authentication on: the user or mindmap subscribed to does not exist."""
    RATE_LIMITED = "RATE_LIMITED"
    """The caller's rate limit is reached; subscribe again later."""


CLIENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "subscribe": {
        "type": "object",
        "description": (
            "Starts a subscription. With `since` (the id of the last event the client saw), "
            "the retained events after it come first, then live ones, with no gap and no "
            "duplicate; an error RESUME_TOO_OLD says they are no longer all retained."
        ),
        "properties": {
            "type": {"const": "subscribe"},
            "id": _ID,
            "channel": {"enum": [channel.value for channel in Channel]},
            "userId": {**_RESOURCE_ID, "description": "The user, for channel `user`."},
            "mindmapId": {**_RESOURCE_ID, "description": "The mindmap, for channel `mindmap`."},
            "since": {
                "type": ["string", "integer"],
                "minimum": 0,
                "maximum": _LARGEST_ID,
                "pattern": _EVENT_ID["pattern"],
                "description": "Resume after this event id (a decimal string or an integer).",
            },
        },
        "required": ["type", "id", "channel"],
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"channel": {"const": Channel.USER.value}}},
                "then": {"required": ["userId"], "not": {"required": ["mindmapId"]}},
            },
            {
                "if": {"properties": {"channel": {"const": Channel.MINDMAP.value}}},
                "then": {"required": ["mindmapId"], "not": {"required": ["userId"]}},
            },
        ],
    },
    "unsubscribe": {
        "type": "object",
        "description": "Ends a subscription; no event of it follows the `unsubscribed` answer.",
        "properties": {"type": {"const": "unsubscribe"}, "id": _ID},
        "required": ["type", "id"],
        "additionalProperties": False,
    },
    "ping": {
        "type": "object",
        "description": "Asks for a `pong` (an application-level heartbeat).",
        "properties": {"type": {"const": "ping"}},
        "required": ["type"],
        "additionalProperties": False,
    },
}
"""The schema of each client message, by its `type` (the hub validates with `jsonschema_rs`:
compiled, and it keeps nothing per message)."""

SERVER_SCHEMAS: dict[str, dict[str, Any]] = {
    "subscribed": {
        "type": "object",
        "description": "The subscription is active; its events follow.",
        "properties": {
            "type": {"const": "subscribed"},
            "id": _ID,
            "resumedFrom": {
                **_EVENT_ID,
                "description": "The `since` of the subscribe, when it resumes.",
            },
        },
        "required": ["type", "id"],
        "additionalProperties": False,
    },
    "unsubscribed": {
        "type": "object",
        "description": "The subscription has ended.",
        "properties": {"type": {"const": "unsubscribed"}, "id": _ID},
        "required": ["type", "id"],
        "additionalProperties": False,
    },
    "event": {
        "type": "object",
        "description": "A committed event that a subscription matches, in id order, once.",
        "properties": {
            "type": {"const": "event"},
            "subscription": {**_ID, "description": "The `id` of the subscription."},
            "event": {"$ref": EVENT_SCHEMA_REF},
        },
        "required": ["type", "subscription", "event"],
        "additionalProperties": False,
    },
    "error": {
        "type": "object",
        "description": (
            "A client message could not be used, or a subscription ended abnormally. The "
            "connection stays open, except after SLOW_CONSUMER."
        ),
        "properties": {
            "type": {"const": "error"},
            "code": {"enum": [code.value for code in ErrorCode]},
            "message": {"type": "string", "description": "What went wrong, for people."},
            "subscription": {**_ID, "description": "The subscription concerned, if any."},
        },
        "required": ["type", "code", "message"],
        "additionalProperties": False,
    },
    "pong": {
        "type": "object",
        "description": "The answer to a `ping`.",
        "properties": {"type": {"const": "pong"}},
        "required": ["type"],
        "additionalProperties": False,
    },
}
"""The schema of each message the hub sends, by its `type`."""


@dataclass(frozen=True)
class Subscribe:
    """A client's `subscribe`."""

    id: str
    event_filter: EventFilter
    since: int | None


@dataclass(frozen=True)
class Unsubscribe:
    """A client's `unsubscribe`."""

    id: str


@dataclass(frozen=True)
class Ping:
    """A client's `ping`."""


ClientMessage = Subscribe | Unsubscribe | Ping


class ClientError(Exception):
    """A client message the hub cannot use: answered with an `error`, nothing else happens."""

    def __init__(self, code: ErrorCode, message: str, subscription: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subscription = subscription

    def text(self) -> str:
        """The `error` message."""
        return error_text(self.code, self.message, self.subscription)


class ClientMessages:
    """Reads client messages with validators compiled once."""

    def __init__(self) -> None:
        self._validators = {
            kind: jsonschema_rs.Draft202012Validator(schema)
            for kind, schema in CLIENT_SCHEMAS.items()
        }
        self._id = jsonschema_rs.Draft202012Validator(_ID)
        """Whether a client's `id` can name the subscription in an `error`."""

    def read(self, text: str) -> ClientMessage:
        """The message in `text`; `ClientError` saying why it cannot be used."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ClientError(ErrorCode.INVALID_JSON, f"the message is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise ClientError(ErrorCode.INVALID_MESSAGE, "a message is a JSON object")
        kind = data.get("type")
        validator = self._validators.get(kind) if isinstance(kind, str) else None
        if validator is None:
            known = ", ".join(CLIENT_SCHEMAS)
            raise ClientError(
                ErrorCode.UNKNOWN_MESSAGE_TYPE,
                f"unknown message type {kind!r}; the client sends one of: {known}",
            )
        named = data.get("id")
        subscription = named if self._id.is_valid(named) else None
        channel = data.get("channel")
        if kind == "subscribe" and channel not in {c.value for c in Channel}:
            known = ", ".join(c.value for c in Channel)
            raise ClientError(
                ErrorCode.UNKNOWN_CHANNEL,
                f"unknown channel {channel!r}; the channels are: {known}",
                subscription,
            )
        problems = list(validator.iter_errors(data))
        if problems:
            said = "; ".join(_describe(problem) for problem in problems)
            raise ClientError(ErrorCode.INVALID_MESSAGE, f"invalid {kind}: {said}", subscription)
        if kind == "unsubscribe":
            return Unsubscribe(data["id"])
        if kind == "ping":
            return Ping()
        since = data.get("since")
        return Subscribe(data["id"], _filter(data), None if since is None else int(since))


def _filter(subscribe: dict[str, Any]) -> EventFilter:
    if subscribe["channel"] == Channel.USER.value:
        return EventFilter(owner_id=subscribe["userId"])
    return EventFilter(subject=mindmap_subject(subscribe["mindmapId"]))


def _describe(problem: jsonschema_rs.ValidationError) -> str:
    where = ".".join(str(part) for part in problem.instance_path)
    if where == "since":  # its pattern, spelt out, would say nothing to a person
        return f"since: must be an event id, an integer from 0 to {_LARGEST_ID}"
    return f"{where}: {problem.message}" if where else problem.message


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def subscribed_text(subscription: str, resumed_from: int | None) -> str:
    """The `subscribed` message."""
    message = {"type": "subscribed", "id": subscription}
    if resumed_from is not None:
        message["resumedFrom"] = str(resumed_from)
    return _text(message)


def unsubscribed_text(subscription: str) -> str:
    """The `unsubscribed` message."""
    return _text({"type": "unsubscribed", "id": subscription})


def error_text(code: ErrorCode, message: str, subscription: str | None = None) -> str:
    """An `error` message."""
    error = {"type": "error", "code": code.value, "message": message}
    if subscription is not None:
        error["subscription"] = subscription
    return _text(error)


PONG_TEXT = _text({"type": "pong"})


def event_text(subscription_json: str, event_json: str) -> str:
    """An `event` message from the JSON of the subscription's id and of the event, both
    written once (an event goes to many subscriptions, a subscription gets many events)."""
    return '{"type":"event","subscription":' + subscription_json + ',"event":' + event_json + "}"


def json_string(value: str) -> str:
    """`value` as a JSON string."""
    return json.dumps(value, ensure_ascii=False)
