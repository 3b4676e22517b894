"""Scenario `writes`: write throughput on SQLite, through the hub against straight to the
backend.

Each write is one RPC that commits: `CreateMindmap` (a mindmap and its root node), then
`NODES` times `AddNode` under its root, then the next mindmap. Every write commits its row
change and its event in one SQLite transaction (the outbox), and the relay publishes the
event on the hub's bus, so the whole cost of a write is on the server. Subject: the writes
through the hub's gRPC front end; baseline: the same writes straight to the mindmap
backend's unix socket, on the same `hub serve` and the same database file (rounds
alternate, so both see it grow alike). The ratio is what the front-end hop costs a write;
no goal is set for it (the issue asks for the figure).

h2load sends one request body again and again, and a write needs the id the create returned,
so the load comes from Python worker processes (`python -m bench.writes TARGET OWNER SECONDS
CONCURRENCY`), each keeping CONCURRENCY such sequences going; every RPC is one request, its
status read by the client. Their own CPU is not the server's, which is what CPU per write
counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from grpc import aio

from bench.hubproc import start_hub
from bench.load import LoadResult, worker_processes
from bench.scenario import Options
from bench.throughput import Side, Target, ThroughputOutcome, alternate
from hub.contracts.mindmap.v1 import mindmap_pb2, mindmap_pb2_grpc
from hub.contracts.user.v1 import user_pb2, user_pb2_grpc

NODES = 4
PROCESSES = 2


def writes(name: str, address: Callable[[Target], str], owner_id: str) -> Side:
    """Writes by `owner_id` at `address(target)`, from `PROCESSES` worker processes keeping
    `connections / 4` sequences going each (8 in all by default)."""

    def run(target: Target, seconds: float) -> LoadResult:
        concurrency = max(1, target.connections // (2 * PROCESSES))
        command = ["-m", "bench.writes", address(target), owner_id, str(seconds)]
        return worker_processes([*command, str(concurrency)], PROCESSES)

    return Side(name, run)


@dataclass(frozen=True)
class WritesScenario:
    """See the module docstring."""

    name: str = "writes"

    def run(self, options: Options) -> ThroughputOutcome:
        """Starts a hub, creates the owner, then alternates rounds of writes."""
        hub = start_hub()
        try:
            owner_id = create_owner(hub.grpc_target)
            target = Target(hub, "", options.connections)  # each write makes its own mindmap
            what = f"CreateMindmap + {NODES} AddNode"
            through_hub = writes(
                f"{what}, gRPC through the hub", lambda target: target.hub.grpc_target, owner_id
            )
            to_backend = writes(
                f"{what}, straight to the backend",
                lambda target: target.hub.backend_target("mindmap-service"),
                owner_id,
            )
            return alternate(
                self.name, (through_hub, target), (to_backend, target), options, goal=None
            )
        finally:
            hub.stop()


def create_owner(address: str) -> str:
    """Creates the user whose mindmaps the writes make, through the UserService at
    `address`; returns its id."""

    async def create() -> str:
        async with aio.insecure_channel(address) as channel:
            user = user_pb2.User(email="writer@example.com", display_name="Writer")
            created = await user_pb2_grpc.UserServiceStub(channel).CreateUser(
                user_pb2.CreateUserRequest(user=user)
            )
            return created.user.id

    return asyncio.run(create())


async def _worker(address: str, owner_id: str, seconds: float, concurrency: int) -> None:
    latencies: list[float] = []
    errors = 0
    async with aio.insecure_channel(address) as channel:
        stub = mindmap_pb2_grpc.MindmapServiceStub(channel)
        await channel.channel_ready()
        started = time.perf_counter()
        deadline = started + seconds

        async def write_maps(worker: int) -> None:
            nonlocal errors
            count = 0
            while time.perf_counter() < deadline:
                count += 1
                begun = time.perf_counter()
                try:
                    created = await stub.CreateMindmap(
                        mindmap_pb2.CreateMindmapRequest(
                            mindmap=mindmap_pb2.Mindmap(
                                owner_id=owner_id, title=f"map {worker}.{count}"
                            )
                        )
                    )
                except aio.AioRpcError:
                    errors += 1
                    latencies.append(time.perf_counter() - begun)
                    continue
                latencies.append(time.perf_counter() - begun)
                for node in range(NODES):
                    if time.perf_counter() >= deadline:
                        return
                    begun = time.perf_counter()
                    try:
                        await stub.AddNode(
                            mindmap_pb2.AddNodeRequest(
                                mindmap_id=created.mindmap.id,
                                node=mindmap_pb2.Node(text=f"idea {node}"),
                            )
                        )
                    except aio.AioRpcError:
                        errors += 1
                    latencies.append(time.perf_counter() - begun)

        async with asyncio.TaskGroup() as group:
            for worker in range(concurrency):
                group.create_task(write_maps(worker))
        elapsed = time.perf_counter() - started
    report = {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "latencies": [round(value, 6) for value in latencies],
    }
    print(json.dumps(report))


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__)
    parser.add_argument("address", help="host:port or unix:PATH of a MindmapService")
    parser.add_argument("owner_id")
    parser.add_argument("seconds", type=float)
    parser.add_argument("concurrency", type=int)
    args = parser.parse_args()
    asyncio.run(_worker(args.address, args.owner_id, args.seconds, args.concurrency))


WRITES = WritesScenario()


if __name__ == "__main__":
    _main()
