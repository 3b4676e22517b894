"""A `hub serve` in its own process, on a fresh database, for benchmarks to load.

The hub runs as a child process (never in the load generator's process, so the two share
the machine as a client and a server would) with free loopback ports and a temporary data
folder. `cpu_seconds()` reads its user+system time from /proc, which on this shared 2-core
machine is a far steadier measure of cost per request than requests per second; likewise
`process_cpu_seconds` and `process_rss_bytes` for any process, such as a baseline server.
A hub may run one role of a split deployment (`role`: `hub serve --role gateway|users|
mindmaps`); it is then ready when its `/readyz` answers 200 (a gateway: once each backend
service has a SERVING replica).
`answered_ok` reads from the hub's own metrics how many calls of a method it answered OK,
which confirms what a load generator that cannot read gRPC status (h2load) counted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from hub.contracts.mindmap.v1 import mindmap_pb2, mindmap_pb2_grpc
from hub.contracts.user.v1 import user_pb2, user_pb2_grpc

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_SECONDS = 30.0


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


def process_rss_bytes(pid: int) -> int:
    """The resident set size of process `pid` right now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class HubProcess:
    """A running `hub serve` child and where to reach its front ends and backends."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    grpc_target: str
    http_base: str

    def backend_target(self, service: str) -> str:
        """The backend's own socket (the default local-socket binding), bypassing the hub."""
        return f"unix:{(self.data_dir / 'run' / f'{service}.sock').absolute()}"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint of the HTTP front end."""
        return self.http_base.replace("http://", "ws://", 1) + "/ws"

    def cpu_seconds(self) -> float:
        """User plus system CPU time the hub process has used so far."""
        return process_cpu_seconds(self.process.pid)

    def answered_ok(self, server: str, method: str) -> float:
        """How many calls of `method` (`/pkg.Service/Method`) the hub's `server`
        ("frontend" or "backend") has answered with status OK, from its /metrics
        (`grpc_server_handled_total`); 0 before the first."""
        service, name = method.lstrip("/").split("/")
        wanted = {
            "grpc_server": server,
            "grpc_service": service,
            "grpc_method": name,
            "grpc_code": "OK",
        }
        url = f"{self.http_base}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our hub
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"cannot confirm gRPC answers: {url} answered {error.code} (metrics off?)"
            ) from error
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "grpc_server_handled"
            for sample in family.samples
            if sample.name == "grpc_server_handled_total"
            and wanted.items() <= sample.labels.items()
        )

    def stop(self) -> None:
        """SIGTERM, then wait for the drain; SIGKILL if it hangs. Then removes its folder
        (database, log)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_hub(
    *,
    code: Path | None = None,
    role: str = "all",
    under: Sequence[str] = (),
    ready_seconds: float = READY_SECONDS,
    **sections: Any,
) -> HubProcess:
    """Starts `hub serve` on free loopback ports in a new data folder; returns once healthy.
    `sections`: more top-level configuration sections (`observability={...}`); `code`: the
    checkout whose `hub` package to run (default: the one installed); `role`: what it runs
    (`hub serve --role`); `under`: a command that runs it (`valgrind --tool=callgrind`),
    which may need a longer `ready_seconds`."""
    return start_hubs(sections, code=code, role=role, under=under, ready_seconds=ready_seconds)[0]


def start_hubs(
    *configurations: dict[str, Any],
    code: Path | None = None,
    role: str = "all",
    under: Sequence[str] = (),
    ready_seconds: float = READY_SECONDS,
) -> list[HubProcess]:
    """Starts one hub per configuration (its extra sections, as for `start_hub`), all at
    once and all in `role`, and returns them once every one is healthy: their start-ups
    overlap."""
    hubs: list[HubProcess] = []
    try:
        for sections in configurations:
            base = Path(tempfile.mkdtemp(prefix="hub-bench-"))
            hubs.append(_launch(base, sections, code, role, under))
        for hub in hubs:
            ready = _wait_ready(hub) if role == "all" else _wait_ready_http(hub)
            asyncio.run(_within(ready_seconds, ready))
    except BaseException:
        for hub in hubs:
            hub.stop()
        raise
    return hubs


def _launch(
    base: Path, sections: dict[str, Any], code: Path | None, role: str, under: Sequence[str]
) -> HubProcess:
    data_dir = base / "data"
    grpc_port, http_port = free_port(), free_port()
    config = {
        "data_dir": str(data_dir),
        "grpc": {"listen": f"127.0.0.1:{grpc_port}"},
        "http": {"listen": f"127.0.0.1:{http_port}"},
        **sections,
    }
    config_path = base / "hub.yaml"
    config_path.write_text(yaml.safe_dump(config))
    with (base / "hub.log").open("wb") as log:  # the child writes to its own copy
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [
                *under,
                *(sys.executable, "-m", "hub", "serve", "--role", role),
                *("--config", str(config_path)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            # `python -m` looks in its working folder first, before the installed package
            cwd=code,
        )
    return HubProcess(process, data_dir, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}")


def _check_running(hub: HubProcess) -> None:
    if hub.process.poll() is not None:
        log = (hub.data_dir.parent / "hub.log").read_text(errors="replace")
        raise RuntimeError(f"hub serve exited with {hub.process.returncode}:\n{log}")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our hub
            return bool(response.status == 200)
    except OSError:  # not listening yet, or 503 while starting (HTTPError is one too)
        return False


async def _within(seconds: float, ready: Coroutine[Any, Any, None]) -> None:
    async with asyncio.timeout(seconds):
        await ready


async def _wait_ready_http(hub: HubProcess) -> None:
    url = f"{hub.http_base}/readyz"
    while True:
        _check_running(hub)
        if await asyncio.to_thread(_ready, url):
            return
        await asyncio.sleep(0.1)


async def _wait_ready(hub: HubProcess) -> None:
    while True:
        _check_running(hub)
        try:
            async with aio.insecure_channel(hub.grpc_target) as channel:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except aio.AioRpcError:
            pass
        await asyncio.sleep(0.1)


def seed_mindmap(hub: HubProcess, nodes: int = 10) -> str:
    """Creates a user and a mindmap with `nodes` nodes under its root; returns its id."""

    async def seed() -> str:
        async with aio.insecure_channel(hub.grpc_target) as channel:
            users = user_pb2_grpc.UserServiceStub(channel)
            mindmaps = mindmap_pb2_grpc.MindmapServiceStub(channel)
            user = (
                await users.CreateUser(
                    user_pb2.CreateUserRequest(
                        user=user_pb2.User(email="bench@example.com", display_name="Bench")
                    )
                )
            ).user
            created = await mindmaps.CreateMindmap(
                mindmap_pb2.CreateMindmapRequest(
                    mindmap=mindmap_pb2.Mindmap(owner_id=user.id, title="Benchmark")
                )
            )
            root = created.mindmap.nodes[0].id
            for index in range(nodes):
                await mindmaps.AddNode(
                    mindmap_pb2.AddNodeRequest(
                        mindmap_id=created.mindmap.id,
                        node=mindmap_pb2.Node(parent_id=root, text=f"idea {index}"),
                    )
                )
            return created.mindmap.id

    return asyncio.run(seed())
