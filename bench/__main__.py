"""`python -m bench [SCENARIO ...]`: run scenarios, each against a fresh hub, and report them.

Every scenario compares a subject with its baseline measured in the same run
(bench/scenario.py): throughput scenarios (bench/throughput.py) alternate rounds of load on
the two sides: REST GET and gRPC GetMindmap through the hub against gRPC straight to the
backend, the hub against nginx as a gRPC proxy (bench/proxy.py), writes on SQLite through
the hub against straight to the backend (bench/writes.py); the GraphQL scenario
(bench/graphql.py) measures nested queries, execution against plain graphql-core, and
GraphQL against REST; the observability scenario (bench/observability.py) REST with the
observability stack on against off; the policies scenario (bench/policies.py) cache hits
against misses and the open breaker's refusals; the fan-out scenario (bench/fanout.py)
WebSocket delivery and memory against a bare `websockets` server.

Each scenario prints its detailed figures as it ends; then one summary table (bench/table.py)
of every side's throughput, p50/p99 latency and server CPU, and each ratio with the spread
of its rounds and its goal. The figures go to bench-results.json, and the table with the
machine's description to docs/benchmarks.md (not after `--quick`, unless `--docs` says
where).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import table, tools
from bench.fanout import FANOUT
from bench.graphql import GRAPHQL
from bench.observability import OBSERVABILITY
from bench.policies import POLICIES
from bench.proxy import PROXY
from bench.scenario import Options, Outcome, Scenario
from bench.throughput import GRPC_GET, REST_GET
from bench.writes import WRITES

SCENARIOS: tuple[tuple[Scenario, tuple[tools.Tool, ...]], ...] = (
    (REST_GET, (tools.WRK, tools.H2LOAD)),
    (GRPC_GET, (tools.H2LOAD,)),
    (PROXY, (tools.H2LOAD, tools.NGINX)),
    (GRAPHQL, (tools.WRK,)),
    (OBSERVABILITY, (tools.WRK,)),
    (POLICIES, (tools.WRK,)),
    (WRITES, ()),
    (FANOUT, ()),
)
"""Every scenario, in the order a full run takes them, with the programs it needs."""

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def parse_arguments(names: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scenarios", nargs="*", help=f"names to run (default: all of {', '.join(names)})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 round of 1 s, no warm-up, smaller sizes: a smoke run (under a minute)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side (default 5)")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="seconds per round and side (default 3)"
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="requests in flight (default 16)"
    )
    parser.add_argument(
        "--subscribers",
        type=int,
        nargs="+",
        default=[],
        help="ws-fanout: these numbers of subscribers (default: 1000 5000 10000)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench-results.json"),
        help="where to write every figure (default: bench-results.json)",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        help="the markdown file whose results section to rewrite (default: docs/benchmarks.md"
        " of this checkout; none after --quick)",
    )
    parser.add_argument("--no-docs", action="store_true", help="write no markdown")
    return parser.parse_args()


def main() -> int:
    """Entry point: parse arguments, check the programs needed, run, print and save."""
    available = {scenario.name: (scenario, needs) for scenario, needs in SCENARIOS}
    args = parse_arguments(list(available))
    unknown = set(args.scenarios) - set(available)
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    chosen = [available[name] for name in args.scenarios or list(available)]
    absent = tools.missing(tool for _, needs in chosen for tool in needs)
    if absent:
        print(f"python -m bench: {tools.MissingTool(absent)}", file=sys.stderr)
        return 2
    options = Options(
        rounds=1 if args.quick else args.rounds,
        seconds=1.0 if args.quick else args.seconds,
        connections=args.connections,
        quick=args.quick,
        subscribers=tuple(args.subscribers),
    )
    docs = None if args.no_docs else args.docs or (None if args.quick else DOCS)
    machine = table.Machine.now()
    started = datetime.now(UTC)
    clock = time.monotonic()
    outcomes: list[tuple[Outcome, float]] = []
    for scenario, _ in chosen:
        print(f"\n== {scenario.name}", flush=True)
        begun = time.monotonic()
        outcome = scenario.run(options)
        seconds = time.monotonic() - begun
        print("\n".join(outcome.report()) + f"\n({scenario.name}: {seconds:.0f} s)", flush=True)
        outcomes.append((outcome, seconds))
    took = _minutes_and_seconds(time.monotonic() - clock)
    rows = [row for outcome, _ in outcomes for row in outcome.rows()]
    description = table.report(
        rows,
        [{**outcome.as_json(), "seconds": round(seconds, 1)} for outcome, seconds in outcomes],
        command=" ".join(["python -m bench", *sys.argv[1:]]),
        machine=machine,
        started=started,
        took=took,
        json_path=args.json,
    )
    if docs is not None:
        table.update_docs(docs, description, rows)
        print(f"table written to {docs}")
    return 0


def _minutes_and_seconds(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


if __name__ == "__main__":
    sys.exit(main())
