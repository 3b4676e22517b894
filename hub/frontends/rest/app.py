"""The REST front end as an ASGI app: routes from the protos, documentation, one error shape.

`create_rest_app` compiles everything once: an `Endpoint` per exposed route (its request
validator, its raw backend call), the OpenAPI document, the docs pages. `RestApp` is then a
plain ASGI callable (no framework router or middleware on the hot path) that dispatches:

1. `scope["raw_path"]`, still percent-encoded so that an encoded `/` inside a variable is
   not taken for a separator, is matched against the templates of the routes of the
   request's method, in declaration order; the first match answers. HEAD is GET whose
   body the server leaves out. A path that a custom method's template (one ending in
   `:verb`, like `.../nodes/{node_id}:move`) matches belongs to that custom method alone:
   the plain templates, whose last variable could swallow `n1:move` as well, are not
   tried, so such a path answers 405 to the other methods, as its OpenAPI entry says.
2. The documentation: `/openapi.json`, `/docs` and its assets.
3. A path that only routes of other methods match: 405 with `Allow`; anything else: 404.

The route that answers names itself in `scope["hub.endpoint"]` (its template, or the page's
path) for the observability middleware's `endpoint` label; 404 and 405 leave it unset.

Every answer is JSON or problem+json (RFC 9457), never text/plain: failures the REST layer
finds itself (`HttpProblem`) and backend failures share one shape, and an unexpected error
is logged here, at the boundary, and answered with a 500 problem that reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from importlib.metadata import version

import grpc
from starlette.types import Receive, Scope, Send

from hub.config import Http
from hub.frontends.rest.docs import documentation_pages
from hub.frontends.rest.endpoint import Caller, Disconnected, Endpoint
from hub.frontends.rest.openapi import API_TITLE, build_openapi
from hub.frontends.rest.render import JsonRenderer
from hub.frontends.rest.responses import (
    HttpProblem,
    HttpResponse,
    invalid_request,
    send_response,
)
from hub.frontends.rest.routes import HttpRoute
from hub.frontends.rest.schema import Schemas
from hub.frontends.rest.template import PathTemplate, PathValueError
from hub.frontends.rpc_error import FieldProblem
from hub.observability.asgi import ENDPOINT_KEY

_Routes = dict[str, list[tuple[PathTemplate, Endpoint]]]
"""Routes by HTTP method, each list in declaration order."""

_logger = logging.getLogger(__name__)
_INTERNAL = HttpProblem(500, "internal error", code=grpc.StatusCode.INTERNAL, reason="INTERNAL")


def create_rest_app(
    caller: Caller,
    routes: Sequence[HttpRoute],
    *,
    settings: Http,
    cache_control: Mapping[str, str] | None = None,
    anonymous: frozenset[str] | None = None,
) -> RestApp:
    """The app serving `routes` (the exposed ones), each through `caller.unary_bytes`, with
    their OpenAPI document at `/openapi.json` and a Swagger UI page at `/docs`.
    `cache_control`: the `Cache-Control` of GET routes, by the wire path of their RPC;
    `anonymous`: None when authentication is off, else the wire paths of the RPCs open
    without credentials (the document's security, `build_openapi`)."""
    cache_control = cache_control or {}
    schemas = Schemas(routes)
    renderer = JsonRenderer()
    document = build_openapi(
        routes, schemas, title=API_TITLE, version=version("hub"), anonymous=anonymous
    )
    endpoints = [
        Endpoint(
            route,
            caller,
            schemas.request_validator(route),
            renderer,
            settings,
            cache_control=cache_control.get(route.rpc_path) if route.http_method == "GET" else None,
        )
        for route in routes
    ]
    return RestApp(endpoints, documentation_pages(document))


class RestApp:
    """The ASGI callable; see the module docstring for how it dispatches."""

    def __init__(self, endpoints: Sequence[Endpoint], pages: Mapping[str, HttpResponse]) -> None:
        self._plain: _Routes = {}
        self._custom: _Routes = {}
        for endpoint in endpoints:
            route = endpoint.route
            routes = self._custom if route.template.verb else self._plain
            routes.setdefault(route.http_method, []).append((route.template, endpoint))
        self._pages = dict(pages)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websocket: nothing to do here
            return
        path = scope["raw_path"].decode("latin-1")
        try:
            response = await self._respond(scope, receive, path)
        except HttpProblem as problem:
            response = problem.response(path)
        except Disconnected:
            return
        except Exception:
            _logger.exception("unexpected failure answering %s %s", scope["method"], path)
            response = _INTERNAL.response(path)
        await send_response(send, response)

    async def _respond(self, scope: Scope, receive: Receive, path: str) -> HttpResponse:
        method = scope["method"]
        wanted = "GET" if method == "HEAD" else method
        routes = self._routes_for(path)
        for template, endpoint in routes.get(wanted, ()):
            values = _match(template, path)
            if values is not None:
                scope[ENDPOINT_KEY] = template.source
                return await endpoint.respond(scope, receive, path, values)
        page = self._pages.get(path)
        if page is not None and wanted == "GET":
            scope[ENDPOINT_KEY] = path
            return page
        allowed = self._allowed(path, routes)
        if allowed:
            raise HttpProblem(
                405,
                f"{method} is not allowed here; allowed: {', '.join(allowed)}",
                code=grpc.StatusCode.UNIMPLEMENTED,
                reason="METHOD_NOT_ALLOWED",
                headers=[(b"allow", ", ".join(allowed).encode())],
            )
        raise HttpProblem(
            404,
            "no route matches this path",
            code=grpc.StatusCode.NOT_FOUND,
            reason="ROUTE_NOT_FOUND",
        )

    def _routes_for(self, path: str) -> _Routes:
        """The custom-method routes if one of their templates matches `path`, else the plain
        ones (a custom method's verb can only be in the last segment)."""
        if ":" in path[path.rfind("/") :] and any(
            _matches(listed, path) for listed in self._custom.values()
        ):
            return self._custom
        return self._plain

    def _allowed(self, path: str, routes: _Routes) -> list[str]:
        """The methods `routes` or a page answer at `path`, sorted (HEAD wherever GET)."""
        methods = {method for method, listed in routes.items() if _matches(listed, path)}
        if path in self._pages:
            methods.add("GET")
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)


def _matches(listed: list[tuple[PathTemplate, Endpoint]], path: str) -> bool:
    return any(template.pattern.fullmatch(path) for template, _ in listed)


def _match(template: PathTemplate, path: str) -> dict[str, str] | None:
    try:
        return template.match(path)
    except PathValueError as error:
        problem = FieldProblem(error.variable, "is not valid UTF-8 once percent-decoded")
        raise invalid_request([problem]) from None
