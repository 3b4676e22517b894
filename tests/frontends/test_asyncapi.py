"""The committed AsyncAPI document, `asyncapi/hub.yaml`: what the generator writes now, valid
for the official AsyncAPI parser (npm `@asyncapi/parser`, offline), and its Event payload
the very JSON Schema the REST front end publishes for `hub.events.v1.Event`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from hub.contracts.events.v1.events_pb2 import Event
from hub.frontends.rest.schema import Schemas
from hub.frontends.websocket.asyncapi import ASYNCAPI_FILE, EVENT_TYPE, export_asyncapi
from hub.frontends.websocket.endpoint import WEBSOCKET_PATH
from hub.frontends.websocket.messages import CLIENT_SCHEMAS, SERVER_SCHEMAS, ErrorCode
from tests.frontends.wsclient import ROOT, asyncapi_document

VALIDATE = ROOT / "scripts" / "validate-asyncapi.js"
NODE_ENV = {**os.environ, "CI": "true", "ASYNCAPI_SKIP_NEW_VERSION_CHECK": "true"}


def _parse(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(VALIDATE), str(path)],
        cwd=ROOT,
        env=NODE_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_committed_document_equals_a_fresh_export(tmp_path: Path) -> None:
    """Byte for byte; if this fails, run `python -m hub.frontends.websocket.asyncapi .`
    and commit asyncapi/hub.yaml."""
    fresh = export_asyncapi(ROOT, tmp_path / "hub.yaml").read_text(encoding="utf-8")
    committed = (ROOT / ASYNCAPI_FILE).read_text(encoding="utf-8")
    assert fresh == committed, f"{ASYNCAPI_FILE} is out of date: regenerate and commit it"


def test_the_asyncapi_parser_accepts_the_document() -> None:
    """The official parser validates structure, schemas and every $ref."""
    parsed = _parse(ROOT / ASYNCAPI_FILE)

    assert (0, "valid") == (parsed.returncode, parsed.stdout.strip().splitlines()[-1]), (
        parsed.stdout + parsed.stderr
    )


def test_the_parser_check_is_live_a_dangling_ref_fails(tmp_path: Path) -> None:
    """A document whose message points at a missing schema is rejected (the check above
    would catch a broken document)."""
    broken = asyncapi_document() | {}
    components = dict(broken["components"])
    components["schemas"] = {k: v for k, v in components["schemas"].items() if k != "pong"}
    broken["components"] = components
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")

    parsed = _parse(path)

    assert (1, "INVALID") == (parsed.returncode, parsed.stdout.strip().splitlines()[-1])
    assert "#/components/schemas/pong" in parsed.stdout


def test_the_event_payload_is_the_proto_events_json_schema() -> None:
    """Every schema the document holds for the Event (and what it refers to) equals the one
    generated from the descriptors for the REST front end."""
    schemas = Schemas([])
    schemas.message_ref(Event.DESCRIPTOR)
    expected = schemas.components()
    published = asyncapi_document()["components"]["schemas"]

    assert EVENT_TYPE in expected
    assert expected == {name: published[name] for name in expected}


def test_the_document_describes_every_message_and_error_code() -> None:
    """Each message type has its payload schema; each error code, the server and the close
    codes are documented."""
    document = asyncapi_document()
    messages = document["components"]["messages"]
    error_codes = document["components"]["schemas"]["error"]["properties"]["code"]["enum"]

    assert {**CLIENT_SCHEMAS, **SERVER_SCHEMAS}.keys() == messages.keys()
    assert [code.value for code in ErrorCode] == error_codes
    assert ("ws", WEBSOCKET_PATH) == (
        document["servers"]["local"]["protocol"],
        document["servers"]["local"]["pathname"],
    )
    for code in ("1001", "1003", "1007", "1009", "1011", "4000"):
        assert f"| {code} |" in document["info"]["description"]


@pytest.mark.parametrize("kind", sorted(CLIENT_SCHEMAS))
def test_client_messages_are_received_and_server_messages_sent(kind: str) -> None:
    """Operations are from the hub's side: it receives each client message."""
    operations = asyncapi_document()["operations"].values()
    received = {
        reference["$ref"].rsplit("/", 1)[-1]
        for operation in operations
        if operation["action"] == "receive"
        for reference in operation["messages"]
    }
    assert kind in received
