"""Issue 8's split deployment as real OS processes: two gateways, two mindmap backends and
one user backend (`hub serve --role gateway|mindmaps|users`), on PostgreSQL and Redis.

The backends start first (each on a free TCP port, read back from its log); the gateways
dial them: the user backend as one target, the two mindmap backends as two, which gRPC
round_robin balances and health-checks. Each test then drives the cluster from outside:
gRPC and WebSocket clients on the gateways, and the database to check what was stored.
The processes are shared by the tests of this module; the last one kills a mindmap backend.

Skipped without PostgreSQL or Redis on this machine, a failure under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
import pytest
import yaml
from websockets.sync.client import connect

from hub.config import Role
from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    GetMindmapRequest,
    ListMindmapsRequest,
    Mindmap,
    Node,
    UpdateMindmapRequest,
)
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, ListUsersRequest, User
from tests.observability.scrape import Scrape
from tests.postgres import fresh_schema
from tests.redisdb import REDIS_URL, redis_prefix

pytestmark = pytest.mark.e2e

HUB = Path(sys.executable).with_name("hub")
STARTUP_SECONDS = 30.0
WAIT_SECONDS = 15.0
GRACE_SECONDS = 5.0
# One bucket that the two gateways share: what both together admit, before refilling.
LIMITED = "hub.user.v1.UserService/ListUsers"
BURST = 10
_LISTENING = re.compile(r"(?P<what>[^\"]+?) listening on (?P<address>[^\s\"]+)")


@dataclass
class Process:
    """One `hub serve --role ...` and what it listens on (from its log)."""

    name: str
    role: Role
    popen: subprocess.Popen[bytes]
    log: Path
    listening: dict[str, str] = field(default_factory=dict)

    @property
    def http_address(self) -> str:
        """Where its HTTP server listens."""
        return self.address("REST" if self.role == "gateway" else "HTTP")

    def address(self, starting: str) -> str:
        """The address of what starts with `starting` ("gRPC front end", "REST", ...)."""
        (address,) = [a for what, a in self.listening.items() if what.startswith(starting)]
        return address


class Cluster:
    """Starts the processes of a split hub; ends every one still running at the end."""

    def __init__(self, folder: Path, dsn: str, redis_prefix: str) -> None:
        self.folder = folder
        self.dsn = dsn
        self.processes: list[Process] = []
        self._common: dict[str, Any] = {
            "profile": "production",
            "data_dir": str(folder / "data"),
            "grpc": {"listen": "127.0.0.1:0"},
            "http": {"listen": "127.0.0.1:0"},
            "shutdown": {"grace_period_seconds": GRACE_SECONDS},
            "storage": {"engine": "postgresql", "postgresql": {"dsn": dsn}},
            "redis": {"url": REDIS_URL, "key_prefix": redis_prefix},
            "observability": {"logging": {"format": "json"}},
            "api_gateway": {
                "policies": ["rate_limiting", "caching"],
                "rate_limiting": {
                    # Generous for everything the load below does ...
                    "default": {"rate_per_second": 100_000, "burst": 100_000},
                    # ... and one RPC whose bucket hardly refills during a test.
                    "rules": [{"rpc": LIMITED, "rate_per_second": 0.001, "burst": BURST}],
                },
            },
        }

    def start(self, name: str, role: Role, **sections: Any) -> Process:
        """Starts `hub serve --role role` with the common settings and `sections`."""
        config = self.folder / f"{name}.yaml"
        config.write_text(yaml.safe_dump({**self._common, **sections}))
        log = self.folder / f"{name}.log"
        environ = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
        with log.open("wb") as output:
            popen = subprocess.Popen(
                [str(HUB), "serve", "--role", role, "--config", str(config)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environ,
            )
        process = Process(name, role, popen, log)
        self.processes.append(process)
        return process

    def restart(self, process: Process) -> Process:
        """Starts a mindmap backend again where `process` listened (the gateways dial a
        fixed list of addresses), and waits until it is ready."""
        address = process.address("mindmap-service")
        again = self.start(
            f"{process.name}-again",
            "mindmaps",
            services={"mindmap-service": {"listen": address}},
        )
        self.wait_ready(again)
        return again

    def wait_ready(self, process: Process) -> None:
        """Waits for its "listening" log lines, then for `/readyz` to answer 200."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while len(process.listening) < 2:  # gRPC and HTTP, whatever the role
            if process.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{process.name} did not start:\n{process.log.read_text()}")
            time.sleep(0.05)
            process.listening = {
                match["what"]: match["address"]
                for line in process.log.read_text().splitlines()
                if (match := _LISTENING.search(json.loads(line).get("event", "")))
            }
        ready = f"http://{process.http_address}/readyz"
        while True:
            try:
                if httpx.get(ready).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{process.name} never became ready:\n{process.log.read_text()}")
            time.sleep(0.05)

    def end(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.popen.wait(timeout=GRACE_SECONDS + 5)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


@dataclass
class Split:
    """The running cluster and its processes by name."""

    cluster: Cluster
    users: Process
    mindmaps: list[Process]
    gateways: list[Process]

    def channel(self, gateway: int) -> grpc.Channel:
        return grpc.insecure_channel(self.gateways[gateway].address("gRPC front end"))

    def ws_url(self, gateway: int) -> str:
        return f"ws://{self.gateways[gateway].http_address}/ws"


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Split]:
    folder = tmp_path_factory.mktemp("split")
    with redis_prefix() as prefix, fresh_schema() as dsn:
        cluster = Cluster(folder, dsn, prefix)
        try:
            users = cluster.start(
                "users", "users", services={"user-service": {"listen": "127.0.0.1:0"}}
            )
            mindmaps = [
                cluster.start(
                    f"mindmaps-{index}",
                    "mindmaps",
                    services={"mindmap-service": {"listen": "127.0.0.1:0"}},
                )
                for index in range(2)
            ]
            for process in (users, *mindmaps):
                cluster.wait_ready(process)
            targets = {
                "user-service": {"targets": [users.address("user-service")]},
                "mindmap-service": {
                    "targets": [process.address("mindmap-service") for process in mindmaps]
                },
            }
            gateways = [cluster.start(f"gateway-{i}", "gateway", services=targets) for i in "ab"]
            for process in gateways:
                cluster.wait_ready(process)
            yield Split(cluster, users, mindmaps, gateways)
        finally:
            cluster.end()


def _user(channel: grpc.Channel, name: str) -> str:
    users = user_pb2_grpc.UserServiceStub(channel)
    user = User(email=f"{name}-{uuid.uuid4().hex[:6]}@example.com", display_name=name)
    return str(users.CreateUser(CreateUserRequest(user=user)).user.id)


def _outbox(dsn: str, owner_id: str, after: int) -> list[tuple[int, str]]:
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT id, type FROM outbox WHERE owner_id = %s AND id > %s ORDER BY id",
            (owner_id, after),
        ).fetchall()
    return [(int(row[0]), str(row[1])) for row in rows]


def test_a_subscriber_on_one_gateway_gets_each_event_of_writes_through_the_other_once_in_order(
    split: Split,
) -> None:
    """Writes through gateway A (spread over both mindmap backends, each with its own
    relay) reach a /ws subscriber on gateway B exactly once, in commit order: the events it
    receives are the outbox's, and a last marker write arrives right after them."""
    with split.channel(0) as channel:
        owner = _user(channel, "ada")
        (created,) = _outbox(split.cluster.dsn, owner, 0)
        with connect(split.ws_url(1)) as websocket:
            websocket.send(
                json.dumps({"type": "subscribe", "id": "s", "channel": "user", "userId": owner})
            )
            assert "subscribed" == json.loads(websocket.recv(WAIT_SECONDS))["type"]
            mindmaps = mindmap_pb2_grpc.MindmapServiceStub(channel)
            mindmap = mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=owner, title="Ideas"))
            ).mindmap
            for index in range(20):
                node = Node(parent_id=mindmap.nodes[0].id, text=f"idea {index}")
                mindmaps.AddNode(AddNodeRequest(mindmap_id=mindmap.id, node=node))
            mindmaps.UpdateMindmap(
                UpdateMindmapRequest(mindmap=Mindmap(id=mindmap.id, title="Marker"))
            )
            received: list[tuple[int, str]] = []
            while not received or received[-1][1] != "mindmap.updated":  # the marker's
                event = json.loads(websocket.recv(WAIT_SECONDS))["event"]
                received.append((int(event["id"]), event["type"]))
        expected = _outbox(split.cluster.dsn, owner, created[0])

    types = ["mindmap.created", *["mindmap.node_added"] * 20, "mindmap.updated"]
    assert types == [kind for _, kind in expected]
    assert expected == received


def test_a_rate_limit_holds_across_both_gateways_together(split: Split) -> None:
    """One caller alternating between the gateways gets the burst of one bucket in all,
    not one per gateway: the bucket lives in Redis."""
    outcomes: list[str] = []
    with split.channel(0) as first, split.channel(1) as second:
        stubs = [user_pb2_grpc.UserServiceStub(first), user_pb2_grpc.UserServiceStub(second)]
        for index in range(3 * BURST):
            try:
                stubs[index % 2].ListUsers(ListUsersRequest(page_size=1))
                outcomes.append("OK")
            except grpc.RpcError as error:
                outcomes.append(error.code().name)

    assert ["OK"] * BURST + ["RESOURCE_EXHAUSTED"] * (2 * BURST) == outcomes


def test_a_read_after_a_write_through_the_other_gateway_is_never_stale(split: Split) -> None:
    """Each gateway caches reads (in Redis); a write through A invalidates what B would
    answer, before A acknowledges it."""
    with split.channel(0) as first, split.channel(1) as second:
        owner = _user(first, "grace")
        writer = mindmap_pb2_grpc.MindmapServiceStub(first)
        reader = mindmap_pb2_grpc.MindmapServiceStub(second)
        mindmap = writer.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=owner, title="v0"))
        ).mindmap
        seen: list[tuple[str, str]] = []
        for version in range(1, 31):
            reader.GetMindmap(GetMindmapRequest(id=mindmap.id))  # cached at B
            reader.ListMindmaps(ListMindmapsRequest(owner_id=owner))
            written = writer.UpdateMindmap(
                UpdateMindmapRequest(mindmap=Mindmap(id=mindmap.id, title=f"v{version}"))
            ).mindmap
            read = reader.GetMindmap(GetMindmapRequest(id=mindmap.id)).mindmap
            listed = reader.ListMindmaps(ListMindmapsRequest(owner_id=owner)).mindmaps[0]
            seen.append((read.title, listed.etag))
            assert (written.title, written.etag) == (read.title, listed.etag)

    assert [f"v{version}" for version in range(1, 31)] == [title for title, _ in seen]


@dataclass
class Load:
    """What the load of `_load` did so far."""

    reads: int = 0
    failed_reads: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    """Ids of the nodes whose AddNode was answered OK."""
    refused_writes: list[str] = field(default_factory=list)


@contextmanager
def _load(split: Split, mindmap: Mindmap) -> Iterator[Load]:
    """Reads (GetMindmap, ListMindmaps) in two threads per gateway and node writes in one
    per gateway, on `mindmap`, until the block ends."""
    load = Load()
    lock = threading.Lock()
    stop = threading.Event()

    def read(channel: grpc.Channel) -> None:
        stub = mindmap_pb2_grpc.MindmapServiceStub(channel)
        while not stop.is_set():
            try:
                stub.GetMindmap(GetMindmapRequest(id=mindmap.id), timeout=WAIT_SECONDS)
                stub.ListMindmaps(
                    ListMindmapsRequest(owner_id=mindmap.owner_id), timeout=WAIT_SECONDS
                )
                with lock:
                    load.reads += 2
            except grpc.RpcError as error:
                load.failed_reads.append(str(error))

    def write(channel: grpc.Channel, name: str) -> None:
        stub = mindmap_pb2_grpc.MindmapServiceStub(channel)
        index = 0
        while not stop.is_set():
            node = Node(parent_id=mindmap.nodes[0].id, text=f"{name}{index}")
            try:
                added = stub.AddNode(
                    AddNodeRequest(mindmap_id=mindmap.id, node=node), timeout=WAIT_SECONDS
                )
                load.acknowledged.append(added.node.id)
            except grpc.RpcError as error:
                load.refused_writes.append(error.code().name)
            index += 1

    with split.channel(0) as first, split.channel(1) as second, ThreadPoolExecutor(6) as pool:
        workers = [pool.submit(read, channel) for channel in (first, second, first, second)]
        workers += [pool.submit(write, first, "a"), pool.submit(write, second, "b")]
        try:
            yield load
        finally:
            stop.set()
            for worker in workers:
                worker.result()


def _mindmap(split: Split, title: str) -> Mindmap:
    with split.channel(0) as channel:
        owner = _user(channel, title.lower())
        request = CreateMindmapRequest(mindmap=Mindmap(owner_id=owner, title=title))
        return mindmap_pb2_grpc.MindmapServiceStub(channel).CreateMindmap(request).mindmap


def _handled(process: Process) -> float:
    """The calls a mindmap backend has answered, from its /metrics."""
    scrape = Scrape.parse(httpx.get(f"http://{process.http_address}/metrics").text)
    return sum(scrape.values("grpc_server_handled_total").values())


def test_a_mindmap_backend_killed_under_load_fails_no_read_and_loses_no_acknowledged_write(
    split: Split,
) -> None:
    """Reads and writes through both gateways run on; one mindmap backend is killed
    (SIGKILL) in the middle. Every read succeeds (retried on the other backend, which
    round_robin then uses alone); every acknowledged write is in the database (a write
    refused meanwhile was never acknowledged, and may or may not have committed). Started
    again on its address, the backend gets calls again."""
    mindmap = _mindmap(split, "Killed")
    victim = split.mindmaps[0]
    with _load(split, mindmap) as load:
        _until(lambda: load.reads >= 300)
        victim.popen.send_signal(signal.SIGKILL)
        victim.popen.wait()
        killed_at = load.reads
        _until(lambda: load.reads >= killed_at + 600 and len(load.acknowledged) >= 30)
        again = split.mindmaps[0] = split.cluster.restart(victim)
        _until(lambda: _handled(again) > 0)
    stored = _stored_nodes(split.cluster.dsn, mindmap.id)

    assert -signal.SIGKILL == victim.popen.returncode
    assert [] == load.failed_reads
    assert set() == set(load.acknowledged) - stored
    assert set(load.refused_writes) <= {"UNAVAILABLE"}


def test_a_mindmap_backend_stopped_under_load_refuses_nothing(split: Split) -> None:
    """A rolling upgrade: one mindmap backend gets SIGTERM under the same load. It reports
    NOT_SERVING, keeps serving while the gateways take it out of rotation, finishes its
    calls and exits 0: no read fails, no write is refused (writes are never retried), and
    every one is in the database."""
    mindmap = _mindmap(split, "Drained")
    victim = split.mindmaps[1]
    with _load(split, mindmap) as load:
        _until(lambda: len(load.acknowledged) >= 30)
        victim.popen.send_signal(signal.SIGTERM)
        exit_code = victim.popen.wait(timeout=GRACE_SECONDS + 5)
        stopped_at = len(load.acknowledged)
        _until(lambda: len(load.acknowledged) >= stopped_at + 30)
    stored = _stored_nodes(split.cluster.dsn, mindmap.id)
    split.mindmaps[1] = split.cluster.restart(victim)

    assert 0 == exit_code
    assert ([], []) == (load.failed_reads, load.refused_writes)
    assert set(load.acknowledged) == stored - {mindmap.nodes[0].id}


def _stored_nodes(dsn: str, mindmap_id: str) -> set[str]:
    """The ids of the mindmap's nodes, as the database has them."""
    with psycopg.connect(dsn) as connection:
        row = connection.execute("SELECT nodes FROM mindmaps WHERE id = %s", (mindmap_id,))
        (nodes,) = row.fetchone() or ([],)
    return {str(node["id"]) for node in nodes}


def _until(condition: Any) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the load never got there")
        time.sleep(0.01)
