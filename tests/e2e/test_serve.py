"""`hub serve` as a user runs it: a subprocess with a config file, spoken to over real sockets.

Each test writes a config (free ports, its own data folder), starts the console script, waits
for the "listening" log lines and for health SERVING, then drives it with a gRPC client (and
an HTTP client, for the REST front end).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
import pytest
import yaml
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    GetMindmapRequest,
    ListMindmapsRequest,
    Mindmap,
    MoveNodeRequest,
    Node,
)
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    GetUserRequest,
    ListUsersRequest,
    User,
)
from hub.storage.sqlite_schema import LATEST_VERSION
from tests.backings import StorageSection
from tests.postgres import fresh_schema

pytestmark = pytest.mark.e2e

HUB = Path(sys.executable).with_name("hub")
GRACE_SECONDS = 5.0
STARTUP_SECONDS = 30.0
_LISTENING = re.compile(r"gRPC front end listening on (?P<address>[^\s\"]+)")
_HTTP_LISTENING = re.compile(r"REST front end .* listening on (?P<address>[^\s\"]+)")


@dataclass
class Served:
    """A running `hub serve` and the addresses of its gRPC front end and HTTP server."""

    process: subprocess.Popen[bytes]
    log: Path
    address: str
    http_address: str

    def terminate(self) -> int:
        """Sends SIGTERM; returns the exit code, which must come within the grace period."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=GRACE_SECONDS)


class Launcher:
    """Starts `hub serve` processes; kills any still running when the test ends."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def config(self, name: str, **sections: Any) -> Path:
        """Writes a config file: free port, data under tmp/data, `sections` laid on top."""
        settings: dict[str, Any] = {
            "data_dir": str(self.tmp_path / "data"),
            "grpc": {"listen": "127.0.0.1:0"},
            "http": {"listen": "127.0.0.1:0"},
            "shutdown": {"grace_period_seconds": GRACE_SECONDS},
            "api_gateway": {"policies": ["rate_limiting", "caching"]},
            **sections,
        }
        path = self.tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(settings))
        return path

    def start(self, config: Path, log: Path) -> subprocess.Popen[bytes]:
        """Starts `hub serve --config config`, its output going to `log`."""
        environ = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
        with log.open("wb") as output:
            process = subprocess.Popen(
                [str(HUB), "serve", "--config", str(config)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environ,
            )
        self.processes.append(process)
        return process

    def serve(self, config: Path, name: str = "hub") -> Served:
        """Starts a hub and returns once its front end reports SERVING."""
        log = self.tmp_path / f"{name}.log"
        process = self.start(config, log)
        deadline = time.monotonic() + STARTUP_SECONDS
        while (http := _HTTP_LISTENING.search(log.read_text())) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"hub serve did not start:\n{log.read_text()}")
            time.sleep(0.05)
        grpc_match = _LISTENING.search(log.read_text())
        assert grpc_match is not None  # logged before the HTTP server's line
        served = Served(
            process=process, log=log, address=grpc_match["address"], http_address=http["address"]
        )
        with grpc.insecure_channel(served.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service="")
            for reply in health.Watch(request, timeout=STARTUP_SECONDS):
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
        return served

    def run(self, config: Path) -> subprocess.CompletedProcess[str]:
        """Runs `hub serve` expecting it to give up by itself; returns how it ended."""
        return subprocess.run(
            [str(HUB), "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=STARTUP_SECONDS,
            check=False,
        )

    def kill_survivors(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Snapshot:
    """What the scenario wrote, as read back through the front end."""

    user: User
    mindmaps: list[Mindmap]
    pages: list[list[str]]


def _tree(mindmap: Mindmap) -> list[tuple[str, str, int]]:
    """(text, parent's text, position) of each node, in the order the mindmap lists them."""
    texts = {node.id: node.text for node in mindmap.nodes}
    return [(n.text, texts.get(n.parent_id, ""), n.position) for n in mindmap.nodes]


def _read_back(address: str, user_id: str, mindmap_ids: list[str]) -> Snapshot:
    with grpc.insecure_channel(address) as channel:
        users = user_pb2_grpc.UserServiceStub(channel)
        mindmaps = mindmap_pb2_grpc.MindmapServiceStub(channel)
        pages: list[list[str]] = []
        token = ""
        while True:
            page = mindmaps.ListMindmaps(
                ListMindmapsRequest(owner_id=user_id, page_size=2, page_token=token)
            )
            pages.append([m.id for m in page.mindmaps])
            token = page.next_page_token
            if not token:
                break
        return Snapshot(
            user=users.GetUser(GetUserRequest(id=user_id)).user,
            mindmaps=[
                mindmaps.GetMindmap(GetMindmapRequest(id=mindmap_id)).mindmap
                for mindmap_id in mindmap_ids
            ],
            pages=pages,
        )


def _scenario(address: str) -> Snapshot:
    """Creates a user with three mindmaps, grows and rearranges the first one's tree."""
    with grpc.insecure_channel(address) as channel:
        users = user_pb2_grpc.UserServiceStub(channel)
        mindmaps = mindmap_pb2_grpc.MindmapServiceStub(channel)
        user = users.CreateUser(
            CreateUserRequest(user=User(email="grace@example.com", display_name="Grace"))
        ).user
        created = [
            mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=user.id, title=f"Map {i}"))
            ).mindmap
            for i in range(3)
        ]
        first = created[0].id
        root = created[0].nodes[0].id

        def add(parent_id: str, text: str) -> str:
            added = mindmaps.AddNode(
                AddNodeRequest(mindmap_id=first, node=Node(parent_id=parent_id, text=text))
            )
            return added.node.id

        ideas = add(root, "Ideas")
        tasks = add(root, "Tasks")
        draft = add(ideas, "Draft")
        mindmaps.MoveNode(
            MoveNodeRequest(mindmap_id=first, node_id=draft, new_parent_id=tasks, position=0)
        )
        mindmaps.MoveNode(
            MoveNodeRequest(mindmap_id=first, node_id=tasks, new_parent_id=root, position=0)
        )
        assert [user.id] == [u.id for u in users.ListUsers(ListUsersRequest(page_size=1)).users]

    snapshot = _read_back(address, user.id, [m.id for m in created])
    assert [
        ("Map 0", "", 0),
        ("Tasks", "Map 0", 0),
        ("Draft", "Tasks", 0),
        ("Ideas", "Map 0", 1),
    ] == _tree(snapshot.mindmaps[0])
    assert [[created[0].id, created[1].id], [created[2].id]] == snapshot.pages
    return snapshot


def test_serve_stop_and_serve_again_keeps_every_result(
    launcher: Launcher, backing: StorageSection
) -> None:
    """The must-show scenario, on each storage engine (tests/backings.py); SIGTERM exits 0
    within the grace period; a new `hub serve` on the same database reads back every result
    unchanged."""
    config = launcher.config("hub", storage=backing)
    first = launcher.serve(config, "first")
    written = _scenario(first.address)
    assert _over_rest(first, written) == (
        json_format.MessageToDict(written.user, always_print_fields_with_no_presence=True),
        json_format.MessageToDict(written.mindmaps[0], always_print_fields_with_no_presence=True),
    )

    assert 0 == first.terminate()
    # hub serve logs JSON lines (stderr is not a terminal here), with an access line per
    # HTTP request and per RPC served.
    lines = [json.loads(line) for line in first.log.read_text().splitlines()]
    assert {"hub", "hub.access"} <= {line["logger"] for line in lines}
    assert {"http request", "rpc"} <= {line["event"] for line in lines}

    second = launcher.serve(config, "second")
    read_back = _read_back(
        second.address, written.user.id, [mindmap.id for mindmap in written.mindmaps]
    )
    assert written == read_back
    assert 0 == second.terminate()


def _over_rest(served: Served, snapshot: Snapshot) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scenario's user and first mindmap, as the REST front end answers them."""
    with httpx.Client(base_url=f"http://{served.http_address}", timeout=10) as http:
        user = http.get(f"/api/v1/users/{snapshot.user.id}")
        mindmap = http.get(f"/api/v1/mindmaps/{snapshot.mindmaps[0].id}")
    return user.json(), mindmap.json()


def test_serve_on_postgresql_keeps_nothing_in_the_data_folder_but_sockets(
    launcher: Launcher,
) -> None:
    """With `storage.engine: postgresql` the rows are in the database, and no SQLite file is
    made."""
    with fresh_schema() as dsn:
        config = launcher.config(
            "hub", storage={"engine": "postgresql", "postgresql": {"dsn": dsn}}
        )
        served = launcher.serve(config)
        written = _scenario(served.address)
        assert 0 == served.terminate()
        with psycopg.connect(dsn) as connection:
            stored = connection.execute("SELECT id FROM users").fetchall()

    assert [(written.user.id,)] == stored
    assert ["run"] == [path.name for path in (launcher.tmp_path / "data").iterdir()]


def test_an_unreachable_database_stops_serve_with_exit_1_and_the_reason(
    launcher: Launcher,
) -> None:
    """Like a taken address: one line naming the database (never its password) and libpq's
    reason, exit 1, no traceback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dsn = f"postgresql://hub:secret-pw@127.0.0.1:{port}/hub"
    config = launcher.config("hub", storage={"engine": "postgresql", "postgresql": {"dsn": dsn}})

    ended = launcher.run(config)

    assert 1 == ended.returncode
    (line,) = [json.loads(line) for line in ended.stderr.splitlines()]
    assert ("error", "hub") == (line["level"], line["logger"])
    assert line["event"].startswith(
        f"cannot start: PostgreSQL (user=hub host=127.0.0.1 port={port} dbname=hub) cannot be"
        ' used: connection failed: connection to server at "127.0.0.1", port'
        f" {port} failed: Connection refused"
    )
    assert "secret-pw" not in ended.stderr


def test_second_hub_on_a_used_http_port_fails_clearly(launcher: Launcher, tmp_path: Path) -> None:
    """A second `hub serve` whose HTTP port is the first one's exits 1 naming the address;
    the first one keeps serving REST."""
    first = launcher.serve(launcher.config("first"))
    clash = launcher.config(
        "clash", data_dir=str(tmp_path / "other-data"), http={"listen": first.http_address}
    )

    ended = launcher.run(clash)

    assert 1 == ended.returncode
    assert f"cannot listen on {first.http_address}: address already in use" in ended.stderr
    assert "Traceback" not in ended.stderr
    with httpx.Client(base_url=f"http://{first.http_address}") as http:
        assert 200 == http.get("/api/v1/users").status_code
    assert 0 == first.terminate()


def test_a_database_of_a_newer_hub_stops_serve_with_exit_1_and_the_reason(
    launcher: Launcher,
) -> None:
    """A SQLite file whose schema a newer hub wrote (a rollback to an older release): one
    line naming the file and both versions, exit 1, no traceback; the schema is left as it
    was (nothing migrated, no table made)."""
    database = launcher.tmp_path / "data" / "hub.sqlite3"
    database.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA user_version = 99")

    ended = launcher.run(launcher.config("hub"))

    assert 1 == ended.returncode
    assert "Traceback" not in ended.stderr
    (line,) = [json.loads(line) for line in ended.stderr.splitlines()]
    assert ("error", "hub") == (line["level"], line["logger"])
    assert line["event"] == (
        f"cannot start: database {database} has schema version 99, but this hub knows versions"
        f" up to {LATEST_VERSION}: run a newer hub"
    )
    with contextlib.closing(sqlite3.connect(database)) as connection:
        assert (99, 0) == (
            connection.execute("PRAGMA user_version").fetchone()[0],
            connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0],
        )


def test_second_hub_on_a_used_port_fails_clearly(launcher: Launcher, tmp_path: Path) -> None:
    """A second `hub serve` on the first one's port exits non-zero naming the address, and
    the first one keeps serving."""
    first = launcher.serve(launcher.config("first"))
    clash = launcher.config(
        "clash", data_dir=str(tmp_path / "other-data"), grpc={"listen": first.address}
    )

    ended = launcher.run(clash)

    assert 1 == ended.returncode
    assert f"cannot listen on {first.address}: address already in use" in ended.stderr
    assert "Traceback" not in ended.stderr
    with grpc.insecure_channel(first.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health_pb2.HealthCheckResponse.SERVING == reply.status
    assert 0 == first.terminate()


def test_second_hub_on_the_same_data_dir_fails_clearly(launcher: Launcher) -> None:
    """Another hub on the same data folder finds the backend sockets taken and says so."""
    config = launcher.config("hub")
    first = launcher.serve(config)

    ended = launcher.run(config)

    socket_path = launcher.tmp_path / "data" / "run" / "user-service.sock"
    assert 1 == ended.returncode
    assert f"cannot listen on unix:{socket_path}: address already in use" in ended.stderr
    assert 0 == first.terminate()


def test_bad_config_exits_2_naming_the_key(launcher: Launcher) -> None:
    """A misspelt key stops `hub serve` before it starts: exit 2, the key named, no traceback."""
    config = launcher.config("bad", grpc={"lsten": "127.0.0.1:0"})

    ended = launcher.run(config)

    assert 2 == ended.returncode
    assert f"invalid configuration ({config}):\n  grpc.lsten: unknown key" in ended.stderr
    assert "Traceback" not in ended.stderr


def test_sigterm_lets_calls_in_flight_complete(launcher: Launcher, tmp_path: Path) -> None:
    """Calls that are running when SIGTERM arrives, over gRPC and over REST, still succeed,
    new ones are refused, and the process then exits 0.

    The calls are held inside the hub by a write lock the test takes on the SQLite file (the
    store waits for it), so they are certainly in flight when the signal comes.
    """
    served = launcher.serve(launcher.config("hub"))
    database = sqlite3.connect(tmp_path / "data" / "hub.sqlite3", isolation_level=None)
    with (
        grpc.insecure_channel(served.address) as channel,
        httpx.Client(base_url=f"http://{served.http_address}", timeout=30) as http,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        users = user_pb2_grpc.UserServiceStub(channel)
        database.execute("BEGIN IMMEDIATE")
        calls = [
            users.CreateUser.future(
                CreateUserRequest(user=User(email=f"u{i}@example.com", display_name=f"U{i}")),
                timeout=30,
            )
            for i in range(5)
        ]
        posts = [
            pool.submit(
                http.post, "/api/v1/users", json={"email": f"r{i}@example.com", "displayName": "R"}
            )
            for i in range(2)
        ]
        time.sleep(0.5)  # the calls reach the hub and wait there for the lock
        served.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the hub is draining now
        with pytest.raises(grpc.RpcError) as refused:
            users.GetUser(GetUserRequest(id="late"), timeout=10)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{served.http_address}/api/v1/users", timeout=10)
        database.execute("ROLLBACK")
        database.close()
        created = [call.result() for call in calls]
        posted = [post.result() for post in posts]

    assert grpc.StatusCode.UNAVAILABLE == refused.value.code()
    assert [f"u{i}@example.com" for i in range(5)] == [reply.user.email for reply in created]
    assert [(200, f"r{i}@example.com") for i in range(2)] == sorted(
        (response.status_code, response.json()["email"]) for response in posted
    )
    assert 0 == served.process.wait(timeout=GRACE_SECONDS)
