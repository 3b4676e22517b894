"""The monitoring files under deploy/ as the tests read them: the Prometheus rules, the
Grafana dashboards and provisioning, and every PromQL expression they hold."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.promql import families, metric_names, resolve

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
RULE_FILES = (PROMETHEUS / "recording.rules.yml", PROMETHEUS / "alerts.rules.yml")
RULE_TESTS = PROMETHEUS / "tests"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARD_DIR = GRAFANA / "dashboards"
DASHBOARD_NAMES = ("system", "application", "business")
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "hub.yml"

# Grafana's interval variables ($__rate_interval, $__range, ...) stand for a duration; the
# dashboards' template variables ($job, $instance) appear only inside `=~` matchers.
_GRAFANA_INTERVAL = re.compile(r"\$__\w+")
_TEMPLATE_VARIABLE = re.compile(r"\$\w+")
# A query variable of Grafana's Prometheus data source: `label_values(<selector>, <label>)`.
_LABEL_VALUES = re.compile(r"label_values\((?P<selector>.*),\s*\w+\)", re.DOTALL)


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it is written."""

    where: str
    expr: str


def load_yaml(path: Path) -> Any:
    """The YAML document at `path`."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    """Every rule of the rule files, recording and alerting."""
    return [
        rule
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    ]


def recorded() -> dict[str, str]:
    """Each recording rule's name and expression."""
    return {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}


def dashboards() -> dict[str, dict[str, Any]]:
    """Each dashboard's JSON, by file name without `.json`."""
    return {
        name: json.loads((DASHBOARD_DIR / f"{name}.json").read_text(encoding="utf-8"))
        for name in DASHBOARD_NAMES
    }


def _dashboard_expressions(name: str, dashboard: dict[str, Any]) -> Iterator[Expression]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield Expression(f"{name}.json panel {panel['title']!r}", target["expr"])
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            match = _LABEL_VALUES.fullmatch(variable["query"])
            if match is None:
                raise ValueError(f"{name}.json variable {variable['name']}: not label_values()")
            yield Expression(f"{name}.json variable {variable['name']!r}", match["selector"])


def rule_expressions() -> list[Expression]:
    """The expression of every rule, recording and alerting."""
    return [
        Expression(f"rule {rule.get('record') or rule['alert']}", rule["expr"]) for rule in rules()
    ]


def dashboard_expressions() -> list[Expression]:
    """Every query of the dashboards' panels and every template variable's selector."""
    return [
        expression
        for name, dashboard in dashboards().items()
        for expression in _dashboard_expressions(name, dashboard)
    ]


def as_promql(query: str) -> str:
    """A dashboard query as Prometheus itself takes it: interval variables become one
    minute, template variables match any value."""
    return _TEMPLATE_VARIABLE.sub(".+", _GRAFANA_INTERVAL.sub("1m", query))


def used_families(histograms: Iterable[str]) -> dict[str, set[str]]:
    """The metric families the rules and dashboards read (recording rules resolved to what
    they read, histogram series to their family), each with where it is read."""
    recordings = recorded()
    used: dict[str, set[str]] = {}
    for expression in rule_expressions() + dashboard_expressions():
        names = resolve(metric_names(expression.expr), recordings)
        for family in families(names, histograms):
            used.setdefault(family, set()).add(expression.where)
    return used
