"""The policies scenario: the cache's worth, and how fast an open breaker refuses.

- Caching: REST `GET /api/v1/mindmaps/{id}` with wrk against two hubs, side by side in
  alternating rounds: one caching the read (every request after the first is a hit), one with
  the same policy on but the read's TTL at 0 (every request reaches the backend: a miss).
  Goal: hits give at least 3x the throughput.
- Circuit breaking: a hub whose mindmap backend is down (bench/breakerhub.py, its own
  process) and whose breaker is open; a client process-side loop times sequential
  `GetMindmap` calls through the gRPC front end (each refused at once, UNAVAILABLE
  `CIRCUIT_OPEN`) and, as the baseline in the same run, `GetUser` calls that the user backend
  serves. Goal: refusal p99 under 5 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from grpc import aio

from bench import table
from bench.hubproc import seed_mindmap, start_hubs
from bench.load import percentile
from bench.scenario import Options
from bench.throughput import Measured, Summary, Target, measure, rest_get, summarise, summary_row
from hub.contracts.mindmap.v1 import mindmap_pb2, mindmap_pb2_grpc
from hub.contracts.user.v1 import user_pb2, user_pb2_grpc
from hub.frontends.rpc_error import RpcFailure

CACHE_GOAL = 3.0
REFUSAL_P99_GOAL_MS = 5.0
CALLS = 2000
QUICK_CALLS = 200
_CACHED = {"policies": ["caching"]}
_UNCACHED = {"policies": ["caching"], "caching": {"ttl_seconds": 0}}


@dataclass(frozen=True)
class Latency:
    """Sequential calls of one kind, timed by the client."""

    name: str
    calls: int
    unexpected: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class PoliciesOutcome:
    """Cache hits against misses, and breaker refusals against served calls."""

    hits: Summary
    misses: Summary
    cache_ratio: float
    cache_ratio_per_round: list[float]
    refusals: Latency
    served: Latency

    def report(self) -> list[str]:
        """Table rows and the ratios."""
        lines = [
            f"{'policies: side':58} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}"
        ]
        for side in (self.hits, self.misses):
            lines.append(
                f"policies: {side.name}"[:58].ljust(58)
                + f" {side.throughput_median:9.0f} {side.p50_ms:7.2f} {side.p99_ms:7.2f}"
                + f" {side.cpu_us_per_request:10.0f}"
            )
        rounds = ", ".join(f"{r:.2f}" for r in self.cache_ratio_per_round)
        lines.append(
            f"  cache hits / misses throughput {self.cache_ratio:.2f} (rounds: {rounds};"
            f" goal >= {CACHE_GOAL})"
        )
        for latency in (self.refusals, self.served):
            lines.append(
                f"policies: {latency.name}"[:58].ljust(58)
                + f" {latency.calls:9d} calls, p50 {latency.p50_ms:.2f} ms, p99"
                + f" {latency.p99_ms:.2f} ms, max {latency.max_ms:.2f} ms,"
                + f" unexpected answers {latency.unexpected}"
            )
        lines.append(f"  open-breaker refusal p99 goal < {REFUSAL_P99_GOAL_MS} ms")
        return lines

    def as_json(self) -> dict[str, object]:
        """Everything, for bench-results.json."""
        return {"kind": "policies", **asdict(self)}

    def rows(self) -> list[table.Row]:
        """Cache hits (with the ratio) and misses; refusals (their p99 against the goal)
        and the calls served meanwhile."""
        cache = table.Ratio(
            "policies: cache hits / misses throughput",
            self.cache_ratio,
            self.cache_ratio_per_round,
            table.at_least(CACHE_GOAL),
            cpu=self.misses.cpu_us_per_request / self.hits.cpu_us_per_request,
        )
        refusal = table.Ratio(
            "policies: open-breaker refusal p99",
            self.refusals.p99_ms,
            goal=table.at_most(REFUSAL_P99_GOAL_MS),
            unit=" ms",
        )
        rows = [
            summary_row("policies", self.hits, cache),
            summary_row("policies", self.misses, None),
        ]
        for latency, ratio in ((self.refusals, refusal), (self.served, None)):
            wrong = f", {latency.unexpected} unexpected answers" if latency.unexpected else ""
            rows.append(
                table.Row(
                    "policies",
                    latency.name,
                    f"{latency.calls:,} sequential calls{wrong}",
                    table.latency(latency.p50_ms, latency.p99_ms),
                    ratio=ratio,
                )
            )
        return rows


@dataclass(frozen=True)
class PoliciesScenario:
    """See the module docstring."""

    name: str = "policies"

    def run(self, options: Options) -> PoliciesOutcome:
        """Both measurements, each against its own hubs."""
        hits, misses, per_round = _cache(options)
        calls = QUICK_CALLS if options.quick else CALLS
        refusals, served = _breaker(calls)
        return PoliciesOutcome(
            hits=hits,
            misses=misses,
            cache_ratio=hits.throughput_median / misses.throughput_median,
            cache_ratio_per_round=per_round,
            refusals=refusals,
            served=served,
        )


def _cache(options: Options) -> tuple[Summary, Summary, list[float]]:
    cached, uncached = start_hubs({"api_gateway": _CACHED}, {"api_gateway": _UNCACHED})
    try:
        targets = [
            Target(hub, seed_mindmap(hub), options.connections) for hub in (cached, uncached)
        ]

        side = rest_get("REST GET")

        def get(target: Target, seconds: float) -> Measured:
            return measure(target, side, seconds)

        for target in targets:
            get(target, min(options.seconds, 1.0))  # warm-up
        runs: tuple[list[Measured], list[Measured]] = ([], [])
        for _ in range(options.rounds):
            for target, side_runs in zip(targets, runs, strict=True):
                side_runs.append(get(target, options.seconds))
    finally:
        cached.stop()
        uncached.stop()
    per_round = [
        hit.load.throughput / miss.load.throughput for hit, miss in zip(*runs, strict=True)
    ]
    hits = summarise("REST GET, answered from the cache (hits)", runs[0])
    misses = summarise("REST GET, read's TTL 0 (every call a miss)", runs[1])
    return hits, misses, per_round


def _breaker(calls: int) -> tuple[Latency, Latency]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-breaker-") as data_dir:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.breakerhub", data_dir],
            stdout=subprocess.PIPE,
        )
        try:
            if process.stdout is None:
                raise RuntimeError("bench.breakerhub: no stdout")
            ready = json.loads(process.stdout.readline())
            return asyncio.run(_time_calls(ready["grpc"], ready["user"], calls))
        finally:
            process.terminate()
            process.wait(timeout=30)


async def _time_calls(target: str, user_id: str, calls: int) -> tuple[Latency, Latency]:
    async with aio.insecure_channel(target) as channel:
        mindmaps = mindmap_pb2_grpc.MindmapServiceStub(channel)
        users = user_pb2_grpc.UserServiceStub(channel)
        get_mindmap = mindmap_pb2.GetMindmapRequest(id="m1")
        get_user = user_pb2.GetUserRequest(id=user_id)
        with contextlib.suppress(aio.AioRpcError):
            await mindmaps.GetMindmap(get_mindmap)  # the failure that opens the breaker
        refused: list[float] = []
        unexpected_refusals = 0
        for _ in range(calls):
            started = time.perf_counter()
            try:
                await mindmaps.GetMindmap(get_mindmap)
                unexpected_refusals += 1
            except aio.AioRpcError as error:
                if RpcFailure.from_error(error).reason != "CIRCUIT_OPEN":
                    unexpected_refusals += 1
            refused.append((time.perf_counter() - started) * 1000)
        served: list[float] = []
        unexpected_served = 0
        for _ in range(calls):
            started = time.perf_counter()
            try:
                await users.GetUser(get_user)
            except aio.AioRpcError:
                unexpected_served += 1
            served.append((time.perf_counter() - started) * 1000)
    return (
        _latency("gRPC GetMindmap refused by the open breaker", refused, unexpected_refusals),
        _latency("gRPC GetUser served by the user backend", served, unexpected_served),
    )


def _latency(name: str, times: list[float], unexpected: int) -> Latency:
    ordered = sorted(times)
    return Latency(
        name=name,
        calls=len(times),
        unexpected=unexpected,
        p50_ms=statistics.median(ordered),
        p99_ms=percentile(ordered, 99),
        max_ms=ordered[-1],
    )


POLICIES = PoliciesScenario()
