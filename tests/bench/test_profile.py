"""`python -m bench.profile`: py-spy's samples of a hub under load, read and summed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import tools
from bench.profile import Profile
from tests.bench.programs import require

ROOT = Path(__file__).resolve().parents[2]


def test_samples_count_for_the_frame_they_end_in_and_hub_frames_above_it() -> None:
    """Own samples go to the innermost frame; a hub function's inclusive count is every
    sample it is on the stack of, once per sample even when it recurses."""
    raw = [
        "main (hub/cli.py:46);handle (hub/backends/status.py:116);execute (sqlite3:1) 3\n",
        "main (hub/cli.py:46);handle (hub/backends/status.py:116);"
        "handle (hub/backends/status.py:116);dumps (json/__init__.py:231) 2\n",
        "run (threading.py:982) 5\n",
    ]

    profile = Profile.parse(raw)

    assert 10 == profile.total
    assert {"execute (sqlite3:1)": 3, "dumps (json/__init__.py:231)": 2} == {
        frame: count for frame, count in profile.own.items() if count < 5
    }
    assert {"handle (hub/backends/status.py:116)": 5} == dict(profile.inclusive)
    assert [" 50.0% run (threading.py:982)"] == profile.top(profile.own, 1)


@pytest.mark.e2e
def test_profiling_a_path_names_the_hub_code_on_it(tmp_path: Path) -> None:
    """Samples a real hub serve loaded straight to its backend; the backend's own code is
    among the hub functions listed, and the raw samples are written."""
    require([tools.H2LOAD])
    out = tmp_path / "profile.txt"

    completed = subprocess.run(
        [sys.executable, "-m", "bench.profile", "backend", "--seconds", "2", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert 0 == completed.returncode, completed.stderr[-3000:]
    assert "hub/backends/mindmaps.py" in completed.stdout.split("the hub's own")[1]
    assert Profile.parse(out.read_text().splitlines()).total > 0
