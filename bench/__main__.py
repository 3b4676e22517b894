"""`python -m bench [SCENARIO ...]`: run scenarios, each against a fresh hub, and print them.

Every scenario compares a subject with its baseline in the same run (bench/scenario.py):
throughput scenarios (bench/throughput.py) alternate rounds of load on the two sides; the
fan-out scenario (bench/fanout.py) compares WebSocket delivery latency and memory per idle
connection with a bare `websockets` server; the GraphQL scenario (bench/graphql.py) measures
nested queries, execution against plain graphql-core, and GraphQL against REST; the
observability scenario (bench/observability.py) compares REST throughput with the
observability stack on and off; the policies scenario (bench/policies.py) cache hits against
misses and the open breaker's refusals. The figures are printed and written to
bench-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from bench.fanout import FANOUT
from bench.graphql import GRAPHQL
from bench.observability import OBSERVABILITY
from bench.policies import POLICIES
from bench.scenario import Options, Outcome, Scenario
from bench.throughput import REST_GET

SCENARIOS: tuple[Scenario, ...] = (REST_GET, FANOUT, GRAPHQL, OBSERVABILITY, POLICIES)


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> int:
    """Entry point: parse arguments, run the scenarios, print and save."""
    available = {scenario.name: scenario for scenario in SCENARIOS}
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", help=f"names to run (default: all of {', '.join(available)})"
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 round of 1 s, 100 subscribers: a smoke run"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--subscribers",
        type=int,
        nargs="+",
        default=[],
        help="ws-fanout: these numbers of subscribers (default: 1000 5000 10000)",
    )
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(available)
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    options = Options(
        rounds=1 if args.quick else args.rounds,
        seconds=1.0 if args.quick else args.seconds,
        connections=args.connections,
        quick=args.quick,
        subscribers=tuple(args.subscribers),
    )
    outcomes: list[Outcome] = [
        available[name].run(options) for name in args.scenarios or list(available)
    ]
    for outcome in outcomes:
        print("\n".join(outcome.report()))
    document = {"machine": machine(), "results": [outcome.as_json() for outcome in outcomes]}
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nmachine: {machine()}\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
