"""Typed settings: one YAML file in the gateway-config shape (SPEC §1) plus `HUB_*` overrides.

`load_settings(path, environ)` is the only way in. It reads the file (or `hub.yaml` in the
working directory, or nothing), lays the environment over it, and validates the result with
pydantic models that forbid unknown keys. Anything wrong ends in ONE `ConfigError` whose
message names the file and every bad key as a dotted path (`api_gateway.routes[0].methods[1]`)
with the reason, so a misspelt key is an error at start-up, never a silent default.

Environment overrides: `HUB_` + the key path in upper case with `__` between levels, e.g.
`HUB_GRPC__LISTEN=127.0.0.1:6000`, `HUB_STORAGE__POSTGRESQL__DSN=postgresql://db/hub`,
`HUB_SERVICES__USER_SERVICE__LISTEN=127.0.0.1:0` (`_` stands for `-` in key names). Values of
text settings are taken as they are; the others are parsed as YAML (`10`, `true`, `[a, b]`).
"""

from __future__ import annotations

import ipaddress
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Literal,
    TypeAlias,
    Union,
    assert_never,
    get_args,
    get_origin,
)

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

DEFAULT_CONFIG_FILE = Path("hub.yaml")
ENV_PREFIX = "HUB_"
ENV_DELIMITER = "__"

ServiceName: TypeAlias = Literal["user-service", "mindmap-service"]
SERVICE_NAMES: tuple[ServiceName, ...] = get_args(ServiceName)
HttpMethod: TypeAlias = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Policy: TypeAlias = Literal["rate_limiting", "authentication", "caching", "circuit_breaking"]
Profile: TypeAlias = Literal["development", "production"]
Role: TypeAlias = Literal["all", "gateway", "users", "mindmaps"]

HEALTH_PATH = "/healthz"
"""Liveness, on every role's HTTP server (hub/frontends/probes.py)."""
READY_PATH = "/readyz"
"""Readiness, on every role's HTTP server."""
_PROBE_PATHS = (HEALTH_PATH, READY_PATH)

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why, one line per key."""


def _listen_address(value: str) -> str:
    """Accepts `host:port` (port 0 picks a free one), `[v6]:port`, or `unix:<path>`."""
    if value.startswith("unix:"):
        if not value.removeprefix("unix:"):
            raise ValueError("a unix socket address needs a path: unix:<path>")
        return value
    match = _HOST_PORT.match(value)
    if match is None or int(match["port"]) > 65535:
        raise ValueError("expected host:port (port 0-65535) or unix:<path>")
    return value


ListenAddress = Annotated[str, AfterValidator(_listen_address)]

_DNS_TARGET = re.compile(r"^dns:(//[^/]*/)?(?P<address>[^/]+)$")


def _target(value: str) -> str:
    """Accepts what a gateway dials: `host:port`, `[v6]:port`, `unix:<path>`, or
    `dns:///name:port` (`dns://<dns server>/name:port`), gRPC's name syntax."""
    match = _DNS_TARGET.match(value)
    address = value if match is None else match["address"]
    if address.startswith("unix:") and match is None:
        return _listen_address(address)
    found = _HOST_PORT.match(address)
    if found is None or int(found["port"]) > 65535 or int(found["port"]) == 0:
        raise ValueError(
            "expected host:port (port 1-65535), [v6]:port, unix:<path> or dns:///name:port"
        )
    return value


Target = Annotated[str, AfterValidator(_target)]


def _ip_of(target: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address of a `host:port` target, None when the host is a name."""
    match = _HOST_PORT.match(target)
    if match is None:
        return None
    try:
        return ipaddress.ip_address(match["host"].strip("[]"))
    except ValueError:
        return None


def _route_path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise ValueError("a route path starts with / and has no spaces")
    return value


def _page_path(value: str) -> str:
    """A path of the HTTP server's own pages (GraphQL, metrics): not a probe's."""
    if value in _PROBE_PATHS:
        raise ValueError(f"{value} is the HTTP server's probe")
    return _route_path(value)


class _Section(BaseModel):
    """Base of every settings model: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(_Section):
    """One gateway route: an HTTP path prefix served by one backend service."""

    path: Annotated[str, AfterValidator(_route_path)]
    service: ServiceName
    methods: Annotated[list[HttpMethod], Field(min_length=1)]


def _default_routes() -> list[Route]:
    return [
        Route(
            path="/api/v1/users", service="user-service", methods=["GET", "POST", "PUT", "DELETE"]
        ),
        Route(
            path="/api/v1/mindmaps",
            service="mindmap-service",
            methods=["GET", "POST", "PUT", "DELETE"],
        ),
    ]


class CircuitBreaking(_Section):
    """The breaker of each backend service (docs/policies.md): when it opens, how long it
    stays open, how it probes. On when `circuit_breaking` is among the policies."""

    consecutive_failures: Annotated[int, Field(gt=0)] = 5
    """Failures in a row that open the breaker."""
    failure_ratio: Annotated[float, Field(gt=0, le=1)] = 0.5
    """Share of failed calls over the window that opens it ..."""
    minimum_calls: Annotated[int, Field(gt=0)] = 20
    """... once at least this many calls were made in the window."""
    window_seconds: Annotated[float, Field(gt=0)] = 10.0
    """The window of the failure ratio."""
    open_seconds: Annotated[float, Field(gt=0)] = 5.0
    """How long an open breaker refuses calls before it lets probes through."""
    half_open_probes: Annotated[int, Field(gt=0)] = 1
    """Probe calls at a time while half-open; as many successes in a row close it."""


class Retries(_Section):
    """Retries of idempotent reads (the RPCs mapped to HTTP GET) that fail with UNAVAILABLE
    or CANCELLED (a backend replica unreachable, gone, or shutting down), done by gRPC
    itself (gRFC A6) with jittered exponential backoff, throttled by a budget."""

    max_attempts: Annotated[int, Field(ge=1, le=5)] = 3
    """Attempts per call, the first included (1: no retries; gRPC allows at most 5)."""
    initial_backoff_seconds: Annotated[float, Field(ge=0.01)] = 0.05
    """The first retry waits a random time up to this ... (at least 10 ms: with backoffs of
    a few milliseconds, grpc-core's retry timer can leave a call hanging for good, grpc
    issue 41036, seen here with grpcio 1.85)"""
    max_backoff_seconds: Annotated[float, Field(ge=0.01)] = 1.0
    """... the n-th up to min(initial * multiplier^(n-1), this)."""
    backoff_multiplier: Annotated[float, Field(gt=0)] = 2.0
    budget_max_tokens: Annotated[int, Field(gt=0, le=1000)] = 10
    """Retry budget (gRFC A6 `retryThrottling`): each failure costs a token, each success
    gives back `budget_token_ratio`; at half of this many tokens or fewer, no retries."""
    budget_token_ratio: Annotated[float, Field(gt=0, le=1)] = 0.1


def _method_pattern(value: str) -> str:
    service, slash, method = value.partition("/")
    if not slash or not service or not method or "/" in method:
        raise ValueError("expected <package.Service>/<Method> or <package.Service>/*")
    return value


JwtAlgorithm: TypeAlias = Literal["HS256", "RS256", "ES256"]


class ApiKey(_Section):
    """A service's API key: its name (the principal), the key's SHA-256 (hex), its roles."""

    name: Annotated[str, Field(min_length=1)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    roles: list[str] = Field(default_factory=list)


class Authentication(_Section):
    """Who may call (docs/policies.md#authentication). On when `authentication` is among the
    policies: every RPC then needs a principal, except those listed in `anonymous`."""

    jwt_secret: SecretStr | None = None
    """The HS256 key; default: the contents of `jwt_secret_file`."""
    jwt_secret_file: Path | None = None
    """Where the HS256 key is kept (default `<data_dir>/jwt-secret`, made at first start
    with 32 random bytes, readable by the owner only)."""
    jwks_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    """RS256/ES256 keys: a JWKS document at an `https://` (or `http://`) URL ..."""
    jwks_file: Path | None = None
    """... or in a file (read again when it changes)."""
    jwks_cache_seconds: Annotated[float, Field(gt=0)] = 300.0
    """How long fetched keys are trusted before the document is fetched again."""
    jwks_refresh_cooldown_seconds: Annotated[float, Field(ge=0)] = 30.0
    """A token naming an unknown key refetches the document at most this often."""
    algorithms: Annotated[list[JwtAlgorithm], Field(min_length=1)] = Field(
        default_factory=lambda: list(get_args(JwtAlgorithm))
    )
    issuer: Annotated[str, Field(min_length=1)] = "hub"
    audience: Annotated[str, Field(min_length=1)] = "hub"
    leeway_seconds: Annotated[float, Field(ge=0, le=300)] = 30.0
    """Clock skew allowed on `exp` and `nbf`."""
    api_keys: list[ApiKey] = Field(default_factory=list)
    anonymous: list[Annotated[str, AfterValidator(_method_pattern)]] = Field(default_factory=list)
    """RPCs (and so their REST routes) open without credentials:
    `hub.user.v1.UserService/CreateUser`, or `hub.user.v1.UserService/*`."""


class RateLimit(_Section):
    """A token bucket: `burst` calls at once, refilled at `rate_per_second`."""

    rate_per_second: Annotated[float, Field(gt=0)]
    burst: Annotated[int, Field(gt=0)]


class RateLimitRule(RateLimit):
    """The bucket of the RPCs `rpc` names (`<package.Service>/<Method>` or `.../*`)."""

    rpc: Annotated[str, AfterValidator(_method_pattern)]


class RateLimiting(_Section):
    """Token buckets per caller and RPC (docs/policies.md#rate-limiting). On when
    `rate_limiting` is among the policies; the first rule naming an RPC sets its bucket,
    `default` the others'."""

    default: RateLimit = Field(default_factory=lambda: RateLimit(rate_per_second=50.0, burst=100))
    rules: list[RateLimitRule] = Field(default_factory=list)
    max_keys: Annotated[int, Field(gt=0)] = 100_000
    """Buckets kept in memory at most (least recently used forgotten first)."""


class CacheRule(_Section):
    """How the reads `rpc` names are cached (`<package.Service>/<Method>` or `.../*`)."""

    rpc: Annotated[str, AfterValidator(_method_pattern)]
    ttl_seconds: Annotated[float, Field(ge=0)] | None = None
    """How long an answer is kept (0: not cached); default: `caching.ttl_seconds`."""
    cache_control: str | None = None
    """The REST routes' `Cache-Control`; default: `caching.cache_control`."""


class Caching(_Section):
    """The response cache of reads (docs/policies.md#caching). On when `caching` is among
    the policies; the first rule naming a read sets how it is cached."""

    ttl_seconds: Annotated[float, Field(ge=0)] = 30.0
    max_bytes: Annotated[int, Field(gt=0)] = 64 * 1024 * 1024
    """Memory the cache may use (keys, values and bookkeeping)."""
    cache_control: Annotated[str, Field(min_length=1)] = "private, no-cache"
    """`Cache-Control` of REST reads: by default clients revalidate (`If-None-Match`), since
    only the hub's own cache is invalidated by writes."""
    rules: list[CacheRule] = Field(default_factory=list)


class ApiGateway(_Section):
    """The SPEC §1 `api_gateway` block: `routes` choose what the REST front end exposes (a
    route entry whose path and methods cover no REST route is an error at start-up);
    `policies` lists the gateway policies in force, each set up in its own block."""

    routes: list[Route] = Field(default_factory=_default_routes)
    policies: list[Policy] = Field(default_factory=list)
    authentication: Authentication = Field(default_factory=Authentication)
    rate_limiting: RateLimiting = Field(default_factory=RateLimiting)
    caching: Caching = Field(default_factory=Caching)
    circuit_breaking: CircuitBreaking = Field(default_factory=CircuitBreaking)
    retries: Retries = Field(default_factory=Retries)


class Grpc(_Section):
    """The public gRPC front end."""

    listen: ListenAddress = "0.0.0.0:50051"
    max_message_bytes: Annotated[int, Field(gt=0)] = 4 * 1024 * 1024


class WebSocket(_Section):
    """The WebSocket endpoint `/ws` of the HTTP server (docs/websocket.md, asyncapi/hub.yaml)."""

    ping_interval_seconds: Annotated[float, Field(gt=0)] = 20.0
    """How often the server sends a ping frame to each client."""
    ping_timeout_seconds: Annotated[float, Field(gt=0)] = 20.0
    """How long a client may take to answer a ping frame before it is closed (1011)."""
    max_message_bytes: Annotated[int, Field(gt=0)] = 64 * 1024
    """Largest message a client may send; a larger one closes the connection (1009)."""
    max_subscriptions: Annotated[int, Field(gt=0)] = 100
    """Subscriptions one connection may hold at once."""


class Http(_Section):
    """The HTTP server: the REST front end (`/api/...`), its OpenAPI document and docs page,
    and the WebSocket endpoint `/ws`."""

    listen: ListenAddress = "0.0.0.0:8080"
    max_body_bytes: Annotated[int, Field(gt=0)] = 1024 * 1024
    """Largest request body; a larger one is answered 413."""
    default_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    """Deadline of the backend call when the request sets none (`X-Request-Timeout`)."""
    max_timeout_seconds: Annotated[float, Field(gt=0)] = 300.0
    """Longest deadline a request may ask for; longer ones are cut to this."""
    websocket: WebSocket = Field(default_factory=WebSocket)


class GraphQL(_Section):
    """The GraphQL front end at `path` of the HTTP server (docs/graphql.md). Every limit is
    checked on the document before any resolver runs; docs/graphql.md says why each default
    is what it is."""

    path: Annotated[str, AfterValidator(_page_path)] = "/graphql"
    graphiql: bool = True
    """Serve the GraphiQL page to browsers at `path`."""
    introspection: bool | None = None
    """Answer introspection queries; None: yes, except in the `production` profile."""
    max_depth: Annotated[int, Field(gt=0)] = 10
    """Deepest field nesting of an operation (fragments expanded)."""
    max_aliases: Annotated[int, Field(ge=0)] = 15
    """Aliased fields in a document."""
    max_tokens: Annotated[int, Field(gt=0)] = 1000
    """Lexical tokens in a document; the parser stops at the first one over."""
    max_query_length: Annotated[int, Field(gt=0)] = 16 * 1024
    """Characters in the document (a long string literal is one token)."""
    max_cost: Annotated[int, Field(gt=0)] = 50_000
    """Estimated cost of an operation: fields weighted by the page sizes above them."""
    max_batch: Annotated[int, Field(gt=0)] = 10
    """Operations in one batched HTTP request (a JSON array body)."""


class Service(_Section):
    """One backend service: where it listens in the roles that host it (`listen`; None: a
    unix socket `<data_dir>/run/<service>.sock`), and where a gateway dials it (`targets`;
    empty: its own `listen` address, for role `all`).

    Several targets are replicas that calls are spread over (gRPC `round_robin`, each
    replica health-checked); gRPC takes a list of addresses only as IP addresses of one
    family, so several entries are `ip:port` (or `[v6]:port`), and replicas behind a name
    are one `dns:///name:port` entry whose name resolves to each of them.
    """

    listen: ListenAddress | None = None
    targets: list[Target] = Field(default_factory=list)
    max_connection_age_seconds: Annotated[float, Field(gt=0)] | None = 300.0
    """How long the service's server keeps a client's connection before asking the client to
    make a new one (gRPC's `max_connection_age`, a GOAWAY, with gRPC's ±10% jitter; calls
    in flight go on for `max_connection_age_grace_seconds`). A gateway resolves a `dns:///`
    target again when a connection goes, so replicas added behind the name get calls within
    about this long. Only on a TCP `listen` (a unix socket has one client process and no
    name to resolve). None: connections are kept for ever."""
    max_connection_age_grace_seconds: Annotated[float, Field(gt=0)] = 30.0
    """How long calls still running on an aged connection may take to finish (its health
    watch, which the gateway opens again on the new connection, is cut then)."""

    @field_validator("targets")
    @classmethod
    def _several_are_ip_addresses(cls, targets: list[str]) -> list[str]:
        if len(targets) < 2:
            return targets
        ips = [_ip_of(target) for target in targets]
        if None in ips:
            raise ValueError(
                "several targets must each be ip:port (or [v6]:port); for replicas behind "
                "a host name use one dns:///name:port"
            )
        if len({ip.version for ip in ips if ip is not None}) > 1:
            raise ValueError("several targets must be IP addresses of one family (v4 or v6)")
        return targets

    def channel_target(self) -> str | None:
        """The gRPC target of `targets`: the one target as it is, several as one `ipv4:` or
        `ipv6:` address list; None without targets."""
        if len(self.targets) < 2:
            return self.targets[0] if self.targets else None
        scheme = "ipv6" if self.targets[0].startswith("[") else "ipv4"
        return f"{scheme}:{','.join(self.targets)}"


class Services(_Section):
    """Per backend service, by its name in the gateway routes."""

    user_service: Service = Field(default_factory=Service, alias="user-service")
    mindmap_service: Service = Field(default_factory=Service, alias="mindmap-service")


class Sqlite(_Section):
    """The embedded SQLite store. `None`: `<data_dir>/hub.sqlite3`."""

    path: Path | None = None


class Postgresql(_Section):
    """The PostgreSQL store (docs/architecture.md#the-postgresql-store): where the database
    is, and the bounds of each process's connection pool."""

    dsn: SecretStr = SecretStr("postgresql://localhost/hub")
    """A libpq connection URI or `key=value` string. A password is better kept out of it, in
    `PGPASSWORD` or a password file (libpq reads both); `connect_timeout` defaults to 10 s."""
    min_connections: Annotated[int, Field(ge=1)] = 1
    """Connections each process keeps open, made at start-up (which fails without them)."""
    max_connections: Annotated[int, Field(ge=1)] = 10
    """Connections each process may open at most; more work waits for one to be free."""
    acquire_timeout_seconds: Annotated[float, Field(gt=0)] = 5.0
    """How long work waits for a free connection (all in use, or none to be made because
    the database is down) before it is refused as UNAVAILABLE (psycopg_pool's own default
    is 30 s, longer than most callers' deadlines)."""

    @field_validator("max_connections")
    @classmethod
    def _at_least_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_connections")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least min_connections ({minimum})")
        return value


class Storage(_Section):
    """Persistence: `engine` chooses the store (SQLite, the embedded default, or PostgreSQL,
    which several processes can share); each engine is set up in its own block."""

    engine: Literal["sqlite", "postgresql"] = "sqlite"
    sqlite: Sqlite = Field(default_factory=Sqlite)
    postgresql: Postgresql = Field(default_factory=Postgresql)


class Shutdown(_Section):
    """Graceful drain on SIGTERM/SIGINT."""

    grace_period_seconds: Annotated[float, Field(ge=0)] = 10.0


class Events(_Section):
    """Committed domain events on their way to subscribers (WebSocket, gRPC `WatchEvents`).

    The bus keeps the latest events for subscribers that resume after a disconnect: at most
    `retention_count` of them, none older than `retention_seconds` (by commit time). Each
    subscriber may have `subscriber_queue` events waiting before it is dropped as too slow.
    The relay moves committed events to the bus at once after a write of this process, and
    looks for others every `poll_interval_ms`.
    """

    retention_count: Annotated[int, Field(gt=0)] = 10_000
    retention_seconds: Annotated[float, Field(gt=0)] = 3600.0
    subscriber_queue: Annotated[int, Field(gt=0)] = 1024
    poll_interval_ms: Annotated[int, Field(gt=0)] = 200


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _redis_url(value: str) -> str:
    if not value.startswith(_REDIS_SCHEMES):
        raise ValueError("a Redis URL: redis://host:port/db, rediss://... or unix:///path")
    return value


class Redis(_Section):
    """Shared state of a scaled-out hub. With `url` set (e.g. `redis://127.0.0.1:6379/0`),
    the event bus, the rate-limit buckets and the response cache all live in that Redis,
    under keys starting with `key_prefix:`, so that every process of a deployment shares
    them (docs/operations.md); without it everything stays in the process. A policy waits
    at most `timeout_seconds` for Redis before going on without it (docs/policies.md)."""

    url: Annotated[str, AfterValidator(_redis_url)] | None = None
    key_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]+$")] = "hub"
    timeout_seconds: Annotated[float, Field(gt=0)] = 0.5


def _metrics_path(value: str) -> str:
    if not value.startswith("/") or value.startswith("/api/") or value == "/ws":
        raise ValueError("a path starting with /, outside /api/ and other than /ws")
    return _page_path(value)


class Metrics(_Section):
    """Prometheus metrics, served by the HTTP server at `path`."""

    enabled: bool = True
    path: Annotated[str, AfterValidator(_metrics_path)] = "/metrics"


class Tracing(_Section):
    """OpenTelemetry tracing: `exporter` none (no spans at all), console (JSON on stdout), or
    otlp (gRPC to `otlp_endpoint`, e.g. Jaeger's 4317); sampled parent-based at
    `sampling_ratio` for requests that arrive without a sampling decision."""

    exporter: Literal["none", "console", "otlp"] = "none"
    sampling_ratio: Annotated[float, Field(ge=0, le=1)] = 0.1
    otlp_endpoint: str = "http://localhost:4317"
    service_name: Annotated[str, Field(min_length=1)] = "hub"


class Logging(_Section):
    """Log lines: `format` json, console (for people), or auto (console on a terminal, else
    json); `access_log`: one line per HTTP request and per RPC served."""

    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = True


class PlanPrices(_Section):
    """The monthly price of each plan, in `business.currency`."""

    free: Annotated[float, Field(ge=0)] = 0.0
    pro: Annotated[float, Field(ge=0)] = 10.0
    team: Annotated[float, Field(ge=0)] = 25.0


class Business(_Section):
    """Business metrics: a plan's monthly price is counted as revenue on each move to it
    (a signup on a paid plan, or an upgrade)."""

    currency: Annotated[str, Field(pattern="^[A-Z]{3}$")] = "USD"
    plan_prices: PlanPrices = Field(default_factory=PlanPrices)


class Observability(_Section):
    """Metrics, tracing and logs (docs/observability.md). `enabled: false` removes every
    interceptor, the HTTP middleware and `/metrics` (logging stays as configured)."""

    enabled: bool = True
    metrics: Metrics = Field(default_factory=Metrics)
    tracing: Tracing = Field(default_factory=Tracing)
    logging: Logging = Field(default_factory=Logging)
    business: Business = Field(default_factory=Business)


class Settings(_Section):
    """Everything `hub serve` needs. Build it with `load_settings`."""

    profile: Profile = "development"
    data_dir: Path = Path("hub-data")
    grpc: Grpc = Field(default_factory=Grpc)
    http: Http = Field(default_factory=Http)
    services: Services = Field(default_factory=Services)
    storage: Storage = Field(default_factory=Storage)
    shutdown: Shutdown = Field(default_factory=Shutdown)
    events: Events = Field(default_factory=Events)
    redis: Redis = Field(default_factory=Redis)
    observability: Observability = Field(default_factory=Observability)
    graphql: GraphQL = Field(default_factory=GraphQL)
    api_gateway: ApiGateway = Field(default_factory=ApiGateway)

    def graphql_introspection(self) -> bool:
        """Whether GraphQL answers introspection: as configured, else off in production."""
        configured = self.graphql.introspection
        return configured if configured is not None else self.profile != "production"

    def sqlite_path(self) -> Path:
        """The SQLite file: the configured one, else `<data_dir>/hub.sqlite3`."""
        configured = self.storage.sqlite.path
        return configured if configured is not None else self.data_dir / "hub.sqlite3"

    def service(self, service: ServiceName) -> Service:
        """The settings of one backend service."""
        match service:
            case "user-service":
                return self.services.user_service
            case "mindmap-service":
                return self.services.mindmap_service
            case _:
                assert_never(service)

    def service_listen(self, service: ServiceName) -> str:
        """Where `service` listens: the configured address, else a unix socket in the data dir."""
        configured = self.service(service).listen
        if configured is not None:
            return configured
        return f"unix:{(self.data_dir / 'run' / f'{service}.sock').absolute()}"


@dataclass(frozen=True)
class RoleParts:
    """What a process of one role runs."""

    services: tuple[ServiceName, ...]
    """The backend services it hosts, each with the store and the event relay."""
    gateway: bool
    """Whether it runs the front ends and the policies."""


ROLES: Mapping[Role, RoleParts] = {
    "all": RoleParts(services=SERVICE_NAMES, gateway=True),
    "gateway": RoleParts(services=(), gateway=True),
    "users": RoleParts(services=("user-service",), gateway=False),
    "mindmaps": RoleParts(services=("mindmap-service",), gateway=False),
}
"""`hub serve --role`: `all` (the embedded default) runs everything in one process; the
others split it, one process (or several replicas) per role."""


def check_role(settings: Settings, role: Role) -> None:
    """Raises one `ConfigError` naming each setting that `role` needs and `settings` lacks."""
    if role == "all":
        return
    problems: list[str] = []
    if settings.redis.url is None:
        problems.append(
            f"redis.url: role {role} needs Redis (the event bus, response cache and rate "
            "limits are shared between processes); set it, e.g. redis://127.0.0.1:6379/0"
        )
    parts = ROLES[role]
    if parts.gateway:
        problems.extend(
            f"services.{name}.targets: the gateway dials {name} there; set its replicas' "
            "addresses (ip:port, host:port, or dns:///name:port)"
            for name in SERVICE_NAMES
            if not settings.service(name).targets
        )
        authentication = settings.api_gateway.authentication
        if (
            "authentication" in settings.api_gateway.policies
            and "HS256" in authentication.algorithms
            and authentication.jwt_secret is None
            and authentication.jwt_secret_file is None
        ):
            problems.append(
                "api_gateway.authentication.jwt_secret: every gateway replica must check "
                "tokens with the same HS256 key; set it, or jwt_secret_file (or leave HS256 "
                "out of algorithms)"
            )
    for name in parts.services:
        listen = settings.service(name).listen
        if listen is None or listen.startswith("unix:"):
            problems.append(
                f"services.{name}.listen: role {role} serves {name} to gateways in other "
                "processes; set a TCP address (host:port, e.g. 0.0.0.0:7001)"
            )
    if problems:
        raise ConfigError(f"invalid configuration for role {role}:\n  " + "\n  ".join(problems))


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """Reads `path` (else `hub.yaml` in the working directory if present, else defaults),
    applies the `HUB_*` variables of `environ`, and validates. Raises `ConfigError`."""
    source = path if path is not None else DEFAULT_CONFIG_FILE
    data = _read_yaml(source) if path is not None or source.is_file() else {}
    origin = str(source) if path is not None or source.is_file() else "defaults"
    problems: list[str] = []
    env_keys = _apply_environment(data, environ, problems)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        problems.extend(_describe(detail, env_keys) for detail in error.errors())
    if problems:
        raise ConfigError(f"invalid configuration ({origin}):\n  " + "\n  ".join(problems))
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"configuration file {path} is not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path}: the top level must be a mapping of keys")
    return data


def _apply_environment(
    data: dict[str, Any], environ: Mapping[str, str], problems: list[str]
) -> dict[tuple[str, ...], str]:
    """Lays every `HUB_*` variable over `data`; returns which key path each one set."""
    applied: dict[tuple[str, ...], str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        segments = name[len(ENV_PREFIX) :].split(ENV_DELIMITER)
        resolved = _resolve(Settings, segments)
        if resolved is None:
            problems.append(f"{name}: no such setting")
            continue
        keys, annotation = resolved
        raw = environ[name]
        if _is_text(annotation):
            value: Any = raw
        else:
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                problems.append(f"{_dotted(keys)}: {name}={raw!r} is not a valid YAML value")
                continue
        target = data
        for key in keys[:-1]:
            child = target.get(key)
            if not isinstance(child, dict):
                child = {}
                target[key] = child
            target = child
        target[keys[-1]] = value
        applied[keys] = name
    return applied


def _resolve(model: type[BaseModel], segments: list[str]) -> tuple[tuple[str, ...], Any] | None:
    """Maps env segments (`SERVICES`, `USER_SERVICE`, `LISTEN`) to config keys and the type of
    the setting they name; None if they name no setting."""
    keys: list[str] = []
    annotation: Any = model
    for segment in segments:
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        wanted = segment.lower()
        for name, field in annotation.model_fields.items():
            key = field.alias or name
            if key.replace("-", "_") == wanted:
                keys.append(key)
                annotation = field.annotation
                break
        else:
            return None
    return tuple(keys), annotation


def _is_text(annotation: Any) -> bool:
    """True for settings whose value is text (str, secret or path, optional or not)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return all(_is_text(arg) for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) is Annotated:
        return _is_text(get_args(annotation)[0])
    return annotation in (str, SecretStr, Path)


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _describe(detail: Mapping[str, Any], env_keys: Mapping[tuple[str, ...], str]) -> str:
    loc = tuple(detail["loc"])
    message = "unknown key" if detail["type"] == "extra_forbidden" else detail["msg"]
    message = message.removeprefix("Value error, ")
    if detail["type"] not in ("missing", "extra_forbidden"):
        message += f" (got {detail['input']!r})"
    for keys, variable in env_keys.items():
        if loc[: len(keys)] == keys:
            message += f" (from {variable})"
    return f"{_dotted(loc)}: {message}"
