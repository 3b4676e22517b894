"""The committed OpenAPI document, `openapi/hub.openapi.json`, as `hub gen` writes it.

The document describes the routes that the default gateway configuration exposes (SPEC §1:
`/api/v1/users` and `/api/v1/mindmaps`, GET/POST/PUT/DELETE, read from `hub.config`'s
defaults), so that a change to the API shows in review; a test regenerates it and fails
when the committed copy has drifted. It is built from the descriptor set that `hub gen`
has just written, not from the imported generated modules, which may predate it.
The JSON is deterministic: keys sorted, two-space indents, a final newline.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from hub.client import SERVICE_DESCRIPTORS
from hub.codegen import CONTRACTS_PACKAGE, DESCRIPTOR_SET
from hub.config import ApiGateway
from hub.frontends.rest.descriptors import (
    descriptor_pool_of,
    proto_comments,
    read_descriptor_set,
)
from hub.frontends.rest.openapi import API_TITLE, build_openapi
from hub.frontends.rest.routes import Exposure, expose, http_routes
from hub.frontends.rest.schema import Schemas

OPENAPI_FILE = Path("openapi/hub.openapi.json")


def export_openapi(root: Path, out: Path | None = None) -> Path:
    """Writes the OpenAPI document of the checkout at `root` to `out` (default: its
    `openapi/hub.openapi.json`) and returns the path written."""
    descriptor_set = read_descriptor_set(root / CONTRACTS_PACKAGE / DESCRIPTOR_SET)
    pool = descriptor_pool_of(descriptor_set)
    exposures = [
        Exposure(entry.path, SERVICE_DESCRIPTORS[entry.service].full_name, frozenset(entry.methods))
        for entry in ApiGateway().routes
    ]
    services = [
        pool.FindServiceByName(name) for name in dict.fromkeys(e.service for e in exposures)
    ]
    routes = expose(http_routes(services), exposures)
    schemas = Schemas(routes, comments=proto_comments(descriptor_set))
    document = build_openapi(routes, schemas, title=API_TITLE, version=version("hub"))
    target = out if out is not None else root / OPENAPI_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    target.write_text(text, encoding="utf-8")
    return target


if __name__ == "__main__":  # `hub gen` runs this in a fresh interpreter
    import sys

    print(f"generated {export_openapi(Path(sys.argv[1]))}")
