"""Settings: defaults, the YAML file in the SPEC §1 shape, `HUB_*` overrides, and errors that
name every bad key as a dotted path."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, Role, Route, Settings, check_role, load_settings

SPEC_GATEWAY = """\
api_gateway:
  routes:
    - path: /api/v1/users
      service: user-service
      methods: [GET, POST, PUT, DELETE]
    - path: /api/v1/mindmaps
      service: mindmap-service
      methods: [GET, POST, PUT, DELETE]
  policies: [rate_limiting, authentication, caching, circuit_breaking]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub-config.yaml"
    path.write_text(text)
    return path


def _error(path: Path | None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ or {})
    return str(raised.value)


def test_defaults_without_file_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no hub.yaml in the working directory and no HUB_* variables, every default holds."""
    monkeypatch.chdir(tmp_path)

    settings = load_settings(None, {"PATH": "/usr/bin", "HOME": "/root"})

    assert Settings() == settings
    assert "development" == settings.profile
    assert "0.0.0.0:50051" == settings.grpc.listen
    assert ("0.0.0.0:8080", 1024 * 1024, 30.0, 300.0) == (
        settings.http.listen,
        settings.http.max_body_bytes,
        settings.http.default_timeout_seconds,
        settings.http.max_timeout_seconds,
    )
    assert 10.0 == settings.shutdown.grace_period_seconds
    assert (10_000, 3600.0, 1024, 200) == (
        settings.events.retention_count,
        settings.events.retention_seconds,
        settings.events.subscriber_queue,
        settings.events.poll_interval_ms,
    )
    assert [] == settings.api_gateway.policies
    assert ["/api/v1/users", "/api/v1/mindmaps"] == [r.path for r in settings.api_gateway.routes]
    assert Path("hub-data/hub.sqlite3") == settings.sqlite_path()
    postgresql = settings.storage.postgresql
    assert ("sqlite", "postgresql://localhost/hub", 1, 10) == (
        settings.storage.engine,
        postgresql.dsn.get_secret_value(),
        postgresql.min_connections,
        postgresql.max_connections,
    )
    sockets = tmp_path / "hub-data" / "run"
    assert f"unix:{sockets / 'user-service.sock'}" == settings.service_listen("user-service")
    assert f"unix:{sockets / 'mindmap-service.sock'}" == settings.service_listen("mindmap-service")


def test_hub_yaml_in_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --config, ./hub.yaml is the configuration."""
    (tmp_path / "hub.yaml").write_text("grpc:\n  listen: 127.0.0.1:7000\n")
    monkeypatch.chdir(tmp_path)

    assert "127.0.0.1:7000" == load_settings(None, {}).grpc.listen


def test_yaml_file_in_the_spec_shape(tmp_path: Path) -> None:
    """The SPEC §1 gateway block is accepted as written there, next to the other sections."""
    path = _write(
        tmp_path,
        SPEC_GATEWAY
        + """\
profile: production
data_dir: /var/lib/hub
grpc: {listen: "[::]:50051", max_message_bytes: 1048576}
services:
  user-service: {listen: "127.0.0.1:0"}
  mindmap-service: {listen: "unix:/run/hub/mindmaps.sock"}
storage: {sqlite: {path: /data/hub.db}}
shutdown: {grace_period_seconds: 2.5}
http: {listen: "127.0.0.1:8081", max_body_bytes: 65536, default_timeout_seconds: 5}
""",
    )

    settings = load_settings(path, {})

    assert [
        Route(
            path="/api/v1/users", service="user-service", methods=["GET", "POST", "PUT", "DELETE"]
        ),
        Route(
            path="/api/v1/mindmaps",
            service="mindmap-service",
            methods=["GET", "POST", "PUT", "DELETE"],
        ),
    ] == settings.api_gateway.routes
    assert [
        "rate_limiting",
        "authentication",
        "caching",
        "circuit_breaking",
    ] == settings.api_gateway.policies
    assert "production" == settings.profile
    assert "[::]:50051" == settings.grpc.listen
    assert 1048576 == settings.grpc.max_message_bytes
    assert "127.0.0.1:0" == settings.service_listen("user-service")
    assert "unix:/run/hub/mindmaps.sock" == settings.service_listen("mindmap-service")
    assert Path("/data/hub.db") == settings.sqlite_path()
    assert 2.5 == settings.shutdown.grace_period_seconds
    assert ("127.0.0.1:8081", 65536, 5.0) == (
        settings.http.listen,
        settings.http.max_body_bytes,
        settings.http.default_timeout_seconds,
    )


def test_postgresql_storage_from_the_file_and_the_environment(tmp_path: Path) -> None:
    """The engine and pool bounds come from the file; the DSN, a secret, from the environment,
    taken as it is (not parsed as YAML) and kept out of the settings' repr."""
    path = _write(
        tmp_path,
        "storage: {engine: postgresql, postgresql: {min_connections: 2, max_connections: 20}}\n",
    )
    dsn = "postgresql://hub:1234@db.internal:5433/hub?sslmode=require"

    settings = load_settings(path, {"HUB_STORAGE__POSTGRESQL__DSN": dsn})

    postgresql = settings.storage.postgresql
    assert ("postgresql", dsn, 2, 20) == (
        settings.storage.engine,
        postgresql.dsn.get_secret_value(),
        postgresql.min_connections,
        postgresql.max_connections,
    )
    assert "1234" not in repr(settings)


def test_a_secret_from_the_environment_is_text_even_when_it_looks_like_a_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {"HUB_API_GATEWAY__AUTHENTICATION__JWT_SECRET": "12345"}

    secret = load_settings(None, environ).api_gateway.authentication.jwt_secret

    assert secret is not None
    assert "12345" == secret.get_secret_value()


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    """An empty (or comments-only) file configures nothing."""
    assert Settings() == load_settings(_write(tmp_path, "# nothing yet\n"), {})


def test_environment_overrides_nested_keys_and_coerces_types(tmp_path: Path) -> None:
    """HUB_ + upper-case key path with __ between levels; `_` stands for `-` in key names;
    text settings are taken as they are, the others parsed as YAML."""
    path = _write(tmp_path, "grpc: {listen: 127.0.0.1:1}\nshutdown: {grace_period_seconds: 9}\n")
    environ = {
        "HUB_GRPC__LISTEN": "[::]:6000",
        "HUB_GRPC__MAX_MESSAGE_BYTES": "1024",
        "HUB_SHUTDOWN__GRACE_PERIOD_SECONDS": "3",
        "HUB_STORAGE__SQLITE__PATH": "/tmp/x.db",
        "HUB_SERVICES__USER_SERVICE__LISTEN": "127.0.0.1:0",
        "HUB_API_GATEWAY__POLICIES": "[caching, authentication]",
        "HUB_PROFILE": "production",
        "HUB_DATA_DIR": "/srv/hub",
        "OTHER_SETTING": "ignored",
    }

    settings = load_settings(path, environ)

    assert "[::]:6000" == settings.grpc.listen
    assert 1024 == settings.grpc.max_message_bytes
    assert 3.0 == settings.shutdown.grace_period_seconds
    assert Path("/tmp/x.db") == settings.sqlite_path()
    assert "127.0.0.1:0" == settings.service_listen("user-service")
    assert ["caching", "authentication"] == settings.api_gateway.policies
    assert "production" == settings.profile
    assert "unix:/srv/hub/run/mindmap-service.sock" == settings.service_listen("mindmap-service")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "api_gateway: {routes: [{path: /a, service: user-service, methods: [GET, FETCH]}]}",
            "api_gateway.routes[0].methods[1]: Input should be 'GET', 'POST', 'PUT', 'PATCH' or"
            " 'DELETE' (got 'FETCH')",
        ),
        (
            "api_gateway:\n  routes:\n    - {path: /a, service: users, methods: [GET]}",
            "api_gateway.routes[0].service: Input should be 'user-service' or 'mindmap-service'",
        ),
        (
            "api_gateway:\n  routes:\n    - {path: a, service: user-service, methods: [GET]}",
            "api_gateway.routes[0].path: a route path starts with / and has no spaces",
        ),
        (
            "api_gateway:\n  routes:\n    - {path: /a, service: user-service, methods: []}",
            "api_gateway.routes[0].methods: List should have at least 1 item",
        ),
        (
            "api_gateway:\n  routes:\n    - {path: /a, methods: [GET]}",
            "api_gateway.routes[0].service: Field required",
        ),
        (
            "api_gateway: {policies: [rate_limiting, teleport]}",
            "api_gateway.policies[1]: Input should be 'rate_limiting', 'authentication',"
            " 'caching' or 'circuit_breaking' (got 'teleport')",
        ),
        (
            "api_gateway: {retries: {initial_backoff_seconds: 0.001}}",
            "api_gateway.retries.initial_backoff_seconds: Input should be greater than or equal"
            " to 0.01",
        ),
        (
            "api_gateway: {circuit_breaking: {failure_ratio: 1.5}}",
            "api_gateway.circuit_breaking.failure_ratio: Input should be less than or equal to 1",
        ),
        (
            "api_gateway: {authentication: {anonymous: [CreateUser]}}",
            "api_gateway.authentication.anonymous[0]: expected <package.Service>/<Method>",
        ),
        ("grpc: {lsten: 127.0.0.1:1}", "grpc.lsten: unknown key"),
        ("grpcc: {}", "grpcc: unknown key"),
        (
            "grpc: {listen: localhost}",
            "grpc.listen: expected host:port (port 0-65535) or unix:<path> (got 'localhost')",
        ),
        ("grpc: {listen: '127.0.0.1:70000'}", "grpc.listen: expected host:port"),
        ("grpc: {max_message_bytes: 0}", "grpc.max_message_bytes: Input should be greater than 0"),
        (
            "services: {user-service: {listen: 'unix:'}}",
            "services.user-service.listen: a unix socket address needs a path",
        ),
        ("services: {search-service: {}}", "services.search-service: unknown key"),
        (
            "services: {user-service: {targets: [users]}}",
            "services.user-service.targets[0]: expected host:port (port 1-65535), [v6]:port,"
            " unix:<path> or dns:///name:port (got 'users')",
        ),
        (
            "services: {user-service: {targets: ['dns:///users']}}",
            "services.user-service.targets[0]: expected host:port",
        ),
        (
            "services: {user-service: {targets: ['10.0.0.1:0']}}",
            "services.user-service.targets[0]: expected host:port (port 1-65535)",
        ),
        (
            "services: {user-service: {targets: ['users-1:7001', 'users-2:7001']}}",
            "services.user-service.targets: several targets must each be ip:port (or"
            " [v6]:port); for replicas behind a host name use one dns:///name:port",
        ),
        (
            "services: {user-service: {targets: ['10.0.0.1:7001', '[fd00::2]:7001']}}",
            "services.user-service.targets: several targets must be IP addresses of one family",
        ),
        (
            "observability: {metrics: {path: /readyz}}",
            "observability.metrics.path: /readyz is the HTTP server's probe",
        ),
        ("graphql: {path: /healthz}", "graphql.path: /healthz is the HTTP server's probe"),
        ("storage: {sqlite: {file: x.db}}", "storage.sqlite.file: unknown key"),
        (
            "storage: {engine: mysql}",
            "storage.engine: Input should be 'sqlite' or 'postgresql' (got 'mysql')",
        ),
        (
            "storage: {postgresql: {min_connections: 0}}",
            "storage.postgresql.min_connections: Input should be greater than or equal to 1",
        ),
        (
            "storage: {postgresql: {min_connections: 5, max_connections: 4}}",
            "storage.postgresql.max_connections: must be at least min_connections (5) (got 4)",
        ),
        ("storage: {postgresql: {url: x}}", "storage.postgresql.url: unknown key"),
        (
            "shutdown: {grace_period_seconds: -1}",
            "shutdown.grace_period_seconds: Input should be greater than or equal to 0",
        ),
        ("profile: staging", "profile: Input should be 'development' or 'production'"),
        (
            "events: {subscriber_queue: 0}",
            "events.subscriber_queue: Input should be greater than 0",
        ),
        ("events: {retention: 5}", "events.retention: unknown key"),
        (
            "observability: {tracing: {sampling_ratio: 1.5}}",
            "observability.tracing.sampling_ratio: Input should be less than or equal to 1",
        ),
        (
            "observability: {tracing: {exporter: jaeger}}",
            "observability.tracing.exporter: Input should be 'none', 'console' or 'otlp'",
        ),
        (
            "observability: {metrics: {path: /api/v1/metrics}}",
            "observability.metrics.path: a path starting with /, outside /api/",
        ),
        (
            "observability: {business: {plan_prices: {gold: 3}}}",
            "observability.business.plan_prices.gold: unknown key",
        ),
        (
            "observability: {business: {currency: euro}}",
            "observability.business.currency: String should match pattern",
        ),
        (
            "observability: {logging: {format: xml}}",
            "observability.logging.format: Input should be 'auto', 'json' or 'console'",
        ),
        (
            "redis: {url: 'localhost:6379'}",
            "redis.url: a Redis URL: redis://host:port/db, rediss://... or unix:///path",
        ),
        ("redis: {key_prefix: 'hub *'}", "redis.key_prefix: String should match pattern"),
        ("redis: {timeout_seconds: 0}", "redis.timeout_seconds: Input should be greater than 0"),
    ],
)
def test_bad_file_names_the_dotted_key(tmp_path: Path, text: str, expected: str) -> None:
    """Each bad key is reported as a dotted path with the reason, under the file's name."""
    path = _write(tmp_path, text)

    message = _error(path)

    assert message.startswith(f"invalid configuration ({path}):")
    assert expected in message


def test_every_bad_key_is_reported_at_once(tmp_path: Path) -> None:
    """One ConfigError lists all problems, one per line, not just the first."""
    path = _write(tmp_path, "grpc: {lsten: x}\nprofile: staging\napi_gateway: {policies: [x]}\n")

    lines = _error(path).splitlines()[1:]

    assert [
        "profile: Input should be 'development' or 'production' (got 'staging')",
        "grpc.lsten: unknown key",
        "api_gateway.policies[0]: Input should be 'rate_limiting', 'authentication', 'caching'"
        " or 'circuit_breaking' (got 'x')",
    ] == [line.strip() for line in lines]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HUB_GRPC__LSTEN": "x"}, "HUB_GRPC__LSTEN: no such setting"),
        ({"HUB_NOPE": "1"}, "HUB_NOPE: no such setting"),
        ({"HUB_GRPC__LISTEN__PORT": "1"}, "HUB_GRPC__LISTEN__PORT: no such setting"),
        (
            {"HUB_SHUTDOWN__GRACE_PERIOD_SECONDS": "soon"},
            "shutdown.grace_period_seconds: Input should be a valid number, unable to parse"
            " string as a number (got 'soon') (from HUB_SHUTDOWN__GRACE_PERIOD_SECONDS)",
        ),
        (
            {"HUB_GRPC__LISTEN": "nowhere"},
            "grpc.listen: expected host:port (port 0-65535) or unix:<path> (got 'nowhere')"
            " (from HUB_GRPC__LISTEN)",
        ),
        (
            {"HUB_API_GATEWAY__POLICIES": "[caching"},
            "api_gateway.policies: HUB_API_GATEWAY__POLICIES='[caching' is not a valid YAML value",
        ),
    ],
)
def test_bad_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], expected: str
) -> None:
    """Unknown HUB_* variables are errors, and a bad value names the variable it came from."""
    monkeypatch.chdir(tmp_path)

    message = _error(None, environ)

    assert message.startswith("invalid configuration (defaults):")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("grpc: [listen", "is not valid YAML"),
        ("- a\n- b\n", "the top level must be a mapping of keys"),
    ],
)
def test_unreadable_file_is_a_config_error(tmp_path: Path, text: str, expected: str) -> None:
    """Broken YAML and a non-mapping top level are reported with the file's name."""
    path = _write(tmp_path, text)

    message = _error(path)

    assert str(path) in message
    assert expected in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A --config path that does not exist is an error, not a silent fallback to defaults."""
    path = tmp_path / "absent.yaml"

    assert f"cannot read configuration file {path}: No such file or directory" == _error(path)


def test_example_config_is_valid() -> None:
    """hub.example.yaml, the documented example, loads and holds the SPEC §1 gateway block."""
    example = Path(__file__).resolve().parents[1] / "hub.example.yaml"

    settings = load_settings(example, {})

    assert Settings().grpc == settings.grpc
    assert Settings().http == settings.http
    assert Settings().observability == settings.observability
    assert 4 == len(settings.api_gateway.policies)
    assert ["user-service", "mindmap-service"] == [r.service for r in settings.api_gateway.routes]


def test_observability_settings_from_the_environment(tmp_path: Path) -> None:
    """Sampling ratio, exporter and a plan price, set by HUB_OBSERVABILITY__* variables."""
    settings = load_settings(
        _write(tmp_path, ""),
        {
            "HUB_OBSERVABILITY__TRACING__SAMPLING_RATIO": "0.25",
            "HUB_OBSERVABILITY__TRACING__EXPORTER": "otlp",
            "HUB_OBSERVABILITY__BUSINESS__PLAN_PRICES__TEAM": "30",
        },
    )

    tracing = settings.observability.tracing
    assert (0.25, "otlp", 30.0) == (
        tracing.sampling_ratio,
        tracing.exporter,
        settings.observability.business.plan_prices.team,
    )


@pytest.mark.parametrize(
    ("targets", "channel_target"),
    [
        ([], None),
        (["users.internal:7001"], "users.internal:7001"),
        (["dns:///users-headless.hub.svc:7001"], "dns:///users-headless.hub.svc:7001"),
        (["dns://10.0.0.53/users.test:7001"], "dns://10.0.0.53/users.test:7001"),
        (["unix:/run/hub/users.sock"], "unix:/run/hub/users.sock"),
        (["10.0.0.1:7001", "10.0.0.2:7002"], "ipv4:10.0.0.1:7001,10.0.0.2:7002"),
        (["[fd00::1]:7001", "[fd00::2]:7001"], "ipv6:[fd00::1]:7001,[fd00::2]:7001"),
    ],
)
def test_targets_become_one_grpc_target(targets: list[str], channel_target: str | None) -> None:
    """One target is dialled as written; several IP addresses become one address list that
    gRPC's round_robin spreads calls over."""
    settings = Settings.model_validate({"services": {"user-service": {"targets": targets}}})

    assert channel_target == settings.service("user-service").channel_target()


def test_targets_from_the_environment(tmp_path: Path) -> None:
    """A list of targets is one HUB_* variable, in YAML flow syntax."""
    settings = load_settings(
        None, {"HUB_SERVICES__MINDMAP_SERVICE__TARGETS": "[10.0.0.1:7002, 10.0.0.2:7002]"}
    )

    assert ["10.0.0.1:7002", "10.0.0.2:7002"] == settings.service("mindmap-service").targets


_SPLIT = {
    "redis": {"url": "redis://127.0.0.1:6379/0"},
    "services": {
        "user-service": {"listen": "0.0.0.0:7001", "targets": ["dns:///users:7001"]},
        "mindmap-service": {"listen": "0.0.0.0:7002", "targets": ["dns:///mindmaps:7002"]},
    },
}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            "gateway",
            [
                "redis.url: role gateway needs Redis (the event bus, response cache and rate"
                " limits are shared between processes); set it, e.g. redis://127.0.0.1:6379/0",
                "services.user-service.targets: the gateway dials user-service there; set its"
                " replicas' addresses (ip:port, host:port, or dns:///name:port)",
                "services.mindmap-service.targets: the gateway dials mindmap-service there; set"
                " its replicas' addresses (ip:port, host:port, or dns:///name:port)",
            ],
        ),
        (
            "users",
            [
                "redis.url: role users needs Redis (the event bus, response cache and rate"
                " limits are shared between processes); set it, e.g. redis://127.0.0.1:6379/0",
                "services.user-service.listen: role users serves user-service to gateways in"
                " other processes; set a TCP address (host:port, e.g. 0.0.0.0:7001)",
            ],
        ),
    ],
)
def test_a_role_names_every_setting_it_lacks(role: Role, expected: list[str]) -> None:
    """The defaults (everything in one process) suit no split role: each missing setting
    is named, with what to set."""
    with pytest.raises(ConfigError) as raised:
        check_role(Settings(), role)

    lines = str(raised.value).splitlines()
    assert f"invalid configuration for role {role}:" == lines[0]
    assert expected == [line.strip() for line in lines[1:]]


def test_a_backend_role_on_a_unix_socket_is_refused() -> None:
    """Gateways in other processes (other hosts) cannot dial a unix socket."""
    settings = Settings.model_validate(
        {**_SPLIT, "services": {"mindmap-service": {"listen": "unix:/run/hub/mindmaps.sock"}}}
    )

    with pytest.raises(ConfigError) as raised:
        check_role(settings, "mindmaps")

    assert "services.mindmap-service.listen: role mindmaps serves mindmap-service to" in str(
        raised.value
    )


def test_gateway_replicas_must_share_the_hs256_key() -> None:
    """With authentication on and HS256 allowed, each gateway would otherwise make its own
    random key, and refuse the tokens the others signed."""
    gateway = {"policies": ["authentication"]}
    settings = Settings.model_validate({**_SPLIT, "api_gateway": gateway})

    with pytest.raises(ConfigError) as raised:
        check_role(settings, "gateway")

    assert (
        "api_gateway.authentication.jwt_secret: every gateway replica must check tokens with"
        " the same HS256 key; set it, or jwt_secret_file (or leave HS256 out of algorithms)"
    ) == str(raised.value).splitlines()[1].strip()
    shared = {**gateway, "authentication": {"jwt_secret_file": "/run/secrets/jwt"}}
    check_role(Settings.model_validate({**_SPLIT, "api_gateway": shared}), "gateway")


def test_redis_settings_from_the_environment(tmp_path: Path) -> None:
    """Without `redis.url` state stays in the process; HUB_REDIS__* set the URL and prefix."""
    default = load_settings(_write(tmp_path, ""), {})
    settings = load_settings(
        _write(tmp_path, ""),
        {"HUB_REDIS__URL": "redis://10.0.0.5:6379/2", "HUB_REDIS__KEY_PREFIX": "hub-eu"},
    )

    assert (None, "hub", 0.5) == (
        default.redis.url,
        default.redis.key_prefix,
        default.redis.timeout_seconds,
    )
    assert ("redis://10.0.0.5:6379/2", "hub-eu") == (settings.redis.url, settings.redis.key_prefix)
