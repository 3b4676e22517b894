"""The Debian `prometheus` package's binaries (`promtool`, `prometheus`) for the tests of
deploy/: CI must have them (`.ci/run` installs the package), a developer may not."""

from __future__ import annotations

import os
import shutil

import pytest


def required_tool(name: str) -> str:
    """The path of `name`; without it the test fails on CI (`CI=true`) and is skipped
    elsewhere, saying why."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not on PATH: install Debian's prometheus package (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
