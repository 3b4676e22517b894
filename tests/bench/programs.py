"""The programs bench/ drives (Debian packages): CI must have them (`.ci/run` installs
them), a developer may not."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pytest

from bench import tools


def require(needed: Iterable[tools.Tool]) -> None:
    """Skips the test, naming what to install, unless every program in `needed` is on PATH;
    on CI (`CI=true`) their absence fails it instead."""
    absent = tools.missing(needed)
    if absent:
        reason = str(tools.MissingTool(absent))
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
