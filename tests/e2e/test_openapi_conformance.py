"""The REST front end keeps the promises of its own OpenAPI document.

schemathesis (a separate process, over real HTTP) generates requests for every operation of
`/openapi.json`, valid and invalid, and runs all its checks: no 5xx, status codes, content
types, headers and bodies as documented, schema-valid data accepted, schema-invalid data
rejected. A fixed seed and a bounded number of examples keep the run reproducible and short.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from hub.testing import running_hub

ROOT = Path(__file__).resolve().parents[2]
SEED = 1
EXAMPLES = 25


@pytest.mark.e2e
async def test_rest_front_end_conforms_to_its_openapi_document(tmp_path: Path) -> None:
    schemathesis = shutil.which("schemathesis")
    assert schemathesis is not None, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    async with running_hub(tmp_path / "hub") as running:
        process = await asyncio.create_subprocess_exec(
            schemathesis,
            "run",
            f"{running.http_url}/openapi.json",
            "--checks",
            "all",
            "--seed",
            str(SEED),
            "--max-examples",
            str(EXAMPLES),
            "--workers",
            "1",
            cwd=ROOT,  # schemathesis.toml
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
    report = output.decode(errors="replace")
    assert 0 == process.returncode, report[-8000:]
