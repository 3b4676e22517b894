"""Scenario `grpc-proxy`: the hub as a gRPC proxy, against peer proxies doing the same hop.

Subject: gRPC `GetMindmap` through the hub's gRPC front end, which forwards it to the mindmap
backend over its unix socket. Baselines, one after the other, each in front of the same
backend of the same `hub serve`:
- nginx (Debian `nginx-light`, which has the grpc module) passing every call with
  `grpc_pass`, in a process this scenario starts with a generated configuration on a free
  loopback port: no system service, no master process, one worker, no access log, upstream
  connections kept alive. nginx closes a client connection after `keepalive_requests` calls
  (1,000 by default) and an upstream one after the upstream's `keepalive_requests`, sending
  GOAWAY in the middle of a run; both are raised far beyond what a run sends;
- a plain grpc.aio forwarding proxy (bench/aioproxy.py): what the hub's hop costs at the
  least in grpc.aio, without metadata, deadlines or observability.
Every side is loaded by h2load; a proxy's side is charged its own CPU besides the hub's
(its backend). No goal: references for what a proxy hop can cost (the issue measured nginx
at 0.72-0.80 of calling the backend directly, a plain grpc.aio proxy 0.31-0.40).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import table, tools
from bench.hubproc import free_port, seed_mindmap, start_hub
from bench.scenario import Options
from bench.throughput import GRPC_THROUGH_HUB, Target, ThroughputOutcome, alternate, grpc_get

READY_SECONDS = 10.0
KEEPALIVE_REQUESTS = 100_000_000

CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream backend {{
        server {upstream};
        keepalive 16;
        keepalive_requests {keepalive_requests};
        keepalive_timeout 600s;
    }}
    server {{
        listen {listen} http2;
        keepalive_requests {keepalive_requests};
        keepalive_timeout 600s;
        location / {{
            grpc_pass grpc://backend;
        }}
    }}
}}
"""


def config(folder: Path, listen: str, upstream: str) -> str:
    """nginx's configuration: listen on `listen`, pass every call to `upstream`
    (`unix:PATH` or `host:port`), everything it writes under `folder`."""
    return CONFIG.format(
        folder=folder, listen=listen, upstream=upstream, keepalive_requests=KEEPALIVE_REQUESTS
    )


@dataclass
class Nginx:
    """A running nginx and where it listens."""

    process: subprocess.Popen[bytes]
    address: str
    folder: Path

    @classmethod
    def start(cls, upstream: str) -> Nginx:
        """Starts nginx in front of `upstream`; returns once it accepts connections."""
        program = tools.path(tools.NGINX)
        folder = Path(tempfile.mkdtemp(prefix="hub-bench-nginx-"))
        address = f"127.0.0.1:{free_port()}"
        (folder / "nginx.conf").write_text(config(folder, address, upstream))
        with (folder / "stderr.log").open("wb") as log:  # the child writes to its own copy
            process = subprocess.Popen(  # noqa: S603 - a fixed program, our configuration
                [program, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", "stderr"],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        nginx = cls(process, address, folder)
        try:
            nginx._wait_ready()
        except BaseException:
            nginx.stop()
            raise
        return nginx

    def _wait_ready(self) -> None:
        host, port = self.address.rsplit(":", 1)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if self.process.poll() is not None:
                log = (self.folder / "stderr.log").read_text()
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {log}")
            with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 1):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not listen on {self.address}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Quick shutdown (SIGTERM), SIGKILL if it hangs; then removes its folder."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class AioProxy:
    """A running plain grpc.aio forwarding proxy (bench/aioproxy.py)."""

    def __init__(self, process: subprocess.Popen[str], address: str) -> None:
        self.process = process
        self.address = address

    @classmethod
    def start(cls, upstream: str) -> AioProxy:
        """Starts the proxy in front of `upstream`; returns once it listens."""
        address = f"127.0.0.1:{free_port()}"
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.aioproxy", address, upstream],
            stdout=subprocess.PIPE,
            text=True,
        )
        if process.stdout is None or process.stdout.readline() != "ready\n":
            process.kill()
            process.wait()
            raise RuntimeError(f"bench.aioproxy did not start (exit code {process.poll()})")
        return cls(process, address)

    def stop(self) -> None:
        """SIGTERM, SIGKILL if it hangs."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


Peer = Nginx | AioProxy


@dataclass(frozen=True)
class ProxyOutcome:
    """The hub against each peer proxy."""

    peers: list[ThroughputOutcome]

    def report(self) -> list[str]:
        """Each comparison's own rows."""
        return [line for outcome in self.peers for line in outcome.report()]

    def rows(self) -> list[table.Row]:
        """Each comparison's rows of the summary table."""
        return [row for outcome in self.peers for row in outcome.rows()]

    def as_json(self) -> dict[str, object]:
        """Both comparisons, for bench-results.json."""
        return {"kind": "proxy", "peers": [outcome.as_json() for outcome in self.peers]}


_PEERS: tuple[tuple[str, Callable[[str], Peer]], ...] = (
    ("nginx grpc_pass", Nginx.start),
    ("a plain grpc.aio proxy", AioProxy.start),
)


@dataclass(frozen=True)
class ProxyScenario:
    """See the module docstring."""

    name: str = "grpc-proxy"

    def run(self, options: Options) -> ProxyOutcome:
        """Starts a hub, then for each peer proxy in turn: starts it in front of the hub's
        backend and alternates rounds through the hub and through it."""
        tools.path(tools.NGINX)  # before starting anything
        hub = start_hub()
        try:
            target = Target(hub, seed_mindmap(hub), options.connections)
            outcomes = []
            for name, start in _PEERS:
                peer = start(hub.backend_target("mindmap-service"))
                try:
                    outcomes.append(_compare(self.name, target, name, peer, options))
                finally:
                    peer.stop()
            return ProxyOutcome(outcomes)
        finally:
            hub.stop()


def _compare(
    scenario: str, target: Target, name: str, peer: Peer, options: Options
) -> ThroughputOutcome:
    through_peer = grpc_get(f"gRPC GetMindmap through {name}", lambda _: peer.address, "backend")
    return alternate(
        scenario,
        (GRPC_THROUGH_HUB, target),
        (
            through_peer,
            Target(target.hub, target.mindmap_id, target.connections, (peer.process.pid,)),
        ),
        options,
        goal=None,
    )


PROXY = ProxyScenario()
