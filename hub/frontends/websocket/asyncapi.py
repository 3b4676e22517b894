"""The AsyncAPI 3.0 document of `/ws`, committed as `asyncapi/hub.yaml`.

Built from the same definitions the endpoint runs on: the message schemas of `messages.py`
and, for the `event` payload, the JSON Schema of `hub.events.v1.Event` that the REST front
end generates from the descriptors (`hub.frontends.rest.schema.Schemas`: proto3 JSON names,
int64 as strings, the proto comments as descriptions). A test regenerates the document and
fails when the committed copy has drifted; another validates it with the npm
`@asyncapi/parser`, and the WebSocket tests check every message the hub sends against it.

Layout: one server (`ws://localhost:8080/ws`); the `connection` channel carries the
control messages (subscribe, unsubscribe, ping and their answers); the logical channels a
subscription names, `user/{userId}` and `mindmap/{mindmapId}`, carry the `event` messages,
multiplexed over the same connection. Operations are from the hub's side: it `receive`s
what the client sends and `send`s the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.descriptor import Descriptor

from hub.codegen import CONTRACTS_PACKAGE, DESCRIPTOR_SET
from hub.frontends.rest.descriptors import (
    descriptor_pool_of,
    proto_comments,
    read_descriptor_set,
)
from hub.frontends.rest.schema import Schemas
from hub.frontends.websocket.endpoint import WEBSOCKET_PATH
from hub.frontends.websocket.messages import CLIENT_SCHEMAS, SERVER_SCHEMAS

ASYNCAPI_FILE = Path("asyncapi/hub.yaml")
EVENT_TYPE = "hub.events.v1.Event"
TITLE = "hub WebSocket API"

_DESCRIPTION = f"""\
Live and resumable domain events over one WebSocket (`{WEBSOCKET_PATH}`).

Every message is one JSON object in a text frame, with a `type`. A client subscribes to
channels (`user`: everything of one user; `mindmap`: everything of one mindmap), each
subscription named by an `id` the client chooses; the hub answers `subscribed`, then
sends every matching committed event once, in id order, as `event` messages. To resume
after a disconnect, subscribe with `since` = the id of the last event received: the
missed events come first, then live ones, with no gap and no duplicate; if they are no
longer retained the hub answers `error` RESUME_TOO_OLD (it never skips silently).

A message the hub cannot use is answered with `error`; the connection stays open.
The hub sends ping frames as a keepalive (answer them with pong frames, as WebSocket
libraries do); `ping` / `pong` messages are an application-level heartbeat.

Close codes sent by the hub:

| code | meaning | what to do |
| ---- | ------- | ---------- |
| 1001 | going away: the hub is shutting down | reconnect and resume with `since` |
| 1003 | unsupported data: a binary frame | send JSON text frames |
| 1007 | invalid data: a text frame that is not UTF-8 | send UTF-8 |
| 1009 | message too big (above 64 KiB by default) | send smaller messages |
| 1011 | keepalive timeout: no pong to a ping frame | answer ping frames |
| 4000 | slow consumer: the client fell too far behind | reconnect and resume with `since` |
| 4401 | unauthenticated: credentials missing or not good | connect with good ones |
"""


def build_asyncapi(
    event: Descriptor, comments: Mapping[str, str], *, api_version: str
) -> dict[str, Any]:
    """The document, with the schema of `event` (the Event descriptor) and the proto
    `comments` as descriptions."""
    schemas = Schemas([], comments=comments)
    schemas.message_ref(event)
    payloads = {**CLIENT_SCHEMAS, **SERVER_SCHEMAS}
    control = [kind for kind in payloads if kind != "event"]
    return {
        "asyncapi": "3.0.0",
        "info": {"title": TITLE, "version": api_version, "description": _DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:8080",
                "protocol": "ws",
                "pathname": WEBSOCKET_PATH,
                "description": "The hub's HTTP server (`http.listen`).",
            }
        },
        "channels": {
            "connection": {
                "address": WEBSOCKET_PATH,
                "title": "Control messages",
                "description": "Subscriptions are made, ended and answered here.",
                "messages": {kind: _message_ref(kind) for kind in control},
            },
            "userEvents": _event_channel(
                "user/{userId}",
                "userId",
                "Events of a user",
                "Every event of one user: about the user and about each of their mindmaps "
                "(subscribe with channel `user`).",
            ),
            "mindmapEvents": _event_channel(
                "mindmap/{mindmapId}",
                "mindmapId",
                "Events of a mindmap",
                "Every event of one mindmap (subscribe with channel `mindmap`).",
            ),
        },
        "operations": {
            "receiveSubscribe": _operation("receive", "subscribe", reply=["subscribed", "error"]),
            "receiveUnsubscribe": _operation(
                "receive", "unsubscribe", reply=["unsubscribed", "error"]
            ),
            "receivePing": _operation("receive", "ping", reply=["pong"]),
            "sendError": _operation("send", "error"),
            "sendUserEvent": _operation("send", "event", channel="userEvents"),
            "sendMindmapEvent": _operation("send", "event", channel="mindmapEvents"),
        },
        "components": {
            "messages": {
                kind: {
                    "name": kind,
                    "title": kind,
                    "summary": payload["description"],
                    "payload": {"$ref": f"#/components/schemas/{kind}"},
                }
                for kind, payload in payloads.items()
            },
            "schemas": {**payloads, **schemas.components()},
        },
    }


def _message_ref(kind: str) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{kind}"}


def _event_channel(address: str, parameter: str, title: str, description: str) -> dict[str, Any]:
    return {
        "address": address,
        "title": title,
        "description": description,
        "parameters": {parameter: {"description": f"The `{parameter}` of the subscribe."}},
        "messages": {"event": _message_ref("event")},
    }


def _operation(
    action: str, kind: str, *, channel: str = "connection", reply: list[str] | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{kind}"}],
    }
    if reply:
        operation["reply"] = {
            "channel": {"$ref": "#/channels/connection"},
            "messages": [{"$ref": f"#/channels/connection/messages/{answer}"} for answer in reply],
        }
    return operation


def _dumper() -> type[yaml.SafeDumper]:
    """YAML's safe dumper, writing text of several lines as a literal block (readable)."""

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


def export_asyncapi(root: Path, out: Path | None = None) -> Path:
    """Writes the document of the checkout at `root` to `out` (default: its
    `asyncapi/hub.yaml`), from the descriptor set `hub gen` wrote; returns the path."""
    descriptor_set = read_descriptor_set(root / CONTRACTS_PACKAGE / DESCRIPTOR_SET)
    event = descriptor_pool_of(descriptor_set).FindMessageTypeByName(EVENT_TYPE)
    document = build_asyncapi(event, proto_comments(descriptor_set), api_version=version("hub"))
    target = out if out is not None else root / ASYNCAPI_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(document, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=100)
    target.write_text(text, encoding="utf-8")
    return target


if __name__ == "__main__":  # like `hub.frontends.rest.export`: run in a fresh interpreter
    import sys

    print(f"generated {export_asyncapi(Path(sys.argv[1]))}")
