"""The committed OpenAPI document, `openapi/hub.openapi.json`, is what `hub gen` writes now.

Regenerating into a temporary folder and comparing catches a proto (or the default gateway
routes, or the generator) changed without `hub gen`, and a hand edit of the document.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from openapi_spec_validator import validate as validate_openapi

from hub.config import ApiGateway
from hub.frontends.rest.export import OPENAPI_FILE, export_openapi
from hub.frontends.rest.openapi import API_TITLE, build_openapi
from hub.frontends.rest.schema import Schemas
from hub.parts.gateway import rest_routes

ROOT = Path(__file__).resolve().parents[3]


def test_committed_openapi_document_equals_a_fresh_export(tmp_path: Path) -> None:
    """Byte for byte; if this fails, run `hub gen` and commit openapi/hub.openapi.json."""
    fresh = export_openapi(ROOT, tmp_path / "hub.openapi.json").read_text(encoding="utf-8")
    committed = (ROOT / OPENAPI_FILE).read_text(encoding="utf-8")
    assert fresh == committed, (
        f"{OPENAPI_FILE} is out of date with proto/ or the default gateway routes: "
        "run `hub gen` and commit the result"
    )


def test_the_export_is_deterministic_sorted_json(tmp_path: Path) -> None:
    """Two exports are identical; keys sorted, two-space indents, a final newline."""
    first = export_openapi(ROOT, tmp_path / "a.json").read_text(encoding="utf-8")
    second = export_openapi(ROOT, tmp_path / "b.json").read_text(encoding="utf-8")
    document = json.loads(first)
    assert first == second
    assert json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == first


def test_the_committed_document_is_valid_openapi_3_1() -> None:
    """What reviewers read is a valid OpenAPI 3.1 document."""
    validate_openapi(json.loads((ROOT / OPENAPI_FILE).read_text(encoding="utf-8")))


def test_the_export_describes_the_default_gateway_routes(tmp_path: Path) -> None:
    """SPEC §1's two prefixes with GET/POST/PUT/DELETE: no PATCH binding is published."""
    document = json.loads(export_openapi(ROOT, tmp_path / "x.json").read_text(encoding="utf-8"))
    methods = {method for item in document["paths"].values() for method in item}
    prefixes = {"/".join(path.split("/")[:4]).split(":")[0] for path in document["paths"]}
    assert ({"get", "post", "put", "delete"}, {"/api/v1/users", "/api/v1/mindmaps"}) == (
        methods,
        prefixes,
    )


def test_the_served_document_equals_the_committed_one() -> None:
    """What `hub serve` publishes at /openapi.json with the default configuration (built from
    the imported generated modules) is the committed document (built from the descriptor set)."""
    routes = rest_routes(ApiGateway())
    served = build_openapi(routes, Schemas(routes), title=API_TITLE, version=version("hub"))
    committed = json.loads((ROOT / OPENAPI_FILE).read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(served))
