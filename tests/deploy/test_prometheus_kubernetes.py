"""deploy/prometheus/prometheus-kubernetes.yml, the scrape configuration of the hub split by
role: a real Prometheus applies its relabelling to the targets Kubernetes pod discovery
would report for the pods of deploy/kubernetes, and keeps one target per pod of each role,
at the port and path of its annotations, labelled job `hub-<role>` and instance the pod's
name; other pods and ports are dropped.

Debian's Prometheus (the tests' binary) is built without Kubernetes discovery, so the test
runs the configuration with `kubernetes_sd_configs` swapped for a file of the same targets:
each with the `__meta_kubernetes_pod_*` labels the pod role gives (Prometheus's
documentation of kubernetes_sd_config), made from the rendered Deployments' pod templates.
The swapped configuration also passes `promtool check config`. Pod addresses are loopback
addresses, and the scrape interval an hour, so nothing is scraped in earnest."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.artefacts import PROMETHEUS, RULE_FILES, load_yaml
from tests.deploy.manifests import KUBERNETES, Resource, of_kind, render, role_of
from tests.deploy.prometheus_server import prometheus_with
from tests.deploy.test_promtool import run
from tests.deploy.tools import required_tool

CONFIG = PROMETHEUS / "prometheus-kubernetes.yml"
NAMESPACE = "hub"
WAIT_SECONDS = 30.0
_INVALID_LABEL_CHARACTERS = re.compile(r"[^a-zA-Z0-9_]")


def meta(prefix: str, mapping: dict[str, str]) -> dict[str, str]:
    """Labels or annotations as Kubernetes discovery names them: `prefix` + the name with
    every character other than a letter, digit or _ replaced by _."""
    return {prefix + _INVALID_LABEL_CHARACTERS.sub("_", k): v for k, v in mapping.items()}


def pod_targets(pod: str, ip: str, template: dict[str, Any]) -> list[dict[str, Any]]:
    """The target groups the pod role reports for one pod: one per container port."""
    spec_metadata = template["metadata"]
    common = {
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_pod_name": pod,
        "__meta_kubernetes_pod_ip": ip,
        **meta("__meta_kubernetes_pod_label_", spec_metadata.get("labels", {})),
        **meta("__meta_kubernetes_pod_annotation_", spec_metadata.get("annotations", {})),
    }
    return [
        {
            "targets": [f"{ip}:{port['containerPort']}"],
            "labels": {
                **common,
                "__meta_kubernetes_pod_container_name": container["name"],
                "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                "__meta_kubernetes_pod_container_port_protocol": "TCP",
            },
        }
        for container in template["spec"]["containers"]
        for port in container["ports"]
    ]


def discovered(deployments: list[Resource]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Targets for one pod of each Deployment, a hub pod that does not ask to be scraped and
    a pod that is not the hub's; and the pod names of the roles, by role."""
    groups: list[dict[str, Any]] = []
    pods: dict[str, str] = {}
    for index, deployment in enumerate(deployments, start=2):
        pod = f"{deployment['metadata']['name']}-5d8f7c9b4-x{index}"
        pods[role_of(deployment)] = pod
        groups += pod_targets(pod, f"127.0.0.{index}", deployment["spec"]["template"])
    quiet = json.loads(json.dumps(deployments[0]["spec"]["template"]))
    quiet["metadata"]["annotations"]["prometheus.io/scrape"] = "false"
    groups += pod_targets("hub-quiet-0", "127.0.0.20", quiet)
    other = {
        "metadata": {
            "labels": {"app": "postgres"},
            "annotations": {"prometheus.io/scrape": "true"},
        },
        "spec": {"containers": [{"name": "postgres", "ports": [{"containerPort": 5432}]}]},
    }
    groups += pod_targets("postgres-0", "127.0.0.21", other)
    return groups, pods


def swapped_config(folder: Path, groups: list[dict[str, Any]]) -> Path:
    """prometheus-kubernetes.yml in `folder` with file discovery of `groups` in place of
    Kubernetes discovery, rule files by absolute path, no Alertmanager."""
    config = load_yaml(CONFIG)
    [scrape] = config["scrape_configs"]
    assert [{"role": "pod", "namespaces": {"names": [NAMESPACE]}}] == scrape.pop(
        "kubernetes_sd_configs"
    )
    targets = folder / "targets.json"
    targets.write_text(json.dumps(groups), encoding="utf-8")
    scrape["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": "1s"}]
    scrape["scrape_interval"] = "1h"
    config["rule_files"] = [str(PROMETHEUS / name) for name in config["rule_files"]]
    del config["alerting"]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_it_evaluates_the_same_rule_files_as_the_single_process_configuration() -> None:
    assert [path.name for path in RULE_FILES] == load_yaml(CONFIG)["rule_files"]


async def test_one_target_per_pod_of_each_role_labelled_by_role(tmp_path: Path) -> None:
    binary = required_tool("prometheus")
    deployments = of_kind(render(KUBERNETES), "Deployment")
    groups, pods = discovered(deployments)
    config = swapped_config(tmp_path, groups)
    run(required_tool("promtool"), "check", "config", config)

    async with prometheus_with(binary, tmp_path, config) as prometheus:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:  # discovery and relabelling take a few seconds after start
                found = await prometheus.targets()
                if len(found["activeTargets"]) >= len(pods):
                    break
                await asyncio.sleep(0.2)

    active = {
        (
            target["labels"]["job"],
            target["labels"]["instance"],
            target["labels"]["namespace"],
            target["scrapeUrl"],
        )
        for target in found["activeTargets"]
    }
    assert {
        (f"hub-{role}", pod, NAMESPACE, f"http://127.0.0.{index}:8080/metrics")
        for index, (role, pod) in enumerate(pods.items(), start=2)
    } == active
    assert {"gateway", "users", "mindmaps"} == set(pods)
    assert len(groups) - len(pods) == len(found["droppedTargets"])
