"""The ws-fanout scenario: one write delivered to N idle WebSocket subscribers.

For each N (1,000, 5,000, 10,000; `--quick`: 100) a fresh hub and a bare `websockets`
server (bench/wsbare.py, the baseline) run in their own processes, each with N subscribers
held by client processes (bench/wsclient.py, at most 2,500 connections each, well inside
the 20,000 open files a process may have). Both sides are measured the same way:

- memory: the server's RSS after its N subscribers are connected and idle, minus before,
  divided by N (a warm-up connection and delivery first, so one-time costs stay out);
- latency: per round, one write (the hub: `UpdateNode` over gRPC; the baseline: a broadcast
  stamped at sending), every client stamps receipt, latency = receipt - the event's `time`
  (the hub's commit time); rounds alternate the sides (A B A B) after an unrecorded warm-up
  round with every subscriber; p50/p99/max over all deliveries of the recorded rounds;
- the server's CPU time per delivery (the median round's CPU time / N; the hub's includes
  the write itself; /proc counts in 10 ms ticks, so it means little below N = 1,000).

Goals: hub p99 within 1.2x of the bare server's and below 250 ms at 10,000 subscribers;
at most 16 KiB per idle hub connection. Both sides and the clients run without
permessage-deflate.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from grpc import aio

from bench import table
from bench.hubproc import (
    HubProcess,
    process_cpu_seconds,
    process_rss_bytes,
    seed_mindmap,
    start_hub,
)
from bench.load import percentile
from bench.scenario import Options
from hub.contracts.mindmap.v1 import mindmap_pb2, mindmap_pb2_grpc

SIZES = (1000, 5000, 10000)
QUICK_SIZES = (100,)
PER_PROCESS = 2500
COLLECT_SECONDS = 60.0
SETTLE_SECONDS = 1.0  # after connecting, before reading RSS; and between rounds
QUICK_SETTLE_SECONDS = 0.2  # in a smoke run, where the figures are not kept
P99_RATIO_GOAL = 1.2
P99_GOAL_MS = 250.0
P99_GOAL_AT = 10000
KIB_PER_CONNECTION_GOAL = 16.0


class Clients:
    """Client processes holding `count` subscribers to one WebSocket URL."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self._processes = processes

    @classmethod
    async def start(cls, url: str, mindmap_id: str, count: int) -> Clients:
        """Starts enough client processes for `count`; returns once all are subscribed."""
        shares = _split(count, math.ceil(count / PER_PROCESS))
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.wsclient",
                url,
                mindmap_id,
                str(share),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for share in shares
        ]
        clients = cls(processes)
        try:
            await clients._replies()
        except BaseException:
            await clients.close()
            raise
        return clients

    async def collect(self) -> tuple[list[float], int]:
        """Latencies (ms) of the deliveries since the last call, and how many are missing."""
        for process in self._processes:
            _stdin(process).write(f"collect {COLLECT_SECONDS}\n".encode())
        replies = await self._replies()
        latencies = [value for reply in replies for value in reply["latencies_ms"]]
        return latencies, sum(reply["missing"] for reply in replies)

    async def close(self) -> None:
        """Closes the connections and waits for the processes to end."""
        for process in self._processes:
            if process.returncode is None:
                _stdin(process).write(b"close\n")
                _stdin(process).close()
        for process in self._processes:
            await process.wait()

    async def _replies(self) -> list[dict[str, Any]]:
        replies = []
        for process in self._processes:
            stdout = process.stdout
            if stdout is None:
                raise RuntimeError("client process without stdout")
            line = await stdout.readline()
            if not line:
                raise RuntimeError(f"client process ended with {await process.wait()}")
            replies.append(json.loads(line))
        return replies


class Server(Protocol):
    """A side's server: its name, where to reach it, its process id, how to cause an event."""

    name: str
    url: str
    pid: int

    async def publish(self) -> None:
        """Causes one event for every subscriber."""


class HubServer:
    """The hub's /ws; an event is a node's text updated over gRPC."""

    def __init__(
        self, hub: HubProcess, channel: aio.Channel, mindmap_id: str, node_id: str
    ) -> None:
        self.name = "hub /ws"
        self.url = hub.ws_url
        self.pid = hub.process.pid
        self._stub = mindmap_pb2_grpc.MindmapServiceStub(channel)
        self._mindmap_id = mindmap_id
        self._node_id = node_id
        self._writes = 0

    async def publish(self) -> None:
        """Updates the node's text once."""
        self._writes += 1
        await self._stub.UpdateNode(
            mindmap_pb2.UpdateNodeRequest(
                mindmap_id=self._mindmap_id,
                node=mindmap_pb2.Node(id=self._node_id, text=f"write {self._writes}"),
            )
        )


class BareServer:
    """The baseline: a bare websockets server broadcasting (bench/wsbare.py)."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.name = "bare websockets broadcast"
        self.url = f"ws://127.0.0.1:{port}"
        self.pid = process.pid
        self._process = process

    @classmethod
    async def start(cls) -> BareServer:
        """Starts the server process; returns once it listens."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.wsbare",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        stdout = process.stdout
        line = await stdout.readline() if stdout is not None else b""
        if not line:
            raise RuntimeError(f"bench.wsbare ended with {await process.wait()}")
        return cls(process, json.loads(line)["port"])

    async def publish(self) -> None:
        """One broadcast."""
        stdin = _stdin(self._process)
        stdin.write(b"publish\n")
        await stdin.drain()

    async def stop(self) -> None:
        """Ends the process (it stops when its input closes)."""
        _stdin(self._process).close()
        await self._process.wait()


@dataclass(frozen=True)
class Round:
    """One write on one side: the latency of each delivery, deliveries missing, server CPU."""

    latencies_ms: list[float]
    missing: int
    cpu_seconds: float


@dataclass(frozen=True)
class FanoutSide:
    """One side at one size, over all rounds."""

    name: str
    p50_ms: float
    p99_ms: float
    max_ms: float
    p99_ms_per_round: list[float]
    missing: int
    kib_per_connection: float
    cpu_us_per_delivery: float


@dataclass(frozen=True)
class FanoutSize:
    """Both sides at one number of subscribers, and how they compare."""

    connections: int
    subject: FanoutSide
    baseline: FanoutSide
    p99_ratio_per_round: list[float]  # subject/baseline, rounds paired A B
    p99_ratio: float  # their median: one disturbed round on this shared machine moves it little
    pooled_p99_ratio: float  # of the p99s over every delivery of every round
    cpu_ratio: float  # subject/baseline CPU per delivery

    @classmethod
    def compare(cls, connections: int, subject: FanoutSide, baseline: FanoutSide) -> FanoutSize:
        """The ratios of `subject` to `baseline`."""
        rounds = [
            a / b for a, b in zip(subject.p99_ms_per_round, baseline.p99_ms_per_round, strict=True)
        ]
        return cls(
            connections=connections,
            subject=subject,
            baseline=baseline,
            p99_ratio_per_round=rounds,
            p99_ratio=statistics.median(rounds),
            pooled_p99_ratio=subject.p99_ms / baseline.p99_ms,
            cpu_ratio=(
                subject.cpu_us_per_delivery / baseline.cpu_us_per_delivery
                if baseline.cpu_us_per_delivery
                else math.nan  # below one clock tick
            ),
        )


@dataclass(frozen=True)
class FanoutOutcome:
    """Every size measured, and the goals."""

    scenario: str
    sizes: list[FanoutSize]

    def report(self) -> list[str]:
        """Rows per size and side, then the ratios against the goals."""
        lines = [
            f"{'scenario: side':44} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'missing':>7}"
            f" {'KiB/conn':>8} {'CPU us/delivery':>15}"
        ]
        for size in self.sizes:
            for side in (size.subject, size.baseline):
                lines.append(
                    f"{self.scenario} N={size.connections}: {side.name}"[:44].ljust(44)
                    + f" {side.p50_ms:7.2f} {side.p99_ms:7.2f} {side.max_ms:7.2f}"
                    + f" {side.missing:7d} {side.kib_per_connection:8.1f}"
                    + f" {side.cpu_us_per_delivery:15.1f}"
                )
            rounds = ", ".join(f"{ratio:.2f}" for ratio in size.p99_ratio_per_round)
            absolute = (
                f"; p99 goal < {P99_GOAL_MS:.0f} ms" if size.connections >= P99_GOAL_AT else ""
            )
            lines.append(
                f"  p99 ratio {size.p99_ratio:.2f} (median of rounds: {rounds}; pooled"
                f" {size.pooled_p99_ratio:.2f}; goal <= {P99_RATIO_GOAL}{absolute}),"
                f" CPU ratio {size.cpu_ratio:.2f}, memory per connection"
                f" {size.subject.kib_per_connection:.1f} KiB vs"
                f" {size.baseline.kib_per_connection:.1f} (goal <= {KIB_PER_CONNECTION_GOAL:.0f})"
            )
        return lines

    def as_json(self) -> dict[str, object]:
        """Everything, for bench-results.json."""
        return {"kind": "fanout", **asdict(self)}

    def rows(self) -> list[table.Row]:
        """Per size: both sides, the p99 ratio on the hub's row; then the hub's memory per
        idle connection, and at 10,000 its p99 against the absolute goal."""
        rows = []
        for size in self.sizes:
            n = f"N = {size.connections:,}"
            p99 = table.Ratio(
                f"{self.scenario} {n}: p99 delivery, hub / bare",
                size.p99_ratio,
                size.p99_ratio_per_round,
                table.at_most(P99_RATIO_GOAL),
                note=f"pooled {size.pooled_p99_ratio:.2f}",
            )
            for side, ratio in ((size.subject, p99), (size.baseline, None)):
                rows.append(
                    table.Row(
                        self.scenario,
                        f"{side.name}, {n}",
                        f"1 write to {size.connections:,} subscribers per round",
                        table.latency(side.p50_ms, side.p99_ms),
                        table.cpu(side.cpu_us_per_delivery, "delivery"),
                        ratio,
                    )
                )
            memory = table.Ratio(
                f"{self.scenario} {n}: hub RSS per idle connection",
                size.subject.kib_per_connection,
                goal=table.at_most(KIB_PER_CONNECTION_GOAL),
                note=f"bare {size.baseline.kib_per_connection:.1f} KiB",
                unit=" KiB",
            )
            rows.append(table.Row(self.scenario, f"hub /ws memory, {n}", ratio=memory))
            if size.connections >= P99_GOAL_AT:
                absolute = table.Ratio(
                    f"{self.scenario} {n}: hub p99 delivery",
                    size.subject.p99_ms,
                    goal=table.at_most(P99_GOAL_MS),
                    unit=" ms",
                )
                rows.append(table.Row(self.scenario, f"hub /ws p99, {n}", ratio=absolute))
        return rows


@dataclass(frozen=True)
class FanoutScenario:
    """The ws-fanout scenario; see the module docstring."""

    name: str = "ws-fanout"

    def run(self, options: Options) -> FanoutOutcome:
        """Every size in turn, each against a fresh hub and baseline server."""
        measured = []
        for size in options.subscribers or (QUICK_SIZES if options.quick else SIZES):
            hub = start_hub()
            try:
                mindmap_id = seed_mindmap(hub, nodes=1)
                settle = QUICK_SETTLE_SECONDS if options.quick else SETTLE_SECONDS
                subject, baseline = asyncio.run(
                    _measure(hub, mindmap_id, size, options.rounds, settle)
                )
            finally:
                hub.stop()
            measured.append(FanoutSize.compare(size, subject, baseline))
        return FanoutOutcome(self.name, measured)


async def _measure(
    hub: HubProcess, mindmap_id: str, size: int, rounds: int, settle: float
) -> tuple[FanoutSide, FanoutSide]:
    async with aio.insecure_channel(hub.grpc_target) as channel:
        mindmap = (
            await mindmap_pb2_grpc.MindmapServiceStub(channel).GetMindmap(
                mindmap_pb2.GetMindmapRequest(id=mindmap_id)
            )
        ).mindmap
        bare = await BareServer.start()
        try:
            servers: list[Server] = [
                HubServer(hub, channel, mindmap_id, mindmap.nodes[-1].id),
                bare,
            ]
            return await _sides(servers, mindmap_id, size, rounds, settle)
        finally:
            await bare.stop()


async def _sides(
    servers: Sequence[Server], mindmap_id: str, size: int, rounds: int, settle: float
) -> tuple[FanoutSide, FanoutSide]:
    kib: list[float] = []
    clients: list[Clients] = []
    try:
        for server in servers:
            warm_up = await Clients.start(server.url, mindmap_id, 1)
            await server.publish()
            await warm_up.collect()
            await warm_up.close()
            await asyncio.sleep(settle)
            before = process_rss_bytes(server.pid)
            clients.append(await Clients.start(server.url, mindmap_id, size))
            await asyncio.sleep(settle)
            kib.append((process_rss_bytes(server.pid) - before) / size / 1024)
        runs: list[list[Round]] = [[] for _ in servers]
        for round_number in range(rounds + 1):  # round 0 warms up with every subscriber
            for index, server in enumerate(servers):
                cpu = process_cpu_seconds(server.pid)
                await server.publish()
                latencies, missing = await clients[index].collect()
                cpu = process_cpu_seconds(server.pid) - cpu
                if round_number:
                    runs[index].append(Round(latencies, missing, cpu))
                await asyncio.sleep(settle)
    finally:
        for group in clients:
            await group.close()
    subject, baseline = (
        _summarise(server.name, side_runs, kib_per_connection, size)
        for server, side_runs, kib_per_connection in zip(servers, runs, kib, strict=True)
    )
    return subject, baseline


def _summarise(name: str, runs: list[Round], kib_per_connection: float, size: int) -> FanoutSide:
    every = sorted(value for run in runs for value in run.latencies_ms)
    return FanoutSide(
        name=name,
        p50_ms=percentile(every, 50),
        p99_ms=percentile(every, 99),
        max_ms=every[-1] if every else math.nan,
        p99_ms_per_round=[percentile(sorted(run.latencies_ms), 99) for run in runs],
        missing=sum(run.missing for run in runs),
        kib_per_connection=kib_per_connection,
        cpu_us_per_delivery=statistics.median(run.cpu_seconds for run in runs) / size * 1e6,
    )


def _split(total: int, parts: int) -> list[int]:
    """`total` in `parts` shares differing by at most one."""
    share, extra = divmod(total, parts)
    return [share + (1 if index < extra else 0) for index in range(parts)]


def _stdin(process: asyncio.subprocess.Process) -> asyncio.StreamWriter:
    if process.stdin is None:
        raise RuntimeError("process without stdin")
    return process.stdin


FANOUT = FanoutScenario()
