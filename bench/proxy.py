"""Scenario `grpc-proxy`: the hub as a gRPC proxy, against a peer proxy doing the same hop.

The peer is nginx (Debian `nginx-light`, which has the grpc module) passing every call with
`grpc_pass` to the hub's own mindmap backend (its unix socket), in a process this scenario
starts with a generated configuration on a free loopback port: no system service, no
master process, one worker, no access log, upstream connections kept alive. nginx closes a
client connection after `keepalive_requests` calls (1,000 by default) and an upstream one
after the upstream's `keepalive_requests`, sending GOAWAY in the middle of a run; both are
raised far beyond what a run sends.

Subject: gRPC `GetMindmap` through the hub's gRPC front end (which forwards it to the same
backend); baseline: the same call through nginx. Both sides are loaded by h2load and served
by the same `hub serve`; the nginx side's server CPU per request is the hub's (its backend)
plus nginx's. No goal: a reference for what a proxy hop can cost (the issue measured nginx
at 0.72-0.80 of calling the backend directly, a plain grpc.aio forwarding proxy 0.31-0.40).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import tools
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


@dataclass(frozen=True)
class ProxyScenario:
    """See the module docstring."""

    name: str = "grpc-proxy"

    def run(self, options: Options) -> ThroughputOutcome:
        """Starts a hub and nginx in front of its backend, then alternates rounds."""
        tools.path(tools.NGINX)  # before starting anything
        hub = start_hub()
        try:
            nginx = Nginx.start(hub.backend_target("mindmap-service"))
            try:
                mindmap_id = seed_mindmap(hub)
                through_nginx = grpc_get(
                    "gRPC GetMindmap through nginx grpc_pass", lambda _: nginx.address, "backend"
                )
                return alternate(
                    self.name,
                    (GRPC_THROUGH_HUB, Target(hub, mindmap_id, options.connections)),
                    (
                        through_nginx,
                        Target(hub, mindmap_id, options.connections, also=(nginx.process.pid,)),
                    ),
                    options,
                    goal=None,
                )
            finally:
                nginx.stop()
        finally:
            hub.stop()


PROXY = ProxyScenario()
