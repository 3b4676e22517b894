"""Load from outside the hub's process: wrk for HTTP, grpc.aio client processes for gRPC.

Each run returns a `LoadResult` (requests, errors, latency percentiles, wall time). For
gRPC, `python -m bench.load grpc ...` is the worker: several of them run at once, each with
its own interpreter and event loop, and the parent merges their raw latencies (percentiles
of percentiles would be wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grpc import aio

from hub.contracts.mindmap.v1 import mindmap_pb2, mindmap_pb2_grpc

_WRK_REPORT = Path(__file__).with_name("wrk_report.lua")


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds


def http_get(url: str, *, seconds: float, connections: int, threads: int = 2) -> LoadResult:
    """GETs `url` with wrk for `seconds`; non-2xx answers count as errors."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (Debian package `wrk`)")
    completed = subprocess.run(  # noqa: S603 - fixed program, our arguments
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",  # wrk takes whole seconds
            "--latency",
            "-s",
            str(_WRK_REPORT),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    return LoadResult(
        requests=report["requests"],
        errors=report["errors"],
        seconds=report["duration_us"] / 1e6,
        p50_ms=report["p50_us"] / 1e3,
        p99_ms=report["p99_us"] / 1e3,
    )


def grpc_get_mindmap(
    target: str, mindmap_id: str, *, seconds: float, processes: int, concurrency: int
) -> LoadResult:
    """Calls GetMindmap on `target` from `processes` client processes, each keeping
    `concurrency` calls in flight, for `seconds`."""
    command = [
        sys.executable,
        "-m",
        "bench.load",
        "grpc",
        target,
        mindmap_id,
        str(seconds),
        str(concurrency),
    ]
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
        for _ in range(processes)
    ]
    outputs = [json.loads(worker.communicate()[0]) for worker in workers]
    if any(worker.returncode != 0 for worker in workers):
        raise RuntimeError("a gRPC load worker failed")
    latencies = sorted(value for output in outputs for value in output["latencies"])
    return LoadResult(
        requests=sum(output["requests"] for output in outputs),
        errors=sum(output["errors"] for output in outputs),
        seconds=max(output["seconds"] for output in outputs),
        p50_ms=percentile(latencies, 50) * 1e3,
        p99_ms=percentile(latencies, 99) * 1e3,
    )


def percentile(sorted_values: Sequence[float], percent: float) -> float:
    """The value below which `percent` % of `sorted_values` lie (nearest rank); NaN if none."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(percent / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


async def _grpc_worker(target: str, mindmap_id: str, seconds: float, concurrency: int) -> None:
    request = mindmap_pb2.GetMindmapRequest(id=mindmap_id)
    latencies: list[float] = []
    errors = 0
    async with aio.insecure_channel(target) as channel:
        stub = mindmap_pb2_grpc.MindmapServiceStub(channel)
        await stub.GetMindmap(request)  # connect before the clock starts
        started = time.perf_counter()
        deadline = started + seconds

        async def loop() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < deadline:
                try:
                    await stub.GetMindmap(request)
                except aio.AioRpcError:
                    errors += 1
                latencies.append(time.perf_counter() - now)

        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(loop())
        elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": errors,
                "seconds": elapsed,
                "latencies": [round(value, 6) for value in latencies],
                "median": statistics.median(latencies) if latencies else None,
            }
        )
    )


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    sub = parser.add_subparsers(dest="kind", required=True)
    grpc = sub.add_parser("grpc", help="one gRPC load worker (prints JSON)")
    grpc.add_argument("target")
    grpc.add_argument("mindmap_id")
    grpc.add_argument("seconds", type=float)
    grpc.add_argument("concurrency", type=int)
    args = parser.parse_args()
    asyncio.run(_grpc_worker(args.target, args.mindmap_id, args.seconds, args.concurrency))


if __name__ == "__main__":
    _main()
