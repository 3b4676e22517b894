"""The `launcher` fixture of the e2e tests: `hub serve` processes, none left running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve import Launcher


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    """Starts hubs for the test and leaves none running after it."""
    started = Launcher(tmp_path)
    yield started
    started.kill_survivors()
