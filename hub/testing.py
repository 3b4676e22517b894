"""Test harness: a whole hub in this process, on free ports, with clients to its front end.

    async with running_hub(tmp_path, binding="tcp") as running:
        reply = await running.users.CreateUser(request)

The hub keeps its data (SQLite file, unix sockets) under the folder given; its public gRPC
front end and its HTTP server (REST at `running.http_url`, WebSocket at `running.ws_url`)
listen on 127.0.0.1 on free ports; the backends listen on unix sockets in that folder
(`binding="unix"`, the embedded default) or on free TCP ports (`binding="tcp"`). The harness
waits until the front end reports every service SERVING before handing over.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import psycopg
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace.export import SpanExporter
from psycopg import sql
from psycopg.conninfo import make_conninfo
from redis import Redis as SyncRedis

from hub.app import Hub
from hub.config import SERVICE_NAMES, ServiceName, Settings
from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.user.v1 import user_pb2_grpc
from hub.frontends.websocket.endpoint import WEBSOCKET_PATH
from hub.listening import dial_target
from hub.observability.logging import AccessLog

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

Binding: TypeAlias = Literal["unix", "tcp"]
BINDINGS: tuple[Binding, ...] = ("unix", "tcp")
READY_TIMEOUT_SECONDS = 10.0


def harness_settings(data_dir: Path, binding: Binding, **overrides: Any) -> Settings:
    """Settings for a hub under `data_dir` on free loopback ports; `overrides` are extra
    top-level sections, in the shape of the YAML file (an `http` override keeps the free
    port unless it sets `listen`)."""
    services: dict[str, Any] = {}
    if binding == "tcp":
        services = {name: {"listen": "127.0.0.1:0"} for name in SERVICE_NAMES}
    http = {"listen": "127.0.0.1:0", **overrides.pop("http", {})}
    return Settings.model_validate(
        {
            "data_dir": data_dir,
            "grpc": {"listen": "127.0.0.1:0"},
            "http": http,
            "services": services,
            **overrides,
        }
    )


@dataclass(frozen=True)
class RunningHub:
    """A started hub and an open channel to its public gRPC front end."""

    hub: Hub
    channel: aio.Channel
    users: UserServiceAsyncStub
    mindmaps: MindmapServiceAsyncStub
    health: Any  # grpc_health's HealthStub (untyped)

    @property
    def target(self) -> str:
        """Where the front end is dialled."""
        return dial_target(self.hub.grpc_address)

    @property
    def http_url(self) -> str:
        """The base URL of the HTTP server (REST routes, `/openapi.json`, `/docs`)."""
        return f"http://{dial_target(self.hub.http_address)}"

    @property
    def metrics_url(self) -> str:
        """The URL of the Prometheus metrics page."""
        return f"{self.http_url}{self.hub.settings.observability.metrics.path}"

    @property
    def ws_url(self) -> str:
        """The URL of the WebSocket endpoint (event subscriptions)."""
        return f"ws://{dial_target(self.hub.http_address)}{WEBSOCKET_PATH}"

    @property
    def graphql_url(self) -> str:
        """The URL of the GraphQL front end (HTTP; WebSocket with the ws scheme)."""
        path = self.hub.settings.graphql.path
        return f"http://{dial_target(self.hub.http_address)}{path}"

    async def published_event_id(self) -> int:
        """The id of the last committed event, once the relay has put it on the bus (it
        publishes after the write returns): a subscription `since` it gets only the events
        of later writes."""
        bus = self.hub.bus
        committed = await self.hub.store.read_outbox(bus.last_id, 10_000)
        last = committed[-1].id if committed else bus.last_id
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            while bus.last_id < last:  # noqa: ASYNC110 - the bus offers no event to wait on
                await asyncio.sleep(0.005)
        return last

    @property
    def backend_targets(self) -> Mapping[ServiceName, str]:
        """Where each backend is dialled directly, bypassing the front end."""
        return self.hub.backend_targets


class CallCounter(aio.UnaryUnaryClientInterceptor):
    """Records the method and metadata of each unary call of the client it is passed to
    (`running_hub(client_interceptors=[counter])`: every backend call of the front ends)."""

    def __init__(self) -> None:
        self.methods: list[str] = []
        self.metadata: list[dict[str, str]] = []

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method: object = client_call_details.method  # bytes at run time, str in the stubs
        self.methods.append(method.decode() if isinstance(method, bytes) else str(method))
        metadata = client_call_details.metadata or ()
        self.metadata.append({str(key): str(value) for key, value in metadata})
        return await continuation(client_call_details, request)

    def short(self) -> list[str]:
        """The calls so far as method names (`BatchGetUsers`), in order."""
        return [method.rsplit("/", 1)[-1] for method in self.methods]


@asynccontextmanager
async def running_hub(
    data_dir: Path,
    binding: Binding = "unix",
    *,
    client_interceptors: Sequence[aio.ClientInterceptor] = (),
    span_exporter: SpanExporter | None = None,
    access_log: AccessLog | None = None,
    **overrides: Any,
) -> AsyncIterator[RunningHub]:
    """Starts a hub (see `harness_settings`), waits until it serves, and stops it on exit.
    `client_interceptors` see every backend call the front ends make (to count them);
    `span_exporter` (e.g. an `InMemorySpanExporter`) turns tracing on, exporting there;
    `access_log` is where access lines go (`configure_logging(...).access`)."""
    hub = Hub(
        harness_settings(data_dir, binding, **overrides),
        client_interceptors=client_interceptors,
        span_exporter=span_exporter,
        access_log=access_log,
    )
    await hub.start()
    try:
        async with aio.insecure_channel(dial_target(hub.grpc_address)) as channel:
            running = RunningHub(
                hub=hub,
                channel=channel,
                users=user_pb2_grpc.UserServiceStub(channel),
                mindmaps=mindmap_pb2_grpc.MindmapServiceStub(channel),
                health=health_pb2_grpc.HealthStub(channel),
            )
            await wait_until_serving(running.health)
            yield running
    finally:
        await hub.stop()


async def wait_until_serving(health_stub: Any, service: str = "") -> None:
    """Returns once `service` ("" = overall) reports SERVING; TimeoutError if it does not
    within READY_TIMEOUT_SECONDS."""
    request = health_pb2.HealthCheckRequest(service=service)
    async with asyncio.timeout(READY_TIMEOUT_SECONDS):
        async for reply in health_stub.Watch(request):
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
    raise RuntimeError(f"the health watch of {service!r} ended before it reported SERVING")


@contextmanager
def scratch_schema(dsn: str, prefix: str) -> Iterator[str]:
    """A DSN whose connections see only a new, empty schema `<prefix>_<random>` of the
    PostgreSQL database at `dsn`, dropped afterwards with everything made in it (tests and
    benchmarks: a store opened on it migrates its own tables there)."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(dsn, options=f"-c search_path={name}")
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@contextmanager
def scratch_key_prefix(url: str, prefix: str) -> Iterator[str]:
    """A new Redis key prefix `<prefix>-<random>` for hubs on the Redis at `url` (their
    `redis.key_prefix`), and every key under it deleted afterwards (tests and benchmarks).
    Redis's `RedisError` or `OSError` if it cannot be reached."""
    client = SyncRedis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
        scratch = f"{prefix}-{secrets.token_hex(6)}"
        try:
            yield scratch
        finally:
            keys = list(client.scan_iter(match=f"{scratch}:*", count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()
