"""What every resolver of one request (or one WebSocket connection) shares: the context.

`Context.call` is the one way resolvers reach a backend: a unary call on a
`BackendClient` stub with the request's forwarded metadata (`authorization`, `traceparent`,
`tracestate`, `x-request-id`, read by the REST front end's header reader) and the default
deadline; a failed call raises the GraphQL error that `errors.rpc_failure` maps it to.
`Context.loaders` batch reads by id (`loaders.py`). `Context.principal()` is who is
calling, by the gateway's one `Authenticator` (None when authentication is off or the request
carries no credentials); the backend calls are authenticated again by the gateway's policies,
from the same `authorization` (verified tokens are remembered, so that costs a lookup).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from google.protobuf.message import Message
from grpc import aio

from hub.client import BackendClient
from hub.events.bus import EventBus
from hub.frontends.graphql.errors import GraphQLFailure, rpc_failure
from hub.policies.auth import Authenticator, Unauthenticated
from hub.principal import Principal

if TYPE_CHECKING:
    from hub.frontends.graphql.loaders import Loaders

Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)


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
    authenticator: Authenticator | None = None
    authorization: str | None = None

    @property
    def authenticates(self) -> bool:
        """Whether authentication is on."""
        return self.authenticator is not None

    async def principal(self) -> Principal | None:
        """Who is calling; raises UNAUTHENTICATED for credentials that are not good."""
        if self.authenticator is None:
            return None
        try:
            return await self.authenticator.authenticate(self.authorization)
        except Unauthenticated as refused:
            raise GraphQLFailure(
                refused.message, "UNAUTHENTICATED", reason=refused.reason
            ) from None

    @property
    def client(self) -> BackendClient:
        """The backend stubs (`users`, `mindmaps`), to pass to `call`."""
        return self.call.client
