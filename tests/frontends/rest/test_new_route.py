"""An annotated RPC becomes a REST route with no change to the front end's code.

`testdata/widgets.proto` exists only here. It is compiled at test time into a descriptor
pool of its own, served by a real gRPC server built from those descriptors alone, and
handed to the same `http_routes` and `create_rest_app` that serve the hub's own services,
behind a real uvicorn server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from grpc import aio

from hub.config import Http
from hub.frontends.rest.app import create_rest_app
from hub.frontends.rest.routes import HttpRoute, http_routes
from hub.listening import dial_target, listen, server_options
from tests.frontends.rest.conftest import route_of, served


class ChannelCaller:
    """Raw calls over one channel: all the REST app needs of a backend client."""

    def __init__(self, channel: aio.Channel) -> None:
        self._channel = channel

    def unary_bytes(self, method: str) -> aio.UnaryUnaryMultiCallable[bytes, bytes]:
        """A call of `method` taking and returning serialized messages."""
        return self._channel.unary_unary(method)


@dataclass
class WidgetBackend:
    """Serves WidgetService from its descriptors; records the requests it gets."""

    routes: list[HttpRoute]
    received: list[Message] = field(default_factory=list)

    async def list_widgets(
        self, request: Message, context: aio.ServicerContext[Any, Any]
    ) -> Message:
        self.received.append(request)
        return route_of(self.routes, "ListWidgets").response_type()

    async def polish_widget(
        self, request: Message, context: aio.ServicerContext[Any, Any]
    ) -> Message:
        self.received.append(request)
        await context.send_initial_metadata((("x-request-id", "from-the-backend"),))
        route = route_of(self.routes, "PolishWidget")
        widget = json_format.MessageToDict(request)["widget"]
        return json_format.ParseDict(
            {"widget": {**widget, "shiny": True, "etag": "e9"}}, route.response_type()
        )


@asynccontextmanager
async def widget_server(backend: WidgetBackend, service: ServiceDescriptor) -> AsyncIterator[str]:
    """A real gRPC server for `service`; yields its target."""
    server = aio.server(options=server_options(1 << 20))
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for name, handle in (
        ("ListWidgets", backend.list_widgets),
        ("PolishWidget", backend.polish_widget),
    ):
        route = route_of(backend.routes, name)
        handlers[name] = grpc.unary_unary_rpc_method_handler(
            handle,
            request_deserializer=route.request_type.FromString,
            response_serializer=route.response_type.SerializeToString,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    target = dial_target(listen(server, "127.0.0.1:0"))
    await server.start()
    try:
        yield target
    finally:
        await server.stop(0)


async def test_annotated_rpcs_become_routes(widgets: ServiceDescriptor) -> None:
    """Both RPCs of the test-only service are served, with query, nested and bool fields,
    a body field, response_body, ETag and response metadata, and documented in OpenAPI."""
    routes = http_routes([widgets])
    backend = WidgetBackend(routes)
    async with (
        widget_server(backend, widgets) as target,
        aio.insecure_channel(target) as channel,
    ):
        app = create_rest_app(ChannelCaller(channel), routes, settings=Http())
        async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
            listed = await http.get(
                "/v1/shelves/s1/widgets",
                params=[
                    ("includeHidden", "true"),
                    ("tags", "a"),
                    ("tags", "b"),
                    ("filter.color", "red"),
                ],
            )
            polished = await http.post(
                "/v1/shelves/s1/widgets/w%2F1:polish",
                json={"name": "overridden by the path", "weightGrams": "12"},
            )
            wrong_method = await http.get("/v1/shelves/s1/widgets/w1:polish")
            document = (await http.get("/openapi.json")).json()

    assert (200, {"widgets": []}) == (listed.status_code, listed.json())
    assert (200, {"name": "w/1", "weightGrams": "12", "shiny": True, "etag": "e9"}) == (
        polished.status_code,
        polished.json(),
    )
    assert ('"e9"', "from-the-backend") == (
        polished.headers["etag"],
        polished.headers["x-request-id"],
    )
    assert [
        {"shelf": "s1", "includeHidden": True, "tags": ["a", "b"], "filter": {"color": "red"}},
        {"shelf": "s1", "widget": {"name": "w/1", "weightGrams": "12"}},
    ] == [json_format.MessageToDict(request) for request in backend.received]
    assert (405, "POST") == (wrong_method.status_code, wrong_method.headers["allow"])
    assert {"WidgetService_ListWidgets", "WidgetService_PolishWidget"} == {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    }
