"""The composition root's own rules: how servers claim their addresses, which REST routes the
gateway config exposes, and that a hub that cannot start leaves nothing behind."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from grpc import aio

from hub.app import Hub
from hub.config import ROLES, ApiGateway, ConfigError, Role, Settings
from hub.listening import ListenError, dial_target, listen, listen_socket, server_options
from hub.parts.gateway import rest_routes
from hub.testing import harness_settings, running_hub


@pytest.mark.parametrize(
    ("bound", "target"),
    [
        ("0.0.0.0:50051", "127.0.0.1:50051"),
        ("[::]:50051", "[::1]:50051"),
        ("10.1.2.3:7000", "10.1.2.3:7000"),
        ("unix:/run/hub/users.sock", "unix:/run/hub/users.sock"),
    ],
)
def test_dial_target_of_a_bound_address(bound: str, target: str) -> None:
    """A wildcard bind is dialled on loopback; any other address as it is."""
    assert target == dial_target(bound)


async def test_port_zero_reports_the_actual_port() -> None:
    """Binding port 0 returns the port the system chose, so clients can dial it."""
    server = aio.server(options=server_options(1024))

    bound = listen(server, "127.0.0.1:0")

    host, port = bound.rsplit(":", 1)
    assert "127.0.0.1" == host
    assert int(port) > 0
    await server.stop(None)


async def test_used_tcp_port_is_refused_by_name() -> None:
    """A port another socket listens on fails with the address and the system's reason."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        server = aio.server(options=server_options(1024))

        with pytest.raises(ListenError) as raised:
            listen(server, address)

    assert f"cannot listen on {address}: address already in use" == str(raised.value)
    await server.stop(None)


async def test_stale_unix_socket_is_replaced(tmp_path: Path) -> None:
    """A socket file whose server died (nothing accepts on it) is removed and bound anew,
    the run folder being created on the way."""
    path = tmp_path / "run" / "users.sock"
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))  # bound, never listening: what a killed server leaves
    server = aio.server(options=server_options(1024))

    assert f"unix:{path}" == listen(server, f"unix:{path}")
    await server.start()
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(path))
    await server.stop(None)


async def test_live_unix_socket_is_left_alone(tmp_path: Path) -> None:
    """A socket something listens on is never taken over."""
    path = tmp_path / "users.sock"
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(path))
        live.listen()
        server = aio.server(options=server_options(1024))

        with pytest.raises(ListenError) as raised:
            listen(server, f"unix:{path}")

        assert f"cannot listen on unix:{path}: address already in use" == str(raised.value)
        assert path.is_socket()
    await server.stop(None)


async def test_regular_file_in_the_socket_path_is_refused(tmp_path: Path) -> None:
    """A regular file where the socket goes is reported, never deleted."""
    path = tmp_path / "users.sock"
    path.write_text("notes")
    server = aio.server(options=server_options(1024))

    with pytest.raises(ListenError) as raised:
        listen(server, f"unix:{path}")

    assert f"cannot listen on unix:{path}: a file that is not a socket is in the way" == str(
        raised.value
    )
    assert "notes" == path.read_text()
    await server.stop(None)


async def test_too_long_socket_path_is_refused(tmp_path: Path) -> None:
    """Unix socket paths have a hard limit; exceeding it is named, not left to grpc."""
    address = f"unix:{tmp_path / ('x' * 120)}.sock"
    server = aio.server(options=server_options(1024))

    with pytest.raises(ListenError) as raised:
        listen(server, address)

    assert f"cannot listen on {address}: the path is longer than 107 bytes" == str(raised.value)
    await server.stop(None)


async def test_failed_start_stops_what_had_started(tmp_path: Path) -> None:
    """A hub whose front-end port is taken raises ListenError and leaves its backends stopped
    (their sockets gone) so a later hub on the same folder can start."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        settings = harness_settings(tmp_path, "unix", grpc={"listen": f"127.0.0.1:{port}"})
        with pytest.raises(ListenError):
            await Hub(settings).start()

    assert [] == sorted((tmp_path / "run").iterdir())
    async with running_hub(tmp_path) as running:
        assert running.hub.grpc_address


def _gateway(*routes: tuple[str, str, list[str]]) -> ApiGateway:
    return ApiGateway.model_validate(
        {"routes": [{"path": p, "service": s, "methods": m} for p, s, m in routes]}
    )


def test_default_gateway_exposes_every_route_but_patch() -> None:
    """SPEC §1's routes: GET/POST/PUT/DELETE of both services; PATCH bindings stay out."""
    exposed = [(r.http_method, r.method.name) for r in rest_routes(ApiGateway())]

    assert [
        ("POST", "CreateUser"),
        ("GET", "GetUser"),
        ("GET", "BatchGetUsers"),
        ("GET", "ListUsers"),
        ("PUT", "UpdateUser"),
        ("DELETE", "DeleteUser"),
        ("POST", "CreateMindmap"),
        ("GET", "GetMindmap"),
        ("GET", "BatchGetMindmaps"),
        ("GET", "ListMindmaps"),
        ("GET", "BatchListMindmaps"),
        ("PUT", "UpdateMindmap"),
        ("DELETE", "DeleteMindmap"),
        ("POST", "AddNode"),
        ("PUT", "UpdateNode"),
        ("POST", "MoveNode"),
        ("DELETE", "DeleteNode"),
    ] == exposed


def test_gateway_route_is_a_segment_aligned_prefix_of_one_service() -> None:
    """A narrower path exposes less; a route is only exposed for its own service."""
    gateway = _gateway(("/api/v1/mindmaps", "mindmap-service", ["DELETE"]))

    exposed = [(r.http_method, r.template.source) for r in rest_routes(gateway)]

    assert [
        ("DELETE", "/api/v1/mindmaps/{id}"),
        ("DELETE", "/api/v1/mindmaps/{mindmap_id}/nodes/{node_id}"),
    ] == exposed


def test_gateway_entries_that_expose_nothing_are_config_errors() -> None:
    """A misspelt path or a path of another service: each named as the key it is, all at
    once; the valid entries beside them are no error (a trailing slash is no different
    from none, and mindmaps do have PATCH routes, exposed when listed)."""
    gateway = _gateway(
        ("/api/v1/user", "user-service", ["GET"]),
        ("/api/v1/users", "mindmap-service", ["GET"]),
        ("/api/v1/mindmaps/", "mindmap-service", ["GET", "PATCH"]),
    )

    with pytest.raises(ConfigError) as raised:
        rest_routes(gateway)

    assert (
        "invalid configuration:\n"
        "  api_gateway.routes[0].methods[0]: user-service has no GET route under /api/v1/user\n"
        "  api_gateway.routes[1].methods[0]: mindmap-service has no GET route under "
        "/api/v1/users"
    ) == str(raised.value)


def test_listen_socket_reports_the_actual_port() -> None:
    """Port 0 binds a free port, which the bound address names."""
    listening, bound = listen_socket("127.0.0.1:0")
    with listening:
        assert f"127.0.0.1:{listening.getsockname()[1]}" == bound


async def test_used_http_port_is_refused_by_name(tmp_path: Path) -> None:
    """The HTTP server's port taken: ListenError with the system's reason, and the rest of
    the hub, started before it, stopped again."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        settings = harness_settings(tmp_path, "unix", http={"listen": address})
        with pytest.raises(ListenError) as raised:
            await Hub(settings).start()

    assert f"cannot listen on {address}: address already in use" == str(raised.value)
    assert [] == sorted((tmp_path / "run").iterdir())


async def test_http_on_a_unix_socket(tmp_path: Path) -> None:
    """`http.listen: unix:<path>` serves there, and the socket file goes with the hub."""
    path = tmp_path / "run" / "http.sock"
    async with running_hub(tmp_path, http={"listen": f"unix:{path}"}) as running:
        transport = httpx.AsyncHTTPTransport(uds=str(path))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            listed = await http.get("/api/v1/users")
        assert f"unix:{path}" == running.hub.http_address

    assert (200, {"users": [], "nextPageToken": ""}) == (listed.status_code, listed.json())
    assert not path.exists()


_SPLIT = {
    "redis": {"url": "redis://127.0.0.1:6379/0"},
    "services": {
        "user-service": {"listen": "127.0.0.1:7001", "targets": ["10.0.0.1:7001"]},
        "mindmap-service": {"listen": "127.0.0.1:7002", "targets": ["dns:///mindmaps:7002"]},
    },
}


@pytest.mark.parametrize(
    ("role", "parts"),
    [
        ("all", (("user-service", "mindmap-service"), True)),
        ("gateway", ((), True)),
        ("users", (("user-service",), False)),
        ("mindmaps", (("mindmap-service",), False)),
    ],
)
def test_a_role_builds_its_parts_only(
    tmp_path: Path, role: Role, parts: tuple[tuple[str, ...], bool]
) -> None:
    """What each role runs: the backend side (with the services it hosts) and the gateway
    side, as config.ROLES says."""
    hub = Hub(Settings.model_validate({"data_dir": tmp_path, **_SPLIT}), role=role)

    assert (ROLES[role].services, ROLES[role].gateway) == parts
    assert (hub.backends is not None, hub.gateway is not None) == (bool(parts[0]), parts[1])


def test_a_gateway_has_no_store_and_a_backend_no_policies(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path, **_SPLIT})

    with pytest.raises(LookupError, match="a hub of role gateway hosts no backend service"):
        _ = Hub(settings, role="gateway").store
    with pytest.raises(LookupError, match="a hub of role users runs no gateway"):
        _ = Hub(settings, role="users").policies


def test_a_role_the_settings_do_not_suit_is_refused_before_anything_is_built(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="invalid configuration for role mindmaps"):
        Hub(Settings.model_validate({"data_dir": tmp_path}), role="mindmaps")

    assert [] == list(tmp_path.iterdir())
