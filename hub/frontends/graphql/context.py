"""What every resolver of one request (or one WebSocket connection) shares: the context.

`Context.call` is the one way resolvers reach a backend: a unary call on a
`BackendClient` stub with the request's forwarded metadata (`authorization`, `traceparent`,
`tracestate`, `x-request-id`, read by the REST front end's header reader) and the default
deadline; a failed call raises the GraphQL error that `errors.rpc_failure` maps it to.
`Context.loaders` batch reads by id (`loaders.py`). `principal` is who is calling: nothing
sets it until authentication exists (issue 7), so `me` answers UNAUTHENTICATED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from google.protobuf.message import Message
from grpc import aio

from hub.client import BackendClient
from hub.events.bus import EventBus
from hub.frontends.graphql.errors import rpc_failure

if TYPE_CHECKING:
    from hub.frontends.graphql.loaders import Loaders

Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (set by authentication, once it exists)."""

    user_id: str


@dataclass(frozen=True)
class Calls:
    """Backend calls with the request's metadata and deadline."""

    client: BackendClient
    metadata: tuple[tuple[str, str], ...]
    timeout: float

    async def __call__(
        self, rpc: aio.UnaryUnaryMultiCallable[Request, Response], request: Request
    ) -> Response:
        """`rpc(request)`; a failure raises its `GraphQLFailure`."""
        try:
            return await rpc(request, metadata=self.metadata, timeout=self.timeout)
        except aio.AioRpcError as error:
            raise rpc_failure(error) from None


@dataclass(frozen=True)
class Context:
    """The resolvers' view of the request."""

    call: Calls
    loaders: Loaders
    bus: EventBus
    principal: Principal | None = None

    @property
    def client(self) -> BackendClient:
        """The backend stubs (`users`, `mindmaps`), to pass to `call`."""
        return self.call.client
