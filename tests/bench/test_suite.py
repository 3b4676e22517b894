"""`python -m bench` as a user runs it: the whole suite in `--quick` mode, as a subprocess.

It checks that every scenario ran to completion and reported its ratio (printed, in the
JSON, and in the markdown table it writes), not how fast anything was: figures belong in
bench/, and a timed assertion would fail on a loaded machine. The programs the suite drives
(wrk, h2load, nginx: Debian packages) must be there on CI (`.ci/run` installs them); a
developer without them gets a skip that names them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import table
from bench.__main__ import DOCS, SCENARIOS
from tests.bench.programs import require

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
QUICK_TIMEOUT_SECONDS = 900  # generous: a hang, not slowness, is what this guards against


def run_bench(
    *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m bench ARGUMENTS` from the checkout's root."""
    return subprocess.run(
        [sys.executable, "-m", "bench", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=QUICK_TIMEOUT_SECONDS,
        env=env,
        check=False,
    )


def test_quick_run_reports_every_scenario_and_its_ratio(tmp_path: Path) -> None:
    """`--quick` runs every scenario to its end and reports each one's ratio three ways:
    the printed table, bench-results.json, and the docs' results section it rewrites."""
    require(tool for _, needs in SCENARIOS for tool in needs)
    results, docs = tmp_path / "results.json", tmp_path / "benchmarks.md"
    shutil.copy(DOCS, docs)

    completed = run_bench("--quick", "--json", str(results), "--docs", str(docs))

    assert 0 == completed.returncode, completed.stderr[-5000:]
    document = json.loads(results.read_text())
    names = [scenario.name for scenario, _ in SCENARIOS]
    ratios = document["ratios"]
    for name in names:
        own = [ratio for ratio in ratios if ratio["scenario"].startswith(name)]
        assert own, f"no ratio reported for {name}"
        for ratio in own:
            assert math.isfinite(ratio["value"]), ratio
    written = docs.read_text()
    section = written[written.index(table.BEGIN) : written.index(table.END)]
    for ratio in ratios:
        assert f"{ratio['value']:.2f}" in completed.stdout, ratio["what"]
        assert f"{ratio['value']:.2f}" in section, ratio["what"]
    for name in names:
        assert f"| {name} |" in section, f"no row of {name} in the docs table"
    assert outside(DOCS.read_text()) == outside(written), "only the results section changes"


def outside(text: str) -> tuple[str, str]:
    """What comes before and after the results section of a markdown file."""
    return text[: text.index(table.BEGIN)], text[text.index(table.END) :]


def test_missing_program_is_named_before_anything_runs(tmp_path: Path) -> None:
    """Without the programs a scenario needs, the command exits 2 at once and names them
    with the Debian packages that ship them."""
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty folder: no wrk, h2load, nginx

    completed = run_bench("grpc-proxy", "--json", str(tmp_path / "results.json"), env=env)

    assert 2 == completed.returncode
    assert (
        "python -m bench: not installed: h2load (gRPC load), nginx (the peer proxy"
        " (grpc_pass)); install with: apt-get install -y nghttp2-client nginx-light\n"
    ) == completed.stderr
    assert not (tmp_path / "results.json").exists()
