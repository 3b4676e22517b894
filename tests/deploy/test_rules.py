"""The rule files against the contract and against their own tests, without promtool:
the alert thresholds are those of SPEC.md §6, every alert has both severities, labels and
annotations, its runbook link lands on a heading of docs/monitoring.md, and every alert
severity and every recording rule is exercised by the promtool unit tests."""

from __future__ import annotations

import re
from typing import Any

from tests.deploy.artefacts import ROOT, RULE_TESTS, load_yaml, recorded, rules

MONITORING_DOC = ROOT / "docs" / "monitoring.md"

# SPEC.md §6: (alert, severity) -> (threshold, `for:`); thresholds as ratios and seconds.
SPEC_THRESHOLDS = {
    ("HubHttpErrorRate", "critical"): (0.05, "5m"),
    ("HubHttpErrorRate", "warning"): (0.01, "15m"),
    ("HubGrpcErrorRate", "critical"): (0.05, "5m"),
    ("HubGrpcErrorRate", "warning"): (0.01, "15m"),
    ("HubHttpLatencyP95", "critical"): (1.0, "5m"),
    ("HubHttpLatencyP95", "warning"): (0.5, "15m"),
    ("HubGrpcLatencyP95", "critical"): (1.0, "5m"),
    ("HubGrpcLatencyP95", "warning"): (0.5, "15m"),
    ("HubHostCpuUsage", "critical"): (0.9, "10m"),
    ("HubHostCpuUsage", "warning"): (0.8, "30m"),
    ("HubHostMemoryUsage", "critical"): (0.95, "5m"),
    ("HubHostMemoryUsage", "warning"): (0.85, "15m"),
}
# The alert's condition: `<recorded series> > <threshold>`, first in its expression.
_CONDITION = re.compile(r"^([a-z0-9_:]+) > ([0-9.]+)(?:\s|$)")


def alerts() -> list[dict[str, Any]]:
    """The alerting rules."""
    return [rule for rule in rules() if "alert" in rule]


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of `markdown`."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_alert_thresholds_and_durations_are_those_of_the_spec() -> None:
    found = {}
    for alert in alerts():
        condition = _CONDITION.match(alert["expr"])
        assert condition is not None, alert["expr"]
        assert condition[1] in recorded(), condition[1]
        key = (alert["alert"], alert["labels"]["severity"])
        found[key] = (float(condition[2]), alert["for"])
    assert SPEC_THRESHOLDS == found


def test_every_alert_has_a_summary_a_description_with_its_value_and_a_runbook() -> None:
    headings = anchors(MONITORING_DOC.read_text(encoding="utf-8"))
    for alert in alerts():
        annotations = alert["annotations"]
        assert ["description", "runbook_url", "summary"] == sorted(annotations), alert["alert"]
        assert "{{ $value" in annotations["description"], alert["alert"]
        path, anchor = annotations["runbook_url"].split("#")
        assert ("docs/monitoring.md", alert["alert"].lower()) == (path, anchor)
        assert anchor in headings


def test_every_alert_severity_and_recording_rule_is_unit_tested() -> None:
    tested_alerts: set[tuple[str, str]] = set()
    tested_exprs: set[str] = set()
    for path in sorted(RULE_TESTS.glob("*.yml")):
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                tested_alerts |= {
                    (check["alertname"], expected["exp_labels"]["severity"])
                    for expected in check["exp_alerts"]
                }
            tested_exprs |= {check["expr"] for check in case.get("promql_expr_test", [])}
    assert set(SPEC_THRESHOLDS) == tested_alerts
    assert set(recorded()) == tested_exprs


def test_anchors_follow_the_github_rules() -> None:
    assert {"hubhttperrorrate", "inhibiting-warnings", "a-b-c"} == anchors(
        "# HubHttpErrorRate\ntext\n### Inhibiting warnings\n## A, b: c\n"
    )
