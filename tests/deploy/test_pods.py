"""The pods of deploy/kubernetes, run for real: each role's container command with the
ConfigMap's hub.yaml and the container's environment, on this machine's PostgreSQL and
Redis, asked what kubelet would ask by the probes of the manifests, and stopped as
Kubernetes stops a pod.

Only what cannot be the same here is changed, through `HUB_*` variables as an operator
would: loopback addresses on free ports instead of the pods' ports and Service names, the
DSN of a fresh schema and the test Redis instead of the Secret's and the cluster's, a data
folder of the test's, and a collector address where nothing listens (spans are dropped, as
they are while a collector is away). The rest (production profile, policies, pool sizes,
tracing to OTLP, grace period) is the manifests' own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hub.config import ROLES, SERVICE_NAMES, Role, ServiceName
from tests.deploy.manifests import (
    KUBERNETES,
    Resource,
    config_argument,
    config_text,
    container,
    container_ports,
    deployment_of,
    environment,
    probes,
    render,
)
from tests.deploy.prometheus_server import free_port
from tests.postgres import fresh_schema
from tests.redisdb import REDIS_URL, redis_prefix

pytestmark = pytest.mark.e2e

HUB = Path(sys.executable).with_name("hub")
SERVING = health_pb2.HealthCheckResponse.SERVING
PROBE_TIMEOUT_SECONDS = 2.0
WAIT_SECONDS = 15.0
# The backends first: a gateway is ready only once it reaches a replica of each.
ORDER: tuple[Role, ...] = ("users", "mindmaps", "gateway")


@dataclass
class Pod:
    """One role's process, and which local port stands for each container port."""

    role: Role
    deployment: Resource
    process: subprocess.Popen[bytes]
    ports: dict[int, int]
    log: Path

    def probe(self, kind: str) -> bool:
        """Whether the container's `kind` probe (startupProbe, ...) succeeds now: an HTTP
        status from 200 to 399, or SERVING from the gRPC health service, as kubelet reads
        them."""
        probe = dict(probes(self.deployment))[kind]
        if "grpc" in probe:
            target = f"127.0.0.1:{self.ports[probe['grpc']['port']]}"
            request = health_pb2.HealthCheckRequest(service=probe["grpc"].get("service", ""))
            with grpc.insecure_channel(target) as channel:
                try:
                    answer = health_pb2_grpc.HealthStub(channel).Check(
                        request, timeout=PROBE_TIMEOUT_SECONDS
                    )
                except grpc.RpcError:
                    return False
            return bool(answer.status == SERVING)
        action = probe["httpGet"]
        port = action["port"]
        number = port if isinstance(port, int) else container_ports(self.deployment)[port]
        url = f"http://127.0.0.1:{self.ports[number]}{action['path']}"
        try:
            status = httpx.get(url, timeout=PROBE_TIMEOUT_SECONDS).status_code
        except httpx.TransportError:
            return False
        return 200 <= status < 400

    def wait_for(self, kind: str) -> None:
        """Asks the probe as often as the manifest says, at most as many times as it allows
        failures; fails the test, with the process's log, if it never succeeds."""
        probe = dict(probes(self.deployment))[kind]
        for _ in range(probe.get("failureThreshold", 3)):
            if self.probe(kind):
                return
            if self.process.poll() is not None:
                break
            time.sleep(probe.get("periodSeconds", 10))
        pytest.fail(f"{self.role}: {kind} never succeeded:\n{self.log.read_text()}")


@dataclass
class Cluster:
    """The three roles' pods."""

    pods: dict[Role, Pod]
    resources: list[Resource]


def local_environment(
    deployment: Resource, ports: dict[ServiceName, int], dsn: str, prefix: str, folder: Path
) -> dict[str, str]:
    """The container's environment with this machine's addresses, database and Redis."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    variables = {**inherited, **environment(deployment)}
    if "HUB_STORAGE__POSTGRESQL__DSN" in variables:
        variables["HUB_STORAGE__POSTGRESQL__DSN"] = dsn
    for name in SERVICE_NAMES:
        key = name.replace("-", "_").upper()
        address = f"127.0.0.1:{ports[name]}"
        variables[f"HUB_SERVICES__{key}__LISTEN"] = address
        variables[f"HUB_SERVICES__{key}__TARGETS"] = json.dumps([address])
    return variables | {
        "HUB_DATA_DIR": str(folder),
        "HUB_REDIS__URL": REDIS_URL,
        "HUB_REDIS__KEY_PREFIX": prefix,
        "HUB_OBSERVABILITY__TRACING__OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
    }


def start(
    resources: list[Resource],
    role: Role,
    service_ports: dict[ServiceName, int],
    dsn: str,
    prefix: str,
    folder: Path,
) -> Pod:
    """Runs the role's container command, its `--config` being the ConfigMap's file; the
    backend services listen on (and the gateway dials) `service_ports`."""
    deployment = deployment_of(resources, role)
    declared = container_ports(deployment)
    hosted = ROLES[role].services
    http = free_port()
    grpc_port = service_ports[hosted[0]] if hosted else free_port()
    config = folder / f"{role}.yaml"
    config.write_text(config_text(resources, deployment), encoding="utf-8")
    variables = local_environment(deployment, service_ports, dsn, prefix, folder / role)
    variables |= {"HUB_HTTP__LISTEN": f"127.0.0.1:{http}"}
    if not hosted:
        variables["HUB_GRPC__LISTEN"] = f"127.0.0.1:{grpc_port}"
    hub = container(deployment)
    [program] = hub["command"]
    args = [str(config) if a == str(config_argument(deployment)) else a for a in hub["args"]]
    log = folder / f"{role}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(HUB.with_name(program)), *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=variables,
        )
    ports = {declared["http"]: http, declared["grpc"]: grpc_port}
    return Pod(role, deployment, process, ports, log)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Each role started as its manifest says, once the one before passed its startup
    probe; every process still running is stopped at the end."""
    folder = tmp_path_factory.mktemp("pods")
    resources = render(KUBERNETES)
    service_ports = {name: free_port() for name in SERVICE_NAMES}
    pods: dict[Role, Pod] = {}
    with redis_prefix() as prefix, fresh_schema() as dsn:
        try:
            for role in ORDER:
                pods[role] = start(resources, role, service_ports, dsn, prefix, folder)
                pods[role].wait_for("startupProbe")
            yield Cluster(pods, resources)
        finally:
            for pod in pods.values():
                if pod.process.poll() is None:
                    pod.process.kill()
                pod.process.wait()


def test_every_role_passes_its_probes_and_serves(cluster: Cluster) -> None:
    """Started, alive and ready as the probes of the manifests ask; then a signup through
    the gateway (open to anonymous callers in hub.yaml), and a read of it without
    credentials refused (authentication is on)."""
    for pod in cluster.pods.values():
        pod.wait_for("readinessProbe")
        assert pod.probe("livenessProbe"), pod.role
    gateway = cluster.pods["gateway"]
    base = f"http://127.0.0.1:{gateway.ports[container_ports(gateway.deployment)['http']]}"
    created = httpx.post(
        f"{base}/api/v1/users", json={"email": "ops@example.com", "displayName": "Ops"}
    )
    assert 200 == created.status_code, created.text
    anonymous = httpx.get(f"{base}/api/v1/users/{created.json()['id']}")
    assert 401 == anonymous.status_code


def test_a_stopped_backend_drains_within_the_grace_period_and_the_gateway_says_so(
    cluster: Cluster,
) -> None:
    """SIGTERM (what Kubernetes sends after preStop) to the users role: it exits 0 before
    terminationGracePeriodSeconds less the preStop sleep would have run out, and the gateway
    then reports itself not ready (no replica of the user service left)."""
    users = cluster.pods["users"]
    spec = users.deployment["spec"]["template"]["spec"]
    pre_stop = container(users.deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
    users.process.send_signal(signal.SIGTERM)
    try:
        code = users.process.wait(timeout=spec["terminationGracePeriodSeconds"] - pre_stop)
    except subprocess.TimeoutExpired:
        pytest.fail(f"users did not stop in time:\n{users.log.read_text()}")
    assert 0 == code, users.log.read_text()

    gateway = cluster.pods["gateway"]
    deadline = time.monotonic() + WAIT_SECONDS
    while gateway.probe("readinessProbe"):
        assert time.monotonic() < deadline, "the gateway still reports itself ready"
        time.sleep(0.1)
    assert gateway.probe("livenessProbe")
