"""`python -m bench [SCENARIO ...]`: run scenarios against a fresh hub and print ratios.

Each scenario pairs a subject with its baseline. After a warm-up, rounds alternate them
(A B A B ...) so that drift on this shared machine hits both alike; the report gives the
median throughput with its spread, median p50/p99 latency, and the hub's CPU time per
request (from /proc), then the ratio subject/baseline of throughput and of CPU cost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.hubproc import HubProcess, seed_mindmap, start_hub
from bench.load import LoadResult, grpc_get_mindmap, http_get


@dataclass(frozen=True)
class Side:
    """One thing measured: a name and how to load it for some seconds."""

    name: str
    run: Callable[[float], LoadResult]


@dataclass(frozen=True)
class Scenario:
    """A subject and the baseline it is compared with, and the goal for their ratio."""

    name: str
    subject: Side
    baseline: Side
    goal: float  # subject/baseline throughput the project aims for (at least)


@dataclass(frozen=True)
class Measured:
    """One load run and the hub CPU it cost."""

    load: LoadResult
    cpu_us_per_request: float


@dataclass(frozen=True)
class Summary:
    """The rounds of one side, summarised."""

    name: str
    throughput_median: float
    throughput_min: float
    throughput_max: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float
    errors: int


@dataclass(frozen=True)
class Result:
    """A scenario's outcome: both sides and their ratios."""

    scenario: str
    subject: Summary
    baseline: Summary
    throughput_ratio: float
    throughput_ratio_per_round: list[float]
    cpu_ratio: float  # baseline CPU per request / subject's: 1.0 means equally cheap
    goal: float


def measure(hub: HubProcess, side: Side, seconds: float) -> Measured:
    """Runs `side` once and charges the hub's CPU time to its successful requests."""
    before = hub.cpu_seconds()
    load = side.run(seconds)
    used = hub.cpu_seconds() - before
    done = max(1, load.requests - load.errors)
    return Measured(load, used / done * 1e6)


def summarise(name: str, runs: list[Measured]) -> Summary:
    """Medians and spread of a side's rounds."""
    throughputs = [run.load.throughput for run in runs]
    return Summary(
        name=name,
        throughput_median=statistics.median(throughputs),
        throughput_min=min(throughputs),
        throughput_max=max(throughputs),
        p50_ms=statistics.median(run.load.p50_ms for run in runs),
        p99_ms=statistics.median(run.load.p99_ms for run in runs),
        cpu_us_per_request=statistics.median(run.cpu_us_per_request for run in runs),
        errors=sum(run.load.errors for run in runs),
    )


def scenarios(hub: HubProcess, mindmap_id: str, connections: int) -> dict[str, Scenario]:
    """Every scenario, by name, against `hub`."""
    direct_grpc = Side(
        "gRPC GetMindmap straight to the backend",
        lambda seconds: grpc_get_mindmap(
            hub.backend_target("mindmap-service"),
            mindmap_id,
            seconds=seconds,
            processes=2,
            concurrency=connections // 2,
        ),
    )
    return {
        "rest-get": Scenario(
            "rest-get",
            Side(
                "REST GET /api/v1/mindmaps/{id} through the hub",
                lambda seconds: http_get(
                    f"{hub.http_base}/api/v1/mindmaps/{mindmap_id}",
                    seconds=seconds,
                    connections=connections,
                ),
            ),
            direct_grpc,
            goal=0.45,
        ),
    }


def run_scenario(hub: HubProcess, scenario: Scenario, *, rounds: int, seconds: float) -> Result:
    """Warm-up, then `rounds` of A B; returns the summaries and ratios."""
    measure(hub, scenario.subject, min(seconds, 1.0))
    measure(hub, scenario.baseline, min(seconds, 1.0))
    subject_runs: list[Measured] = []
    baseline_runs: list[Measured] = []
    for _ in range(rounds):
        subject_runs.append(measure(hub, scenario.subject, seconds))
        baseline_runs.append(measure(hub, scenario.baseline, seconds))
    subject = summarise(scenario.subject.name, subject_runs)
    baseline = summarise(scenario.baseline.name, baseline_runs)
    pair_ratios = [
        a.load.throughput / b.load.throughput
        for a, b in zip(subject_runs, baseline_runs, strict=True)
    ]
    return Result(
        scenario=scenario.name,
        subject=subject,
        baseline=baseline,
        throughput_ratio=subject.throughput_median / baseline.throughput_median,
        throughput_ratio_per_round=pair_ratios,
        cpu_ratio=baseline.cpu_us_per_request / subject.cpu_us_per_request,
        goal=scenario.goal,
    )


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def print_report(results: list[Result]) -> None:
    """The table: one row per side, then the ratios."""
    print(
        f"{'scenario: side':58} {'req/s':>9} {'spread':>15} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'CPU us/req':>10}"
    )
    for result in results:
        for side in (result.subject, result.baseline):
            spread = f"{side.throughput_min:.0f}-{side.throughput_max:.0f}"
            print(
                f"{result.scenario}: {side.name}"[:58].ljust(58),
                f"{side.throughput_median:9.0f} {spread:>15} {side.p50_ms:7.2f}",
                f"{side.p99_ms:7.2f} {side.cpu_us_per_request:10.0f}",
            )
        rounds = ", ".join(f"{r:.2f}" for r in result.throughput_ratio_per_round)
        print(
            f"  throughput ratio {result.throughput_ratio:.2f} (rounds: {rounds};"
            f" goal >= {result.goal}), CPU-per-request ratio {result.cpu_ratio:.2f}"
        )


def main() -> int:
    """Entry point: parse arguments, start a hub, run the scenarios, print and save."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", help="names to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s: a smoke run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    rounds, seconds = (1, 1.0) if args.quick else (args.rounds, args.seconds)

    hub = start_hub()
    try:
        mindmap_id = seed_mindmap(hub)
        available = scenarios(hub, mindmap_id, args.connections)
        unknown = set(args.scenarios) - set(available)
        if unknown:
            print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        chosen = args.scenarios or list(available)
        results = [
            run_scenario(hub, available[name], rounds=rounds, seconds=seconds) for name in chosen
        ]
    finally:
        hub.stop()
    print_report(results)
    document = {"machine": machine(), "results": [asdict(result) for result in results]}
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nmachine: {machine()}\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
