"""Throughput scenarios: a subject and its baseline loaded for some seconds, side by side.

After a warm-up, rounds alternate the two (A B A B ...) so that drift on this shared machine
hits both alike; the outcome gives the median throughput with its spread, median p50/p99
latency, and the server's CPU time per request (from /proc: the hub's, plus that of any
other server process on the side's path, such as a proxy), then the ratio subject/baseline
of throughput and of CPU cost. Each scenario runs against its own fresh hub, seeded with one
user and one mindmap.

HTTP load comes from wrk; gRPC load from h2load, one serialized `GetMindmapRequest` sent
again and again, its success confirmed by the hub's own counters (bench/load.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass

from bench import table
from bench.hubproc import HubProcess, process_cpu_seconds, seed_mindmap, start_hub
from bench.load import LoadResult, grpc_unary, http_get
from bench.scenario import Options
from hub.contracts.mindmap.v1 import mindmap_pb2

GET_MINDMAP = "/hub.mindmap.v1.MindmapService/GetMindmap"


@dataclass(frozen=True)
class Target:
    """What a side loads: a seeded hub; `also`: the ids of other server processes on the
    side's path (a proxy in front of the hub), whose CPU time is charged to it too."""

    hub: HubProcess
    mindmap_id: str
    connections: int
    also: tuple[int, ...] = ()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the hub and the `also` processes together."""
        return self.hub.cpu_seconds() + sum(process_cpu_seconds(pid) for pid in self.also)


@dataclass(frozen=True)
class Side:
    """One thing measured: a name and how to load it for some seconds."""

    name: str
    run: Callable[[Target, float], LoadResult]


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
class ThroughputOutcome:
    """A throughput scenario's outcome: both sides and their ratios."""

    scenario: str
    subject: Summary
    baseline: Summary
    throughput_ratio: float
    throughput_ratio_per_round: list[float]
    cpu_ratio: float  # baseline CPU per request / subject's: 1.0 means equally cheap
    goal: float | None  # subject/baseline throughput to reach (at least); None: a reference

    def report(self) -> list[str]:
        """Table rows, one per side, then the ratios."""
        lines = [
            f"{'scenario: side':58} {'req/s':>9} {'spread':>15} {'p50 ms':>7} {'p99 ms':>7}"
            f" {'CPU us/req':>10}"
        ]
        for side in (self.subject, self.baseline):
            spread = f"{side.throughput_min:.0f}-{side.throughput_max:.0f}"
            lines.append(
                f"{self.scenario}: {side.name}"[:58].ljust(58)
                + f" {side.throughput_median:9.0f} {spread:>15} {side.p50_ms:7.2f}"
                + f" {side.p99_ms:7.2f} {side.cpu_us_per_request:10.0f}"
            )
        rounds = ", ".join(f"{r:.2f}" for r in self.throughput_ratio_per_round)
        goal = "no goal" if self.goal is None else f"goal >= {self.goal}"
        lines.append(
            f"  throughput ratio {self.throughput_ratio:.2f} (rounds: {rounds};"
            f" {goal}), CPU-per-request ratio {self.cpu_ratio:.2f}"
        )
        return lines

    def rows(self) -> list[table.Row]:
        """The subject's row, with the throughput ratio, and the baseline's."""
        ratio = table.Ratio(
            f"{self.scenario}: throughput, {self.subject.name} / {self.baseline.name}",
            self.throughput_ratio,
            self.throughput_ratio_per_round,
            None if self.goal is None else table.at_least(self.goal),
            cpu=self.cpu_ratio,
        )
        return [
            summary_row(self.scenario, self.subject, ratio),
            summary_row(self.scenario, self.baseline, None),
        ]

    def as_json(self) -> dict[str, object]:
        """Everything, for bench-results.json."""
        return {"kind": "throughput", **asdict(self)}


@dataclass(frozen=True)
class ThroughputScenario:
    """A subject and the baseline it is compared with, and the goal for their ratio."""

    name: str
    subject: Side
    baseline: Side
    goal: float | None  # subject/baseline throughput to reach (at least); None: a reference

    def run(self, options: Options) -> ThroughputOutcome:
        """Starts a hub, seeds it, then warm-up and `options.rounds` of A B."""
        hub = start_hub()
        try:
            target = Target(hub, seed_mindmap(hub), options.connections)
            return alternate(
                self.name, (self.subject, target), (self.baseline, target), options, self.goal
            )
        finally:
            hub.stop()


def alternate(
    name: str,
    subject: tuple[Side, Target],
    baseline: tuple[Side, Target],
    options: Options,
    goal: float | None,
) -> ThroughputOutcome:
    """A warm-up of each side (not in a quick run), then `options.rounds` of subject,
    baseline (each side on its own target, which may be the same hub), summarised with
    their ratios."""
    if not options.quick:
        for side, target in (subject, baseline):
            measure(target, side, min(options.seconds, 1.0))
    subject_runs: list[Measured] = []
    baseline_runs: list[Measured] = []
    for _ in range(options.rounds):
        subject_runs.append(measure(subject[1], subject[0], options.seconds))
        baseline_runs.append(measure(baseline[1], baseline[0], options.seconds))
    subject_summary = summarise(subject[0].name, subject_runs)
    baseline_summary = summarise(baseline[0].name, baseline_runs)
    pair_ratios = [
        a.load.throughput / b.load.throughput
        for a, b in zip(subject_runs, baseline_runs, strict=True)
    ]
    return ThroughputOutcome(
        scenario=name,
        subject=subject_summary,
        baseline=baseline_summary,
        throughput_ratio=subject_summary.throughput_median / baseline_summary.throughput_median,
        throughput_ratio_per_round=pair_ratios,
        cpu_ratio=baseline_summary.cpu_us_per_request / subject_summary.cpu_us_per_request,
        goal=goal,
    )


def measure(target: Target, side: Side, seconds: float) -> Measured:
    """Runs `side` once and charges the server CPU time it took to its successful requests."""
    before = target.cpu_seconds()
    load = side.run(target, seconds)
    used = target.cpu_seconds() - before
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


def summary_row(scenario: str, side: Summary, ratio: table.Ratio | None) -> table.Row:
    """A side's summary as a row of the table, with `ratio` on the subject's."""
    errors = f", {side.errors} errors" if side.errors else ""
    return table.Row(
        scenario,
        side.name,
        table.per_second(side.throughput_median, side.throughput_min, side.throughput_max) + errors,
        table.latency(side.p50_ms, side.p99_ms),
        table.cpu(side.cpu_us_per_request),
        ratio,
    )


def rest_get(name: str) -> Side:
    """REST `GET /api/v1/mindmaps/{id}` of the target's mindmap, with wrk."""
    return Side(
        name,
        lambda target, seconds: http_get(
            f"{target.hub.http_base}/api/v1/mindmaps/{target.mindmap_id}",
            seconds=seconds,
            connections=target.connections,
        ),
    )


def grpc_get(name: str, address: Callable[[Target], str], server: str) -> Side:
    """gRPC `GetMindmap` of the target's mindmap at `address(target)`, with h2load; the
    answers confirmed by the hub's `server` ("frontend" or "backend") metrics."""

    def run(target: Target, seconds: float) -> LoadResult:
        request = mindmap_pb2.GetMindmapRequest(id=target.mindmap_id)
        return grpc_unary(
            address(target),
            GET_MINDMAP,
            request.SerializeToString(),
            seconds=seconds,
            connections=target.connections,
            answered_ok=lambda: target.hub.answered_ok(server, GET_MINDMAP),
        )

    return Side(name, run)


GRPC_THROUGH_HUB = grpc_get(
    "gRPC GetMindmap through the hub", lambda target: target.hub.grpc_target, "frontend"
)
GRPC_TO_BACKEND = grpc_get(
    "gRPC GetMindmap straight to the backend",
    lambda target: target.hub.backend_target("mindmap-service"),
    "backend",
)

REST_GET = ThroughputScenario(
    "rest-get",
    rest_get("REST GET /api/v1/mindmaps/{id} through the hub"),
    GRPC_TO_BACKEND,
    goal=0.45,
)
GRPC_GET = ThroughputScenario("grpc-get", GRPC_THROUGH_HUB, GRPC_TO_BACKEND, goal=0.6)
