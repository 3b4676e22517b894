"""deploy/istio: the Istio resources valid against Istio's published CRD schemas, and their
routes consistent with the hub: reads (the only calls retried on failures after they reached
a replica) are exactly the RPCs the protos map to GET, every destination is a Service of the
layout on a port it has, and route timeouts match the longest deadline the hub lets a
request ask for.

The Kubernetes schemas of kubernetes-validate do not cover Istio's custom resources. They
are checked twice, offline, from the npm package @kubernetes-models/istio (pinned in
package.json; generated from the CRDs of the Istio release its package.json names):
- its validators, the CRDs' OpenAPI schemas compiled to JSON Schema checks (types, enums,
  required fields, formats, one-of choices), run by tests/deploy/istio.mjs;
- its TypeScript types, generated from the same schemas, with the TypeScript compiler (npm
  `typescript`, pinned): each resource as an object literal of its type, so that an unknown
  or misspelt field fails (the CRD schemas leave additionalProperties open; the API server
  rejects unknown fields under `kubectl apply`'s default strict field validation).
Neither evaluates the CRDs' CEL rules (x-kubernetes-validations, e.g. a timeout's minimum of
1 ms); the route tests below pin the values that matter instead.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hub.client import SERVICE_DESCRIPTORS, is_read, method_path
from hub.config import ServiceName
from tests.deploy.manifests import (
    ISTIO,
    ROOT,
    Resource,
    container_ports,
    deployment_of,
    identify,
    named,
    of_kind,
    render,
    settings,
)

VALIDATE = ROOT / "tests" / "deploy" / "istio.mjs"
TSC = ROOT / "node_modules" / ".bin" / "tsc"
TIMEOUT_SECONDS = 120
# Failures after which a call cannot have reached a replica's handler: safe to retry writes.
BEFORE_THE_REPLICA = {"connect-failure", "refused-stream"}
_TSC_ERROR = re.compile(r"^check\.ts\((?P<line>\d+),\d+\): (?P<message>.*)$")


def istio_resources() -> list[Resource]:
    """The resources of deploy/istio that are Istio's own."""
    return [r for r in render(ISTIO) if r["apiVersion"].split("/")[0].endswith(".istio.io")]


def schema_problems(resources: list[Resource]) -> dict[str, list[str]]:
    """What the CRD schemas' validators find, by `Kind/name`."""
    result = subprocess.run(
        ["node", str(VALIDATE)],
        input=json.dumps(resources),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_SECONDS,
    )
    assert 0 == result.returncode, result.stderr
    return {f"{r['kind']}/{r['name']}": r["errors"] for r in json.loads(result.stdout)}


def type_problems(resources: list[Resource], folder: Path) -> dict[str, list[str]]:
    """What the TypeScript compiler finds when each resource is an object literal of its
    generated type, by `Kind/name` (one resource per line of the checked file)."""
    lines = []
    for index, resource in enumerate(resources):
        module = f"@kubernetes-models/istio/{resource['apiVersion']}/{resource['kind']}"
        lines.append(f'import type {{ I{resource["kind"]} as T{index} }} from "{module}";')
    first = len(lines) + 1
    lines += [f"export const r{i}: T{i} = {json.dumps(r)};" for i, r in enumerate(resources)]
    (folder / "check.ts").write_text("\n".join(lines) + "\n", encoding="utf-8")
    compiler_options = {
        "strict": True,
        "noEmit": True,
        "module": "nodenext",
        "moduleResolution": "nodenext",
        "types": [],
        "skipLibCheck": True,
    }
    tsconfig = {"compilerOptions": compiler_options, "files": ["check.ts"]}
    (folder / "tsconfig.json").write_text(json.dumps(tsconfig), encoding="utf-8")
    (folder / "node_modules").symlink_to(ROOT / "node_modules")
    result = subprocess.run(
        [str(TSC), "-p", str(folder / "tsconfig.json")],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_SECONDS,
    )
    problems: dict[str, list[str]] = {identify(r): [] for r in resources}
    for line in result.stdout.splitlines():
        match = _TSC_ERROR.match(line)
        if match is None:
            continue  # a continuation line of the message before
        index = int(match["line"]) - first
        where = identify(resources[index]) if 0 <= index < len(resources) else "check.ts"
        problems.setdefault(where, []).append(match["message"])
    assert (0 == result.returncode) == all(not found for found in problems.values()), (
        result.stdout + result.stderr
    )
    return problems


def test_every_istio_resource_is_valid_for_the_crd_schemas(tmp_path: Path) -> None:
    resources = istio_resources()
    assert {"VirtualService", "DestinationRule", "PeerAuthentication"} == {
        r["kind"] for r in resources
    }
    expected: dict[str, list[str]] = {identify(r): [] for r in resources}
    assert expected == schema_problems(resources)
    assert expected == type_problems(resources, tmp_path)


def test_the_istio_checks_are_live(tmp_path: Path) -> None:
    """A wrong type fails the schema validators, a misspelt field the type check, and a
    kind the package does not know is reported, not passed."""
    virtual_service = named(istio_resources(), "VirtualService", "hub-users")
    wrong_type = copy.deepcopy(virtual_service)
    wrong_type["spec"]["http"][0]["retries"]["attempts"] = "three"
    misspelt = copy.deepcopy(virtual_service)
    misspelt["metadata"]["name"] = "misspelt"
    retries = misspelt["spec"]["http"][0]["retries"]
    retries["perTryTimout"] = retries.pop("perTryTimeout")
    unknown = {"apiVersion": "networking.istio.io/v1", "kind": "Nope", "metadata": {"name": "x"}}

    found = schema_problems([wrong_type, unknown])
    assert ["/spec/http/0/retries/attempts must be integer"] == found["VirtualService/hub-users"]
    assert ["no schema for networking.istio.io/v1 Nope"] == found["Nope/x"]
    [typo] = type_problems([misspelt], tmp_path)["VirtualService/misspelt"]
    assert "'\"perTryTimout\"' does not exist" in typo


def routes(virtual_service: Resource) -> dict[str, dict[str, Any]]:
    """A VirtualService's HTTP routes by name, in order."""
    return {route["name"]: route for route in virtual_service["spec"]["http"]}


def exact_paths(route: dict[str, Any]) -> set[str]:
    """The gRPC method paths a route matches exactly."""
    return {match["uri"]["exact"] for match in route["match"] if "exact" in match.get("uri", {})}


def read_paths(service: ServiceName) -> set[str]:
    """The wire paths of a backend service's reads (RPCs mapped to HTTP GET)."""
    descriptor = SERVICE_DESCRIPTORS[service]
    return {method_path(descriptor, m.name) for m in descriptor.methods if is_read(m)}


@pytest.mark.parametrize(
    ("name", "service"), [("hub-users", "user-service"), ("hub-mindmaps", "mindmap-service")]
)
def test_backend_routes_retry_exactly_the_reads(name: str, service: ServiceName) -> None:
    """Reads first (exact method paths, the protos' GET RPCs), then the health stream
    without timeout or retries, then every other method of the service (the writes),
    retried only before they reached a replica, then a catch-all."""
    virtual_service = named(istio_resources(), "VirtualService", name)
    found = routes(virtual_service)
    assert ["reads", "streams", "writes", "other"] == list(found)
    assert read_paths(service) == exact_paths(found["reads"])
    assert {"unavailable", "cancelled"} <= set(found["reads"]["retries"]["retryOn"].split(","))
    assert {"attempts": 0} == found["streams"]["retries"]
    assert "timeout" not in found["streams"]
    full_name = SERVICE_DESCRIPTORS[service].full_name
    assert [{"uri": {"prefix": f"/{full_name}/"}}] == found["writes"]["match"]
    for route in ("writes", "other"):
        assert BEFORE_THE_REPLICA == set(found[route]["retries"]["retryOn"].split(","))


def test_gateway_routes_retry_grpc_reads_and_http_gets_only() -> None:
    found = routes(named(istio_resources(), "VirtualService", "hub-gateway"))
    every_read = read_paths("user-service") | read_paths("mindmap-service")
    assert every_read == exact_paths(found["grpc-reads"])
    assert [
        {"port": 8080, "method": {"exact": "GET"}},
        {"port": 8080, "method": {"exact": "HEAD"}},
    ] == (found["http-reads"]["match"])
    for name in ("grpc-writes", "websockets", "http-writes"):
        assert BEFORE_THE_REPLICA == set(found[name]["retries"]["retryOn"].split(",")), name
    for name in ("grpc-streams", "websockets"):
        assert "timeout" not in found[name], name


def test_route_timeouts_are_the_longest_deadline_a_request_may_ask(tmp_path: Path) -> None:
    """Every route with a timeout waits http.max_timeout_seconds, the longest deadline the
    gateway lets a request ask for, and each try of a read at most that."""
    resources = render(ISTIO)
    gateway = settings(resources, deployment_of(resources, "gateway"), tmp_path)
    expected = f"{gateway.http.max_timeout_seconds:g}s"
    timeouts = {
        (identify(vs), route["name"]): route["timeout"]
        for vs in of_kind(resources, "VirtualService")
        for route in vs["spec"]["http"]
        if "timeout" in route
    }
    assert len(timeouts) >= 9
    assert dict.fromkeys(timeouts, expected) == timeouts
    for vs in of_kind(resources, "VirtualService"):
        for route in vs["spec"]["http"]:
            per_try = route["retries"].get("perTryTimeout")
            assert per_try is None or float(per_try[:-1]) <= gateway.http.max_timeout_seconds


def test_every_host_and_destination_is_a_service_of_the_layout() -> None:
    """VirtualServices and DestinationRules name the Services of deploy/istio (short names,
    in their own namespace), and each route's destination port is one the Service has."""
    resources = render(ISTIO)
    services = {
        s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]}
        for s in of_kind(resources, "Service")
    }
    for rule in of_kind(resources, "DestinationRule"):
        assert rule["spec"]["host"] in services, identify(rule)
    for vs in of_kind(resources, "VirtualService"):
        [host] = vs["spec"]["hosts"]
        assert host in services, identify(vs)
        for route in vs["spec"]["http"]:
            [target] = route["route"]
            destination = target["destination"]
            assert host == destination["host"], (identify(vs), route["name"])
            port = destination.get("port", {}).get("number")
            assert port is None or port in services[host], (identify(vs), route["name"])
            for match in route.get("match", []):
                assert match.get("port", port) in services[host], (identify(vs), route["name"])
    assert {"hub-gateway", "hub-users", "hub-mindmaps"} == {
        r["spec"]["host"] for r in of_kind(resources, "DestinationRule")
    }


def test_backend_destinations_use_the_ports_the_backends_serve_on() -> None:
    resources = render(ISTIO)
    for role, name in (("users", "hub-users"), ("mindmaps", "hub-mindmaps")):
        port = container_ports(deployment_of(resources, role))["grpc"]
        found = routes(named(resources, "VirtualService", name))
        for route in ("reads", "streams", "writes"):
            assert port == found[route]["route"][0]["destination"]["port"]["number"]


def test_mutual_tls_is_required_in_the_namespace() -> None:
    [policy] = of_kind(istio_resources(), "PeerAuthentication")
    assert ("default", "hub", {"mtls": {"mode": "STRICT"}}) == (
        policy["metadata"]["name"],
        policy["metadata"]["namespace"],
        policy["spec"],
    )
