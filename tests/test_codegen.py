"""The committed generated code in hub/contracts is exactly what `hub gen` produces.

Regenerating into a temporary folder and comparing byte for byte catches a proto edited
without `hub gen`, a hand edit of generated code, and an unpinned generator that changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.codegen import CONTRACTS_PACKAGE, generate

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / CONTRACTS_PACKAGE

# A generated import of a hub module, as protoc writes it (`from hub.user.v1 import ...`)
# or as `hub gen` rewrites it (`from hub.contracts.user.v1 import ...`).
HUB_IMPORT = re.compile(r"^\s*(?:from|import) (hub\.[\w.]+)", re.MULTILINE)


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (caches excluded), by path relative to it."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The contracts generated afresh from proto/ into a temporary folder."""
    out = generate(ROOT, out=tmp_path_factory.mktemp("gen") / "contracts")
    return files_under(out)


def test_committed_contracts_equal_a_fresh_generation(regenerated: dict[str, bytes]) -> None:
    """hub/contracts has the same files, with the same bytes, as `hub gen` makes now."""
    committed = files_under(COMMITTED)
    differing = sorted(
        name
        for name in committed.keys() | regenerated.keys()
        if committed.get(name) != regenerated.get(name)
    )
    assert [] == differing, (
        "hub/contracts is out of date with proto/: run `hub gen` and commit the result. "
        f"Files that differ, are missing or are extra: {differing}"
    )


def test_generated_imports_point_into_hub_contracts(regenerated: dict[str, bytes]) -> None:
    """protoc's `hub.user.v1` style imports are all rewritten to `hub.contracts.user.v1`."""
    imported = {
        module
        for name, content in regenerated.items()
        if name.endswith((".py", ".pyi"))
        for module in HUB_IMPORT.findall(content.decode())
    }
    assert imported, "expected the generated code to import some hub contract modules"
    assert [] == sorted(m for m in imported if not m.startswith("hub.contracts."))
