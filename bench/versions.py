"""Two checkouts of the hub side by side: `python -m bench.versions BEFORE AFTER [ROUNDS]`.

How a code change is measured: one `hub serve` runs the `hub` package of BEFORE, another
that of AFTER (each a checkout's root, e.g. `git worktree add /tmp/before HEAD~1`), both
fresh and seeded alike, and each path of the read request is loaded on both in alternating
rounds (bench/throughput.py): REST GET, GraphQL GET of one mindmap, gRPC GetMindmap through
the hub and straight to the backend. Printed: the summary table, its ratio after / before
(throughput; `CPU` is before / after CPU per request, so above 1 is better for both). The
load generators and the benchmark code are this checkout's, for both sides.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import table
from bench.graphql import GRAPHQL_VS_REST
from bench.hubproc import seed_mindmap, start_hub
from bench.scenario import Options
from bench.throughput import GRPC_THROUGH_HUB, GRPC_TO_BACKEND, Target, alternate, rest_get

SIDES = (
    rest_get("REST GET /api/v1/mindmaps/{id}"),
    GRAPHQL_VS_REST.subject,
    GRPC_THROUGH_HUB,
    GRPC_TO_BACKEND,
)


def main() -> None:
    """Parses the command line, measures, prints the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.versions", description=__doc__)
    parser.add_argument("before", type=Path, help="root of the checkout measured first")
    parser.add_argument("after", type=Path, help="root of the checkout compared with it")
    parser.add_argument("rounds", type=int, nargs="?", default=6)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    for tree in (args.before, args.after):
        if not (tree / "hub" / "__init__.py").is_file():
            parser.error(f"{tree} is not a checkout of the hub (no hub/__init__.py)")
    options = Options(rounds=args.rounds, seconds=args.seconds, connections=16, quick=False)
    before = start_hub(code=args.before.resolve())
    try:
        after = start_hub(code=args.after.resolve())
        try:
            targets = [
                Target(hub, seed_mindmap(hub), options.connections) for hub in (after, before)
            ]
            rows = []
            for side in SIDES:
                outcome = alternate(
                    side.name, (side, targets[0]), (side, targets[1]), options, goal=None
                )
                rows += [
                    table.Row(row.scenario, name, row.throughput, row.latency, row.cpu, row.ratio)
                    for row, name in zip(outcome.rows(), ("after", "before"), strict=True)
                ]
        finally:
            after.stop()
    finally:
        before.stop()
    print(table.text_table(rows))


if __name__ == "__main__":
    main()
