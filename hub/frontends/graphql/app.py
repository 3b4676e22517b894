"""The GraphQL front end as an ASGI app: GraphQL over HTTP, graphql-transport-ws, GraphiQL.

strawberry's ASGI view (`strawberry.asgi.GraphQL`) serves the protocols; this subclass adds
what the hub needs around it:
- the request context (`context.py`): forwarded metadata read by the REST front end's
  header reader (`hub/frontends/rest/headers.py`), the backend deadline (`X-Request-Timeout`
  up to `http.max_timeout_seconds`, else `http.default_timeout_seconds`), loaders;
- `application/graphql-response+json` for clients that accept it, with the status codes
  the GraphQL-over-HTTP spec recommends: 400 for a request error (the document does not
  parse or validate, the variables do not fit), 200 once execution started. A request
  error's response has no `data` entry, whatever the media type.
  Clients that accept only `application/json` get 200 with the errors, as the spec asks;
- refusals of the transport itself (a body that is not JSON, a method other than GET and
  POST, a mutation over GET (405), too many batched operations, a bad forwarded header) as
  GraphQL errors with `extensions.code`, not strawberry's plain text;
- `scope["hub.endpoint"]`: `graphql:<operationName>` (or `graphql:anonymous`,
  `graphql:batch`) once the operation is known, the path for the GraphiQL page, for the
  HTTP metrics to label requests by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import SubscriptionExecutionResult
from typing_extensions import override

from hub.client import BackendClient
from hub.config import GraphQL as GraphQLSettings
from hub.config import Http
from hub.events.bus import EventBus
from hub.frontends.graphql.context import Calls, Context
from hub.frontends.graphql.loaders import Loaders
from hub.frontends.graphql.schema import HubSchema
from hub.frontends.rest.headers import read_headers
from hub.frontends.rest.responses import HttpProblem, dump
from hub.observability.asgi import ENDPOINT_KEY
from hub.policies.auth import Authenticator
from hub.principal import AUTHORIZATION_KEY, PEER_KEY

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_TOO_MANY_OPERATIONS = "Too many operations"  # strawberry's refusal of a long batch
_TRANSPORT_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class _SubResponse(Response):
    """strawberry's per-request response stub, knowing which media type the client takes."""

    def __init__(self, graphql_response: bool) -> None:
        super().__init__()
        self.status_code = None  # type: ignore[assignment]  # strawberry's "not set"
        del self.headers["content-length"]
        self.graphql_response = graphql_response


@dataclass(frozen=True)
class _Backend:
    client: BackendClient
    bus: EventBus
    http: Http
    authenticator: Authenticator | None


class GraphQLApp(GraphQL[Context, None]):
    """The ASGI app of `/graphql` (HTTP and WebSocket)."""

    def __init__(
        self,
        schema: HubSchema,
        *,
        client: BackendClient,
        bus: EventBus,
        settings: GraphQLSettings,
        http: Http,
        authenticator: Authenticator | None = None,
    ) -> None:
        """`authenticator`: the gateway's, when authentication is on (for `me`, and to
        authorize subscriptions)."""
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            # graphql-transport-ws only: the legacy `graphql-ws` protocol is optional (issue 4)
            # and would be one more protocol to keep tested.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.path = settings.path
        self._backend = _Backend(client, bus, http, authenticator)

    @override
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as refused:
            code = _TRANSPORT_CODES.get(refused.status_code, "BAD_REQUEST")
            if refused.reason == _TOO_MANY_OPERATIONS:
                code = "TOO_MANY_OPERATIONS"
            response = _refusal(request, refused.status_code, refused.reason, code)
        except HttpProblem as problem:
            response = _refusal(request, problem.status, problem.detail, "BAD_REQUEST")
        await response(scope, receive, send)

    @override
    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        headers = read_headers(request.scope["headers"])
        http = self._backend.http
        timeout = min(headers.timeout or http.default_timeout_seconds, http.max_timeout_seconds)
        client = request.scope.get("client")
        metadata = (*headers.metadata, (PEER_KEY, client[0] if client else ""))
        calls = Calls(self._backend.client, metadata, timeout)
        # A WebSocket connection lives long: its loaders batch but keep nothing.
        cache = request.scope["type"] != "websocket"
        return Context(
            call=calls,
            loaders=Loaders(calls, cache=cache),
            bus=self._backend.bus,
            authenticator=self._backend.authenticator,
            authorization=dict(headers.metadata).get(AUTHORIZATION_KEY),
        )

    @override
    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        return _SubResponse(_accepts_graphql_response(request.headers))

    @override
    async def render_graphql_ide(self, request: Request) -> Response:
        request.scope[ENDPOINT_KEY] = self.path
        return await super().render_graphql_ide(request)

    @override
    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if isinstance(request_data, list):
            name = "batch"
        else:
            name = request_data.operation_name or "anonymous"
        request.scope[ENDPOINT_KEY] = f"graphql:{name}"
        try:
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        except HTTPException as refused:
            # A mutation over GET: 405, as the GraphQL-over-HTTP spec asks (strawberry: 400).
            if isinstance(refused.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, refused.reason) from refused.__cause__
            raise

    @override
    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        request_error = isinstance(response_data, dict) and _request_error(response_data)
        if request_error and isinstance(response_data, dict):
            # The operation never ran: no `data` entry at all (GraphQL spec, "Response").
            without_data = {k: v for k, v in response_data.items() if k != "data"}
            response_data = cast(GraphQLHTTPResponse, without_data)
        response = super().create_response(response_data, sub_response)
        if isinstance(sub_response, _SubResponse) and sub_response.graphql_response:
            response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
            if request_error:
                response.status_code = 400
        return response


def _accepts_graphql_response(headers: Mapping[str, str]) -> bool:
    """Whether the client's Accept header names `application/graphql-response+json`."""
    return GRAPHQL_RESPONSE_JSON in headers.get("accept", "")


def _request_error(data: GraphQLHTTPResponse) -> bool:
    """No data and only errors outside any field: the operation never ran."""
    errors = data.get("errors") or []
    return (
        data.get("data") is None
        and bool(errors)
        and all(isinstance(e, Mapping) and "path" not in e for e in errors)
    )


def _refusal(request: Request, status: int, message: str, code: str) -> Response:
    """A transport-level refusal as a GraphQL response with one error."""
    media_type = (
        GRAPHQL_RESPONSE_JSON if _accepts_graphql_response(request.headers) else "application/json"
    )
    body = dump({"errors": [{"message": message, "extensions": {"code": code}}]})
    headers = {"allow": "GET, POST"} if status == 405 else None
    return Response(body, status_code=status, media_type=media_type, headers=headers)
