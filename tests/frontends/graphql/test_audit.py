"""The GraphQL-over-HTTP audit of the npm package graphql-http (`auditServer`), run against
the hub's /graphql by node: every MUST passes; the SHOULD tally is printed (docs/graphql.md
records it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.frontends.graphql.conftest import GraphQLHub

ROOT = Path(__file__).resolve().parents[3]
AUDIT_SCRIPT = Path(__file__).with_name("audit.mjs")


async def audit(url: str) -> list[dict[str, Any]]:
    """The audit's results: name, status (ok, warn, error) and reason of each."""
    node = await asyncio.create_subprocess_exec(
        "node", str(AUDIT_SCRIPT), url, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(60):
        output, _ = await node.communicate()
    assert 0 == node.returncode
    results: list[dict[str, Any]] = json.loads(output)
    return results


async def test_every_must_of_the_graphql_over_http_audit_passes(gql: GraphQLHub) -> None:
    """MUSTs: all ok (failures listed with their reasons); SHOULDs: counted and printed."""
    results = await audit(gql.url)

    musts = [r for r in results if r["name"].startswith("MUST")]
    shoulds = [r for r in results if r["name"].startswith("SHOULD")]
    print(
        f"graphql-http audit: {sum(r['status'] == 'ok' for r in musts)}/{len(musts)} MUST, "
        f"{sum(r['status'] == 'ok' for r in shoulds)}/{len(shoulds)} SHOULD passed"
    )
    assert [] == [(r["name"], r["reason"]) for r in musts if r["status"] != "ok"]
    assert 0 < len(musts)
