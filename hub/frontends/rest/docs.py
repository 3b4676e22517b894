"""The API's own documentation: the OpenAPI document and a Swagger UI page to browse it.

`/openapi.json` is the document `openapi.build_openapi` made from the same routes the app
serves; `/docs` is a Swagger UI page that reads it. The Swagger UI files are served by the
app itself from the `openapi-ui-bundles` package, so the page works without the internet.
(That package ships Swagger UI 5, which reads OpenAPI 3.1; the `swagger-ui-bundle` package
ships Swagger UI 4, which refuses 3.1 documents.) Every page is rendered once, at start-up.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from openapi_ui_bundles import swagger_ui

from hub.frontends.rest.responses import JSON_CONTENT_TYPE, HttpResponse, dump

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
_ASSETS = {
    "swagger-ui.css": b"text/css; charset=utf-8",
    "swagger-ui-bundle.js": b"text/javascript; charset=utf-8",
    "favicon-32x32.png": b"image/png",
}
_CACHED = (b"cache-control", b"public, max-age=86400")
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{docs}/swagger-ui.css">
<link rel="icon" type="image/png" href="{docs}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{openapi}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
</script>
</body>
</html>
"""


def documentation_pages(document: Mapping[str, Any]) -> dict[str, HttpResponse]:
    """The responses to GET of each documentation path, by path."""
    title = html.escape(str(document.get("info", {}).get("title", "API")))
    page = _PAGE.format(title=title, docs=DOCS_PATH, openapi=OPENAPI_PATH)
    pages = {
        OPENAPI_PATH: HttpResponse(200, [JSON_CONTENT_TYPE], dump(document)),
        DOCS_PATH: HttpResponse(
            200, [(b"content-type", b"text/html; charset=utf-8")], page.encode()
        ),
    }
    for name, media_type in _ASSETS.items():
        content = (swagger_ui.static_path / name).read_bytes()
        pages[f"{DOCS_PATH}/{name}"] = HttpResponse(
            200, [(b"content-type", media_type), _CACHED], content
        )
    return pages
