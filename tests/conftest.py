"""Fixtures shared by the suites: a whole hub in this process, over each backend binding.

`binding` runs a test once per way the front end reaches the backends (unix socket, TCP);
`running` is a started hub (`hub.testing.running_hub`) in the test's tmp folder with an open
channel and stubs to its public gRPC front end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.testing import BINDINGS, Binding, RunningHub, running_hub


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> Binding:
    """How the front end reaches the backends: "unix" socket or "tcp"."""
    value: Binding = request.param
    return value


@pytest.fixture
async def running(tmp_path: Path, binding: Binding) -> AsyncIterator[RunningHub]:
    """A started hub over `binding`, stopped after the test."""
    async with running_hub(tmp_path / "data", binding) as hub:
        yield hub
