"""Load from outside the hub's process: wrk for HTTP, h2load for gRPC, and Python worker
processes for what those cannot drive (a sequence of writes, bench/writes.py).

Each run returns a `LoadResult` (requests, errors, latency percentiles, wall time). wrk and
h2load are C programs that cost the machine far less per request than the server does, so
on 2 shared cores the server, not the client, sets the pace (bench/tools.py has where they
come from). Python workers run several at once, each with its own interpreter and event
loop, and the parent merges their raw latencies (percentiles of percentiles would be
wrong).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import tools

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
    wrk = tools.path(tools.WRK)
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


def grpc_unary(
    target: str,
    method: str,
    request: bytes,
    *,
    seconds: float,
    connections: int,
    answered_ok: Callable[[], float],
) -> LoadResult:
    """Calls the unary gRPC `method` (a wire path, `/pkg.Service/Method`) on `target`
    (`host:port` or `unix:PATH`) with h2load for `seconds`, always with the serialized
    `request`, keeping `connections` calls in flight over 4 HTTP/2 connections.

    h2load takes any HTTP 200 for a success, even one whose `grpc-status` is not 0, so the
    server confirms: `answered_ok()` reads how many calls it has answered OK so far (the
    hub's `grpc_server_handled_total`), and every success h2load saw beyond the server's
    count is an error."""
    h2load = tools.path(tools.H2LOAD)
    clients = min(4, connections)
    with tempfile.TemporaryDirectory(prefix="hub-bench-h2load-") as folder:
        body, log = Path(folder) / "request", Path(folder) / "log"
        body.write_bytes(grpc_frame(request))
        command = [
            h2load,
            f"--duration={round(seconds * 1000)}ms",
            f"--clients={clients}",
            f"--max-concurrent-streams={max(1, connections // clients)}",
            "--header=content-type: application/grpc",
            "--header=te: trailers",
            f"--data={body}",
            f"--log-file={log}",
        ]
        if target.startswith("unix:"):
            command += [f"--base-uri={target}", f"http://localhost{method}"]
        else:
            command.append(f"http://{target}{method}")
        before = answered_ok()
        completed = subprocess.run(  # noqa: S603 - fixed program, our arguments
            command, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"h2load exited with {completed.returncode}: {completed.stdout}{completed.stderr}"
            )
        confirmed = answered_ok() - before
        rows = log.read_text().splitlines()
        latencies = sorted(
            int(micros) / 1e3
            for _start, status, micros in (row.split("\t")[:3] for row in rows)
            if status == "200"
        )
    summary = h2load_summary(completed.stdout)
    # h2load's "succeeded" are streams that closed cleanly, whatever their HTTP status;
    # its 2xx count includes streams whose headers came but that the run's end cut off.
    succeeded = min(summary["succeeded"], summary["2xx"])
    return LoadResult(
        requests=summary["done"],
        errors=summary["done"] - succeeded + max(0, succeeded - round(confirmed)),
        seconds=summary["seconds"],
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
    )


def grpc_frame(message: bytes) -> bytes:
    """`message` as one gRPC length-prefixed message: not compressed, 4-byte length."""
    return b"\0" + len(message).to_bytes(4, "big") + message


_H2LOAD_FIGURES = {
    "seconds": r"finished in ([0-9.]+)s",
    "done": r"requests: \d+ total, \d+ started, (\d+) done",
    "succeeded": r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded",
    "2xx": r"status codes: (\d+) 2xx",
}


def h2load_summary(output: str) -> dict[str, Any]:
    """The figures of h2load's printed summary that `grpc_unary` uses."""
    figures: dict[str, Any] = {}
    for name, pattern in _H2LOAD_FIGURES.items():
        found = re.search(pattern, output)
        if found is None:
            raise RuntimeError(f"h2load printed no {name!r}:\n{output}")
        figures[name] = float(found[1]) if name == "seconds" else int(found[1])
    return figures


def worker_processes(command: Sequence[str], processes: int) -> LoadResult:
    """Runs `processes` copies of a load worker (`command`, a Python module of bench) and
    merges what they print: one JSON object each, with `requests`, `errors`, `seconds` and
    every call's latency in seconds (`latencies`): percentiles of percentiles would be
    wrong."""
    workers = [
        subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, text=True)  # noqa: S603
        for _ in range(processes)
    ]
    outputs = [worker.communicate()[0] for worker in workers]
    failed = [worker.returncode for worker in workers if worker.returncode != 0]
    if failed:
        raise RuntimeError(f"{' '.join(command)}: load workers exited with {failed}")
    reports = [json.loads(output) for output in outputs]
    latencies = sorted(value for report in reports for value in report["latencies"])
    return LoadResult(
        requests=sum(report["requests"] for report in reports),
        errors=sum(report["errors"] for report in reports),
        seconds=max(report["seconds"] for report in reports),
        p50_ms=percentile(latencies, 50) * 1e3,
        p99_ms=percentile(latencies, 99) * 1e3,
    )


def percentile(sorted_values: Sequence[float], percent: float) -> float:
    """The value below which `percent` % of `sorted_values` lie (nearest rank); NaN if none."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(percent / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]
