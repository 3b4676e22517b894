"""deploy/kubernetes (and the Kubernetes half of deploy/istio): every resource valid against
the Kubernetes API's own schemas, strictly (an unknown or misspelt field fails), offline with
the PyPI package kubernetes-validate; and the manifests consistent with the hub they run:
the ConfigMap's hub.yaml loads with `hub.config.load_settings` with each container's
environment, the container runs a real `hub serve --role`, probes and Services point at
ports the container declares and the configuration listens on, selectors pick the pods
they mean, drains fit in the grace period, and the database connections fit in PostgreSQL.
"""

from __future__ import annotations

import copy
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
from kubernetes_validate import utils as kubernetes_validate

from hub.cli import _parser
from hub.client import SERVICE_DESCRIPTORS
from hub.config import HEALTH_PATH, READY_PATH, ROLES, Role, check_role
from tests.deploy.manifests import (
    DEPLOYED_ROLES,
    KUBERNETES,
    LAYOUTS,
    SECRET_EXAMPLE,
    Resource,
    container,
    container_ports,
    deployment_of,
    identify,
    load_documents,
    mounted_volume,
    named,
    port_of,
    probes,
    render,
    service_for,
    settings,
)

# The oldest Kubernetes the manifests are for (preStop `sleep` is on by default from 1.30)
# and the newest whose schemas kubernetes-validate carries.
KUBERNETES_VERSIONS = ("1.30", "1.37")
# PostgreSQL's default max_connections, less its superuser_reserved_connections.
POSTGRESQL_CONNECTIONS = 100 - 3


def kubernetes_resources(layout: Path) -> list[Resource]:
    """The resources of a layout that belong to the Kubernetes API (not Istio's CRDs)."""
    return [r for r in render(layout) if not r["apiVersion"].split("/")[0].endswith("istio.io")]


def schema_errors(resource: Resource, version: str) -> list[str]:
    """What kubernetes-validate (strict) finds wrong with `resource` for `version`; a kind
    it has no schema for counts as wrong (its command line only warns)."""
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"{identify(resource)}: {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"{identify(resource)}: {error.message}"]
    return []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_resource_is_valid_for_the_kubernetes_api(layout: str, version: str) -> None:
    resources = kubernetes_resources(LAYOUTS[layout])
    assert {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    } == {r["kind"] for r in resources}
    assert [] == [problem for r in resources for problem in schema_errors(r, version)]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_secret_example_is_valid(version: str) -> None:
    [secret] = load_documents(SECRET_EXAMPLE)
    assert [] == schema_errors(secret, version)


def test_the_schema_check_is_strict_a_misspelt_field_fails() -> None:
    """What the checks above would catch: a probe field misspelt, an Istio kind unknown to
    the Kubernetes schemas."""
    deployment = copy.deepcopy(deployment_of(render(KUBERNETES), "gateway"))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGett"] = probe.pop("httpGet")
    [problem] = schema_errors(deployment, KUBERNETES_VERSIONS[-1])
    assert "readinessProbe" in problem
    assert "'httpGett' was unexpected" in problem
    [unknown] = schema_errors(
        named(render(LAYOUTS["istio"]), "VirtualService", "hub-users"), "1.37"
    )
    assert "VirtualService" in unknown


def test_the_kustomization_uses_every_file_but_the_secret_example() -> None:
    """Each manifest is a resource, hub.yaml the one file of the generated ConfigMap."""
    kustomization = load_documents(KUBERNETES / "kustomization.yaml")[0]
    [generator] = kustomization["configMapGenerator"]
    manifests = sorted(
        path.name
        for path in KUBERNETES.glob("*.yaml")
        if path.name not in ("kustomization.yaml", SECRET_EXAMPLE.name, "hub.yaml")
    )
    assert manifests == sorted(kustomization["resources"])
    assert ("hub-config", ["hub.yaml"]) == (generator["name"], generator["files"])


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("role", DEPLOYED_ROLES)
def test_the_container_runs_hub_serve_with_its_role(layout: str, role: Role) -> None:
    """The command line parses with the hub's own parser, and names this role."""
    deployment = deployment_of(render(LAYOUTS[layout]), role)
    hub = container(deployment)
    assert ["hub"] == hub["command"]
    args = _parser().parse_args(hub["args"])
    assert ("serve", role) == (args.command, args.role)
    assert f"hub-{role}" == deployment["metadata"]["name"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("role", DEPLOYED_ROLES)
def test_the_configuration_loads_and_listens_on_the_declared_ports(
    layout: str, role: Role, tmp_path: Path
) -> None:
    """The ConfigMap's hub.yaml with the container's environment (Secret values from the
    example) is a valid configuration with everything the role needs, and the container
    declares the ports it listens on: `http` for http.listen, `grpc` for the public gRPC
    server (gateway) or the service it hosts (backends). Spans go to a collector's OTLP
    gRPC port under the role's own service name."""
    resources = render(LAYOUTS[layout])
    deployment = deployment_of(resources, role)
    loaded = settings(resources, deployment, tmp_path)
    check_role(loaded, role)
    hosted = ROLES[role].services
    grpc_listen = loaded.service_listen(hosted[0]) if hosted else loaded.grpc.listen
    assert {"http": port_of(loaded.http.listen), "grpc": port_of(grpc_listen)} == (
        container_ports(deployment)
    )
    assert ("postgresql", "production") == (loaded.storage.engine, loaded.profile)
    assert loaded.redis.url is not None
    tracing = loaded.observability.tracing
    assert ("otlp", 4317, f"hub-{role}") == (
        tracing.exporter,
        urlsplit(tracing.otlp_endpoint).port,
        tracing.service_name,
    )


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("role", DEPLOYED_ROLES)
def test_probes_ask_the_health_endpoints_on_declared_ports(layout: str, role: Role) -> None:
    """Liveness /healthz and readiness /readyz on the HTTP port; the backends' startup probe
    asks their own gRPC health for their service, on the port they serve it on."""
    deployment = deployment_of(render(LAYOUTS[layout]), role)
    ports = container_ports(deployment)
    found = dict(probes(deployment))
    assert (HEALTH_PATH, "http") == (
        found["livenessProbe"]["httpGet"]["path"],
        found["livenessProbe"]["httpGet"]["port"],
    )
    assert (READY_PATH, "http") == (
        found["readinessProbe"]["httpGet"]["path"],
        found["readinessProbe"]["httpGet"]["port"],
    )
    startup = found["startupProbe"]
    if ROLES[role].services:
        [service] = ROLES[role].services
        expected = {"port": ports["grpc"], "service": SERVICE_DESCRIPTORS[service].full_name}
        assert expected == startup["grpc"]
    else:
        assert {"path": HEALTH_PATH, "port": "http"} == startup["httpGet"]
    for kind, probe in found.items():
        action = probe.get("httpGet") or probe["grpc"]
        declared = action["port"] in ports or action["port"] in ports.values()
        assert declared, f"{kind} of {role}: port {action['port']} is not declared"


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("role", DEPLOYED_ROLES)
def test_the_service_picks_the_role_and_forwards_to_declared_ports(layout: str, role: Role) -> None:
    """One Service per role, its selector the Deployment's own (which matches the pod
    labels), each port forwarded to the container port of its name, gRPC ports marked
    `appProtocol: grpc` for Kubernetes and the mesh."""
    resources = render(LAYOUTS[layout])
    deployment = deployment_of(resources, role)
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    service = service_for(resources, deployment)
    assert selector == service["spec"]["selector"]
    ports = container_ports(deployment)
    assert {
        (port["name"], port["targetPort"], port["appProtocol"], port["port"])
        for port in service["spec"]["ports"]
    } == {(name, name, name, number) for name, number in ports.items()}


def test_backends_are_headless_without_a_mesh_and_virtual_ips_in_it() -> None:
    """deploy/kubernetes: the gateway balances over the backends' pods itself (a headless
    Service's name resolves to each); deploy/istio: each backend has a virtual IP and Envoy
    balances."""
    for layout, expected in (("kubernetes", "None"), ("istio", None)):
        resources = render(LAYOUTS[layout])
        for role in ("users", "mindmaps"):
            service = service_for(resources, deployment_of(resources, role))
            assert expected == service["spec"].get("clusterIP"), (layout, role)
    gateway = render(LAYOUTS["istio"])
    assert "enabled" == named(gateway, "Namespace", "hub")["metadata"]["labels"]["istio-injection"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_gateway_dials_each_backend_through_its_service(layout: str, tmp_path: Path) -> None:
    """services.*.targets name the Service of the role that hosts the service, on the port
    that role listens on: `dns:///` over the headless Service (round_robin over its pods), or
    the Service's virtual IP in the mesh."""
    resources = render(LAYOUTS[layout])
    gateway = settings(resources, deployment_of(resources, "gateway"), tmp_path)
    for role in DEPLOYED_ROLES:
        for name in ROLES[role].services:
            backend = deployment_of(resources, role)
            service = service_for(resources, backend)
            port = container_ports(backend)["grpc"]
            address = f"{service['metadata']['name']}:{port}"
            expected = f"dns:///{address}" if layout == "kubernetes" else address
            assert [expected] == gateway.service(name).targets


@pytest.mark.parametrize("role", DEPLOYED_ROLES)
def test_pods_run_unprivileged_on_a_read_only_root(role: Role, tmp_path: Path) -> None:
    """Non-root, no privilege escalation, no capabilities, read-only root file system; the
    hub's data_dir and /tmp are emptyDir volumes."""
    resources = render(KUBERNETES)
    deployment = deployment_of(resources, role)
    pod = deployment["spec"]["template"]["spec"]
    assert (True, False) == (
        pod["securityContext"]["runAsNonRoot"],
        pod["automountServiceAccountToken"],
    )
    assert {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    } == container(deployment)["securityContext"]
    data_dir = PurePosixPath(settings(resources, deployment, tmp_path).data_dir)
    for path in (data_dir, PurePosixPath("/tmp")):
        volume, _ = mounted_volume(deployment, path)
        assert "emptyDir" in volume, (role, path)
    limits = container(deployment)["resources"]
    assert {"cpu", "memory"} == set(limits["requests"]) == set(limits["limits"])


@pytest.mark.parametrize("role", DEPLOYED_ROLES)
def test_a_pod_drains_within_its_termination_grace_period(role: Role, tmp_path: Path) -> None:
    """Kubernetes kills the container terminationGracePeriodSeconds after it began to stop:
    that must leave room for the preStop sleep and then the hub's own drain."""
    resources = render(KUBERNETES)
    deployment = deployment_of(resources, role)
    grace = settings(resources, deployment, tmp_path).shutdown.grace_period_seconds
    pre_stop = container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
    termination = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert pre_stop > 0
    assert termination > pre_stop + grace


@pytest.mark.parametrize("role", DEPLOYED_ROLES)
def test_rollouts_and_disruptions_keep_serving(role: Role) -> None:
    """Rolling updates start a new pod before an old one stops; the autoscaler (not the
    Deployment) owns the replica count and keeps at least two, of which voluntary
    disruptions take at most one; both refer to this Deployment."""
    resources = render(KUBERNETES)
    deployment = deployment_of(resources, role)
    name = deployment["metadata"]["name"]
    assert "replicas" not in deployment["spec"]
    assert {"maxUnavailable": 0, "maxSurge": 1} == (deployment["spec"]["strategy"]["rollingUpdate"])
    autoscaler = named(resources, "HorizontalPodAutoscaler", name)
    assert {"apiVersion": "apps/v1", "kind": "Deployment", "name": name} == (
        autoscaler["spec"]["scaleTargetRef"]
    )
    assert 2 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"]
    budget = named(resources, "PodDisruptionBudget", name)
    assert deployment["spec"]["selector"] == budget["spec"]["selector"]
    assert 1 == budget["spec"]["maxUnavailable"]


def test_backend_connections_fit_in_postgresql(tmp_path: Path) -> None:
    """At the autoscalers' maxima, plus the surge pod of a rollout, the backends' pools
    together stay within PostgreSQL's default connection limit."""
    resources = render(KUBERNETES)
    total = 0
    for role in ("users", "mindmaps"):
        deployment = deployment_of(resources, role)
        pool = settings(resources, deployment, tmp_path).storage.postgresql.max_connections
        replicas = named(resources, "HorizontalPodAutoscaler", deployment["metadata"]["name"])
        surge = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        total += (replicas["spec"]["maxReplicas"] + surge) * pool
    assert total <= POSTGRESQL_CONNECTIONS


@pytest.mark.parametrize("role", DEPLOYED_ROLES)
def test_prometheus_annotations_name_the_metrics_port_and_path(role: Role, tmp_path: Path) -> None:
    resources = render(KUBERNETES)
    deployment = deployment_of(resources, role)
    loaded = settings(resources, deployment, tmp_path)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(container_ports(deployment)["http"]),
        "prometheus.io/path": loaded.observability.metrics.path,
    } == annotations
