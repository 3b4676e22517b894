"""promtool (Debian package `prometheus`) on deploy/prometheus: the rule files and the
configuration are valid, the rules' unit tests pass (every alert fires just above its
threshold and not just below), and every query of the Grafana dashboards parses.

Without promtool these tests fail on CI (`CI=true`; .ci/run installs it) and are skipped
elsewhere, saying why."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.artefacts import (
    PROMETHEUS_CONFIG,
    RULE_FILES,
    RULE_TESTS,
    as_promql,
    dashboard_expressions,
    dashboards,
    load_yaml,
)
from tests.deploy.tools import required_tool

TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def promtool() -> str:
    """The promtool binary."""
    return required_tool("promtool")


def run(promtool: str, *args: str | Path) -> str:
    """Runs promtool with `args`; fails the test, with promtool's output, unless it exits 0."""
    result = subprocess.run(
        [promtool, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_SECONDS,
    )
    output = result.stdout + result.stderr
    assert 0 == result.returncode, output
    return output


def test_rule_files_pass_promtool_check_rules(promtool: str) -> None:
    """promtool finds every rule of each file (as many as the YAML holds) and no problem."""
    output = run(promtool, "check", "rules", *RULE_FILES)
    counts = [
        sum(len(group["rules"]) for group in load_yaml(path)["groups"]) for path in RULE_FILES
    ]
    assert [f"SUCCESS: {count} rules found" for count in counts] == re.findall(
        r"SUCCESS: \d+ rules found", output
    )


def test_rule_unit_tests_pass(promtool: str) -> None:
    """`promtool test rules` on deploy/prometheus/tests: the alerts at and around each
    threshold of SPEC.md §6, and the recording rules' values."""
    tests = sorted(RULE_TESTS.glob("*.yml"))
    assert ["alerts_test.yml", "recording_test.yml"] == [path.name for path in tests]
    output = run(promtool, "test", "rules", *tests)
    assert 2 == output.count("SUCCESS"), output


def test_prometheus_config_is_valid_and_evaluates_both_rule_files(promtool: str) -> None:
    run(promtool, "check", "config", PROMETHEUS_CONFIG)
    config = load_yaml(PROMETHEUS_CONFIG)
    assert [path.name for path in RULE_FILES] == config["rule_files"]
    [scrape] = config["scrape_configs"]
    assert ("/metrics", ["localhost:8080"]) == (
        scrape["metrics_path"],
        scrape["static_configs"][0]["targets"],
    )


def test_every_dashboard_query_parses(promtool: str, tmp_path: Path) -> None:
    """Each query of the dashboards and each template variable's selector becomes a
    recording rule of a scratch file, which `promtool check rules` parses (Grafana's
    variables replaced first)."""
    queries = dashboard_expressions()
    assert len(queries) > 3 * len(dashboards())
    rules = [
        {"record": f"dashboard:query_{index}:check", "expr": as_promql(q.expr)}
        for index, q in enumerate(queries)
    ]
    scratch = tmp_path / "dashboards.rules.yml"
    scratch.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    output = run(promtool, "check", "rules", scratch)
    assert f"SUCCESS: {len(rules)} rules found" in output
