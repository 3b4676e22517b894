"""A WebSocket test client of `/ws` that checks every message the hub sends against the
committed AsyncAPI document (the runtime contract: the document and the code cannot drift).
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import websockets
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT7
from websockets.asyncio.client import ClientConnection

from hub.frontends.websocket.asyncapi import ASYNCAPI_FILE

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 10.0
_DOCUMENT_URI = "urn:hub:asyncapi"


@functools.cache
def asyncapi_document() -> dict[str, Any]:
    """The committed AsyncAPI document."""
    document: dict[str, Any] = yaml.safe_load((ROOT / ASYNCAPI_FILE).read_text(encoding="utf-8"))
    return document


@functools.cache
def _validators() -> dict[str, jsonschema.Draft7Validator]:
    """A validator per message the hub sends, by its type: the payload schemas of the
    document's `send` operations (AsyncAPI schemas are a superset of JSON Schema draft 7)."""
    document = asyncapi_document()
    registry: Registry[Any] = Registry().with_resource(
        _DOCUMENT_URI, DRAFT7.create_resource(document)
    )
    sent = {
        reference["$ref"].rsplit("/", 1)[-1]
        for operation in document["operations"].values()
        for reference in [
            *(operation["messages"] if operation["action"] == "send" else []),
            *operation.get("reply", {}).get("messages", []),
        ]
    }
    messages = document["components"]["messages"]
    return {
        kind: jsonschema.Draft7Validator(
            {"$ref": _DOCUMENT_URI + messages[kind]["payload"]["$ref"]},
            registry=registry,
            format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
        )
        for kind in sent
    }


def check_contract(message: dict[str, Any]) -> None:
    """Fails unless `message` is a message the document says the hub sends, valid against
    its payload schema."""
    validator = _validators().get(message.get("type", ""))
    assert validator is not None, f"the document has no hub message of type {message!r}"
    errors = [error.message for error in validator.iter_errors(message)]
    assert [] == errors, message


class WsClient:
    """One connection; `receive` returns the next message, checked against the contract."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._held: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.connection.send(message if isinstance(message, str) else json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        """The next message (first those `subscribe` read past)."""
        if self._held:
            return self._held.pop(0)
        async with asyncio.timeout(WAIT_SECONDS):
            text = await self.connection.recv()
        assert isinstance(text, str), "the hub sends text frames only"
        message: dict[str, Any] = json.loads(text)
        check_contract(message)
        return message

    async def subscribe(self, name: str, since: int | None = None, **target: str) -> None:
        """Subscribes (`user_id=` or `mindmap_id=`) and checks the `subscribed` answer."""
        channel, value = next(iter(target.items()))
        message: dict[str, Any] = {
            "type": "subscribe",
            "id": name,
            "channel": channel.removesuffix("_id"),
            ("userId" if channel == "user_id" else "mindmapId"): value,
        }
        expected: dict[str, Any] = {"type": "subscribed", "id": name}
        if since is not None:
            message["since"] = str(since)
            expected["resumedFrom"] = str(since)
        await self.send(message)
        async with asyncio.timeout(WAIT_SECONDS):
            text = await self.connection.recv()
            while (answer := json.loads(text))["type"] == "event":  # of other subscriptions
                check_contract(answer)
                self._held.append(answer)
                text = await self.connection.recv()
        check_contract(answer)
        assert expected == answer

    async def events(self, count: int) -> list[dict[str, Any]]:
        """The next `count` messages, each an `event` (fails on anything else)."""
        found = []
        for _ in range(count):
            message = await self.receive()
            assert "event" == message["type"], message
            found.append(message["event"])
        return found

    async def ping(self) -> None:
        """A `ping`; the next message must be the `pong` (the connection is alive)."""
        await self.send({"type": "ping"})
        assert {"type": "pong"} == await self.receive()


async def connect(url: str, **options: Any) -> WsClient:
    """A connection to `url` without compression (the hub offers none)."""
    return WsClient(await websockets.connect(url, compression=None, **options))
