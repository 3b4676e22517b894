"""`python -m bench.scaleout --quick` as a user runs it, as a subprocess, on the machine's
PostgreSQL and Redis.

It checks that both comparisons ran to their end and reported their ratios (one gateway
against two; PostgreSQL against SQLite, for reads and for writes), printed and in the JSON,
with no failed request, not how fast anything was: figures belong in bench/. Skipped
without wrk, PostgreSQL or Redis, a failure under CI=true; a database or Redis it cannot
reach makes the command exit 2 naming it, which is tested too.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import tools
from tests.bench.programs import require
from tests.postgres import postgresql_dsn
from tests.redisdb import REDIS_URL, redis_prefix

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 600  # generous: a hang, not slowness, is what this guards against


def run_scaleout(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m bench.scaleout ARGUMENTS` from the checkout's root."""
    return subprocess.run(
        [sys.executable, "-m", "bench.scaleout", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def test_quick_run_prints_the_gateway_and_the_database_ratios(tmp_path: Path) -> None:
    require([tools.WRK])
    dsn = postgresql_dsn()
    with redis_prefix():  # only to skip (fail under CI) without Redis
        pass
    results = tmp_path / "scaleout.json"

    completed = run_scaleout("--quick", "--dsn", dsn, "--redis", REDIS_URL, "--json", str(results))

    assert 0 == completed.returncode, completed.stderr[-5000:]
    document = json.loads(results.read_text())
    ratios = {ratio["scenario"]: ratio for ratio in document["ratios"]}
    assert ["gateways", "postgresql-get", "postgresql-writes"] == sorted(ratios)
    for name, ratio in ratios.items():
        assert math.isfinite(ratio["value"]), ratio
        assert ratio["value"] > 0, ratio
        assert f"{name}: throughput" in ratio["what"]
        assert f"{ratio['value']:.2f}" in completed.stdout, ratio["what"]
    assert "two gateways" in ratios["gateways"]["what"]
    assert "PostgreSQL" in ratios["postgresql-get"]["what"]
    for result in document["results"]:
        assert 0 == result["subject"]["errors"] == result["baseline"]["errors"], result


def test_an_unreachable_database_is_named_and_nothing_runs(tmp_path: Path) -> None:
    require([tools.WRK])
    results = tmp_path / "scaleout.json"

    completed = run_scaleout(
        "--quick", "--dsn", "postgresql://nobody@127.0.0.1:1/test", "--json", str(results)
    )

    assert 2 == completed.returncode
    assert completed.stderr.startswith("python -m bench.scaleout: needs PostgreSQL and Redis:")
    assert "127.0.0.1" in completed.stderr
    assert not results.exists()
