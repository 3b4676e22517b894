"""`python -m bench.instructions`: a hub under callgrind, instructions per request."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import tools
from tests.bench.programs import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_metrics_cost_instructions_on_the_event_loop_that_off_does_not() -> None:
    """Two real hubs under callgrind, observability off and metrics only: both answer every
    GET, and recording metrics costs the event loop's thread more instructions per request
    than not recording them (the count is per request: a hub that recorded nothing, or a
    harness that counted nothing, would not show it)."""
    require([tools.VALGRIND, tools.CALLGRIND_CONTROL])

    completed = subprocess.run(
        [
            *(sys.executable, "-m", "bench.instructions"),
            *("--variant", "off", "--variant", "metrics only"),
            *("--requests", "120", "--connections", "4", "--idle", "2"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert 0 == completed.returncode, completed.stderr[-3000:]
    loop = {
        match["name"].strip(): float(match["loop"])
        for match in re.finditer(
            r"^(?P<name>off|metrics only)\s+loop\s+(?P<loop>[\d.]+)", completed.stdout, re.M
        )
    }
    assert {"off", "metrics only"} == set(loop), completed.stdout
    assert 500 < loop["off"] < loop["metrics only"], completed.stdout
