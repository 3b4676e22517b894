"""The `hub` command's own behaviour: version, usage errors, config errors, `hub gen`.
(`hub serve` running, draining and clashing is tested end to end in tests/e2e.)"""

from __future__ import annotations

import shutil
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from hub.cli import main

CHECKOUT = Path(__file__).resolve().parents[1]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`hub --version` prints the installed package's version."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert 0 == exited.value.code
    assert f"hub {version('hub')}\n" == capsys.readouterr().out


def test_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    """Plain `hub` is a usage error (exit 2) that lists the commands."""
    with pytest.raises(SystemExit) as exited:
        main([])

    assert 2 == exited.value.code
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err


def test_serve_with_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad config is reported on stderr by key, with exit code 2 and nothing started."""
    config = tmp_path / "hub.yaml"
    config.write_text("grpc: {listen: nowhere}\n")

    assert 2 == main(["serve", "--config", str(config)])
    assert (
        f"hub: invalid configuration ({config}):\n"
        "  grpc.listen: expected host:port (port 0-65535) or unix:<path> (got 'nowhere')\n"
    ) == capsys.readouterr().err


def test_serve_with_a_gateway_route_that_exposes_nothing_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gateway route whose path matches no REST route (a typo) stops `hub serve` with
    exit 2 before anything starts, naming the entry and method."""
    config = tmp_path / "hub.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "api_gateway:\n"
        "  routes: [{path: /api/v1/user, service: user-service, methods: [GET]}]\n"
    )

    assert 2 == main(["serve", "--config", str(config)])
    assert (
        "hub: invalid configuration:\n"
        "  api_gateway.routes[0].methods[0]: user-service has no GET route under /api/v1/user\n"
    ) == capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_serve_with_a_malformed_postgresql_dsn_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DSN that libpq cannot parse stops `hub serve` with exit 2 before anything starts,
    naming the key, without repeating the DSN (it may hold a password)."""
    config = tmp_path / "hub.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "storage: {engine: postgresql, postgresql: {dsn: 'host=db password=pw1 port'}}\n"
    )

    assert 2 == main(["serve", "--config", str(config)])
    assert (
        "hub: invalid configuration:\n"
        '  storage.postgresql.dsn: not a libpq connection string: missing "=" after "port"'
        " in connection info string\n"
    ) == capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_serve_with_missing_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --config file that does not exist is a config error, not a start on defaults."""
    config = tmp_path / "absent.yaml"

    assert 2 == main(["serve", "--config", str(config)])
    assert (
        f"hub: cannot read configuration file {config}: No such file or directory\n"
        == capsys.readouterr().err
    )


def test_gen_outside_a_checkout_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hub gen` needs the proto/ folder of a checkout in the working directory."""
    monkeypatch.chdir(tmp_path)

    assert 1 == main(["gen"])
    assert f"hub gen: no proto/ in {tmp_path}; run it in a checkout\n" == capsys.readouterr().err


def _copy_protos(target: Path) -> None:
    for folder in ("proto", "third_party"):
        shutil.copytree(CHECKOUT / folder, target / folder)


def test_gen_without_generator_names_the_missing_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without grpc_tools (the dev extra), `hub gen` says what to install."""
    _copy_protos(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "grpc_tools", None)  # as if it were not installed

    assert 1 == main(["gen"])
    assert (
        "hub gen: grpc_tools is missing; install the dev extra: pip install -e '.[dev]'\n"
        == capsys.readouterr().err
    )


def test_gen_in_a_checkout_writes_the_contracts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """`hub gen` compiles the checkout's protos into its hub/contracts, then writes the
    OpenAPI, AsyncAPI and GraphQL documents made from them (in fresh interpreters: their
    output is on the fd)."""
    _copy_protos(tmp_path)
    monkeypatch.chdir(tmp_path)

    assert 0 == main(["gen"])
    contracts = tmp_path / "hub" / "contracts"
    document = tmp_path / "openapi" / "hub.openapi.json"
    events = tmp_path / "asyncapi" / "hub.yaml"
    sdl = tmp_path / "graphql" / "schema.graphql"
    expected = f"generated {contracts}\ngenerated {document}\ngenerated {events}\ngenerated {sdl}\n"
    assert expected == capfd.readouterr().out
    assert sdl.is_file()
    assert (contracts / "user" / "v1" / "user_pb2_grpc.py").is_file()
    assert document.is_file()
    assert events.is_file()


def test_serve_as_a_split_role_without_its_settings_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--role gateway` on the embedded defaults: every setting it lacks is named, exit 2,
    nothing started."""
    config = tmp_path / "hub.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")

    assert 2 == main(["serve", "--config", str(config), "--role", "gateway"])
    assert [
        "hub: invalid configuration for role gateway:",
        "  redis.url: role gateway needs Redis (the event bus, response cache and rate limits"
        " are shared between processes); set it, e.g. redis://127.0.0.1:6379/0",
        "  services.user-service.targets: the gateway dials user-service there; set its"
        " replicas' addresses (ip:port, host:port, or dns:///name:port)",
        "  services.mindmap-service.targets: the gateway dials mindmap-service there; set its"
        " replicas' addresses (ip:port, host:port, or dns:///name:port)",
    ] == capsys.readouterr().err.splitlines()
    assert not (tmp_path / "data").exists()


def test_serve_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--role", "frontend"])

    assert 2 == exited.value.code
    assert (
        "argument --role: invalid choice: 'frontend' (choose from 'all', 'gateway', 'users',"
        " 'mindmaps')" in capsys.readouterr().err
    )
